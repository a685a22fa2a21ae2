"""Point-in-time churn features, recomputed from the generator's export files (the no-leakage proof).

`intermediate.int_subscriptions__churn_features` promises that every feature of a snapshot reads
only facts dated strictly before its snapshot_date (JST), and that the label of an opportunity
row is the outcome that followed it (DECISIONLOG.md "解約予兆 features and scores"). Here the
snapshots, labels and a set of windowed features are rebuilt in plain Python from the CSV exports,
each from events filtered by date relative to the snapshot, and compared with the table the real
Dagster job built. A window that looked one day too far (or at the snapshot day itself) shows up
as a mismatch. The scores marts built on it are checked for coverage and consistency.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

import duckdb
import pytest

AS_OF = date(2026, 11, 23)
REVENUE_STATUSES = {"発送済み", "発送待ち"}
CANCEL_PAGE = re.compile(r"^/mypage/teiki/cancel(/|$)")
# Inquiry categories with a feature of their own; the rest count as "other" (the model's rule).
OWN_INQUIRY_FEATURES = {"解約相談": "cancellation", "肌トラブル": "skin_trouble", "商品不満": "dissatisfaction",
                        "支払い": "payment", "定期の変更": "plan_change"}
METHODS = {"クレジットカード": "card", "後払い": "deferred", "コンビニ払い": "convenience_store",
           "代金引換": "cash_on_delivery"}


def _dt(text: str) -> datetime | None:
    # Export datetimes are JST wall-clock times, so the JST date is their date part.
    return datetime.strptime(text, "%Y/%m/%d %H:%M:%S") if text else None


def _in_window(d: date, snapshot: date, days: int) -> bool:
    return snapshot - timedelta(days=days) <= d < snapshot


def _path(url: str) -> str:
    return "/" + urlsplit(url).path.lower().strip("/")


def expected_rows(run) -> dict[tuple[str, str, date], dict]:
    """(subscription_id, snapshot_kind, snapshot_date) -> the recomputed columns."""
    customers = run.read_export("customers")
    # The identity rule resolves every demo customer to itself (distinct usable e-mails).
    emails = [c["email"].strip().lower() for c in customers]
    assert len(set(emails)) == len(emails)

    orders_by_sub: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for o in run.read_export("orders"):
        at = _dt(o["ordered_at"])
        if o["subscription_id"] and o["status"] in REVENUE_STATUSES and at.date() <= AS_OF:
            orders_by_sub[o["subscription_id"]].append((at, o["order_id"]))

    events_by_sub: dict[str, list[tuple[datetime, str, str, str]]] = defaultdict(list)
    for e in run.read_export("subscription_events"):
        events_by_sub[e["subscription_id"]].append(
            (_dt(e["occurred_at"]), e["event_type"], e["before_value"], e["after_value"]))

    by_customer: dict[str, list[tuple[date, str]]] = defaultdict(list)
    for w in run.read_export("web_events"):
        d = _dt(w["visited_at"]).date()
        if w["customer_id"] and d <= AS_OF and CANCEL_PAGE.match(_path(w["url"])):
            by_customer[w["customer_id"]].append((d, "cancel_page"))
    for q in run.read_export("inquiries"):
        d = _dt(q["created_at"]).date()
        if q["customer_id"] and d <= AS_OF:
            by_customer[q["customer_id"]].append((d, "inquiry_" + OWN_INQUIRY_FEATURES.get(q["category"], "other")))
    for p in run.read_export("payments"):
        d = _dt(p["attempted_at"]).date()
        if p["result"] == "失敗" and d <= AS_OF:
            by_customer[p["customer_id"]].append((d, "payment_failure_" + METHODS[p["method"]]))

    rows = {}
    for s in run.read_export("subscriptions"):
        if _dt(s["started_at"]).date() > AS_OF:
            continue
        sid, customer = s["subscription_id"], s["customer_id"]
        cancelled = _dt(s["cancelled_at"])
        cancelled_date = cancelled.date() if cancelled and cancelled.date() <= AS_OF else None
        order_dates = [at.date() for at, _ in sorted(orders_by_sub[sid])]
        events = sorted(events_by_sub[sid])
        cycle_changes = [(at, int(b.rstrip("日")), int(a.rstrip("日"))) for at, t, b, a in events if t == "周期変更"]

        snapshots = []
        for n, d in enumerate(order_dates, start=1):
            if n < len(order_dates):
                label, resolved = False, order_dates[n]
            elif cancelled_date is not None and cancelled_date >= d:
                label, resolved = True, cancelled_date
            else:
                label, resolved = None, None
            snapshots.append(("opportunity", d, n, label, resolved))
            # Weekly checkpoints while the outcome is open (var churn_checkpoint_max_weeks: 20).
            for week in range(1, 21):
                c = d + timedelta(days=7 * week)
                if c < (resolved or AS_OF + timedelta(days=1)) and c <= AS_OF:
                    snapshots.append(("checkpoint", c, n, label, resolved))
        if cancelled_date is None:
            snapshots.append(("current", AS_OF + timedelta(days=1), len(order_dates), None, None))

        for kind, snap, n, label, resolved in snapshots:
            # Events strictly before the snapshot date, and before midnight JST for the cycle.
            before = [c for c in cycle_changes if c[0].date() < snap]
            after = [c for c in cycle_changes if c[0].date() >= snap]
            cycle = before[-1][2] if before else after[0][1] if after else int(s["cycle_days"])
            own = [(at.date(), t) for at, t, _, _ in events if at.date() <= AS_OF]
            theirs = by_customer[customer]
            signals = [d for d, k in theirs if k in ("cancel_page", "inquiry_cancellation") and d < snap]
            rows[(sid, kind, snap)] = {
                "delivery_number": n,
                "label_cancelled": label,
                "label_resolved_date": resolved,
                "last_cancel_signal_date": max(signals) if signals else None,
                "f_cycle_days": float(cycle),
                "f_skips_90d": float(sum(t == "スキップ" and _in_window(d, snap, 90) for d, t in own)),
                "f_postpones_30d": float(sum(t == "お届け日変更" and _in_window(d, snap, 30) for d, t in own)),
                "f_cancel_page_visits_30d": float(sum(k == "cancel_page" and _in_window(d, snap, 30) for d, k in theirs)),
                "f_cancel_page_visits_90d": float(sum(k == "cancel_page" and _in_window(d, snap, 90) for d, k in theirs)),
                "f_inquiries_cancellation_90d": float(
                    sum(k == "inquiry_cancellation" and _in_window(d, snap, 90) for d, k in theirs)),
                "f_inquiries_other_90d": float(sum(k == "inquiry_other" and _in_window(d, snap, 90) for d, k in theirs)),
                "f_payment_failures_card_90d": float(
                    sum(k == "payment_failure_card" and _in_window(d, snap, 90) for d, k in theirs)),
                "f_cancel_signals_7d": float(sum(
                    k in ("cancel_page", "inquiry_cancellation") and _in_window(d, snap, 7) for d, k in theirs)),
                "f_delivery_1": float(n == 1),
                # not compared as a column: the inputs of the stage-hazard recomputation below
                "_product_id": s["product_id"],
            }
    return rows


COLUMNS = ["delivery_number", "label_cancelled", "label_resolved_date", "last_cancel_signal_date", "f_cycle_days",
           "f_skips_90d", "f_postpones_30d", "f_cancel_page_visits_30d", "f_cancel_page_visits_90d",
           "f_inquiries_cancellation_90d", "f_inquiries_other_90d", "f_payment_failures_card_90d",
           "f_cancel_signals_7d", "f_delivery_1"]


@pytest.fixture(scope="module")
def run_and_warehouse(demo_run):
    run = demo_run(1500, 11)
    con = duckdb.connect(str(run.settings.warehouse), read_only=True)
    yield run, con
    con.close()


def test_churn_features_match_a_point_in_time_recomputation(run_and_warehouse):
    run, con = run_and_warehouse
    expected = expected_rows(run)
    cur = con.execute(f"""
        select subscription_id, snapshot_kind, snapshot_date, {", ".join(COLUMNS)}
        from intermediate.int_subscriptions__churn_features
    """)
    actual = {(r[0], r[1], r[2]): dict(zip(COLUMNS, r[3:])) for r in cur.fetchall()}

    assert actual.keys() == expected.keys()
    mismatches = [(k, c, actual[k][c], expected[k][c]) for k in expected for c in COLUMNS
                  if actual[k][c] != expected[k][c]]
    assert mismatches[:10] == []
    # The comparison means something only if the windows catch events at all.
    for column in COLUMNS[4:]:
        assert any(row[column] for row in expected.values()), column
    labels = [row["label_cancelled"] for key, row in expected.items() if key[1] == "opportunity"]
    assert labels.count(True) > 100 and labels.count(False) > 100 and labels.count(None) > 10
    assert sum(key[1] == "checkpoint" for key in expected) > 2 * len(labels)


def test_stage_hazard_feature_only_knows_outcomes_resolved_before_the_snapshot(run_and_warehouse):
    """f_stage_hazard_logit: the 定期フロー hazard of (product, delivery n) from opportunities whose
    outcome was known before the row's snapshot date, shrunk towards all products' rate (prior
    weight 20, Laplace-smoothed) -- recomputed here from the export files."""
    import math

    run, con = run_and_warehouse
    expected = expected_rows(run)
    outcomes = [(row["_product_id"], row["delivery_number"], row["label_resolved_date"],
                 row["label_cancelled"])
                for key, row in expected.items() if key[1] == "opportunity" and row["label_cancelled"] is not None]
    actual = dict(((r[0], r[1], r[2]), r[3]) for r in con.execute("""
        select subscription_id, snapshot_kind, snapshot_date, f_stage_hazard_logit
        from intermediate.int_subscriptions__churn_features
    """).fetchall())
    checked = 0
    for key in sorted(expected)[::7]:  # every 7th row keeps this quadratic recomputation quick
        row = expected[key]
        snap, n, product = key[2], row["delivery_number"], row["_product_id"]
        known = [(p, c) for p, dn, resolved, c in outcomes if dn == n and resolved < snap]
        stage_rate = (sum(c for _, c in known) + 1.0) / (len(known) + 2.0)
        cell = [c for p, c in known if p == product]
        rate = (20 * stage_rate + sum(cell)) / (20 + len(cell))
        assert actual[key] == pytest.approx(math.log(rate / (1 - rate)), abs=1e-9), key
        checked += 1
    assert checked > 1000


def test_every_feature_is_a_non_null_double_with_a_reason(run_and_warehouse):
    _, con = run_and_warehouse
    features = dict(con.execute("""
        select column_name, data_type from information_schema.columns
        where table_schema = 'intermediate' and table_name = 'int_subscriptions__churn_features'
          and starts_with(column_name, 'f_')
    """).fetchall())
    assert len(features) >= 30
    assert set(features.values()) == {"DOUBLE"}
    reasons = {r[0] for r in con.execute("select feature from reference.churn_reason_codes").fetchall()}
    assert set(features) - reasons == set()


def test_scores_cover_every_active_or_paused_subscription(run_and_warehouse):
    _, con = run_and_warehouse
    missing = con.execute("""
        select count(*) from marts.subscriptions s
        where s.status in ('active', 'paused')
          and not exists (select 1 from marts.churn_risk_scores r
                          where r.source = s.source and r.subscription_id = s.subscription_id)
    """).fetchone()[0]
    assert missing == 0
    method, n, bad = con.execute("""
        select any_value(score_method), count(*),
               count(*) filter (where probability is null or probability < 0 or probability > 1
                                or abs(expected_remaining_revenue + value_at_risk - value_if_retained) > 1e-6)
        from marts.churn_risk_scores
    """).fetchone()
    assert n > 0 and bad == 0
    assert method in ("logistic_hazard", "flow_hazard_fallback")
    # The links the marts cannot test in dbt (their other parent is built in the earlier step).
    unknown_reasons = con.execute("""
        select count(*) from marts.churn_risk_scores r, unnest([reason_1_code, reason_2_code, reason_3_code]) t(code)
        where code is not null and code not in (select reason_code from reference.churn_reason_codes)
    """).fetchone()[0]
    unknown_customers = con.execute("""
        select count(*) from marts.high_risk_customers h
        where h.customer_key not in (select customer_key from marts.customers)
    """).fetchone()[0]
    assert (unknown_reasons, unknown_customers) == (0, 0)


def test_call_list_is_the_riskiest_subscription_per_customer_in_priority_order(run_and_warehouse):
    _, con = run_and_warehouse
    rows = con.execute("""
        select h.priority_rank, h.customer_key, h.subscription_id, h.probability, h.customer_value_at_risk,
               (select max(r.probability) from marts.churn_risk_scores r
                where r.customer_key = h.customer_key and r.status = 'active') as riskiest,
               h.customer_segment,
               (select 1 - b.p_alive from marts.repeat_buyer_scores b
                where b.customer_key = h.customer_key and b.reason_1_code is not null
                  and b.risk_band in ('high', 'medium')) as repeat_risk
        from marts.high_risk_customers h order by h.priority_rank
    """).fetchall()
    assert rows, "nobody on the call list"
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    subscribers = [r for r in rows if r[6] == "subscriber"]
    repeat_buyers = [r for r in rows if r[6] == "repeat_buyer"]
    assert subscribers and repeat_buyers and len(subscribers) + len(repeat_buyers) == len(rows)
    assert all(r[3] == r[5] and r[3] >= 0.30 for r in subscribers)
    assert all(r[3] == r[7] and r[2] is None for r in repeat_buyers)
    values = [r[4] for r in rows]
    assert values == sorted(values, reverse=True)
