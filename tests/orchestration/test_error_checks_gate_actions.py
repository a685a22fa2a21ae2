"""A failing error-severity dbt test stops the outbound action and the BI publication; an export
figure that disagrees with Teiki's is a warning that lists the rows and stops nothing.

Runs the real job in "your own exports" mode (TEIKI_CSV_EXPORT_DIR set, export files observed,
not generated) on exports broken in one way each: an order of a customer the customer export
lacks, an order dated in the future, an order line of a product the product export lacks, a live
定期契約 with a status label nobody mapped (一時停止). The check must fail at error severity, list
the broken record by its keys in its metadata, and nothing may reach a customer or a BI reader.
A 定期回数 disagreeing with the orders is a warning listing the 定期契約; with the profile
declaring the export's figure authoritative, the marts use the export's number.
"""

from __future__ import annotations

import csv
import io
import os
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest

from demo_merchant.generate import generate
from demo_pipeline import DEMO_AS_OF, teiki_env


def _corrupt_one_delivery_count(path) -> str:
    text = path.read_bytes().decode("cp932")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = rows[0]
    col = header.index("定期回数")
    target = next(r for r in rows[1:] if r[header.index("ステータス")] == "継続中")
    target[col] = str(int(target[col]) + 5)
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    path.write_bytes(out.getvalue().encode("cp932"))
    return target[header.index("定期受注番号")]


def _edit_export(path, pick, change, nth=0) -> dict:
    """Change one row of a generated cp932 export: the nth row `pick` accepts; returns it as it was."""
    text = path.read_bytes().decode("cp932")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    target = [r for r in rows if pick(r)][nth]
    before = dict(target)
    change(target)
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(out.getvalue().encode("cp932"))
    return before


def _run_on_own_exports(exports, data_dir, profile=None):
    from orchestration.definitions import build_definitions
    from orchestration.settings import load_settings

    with teiki_env(data_dir):
        os.environ["TEIKI_CSV_EXPORT_DIR"] = str(exports)
        if profile is not None:
            os.environ["TEIKI_CSV_PROFILE"] = str(profile)
        settings = load_settings()
        assert not settings.demo
        defs = build_definitions(settings)
        job = defs.resolve_job_def("daily_refresh")
        with dg.DagsterInstance.ephemeral() as instance:
            result = job.execute_in_process(instance=instance, raise_on_error=False)
    return result, settings


def _failed_checks(result) -> dict:
    evaluations = [e.event_specific_data for e in result.all_events
                   if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    return {ev.check_name: ev for ev in evaluations if not ev.passed}


def _assert_nothing_went_out(result, settings):
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "raw_csv/subscriptions" in materialized            # loading itself worked
    assert "actions/call_center_list" not in materialized     # nobody gets called
    assert not [k for k in materialized if k.startswith("actions/campaigns/")]  # nor mailed
    assert not settings.outbox_dir.exists()                   # not even a dry-run message
    assert "bi/snapshot" not in materialized                  # BI keeps its last good snapshot
    assert not (settings.outbox_dir / "call_center").exists()
    assert not settings.bi_snapshot.exists()
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        ledger = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'actions'").fetchone()[0]
        assert ledger == 0
    finally:
        con.close()


def _failing_rows(evaluation) -> list:
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    return evaluation.metadata["failing_rows"].value


def _one_off(row) -> bool:
    return not row["定期受注番号"]


def test_failed_error_check_blocks_call_list_and_snapshot(tmp_path):
    exports = tmp_path / "exports"
    generate(exports, customers=400, seed=3, as_of=DEMO_AS_OF)
    orphan = _edit_export(exports / "orders.csv", _one_off, lambda r: r.update({"顧客ID": "C9999999"}))
    miscounted = _corrupt_one_delivery_count(exports / "subscriptions.csv")

    result, settings = _run_on_own_exports(exports, tmp_path / "data")

    assert not result.success
    failed = _failed_checks(result)
    assert _failing_rows(failed["orders_have_a_known_customer"]) == [
        {"source": "csv", "order_id": orphan["受注番号"]}]
    # the export's 定期回数 is compared, not trusted: a warning naming the 定期契約
    count_check = failed["assert_subscription_delivery_count_matches_export"]
    assert count_check.severity == dg.AssetCheckSeverity.WARN
    assert count_check.metadata["failing_rows"].value == [{"source": "csv", "subscription_id": miscounted}]
    _assert_nothing_went_out(result, settings)
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        # the failing row is the one we broke, loaded as it was
        assert con.execute(
            "select count(*) from raw_csv.orders where order_id = ?", [orphan["受注番号"]]).fetchone()[0] == 1
        # without a declaration the marts keep Teiki's own count
        derived, used, exported = con.execute(
            "select derived_delivery_count, delivery_count, export_delivery_count "
            "from marts.subscriptions where subscription_id = ?", [miscounted]).fetchone()
        assert used == derived == exported - 5
    finally:
        con.close()


@pytest.mark.slow
def test_an_export_figure_declared_authoritative_is_used_and_stops_nothing(tmp_path):
    """Only the 定期回数 is off: the refresh goes through (call list, campaigns, BI snapshot), the
    warning lists the 定期契約, and the marts use the export's figure, as the profile declares."""
    from connectors.csv_export.profile import PROFILES_DIR

    exports = tmp_path / "exports"
    generate(exports, customers=400, seed=3, as_of=DEMO_AS_OF)
    miscounted = _corrupt_one_delivery_count(exports / "subscriptions.csv")
    text = (PROFILES_DIR / "demo_merchant.yaml").read_text(encoding="utf-8")
    line = "delivery_count:     {header: 定期回数, type: integer}"
    assert line in text
    profile = tmp_path / "authoritative_count.yaml"
    profile.write_text(text.replace(line, line[:-1] + ", authoritative: true}"), encoding="utf-8")

    result, settings = _run_on_own_exports(exports, tmp_path / "data", profile=profile)

    assert result.success, [e.message for e in result.all_events if e.is_failure]
    count_check = _failed_checks(result)["assert_subscription_delivery_count_matches_export"]
    assert count_check.severity == dg.AssetCheckSeverity.WARN
    assert count_check.metadata["failing_rows"].value == [{"source": "csv", "subscription_id": miscounted}]
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"actions/call_center_list", "bi/snapshot"} <= materialized
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        derived, used, exported = con.execute(
            "select derived_delivery_count, delivery_count, export_delivery_count "
            "from marts.subscriptions where subscription_id = ?", [miscounted]).fetchone()
        assert used == exported == derived + 5
        # everywhere else the two counts agree, so nothing but the broken row moved
        assert con.execute(
            "select count(*) from marts.subscriptions where delivery_count <> derived_delivery_count"
        ).fetchone()[0] == 1
    finally:
        con.close()


