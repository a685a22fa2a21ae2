"""The behaviours the demo merchant exists to show, measured from the files.

Every figure is recomputed from the exports alone (as a mart would) and asserted against a
range, so a change to the simulation that loses a behaviour fails here.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from dm_analysis import AS_OF, Data, parse_dt

from demo_merchant.generate import generate
from demo_merchant.params import DEFAULT_PARAMS, BehaviourParams


def test_first_to_second_drop_in_range(world: Data) -> None:
    drop, cohort = world.first_to_second_drop()
    assert cohort > 800
    assert 0.35 <= drop <= 0.50


def test_cancellation_wave_before_fourth_delivery(world: Data) -> None:
    h = world.stage_hazards(max_stage=6, min_age_days=400)
    # the 3回縛り: little churn inside it, a wave right after it, then a declining hazard
    assert h[3] < 0.12
    assert h[4] > h[3] + 0.15
    assert h[4] > h[5] + 0.05
    # ... declining afterwards (pooled, the later stages are thinner)
    assert world.pooled_hazard(range(5, 7), 400) > world.pooled_hazard(range(7, 10), 400) + 0.02
    assert 0.2 < h[4] < 0.45


def test_cancellations_cluster_after_notice_mail(world: Data) -> None:
    share, window, n = world.notice_window_share(min_stage=3)
    assert n > 150
    # the notice-to-order window is ~10% of a cycle but holds most cancellations
    assert window < 0.15
    assert share > 0.6
    assert share > 4 * window


def test_leftover_cancellations_follow_adjustments(world: Data) -> None:
    share, n = world.leftover_cancels_with_prior_adjustment()
    assert n > 80
    assert share > 0.55
    reasons = world.reason_shares()
    assert 0.08 < reasons["商品が余っている"] < 0.30
    # and the adjustments themselves say why
    adjust = [e for e in world.subscription_events
              if e["event_type"] in ("スキップ", "お届け日変更", "周期変更", "数量変更")]
    assert adjust and Counter(e["reason"] for e in adjust).most_common(1)[0][0] == "商品が余っている"


def test_signals_before_voluntary_cancellations(world: Data) -> None:
    share, n = world.signal_before_cancellation_share(days=14)
    assert n > 500
    assert share > 0.7
    # the signal is specific: far fewer non-cancelling customers show it in a random 14 days
    signals = world.signals_by_customer()
    active = [s for s in world.subscriptions if s["status"] == "継続中"]
    start = parse_dt(f"{AS_OF - timedelta(days=44):%Y/%m/%d} 00:00:00")
    end = start + timedelta(days=14)
    noisy = sum(any(start <= t < end for t in signals.get(s["customer_id"], [])) for s in active)
    assert noisy / len(active) < 0.15


def test_skin_trouble_and_dissatisfaction_precede_cancellations(world: Data) -> None:
    share, n = world.skin_trouble_before_skin_cancel(days=30)
    assert n > 20
    assert share > 0.4
    # much rarer before other cancellations
    trouble = defaultdict(list)
    for q in world.inquiries:
        if q["customer_id"] and q["category"] == "肌トラブル":
            trouble[q["customer_id"]].append(parse_dt(q["created_at"]))
    others = [s for s in world.voluntary_cancellations() if s["cancel_reason"] != "肌に合わない"]
    base = sum(any(parse_dt(s["cancelled_at"]) - timedelta(days=30) <= t
                   < parse_dt(s["cancelled_at"]) for t in trouble.get(s["customer_id"], []))
               for s in others) / len(others)
    assert base < share / 4
    categories = Counter(q["category"] for q in world.inquiries)
    assert categories["商品不満"] > 10 and categories["解約相談"] > categories["配送"]


def test_payment_failures_lead_to_payment_error_cancellations(world: Data) -> None:
    by_sub = world.orders_by_sub()
    failed = defaultdict(list)
    for p in world.payments:
        if p["result"] == "失敗":
            failed[p["order_id"]].append(parse_dt(p["attempted_at"]))
    errors = [s for s in world.subscriptions if s["cancel_reason"] == "決済エラー"]
    assert 10 < len(errors)
    assert 0.01 < len(errors) / sum(s["status"] == "解約済み" for s in world.subscriptions) < 0.1
    for s in errors:
        at = parse_dt(s["cancelled_at"])
        fails = [t for o in by_sub[s["subscription_id"]] for t in failed[o["order_id"]]]
        assert fails and min(fails) < at
        assert by_sub[s["subscription_id"]][-1]["status"] == "キャンセル"
    # after the sign-up order (whose failure ends the 定期 at once), it takes repeated failures:
    # the cart gives up after two 定期 orders in a row could not be paid
    later = [s for s in errors if int(s["delivery_count"]) >= 1]
    assert len(later) > 5
    for s in later:
        orders = by_sub[s["subscription_id"]]
        assert [o["status"] for o in orders[-2:]] == ["キャンセル", "キャンセル"]
    for sub_id, orders in by_sub.items():
        if len(orders) > 2 and all(o["status"] == "キャンセル" for o in orders[-2:]):
            assert sub_id in {s["subscription_id"] for s in errors}
    reasons = Counter(p["failure_reason"] for p in world.payments if p["result"] == "失敗")
    assert set(reasons) == {"カード与信NG", "有効期限切れ", "後払い審査NG", "未入金"}
    methods = Counter(o["payment_method"] for o in world.orders)
    assert methods.most_common(1)[0][0] == "クレジットカード"
    assert 0 < methods["代金引換"] < methods["後払い"]


def test_active_subscribers_with_recent_signals_exist(world: Data) -> None:
    # at 2,000 customers; at the default 10,000 there are dozens
    assert world.active_with_recent_signal(days=7) >= 3


def test_acquisition_mix_and_channel_retention(world: Data) -> None:
    first_order = {}
    for o in sorted(world.orders, key=lambda o: (o["ordered_at"], o["order_id"])):
        first_order.setdefault(o["customer_id"], o)
    via_sub = sum(1 for o in first_order.values() if o["subscription_id"]) / len(first_order)
    assert 0.62 < via_sub < 0.78
    # one-off buyers who later converted to a 定期 (引き上げ)
    later_sub = {s["customer_id"] for s in world.subscriptions}
    converted = [c for c, o in first_order.items() if not o["subscription_id"] and c in later_sub]
    assert len(converted) > 0.1 * sum(1 for o in first_order.values() if not o["subscription_id"])
    # cross-sell: customers holding more than one 定期
    per_customer = Counter(s["customer_id"] for s in world.subscriptions)
    assert sum(v > 1 for v in per_customer.values()) > 20
    drops = world.channel_first_to_second()
    assert drops["アフィリエイト"] > drops["検索広告"] > drops["紹介"]
    assert drops["アフィリエイト"] - drops["紹介"] > 0.15
    # acquisition grows over the three years
    created = sorted(parse_dt(c["created_at"]).date() for c in world.customers)
    assert created[0] < AS_OF - timedelta(days=1000)
    first_year = sum(d < AS_OF - timedelta(days=730) for d in created)
    last_year = sum(d > AS_OF - timedelta(days=365) for d in created)
    assert last_year > 1.3 * first_year


def test_pauses_resumes_and_cycle_choice(world: Data) -> None:
    kinds = Counter(e["event_type"] for e in world.subscription_events)
    assert kinds["休止"] > 10 and kinds["再開"] > 5
    assert sum(s["status"] == "休止中" for s in world.subscriptions) > 0
    default_cycle = {p["product_id"]: p["cycle_days"] for p in world.products}
    on_default = sum(s["cycle_days"] == default_cycle[s["product_id"]]
                     for s in world.subscriptions) / len(world.subscriptions)
    assert 0.55 < on_default < 0.85


def test_agents_and_web_volume(world: Data) -> None:
    agents = {q["agent"] for q in world.inquiries}
    assert 6 <= len(agents) <= 10
    assert any(q["customer_id"] == "" for q in world.inquiries)
    per_customer = len(world.web_events) / len(world.customers)
    assert 3 < per_customer < 30
    anonymous = sum(w["customer_id"] == "" for w in world.web_events) / len(world.web_events)
    assert 0.1 < anonymous < 0.6
    paths = Counter(w["url"].replace("https://shop.example.jp", "").split("/")[1]
                    for w in world.web_events)
    assert {"", "mypage", "faq", "contact", "products"} <= set(paths)
    assert any(w["url"] == "https://shop.example.jp/mypage/teiki/cancel" for w in world.web_events)


def _measure(tmp: Path, params: BehaviourParams, seed: int = 5) -> Data:
    as_of = date(2025, 9, 30)
    generate(tmp, customers=1000, seed=seed, as_of=as_of, params=params)
    return Data.load(tmp, as_of)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Data:
    return _measure(tmp_path_factory.mktemp("baseline"), DEFAULT_PARAMS)


def test_params_change_first_to_second_drop(baseline: Data, tmp_path: Path) -> None:
    harsher = _measure(tmp_path, replace(DEFAULT_PARAMS, first_to_second_cancel_rate=0.7))
    base_drop, _ = baseline.first_to_second_drop()
    drop, _ = harsher.first_to_second_drop()
    assert drop > base_drop + 0.15


def test_params_change_leftover(baseline: Data, tmp_path: Path) -> None:
    # without slow users only cycle mismatches (e.g. a 60-day supplement every 30 days) and
    # the odd stated reason leave 余り
    nobody_slow = _measure(tmp_path, replace(DEFAULT_PARAMS, slow_user_share=0.0))
    base_share = baseline.reason_shares()["商品が余っている"]
    assert base_share > 0.1
    assert nobody_slow.reason_shares().get("商品が余っている", 0) < 0.6 * base_share
    skips = sum(e["event_type"] == "スキップ" for e in nobody_slow.subscription_events)
    assert skips < 0.5 * sum(e["event_type"] == "スキップ" for e in baseline.subscription_events)


def test_params_change_notice_timing(baseline: Data, tmp_path: Path) -> None:
    # a notice mail 12 days ahead moves the cancellations with it
    early = _measure(tmp_path, replace(DEFAULT_PARAMS, notice_days_before_delivery=12))
    share_base, _, _ = baseline.notice_window_share(notice_days=7)
    share_moved, _, _ = early.notice_window_share(notice_days=7)
    share_early, _, _ = early.notice_window_share(notice_days=12)
    assert share_early > 0.6
    assert share_moved < share_base - 0.15
