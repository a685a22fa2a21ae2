"""Demo merchant exports -> カラーミーショップ API v1 records (sales with details, customers,
products), as ``GET /v1/sales.json``, ``/v1/customers.json`` and ``/v1/products.json`` return them.

Read through the CSV connector's own parser (datetimes come back as naive UTC) and reshaped:

- ids are integers: customer ``C000123`` -> 123, sale (受注) ``O0000045`` -> 45, product = its
  1-based row in products.csv, detail id = sale id * 100 + line number;
- dates are Unix epoch seconds (``make_date``, ``update_date``), as カラーミー returns them;
- a sale embeds its ``customer`` and its ``details`` (受注明細); ``canceled`` is true for
  受注ステータス キャンセル, ``delivered`` for 発送済み, ``paid`` when a payment succeeded.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from connectors.csv_export import read_export

from .demo_to_shopify import shopify_id as number

PROFILE = "demo_merchant"
ACCOUNT_ID = "PA01234567"
PREFS = ["北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県",
         "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県",
         "山梨県", "長野県", "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府",
         "兵庫県", "奈良県", "和歌山県", "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県",
         "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県",
         "鹿児島県", "沖縄県"]
PAYMENT_IDS = {"クレジットカード": 101, "後払い": 102, "コンビニ払い": 103, "代金引換": 104}
SEX = {"女性": "female", "男性": "male"}


def epoch(ts: datetime | None) -> int | None:
    return None if ts is None else int(ts.replace(tzinfo=timezone.utc).timestamp())


def _day(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def _read(export_dir: Path, stream: str) -> list[dict[str, Any]]:
    parsed = read_export(export_dir / f"{stream}.csv", PROFILE, stream)
    return [dict(zip(parsed.columns, row)) for row in parsed.rows]


def _customer(c: dict[str, Any], sales_count: int) -> dict[str, Any]:
    pref = c.get("prefecture")
    return {
        "id": number(c["customer_id"]),
        "account_id": ACCOUNT_ID,
        "name": f"{c['last_name']} {c['first_name']}",
        "furigana": " ".join(x for x in (c.get("last_name_kana"), c.get("first_name_kana")) if x) or None,
        "hojin": None,
        "busho": None,
        "sex": SEX.get(c.get("gender") or ""),
        "birthday": _day(c.get("birthday")),
        "postal": c.get("postal_code"),
        "pref_id": PREFS.index(pref) + 1 if pref in PREFS else None,
        "pref_name": pref,
        "address1": c.get("address1"),
        "address2": c.get("address2"),
        "mail": c.get("email"),
        "tel": c.get("phone"),
        "fax": None,
        "tel_mobile": None,
        "other": None,
        "points": 0,
        "member": True,
        "sales_count": sales_count,
        "receive_mail_magazine": bool(c.get("email_opt_in")),
        "answer_free_form1": None,
        "answer_free_form2": None,
        "answer_free_form3": None,
        "make_date": epoch(c["created_at"]),
        "update_date": epoch(c["updated_at"]),
    }


def convert(export_dir: str | Path) -> dict[str, list[dict[str, Any]]]:
    """``{"sales": [...], "customers": [...], "products": [...]}`` sorted by id."""
    export_dir = Path(export_dir)
    customers = _read(export_dir, "customers")
    product_rows = _read(export_dir, "products")
    orders = _read(export_dir, "orders")
    lines: dict[str, list[dict[str, Any]]] = {}
    for line in _read(export_dir, "order_lines"):
        lines.setdefault(line["order_id"], []).append(line)
    paid = {p["order_id"] for p in _read(export_dir, "payments") if p["result"] == "成功"}
    product_no = {p["product_id"]: i + 1 for i, p in enumerate(product_rows)}
    product_by_code = {p["product_id"]: p for p in product_rows}
    counts: dict[str, int] = {}
    for o in orders:
        if o["status"] != "キャンセル":
            counts[o["customer_id"]] = counts.get(o["customer_id"], 0) + 1
    out_customers = [_customer(c, counts.get(c["customer_id"], 0)) for c in customers]
    by_id = {c["id"]: c for c in out_customers}

    out_products = []
    for p in product_rows:
        out_products.append({
            "account_id": ACCOUNT_ID,
            "id": product_no[p["product_id"]],
            "name": p["product_name"],
            "stocks": None,
            "stock_managed": False,
            "model_number": p["product_id"],
            "category": {"id_big": 1, "id_small": 0},
            "group_ids": [],
            "display_state": "showing",
            "sales_price": p["price"],
            "sales_price_including_tax": p["price"],
            "price": p["price"],
            "members_price": None,
            "cost": p.get("unit_cost"),
            "unit": None,
            "regular_purchase": bool(p["is_subscription"]),
            "tax_reduced": False,
            "without_shipping": False,
            "make_date": epoch(p.get("created_at")),
            "update_date": epoch(p["updated_at"]),
        })

    out_sales = []
    for o in orders:
        sid = number(o["order_id"])
        details = []
        for line in lines.get(o["order_id"], []):
            product = product_by_code.get(line["product_id"], {})
            details.append({
                "id": sid * 100 + line["line_number"],
                "sale_id": sid,
                "account_id": ACCOUNT_ID,
                "product_id": product_no.get(line["product_id"]),
                "sale_delivery_id": sid,
                "option1_value": None,
                "option2_value": None,
                "product_model_number": line["product_id"],
                "product_name": product.get("product_name"),
                "pristine_product_full_name": product.get("product_name"),
                "product_cost": product.get("unit_cost"),
                "price": line["unit_price"],
                "price_with_tax": line["unit_price"],
                "product_num": line["quantity"],
                "unit": None,
                "subtotal_price": line["line_total"],
            })
        out_sales.append({
            "id": sid,
            "account_id": ACCOUNT_ID,
            "make_date": epoch(o["ordered_at"]),
            "update_date": epoch(o["updated_at"]),
            "memo": None,
            "payment_id": PAYMENT_IDS.get(o.get("payment_method") or "", 199),
            "mobile": False,
            "paid": o["order_id"] in paid,
            "delivered": o["status"] == "発送済み",
            "canceled": o["status"] == "キャンセル",
            "accepted_mail_state": "sent",
            "paid_mail_state": "pass",
            "delivered_mail_state": "sent" if o["status"] == "発送済み" else "not_yet",
            "point_state": "fixed",
            "product_total_price": o["subtotal"],
            "delivery_total_charge": o.get("shipping_fee") or 0,
            "fee": 0,
            "tax": 0,
            "point_discount": 0,
            "other_discount": abs(o.get("discount") or 0),
            "other_discount_name": "定期割引" if o.get("discount") else "",
            "total_price": o["total"],
            "external_order_id": "",
            "customer": by_id.get(number(o["customer_id"])),
            "details": details,
            "sale_deliveries": [{"id": sid, "sale_id": sid, "delivered": o["status"] == "発送済み",
                                 "preferred_date": None, "slip_number": None}],
        })
    return {
        "sales": sorted(out_sales, key=lambda r: r["id"]),
        "customers": sorted(out_customers, key=lambda r: r["id"]),
        "products": sorted(out_products, key=lambda r: r["id"]),
    }
