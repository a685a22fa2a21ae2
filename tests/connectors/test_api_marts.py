"""The same demo merchant gives the same marts through the cart APIs as through its CSV exports.

The CSV side is the session's demo run of a 300-customer merchant (``demo_run(300, 11)``). The
same export files are served by the local servers, converted the way each provider's API returns
them: Shopify + Recharge together (a Shopify shop whose 定期 run on Recharge), and separately
カラーミーショップ. For each, the real ``daily_refresh`` job runs with only those sources configured
through environment variables, so the demo merchant is not generated and dbt gets the sources'
staging models without any dbt var being edited.

Each API run is a subprocess working in a copy of the code with its own dbt target: it parses
dbt for its own sources, which must not replace the manifest the rest of the session (and other
jobs sharing this checkout) use. The copy starts with this checkout's manifest, parsed for the
CSV path, so each run also shows that a manifest parsed for other sources is detected and parsed
again rather than used. The three pipelines (CSV, two API) run at the same time: most of their
time is dbt's start-up, not data.

Compared: every mart the APIs carry the inputs of, row for row after mapping the CSV ids to the
API ids (C000123 -> 123, O0000045 -> 45, T000007 -> Recharge subscription 300000007, source csv ->
shopify / colorme), whole or without the columns named below with the reason. Not compared:
marts whose inputs no API carries, listed in NOT_COMPARED with the reason. A mart in neither
list fails ``test_every_mart_is_classified``: a new mart must say which it is.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from demo_pipeline import DEMO_AS_OF
from mart_comparison import comparable, is_float, rows_only_on_each_side, shared_columns
from servers import demo_to_colorme, demo_to_recharge
from servers.colorme_server import ColorMeServer
from servers.demo_to_shopify import read_demo, shopify_shop
from servers.recharge_server import RechargeServer
from servers.shopify_server import ShopifyServer

# Three full pipeline runs (CSV, Shopify + Recharge, カラーミー): minutes, so CI's slow tier.
pytestmark = pytest.mark.slow

from demo_merchant.generate import generate
from orchestration.transform.prepare import manifest_sources

ROOT = Path(__file__).resolve().parents[2]
CUSTOMERS, SEED = 300, 11
APIS = ("shopify_recharge", "colorme")
SHOP = {"shopify_recharge": "shopify", "colorme": "colorme"}

# Columns of marts.customers no API customer record has (Shopify: no kana, street address (the
# query asks for zip and province only), birthday, gender, LINE, DM or phone consent, acquisition
# channel; its phone is E.164, the export's is domestic).
CUSTOMER_FIELDS_NOT_IN_SHOPIFY = (
    "last_name_kana", "first_name_kana", "full_name_kana", "phone", "address1", "address2",
    "has_postal_address", "birthday", "age", "gender",
    "gender_label", "line_user_id", "has_line", "line_opt_in", "is_line_reachable", "dm_opt_in",
    "is_dm_reachable", "phone_opt_in", "is_phone_reachable", "acquisition_channel",
    "acquisition_channel_label",
)
# カラーミー has kana, birthday and phone; not LINE, DM or phone consent, nor the channel; its
# gender is female / male only.
CUSTOMER_FIELDS_NOT_IN_COLORME = (
    "gender", "gender_label", "line_user_id", "has_line", "line_opt_in", "is_line_reachable",
    "dm_opt_in", "is_dm_reachable", "phone_opt_in", "is_phone_reachable", "acquisition_channel",
    "acquisition_channel_label",
)
SUBSCRIPTION_COUNTS = ("subscription_count", "active_subscription_count",
                       "paused_subscription_count", "is_subscriber")
# Payment attempts per order: Shopify's order transactions are not synced, and a Recharge charge
# that fails creates no order, so an API order's attempts are only its successful charge.
ORDER_PAYMENTS = ("payment_attempts", "failed_payment_attempts", "is_paid", "last_payment_result",
                  "last_failure_reason", "last_failure_reason_label")
# The cart's own status words and ship date (the APIs' status fields are mapped, not copied).
ORDER_CART_FIELDS = ("status_label", "shipped_on")
# From subscription_events (skips, postpones, changes): not in the Recharge streams synced.
SUBSCRIPTION_EVENT_COUNTS = ("skip_count", "export_skip_count", "postpone_count",
                             "cycle_change_count", "quantity_change_count", "pause_count",
                             "resume_count")

# Contact columns of every audience that an API customer record lacks (see CUSTOMER_FIELDS_*).
AUDIENCE_CONTACT_NOT_IN_SHOPIFY = ("phone", "line_user_id", "line_opt_in", "dm_opt_in", "phone_opt_in")
AUDIENCE_CONTACT_NOT_IN_COLORME = ("line_user_id", "line_opt_in", "dm_opt_in", "phone_opt_in")

# mart -> columns left out of the comparison
COMPARED: dict[str, dict[str, tuple[str, ...]]] = {
    "shopify_recharge": {
        "churn_kpis": (),
        "cohort_retention": (),
        "cpm_monthly": (),
        "cross_sell": (),
        "customer_cohorts": (),
        "customer_cpm": (),
        "customer_identity_coverage": (),
        "customer_rfm": (),
        "f2_conversion_curve": (),
        # margins need unit costs, not synced from Shopify; a new subscriber's DEL starts with the
        # 定期初回価格 (first-delivery price), which is not a Shopify product field
        "ltv_projected": ("del_margin", "derl_margin", "del_revenue"),
        "ltv_projection_check": (),
        "product_new_repeat": (),
        "purchase_flow": (),
        "repeat_buyer_scores": (),
        "subscription_flow": (),
        "subscription_flow_overall": (),
        "customers": CUSTOMER_FIELDS_NOT_IN_SHOPIFY,
        # subscription_id / delivery_number are compared except on cancelled orders: the demo's
        # cancelled 定期 orders are payment failures, and a failed Recharge charge creates no
        # Shopify order, so nothing links those (Shopify-side) orders to their subscription.
        "orders": ORDER_PAYMENTS + ORDER_CART_FIELDS,
        # Recharge's status words (active / cancelled) instead of the cart's
        "subscriptions": SUBSCRIPTION_EVENT_COUNTS + ("export_status_label",),
        "headline_kpis": ("cancel_signal_subscribers",),
        # contact lists: their clocks and priorities follow the subscriptions and orders compared
        # above; the contact columns follow customers
        "audience_tenure_milestone": AUDIENCE_CONTACT_NOT_IN_SHOPIFY,
        "audience_winback": AUDIENCE_CONTACT_NOT_IN_SHOPIFY + ("cancel_reason", "cancel_reason_label"),
    },
    "colorme": {
        "cohort_retention": (),
        "cpm_monthly": (),
        "cross_sell": (),
        "customer_cohorts": (),
        "customer_cpm": (),
        "customer_identity_coverage": (),
        "customer_rfm": (),
        "f2_conversion_curve": (),
        "customers": CUSTOMER_FIELDS_NOT_IN_COLORME + SUBSCRIPTION_COUNTS,
        # API v1 sales have no 定期 link and no payment attempts; payment_id is the shop's own
        # payment setting, not a method
        "orders": ORDER_PAYMENTS + ORDER_CART_FIELDS + (
            "subscription_id", "delivery_number", "is_subscription_order", "payment_method",
            "payment_method_label"),
        # API v1 details have no line discount (it is on the sale), so line revenue differs
        "product_new_repeat": ("revenue", "repeat_revenue"),
        "audience_birthday": AUDIENCE_CONTACT_NOT_IN_COLORME + ("is_subscriber",),
        "headline_kpis": ("subscribers", "active_subscriptions", "paused_subscriptions",
                          "churn_base_subscriptions", "churned_subscriptions",
                          "monthly_churn_rate", "cancel_signal_subscribers"),
    },
}

# Marts holding a numerical fit (sBG; BG/NBD + Gamma-Gamma) -> their key. Fed the same rows
# (the fits' input tables are identical on both paths) in another order, an optimiser stops at a
# slightly different point: sBG agrees to about 1e-7, but at this size the Gamma-Gamma likelihood
# is nearly flat along its p -> infinity ridge (log-likelihoods equal to 1e-7, p far apart), so
# spend predictions agree to about 4e-5. Their floating columns are compared by key within
# 1e-4, relative (absolute below 1: an error of 0 against 2e-16 is no difference); every other
# column exactly.
FITTED_KEYS = {
    "ltv_projected": ("source", "product_id", "delivery_number"),
    "ltv_projection_check": ("source", "product_id", "delivery_number"),
    "repeat_buyer_scores": ("customer_key",),
}
RELATIVE_TOLERANCE = 1e-4

NO_INQUIRIES_OR_VISITS = "needs inquiries (解約相談, agents) or web visits, which no cart API carries"
NO_CHANNEL = "grouped by acquisition channel (流入経路), which the API customer records do not carry"
NO_SUBSCRIPTIONS = "needs 定期契約, which カラーミーショップ API v1 does not expose"
CHURN_FEATURES = ("its churn features include cancel-page visits, 解約相談 and skips, which no cart "
                  "API carries")
NO_POINTS = "needs a points history (ポイント履歴), which none of the synced cart API streams carries"
NO_DM_ADDRESS = ("needs DM consent and a street address (住所1), which the API customer records here do "
                 "not carry: nobody is DM-only")
NO_BIRTHDAY = "needs birthdays, which the API customer records here do not carry"
NOT_COMPARED: dict[str, dict[str, str]] = {
    "shopify_recharge": {
        "points_balances": NO_POINTS,
        "audience_points_expiry": NO_POINTS,
        "audience_postal_dm_rescue": NO_DM_ADDRESS,
        "audience_birthday": NO_BIRTHDAY,
        "onsite_offer_eligibility": ("its exclusions read open payment failures, which the API orders do not "
                                     "carry (failed charges create no order)"),
        "audience_churn_risk_rescue": CHURN_FEATURES,
        "audience_cancel_intent_save": NO_INQUIRIES_OR_VISITS,
        "audience_risky_delivery_followup": CHURN_FEATURES + " (its priority is the value at risk)",
        "audience_new_subscriber_steps": CHURN_FEATURES + " (its priority is the value at risk)",
        "cancel_signal_subscribers": NO_INQUIRIES_OR_VISITS,
        "churn_agent_review": NO_INQUIRIES_OR_VISITS,
        "churn_reasons": NO_INQUIRIES_OR_VISITS + " (grouped by the agent who handled it)",
        "f2_conversion": NO_CHANNEL,
        "ltv": NO_CHANNEL + "; gross margin also needs unit costs, not synced from Shopify",
        "churn_risk_scores": CHURN_FEATURES,
        "high_risk_customers": CHURN_FEATURES,
        "campaign_effects": ("reads the action ledger, which the API comparison runs do not fill the same way "
                             "(its decisions follow each path's audiences and consent)"),
        "campaign_effects_by_cohort": ("reads the action ledger, which the API comparison runs do not fill the same way "
                             "(its decisions follow each path's audiences and consent)"),
    },
    "colorme": {
        "onsite_offer_eligibility": NO_SUBSCRIPTIONS,
        "points_balances": NO_POINTS,
        "audience_points_expiry": NO_POINTS,
        "audience_postal_dm_rescue": NO_DM_ADDRESS,
        "audience_churn_risk_rescue": NO_SUBSCRIPTIONS,
        "audience_cancel_intent_save": NO_SUBSCRIPTIONS,
        "audience_risky_delivery_followup": NO_SUBSCRIPTIONS,
        "audience_new_subscriber_steps": NO_SUBSCRIPTIONS,
        "audience_tenure_milestone": NO_SUBSCRIPTIONS,
        "audience_winback": NO_SUBSCRIPTIONS,
        "cancel_signal_subscribers": NO_INQUIRIES_OR_VISITS,
        "churn_agent_review": NO_INQUIRIES_OR_VISITS,
        "churn_reasons": NO_SUBSCRIPTIONS,
        "churn_kpis": NO_SUBSCRIPTIONS,
        "subscriptions": NO_SUBSCRIPTIONS,
        "subscription_flow": NO_SUBSCRIPTIONS,
        "subscription_flow_overall": NO_SUBSCRIPTIONS,
        "ltv_projected": NO_SUBSCRIPTIONS,
        "ltv_projection_check": NO_SUBSCRIPTIONS,
        "purchase_flow": NO_SUBSCRIPTIONS + " (通常 -> 定期 引き上げ needs 定期 orders)",
        "f2_conversion": NO_CHANNEL,
        "ltv": NO_CHANNEL,
        "churn_risk_scores": NO_SUBSCRIPTIONS,
        "high_risk_customers": NO_SUBSCRIPTIONS,
        # without 定期 information every buyer counts as a 単品リピート (one-off) buyer
        "repeat_buyer_scores": NO_SUBSCRIPTIONS + " (its population is the buyers without 定期)",
        "campaign_effects": ("reads the action ledger, which the API comparison runs do not fill the same way "
                             "(its decisions follow each path's audiences and consent)"),
        "campaign_effects_by_cohort": ("reads the action ledger, which the API comparison runs do not fill the same way "
                             "(its decisions follow each path's audiences and consent)"),
    },
}

JOB = r"""
import json, sys
import dagster as dg
from orchestration.definitions import defs  # builds for the configured sources

