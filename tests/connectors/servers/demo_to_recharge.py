"""Demo merchant exports -> Recharge API 2021-11 records (customers, subscriptions, charges).

The demo generator writes a Japanese cart's CSV exports; this module re-reads them through the
CSV connector's own parser (profile ``demo_merchant``, so datetimes come back as naive UTC) and
shapes them the way Recharge's 2021-11 list endpoints return them, for the local test server
(``recharge_server.py``). Recharge only knows subscription business, so:

- customers      every demo customer (Recharge customer; ``external_customer_id.ecommerce`` is
                 the Shopify customer id the Shopify test data would use)
- subscriptions  every 定期契約; 継続中 -> ``active``, 解約済み -> ``cancelled``, 休止中 ->
                 ``active`` with ``next_charge_scheduled_at: null`` (2021-11 has no paused status)
- charges        one charge per payment attempt of a subscription order: 成功 -> ``success``
                 (``refunded`` if the order was cancelled), 失敗 -> ``error`` with
                 ``error_type`` / ``error`` (the demo's failure reason, no order); a live order
                 not paid yet in the demo (代金引換, 後払い) gets a ``success`` charge too, since
                 Recharge creates an order only by charging it. ``processed_at`` is the order's
                 time: the moment Recharge created it.

Ids: Recharge ids are integers; the demo's ``C000123`` becomes ``CUSTOMER_ID_BASE + 123`` and so
on, deterministically, so tests can map both ways. The Shopify ids in ``external_*_id.ecommerce``
follow ``demo_to_shopify`` (the Shopify test server's mapping): customer ``C000123`` -> ``"123"``,
order ``O0000045`` -> ``"45"``, product = its 1-based row in products.csv, variant = the same
number. Timestamps are ISO 8601 with ``+00:00``.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from connectors.csv_export import read_export

from .demo_to_shopify import shopify_id

PROFILE = "demo_merchant"

CUSTOMER_ID_BASE = 80_000_000
SUBSCRIPTION_ID_BASE = 300_000_000
CHARGE_ID_BASE = 700_000_000
UNPAID_CHARGE_ID_BASE = 750_000_000  # + order number: charges of orders the demo has not paid yet
ADDRESS_ID_BASE = 90_000_000

STATUS = {"継続中": "active", "休止中": "active", "解約済み": "cancelled"}
ERROR_TYPES = {
    "カード与信NG": "CARD_DECLINED",
    "有効期限切れ": "EXPIRED_CARD",
    "後払い審査NG": "PAYMENT_METHOD_DECLINED",
    "未入金": "PAYMENT_NOT_RECEIVED",
}


def _num(code: str) -> int:
    digits = re.sub(r"\D", "", code or "")
    if not digits:
        raise ValueError(f"no digits in id {code!r}")
    return int(digits)


def customer_id(demo_id: str) -> int:
    return CUSTOMER_ID_BASE + _num(demo_id)


def subscription_id(demo_id: str) -> int:
    return SUBSCRIPTION_ID_BASE + _num(demo_id)


def charge_id(demo_payment_id: str) -> int:
    return CHARGE_ID_BASE + _num(demo_payment_id)


def shopify_customer_id(demo_id: str) -> str:
    return str(shopify_id(demo_id))


def shopify_order_id(demo_order_id: str) -> str:
    return str(shopify_id(demo_order_id))


def iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _day(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def _money(yen: int | None) -> str | None:
    return None if yen is None else f"{int(yen)}.00"


def _read(export_dir: Path, stream: str) -> list[dict[str, Any]]:
    parsed = read_export(export_dir / f"{stream}.csv", PROFILE, stream)
    return [dict(zip(parsed.columns, row)) for row in parsed.rows]


def _hash(*parts: Any) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:18]


def convert(export_dir: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Read a demo export folder; return ``{"customers": [...], "subscriptions": [...],
    "charges": [...]}`` in Recharge 2021-11 shape (lists sorted by id)."""
    export_dir = Path(export_dir)
    customers = _read(export_dir, "customers")
    subs = _read(export_dir, "subscriptions")
    orders = {o["order_id"]: o for o in _read(export_dir, "orders")}
    lines: dict[str, list[dict[str, Any]]] = {}
    for line in _read(export_dir, "order_lines"):
        lines.setdefault(line["order_id"], []).append(line)
    product_rows = _read(export_dir, "products")
    products = {p["product_id"]: p for p in product_rows}
    product_no = {p["product_id"]: str(i + 1) for i, p in enumerate(product_rows)}
    payments = _read(export_dir, "payments")

    by_customer: dict[str, list[dict[str, Any]]] = {}
    for s in subs:
        by_customer.setdefault(s["customer_id"], []).append(s)

    out_customers = []
    for c in customers:
        own = by_customer.get(c["customer_id"], [])
        active = sum(1 for s in own if s["status"] != "解約済み")
        out_customers.append({
            "id": customer_id(c["customer_id"]),
            "analytics_data": {"utm_params": []},
            "apply_credit_to_next_recurring_charge": False,
            "created_at": iso(c["created_at"]),
            "email": c["email"],
            "external_customer_id": {"ecommerce": shopify_customer_id(c["customer_id"])},
            "first_charge_processed_at": None,
            "first_name": c["first_name"],
            "has_payment_method_in_dunning": False,
            "has_valid_payment_method": True,
            "hash": _hash("customer", c["customer_id"]),
            "last_name": c["last_name"],
            "phone": c["phone"],
            "subscriptions_active_count": active,
            "subscriptions_total_count": len(own),
            "tax_exempt": False,
            "updated_at": iso(c["updated_at"]),
        })

    out_subs = []
    for s in subs:
        product = products.get(s["product_id"], {})
        out_subs.append({
            "id": subscription_id(s["subscription_id"]),
            "address_id": ADDRESS_ID_BASE + _num(s["customer_id"]),
            "customer_id": customer_id(s["customer_id"]),
            "analytics_data": {"utm_params": []},
            "cancellation_reason": s["cancel_reason"],
            "cancellation_reason_comments": None,
            "cancelled_at": iso(s["cancelled_at"]),
            "charge_interval_frequency": s["cycle_days"],
            "created_at": iso(s["started_at"]),
            "expire_after_specific_number_of_charges": None,
            "external_product_id": {"ecommerce": product_no.get(s["product_id"])},
            "external_variant_id": {"ecommerce": product_no.get(s["product_id"])},
            "has_queued_charges": s["status"] == "継続中",
            "is_prepaid": False,
            "is_skippable": True,
            "is_swappable": False,
            "max_retries_reached": False,
            "next_charge_scheduled_at": _day(s["next_delivery_date"]),
            "order_day_of_month": None,
            "order_day_of_week": None,
            "order_interval_frequency": s["cycle_days"],
            "order_interval_unit": "day",
            "presentment_currency": "JPY",
            "price": _money(product.get("price")),
            "product_title": product.get("product_name"),
            "properties": [],
            "quantity": s["quantity"],
            "sku": s["product_id"],
            "sku_override": False,
            "status": STATUS.get(s["status"], "active"),
            "updated_at": iso(s["updated_at"]),
            "variant_title": None,
        })

    # Recharge creates the shop order when a charge succeeds, so every live 定期 order has one
    # successful charge, processed when the order was placed. The demo's payments give the
    # failures (error charges, no order) and the successful attempts; an order whose payment
    # comes later (代金引換, 後払い still open) gets its charge anyway, as Recharge would have
    # charged it. A cancelled order that was paid is a refunded charge.
    attempts: list[tuple[dict[str, Any], dict[str, Any] | None]] = []  # (order, payment)
    paid: set[str] = set()
    for p in payments:
        order = orders.get(p["order_id"])
        if order is None or not order.get("subscription_id"):
            continue  # Recharge bills subscriptions only
        attempts.append((order, p))
        if p["result"] == "成功":
            paid.add(p["order_id"])
    for order in orders.values():
        if (order.get("subscription_id") and order["order_id"] not in paid
                and order["status"] != "キャンセル"):
            attempts.append((order, None))

    out_charges = []
    for order, p in attempts:
        ok = p is None or p["result"] == "成功"
        status = ("refunded" if order["status"] == "キャンセル" else "success") if ok else "error"
        sub_id = subscription_id(order["subscription_id"])
        items = []
        for line in lines.get(order["order_id"], []):
            product = products.get(line["product_id"], {})
            items.append({
                "purchase_item_id": sub_id,
                "purchase_item_type": "subscription",
                "external_product_id": {"ecommerce": product_no.get(line["product_id"])},
                "external_variant_id": {"ecommerce": product_no.get(line["product_id"])},
                "quantity": line["quantity"],
                "sku": line["product_id"],
                "title": product.get("product_name"),
                "unit_price": _money(line["unit_price"]),
                "total_price": _money(line["line_total"]),
                "properties": [],
                "tax_lines": [],
            })
        reason = p["failure_reason"] if p else None
        method = p["method"] if p else order.get("payment_method")
        touched = p["attempted_at"] if p else order["ordered_at"]
        out_charges.append({
            "id": charge_id(p["payment_id"]) if p else UNPAID_CHARGE_ID_BASE + _num(order["order_id"]),
            "address_id": ADDRESS_ID_BASE + _num(order["customer_id"]),
            "analytics_data": {"utm_params": []},
            "charge_attempts": 1,
            "created_at": iso(order["ordered_at"]),
            "currency": "JPY",
            "customer": {
                "id": customer_id(order["customer_id"]),
                "email": None,
                "external_customer_id": {"ecommerce": shopify_customer_id(order["customer_id"])},
                "hash": _hash("customer", order["customer_id"]),
            },
            "discounts": [],
            "error": None if ok else (reason or "決済エラー"),
            "error_type": None if ok else ERROR_TYPES.get(reason or "", "PAYMENT_FAILED"),
            "external_order_id": {"ecommerce": shopify_order_id(order["order_id"]) if ok else None},
            "external_transaction_id": {"payment_processor": None},
            "line_items": items,
            "note": None,
            "order_attributes": [],
            "orders_count": 1 if ok else 0,
            "payment_processor": "shopify_payments" if method == "クレジットカード" else method,
            "processed_at": iso(order["ordered_at"]) if ok else None,
            "retry_date": None,
            "scheduled_at": _day(order["ordered_at"].date()),
            "shipping_lines": [],
            "status": status,
            "subtotal_price": _money(order["subtotal"]),
            "tags": "Subscription, Subscription Recurring Order"
            if (order.get("delivery_number") or 1) > 1 else "Subscription, Subscription First Order",
            "tax_lines": [],
            "taxable": True,
            "taxes_included": True,
            "total_discounts": _money(order.get("discount") or 0),
            "total_price": _money(p["amount"] if p else order["total"]),
            "total_tax": "0.00",
            "type": "recurring" if (order.get("delivery_number") or 1) > 1 else "checkout",
            "updated_at": iso(touched),
        })

    return {
        "customers": sorted(out_customers, key=lambda r: r["id"]),
        "subscriptions": sorted(out_subs, key=lambda r: r["id"]),
        "charges": sorted(out_charges, key=lambda r: r["id"]),
    }
