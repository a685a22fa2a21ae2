"""`make demo`: materialize every asset for the demo merchant, then say where things are.

Runs the same `daily_refresh` job the schedule runs, on the persistent Dagster instance
(DAGSTER_HOME), so the run and its checks show up in `make dev` afterwards.
"""

from __future__ import annotations

import sys
import time

import dagster as dg
import duckdb

from orchestration.definitions import defs
from orchestration.settings import load_settings


def main() -> int:
    settings = load_settings()
    job = defs.resolve_job_def("daily_refresh")
    print(f"Materializing every asset for the demo merchant (as of {settings.business_date()}) ...")
    started = time.monotonic()
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
    elapsed = time.monotonic() - started
    if not result.success:
        failed = [e.step_key for e in result.all_events if e.is_step_failure]
        print(f"\nThe refresh failed in {failed} after {elapsed:.1f} s; see the errors above.")
        return 1

    with duckdb.connect(str(settings.bi_snapshot), read_only=True) as con:
        k = con.execute("select * from marts.headline_kpis").fetchone()
        cols = [d[0] for d in con.description]
        kpi = dict(zip(cols, k))
        tables = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
        ).fetchall()]
    lists = sorted((settings.outbox_dir / "call_center").glob("*.csv"))
    print(
        f"""
Done in {elapsed:.1f} s.

  Warehouse (pipeline only) : {settings.warehouse}
  BI snapshot (open this)   : {settings.bi_snapshot}
      duckdb -readonly {settings.bi_snapshot} "select * from marts.subscriptions limit 5"
      marts: {", ".join(tables)}
  Call-center list          : {lists[-1] if lists else "(none)"}

  As of {kpi["as_of_date"]}:
    customers                 {kpi["customers"]:>10,}
    active subscriptions      {kpi["active_subscriptions"]:>10,}
    F2 rate (2nd purchase)    {kpi["f2_rate"]:>10.1%}
    monthly churn rate        {kpi["monthly_churn_rate"]:>10.1%}

  Explore it all in the Dagster UI: make dev  (http://127.0.0.1:3000)"""
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
