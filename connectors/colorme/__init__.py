"""カラーミーショップ (GMOペパボ) connector, API v1: ``sales`` (受注, with ``details`` and the
ordering ``customer``), ``customers`` and ``products`` in ``raw_colorme.<stream>``. Protocol,
credentials, scopes and limits: ``README.md``.

    from connectors.colorme import SOURCE
    SOURCE.sync("warehouse.duckdb", "sales", {"COLORME_ACCESS_TOKEN": "..."}, print)
"""

from .sync import *  # noqa: F403  (the package is its sync module's public names)
from .sync import __all__  # noqa: F401
