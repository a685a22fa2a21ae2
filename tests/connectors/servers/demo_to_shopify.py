"""The demo merchant's cart exports, reshaped as Shopify's GraphQL Admin API returns them.

    from servers.demo_to_shopify import read_demo, shopify_shop
    demo = read_demo(out_dir)                       # generated CSVs -> {stream: [row dict]}
    shop = shopify_shop(demo)                       # {"customers": [...], "orders": [...],
                                                    #  "products": [...]} Shopify GraphQL nodes

``read_demo`` reads the cp932 files with the CSV profile's header -> column mapping, so rows are
keyed by the profile's column names (``customer_id``, ``ordered_at``, ...), values as text.

Id mapping (stable, so tests can go back and forth):
    customer  C000001   -> gid://shopify/Customer/1          (shopify_id("C000001") == 1)
    order     O0000001  -> gid://shopify/Order/1, name "#O0000001"
    product   row n of products.csv (1-based) -> Product/n, its one variant ProductVariant/n,
              sku = the cart's 商品コード
    line      order n, line k -> LineItem/(n * 1000 + k)
    selling plan: a line of a 定期 order carries sellingPlan {name, sellingPlanId
              SellingPlan/<cycle_days>}; a one-off line has sellingPlan null.
Times: the exports' JST wall-clock times become ISO 8601 UTC with a Z (Shopify DateTime).
Money: Shopify MoneyBag ``{"shopMoney": {"amount": "4980.0", "currencyCode": "JPY"}}``.
Cancelled orders (status キャンセル) get cancelledAt = updatedAt and cancelReason "CUSTOMER".

``read_demo`` and ``shopify_id`` are shared by ``demo_to_recharge`` and ``demo_to_colorme``.
"""

from __future__ import annotations

import csv
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
PROFILE = ROOT / "connectors" / "csv_export" / "profiles" / "demo_merchant.yaml"
JST = timezone(timedelta(hours=9))

__all__ = [
    "read_demo",
    "jst_to_utc_iso",
    "shopify_id",
    "gid",
    "money",
    "shopify_shop",
    "shopify_customer",
    "shopify_order",
    "shopify_product",
]


def read_demo(out_dir: str | Path, streams: tuple[str, ...] | None = None) -> dict[str, list[dict[str, str]]]:
    """Rows of the generated exports keyed by profile column name (cp932, text values)."""
    profile = yaml.safe_load(PROFILE.read_text(encoding="utf-8"))
    out: dict[str, list[dict[str, str]]] = {}
    for stream, spec in profile["streams"].items():
        if streams is not None and stream not in streams:
            continue
        header_to_col = {c["header"]: name for name, c in spec["columns"].items()}
        path = Path(out_dir) / f"{stream}.csv"
        if not path.exists():
            continue
        with open(path, encoding="cp932", newline="") as fh:
            out[stream] = [
                {header_to_col.get(h, h): v for h, v in row.items()} for row in csv.DictReader(fh)
            ]
    return out


def jst_to_utc_iso(value: str | None) -> str | None:
    """'2023/11/28 20:44:22' (JST) -> '2023-11-28T11:44:22Z'; a date gets midnight JST."""
    if not value:
        return None
    fmt = "%Y/%m/%d %H:%M:%S" if " " in value else "%Y/%m/%d"
    local = datetime.strptime(value, fmt).replace(tzinfo=JST)
    return local.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def shopify_id(cart_id: str) -> int:
    """The numeric part of a cart id: 'C000001' -> 1, 'O0000123' -> 123."""
    m = re.search(r"(\d+)$", cart_id)
    if not m:
        raise ValueError(f"no numeric part in {cart_id!r}")
    return int(m.group(1))


def gid(kind: str, n: int) -> str:
    return f"gid://shopify/{kind}/{n}"


def money(amount: int | str | None) -> dict[str, Any]:
    value = int(amount or 0)
    return {"shopMoney": {"amount": f"{value}.0", "currencyCode": "JPY"}}


_PREF_CODES: dict[str, str] | None = None


def _pref_code(name: str) -> str | None:
    global _PREF_CODES
    if _PREF_CODES is None:
        from demo_merchant.names import PREFECTURES

        _PREF_CODES = {p[0]: f"JP-{i + 1:02d}" for i, p in enumerate(PREFECTURES)}
    return _PREF_CODES.get(name)


def _phone_e164(phone: str) -> str | None:
    digits = re.sub(r"\D", "", phone or "")
    return "+81" + digits[1:] if digits.startswith("0") else (digits or None)


def shopify_customer(row: dict[str, str]) -> dict[str, Any]:
    n = shopify_id(row["customer_id"])
    opted = row.get("email_opt_in") == "希望する"
    tags = [t for t in (row.get("acquisition_channel"),) if t]
    return {
        "id": gid("Customer", n),
        "legacyResourceId": str(n),
        "firstName": row.get("first_name") or None,
        "lastName": row.get("last_name") or None,
        "tags": tags,
        "note": None,
        "createdAt": jst_to_utc_iso(row["created_at"]),
        "updatedAt": jst_to_utc_iso(row["updated_at"]),
        "defaultAddress": {
            "zip": row.get("postal_code") or None,
            "province": row.get("prefecture") or None,
            "provinceCode": _pref_code(row.get("prefecture", "")),
            "countryCodeV2": "JP",
        },
        "defaultEmailAddress": ({
            "emailAddress": row["email"],
            "marketingState": "SUBSCRIBED" if opted else "NOT_SUBSCRIBED",
            "marketingOptInLevel": "SINGLE_OPT_IN" if opted else None,
            "marketingUpdatedAt": jst_to_utc_iso(row["created_at"]),
        } if row.get("email") else None),
        "defaultPhoneNumber": ({
            "phoneNumber": _phone_e164(row["phone"]),
            "marketingState": "NOT_SUBSCRIBED",
        } if row.get("phone") else None),
    }


