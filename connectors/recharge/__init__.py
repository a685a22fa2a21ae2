"""Recharge (subscriptions on Shopify) connector, API version 2021-11: ``customers``,
``subscriptions`` and ``charges`` in ``raw_recharge.<stream>``. Protocol, credentials, scopes
and limits: ``README.md``.

    from connectors.recharge import SOURCE
    SOURCE.sync("warehouse.duckdb", "subscriptions", {"RECHARGE_API_TOKEN": "..."}, print)
"""

from .sync import *  # noqa: F403  (the package is its sync module's public names)
from .sync import __all__  # noqa: F401
