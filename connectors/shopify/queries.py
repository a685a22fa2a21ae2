"""GraphQL documents the connector sends (Admin API, version pinned in ``API_VERSION``).

Each paginated query takes ``$first``, ``$after`` and ``$query`` (Shopify search syntax, e.g.
``updated_at:>='2026-11-01T00:00:00Z'``), sorts by ``UPDATED_AT`` ascending and returns
``nodes`` + ``pageInfo { hasNextPage endCursor }``. The bulk variants select the same fields with
``edges { node }`` and no ``first`` (bulk operations paginate for you); nested connections come
back as separate JSONL lines carrying ``__parentId``.

References (2026-10):
  https://shopify.dev/docs/api/admin-graphql/2026-10/queries/customers
  https://shopify.dev/docs/api/admin-graphql/2026-10/queries/orders
  https://shopify.dev/docs/api/admin-graphql/2026-10/objects/LineItem  (sellingPlan)
  https://shopify.dev/docs/api/admin-graphql/2026-10/objects/LineItemSellingPlan
  https://shopify.dev/docs/api/admin-graphql/2026-10/queries/products
  https://shopify.dev/docs/api/admin-graphql/2026-10/queries/deletionEvents
  https://shopify.dev/docs/api/usage/bulk-operations/queries
"""

from __future__ import annotations

CUSTOMER_FIELDS = """
    id legacyResourceId firstName lastName state tags note numberOfOrders
    createdAt updatedAt
    defaultEmailAddress { emailAddress marketingState marketingOptInLevel marketingUpdatedAt }
    defaultPhoneNumber { phoneNumber marketingState }
    defaultAddress { zip province provinceCode countryCodeV2 }
"""

ORDER_FIELDS = """
    id legacyResourceId name createdAt processedAt updatedAt cancelledAt cancelReason closed
    displayFinancialStatus displayFulfillmentStatus currencyCode paymentGatewayNames tags
    sourceIdentifier
    customer { id }
    subtotalPriceSet { shopMoney { amount currencyCode } }
    totalShippingPriceSet { shopMoney { amount currencyCode } }
    totalDiscountsSet { shopMoney { amount currencyCode } }
    totalPriceSet { shopMoney { amount currencyCode } }
"""

LINE_ITEM_FIELDS = """
    id sku name quantity
    originalUnitPriceSet { shopMoney { amount currencyCode } }
    discountedUnitPriceSet { shopMoney { amount currencyCode } }
    totalDiscountSet { shopMoney { amount currencyCode } }
    originalTotalSet { shopMoney { amount currencyCode } }
    variant { id }
    product { id }
    sellingPlan { name sellingPlanId }
"""

PRODUCT_FIELDS = """
    id legacyResourceId title handle productType vendor status tags requiresSellingPlan
    createdAt updatedAt
"""

VARIANT_FIELDS = "id sku title price compareAtPrice createdAt updatedAt"

SELLING_PLAN_GROUP_FIELDS = """
    name
    sellingPlans(first: 5) {
      nodes { id name deliveryPolicy {
        ... on SellingPlanRecurringDeliveryPolicy { interval intervalCount } } }
      pageInfo { hasNextPage endCursor }
    }
"""

#: Nested page sizes of the paginated queries (count toward the requested cost).
LINE_ITEMS_FIRST = 10
VARIANTS_FIRST = 20

PAGE_QUERIES: dict[str, str] = {
    "customers": f"""
query Customers($first: Int!, $after: String, $query: String) {{
  customers(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    nodes {{ {CUSTOMER_FIELDS} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}""",
    "orders": f"""
query Orders($first: Int!, $after: String, $query: String) {{
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    nodes {{
      {ORDER_FIELDS}
      lineItems(first: {LINE_ITEMS_FIRST}) {{
        nodes {{ {LINE_ITEM_FIELDS} }}
        pageInfo {{ hasNextPage endCursor }}
      }}
    }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}""",
    "products": f"""
query Products($first: Int!, $after: String, $query: String) {{
  products(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    nodes {{
      {PRODUCT_FIELDS}
      variants(first: {VARIANTS_FIRST}) {{
        nodes {{ {VARIANT_FIELDS} }}
        pageInfo {{ hasNextPage endCursor }}
      }}
      sellingPlanGroups(first: 5) {{
        nodes {{ {SELLING_PLAN_GROUP_FIELDS} }}
        pageInfo {{ hasNextPage endCursor }}
      }}
    }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}""",
}

#: Rest of an order's line items when it has more than LINE_ITEMS_FIRST.
ORDER_LINE_ITEMS = f"""
query OrderLineItems($id: ID!, $after: String) {{
  order(id: $id) {{
    lineItems(first: 100, after: $after) {{
      nodes {{ {LINE_ITEM_FIELDS} }}
      pageInfo {{ hasNextPage endCursor }}
    }}
  }}
}}"""

#: Rest of a product's variants when it has more than VARIANTS_FIRST.
PRODUCT_VARIANTS = f"""
query ProductVariants($id: ID!, $after: String) {{
  product(id: $id) {{
    variants(first: 100, after: $after) {{
      nodes {{ {VARIANT_FIELDS} }}
      pageInfo {{ hasNextPage endCursor }}
    }}
  }}
}}"""

PRODUCT_DELETIONS = """
query ProductDeletions($first: Int!, $after: String, $query: String) {
  deletionEvents(first: $first, after: $after, query: $query, subjectTypes: [PRODUCT],
                 sortKey: OCCURRED_AT) {
    nodes { subjectId subjectType occurredAt }
    pageInfo { hasNextPage endCursor }
  }
}"""

# -- bulk operations --------------------------------------------------------------------------
# Customers and orders only: a 定期通販 catalogue is small, and products' selling plan groups
# (products > sellingPlanGroups > sellingPlans) nest deeper than bulk queries allow.

BULK_QUERIES: dict[str, str] = {
    "customers": f"""
{{ customers(query: $QUERY) {{ edges {{ node {{ {CUSTOMER_FIELDS} }} }} }} }}""",
    "orders": f"""
{{ orders(query: $QUERY) {{ edges {{ node {{
    {ORDER_FIELDS}
    lineItems {{ edges {{ node {{ {LINE_ITEM_FIELDS} }} }} }}
}} }} }} }}""",
}

#: JSONL child line -> the parent field it is rebuilt into (by the child's gid type).
BULK_CHILDREN: dict[str, dict[str, str]] = {
    "orders": {"LineItem": "lineItems"},
}

BULK_RUN = """
mutation BulkRun($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status createdAt }
    userErrors { field message code }
  }
}"""

BULK_STATUS = """
query BulkStatus($id: ID!) {
  node(id: $id) {
    ... on BulkOperation {
      id status errorCode createdAt completedAt objectCount rootObjectCount url partialDataUrl
    }
  }
}"""

CURRENT_BULK = """
query CurrentBulk {
  currentBulkOperation(type: QUERY) { id status errorCode createdAt url }
}"""
