"""Independent recomputation of the retention marts from the generator's export files.

Each mart is recomputed here in plain Python from the CSV exports (never from the warehouse),
following the rules as DECISIONLOG.md "Retention marts" states them, and compared row by row with
the table the real Dagster job built. A SQL bug therefore shows up as a mismatch.

The default thresholds (dbt_project.yml vars) are restated below on purpose: a changed default
must be changed here too, knowingly.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from datetime import date, datetime, timedelta

import duckdb
import pytest

AS_OF = date(2026, 11, 23)
SOURCE = "csv"

GRACE_DAYS = 14
FLOW_MAX = 24
FLOW_OVERALL_MAX = 12
F2_MATURITY = 180
CURVE_STEPS = range(30, 721, 30)
INVOLUNTARY = {"決済エラー"}
AGENT_RATIO = 1.05
AGENT_MIN_Z = 2.0
AGENT_MIN = 30

REVENUE_STATUSES = {"発送済み", "発送待ち"}
CHANNEL_CODES = {
    "検索広告": "paid_search", "SNS広告": "paid_social", "アフィリエイト": "affiliate",
    "自然検索": "organic_search", "紹介": "referral", "同梱チラシ": "package_insert",
}


# --- reading the exports -------------------------------------------------------------------------

def _dt(text: str) -> datetime | None:
    # Export datetimes are JST wall-clock times; JST dates are their date part.
    return datetime.strptime(text, "%Y/%m/%d %H:%M:%S") if text else None


def _month(d: date) -> date:
    return d.replace(day=1)


def _add_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def _months_between(a: date, b: date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


class World:
    """The export files, reduced to what the marts need, as of AS_OF."""

    def __init__(self, run):
        customers = run.read_export("customers")
        # Identity: the demo merchant gives every customer a distinct, usable e-mail, so the
        # identity rule (DECISIONLOG "Identity") resolves each record to itself. Check it.
        emails = [c["email"].strip().lower() for c in customers]
        assert all("@" in e for e in emails) and len(set(emails)) == len(emails)
        self.key = {c["customer_id"]: f"{SOURCE}:{c['customer_id']}" for c in customers}
        self.channel = {
            self.key[c["customer_id"]]: CHANNEL_CODES.get(c["acquisition_channel"], "unknown")
            if c["acquisition_channel"] else "unknown"
            for c in customers if _dt(c["created_at"]).date() <= AS_OF
        }

        self.products = {p["product_id"]: p["product_name"] for p in run.read_export("products")}

        first_line: dict[str, tuple[int, str]] = {}
        for line in run.read_export("order_lines"):
            n = int(line["line_number"])
            if line["order_id"] not in first_line or n < first_line[line["order_id"]][0]:
                first_line[line["order_id"]] = (n, line["product_id"])

        # Revenue orders placed by AS_OF (JST), ordered per customer by (time, source, order_id).
        self.orders = []
        for o in run.read_export("orders"):
            at = _dt(o["ordered_at"])
            if at.date() > AS_OF or o["status"] not in REVENUE_STATUSES:
                continue
            self.orders.append({
                "order_id": o["order_id"], "key": self.key.get(o["customer_id"], f"{SOURCE}:{o['customer_id']}"),
                "at": at, "date": at.date(), "subscription_id": o["subscription_id"] or None,
                "revenue": int(o["total"]), "first_product": first_line.get(o["order_id"], (0, None))[1],
            })
        self.orders.sort(key=lambda o: (o["at"], SOURCE, o["order_id"]))
        self.by_customer: dict[str, list[dict]] = defaultdict(list)
        self.by_subscription: dict[str, list[dict]] = defaultdict(list)
        for o in self.orders:
            self.by_customer[o["key"]].append(o)
            if o["subscription_id"]:
                self.by_subscription[o["subscription_id"]].append(o)

        # 定期契約 started by AS_OF; cancelled only when the cancellation is dated by AS_OF.
        self.subscriptions = []
        for s in run.read_export("subscriptions"):
            started = _dt(s["started_at"])
            if started.date() > AS_OF:
                continue
            cancelled_at = _dt(s["cancelled_at"])
            if cancelled_at is not None and cancelled_at.date() > AS_OF:
                cancelled_at = None
            deliveries = self.by_subscription.get(s["subscription_id"], [])
            self.subscriptions.append({
                "id": s["subscription_id"], "key": self.key.get(s["customer_id"], f"{SOURCE}:{s['customer_id']}"),
                "product_id": s["product_id"], "cycle": int(s["cycle_days"]),
                "started_at": started, "started": started.date(),
                "cancelled_at": cancelled_at, "cancelled": cancelled_at.date() if cancelled_at else None,
                "reason": (s["cancel_reason"] or None) if cancelled_at else None,
                "deliveries": len(deliveries),
                "delivery_times": [o["at"] for o in deliveries],
                "first_delivery": deliveries[0]["date"] if deliveries else None,
            })

        self.inquiries: dict[str, list[tuple[datetime, str, str]]] = defaultdict(list)
        for q in run.read_export("inquiries"):
            if q["customer_id"] and q["agent"]:
                key = self.key.get(q["customer_id"], f"{SOURCE}:{q['customer_id']}")
                self.inquiries[key].append((_dt(q["created_at"]), q["inquiry_id"], q["agent"], q.get("outcome", "")))
        for lst in self.inquiries.values():
            lst.sort()


# --- the recomputations --------------------------------------------------------------------------

def _ratio(a, b):
    return a / b if b else None


def expected_subscription_flow(w: World):
    cohort_sizes = defaultdict(int)
    cells = defaultdict(lambda: [0, 0, 0, 0, 0])  # eligible, reached, reached_prev, cancelled, pending
    overall = defaultdict(lambda: [0, 0, 0, 0, 0])
    for s in w.subscriptions:
        if s["deliveries"] == 0:
            continue
        cohort = _month(s["first_delivery"])
        cohort_sizes[(s["product_id"], cohort)] += 1
        for n in range(1, FLOW_MAX + 1):
            if s["first_delivery"] + timedelta(days=(n - 1) * s["cycle"] + GRACE_DAYS) > AS_OF:
                break
            vals = (1, s["deliveries"] >= n, s["deliveries"] >= n - 1,
                    s["deliveries"] == n and s["cancelled"] is not None,
                    s["deliveries"] == n and s["cancelled"] is None)
            targets = [cells[(s["product_id"], cohort, n)]]
            if n <= FLOW_OVERALL_MAX:
                targets += [overall[(s["product_id"], n)], overall[("(all)", n)]]
            for t in targets:
                for i, v in enumerate(vals):
                    t[i] += int(v)

    def row(c, extra):
        return {**extra, "eligible_subscriptions": c[0], "subscriptions_reached": c[1],
                "subscriptions_reached_previous": c[2], "previous_ratio": _ratio(c[1], c[2]),
                "first_ratio": c[1] / c[0], "cancelled_at_delivery": c[3], "pending_at_delivery": c[4]}

    flow = {(SOURCE, p, m, n): row(c, {"product_name": w.products[p], "cohort_subscriptions": cohort_sizes[(p, m)]})
            for (p, m, n), c in cells.items()}
    flow_overall = {(SOURCE, p, n): row(c, {"product_name": "全商品" if p == "(all)" else w.products[p]})
                    for (p, n), c in overall.items()}
    return flow, flow_overall


def expected_f2_conversion(w: World):
    cells = defaultdict(lambda: [0, 0, 0, 0, 0])
    for key, orders in w.by_customer.items():
        first = orders[0]["date"]
        dates = [o["date"] for o in orders]
        product = orders[0]["first_product"] if key in w.channel else None
        cell = (SOURCE, _month(first), product or "unknown", w.channel.get(key, "unknown"))
        c = cells[cell]
        c[0] += 1
        if first + timedelta(days=F2_MATURITY) <= AS_OF:
            c[1] += 1
            for k in (2, 3, 4):
                if len(dates) >= k and dates[k - 1] <= first + timedelta(days=F2_MATURITY):
                    c[k] += 1
    out = {}
    for cell, c in cells.items():
        last_day = _add_month(cell[1]) - timedelta(days=1)
        out[cell] = {
            "first_time_customers": c[0], "mature_customers": c[1], "f2_customers": c[2],
            "f3_customers": c[3], "f4_customers": c[4], "f2_rate": _ratio(c[2], c[1]),
            "f3_rate": _ratio(c[3], c[2]), "f4_rate": _ratio(c[4], c[3]),
            "f3_share_of_cohort": _ratio(c[3], c[1]), "f4_share_of_cohort": _ratio(c[4], c[1]),
            "is_mature_cohort": last_day + timedelta(days=F2_MATURITY) <= AS_OF,
            "maturity_days": F2_MATURITY,
        }
    return out


def expected_f2_curve(w: World):
    sizes = defaultdict(int)
    cells = defaultdict(lambda: [0, 0])
    for orders in w.by_customer.values():
        first = orders[0]["date"]
        second = orders[1]["date"] if len(orders) > 1 else None
        sizes[_month(first)] += 1
        for d in CURVE_STEPS:
            if first + timedelta(days=d) <= AS_OF:
                c = cells[(_month(first), d)]
                c[0] += 1
                c[1] += int(second is not None and second <= first + timedelta(days=d))
    return {(SOURCE, m, d): {"cohort_customers": sizes[m], "eligible_customers": c[0],
                             "converted_customers": c[1], "conversion_rate": c[1] / c[0],
                             "is_complete_cohort": c[0] == sizes[m]}
            for (m, d), c in cells.items()}


def expected_customer_cohorts(w: World):
    out = {}
    as_of_month = _month(AS_OF)
    for key, orders in w.by_customer.items():
        per_month = defaultdict(lambda: [0, 0])
        for o in orders:
            per_month[_month(o["date"])][0] += 1
            per_month[_month(o["date"])][1] += o["revenue"]
        cohort = _month(orders[0]["date"])
        m, cum_o, cum_r = cohort, 0, 0
        while m <= as_of_month:
            n, r = per_month.get(m, (0, 0))
            cum_o, cum_r = cum_o + n, cum_r + r
            out[(key, m)] = {"source": SOURCE, "cohort_month": cohort,
                             "months_since_first_order": _months_between(cohort, m),
                             "orders_in_month": n, "revenue_in_month": r, "is_active_in_month": n > 0,
                             "cumulative_orders": cum_o, "cumulative_revenue": cum_r,
                             "is_partial_month": m == as_of_month}
            m = _add_month(m)
    return out


def expected_cohort_retention(cohorts: dict):
    cells = defaultdict(lambda: [0, 0, 0, 0, 0])
    for r in cohorts.values():
        c = cells[(r["source"], r["cohort_month"], r["months_since_first_order"])]
        c[0] += 1
        c[1] += int(r["is_active_in_month"])
        c[2] += r["orders_in_month"]
        c[3] += r["revenue_in_month"]
        c[4] += r["cumulative_revenue"]
    out = {}
    for (src, cohort, k), c in cells.items():
        base = cells[(src, cohort, 0)][3]
        month = cohort
        for _ in range(k):
            month = _add_month(month)
        out[(src, cohort, k)] = {
            "activity_month": month, "cohort_customers": c[0], "active_customers": c[1],
            "retention_rate": c[1] / c[0], "orders_in_month": c[2], "revenue_in_month": c[3],
            "first_month_revenue": base, "revenue_retention": _ratio(c[3], base),
            "cumulative_revenue": c[4], "cumulative_revenue_per_customer": c[4] / c[0],
            "is_partial_month": month == _month(AS_OF),
        }
    return out


def expected_churn_kpis(w: World):
    subs = w.subscriptions
    assert all(s["cancelled"] is None or s["cancelled"] >= s["started"] for s in subs)
    starts = sorted(s["started"] for s in subs)
    cancels = sorted(s["cancelled"] for s in subs if s["cancelled"])

    def alive_end_of(d):  # started on or before d, not cancelled on or before d
        return bisect.bisect_right(starts, d) - bisect.bisect_right(cancels, d)

    # Customers alive at the end of each day: union of each customer's alive spans [start, cancel).
    spans = defaultdict(list)
    for s in subs:
        spans[s["key"]].append((s["started"], s["cancelled"] or date.max))
    cust_delta = defaultdict(int)
    for lst in spans.values():
        lst.sort()
        merged = [list(lst[0])]
        for a, b in lst[1:]:
            if a <= merged[-1][1]:  # alive at the end of day d when a <= d < b; touching spans merge
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        for a, b in merged:
            if a == b:  # started and cancelled the same day: never alive at a day's end
                continue
            cust_delta[a] += 1
            if b != date.max:
                cust_delta[b] -= 1
    delta_days = sorted(cust_delta)
    delta_cum = []
    total = 0
    for d in delta_days:
        total += cust_delta[d]
        delta_cum.append(total)

    def customers_end_of(d):
        i = bisect.bisect_right(delta_days, d)
        return delta_cum[i - 1] if i else 0

    first = min(starts)
    periods = []
    d = first
    while d <= AS_OF:
        periods.append(("day", d, d))
        d += timedelta(days=1)
    m = _month(first)
    while m <= AS_OF:
        periods.append(("month", m, min(_add_month(m) - timedelta(days=1), AS_OF)))
        m = _add_month(m)

    def bucket(grain, d):
        return d if grain == "day" else _month(d)

    flows = defaultdict(lambda: [0, 0, 0, 0, 0])  # new, cancelled, churned, voluntary, involuntary
    for s in subs:
        for grain in ("day", "month"):
            flows[(grain, bucket(grain, s["started"]))][0] += 1
            if s["cancelled"]:
                p = bucket(grain, s["cancelled"])
                f = flows[(grain, p)]
                f[1] += 1
                if s["started"] < p:
                    f[2] += 1
                    f[4 if s["reason"] in INVOLUNTARY else 3] += 1
    buyers = defaultdict(lambda: (set(), set()))
    for o in w.orders:
        for grain in ("day", "month"):
            ordering, repeat = buyers[(grain, bucket(grain, o["date"]))]
            ordering.add(o["key"])
    for orders in w.by_customer.values():
        for o in orders[1:]:
            for grain in ("day", "month"):
                buyers[(grain, bucket(grain, o["date"]))][1].add(o["key"])

    out = {}
    for grain, start, end in periods:
        at_start = alive_end_of(start - timedelta(days=1))
        new, cancelled, churned, vol, invol = flows.get((grain, start), [0] * 5)
        ordering, repeat = buyers.get((grain, start), (set(), set()))
        out[(SOURCE, grain, start)] = {
            "period_end": end, "is_partial_period": grain == "month" and _add_month(start) - timedelta(days=1) > AS_OF,
            "active_subscriptions_at_start": at_start, "new_subscriptions": new,
            "cancelled_subscriptions": cancelled, "churned_subscriptions": churned,
            "voluntary_churned_subscriptions": vol, "involuntary_churned_subscriptions": invol,
            "active_subscriptions_at_end": alive_end_of(end),
            "churn_rate": _ratio(churned, at_start),
            "retention_rate": 1 - churned / at_start if at_start else None,
            "voluntary_churn_rate": _ratio(vol, at_start), "involuntary_churn_rate": _ratio(invol, at_start),
            "ordering_customers": len(ordering), "repeat_customers": len(repeat),
            "repeat_rate": _ratio(len(repeat), len(ordering)),
            "active_customers": customers_end_of(end),
        }
    return out


def _last_inquiry(w: World, s: dict, until: datetime | None, skip_outcome: str | None = None):
    """The customer's last agent-named inquiry from the contract's start date up to `until`."""
    last = None
    for at, inquiry_id, agent, outcome in w.inquiries.get(s["key"], []):
        if at.date() < s["started"] or at.date() > AS_OF or (until is not None and at > until):
            continue
        if skip_outcome is not None and outcome == skip_outcome:
            continue
        if last is None or (at, inquiry_id) >= (last[0], last[1]):
            last = (at, inquiry_id, agent)
    return last


def expected_churn_reasons(w: World):
    cells = defaultdict(int)
    for s in w.subscriptions:
        if s["cancelled"] is None:
            continue
        last = _last_inquiry(w, s, s["cancelled_at"])
        reason = s["reason"] or "(未記入)"
        cells[(SOURCE, _month(s["cancelled"]), s["product_id"], s["deliveries"], reason,
               last[2] if last else "(なし)")] += 1
    month_totals = defaultdict(int)
    for k, n in cells.items():
        month_totals[k[1]] += n
    return {k: {"calendar_month": k[1].month, "product_name": w.products[k[2]],
                "is_involuntary": k[4] in INVOLUNTARY, "cancellations": n,
                "month_cancellations": month_totals[k[1]], "share_of_month_cancellations": n / month_totals[k[1]]}
            for k, n in cells.items()}


def expected_churn_agent_review(w: World):
    # Stages each handled contract was at risk in, from the inquiry's delivery number n to its
    # last one; the event is a voluntary cancel in that stage. The contact that accepted the
    # cancellation (解約受付) is the cancellation itself, not a handling, and is skipped.
    stages = []  # (agent, subscription id, product, k, churned)
    for s in w.subscriptions:
        if s["deliveries"] == 0:
            continue
        last = _last_inquiry(w, s, s["cancelled_at"], skip_outcome="解約受付")
        if last is None:
            continue
        n = sum(1 for t in s["delivery_times"] if t <= last[0])
        if n == 0:  # handled before the first delivery: not scored
            continue
        voluntary = s["cancelled"] is not None and s["reason"] not in INVOLUNTARY
        for k in range(n, s["deliveries"] + 1):
            stages.append((last[2], s["id"], s["product_id"], k, voluntary and s["deliveries"] == k))
    cell = defaultdict(lambda: [0, 0])
    for _, _, p, k, churned in stages:
        cell[(p, k)][0] += 1
        cell[(p, k)][1] += int(churned)
    agents = defaultdict(lambda: [set(), 0, 0.0])
    for agent, sid, p, k, churned in stages:
        a = agents[agent]
        a[0].add(sid)
        a[1] += int(churned)
        a[2] += cell[(p, k)][1] / cell[(p, k)][0]
    out = {}
    for agent, (subs, observed, expected) in agents.items():
        ratio = _ratio(observed, expected)
        z = (observed - expected) / math.sqrt(expected) if expected else None
        out[(SOURCE, agent)] = {
            "handled_subscriptions": len(subs), "observed_cancellations": observed,
            "expected_cancellations": expected, "observed_to_expected": ratio,
            "excess_z_score": z,
            "is_flagged": len(subs) >= AGENT_MIN and ratio is not None and ratio > AGENT_RATIO
            and z >= AGENT_MIN_Z,
        }
    return out


# --- comparison ----------------------------------------------------------------------------------

def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is None and b is None
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def assert_mart_equals(con, mart: str, keys: list[str], expected: dict):
    cur = con.execute(f"select * from marts.{mart}")
    names = [d[0] for d in cur.description]
    actual = {}
    for values in cur.fetchall():
        row = dict(zip(names, values))
        assert row.pop("as_of_date") == AS_OF
        actual[tuple(row.pop(k) for k in keys)] = row
    missing = sorted(set(expected) - set(actual), key=str)[:5]
    extra = sorted(set(actual) - set(expected), key=str)[:5]
    assert not missing and not extra, f"{mart}: rows missing {missing}, unexpected {extra}"
    mismatches = []
    for key, exp in expected.items():
        got = actual[key]
        assert set(got) == set(exp), f"{mart}: columns {sorted(set(got) ^ set(exp))} differ"
        for col, value in exp.items():
            if not _same(got[col], value):
                mismatches.append((key, col, got[col], value))
    assert not mismatches, f"{mart}: {len(mismatches)} mismatches, e.g. (key, column, mart, python) {mismatches[:5]}"
    assert expected, f"{mart}: nothing to compare"


@pytest.fixture(scope="module", params=[pytest.param((1500, 11), id="small"),
                                        # the 10,000-customer world takes minutes: CI's slow tier
                                        pytest.param((10000, 42), id="default", marks=pytest.mark.slow)])
def world_and_warehouse(request, demo_run):
    run = demo_run(*request.param)
    world = World(run)
    con = duckdb.connect(str(run.settings.warehouse), read_only=True)
    yield world, con
    con.close()


def test_subscription_flow(world_and_warehouse):
    w, con = world_and_warehouse
    flow, overall = expected_subscription_flow(w)
    assert_mart_equals(con, "subscription_flow", ["source", "product_id", "cohort_month", "delivery_number"], flow)
    assert_mart_equals(con, "subscription_flow_overall", ["source", "product_id", "delivery_number"], overall)


def test_f2_conversion(world_and_warehouse):
    w, con = world_and_warehouse
    assert_mart_equals(con, "f2_conversion", ["source", "cohort_month", "first_product_id", "acquisition_channel"],
                       expected_f2_conversion(w))
    assert_mart_equals(con, "f2_conversion_curve", ["source", "cohort_month", "elapsed_days"], expected_f2_curve(w))


def test_cohorts(world_and_warehouse):
    w, con = world_and_warehouse
    cohorts = expected_customer_cohorts(w)
    assert_mart_equals(con, "customer_cohorts", ["customer_key", "activity_month"], cohorts)
    assert_mart_equals(con, "cohort_retention", ["source", "cohort_month", "months_since_first_order"],
                       expected_cohort_retention(cohorts))


def test_churn_kpis(world_and_warehouse):
    w, con = world_and_warehouse
    assert_mart_equals(con, "churn_kpis", ["source", "period_grain", "period_start"], expected_churn_kpis(w))


def test_churn_reasons(world_and_warehouse):
    w, con = world_and_warehouse
    assert_mart_equals(con, "churn_reasons",
                       ["source", "cancelled_month", "product_id", "delivery_number", "cancel_reason", "agent"],
                       expected_churn_reasons(w))
    assert_mart_equals(con, "churn_agent_review", ["source", "agent"], expected_churn_agent_review(w))
