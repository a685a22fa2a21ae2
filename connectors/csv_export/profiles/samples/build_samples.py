"""Writes the small sample exports of the cart profiles (fixtures, fictional people).

    python -m connectors.csv_export.profiles.samples.build_samples

One fictional shop (20 customers, 4 products, 12 定期, their deliveries and a few one-off orders,
as of 2026-11-23) is written once per cart in that cart's layout: the headers its profile names
(`connectors/csv_export/profiles/<cart>.yaml`), the cart's own words for statuses and flags (the
profile's `map` read backwards), its date format, cp932 and CRLF. A cart whose order CSV has one
row per product gets one file holding both `orders` and `order_lines`. The files are committed;
run this again only after changing a profile or the world below, and review the diff.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from connectors.csv_export.profile import load_profile

HERE = Path(__file__).resolve().parent
AS_OF = date(2026, 11, 23)

# Per cart: id prefixes, the datetime format, file names (stream -> name), flag words, and the
# cart word to write for each contract label when the profile's map has several.
CARTS = {
    "tamago_repeat": {
        "ids": {"customer": "{:06d}", "order": "T{:07d}", "subscription": "TK{:05d}"},
        "datetime": "%Y/%m/%d %H:%M:%S", "date": "%Y/%m/%d",
        "files": {"customers": "tamago_customer_20261123.csv", "products": "tamago_item_20261123.csv",
                  "orders": "tamago_order_20261123.csv", "subscriptions": "tamago_teiki_20261123.csv"},
        "words": {"発送済み": "出荷済", "発送待ち": "新規受付", "クレジットカード": "クレジットカード決済",
                  "後払い": "NP後払い", "女性": "女", "男性": "男"},
        "flags": {True: "購読する", False: "購読しない"},
        "flag_words": {"dm_opt_in": {True: "送付する", False: "送付しない"},
                       "is_subscription": {True: "定期", False: "通常"}},
    },
    "aiship": {
        "ids": {"customer": "{:d}", "order": "{:08d}", "subscription": "S{:06d}"},
        "datetime": "%Y-%m-%d %H:%M:%S", "date": "%Y-%m-%d",
        "files": {"customers": "aiship_customer_20261123.csv", "products": "aiship_item_20261123.csv",
                  "orders": "aiship_order_20261123.csv", "subscriptions": "aiship_teiki_20261123.csv"},
        "words": {"発送済み": "発送済み", "発送待ち": "発送準備中", "継続中": "継続中",
                  "解約済み": "キャンセル", "クレジットカード": "クレジットカード決済", "後払い": "後払い決済"},
        "flags": {True: "希望する", False: "希望しない"},
        "flag_words": {"is_subscription": {True: "定期", False: "通常"}},
    },
    "futureshop": {
        "ids": {"customer": "M{:07d}", "order": "{:010d}", "subscription": "R{:06d}"},
        "datetime": "%Y/%m/%d %H:%M:%S", "date": "%Y/%m/%d",
        "files": {"customers": "futureshop_member_20261123.csv", "products": "futureshop_item_20261123.csv",
                  "orders": "futureshop_order_20261123.csv",
                  "subscriptions": "futureshop_teiki_20261123.csv"},
        "words": {"発送済み": "出荷済み", "発送待ち": "新規受付", "休止中": "一時休止", "解約済み": "解約"},
        "flags": {True: "受信する", False: "受信しない"},
        "flag_words": {"is_subscription": {True: "対象", False: "対象外"}},
    },
}

PEOPLE = [  # fictional: 姓, 名, セイ, メイ, 性別, 都道府県, 市区町村+番地
    ("佐藤", "花子", "サトウ", "ハナコ", "女性", "東京都", "世田谷区桜1-2-3"),
    ("鈴木", "美咲", "スズキ", "ミサキ", "女性", "神奈川県", "横浜市港北区日吉2-4-6"),
    ("高橋", "健太", "タカハシ", "ケンタ", "男性", "大阪府", "大阪市北区梅田3-1-1"),
    ("田中", "由美", "タナカ", "ユミ", "女性", "愛知県", "名古屋市中区栄4-5-6"),
    ("伊藤", "彩", "イトウ", "アヤ", "女性", "福岡県", "福岡市中央区天神1-7-8"),
    ("渡辺", "翔", "ワタナベ", "ショウ", "男性", "北海道", "札幌市中央区北一条西2-3"),
    ("山本", "真由", "ヤマモト", "マユ", "女性", "京都府", "京都市左京区岡崎5-6-7"),
    ("中村", "優子", "ナカムラ", "ユウコ", "女性", "兵庫県", "神戸市中央区三宮町1-2"),
    ("小林", "恵", "コバヤシ", "メグミ", "女性", "埼玉県", "さいたま市浦和区高砂3-4"),
    ("加藤", "大輔", "カトウ", "ダイスケ", "男性", "千葉県", "千葉市中央区富士見2-8"),
    ("吉田", "明美", "ヨシダ", "アケミ", "女性", "静岡県", "静岡市葵区呉服町1-3"),
    ("山田", "直美", "ヤマダ", "ナオミ", "女性", "広島県", "広島市中区紙屋町2-2"),
    ("佐々木", "亮", "ササキ", "リョウ", "男性", "宮城県", "仙台市青葉区一番町4-1"),
    ("山口", "香織", "ヤマグチ", "カオリ", "女性", "東京都", "杉並区阿佐谷南1-9"),
    ("松本", "里美", "マツモト", "サトミ", "女性", "長野県", "松本市中央3-5-2"),
    ("井上", "拓也", "イノウエ", "タクヤ", "男性", "岡山県", "岡山市北区表町1-4"),
    ("木村", "沙織", "キムラ", "サオリ", "女性", "新潟県", "新潟市中央区古町通6-2"),
    ("林", "智子", "ハヤシ", "トモコ", "", "熊本県", "熊本市中央区下通1-8"),
    ("清水", "舞", "シミズ", "マイ", "女性", "東京都", "品川区大崎2-6-1"),
    ("森", "啓介", "モリ", "ケイスケ", "男性", "奈良県", "奈良市三条町5-3"),
]

# code, name, price, 定期初回価格, is 定期, cycle days
PRODUCTS = [
    ("LOT-001", "薬用美白ローション 定期便", 3980, 1980, True, 30),
    ("SUP-002", "発酵酵素サプリ 定期便", 4500, 2980, True, 60),
    ("SOAP-010", "泡洗顔フォーム", 1650, None, False, None),
    ("GIFT-020", "ギフトセット", 5500, None, False, None),
]

# customer index, product index, started, status, quantity (12 定期)
SUBSCRIPTIONS = [
    (0, 0, date(2026, 5, 10), "継続中", 1), (1, 0, date(2026, 6, 2), "継続中", 1),
    (2, 1, date(2026, 4, 15), "継続中", 1), (3, 0, date(2026, 8, 20), "継続中", 2),
    (4, 1, date(2026, 7, 1), "継続中", 1), (5, 0, date(2026, 9, 12), "継続中", 1),
    (6, 0, date(2026, 10, 5), "継続中", 1), (7, 1, date(2026, 3, 30), "継続中", 1),
    (8, 0, date(2026, 6, 25), "休止中", 1), (9, 1, date(2026, 5, 5), "休止中", 1),
    (10, 0, date(2026, 4, 1), "解約済み", 1), (11, 0, date(2026, 7, 14), "解約済み", 1),
]
# one-off orders: customer index, product index, quantity, date, status
ONE_OFF = [
    (12, 2, 2, date(2026, 9, 3), "発送済み"), (13, 3, 1, date(2026, 10, 18), "発送済み"),
    (14, 2, 1, date(2026, 11, 21), "発送待ち"), (15, 3, 1, date(2026, 8, 8), "キャンセル"),
    (16, 2, 3, date(2026, 7, 27), "発送済み"), (17, 3, 1, date(2026, 11, 2), "発送済み"),
    (0, 2, 1, date(2026, 9, 20), "発送済み"), (18, 2, 1, date(2026, 10, 30), "発送済み"),
    (19, 3, 1, date(2026, 6, 14), "発送済み"),
]
PAUSED_AFTER = 2      # a paused 定期 had this many deliveries
CANCELLED_AFTER = 3   # a cancelled one this many
SHIPPING_ONE_OFF = 550


@dataclass
class World:
    customers: list[dict]
    products: list[dict]
    orders: list[dict]   # each with "lines"
    subscriptions: list[dict]


def build_world(cart: str, has_pause: bool = True) -> World:
    """The shop as `cart` writes it; a cart without a paused state (aiship) has its paused 定期
    cancelled instead."""
    ids = CARTS[cart]["ids"]
    customers = []
    for i, (sei, mei, kana_sei, kana_mei, gender, pref, addr) in enumerate(PEOPLE):
        created = datetime(2026, 3, 1, 9, 0) + timedelta(days=5 * i, minutes=17 * i)
        customers.append({
            "customer_id": ids["customer"].format(1001 + i), "last_name": sei, "first_name": mei,
            "last_name_kana": kana_sei, "first_name_kana": kana_mei, "gender": gender or None,
            "email": f"sample{i + 1:02d}@example.com", "phone": f"090-0000-{1000 + i:04d}",
            "postal_code": f"{100 + i:03d}-{1000 + 37 * i:04d}", "prefecture": pref,
            "address1": addr, "address2": "サンプルハイツ101" if i % 4 == 0 else None,
            "birthday": date(1970 + i, 1 + i % 12, 1 + i), "email_opt_in": i % 3 != 2,
            "dm_opt_in": i % 2 == 0, "created_at": created,
            "updated_at": datetime(2026, 11, 20, 12, 0),
        })
    products = [{
        "product_id": code, "product_name": name, "category": "定期" if sub else "単品",
        "price": price, "first_delivery_price": first, "is_subscription": sub, "cycle_days": cycle,
        "updated_at": datetime(2026, 1, 10, 10, 0),
    } for code, name, price, first, sub, cycle in PRODUCTS]

    orders: list[dict] = []
    subscriptions = []

    def add_order(cust: int, when: datetime, status: str, lines: list[tuple[int, int, int]],
                  sub_id=None, number=None, shipping=0) -> None:
        subtotal = sum(q * u for _, q, u in lines)
        orders.append({
            "order_id": None, "customer_id": customers[cust]["customer_id"], "ordered_at": when,
            "subscription_id": sub_id, "delivery_number": number, "status": status,
            "payment_method": "クレジットカード" if cust % 5 else "後払い", "subtotal": subtotal,
            "shipping_fee": shipping, "discount": 0, "total": subtotal + shipping,
            "shipped_on": (when + timedelta(days=2)).date() if status == "発送済み" else None,
            "updated_at": when + timedelta(days=2, hours=3),
            "lines": [{"product_id": products[p]["product_id"], "quantity": q, "unit_price": u,
                       "discount": 0, "line_total": q * u} for p, q, u in lines],
        })

    for n, (cust, prod, started, status, qty) in enumerate(SUBSCRIPTIONS):
        if status == "休止中" and not has_pause:
            status = "解約済み"
        product = products[prod]
        sub_id = ids["subscription"].format(n + 1)
        cycle = product["cycle_days"]
        start_at = datetime.combine(started, datetime.min.time()) + timedelta(hours=10, minutes=3 * n)
        limit = {"休止中": PAUSED_AFTER, "解約済み": CANCELLED_AFTER}.get(status)
        number, when = 0, start_at
        while when.date() <= AS_OF and (limit is None or number < limit):
            number += 1
            unit = product["first_delivery_price"] if number == 1 else product["price"]
            st = "発送待ち" if (AS_OF - when.date()).days < 3 else "発送済み"
            add_order(cust, when, st, [(prod, qty, unit)], sub_id, number)
            when += timedelta(days=cycle)
        ended = when - timedelta(days=cycle) + timedelta(days=cycle // 2)
        subscriptions.append({
            "subscription_id": sub_id, "customer_id": customers[cust]["customer_id"],
            "product_id": product["product_id"], "quantity": qty, "cycle_days": cycle,
            "status": status, "started_at": start_at,
            "cancelled_at": ended if status == "解約済み" else None,
            "cancel_reason": "商品が余っている" if status == "解約済み" else None,
            "next_delivery_date": when.date() if status == "継続中" else None,
            "delivery_count": number,
            "updated_at": ended if status != "継続中" else datetime(2026, 11, 22, 8, 0),
        })
    for cust, prod, qty, day, status in ONE_OFF:
        when = datetime.combine(day, datetime.min.time()) + timedelta(hours=14, minutes=cust)
        add_order(cust, when, status, [(prod, qty, products[prod]["price"])], shipping=SHIPPING_ONE_OFF)
    # one order of two products: a 定期 customer adds a one-off to a gift order
    add_order(3, datetime(2026, 10, 1, 20, 15), "発送済み", [(3, 1, 5500), (2, 1, 1650)],
              shipping=SHIPPING_ONE_OFF)

    orders.sort(key=lambda o: o["ordered_at"])
    for n, order in enumerate(orders):
        order["order_id"] = ids["order"].format(50001 + n)
    return World(customers, products, orders, subscriptions)


def _cell(cart: str, column, value) -> str:
    conf = CARTS[cart]
    if value is None:
        return ""
    if isinstance(value, bool):
        return conf["flag_words"].get(column.name, conf["flags"])[value]
    if isinstance(value, datetime):
        return value.strftime(conf["datetime"])
    if isinstance(value, date):
        return value.strftime(conf["date"])
    text = str(value)
    if column.map is not None:
        word = conf["words"].get(text)
        if word is not None and column.map.get(word) == text:
            return word
        backwards = [k for k, v in column.map.items() if v == text]
        if not backwards:
            raise ValueError(f"{cart}: no cart word for {text!r} in {column.name}'s map")
        return backwards[0]
    return text


def _columns(stream) -> list[tuple[str, object]]:
    """(header, column) pairs a sample writes: joined headers get the value in their first."""
    out = []
    for col in stream.columns:
        if col.value is not None:
            continue
        out.append((col.headers[0], col))
        for extra in col.headers[1:]:
            out.append((extra, None))
    return out


def _rows(cart: str, stream, records: list[dict]) -> list[dict[str, str]]:
    rows = []
    for rec in records:
        row: dict[str, str] = {}
        for col in stream.columns:
            if col.value is not None:
                continue
            if col.split is not None:  # 氏名 = 姓 + " " + 名: written once, from both parts
                partner = "last_name" if col.name.startswith("first") else None
                if partner is None:
                    base = col.name.replace("last_name", "")
                    row[col.header] = f"{rec['last_name' + base]} {rec['first_name' + base]}"
                continue
            if col.join is not None:  # e.g. 郡市区 + それ以降の住所: split the address at 区/市
                text = rec[col.name] or ""
                cut = max(text.find("区") + 1, text.find("市") + 1) or len(text)
                row[col.headers[0]], row[col.headers[1]] = text[:cut], text[cut:]
                continue
            row[col.header] = _cell(cart, col, rec.get(col.name))
        rows.append(row)
    return rows


def _write(path: Path, rows: list[dict[str, str]], headers: list[str]) -> None:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=headers, lineterminator="\r\n", extrasaction="raise")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(out.getvalue().encode("cp932"))


def build(cart: str, target: Path | None = None) -> Path:
    profile = load_profile(cart)
    sub_status = profile.streams["subscriptions"].column("status").map or {}
    world = build_world(cart, has_pause="休止中" in sub_status.values())
    target = target or HERE / cart
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("*.csv"):
        old.unlink()
    files = CARTS[cart]["files"]
    for name in ("customers", "products", "subscriptions"):
        if name not in profile.streams:
            continue
        stream = profile.streams[name]
        records = getattr(world, name)
        headers = list(dict.fromkeys(h for h, _ in _columns(stream)))
        _write(target / files[name], _rows(cart, stream, records), headers)
    # orders and order_lines: one file, one row per product, the order's columns repeated
    orders, lines = profile.streams["orders"], profile.streams["order_lines"]
    headers = list(dict.fromkeys([h for h, _ in _columns(orders)] + [h for h, _ in _columns(lines)]))
    flat = []
    for order in world.orders:
        for number, line in enumerate(order["lines"], start=1):
            flat.append({**order, **line, "line_number": number,
                         "updated_at": order["updated_at"]})
    rows = [{**o, **l} for o, l in zip(_rows(cart, orders, flat), _rows(cart, lines, flat))]
    _write(target / files["orders"], rows, headers)
    return target


if __name__ == "__main__":
    for name in CARTS:
        print(build(name))
