"""`make demo`: materialize every asset for the demo merchant, then say where things are.

Runs the same `daily_refresh` job the schedule runs, on the persistent Dagster instance
(DAGSTER_HOME), so the run and its checks show up in `make dev` afterwards.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import uuid

import dagster as dg
import duckdb

from connectors.onsite_offers.sample import sample as onsite_sample
from orchestration.actions.ledger import day_counts
from orchestration.actions.onsite_offers import eligibility_path
from orchestration.definitions import defs
from orchestration.run_progress import follow_run, warnings_text
from orchestration.settings import REPO_ROOT, load_settings


def main() -> int:
    settings = load_settings()
    # The Makefile sets it; a direct `python -m orchestration.demo` uses the same instance.
    os.environ.setdefault("DAGSTER_HOME", str(REPO_ROOT / "dagster_home"))
    job = defs.resolve_job_def("daily_refresh")
    log_path = settings.data_dir / "logs" / "demo_refresh.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    print(f"Materializing every asset for the demo merchant (as of {settings.business_date()}) ...")
    print(f"  (dbt's output goes to {log_path})")
    started = time.monotonic()
    console, run_id = sys.stdout, str(uuid.uuid4())
    # dagster-dbt echoes every dbt log line to stdout; keep the console to what a person reads:
    # each step as it starts and ends (run_progress.py), the warnings at the end.
    with (dg.DagsterInstance.get() as instance, open(log_path, "w") as log,
          follow_run(instance, run_id, console), contextlib.redirect_stdout(log)):
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_id=run_id,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
    elapsed = time.monotonic() - started
    if not result.success:
        failed = [e.step_key for e in result.all_events if e.is_step_failure]
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-40:]
        print("\n".join(tail))
        print(f"\nThe refresh failed in {failed} after {elapsed:.1f} s; the log: {log_path}")
        print(warnings_text(result.all_events))
        return 1

    with duckdb.connect(str(settings.bi_snapshot), read_only=True) as con:
        k = con.execute("select * from marts.headline_kpis").fetchone()
        cols = [d[0] for d in con.description]
        kpi = dict(zip(cols, k))
        flow = dict(con.execute(
            "select delivery_number, first_ratio from marts.subscription_flow_overall "
            "where product_id = '(all)' and delivery_number in (2, 4, 12)").fetchall())
        month = con.execute(
            "select strftime(period_start, '%Y-%m'), churn_rate, voluntary_churn_rate, involuntary_churn_rate "
            "from marts.churn_kpis where period_grain = 'month' and not is_partial_period "
            "order by period_start desc limit 1").fetchone()
        loyal = con.execute(
            "select count(*) from marts.customer_cpm where cpm_state = 'loyal_active'").fetchone()[0]
        tables = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
        ).fetchall()]
    lists = sorted((settings.outbox_dir / "call_center").glob("*.csv"))
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        campaigns = day_counts(con, settings.business_date())
    print(summary(elapsed, settings, tables, lists, kpi, flow, month, loyal, campaigns))
    print("\n" + warnings_text(result.all_events) + f"\n  (each check's rows: make dev, or the log {log_path})")
    published = eligibility_path(settings)
    if published.exists():
        # The real decision service on the file just published (its own port, a throwaway events
        # file): what the shop's cancel page would get. README "On-site offers" runs it for good.
        print("\n" + onsite_sample(published))
        print("  Run the service: TEIKI_ONSITE_SECRET=... .venv/bin/python -m connectors.onsite_offers.service "
              f"--eligibility {published} --events {published.parent / 'events.sqlite'}")
    return 0


CAMPAIGN_HEADER = ("campaign", "chosen", "held out", "capped", "excluded", "no consent", "control",
                   "sent", "sent (dry)", "failed", "in doubt", "planned")


def campaign_table(rows) -> str:
    """The ledger's day per campaign (ledger.day_counts), as aligned text."""
    if not rows:
        return "    (no campaign decided anything today)"
    width = max(len(CAMPAIGN_HEADER[0]), *(len(r[0]) for r in rows))
    head = "    " + CAMPAIGN_HEADER[0].ljust(width) + "".join(h.rjust(11) for h in CAMPAIGN_HEADER[1:])
    lines = ["    " + r[0].ljust(width) + "".join(_count(v).rjust(11) for v in r[1:]) for r in rows]
    return "\n".join([head, *lines])


def summary(elapsed, settings, tables, lists, kpi, flow, month, loyal, campaigns=()) -> str:
    """The closing report. Every figure may be NULL (a shop with no 定期契約 has no churn rate,
    a first month has no complete period): it prints as n/a, never as a crash."""
    month = month or ("n/a", None, None, None)
    return f"""
Done in {elapsed:.1f} s.

  Warehouse (pipeline only) : {settings.warehouse}
  BI snapshot (open this)   : {settings.bi_snapshot}
      .venv/bin/python -c "import duckdb; print(duckdb.connect('{settings.bi_snapshot}', read_only=True).sql('from marts.headline_kpis'))"
      marts: {", ".join(tables)}
  Call-center list          : {lists[-1] if lists else "(none)"}

  As of {kpi["as_of_date"]}:
    customers                 {_count(kpi["customers"]):>10}
    active subscriptions      {_count(kpi["active_subscriptions"]):>10}
    F2 rate (2nd purchase)    {_pct(kpi["f2_rate"]):>10}
    monthly churn rate        {_pct(kpi["monthly_churn_rate"]):>10}  (last 30 days)
    定期フロー, share of first deliveries reaching the 2nd / 4th / 12th:
                              {_pct(flow.get(2))} / {_pct(flow.get(4))} / {_pct(flow.get(12))}
    churn in {month[0]}          {_pct(month[1]):>10}  (voluntary {_pct(month[2])}, payment failure {_pct(month[3])})
    優良 customers (CPM, active) {_count(loyal):>8}

  Campaigns today (dry run: rendered into {settings.outbox_dir}, nobody contacted):
{campaign_table(campaigns)}

  Explore it all in the Dagster UI: make dev  (http://127.0.0.1:3000)"""


def _count(n: int | None) -> str:
    return "n/a" if n is None else f"{n:,}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


if __name__ == "__main__":
    sys.exit(main())
