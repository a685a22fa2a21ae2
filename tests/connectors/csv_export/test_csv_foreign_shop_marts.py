"""The real daily job on a merchant's own exports, loaded through a profile alone, gives the marts
of the demo merchant's CSV path.

The foreign shop (foreign_shop.py: UTF-8, English headers and words, ISO-8601 UTC times, page
types instead of URLs, packed columns, no consent, no line totals) holds the records of the
session's 300-customer demo merchant (``demo_run(300, 11)``, the same run test_api_marts.py
compares with). Its files are dropped in a folder and the job runs in "own exports" mode, set
by environment variables alone (TEIKI_CSV_EXPORT_DIR, TEIKI_CSV_PROFILE=english_subscription_shop).

Every mart must build. Marts that do not depend on consent are compared with the demo run's row
for row (COMPARED, whole or without the columns named there, with the reason); the others are
listed in NOT_COMPARED with the reason; a mart in neither list fails
``test_every_mart_is_classified``. The call list must run and its warning check must say that
nobody is listed because phone consent is unknown (the export has no such column). Assertions
on consent are made on that check only, not on mart consent values: how a mart shows unknown
consent is the consent handling's business.
"""

from __future__ import annotations

import os
import time

import dagster as dg
import duckdb
import pytest

from demo_merchant.generate import generate
from demo_pipeline import DEMO_AS_OF, teiki_env
from foreign_shop import write_foreign_shop
from mart_comparison import comparable, rows_only_on_each_side, shared_columns
from orchestration.actions.call_center import EMPTY_LIST_CHECK, call_list_path

# Two full pipeline runs (the demo merchant's, shared with test_api_marts.py, and the foreign
# shop's): minutes, so CI's slow tier.
pytestmark = pytest.mark.slow

CUSTOMERS, SEED = 300, 11
PROFILE = "english_subscription_shop"

# What the foreign cart does not export: e-mail, LINE, postal-DM and phone consent.
CONSENT = ("email_opt_in", "line_opt_in", "dm_opt_in", "phone_opt_in")
REACHABLE = ("is_email_reachable", "is_line_reachable", "is_dm_reachable", "is_phone_reachable")
# The churn hazard model takes the four consents as features
# (int_subscriptions__churn_features: f_email_opt_in ...): without them it is fitted on the
# other features alone, so its probabilities, and what is ranked by them, differ.
CHURN_MODEL = "the churn hazard model takes consent as features (f_*_opt_in), so its fit differs"

# mart -> columns left out of the comparison
COMPARED: dict[str, tuple[str, ...]] = {
    "churn_kpis": (),
    "churn_reasons": (),
    "cohort_retention": (),
    "cpm_monthly": (),
    "cross_sell": (),
    "customer_cohorts": (),
    "customer_cpm": (),
    "customer_identity_coverage": (),
    "customer_rfm": (),
    "f2_conversion": (),
    "f2_conversion_curve": (),
    "headline_kpis": (),
    "ltv": (),
    "ltv_projected": (),
    "ltv_projection_check": (),
    "onsite_offer_eligibility": (),
    "orders": (),
    "points_balances": (),
    "product_new_repeat": (),
    "purchase_flow": (),
    "repeat_buyer_scores": (),
    "subscription_flow": (),
    "subscription_flow_overall": (),
    "subscriptions": (),
    "customers": CONSENT + REACHABLE,
    # contact lists: who is on them follows the marts above; their consent columns do not
    "audience_birthday": CONSENT,
    "audience_points_expiry": CONSENT,
    "audience_tenure_milestone": CONSENT,
    "audience_winback": CONSENT,
    "cancel_signal_subscribers": ("phone_opt_in",),
    # the same subscribers; their priority is the churn model's (CHURN_MODEL)
    "audience_new_subscriber_steps": CONSENT + ("priority_score",),
    "audience_risky_delivery_followup": CONSENT + ("priority_score", "churn_probability", "risk_band"),
    "audience_cancel_intent_save": CONSENT + ("priority_score", "churn_probability"),
    # the agents' cancellations are the demo's; the expected ones come from the churn model
    "churn_agent_review": ("expected_cancellations", "observed_to_expected", "excess_z_score"),
}
NOT_COMPARED: dict[str, str] = {
    "churn_risk_scores": CHURN_MODEL,
    "high_risk_customers": CHURN_MODEL + " (who qualifies is ranked by it)",
    "audience_churn_risk_rescue": CHURN_MODEL + " (who qualifies is ranked by it)",
    "audience_postal_dm_rescue": "its audience is the customers who accept postal DM, a consent the "
                                 "foreign cart does not export",
    "campaign_effects": "reads the action ledger, whose decisions follow consent",
    "campaign_effects_by_cohort": "reads the action ledger, whose decisions follow consent",
}


