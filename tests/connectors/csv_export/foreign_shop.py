"""A test world unlike the demo merchant's exports: an English-language subscription shop.

    from foreign_shop import write_foreign_shop
    write_foreign_shop(demo_dir, out_dir)    # the demo merchant's files -> the foreign shop's files

The customers, orders, 定期 and every other record are the demo merchant's (read from the files
``demo_merchant.generate`` wrote), so marts built from both worlds must agree. Only the way the
cart writes them differs, in every respect the demo cart's exports have in common:

- UTF-8 (no BOM), LF line ends, English headers, other file names (``order_items_*.csv``,
  ``transactions_*.csv``, ``tickets_*.csv``, ``pageviews_*.csv`` ...), columns in another order
  and a few columns Teiki does not use (``Currency``, ``Tags``: they land in ``_extra``);
- timestamps in ISO-8601 UTC (``2023-11-02T10:57:54Z``), dates in ISO form (``2026-11-23``);
- English status and category words (``fulfilled``, ``active``, ``succeeded``, ``cancellation``,
  ``search_ads``, ``too_much_product`` ...) in every enumerated column, the plan changes'
  before/after values too (``active``, ``30 days``);
- web visits logged with a page type (``home``, ``item``, ``account``, ``cancel_confirm``,
  ``help``, ``inquiry``) and no URL;
- packed columns: a customer's ``Name`` (``佐藤 / 香織``) and ``Name (kana)``; an order line's
  ``Item`` (``SKU:T-LOTION / qty 2 / ¥4,980``);
- no consent column at all (no e-mail, LINE, DM or phone consent), and order lines without
  a line total (小計).

This module is the world's generator, so it translates; the point of the world is that
``connectors/csv_export/profiles/english_subscription_shop.yaml`` then loads it as written, with
no preprocessing. Command line: ``python tests/connectors/csv_export/foreign_shop.py DEMO_DIR OUT_DIR``.
"""

from __future__ import annotations

import csv
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
DEMO_PROFILE = ROOT / "connectors" / "csv_export" / "profiles" / "demo_merchant.yaml"
PROFILE = ROOT / "connectors" / "csv_export" / "profiles" / "english_subscription_shop.yaml"
JST = timezone(timedelta(hours=9))
EXPORT_DAY = "20261123"

# The demo cart's Japanese words -> the foreign cart's English ones (the profile maps them back).
ORDER_STATUS = {"発送済み": "fulfilled", "発送待ち": "unfulfilled", "キャンセル": "cancelled"}
PAYMENT_METHOD = {"クレジットカード": "credit_card", "後払い": "pay_later",
                  "コンビニ払い": "konbini", "代金引換": "cash_on_delivery"}
PAYMENT_RESULT = {"成功": "succeeded", "失敗": "failed"}
FAILURE_REASON = {"カード与信NG": "card_declined", "有効期限切れ": "expired_card",
                  "後払い審査NG": "pay_later_rejected", "未入金": "unpaid"}
SUBSCRIPTION_STATUS = {"継続中": "active", "休止中": "paused", "解約済み": "cancelled"}
CANCEL_REASON = {"その他": "other", "決済エラー": "payment_failed", "他社商品に切り替え": "switched_brand",
                 "価格が高い": "too_expensive", "効果を実感できない": "no_results",
                 "商品が余っている": "too_much_product", "経済的理由": "budget",
                 "肌に合わない": "skin_reaction", "体調不良": "unwell", "旅行・帰省": "travelling"}
EVENT_TYPE = {"スキップ": "skip", "お届け日変更": "reschedule", "周期変更": "interval_change",
              "数量変更": "quantity_change", "休止": "pause", "再開": "resume", "解約": "cancel"}
EVENT_CHANNEL = {"マイページ": "customer_portal", "電話": "phone", "メール": "email"}
INQUIRY_CHANNEL = {"電話": "phone", "メール": "email", "チャット": "chat"}
INQUIRY_CATEGORY = {"解約相談": "cancellation", "商品不満": "product_complaint", "配送": "shipping",
                    "肌トラブル": "skin_issue", "支払い": "billing", "商品について": "product_question",
                    "定期の変更": "plan_change", "その他": "other"}
INQUIRY_OUTCOME = {"解決": "resolved", "継続案内": "retained", "解約受付": "cancellation_processed",
                   "折り返し": "call_back"}
GENDER = {"女性": "female", "男性": "male", "未回答": "prefer_not_to_say"}
CHANNEL = {"検索広告": "search_ads", "SNS広告": "social_ads", "アフィリエイト": "affiliate",
           "自然検索": "organic", "紹介": "referral", "同梱チラシ": "package_insert"}
CATEGORY = {"スキンケア": "skincare", "サプリメント": "supplements", "健康食品": "health_food",
            "雑貨": "accessories"}
POINT_KIND = {"付与": "earned", "利用": "redeemed", "失効": "expired"}
YES_NO = {"1": "yes", "0": "no"}

