"""A synthetic ledger and its customers' orders, through dbt, give the uplift they were made with.

The dbt unit tests check each step on a few rows; this runs the chain itself (source ledger ->
stg_actions__action_ledger -> int_campaign_contacts__outcomes -> campaign_effects) in a scratch
warehouse whose upstream intermediate tables are written here: 200 treated and 200 held-out
subscribers contacted on 2026-06-01, of whom 160 and 120 got their next delivery (3,000 yen) and the
others cancelled first. Expected: 0.80 vs 0.60, uplift 0.20, SE sqrt(.8 x .2 / 200 + .6 x .4 / 200)
= 0.04472, CI [0.1123, 0.2877], pooled z = 0.2 / sqrt(.7 x .3 x 2 / 200) = 4.364, p = 1.3e-5,
MDE 0.1253: "helps" once effect_meaningful_uplift allows 0.13, "too early to tell" at the default
0.05. Revenue per customer over 90 days 2,400 vs 1,800 yen.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import pytest
from dbt.cli.main import dbtRunner

from orchestration.actions.ledger import ensure_ledger

DBT = Path(__file__).resolve().parents[4] / "dbt_project"


def _warehouse(path: Path) -> None:
    con = duckdb.connect(str(path))
    ensure_ledger(con)
    con.execute("""
        insert into actions.action_ledger (campaign, action_date, customer_key, step, source, customer_id,
            subscription_id, channel, arm, decision, status, recorded_at)
        select 'synthetic', date '2026-06-01', 'k' || i, '', 'csv', 'c' || i, 's' || i, 'mail',
            case when i < 200 then 'treatment' else 'holdout' end,
            case when i < 200 then 'send' else 'holdout' end,
            case when i < 200 then 'sent' end, timestamp '2026-06-01 09:00:00'
        from range(400) as t(i)""")
    # continued: treated 0-159, held out 200-319
    continued = "(i < 160 or i between 200 and 319)"
    con.execute("create schema intermediate")
    con.execute(f"""
        create table intermediate.int_subscriptions__as_of as
        select 'csv' as source, 's' || i as subscription_id, 30 as cycle_days,
            case when not {continued} then date '2026-06-10' end as cancelled_date
        from range(400) as t(i)""")
    con.execute(f"""
        create table intermediate.int_subscriptions__delivery_orders as
        select 'csv' as source, 's' || i as subscription_id, date '2026-06-20' as ordered_date,
            2 as delivery_number
        from range(400) as t(i) where {continued}""")
    con.execute(f"""
        create table intermediate.int_orders__as_of as
        select 'k' || i as customer_key, date '2026-06-20' as ordered_date, 3000 as revenue,
            true as is_revenue
        from range(400) as t(i) where {continued}""")
    con.close()


def _effects(tmp_path: Path, monkeypatch, dbt_vars: dict) -> dict:
    warehouse = tmp_path / "synthetic.duckdb"
    if not warehouse.exists():
        _warehouse(warehouse)
    monkeypatch.setenv("TEIKI_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("TEIKI_AS_OF_DATE", "2026-12-01")
    monkeypatch.setenv("TEIKI_SOURCES", "csv")
    result = dbtRunner().invoke([
        "run", "--quiet", "--project-dir", str(DBT), "--profiles-dir", str(DBT),
        "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"),
        "--select", "stg_actions__action_ledger", "int_campaign_contacts__outcomes", "campaign_effects",
        "--vars", json.dumps(dbt_vars)])
    assert result.success, result.exception
    # dbt ran in this process and its DuckDB instance may still hold the file: same configuration
    with duckdb.connect(str(warehouse)) as con:
        cur = con.execute("select * from marts.campaign_effects")
        (row,) = cur.fetchall()
        return dict(zip([d[0] for d in cur.description], row))


@pytest.mark.slow  # two dbt invocations, ~30 s
def test_a_known_uplift_comes_out_of_the_ledger_and_orders(tmp_path, monkeypatch):
    row = _effects(tmp_path, monkeypatch, {"effect_meaningful_uplift": 0.13})
    assert (row["treated_customers"], row["holdout_customers"]) == (200, 200)
    assert (row["treated_observed"], row["holdout_observed"]) == (200, 200)
    assert (row["treated_continued"], row["holdout_continued"]) == (160, 120)
    assert row["uplift"] == pytest.approx(0.20)
    se = math.sqrt(0.8 * 0.2 / 200 + 0.6 * 0.4 / 200)
    assert row["uplift_se"] == pytest.approx(se)
    assert (row["uplift_ci_low"], row["uplift_ci_high"]) == pytest.approx((0.2 - 1.959964 * se, 0.2 + 1.959964 * se))
    z = 0.2 / math.sqrt(0.7 * 0.3 * 2 / 200)
    assert row["p_value"] == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-2)
    assert row["minimum_detectable_effect"] == pytest.approx(2.801585 * se)
    assert row["verdict"] == "helps"
    assert row["treated_revenue_90d_per_customer"] == 2400
    assert row["holdout_revenue_90d_per_customer"] == 1800
    assert row["revenue_90d_difference_per_customer"] == 600

    assert _effects(tmp_path, monkeypatch, {})["verdict"] == "too early to tell"