@pytest.fixture(scope="module")
def runs(demo_run, tmp_path_factory):
    """(the demo merchant's CSV run, the foreign shop's job result, its settings, seconds)."""
    csv_run = demo_run(CUSTOMERS, SEED)
    demo = tmp_path_factory.mktemp("demo_exports")
    generate(demo, customers=CUSTOMERS, seed=SEED, as_of=DEMO_AS_OF)
    for path in sorted(demo.iterdir()):
        assert path.read_bytes() == (csv_run.settings.csv_export_dir / path.name).read_bytes(), (
            f"{path.name}: the foreign shop would hold other records than the demo run loaded")
    exports = tmp_path_factory.mktemp("foreign_exports")
    write_foreign_shop(demo, exports)

    from orchestration.definitions import build_definitions
    from orchestration.settings import load_settings

    with teiki_env(tmp_path_factory.mktemp("foreign_data")):
        os.environ["TEIKI_CSV_EXPORT_DIR"] = str(exports)
        os.environ["TEIKI_CSV_PROFILE"] = PROFILE
        settings = load_settings()
        assert not settings.demo and settings.sources == ("csv",) and settings.csv_profile == PROFILE
        job = build_definitions(settings).resolve_job_def("daily_refresh")
        started = time.perf_counter()
        with dg.DagsterInstance.ephemeral() as instance:
            result = job.execute_in_process(instance=instance, raise_on_error=False)
        seconds = time.perf_counter() - started
    print(f"foreign shop: daily_refresh in {seconds:.0f} s")
    return csv_run, result, settings, seconds


@pytest.fixture(scope="module")
def con(runs):
    csv_run, _, settings, _ = runs
    con = duckdb.connect()
    con.execute(f"attach '{csv_run.settings.warehouse}' as demo_path (read_only)")
    con.execute(f"attach '{settings.warehouse}' as foreign_path (read_only)")
    yield con
    con.close()


def _marts(con, catalog: str) -> set[str]:
    return {r[0] for r in con.execute(
        "select table_name from duckdb_tables() where database_name = ? and schema_name = 'marts'",
        [catalog]).fetchall()}


def _checks(result) -> dict[tuple[str, str], object]:
    return {(e.event_specific_data.asset_key.to_user_string(), e.event_specific_data.check_name):
            e.event_specific_data
            for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}


def test_the_job_succeeds_and_builds_every_mart(runs, con):
    csv_run, result, _, _ = runs
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    # the merchant's files were observed, not generated: no demo merchant
    assert not [k for k in materialized if k.startswith("csv_exports/")]
    assert {f"raw_csv/{s}" for s in ("customers", "orders", "order_lines", "web_events")} <= materialized
    marts = _marts(con, "demo_path")
    assert marts and _marts(con, "foreign_path") == marts
    assert {f"marts/{m}" for m in marts} <= materialized
    assert "actions/call_center_list" in materialized
    # every check the foreign shop fails, the demo fails too, or the missing consent explains
    failed = {k for k, ev in _checks(result).items() if not ev.passed}
    failed_on_demo = {k for k, ev in _checks(csv_run.result).items() if not ev.passed}
    consent_checks = {k for k in failed if k[1] in (EMPTY_LIST_CHECK, "audience_is_not_all_cut_by_consent")}
    assert failed - failed_on_demo - consent_checks == set()


def test_the_call_list_says_phone_consent_is_unknown(runs):
    csv_run, result, settings, _ = runs
    check = _checks(result)[("actions/call_center_list", EMPTY_LIST_CHECK)]
    meta = {k: v.value for k, v in check.metadata.items()}
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert meta["candidates"] > 0 and meta["listed"] == 0
    assert meta["no_phone_or_opted_out"] == meta["candidates"]
    assert "phone consent is unknown" in meta["reason"]
    assert "no phone-consent column" in meta["reason"]
    assert "refused" not in meta["reason"]  # unknown is told apart from refused
    assert call_list_path(settings, DEMO_AS_OF).exists()
    # the same merchant with its consent column lists people: the column is what is missing
    demo_check = _checks(csv_run.result)[("actions/call_center_list", EMPTY_LIST_CHECK)]
    assert demo_check.passed and {k: v.value for k, v in demo_check.metadata.items()}["listed"] > 0


def test_every_mart_is_classified(con):
    marts = _marts(con, "demo_path")
    assert not set(COMPARED) & set(NOT_COMPARED)
    assert marts - set(COMPARED) - set(NOT_COMPARED) == set(), "new marts: add them to COMPARED or NOT_COMPARED"
    assert set(COMPARED) | set(NOT_COMPARED) <= marts


@pytest.mark.parametrize("mart", sorted(COMPARED))
def test_the_foreign_shop_gives_the_demo_marts(con, mart):
    left_out = set(COMPARED[mart])
    columns = shared_columns(con, "demo_path", "foreign_path", mart, left_out)
    kept = ", ".join(comparable(c, c, t) for c, t in columns if c not in left_out)
    demo_sql = f"select {kept} from demo_path.marts.{mart}"
    foreign_sql = f"select {kept} from foreign_path.marts.{mart}"
    only_demo, only_foreign = rows_only_on_each_side(con, demo_sql, foreign_sql)
    assert (only_demo, only_foreign) == ([], []), (
        f"{mart}: rows only on the demo path {only_demo}\n rows only on the foreign shop's {only_foreign}")