# The page types the foreign cart logs, decided as Teiki's default URL rules would decide them
# from the demo cart's URLs (dbt_project/macros/web_pages.sql), so both worlds see the same visits.
PAGE_RULES = (
    ("cancel_confirm", re.compile(r"^/mypage/teiki/cancel(/|$)")),
    ("help", re.compile(r"^/faq(/|$)")),
    ("inquiry", re.compile(r"^/contact(/|$)")),
    ("account", re.compile(r"^/mypage(/|$)")),
    ("item", re.compile(r"^/products/[^/]+")),
    ("home", re.compile(r"^/(index\.html?)?$")),
)
OTHER_PAGE = "campaign"


def read_demo(demo_dir: Path) -> dict[str, list[dict[str, str]]]:
    """The demo exports' rows keyed by the demo profile's raw column names (text as written)."""
    profile = yaml.safe_load(DEMO_PROFILE.read_text(encoding="utf-8"))
    out = {}
    for stream, spec in profile["streams"].items():
        header_to_col = {c["header"]: name for name, c in spec["columns"].items()}
        with open(Path(demo_dir) / f"{stream}.csv", encoding="cp932", newline="") as fh:
            out[stream] = [{header_to_col[h]: v for h, v in row.items()} for row in csv.DictReader(fh)]
    return out


def utc(value: str) -> str:
    """The demo cart's JST wall clock '2023/11/02 19:57:54' -> '2023-11-02T10:57:54Z'."""
    if not value:
        return ""
    local = datetime.strptime(value, "%Y/%m/%d %H:%M:%S").replace(tzinfo=JST)
    return local.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_date(value: str) -> str:
    """'2026/11/23' -> '2026-11-23'."""
    return value.replace("/", "-")


def word(table: dict[str, str], value: str) -> str:
    """The English word for a demo label; an empty cell stays empty, an unknown label is a bug."""
    return table[value] if value else ""


def yen_text(value: str) -> str:
    """'4980' -> '¥4,980' (how the foreign cart prints prices)."""
    return f"¥{int(value):,}" if value else ""


def packed(first: str, second: str) -> str:
    """Two names in one cell, 'last / first', as the foreign cart's Name column holds them."""
    return f"{first} / {second}" if first or second else ""