def _jst_timestamp(days_from_today: int) -> str:
    day = datetime.now(ZoneInfo("Asia/Tokyo")).date() + timedelta(days=days_from_today)
    return f"{day:%Y/%m/%d} 10:00:00"


@pytest.fixture(scope="module")
def broken_records_run(tmp_path_factory):
    """Exports with an order dated a month ahead (and one dated tomorrow, within the tolerance),
    and an order line of a product missing from the product export: checks on the canonical
    entities, ahead of every mart."""
    root = tmp_path_factory.mktemp("future_and_unknown_product")
    exports = root / "exports"
    generate(exports, customers=400, seed=3, as_of=DEMO_AS_OF)
    future = _edit_export(exports / "orders.csv", _one_off,
                          lambda r: r.update({"受注日時": _jst_timestamp(30)}))
    tomorrow = _edit_export(exports / "orders.csv", _one_off,
                            lambda r: r.update({"受注日時": _jst_timestamp(1)}), nth=1)
    line = _edit_export(exports / "order_lines.csv", lambda r: r["受注番号"] != future["受注番号"],
                        lambda r: r.update({"商品コード": "X-NOT-IN-CATALOGUE"}))
    result, settings = _run_on_own_exports(exports, root / "data")
    return result, settings, {"future": future, "tomorrow": tomorrow, "line": line}


@pytest.fixture(scope="module")
def broken_marts_run(tmp_path_factory):
    """Exports with a live 定期契約 whose status label is unmapped (一時停止): a check on the
    subscriptions mart."""
    root = tmp_path_factory.mktemp("unknown_status_and_customer")
    exports = root / "exports"
    generate(exports, customers=400, seed=3, as_of=DEMO_AS_OF)
    paused = _edit_export(exports / "subscriptions.csv", lambda r: r["ステータス"] == "継続中",
                          lambda r: r.update({"ステータス": "一時停止"}))
    result, settings = _run_on_own_exports(exports, root / "data")
    return result, settings, {"paused": paused}


# Three more real runs of the job (one per broken world): the slow tier, beside the gate test above.
@pytest.mark.slow
def test_an_order_dated_in_the_future_fails_a_check_naming_it(broken_records_run):
    """It used to vanish from marts.orders (the as-of window ends at as_of_date) with no warning."""
    result, settings, broken = broken_records_run
    assert not result.success
    rows = _failing_rows(_failed_checks(result)["orders_are_not_dated_in_the_future"])
    # a month ahead is listed; tomorrow is within future_date_tolerance_days (1) and is not
    assert rows == [{"source": "csv", "order_id": broken["future"]["受注番号"]}]
    _assert_nothing_went_out(result, settings)


@pytest.mark.slow
def test_an_order_line_of_an_unknown_product_fails_a_check_naming_it(broken_records_run):
    result, settings, broken = broken_records_run
    rows = _failing_rows(_failed_checks(result)["order_lines_have_a_known_product"])
    assert rows == [{"source": "csv", "order_id": broken["line"]["受注番号"],
                     "line_number": int(broken["line"]["明細番号"])}]
    _assert_nothing_went_out(result, settings)


@pytest.mark.slow
def test_a_live_subscription_with_an_unknown_status_fails_a_check_naming_it(broken_marts_run):
    """It used to be a warning: the 定期契約 dropped out of churn_risk_scores and headline_kpis."""
    result, settings, broken = broken_marts_run
    assert not result.success
    rows = _failing_rows(_failed_checks(result)["live_subscriptions_have_a_known_status"])
    assert rows == [{"source": "csv", "subscription_id": broken["paused"]["定期受注番号"]}]
    _assert_nothing_went_out(result, settings)
