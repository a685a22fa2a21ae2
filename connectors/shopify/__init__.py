"""Shopify GraphQL Admin API connector (API version 2026-10): customers, orders with line items
(and each line's selling plan: a subscription order vs a one-off), products with variants.

    from connectors.shopify import SOURCE, sync_stream
    env = {"SHOPIFY_SHOP": "example", "SHOPIFY_ACCESS_TOKEN": "shpat_..."}
    for stream in SOURCE.streams:
        sync_stream("warehouse.duckdb", stream, env, print)

    python -m connectors.shopify --warehouse warehouse.duckdb [--stream orders]

Lands ``raw_shopify.{customers,orders,products}`` (id, updated_at, deleted_at, _record JSON)
incrementally by ``updated_at`` with a lookback, page by page (resumable), with a bulk-operation
backfill on the first sync. See README.md here for credentials, scopes, limits.

References (checked 2026-11):
- https://shopify.dev/docs/api/admin-graphql/2026-10 (pinned version; versions are quarterly,
  supported 12 months: https://shopify.dev/docs/api/usage/versioning)
- https://shopify.dev/docs/api/admin-graphql/2026-10/queries/orders,
  .../objects/LineItem (sellingPlan), .../objects/LineItemSellingPlan,
  .../queries/customers, .../queries/products, .../queries/deletionEvents
- https://shopify.dev/docs/api/usage/limits ,
  https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits (calculated query cost,
  extensions.cost.throttleStatus, THROTTLED)
- https://shopify.dev/docs/api/usage/bulk-operations/queries (bulkOperationRunQuery, JSONL,
  __parentId), https://shopify.dev/docs/api/admin-graphql/2026-10/objects/BulkOperation
- https://shopify.dev/docs/api/usage/access-scopes (read_all_orders for orders older than 60 days)
"""

from connectors.api_source import ApiSource

from .graphql import API_VERSION, ShopifyGraphQL, ShopifyGraphQLError, shop_base_url
from .sync import STREAMS, ShopifyConfig, raw_stream, record_row, sync_stream

SOURCE = ApiSource(
    name="shopify",
    streams=STREAMS,
    required_env=("SHOPIFY_SHOP", "SHOPIFY_ACCESS_TOKEN"),
    description=f"Shopify GraphQL Admin API {API_VERSION}: customers, orders (line items, "
                f"selling plans), products (variants)",
    sync=sync_stream,
)

__all__ = [
    "API_VERSION",
    "SOURCE",
    "STREAMS",
    "ShopifyConfig",
    "ShopifyGraphQL",
    "ShopifyGraphQLError",
    "raw_stream",
    "record_row",
    "shop_base_url",
    "sync_stream",
]
