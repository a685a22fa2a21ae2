"""Read the generated exports back (through the profile) and measure the demo merchant's world.

Used by the tests; also handy by hand: ``python tests/demo_merchant/dm_analysis.py DIR AS_OF``.
Everything is recomputed from the files only, the way a mart would.
"""

from __future__ import annotations

import csv
import io
import os
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from demo_merchant.generate import FILE_NAMES, load_profile_headers

#: The shared test world (see conftest.py): big enough that the behaviour measures are stable
#: (a few hundred subscriptions per stage), small enough to generate in about a second.
#: DEMO_MERCHANT_TEST_SEED / DEMO_MERCHANT_TEST_AS_OF re-run the suite on another world, to check
#: that the asserted ranges hold beyond the one seed the suite normally uses.
AS_OF = date.fromisoformat(os.environ.get("DEMO_MERCHANT_TEST_AS_OF", "2026-06-30"))
SEED = int(os.environ.get("DEMO_MERCHANT_TEST_SEED", "2"))
CUSTOMERS = 2000

VOLUNTARY_EXCLUDED = {"決済エラー"}
ADJUSTMENTS = {"スキップ", "お届け日変更", "周期変更", "数量変更"}
CANCEL_URL_SUFFIX = "/mypage/teiki/cancel"


def parse_dt(text: str) -> datetime:
    return datetime.strptime(text, "%Y/%m/%d %H:%M:%S")


def parse_d(text: str) -> date:
    return datetime.strptime(text, "%Y/%m/%d").date()


def read_stream(out_dir: Path, stream: str) -> list[dict[str, str]]:
    """Rows of one file as {raw column name: cell}, mapped through the profile's headers."""
    header_to_raw = {h: c for c, h in load_profile_headers()[stream].items()}
    raw = (Path(out_dir) / FILE_NAMES[stream]).read_bytes()
    text = raw.decode("cp932")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    names = [header_to_raw[h] for h in header]
    return [dict(zip(names, row)) for row in reader]