result = defs.resolve_job_def("daily_refresh").execute_in_process(
    instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
materialized = sorted({e.asset_key.to_user_string() for e in result.all_events
                       if e.event_type_value == "ASSET_MATERIALIZATION"})
with open(sys.argv[1], "w") as out:
    json.dump({"success": result.success, "materialized": materialized,
               "failures": [e.message for e in result.all_events if e.is_failure]}, out)
"""


@dataclass
class ApiRun:
    name: str
    warehouse: Path
    repo: Path
    outcome: dict
    seeded_manifest_sources: set[str] | None


def _copy_code(repo: Path) -> set[str] | None:
    """Copy the code, with this checkout's manifest; return the sources that manifest is for."""
    skip = shutil.ignore_patterns("target", "logs", "__pycache__", "*.duckdb", ".user.yml")
    for folder in ("connectors", "orchestration", "demo_merchant", "dbt_project", "campaigns"):
        shutil.copytree(ROOT / folder, repo / folder, ignore=skip)
    (repo / "dbt_project" / "target").mkdir()
    shutil.copy(ROOT / "dbt_project" / "target" / "manifest.json",
                repo / "dbt_project" / "target" / "manifest.json")
    return manifest_sources(repo / "dbt_project" / "target" / "manifest.json")


def _servers(name: str, exports: Path):
    """(context managers, environment) serving the demo exports as the provider's API."""
    if name == "shopify_recharge":
        shopify = ShopifyServer(copy.deepcopy(shopify_shop(read_demo(exports))),
                                token="shpat_marts_test_token", restore_rate=100_000)
        recharge = RechargeServer(demo_to_recharge.convert(exports), token="rc_marts_test_token",
                                  enforce_limit=False)
        env = lambda: {
            "SHOPIFY_SHOP": "demo", "SHOPIFY_ACCESS_TOKEN": "shpat_marts_test_token",
            "SHOPIFY_BASE_URL": shopify.url, "SHOPIFY_BULK_POLL_SECONDS": "0.01",
            "RECHARGE_API_TOKEN": "rc_marts_test_token", "RECHARGE_BASE_URL": recharge.url,
            "RECHARGE_LEAK_RATE": "100000"}
        return [shopify, recharge], env
    colorme = ColorMeServer(demo_to_colorme.convert(exports), token="cm_marts_test_token",
                            enforce_limit=False)
    env = lambda: {"COLORME_ACCESS_TOKEN": "cm_marts_test_token",
                   "COLORME_BASE_URL": colorme.url, "COLORME_REQUESTS_PER_MINUTE": "1000000"}
    return [colorme], env


def _launch(name: str, exports: Path, work: Path, base_env: dict[str, str], started: list):
    seeded = _copy_code(work / "repo")
    servers, env = _servers(name, exports)
    for server in servers:
        server.__enter__()
        started.append(server)
    log = open(work / "job.log", "w")  # noqa: SIM115 - closed when the process has ended
    process = subprocess.Popen(
        [sys.executable, "-c", JOB, str(work / "outcome.json")],
        cwd=work / "repo", stdout=log, stderr=subprocess.STDOUT,
        env={**base_env, **env(), "PYTHONPATH": str(work / "repo"),
             "TEIKI_DATA_DIR": str(work / "data"), "TEIKI_AS_OF_DATE": DEMO_AS_OF.isoformat()})
    return process, log, seeded


@pytest.fixture(scope="module")
def runs(demo_run, tmp_path_factory):
    """(the CSV path's demo run, {api: ApiRun}), all three pipelines running at the same time."""
    exports = tmp_path_factory.mktemp("exports")
    # exactly what demo_run(CUSTOMERS, SEED) generates (checked below), so the API runs can start
    # before it and the three pipelines share the machine's cores
    generate(exports, customers=CUSTOMERS, seed=SEED, as_of=DEMO_AS_OF)
    base_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("TEIKI_", "SHOPIFY_", "RECHARGE_", "COLORME_", "DAGSTER_"))}
    started, launched = [], {}
    try:
        for name in APIS:
            work = tmp_path_factory.mktemp(f"api_{name}")
            launched[name] = (work, *_launch(name, exports, work, base_env, started))
        csv_run = demo_run(CUSTOMERS, SEED)
        for path in sorted(exports.iterdir()):
            assert path.read_bytes() == (csv_run.settings.csv_export_dir / path.name).read_bytes(), (
                f"{path.name}: the API servers serve other data than the CSV path loaded")
        api_runs = {}
        for name, (work, process, log, seeded) in launched.items():
            code = process.wait(timeout=900)
            log.close()
            tail = (work / "job.log").read_text(errors="replace")[-4000:]
            assert code == 0, f"{name}: the job process exited with {code}:\n{tail}"
            outcome = json.loads((work / "outcome.json").read_text())
            assert outcome["success"], f"{name}: {outcome['failures']}\n{tail}"
            api_runs[name] = ApiRun(name, work / "data" / "warehouse.duckdb", work / "repo",
                                    outcome, seeded)
        return csv_run, api_runs
    finally:
        for _work, process, _log, _seeded in launched.values():
            if process.poll() is None:
                process.kill()
        for server in started:
            server.__exit__(None, None, None)