def page_type(url: str) -> str:
    path = "/" + re.sub(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)?/*([^?#]*).*$", r"\1", url).lower().rstrip("/")
    return next((name for name, rule in PAGE_RULES if rule.search(path)), OTHER_PAGE)


def plan_value(kind: str, value: str) -> str:
    """A plan change's before/after as the foreign cart writes it: statuses in English, cycles as
    '30 days', dates in ISO form, quantities as they are."""
    if value in SUBSCRIPTION_STATUS:
        return SUBSCRIPTION_STATUS[value]
    if kind == "周期変更" and value.endswith("日"):
        return f"{value[:-1]} days"
    if re.fullmatch(r"\d{4}/\d{2}/\d{2}", value):
        return iso_date(value)
    return value


def _customers(rows):
    header = ["Customer ID", "Created at", "Updated at", "Name", "Name (kana)", "Email", "Phone",
              "Zip", "Prefecture", "Address line 1", "Address line 2", "Date of birth", "Gender",
              "LINE user ID", "Acquisition source", "Tags"]
    return header, [[
        r["customer_id"], utc(r["created_at"]), utc(r["updated_at"]),
        packed(r["last_name"], r["first_name"]), packed(r["last_name_kana"], r["first_name_kana"]),
        r["email"], r["phone"], r["postal_code"], r["prefecture"], r["address1"], r["address2"],
        iso_date(r["birthday"]), word(GENDER, r["gender"]), r["line_user_id"],
        word(CHANNEL, r["acquisition_channel"]), ""] for r in rows]


def _products(rows):
    header = ["SKU", "Title", "Product type", "Price", "First delivery price", "Subscription",
              "Default interval (days)", "Cost per item", "Created at", "Updated at"]
    return header, [[
        r["product_id"], r["product_name"], word(CATEGORY, r["category"]), yen_text(r["price"]),
        yen_text(r["first_delivery_price"]), YES_NO[r["is_subscription"]], r["cycle_days"],
        r["unit_cost"], utc(r["created_at"]), utc(r["updated_at"])] for r in rows]


def _orders(rows):
    header = ["Order ID", "Created at", "Customer ID", "Status", "Subscription ID", "Delivery #",
              "Payment method", "Currency", "Subtotal", "Shipping", "Discount", "Total",
              "Fulfilled on", "Updated at"]
    return header, [[
        r["order_id"], utc(r["ordered_at"]), r["customer_id"], word(ORDER_STATUS, r["status"]),
        r["subscription_id"], r["delivery_number"], word(PAYMENT_METHOD, r["payment_method"]), "JPY",
        r["subtotal"], r["shipping_fee"], r["discount"], r["total"], iso_date(r["shipped_on"]),
        utc(r["updated_at"])] for r in rows]


def _order_lines(rows):
    # No line total: the cart prints the unit price inside the packed Item column.
    header = ["Order ID", "Line", "Item", "Line discount", "Updated at"]
    return header, [[
        r["order_id"], r["line_number"],
        f"SKU:{r['product_id']} / qty {r['quantity']} / {yen_text(r['unit_price'])}",
        r["discount"], utc(r["updated_at"])] for r in rows]


def _subscriptions(rows):
    header = ["Subscription ID", "Customer ID", "SKU", "Quantity", "Interval (days)", "Status",
              "Created at", "Cancelled at", "Cancellation reason", "Next delivery on", "Deliveries",
              "Skips", "Updated at"]
    return header, [[
        r["subscription_id"], r["customer_id"], r["product_id"], r["quantity"], r["cycle_days"],
        word(SUBSCRIPTION_STATUS, r["status"]), utc(r["started_at"]), utc(r["cancelled_at"]),
        word(CANCEL_REASON, r["cancel_reason"]), iso_date(r["next_delivery_date"]),
        r["delivery_count"], r["skip_count"], utc(r["updated_at"])] for r in rows]


def _subscription_events(rows):
    header = ["Event ID", "Subscription ID", "Occurred at", "Type", "From", "To", "Reason", "Channel"]
    return header, [[
        r["event_id"], r["subscription_id"], utc(r["occurred_at"]), word(EVENT_TYPE, r["event_type"]),
        plan_value(r["event_type"], r["before_value"]), plan_value(r["event_type"], r["after_value"]),
        word(CANCEL_REASON, r["reason"]), word(EVENT_CHANNEL, r["operator"])] for r in rows]


def _payments(rows):
    header = ["Transaction ID", "Order ID", "Customer ID", "Gateway", "Processed at", "Amount",
              "Status", "Error"]
    return header, [[
        r["payment_id"], r["order_id"], r["customer_id"], word(PAYMENT_METHOD, r["method"]),
        utc(r["attempted_at"]), r["amount"], word(PAYMENT_RESULT, r["result"]),
        word(FAILURE_REASON, r["failure_reason"])] for r in rows]


def _inquiries(rows):
    header = ["Ticket ID", "Customer ID", "Opened at", "Channel", "Topic", "Assignee", "Resolution"]
    return header, [[
        r["inquiry_id"], r["customer_id"], utc(r["created_at"]), word(INQUIRY_CHANNEL, r["channel"]),
        word(INQUIRY_CATEGORY, r["category"]), r["agent"], word(INQUIRY_OUTCOME, r["outcome"])]
        for r in rows]


def _web_events(rows):
    header = ["Visit ID", "Customer ID", "Visited at", "Page", "Referrer"]
    return header, [[
        r["event_id"], r["customer_id"], utc(r["visited_at"]), page_type(r["url"]), r["referrer"]]
        for r in rows]


def _points(rows):
    header = ["Entry ID", "Customer ID", "Created at", "Kind", "Points", "Expires on", "Order ID"]
    return header, [[
        r["point_event_id"], r["customer_id"], utc(r["occurred_at"]), word(POINT_KIND, r["event_type"]),
        r["points"], iso_date(r["expires_on"]), r["order_id"]] for r in rows]


#: demo stream -> (foreign file name, writer)
FILES = {
    "customers": (f"customers_{EXPORT_DAY}.csv", _customers),
    "products": (f"products_{EXPORT_DAY}.csv", _products),
    "orders": (f"orders_{EXPORT_DAY}.csv", _orders),
    "order_lines": (f"order_items_{EXPORT_DAY}.csv", _order_lines),
    "subscriptions": (f"subscriptions_{EXPORT_DAY}.csv", _subscriptions),
    "subscription_events": (f"subscription_history_{EXPORT_DAY}.csv", _subscription_events),
    "payments": (f"transactions_{EXPORT_DAY}.csv", _payments),
    "inquiries": (f"tickets_{EXPORT_DAY}.csv", _inquiries),
    "web_events": (f"pageviews_{EXPORT_DAY}.csv", _web_events),
    "points": (f"reward_points_{EXPORT_DAY}.csv", _points),
}


def write_foreign_shop(demo_dir: str | Path, out_dir: str | Path) -> dict[str, int]:
    """Write the demo merchant's exports in `demo_dir` as the foreign shop's files in `out_dir`;
    return {file name: data rows}."""
    demo = read_demo(Path(demo_dir))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for stream, (name, convert) in FILES.items():
        header, rows = convert(demo[stream])
        with open(out / name, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
        counts[name] = len(rows)
    return counts


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python tests/connectors/csv_export/foreign_shop.py DEMO_EXPORT_DIR OUT_DIR")
    for file, n in write_foreign_shop(sys.argv[1], sys.argv[2]).items():
        print(f"{file:<36} {n:>7,d} rows")
