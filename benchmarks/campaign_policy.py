"""Benchmark: the contact policy step of a campaign day at 100,000 customers (target < 10 s).

Not collected by pytest. Run: .venv/bin/python benchmarks/campaign_policy.py [customers] [campaigns 1-3]
Builds an audience of N customers in a real DuckDB file, a ledger holding two weeks of earlier
decisions for a third of them, and three campaigns over the same audience (different priority,
one with a monetary offer, one with a daily capacity; 75% of the audience in each trigger window), then times plan_day: reading the
audience, trigger windows, the policy over every candidate, and committing every decision.
Prints seconds per phase, decisions per second, the decision counts and the machine's load.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402

from orchestration.actions import ledger  # noqa: E402
from orchestration.actions.campaigns import CampaignSettings, load_campaigns  # noqa: E402
from orchestration.actions.contact_policy import ContactPolicySettings  # noqa: E402
from orchestration.actions.runner import plan_day, read_audience  # noqa: E402

DAY = date(2026, 12, 1)
CAMPAIGN = """\
name: {name}
title: bench {name}
why: benchmark
audience: audience_bench
channels: [line, mail]
priority: {priority}
holdout_share: 0.1
{extra}
steps:
  - name: main
    trigger: {{column: clock, min: 0, max: 30}}
templates:
  mail: {{subject: "s", body: "{{{{ full_name }}}}様"}}
  line: {{text: "{{{{ full_name }}}}様"}}
"""


def main(n: int = 100_000, n_campaigns: int = 3) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        con = duckdb.connect(str(root / "w.duckdb"))
        con.execute("create schema marts")
        con.execute(f"""create table marts.audience_bench as select
            'c' || i as customer_key, 'csv' as source, 'C' || i as customer_id, 'S' || i as subscription_id,
            (i * 7919 % 1000)::double as priority_score, '山田 花子' as full_name,
            'c' || i || '@example.jp' as email, i % 3 <> 0 as email_opt_in,
            'U' || lpad(printf('%x', i), 32, '0') as line_user_id, i % 2 = 0 as line_opt_in,
            (i % 40)::integer as clock
            from range({n}) t(i)""")
        ledger.ensure_ledger(con)
        history = [ledger.LedgerEntry(f"c{i}", "treatment", step="main", monetary_offer=i % 2 == 0)
                   for i in range(0, n, 3)]
        for d in range(1, 15, 3):
            ledger.record_decisions(con, "earlier", "mail", DAY - timedelta(days=d), history)
        folder, playbook = root / "c", root / "p"
        folder.mkdir()
        playbook.mkdir()
        for name, priority, extra in (("save", 90, "offer: {kind: coupon, code: X}"), ("steps", 50, ""),
                                      ("calls", 10, "daily_capacity: 5000"))[:n_campaigns]:
            (folder / f"{name}.yaml").write_text(CAMPAIGN.format(name=name, priority=priority, extra=extra), "utf-8")
        cols = [r[0] for r in con.execute("describe marts.audience_bench").fetchall()]
        (root / "m.json").write_text(json.dumps({"nodes": {"m": {"name": "audience_bench", "resource_type": "model",
                                                                 "schema": "marts", "columns": {c: {} for c in cols}}}}))
        campaigns = load_campaigns(CampaignSettings(folder=str(folder)), playbook=playbook, manifest=root / "m.json")

        t0 = time.perf_counter()
        audiences = {"audience_bench": read_audience(con, "audience_bench")}
        t1 = time.perf_counter()
        reports = plan_day(con, campaigns, DAY, ContactPolicySettings(), audiences)
        t2 = time.perf_counter()
        decisions = sum(sum(r.decisions.values()) for r in reports.values())
        counts = Counter()
        for r in reports.values():
            counts.update(r.decisions)
        print(f"customers {n:,}, campaigns {len(campaigns)}, earlier decisions {len(history) * 5:,}")
        print(f"read audience      {t1 - t0:6.2f} s")
        print(f"decide + record    {t2 - t1:6.2f} s  ({decisions:,} decisions, {decisions / (t2 - t1):,.0f}/s)")
        print(f"policy step total  {t2 - t0:6.2f} s  (target < 10 s)")
        print("decisions", dict(counts))
        print("load average", " ".join(f"{x:.2f}" for x in os.getloadavg()), f"on {os.cpu_count()} cores")
        con.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000, int(sys.argv[2]) if len(sys.argv) > 2 else 3)
