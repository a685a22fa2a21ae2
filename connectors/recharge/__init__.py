"""Recharge (subscriptions on Shopify) connector, API version 2021-11.

Streams ``customers``, ``subscriptions`` and ``charges`` land in ``raw_recharge.<stream>``; the
protocol, the references it follows and the resume/deletion rules are in ``sync.py``'s
docstring; credentials, scopes and limits in ``README.md``.

    from connectors.recharge import SOURCE
    SOURCE.sync("warehouse.duckdb", "subscriptions", {"RECHARGE_API_TOKEN": "..."}, print)
"""

from connectors.api_source import ApiSource

from .sync import (
    API_VERSION,
    STREAMS,
    TOKEN_ENV,
    RechargeSettings,
    raw_stream,
    settings_from_env,
    sync,
    sync_stream,
)

SOURCE = ApiSource(
    name="recharge",
    streams=tuple(STREAMS),
    required_env=(TOKEN_ENV,),
    description=f"Recharge subscriptions API {API_VERSION}: customers, subscriptions, charges",
    sync=sync_stream,
)

__all__ = [
    "API_VERSION",
    "SOURCE",
    "STREAMS",
    "RechargeSettings",
    "raw_stream",
    "settings_from_env",
    "sync",
    "sync_stream",
]
