"""カラーミーショップ (GMOペパボ) connector, API v1.

Streams ``sales`` (受注, with ``details`` and the ordering ``customer``), ``customers`` and
``products`` land in ``raw_colorme.<stream>``; protocol, references and resume rules are in
``sync.py``'s docstring; credentials, scopes and limits in ``README.md``.

    from connectors.colorme import SOURCE
    SOURCE.sync("warehouse.duckdb", "sales", {"COLORME_ACCESS_TOKEN": "..."}, print)
"""

from connectors.api_source import ApiSource

from .sync import (
    API_VERSION,
    STREAMS,
    TOKEN_ENV,
    ColorMeSettings,
    raw_stream,
    settings_from_env,
    sync,
    sync_stream,
)

SOURCE = ApiSource(
    name="colorme",
    streams=tuple(STREAMS),
    required_env=(TOKEN_ENV,),
    description=f"カラーミーショップ API {API_VERSION}: sales (受注) with details, customers, products",
    sync=sync_stream,
)

__all__ = ["API_VERSION", "SOURCE", "STREAMS", "ColorMeSettings", "raw_stream",
           "settings_from_env", "sync", "sync_stream"]
