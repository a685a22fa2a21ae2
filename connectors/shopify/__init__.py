"""Shopify GraphQL Admin API connector (API version 2026-10): customers, orders with line items
(and each line's selling plan: a subscription order vs a one-off), products with variants, in
``raw_shopify.<stream>``. Protocol, credentials, scopes, limits and references: ``README.md``.

    from connectors.shopify import SOURCE
    env = {"SHOPIFY_SHOP": "example", "SHOPIFY_ACCESS_TOKEN": "shpat_..."}
    for stream in SOURCE.streams:
        SOURCE.sync("warehouse.duckdb", stream, env, print)

    python -m connectors.shopify --warehouse warehouse.duckdb [--stream orders]
"""

from .graphql import API_VERSION, ShopifyGraphQL, ShopifyGraphQLError, shop_base_url
from .sync import *  # noqa: F403  (the package is its sync module's public names)
from .sync import __all__ as _sync_all

__all__ = ["API_VERSION", "ShopifyGraphQL", "ShopifyGraphQLError", "shop_base_url", *_sync_all]
