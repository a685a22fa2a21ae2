"""Consistency rules that marts recomputed from the files rely on."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, time, timedelta

from dm_analysis import AS_OF, Data, parse_d, parse_dt

from demo_merchant.params import DEFAULT_PARAMS

CUTOFF = datetime.combine(AS_OF, time(23, 59, 59))


def test_foreign_keys_resolve(world: Data) -> None:
    customers = {c["customer_id"] for c in world.customers}
    products = {p["product_id"] for p in world.products}
    orders = {o["order_id"] for o in world.orders}
    subs = {s["subscription_id"] for s in world.subscriptions}
    assert {o["customer_id"] for o in world.orders} <= customers
    assert {o["subscription_id"] for o in world.orders if o["subscription_id"]} <= subs
    assert {s["customer_id"] for s in world.subscriptions} <= customers
    assert {s["product_id"] for s in world.subscriptions} <= products
    assert {ln["order_id"] for ln in world.order_lines} == orders  # and every order has lines
    assert {ln["product_id"] for ln in world.order_lines} <= products
    assert {e["subscription_id"] for e in world.subscription_events} <= subs
    assert {p["order_id"] for p in world.payments} <= orders
    assert {q["customer_id"] for q in world.inquiries if q["customer_id"]} <= customers
    assert {w["customer_id"] for w in world.web_events if w["customer_id"]} <= customers
    order_customer = {o["order_id"]: o["customer_id"] for o in world.orders}
    assert all(order_customer[p["order_id"]] == p["customer_id"] for p in world.payments)
    sub_customer = {s["subscription_id"]: s["customer_id"] for s in world.subscriptions}
    assert all(sub_customer[o["subscription_id"]] == o["customer_id"]
               for o in world.orders if o["subscription_id"])


def test_order_money_adds_up(world: Data) -> None:
    lines = defaultdict(list)
    for ln in world.order_lines:
        assert int(ln["line_total"]) == (int(ln["unit_price"]) * int(ln["quantity"])
                                         - int(ln["discount"]))
        assert int(ln["quantity"]) >= 1 and int(ln["line_total"]) >= 0
        lines[ln["order_id"]].append(ln)
    for o in world.orders:
        own = lines[o["order_id"]]
        assert sorted(int(ln["line_number"]) for ln in own) == list(range(1, len(own) + 1))
        assert int(o["subtotal"]) == sum(int(ln["line_total"]) for ln in own)
        assert int(o["total"]) == int(o["subtotal"]) + int(o["shipping_fee"]) - int(o["discount"])
        assert int(o["total"]) >= 0
    assert any(int(ln["discount"]) > 0 for ln in world.order_lines)  # retention offers
    assert any(len(v) > 1 for v in lines.values())  # add-on items in 定期 parcels
    assert any(int(o["shipping_fee"]) > 0 for o in world.orders)
    assert any(int(o["discount"]) > 0 for o in world.orders)  # first-order coupons


def test_delivery_numbers_and_counts(world: Data) -> None:
    by_sub = world.orders_by_sub()
    product_price = {p["product_id"]: p for p in world.products}
    first_line = {}
    for ln in world.order_lines:
        if ln["line_number"] == "1":
            first_line[ln["order_id"]] = ln
    for s in world.subscriptions:
        orders = by_sub.get(s["subscription_id"], [])
        assert orders, "every 定期契約 has its first order"
        assert orders[0]["ordered_at"] == s["started_at"]
        live = [o for o in orders if o["status"] != "キャンセル"]
        assert int(s["delivery_count"]) == len(live)
        assert [int(o["delivery_number"]) for o in live] == list(range(1, len(live) + 1))
        product = product_price[s["product_id"]]
        for o in orders:
            ln = first_line[o["order_id"]]
            assert ln["product_id"] == s["product_id"]
            expected = product["first_delivery_price"] if o["delivery_number"] == "1" \
                else product["price"]
            assert ln["unit_price"] == expected  # the price step-up after delivery 1
    assert all(o["delivery_number"] == "" for o in world.orders if not o["subscription_id"])


def test_subscription_status_fields(world: Data) -> None:
    events = world.events_by_sub()
    statuses = Counter(s["status"] for s in world.subscriptions)
    assert set(statuses) == {"継続中", "休止中", "解約済み"}
    for s in world.subscriptions:
        if s["status"] == "解約済み":
            assert s["cancelled_at"] and s["cancel_reason"] and s["next_delivery_date"] == ""
            assert parse_dt(s["cancelled_at"]) >= parse_dt(s["started_at"])
            last = events[s["subscription_id"]][-1]
            assert last["event_type"] == "解約" and last["occurred_at"] == s["cancelled_at"]
            assert last["reason"] == s["cancel_reason"]
        else:
            assert s["cancelled_at"] == "" and s["cancel_reason"] == ""
        if s["status"] == "継続中":
            assert parse_d(s["next_delivery_date"]) > AS_OF
        if s["status"] == "休止中":
            assert events[s["subscription_id"]][-1]["event_type"] == "休止"
        skips = sum(e["event_type"] == "スキップ" for e in events.get(s["subscription_id"], []))
        assert int(s["skip_count"]) == skips
        assert int(s["cycle_days"]) in (30, 45, 60, 90)


def test_updated_at_and_nothing_after_as_of(world: Data) -> None:
    checks = [
        ("customers", "created_at", "updated_at"),
        ("products", "created_at", "updated_at"),
        ("orders", "ordered_at", "updated_at"),
        ("subscriptions", "started_at", "updated_at"),
    ]
    for stream, start, updated in checks:
        for r in getattr(world, stream):
            assert parse_dt(r[updated]) >= parse_dt(r[start]), (stream, r)
            assert parse_dt(r[updated]) <= CUTOFF
    for stream, col in [("orders", "ordered_at"), ("subscriptions", "cancelled_at"),
                        ("subscription_events", "occurred_at"), ("payments", "attempted_at"),
                        ("inquiries", "created_at"), ("web_events", "visited_at"),
                        ("points", "occurred_at")]:
        values = [parse_dt(r[col]) for r in getattr(world, stream) if r[col]]
        assert max(values) <= CUTOFF, stream
        assert max(values) >= CUTOFF - timedelta(days=7), stream  # the history reaches as_of
    assert all(parse_d(o["shipped_on"]) <= AS_OF for o in world.orders if o["shipped_on"])
    customers = {c["customer_id"]: parse_dt(c["created_at"]) for c in world.customers}
    for o in world.orders:
        assert parse_dt(o["ordered_at"]) >= customers[o["customer_id"]]
    for w in world.web_events:
        if w["customer_id"]:
            assert parse_dt(w["visited_at"]) >= customers[w["customer_id"]]
    for q in world.inquiries:
        if q["customer_id"]:
            assert parse_dt(q["created_at"]) >= customers[q["customer_id"]]


def test_order_status_follows_payments(world: Data) -> None:
    pays = defaultdict(list)
    for p in world.payments:
        pays[p["order_id"]].append(p)
    totals = {o["order_id"]: o["total"] for o in world.orders}
    assert all(p["amount"] == totals[p["order_id"]] for p in world.payments)
    assert all((p["result"] == "失敗") == (p["failure_reason"] != "") for p in world.payments)
    for o in world.orders:
        own = pays[o["order_id"]]
        assert all(p["method"] == o["payment_method"] for p in own)
        assert all(p["attempted_at"] >= o["ordered_at"] for p in own)
        if o["status"] == "キャンセル":
            assert own and all(p["result"] == "失敗" for p in own)
        if o["status"] == "発送済み" and o["payment_method"] != "代金引換":
            assert any(p["result"] == "成功" for p in own)
        if o["status"] == "発送済み":
            assert o["shipped_on"]
        if o["status"] == "発送待ち":
            assert o["shipped_on"] == ""
    status = Counter(o["status"] for o in world.orders)
    assert set(status) == {"発送済み", "発送待ち", "キャンセル"}
    assert status["キャンセル"] / len(world.orders) < 0.05


def test_no_orders_after_cancellation_or_during_pause(world: Data) -> None:
    orders = world.orders_by_sub()
    events = world.events_by_sub()
    for s in world.subscriptions:
        own = orders[s["subscription_id"]]
        if s["cancelled_at"]:
            assert own[-1]["ordered_at"] <= s["cancelled_at"]
        paused_since = None
        windows = []
        for e in events.get(s["subscription_id"], []):
            if e["event_type"] == "休止":
                paused_since = e["occurred_at"]
            elif e["event_type"] in ("再開", "解約") and paused_since:
                windows.append((paused_since, e["occurred_at"]))
                paused_since = None
        if paused_since:
            windows.append((paused_since, "9999"))
        assert not any(lo < o["ordered_at"] < hi for lo, hi in windows for o in own)


def test_events_are_well_formed(world: Data) -> None:
    by_sub = world.events_by_sub()
    started = {s["subscription_id"]: s["started_at"] for s in world.subscriptions}
    kinds = Counter(e["event_type"] for e in world.subscription_events)
    assert set(kinds) == {"スキップ", "お届け日変更", "周期変更", "数量変更", "休止", "再開", "解約"}
    for sub_id, events in by_sub.items():
        assert all(e["occurred_at"] >= started[sub_id] for e in events)
        assert sum(e["event_type"] == "解約" for e in events) <= 1
        assert events[-1]["event_type"] == "解約" or all(e["event_type"] != "解約"
                                                           for e in events)
        paused = False
        for e in events:
            if e["event_type"] == "休止":
                assert not paused
                paused = True
            elif e["event_type"] == "再開":
                assert paused
                paused = False
            elif e["event_type"] in ("スキップ", "お届け日変更"):
                assert parse_d(e["after_value"]) > parse_d(e["before_value"])
            elif e["event_type"] == "周期変更":
                assert int(e["after_value"][:-1]) > int(e["before_value"][:-1])


def test_points_follow_orders(world: Data) -> None:
    """付与 once per shipped order (1% of 商品合計, valid a year from the ship date), 利用 only on
    live orders and never more than held, 失効 of exactly what is left of a grant the day after
    its 有効期限; replaying the history oldest grant first never goes negative."""
    p = DEFAULT_PARAMS
    orders = {o["order_id"]: o for o in world.orders}
    customers = {c["customer_id"] for c in world.customers}
    events = sorted(world.points, key=lambda e: e["point_event_id"])
    assert [parse_dt(e["occurred_at"]) for e in events] == sorted(
        parse_dt(e["occurred_at"]) for e in events)  # ids follow time
    kinds = Counter(e["event_type"] for e in events)
    assert kinds["付与"] > 1000 and kinds["利用"] > 100 and kinds["失効"] > 100

    grants = {e["order_id"]: e for e in events if e["event_type"] == "付与"}
    assert len(grants) == kinds["付与"]  # one grant per order
    for o in world.orders:
        amount = int(int(o["subtotal"]) * p.points_grant_rate)
        if o["status"] == "発送済み" and amount > 0:
            g = grants.get(o["order_id"])
            assert g is not None, o["order_id"]
            assert g["customer_id"] == o["customer_id"] and int(g["points"]) == amount
            shipped = parse_d(o["shipped_on"])
            assert g["occurred_at"] == f"{shipped:%Y/%m/%d} 15:00:00"
            assert parse_d(g["expires_on"]) == shipped + timedelta(days=p.points_validity_days)
        else:
            assert o["order_id"] not in grants, o

    held: dict[str, list[list]] = defaultdict(list)  # customer -> [[expires_on, left, order_id]]
    for e in events:
        assert e["customer_id"] in customers
        order = orders[e["order_id"]]
        assert order["customer_id"] == e["customer_id"] and order["status"] != "キャンセル"
        at, points = parse_dt(e["occurred_at"]), int(e["points"])
        mine = held[e["customer_id"]]
        if e["event_type"] == "付与":
            assert points > 0
            mine.append([parse_d(e["expires_on"]), points, e["order_id"]])
        elif e["event_type"] == "利用":
            assert points < 0 and e["expires_on"] == ""
            assert parse_dt(order["ordered_at"]) <= at and -points <= int(order["subtotal"])
            valid = [g for g in mine if g[0] >= at.date() and g[1] > 0]
            assert sum(g[1] for g in valid) >= max(-points, p.points_min_use)
            left = -points
            for g in valid:
                take = min(g[1], left)
                g[1] -= take
                left -= take
            assert left == 0
        else:
            assert e["event_type"] == "失効" and points < 0
            g = next(g for g in mine if g[2] == e["order_id"])
            assert e["expires_on"] == f"{g[0]:%Y/%m/%d}"
            assert at == datetime.combine(g[0] + timedelta(days=1), time(0, 0))
            assert -points == g[1]
            g[1] = 0
    for mine in held.values():  # nothing past its 有効期限 is still held at as_of
        assert all(g[1] == 0 for g in mine if g[0] < AS_OF)