def shopify_product(n: int, row: dict[str, str]) -> dict[str, Any]:
    is_sub = row.get("is_subscription") == "1"
    cycle = row.get("cycle_days") or None
    groups = []
    if is_sub and cycle:
        groups = [{
            "name": "定期便",
            "sellingPlans": {"nodes": [{
                "id": gid("SellingPlan", int(cycle)),
                "name": f"定期便 {cycle}日ごと",
                "deliveryPolicy": {"interval": "DAY", "intervalCount": int(cycle)},
            }], "pageInfo": {"hasNextPage": False, "endCursor": None}},
        }]
    return {
        "id": gid("Product", n),
        "legacyResourceId": str(n),
        "title": row["product_name"],
        "handle": row["product_id"].lower(),
        "productType": row.get("category") or "",
        "vendor": "デモショップ",
        "status": "ACTIVE",
        "tags": ["定期"] if is_sub else [],
        "requiresSellingPlan": False,
        "createdAt": jst_to_utc_iso(row.get("created_at")),
        "updatedAt": jst_to_utc_iso(row["updated_at"]),
        "variants": {"nodes": [{
            "id": gid("ProductVariant", n),
            "sku": row["product_id"],
            "title": "Default Title",
            "price": f"{int(row['price'])}.0",
            "compareAtPrice": None,
            "createdAt": jst_to_utc_iso(row.get("created_at")),
            "updatedAt": jst_to_utc_iso(row["updated_at"]),
        }], "pageInfo": {"hasNextPage": False, "endCursor": None}},
        "sellingPlanGroups": {"nodes": groups, "pageInfo": {"hasNextPage": False, "endCursor": None}},
    }


def shopify_order(row: dict[str, str], lines: list[dict[str, str]],
                  products: dict[str, tuple[int, dict[str, str]]],
                  cycle_days: int | None = None) -> dict[str, Any]:
    n = shopify_id(row["order_id"])
    cancelled = row.get("status") == "キャンセル"
    shipped = row.get("status") == "発送済み"
    is_sub = bool(row.get("subscription_id"))
    items = []
    for line in lines:
        pn, prow = products[line["product_id"]]
        cycle = cycle_days or (int(prow["cycle_days"]) if prow.get("cycle_days") else None)
        items.append({
            "id": gid("LineItem", n * 1000 + int(line["line_number"])),
            "sku": line["product_id"],
            "name": prow["product_name"],
            "quantity": int(line["quantity"]),
            "originalUnitPriceSet": money(line["unit_price"]),
            "discountedUnitPriceSet": money(int(line["unit_price"]) - int(line.get("discount") or 0)
                                            // max(1, int(line["quantity"]))),
            "totalDiscountSet": money(line.get("discount") or 0),
            "originalTotalSet": money(int(line["unit_price"]) * int(line["quantity"])),
            "variant": {"id": gid("ProductVariant", pn)},
            "product": {"id": gid("Product", pn)},
            "sellingPlan": ({"name": f"定期便 {cycle}日ごと",
                             "sellingPlanId": gid("SellingPlan", cycle)}
                            if is_sub and cycle else None),
        })
    updated = jst_to_utc_iso(row["updated_at"])
    return {
        "id": gid("Order", n),
        "legacyResourceId": str(n),
        "name": "#" + row["order_id"],
        "createdAt": jst_to_utc_iso(row["ordered_at"]),
        "processedAt": jst_to_utc_iso(row["ordered_at"]),
        "updatedAt": updated,
        "cancelledAt": updated if cancelled else None,
        "cancelReason": "CUSTOMER" if cancelled else None,
        "closed": shipped,
        "displayFinancialStatus": "VOIDED" if cancelled else "PAID",
        "displayFulfillmentStatus": "FULFILLED" if shipped else "UNFULFILLED",
        "currencyCode": "JPY",
        "paymentGatewayNames": [row["payment_method"]] if row.get("payment_method") else [],
        "tags": (["定期", f"定期回数:{row['delivery_number']}"] if is_sub else []),
        "sourceIdentifier": row.get("subscription_id") or None,
        "customer": {"id": gid("Customer", shopify_id(row["customer_id"]))},
        "subtotalPriceSet": money(row["subtotal"]),
        "totalShippingPriceSet": money(row.get("shipping_fee") or 0),
        "totalDiscountsSet": money(row.get("discount") or 0),
        "totalPriceSet": money(row["total"]),
        "lineItems": {"nodes": items, "pageInfo": {"hasNextPage": False, "endCursor": None}},
    }


def shopify_shop(demo: dict[str, list[dict[str, str]]]) -> dict[str, list[dict[str, Any]]]:
    """Customers, orders (with line items) and products (with variants, selling plan groups)."""
    products = {r["product_id"]: (i + 1, r) for i, r in enumerate(demo.get("products", []))}
    sub_cycle = {s["subscription_id"]: int(s["cycle_days"])
                 for s in demo.get("subscriptions", []) if s.get("cycle_days")}
    lines_by_order: dict[str, list[dict[str, str]]] = {}
    for line in demo.get("order_lines", []):
        lines_by_order.setdefault(line["order_id"], []).append(line)
    return {
        "customers": [shopify_customer(r) for r in demo.get("customers", [])],
        "products": [shopify_product(n, r) for n, r in products.values()],
        "orders": [
            shopify_order(r, lines_by_order.get(r["order_id"], []), products,
                          sub_cycle.get(r.get("subscription_id") or ""))
            for r in demo.get("orders", [])
        ],
    }