@dataclass
class Data:
    as_of: date
    customers: list[dict[str, str]]
    products: list[dict[str, str]]
    orders: list[dict[str, str]]
    order_lines: list[dict[str, str]]
    subscriptions: list[dict[str, str]]
    subscription_events: list[dict[str, str]]
    payments: list[dict[str, str]]
    inquiries: list[dict[str, str]]
    web_events: list[dict[str, str]]
    points: list[dict[str, str]]

    @classmethod
    def load(cls, out_dir: Path, as_of: date) -> "Data":
        return cls(as_of=as_of, **{s: read_stream(out_dir, s) for s in FILE_NAMES})

    # ---- indexes -------------------------------------------------------------------------------

    def orders_by_sub(self) -> dict[str, list[dict[str, str]]]:
        out: dict[str, list[dict[str, str]]] = defaultdict(list)
        for o in self.orders:
            if o["subscription_id"]:
                out[o["subscription_id"]].append(o)
        for rows in out.values():
            rows.sort(key=lambda o: (o["ordered_at"], o["order_id"]))
        return out

    def events_by_sub(self) -> dict[str, list[dict[str, str]]]:
        out: dict[str, list[dict[str, str]]] = defaultdict(list)
        for e in self.subscription_events:
            out[e["subscription_id"]].append(e)
        for rows in out.values():
            rows.sort(key=lambda e: (e["occurred_at"], e["event_id"]))
        return out

    def signals_by_customer(self) -> dict[str, list[datetime]]:
        """Cancel-intent signals: cancel-page visits and 解約相談 inquiries, per customer."""
        out: dict[str, list[datetime]] = defaultdict(list)
        for w in self.web_events:
            if w["customer_id"] and w["url"].rstrip("/").endswith(CANCEL_URL_SUFFIX):
                out[w["customer_id"]].append(parse_dt(w["visited_at"]))
        for q in self.inquiries:
            if q["customer_id"] and q["category"] == "解約相談":
                out[q["customer_id"]].append(parse_dt(q["created_at"]))
        for rows in out.values():
            rows.sort()
        return out

    def voluntary_cancellations(self) -> list[dict[str, str]]:
        return [s for s in self.subscriptions
                if s["status"] == "解約済み" and s["cancel_reason"] not in VOLUNTARY_EXCLUDED]

    # ---- measures ------------------------------------------------------------------------------

    def first_to_second_drop(self, min_age_days: int = 150) -> tuple[float, int]:
        """Share of subscriptions (started long enough ago) that never got a 2nd delivery."""
        limit = datetime.combine(self.as_of - timedelta(days=min_age_days), datetime.min.time())
        cohort = [s for s in self.subscriptions if parse_dt(s["started_at"]) <= limit]
        dropped = sum(1 for s in cohort if int(s["delivery_count"]) < 2)
        return dropped / len(cohort), len(cohort)

    def stage_hazards(self, max_stage: int = 8, min_age_days: int = 540) -> dict[int, float]:
        """Stage n hazard: cancelled with exactly n-1 deliveries / reached n-1 deliveries."""
        limit = datetime.combine(self.as_of - timedelta(days=min_age_days), datetime.min.time())
        cohort = [s for s in self.subscriptions if parse_dt(s["started_at"]) <= limit]
        out = {}
        for n in range(2, max_stage + 1):
            reached = [s for s in cohort if int(s["delivery_count"]) >= n - 1]
            cancelled = [s for s in reached
                         if s["status"] == "解約済み" and int(s["delivery_count"]) == n - 1]
            out[n] = len(cancelled) / len(reached) if reached else 0.0
        return out

    def pooled_hazard(self, stages: range, min_age_days: int = 540) -> float:
        """Cancellations in the given stages / subscriptions that entered them (pooled)."""
        limit = datetime.combine(self.as_of - timedelta(days=min_age_days), datetime.min.time())
        cohort = [s for s in self.subscriptions if parse_dt(s["started_at"]) <= limit]
        entered = cancelled = 0
        for n in stages:
            reached = [s for s in cohort if int(s["delivery_count"]) >= n - 1]
            entered += len(reached)
            cancelled += sum(1 for s in reached
                             if s["status"] == "解約済み" and int(s["delivery_count"]) == n - 1)
        return cancelled / entered

    def notice_window_share(self, notice_days: int = 7, lead_days: int = 3,
                            min_stage: int = 3) -> tuple[float, float, int]:
        """For voluntary cancellations after delivery min_stage-1 of subscriptions without
        schedule changes: share falling between the notice mail for the next delivery and that
        delivery's order date, and the share of the cycle that window covers."""
        orders = self.orders_by_sub()
        events = self.events_by_sub()
        hits = total = 0
        window_share = []
        for s in self.voluntary_cancellations():
            if int(s["delivery_count"]) < min_stage - 1:
                continue
            if any(e["event_type"] != "解約" for e in events.get(s["subscription_id"], [])):
                continue
            live = [o for o in orders.get(s["subscription_id"], []) if o["status"] != "キャンセル"]
            if not live:
                continue
            cycle = int(s["cycle_days"])
            last = parse_dt(live[-1]["ordered_at"]).date()
            next_order = last + timedelta(days=cycle)
            notice = next_order + timedelta(days=lead_days - notice_days)
            cancelled = parse_dt(s["cancelled_at"]).date()
            total += 1
            hits += notice <= cancelled < next_order
            window_share.append((notice_days - lead_days) / cycle)
        return hits / total, sum(window_share) / len(window_share), total

    def leftover_cancels_with_prior_adjustment(self) -> tuple[float, int]:
        events = self.events_by_sub()
        rows = [s for s in self.subscriptions
                if s["status"] == "解約済み" and s["cancel_reason"] == "商品が余っている"]
        prior = 0
        for s in rows:
            at = parse_dt(s["cancelled_at"])
            prior += any(e["event_type"] in ADJUSTMENTS and parse_dt(e["occurred_at"]) < at
                         for e in events.get(s["subscription_id"], []))
        return prior / len(rows), len(rows)

    def signal_before_cancellation_share(self, days: int = 14,
                                         margin_minutes: int = 60) -> tuple[float, int]:
        """Voluntary cancellations with a cancel signal in the ``days`` before the cancellation
        (ending ``margin_minutes`` before it, so the cancelling visit or call itself is not
        counted)."""
        signals = self.signals_by_customer()
        rows = self.voluntary_cancellations()
        hits = 0
        for s in rows:
            at = parse_dt(s["cancelled_at"])
            lo, hi = at - timedelta(days=days), at - timedelta(minutes=margin_minutes)
            hits += any(lo <= t <= hi for t in signals.get(s["customer_id"], []))
        return hits / len(rows), len(rows)

    def active_with_recent_signal(self, days: int = 7) -> int:
        """Customers with an active (継続中) subscription and a cancel signal in the last days."""
        signals = self.signals_by_customer()
        end = datetime.combine(self.as_of, datetime.max.time())
        start = datetime.combine(self.as_of - timedelta(days=days - 1), datetime.min.time())
        active = {s["customer_id"] for s in self.subscriptions if s["status"] == "継続中"}
        return sum(1 for c in sorted(active)
                   if any(start <= t <= end for t in signals.get(c, [])))

    def reason_shares(self) -> dict[str, float]:
        rows = [s for s in self.subscriptions if s["status"] == "解約済み"]
        counts: dict[str, int] = defaultdict(int)
        for s in rows:
            counts[s["cancel_reason"]] += 1
        return {k: v / len(rows) for k, v in sorted(counts.items(), key=lambda kv: -kv[1])}

    def channel_first_to_second(self, min_age_days: int = 150) -> dict[str, float]:
        channel = {c["customer_id"]: c["acquisition_channel"] for c in self.customers}
        limit = datetime.combine(self.as_of - timedelta(days=min_age_days), datetime.min.time())
        tot: dict[str, int] = defaultdict(int)
        drop: dict[str, int] = defaultdict(int)
        for s in self.subscriptions:
            if parse_dt(s["started_at"]) <= limit:
                ch = channel[s["customer_id"]]
                tot[ch] += 1
                drop[ch] += int(s["delivery_count"]) < 2
        return {ch: drop[ch] / tot[ch] for ch in sorted(tot)}

    def skin_trouble_before_skin_cancel(self, days: int = 30) -> tuple[float, int]:
        by_customer: dict[str, list[datetime]] = defaultdict(list)
        for q in self.inquiries:
            if q["customer_id"] and q["category"] == "肌トラブル":
                by_customer[q["customer_id"]].append(parse_dt(q["created_at"]))
        rows = [s for s in self.subscriptions
                if s["status"] == "解約済み" and s["cancel_reason"] == "肌に合わない"]
        hits = 0
        for s in rows:
            at = parse_dt(s["cancelled_at"])
            hits += any(at - timedelta(days=days) <= t < at
                        for t in by_customer.get(s["customer_id"], []))
        return hits / len(rows), len(rows)


def main() -> None:  # pragma: no cover - manual use
    import sys

    data = Data.load(Path(sys.argv[1]), date.fromisoformat(sys.argv[2]))
    print("1->2 drop", data.first_to_second_drop())
    print("hazards", {k: round(v, 3) for k, v in data.stage_hazards().items()})
    print("notice window", data.notice_window_share())
    print("notice window stage2", data.notice_window_share(min_stage=2))
    print("leftover prior adj", data.leftover_cancels_with_prior_adjustment())
    print("signal before cancel", data.signal_before_cancellation_share())
    print("active with recent signal", data.active_with_recent_signal())
    print("reasons", {k: round(v, 3) for k, v in data.reason_shares().items()})
    print("channel 1->2", {k: round(v, 3) for k, v in data.channel_first_to_second().items()})
    print("skin", data.skin_trouble_before_skin_cancel())


if __name__ == "__main__":  # pragma: no cover
    main()