@pytest.fixture(scope="module")
def api_runs(runs) -> dict[str, ApiRun]:
    return runs[1]


@pytest.mark.parametrize("name", APIS)
def test_api_sources_configured_by_environment_alone(api_runs, name):
    run = api_runs[name]
    keys = set(run.outcome["materialized"])
    expected_staging = {"shopify_recharge": {"stg_shopify__orders", "stg_recharge__subscriptions",
                                             "stg_recharge__subscription_charges"},
                        "colorme": {"stg_colorme__orders", "stg_colorme__customers"}}[name]
    assert {f"staging/{m}" for m in expected_staging} <= keys
    # no demo merchant, no CSV path: only the configured APIs feed the warehouse
    assert not [k for k in keys if k.startswith(("csv_exports/", "raw_csv/", "staging/stg_csv__"))]
    # (raw_onsite is Teiki's own on-site offer service's event log, loaded whatever the cart)
    assert {k.split("/")[0] for k in keys if k.startswith("raw_") and not k.startswith("raw_onsite/")} == (
        {"raw_shopify", "raw_recharge"} if name == "shopify_recharge" else {"raw_colorme"})
    # the copy began with the CSV path's manifest; the job parsed dbt again for its own sources
    assert run.seeded_manifest_sources == {"csv"}
    assert manifest_sources(run.repo / "dbt_project" / "target" / "manifest.json") == (
        {"shopify", "recharge"} if name == "shopify_recharge" else {"colorme"})


def _marts(con: duckdb.DuckDBPyConnection, catalog: str) -> set[str]:
    return {r[0] for r in con.execute(
        "select table_name from duckdb_tables() where database_name = ? and schema_name = 'marts'",
        [catalog]).fetchall()}


@pytest.fixture(scope="module")
def warehouses(runs):
    csv_run, api_runs = runs
    cons = {}
    for name, run in api_runs.items():
        con = duckdb.connect()
        con.execute(f"attach '{csv_run.settings.warehouse}' as csv_path (read_only)")
        con.execute(f"attach '{run.warehouse}' as api_path (read_only)")
        cons[name] = con
    yield cons
    for con in cons.values():
        con.close()


@pytest.mark.parametrize("name", APIS)
def test_every_mart_is_classified(warehouses, name):
    marts = _marts(warehouses[name], "csv_path")
    classified = set(COMPARED[name]) | set(NOT_COMPARED[name])
    assert not set(COMPARED[name]) & set(NOT_COMPARED[name])
    assert marts - classified == set(), "new marts: add them to COMPARED or NOT_COMPARED"
    assert classified - marts == set()


def _csv_side(column: str, data_type: str, name: str) -> str:
    """The CSV path's value in the API path's ids."""
    shop = SHOP[name]
    if column == "source" or column.endswith("_source"):
        return f"case when {column} = 'csv' then '{shop}' else {column} end"
    if column == "customer_key":
        return f"regexp_replace({column}, '^csv:C0*([0-9]+)$', '{shop}:\\1')"
    if column == "customer_id":
        return f"regexp_replace({column}, '^C0*([0-9]+)$', '\\1')"
    if column == "order_id":
        return f"regexp_replace({column}, '^O0*([0-9]+)$', '\\1')"
    if column == "subscription_id":
        return (f"cast({demo_to_recharge.SUBSCRIPTION_ID_BASE} "
                f"+ cast(regexp_extract({column}, '^T0*([0-9]+)$', 1) as bigint) as varchar)")
    return column


def _comparable(expr: str, column: str, data_type: str, mart: str) -> str:
    if mart == "orders" and column in ("subscription_id", "delivery_number", "is_subscription_order"):
        expr = f"case when status <> 'cancelled' then {expr} end"
    return comparable(expr, column, data_type)


@pytest.mark.parametrize("name,mart", [(n, m) for n in APIS for m in COMPARED[n]])
def test_api_path_gives_the_csv_marts(warehouses, name, mart):
    con = warehouses[name]
    left_out = set(COMPARED[name][mart])
    columns = shared_columns(con, "csv_path", "api_path", mart, left_out)
    kept = [(c, t) for c, t in columns if c not in left_out]
    fitted = [(c, t) for c, t in kept if mart in FITTED_KEYS and is_float(t)]
    kept = [(c, t) for c, t in kept if (c, t) not in fitted]
    csv_rows = ", ".join(_comparable(_csv_side(c, t, name), c, t, mart) for c, t in kept)
    api_rows = ", ".join(_comparable(c, c, t, mart) for c, t in kept)
    csv_sql = f"select {csv_rows} from csv_path.marts.{mart}"
    api_sql = f"select {api_rows} from api_path.marts.{mart}"
    only_csv, only_api = rows_only_on_each_side(con, csv_sql, api_sql)
    assert (only_csv, only_api) == ([], []), (
        f"{mart}: rows only via CSV {only_csv}\n rows only via the API {only_api}\n"
        f"columns {[c for c, _ in kept]}")
    if fitted:
        keys = FITTED_KEYS[mart]
        types = dict(columns)
        csv_keys = ", ".join(f"{_csv_side(k, types[k], name)} as {k}" for k in keys)
        values = ", ".join(f"{c}" for c, _ in fitted)
        differ = " or ".join(
            f"(c.{c} is distinct from a.{c} and (c.{c} is null or a.{c} is null or "
            f"abs(c.{c} - a.{c}) > {RELATIVE_TOLERANCE} * greatest(abs(c.{c}), abs(a.{c}), 1)))"
            for c, _ in fitted)
        off = con.execute(
            f"select {', '.join('c.' + k for k in keys)}, "
            f"{', '.join(f'c.{c}, a.{c}' for c, _ in fitted)} "
            f"from (select {csv_keys}, {values} from csv_path.marts.{mart}) as c "
            f"join (select {', '.join(keys)}, {values} from api_path.marts.{mart}) as a "
            f"using ({', '.join(keys)}) where {differ} limit 5").fetchall()
        assert off == [], f"{mart}: fitted values differ beyond {RELATIVE_TOLERANCE}: {off}"
