"""Freshness checks: a stopped export job or an unpublished snapshot fails a visible check."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import duckdb

from demo_pipeline import teiki_env
from orchestration.observability.freshness import export_freshness, snapshot_freshness
from orchestration.publish.bi_snapshot import publish_snapshot

PROFILE = "demo_merchant"


def _touch(path: Path, hours_ago: float) -> None:
    path.write_text("dummy\n", encoding="utf-8")
    then = time.time() - hours_ago * 3600
    os.utime(path, (then, then))


def test_export_freshness_follows_the_newest_file(tmp_path):
    _touch(tmp_path / "orders.csv", hours_ago=50)
    passed, meta = export_freshness(tmp_path, PROFILE, "orders", max_age_hours=30)
    assert not passed and meta["newest_file"] == "orders.csv" and meta["age_hours"] > 49
    assert not meta["missing"]  # the whole drop is old: a stopped export job, a freshness warning
    _touch(tmp_path / "orders.csv", hours_ago=2)
    passed, meta = export_freshness(tmp_path, PROFILE, "orders", max_age_hours=30)
    assert passed and meta["age_hours"] < 3


def test_a_stream_without_any_file_is_not_fresh(tmp_path):
    _touch(tmp_path / "customers.csv", hours_ago=1)
    passed, meta = export_freshness(tmp_path, PROFILE, "orders", max_age_hours=30)
    # an expected (full) stream: missing from the drop, named in the reason
    assert not passed and meta["missing"]
    assert meta["reason"].startswith("no orders*.csv in the export drop: the orders export is missing")


def test_snapshot_freshness_reads_the_published_time(tmp_path):
    target = tmp_path / "bi" / "teiki.duckdb"
    assert snapshot_freshness(target, 26)[0] is False  # nothing published yet
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute("create schema marts; create table marts.t as select 1 as x")
    publish_snapshot(con, target, "2026-11-23")
    con.close()
    assert snapshot_freshness(target, 26)[0] is True
    later = datetime.now(timezone.utc) + timedelta(hours=27)
    passed, meta = snapshot_freshness(target, 26, now=later)
    assert not passed and meta["age_hours"] > 26


def test_the_freshness_job_flags_a_stale_export_in_dagster(tmp_path):
    """The hourly freshness job, built from the real definitions, fails the stale stream's check
    and passes the fresh one's. A full stream whose newest file is
    three days older than today's drop is missing from it: an error naming the file."""
    from orchestration.definitions import build_definitions
    from orchestration.settings import load_settings

    exports = tmp_path / "exports"
    exports.mkdir()
    _touch(exports / "orders.csv", hours_ago=72)
    _touch(exports / "customers.csv", hours_ago=1)
    with teiki_env(tmp_path):
        os.environ["TEIKI_CSV_EXPORT_DIR"] = str(exports)
        defs = build_definitions(load_settings())
        job = defs.resolve_job_def("freshness_checks")
        with dg.DagsterInstance.ephemeral() as instance:
            result = job.execute_in_process(instance=instance, raise_on_error=False)
    evaluations = {
        (e.asset_key.path[-1], e.check_name): e
        for e in (ev.event_specific_data for ev in result.all_events
                  if ev.event_type_value == "ASSET_CHECK_EVALUATION")
    }
    # the missing export is an error: the check's step fails the run (and so alerts)
    assert not result.success
    assert evaluations[("orders", "export_is_fresh")].passed is False
    assert evaluations[("customers", "export_is_fresh")].passed is True
    assert evaluations[("snapshot", "snapshot_is_fresh")].passed is False
    assert evaluations[("orders", "export_is_fresh")].severity == dg.AssetCheckSeverity.ERROR
    assert "no orders*.csv in today's export drop" in evaluations[("orders", "export_is_fresh")].description


def test_error_severity_stale_export_stops_dbt_actions_and_publication(tmp_path):
    """With `freshness.severity: error`, a cart export that stopped three days ago blocks
    everything downstream of the load in the same run: no mart, no call list, no snapshot."""
    from demo_merchant.generate import generate
    from demo_pipeline import DEMO_AS_OF
    from orchestration.definitions import build_definitions
    from orchestration.settings import load_settings

    exports = tmp_path / "exports"
    generate(exports, customers=60, seed=5, as_of=DEMO_AS_OF)
    for path in exports.iterdir():
        then = time.time() - 72 * 3600
        os.utime(path, (then, then))
    settings_file = tmp_path / "teiki.yaml"
    settings_file.write_text("freshness:\n  severity: error\n", encoding="utf-8")
    with teiki_env(tmp_path):
        os.environ["TEIKI_CSV_EXPORT_DIR"] = str(exports)
        os.environ["TEIKI_SETTINGS"] = str(settings_file)
        defs = build_definitions(load_settings())
        job = defs.resolve_job_def("daily_refresh")
        with dg.DagsterInstance.ephemeral() as instance:
            result = job.execute_in_process(instance=instance, raise_on_error=False)
            materialized = {
                "/".join(e.asset_key.path) for e in result.all_events
                if e.event_type_value == "ASSET_MATERIALIZATION"}
    assert "raw_csv/orders" in materialized  # the load itself ran
    assert not any(k.startswith("marts/") for k in materialized), sorted(materialized)
    assert "actions/call_center_list" not in materialized
    assert "bi/snapshot" not in materialized


def test_a_missing_export_file_is_an_error_that_stops_marts_actions_and_publication(tmp_path):
    """No orders.csv in today's drop (every other file is there): with the default settings
    (staleness only warns) the orders check fails at error severity naming the file, and
    nothing downstream runs on the orders the raw table still holds."""
    from demo_merchant.generate import generate
    from demo_pipeline import DEMO_AS_OF
    from orchestration.definitions import build_definitions
    from orchestration.settings import load_settings

    exports = tmp_path / "exports"
    generate(exports, customers=60, seed=5, as_of=DEMO_AS_OF)
    (exports / "orders.csv").unlink()
    (exports / "points.csv").unlink()  # optional: its absence is no error
    with teiki_env(tmp_path):
        os.environ["TEIKI_CSV_EXPORT_DIR"] = str(exports)
        defs = build_definitions(load_settings())
        job = defs.resolve_job_def("daily_refresh")
        with dg.DagsterInstance.ephemeral() as instance:
            result = job.execute_in_process(instance=instance, raise_on_error=False)
    evaluations = {
        e.asset_key.path[-1]: e
        for e in (ev.event_specific_data for ev in result.all_events
                  if ev.event_type_value == "ASSET_CHECK_EVALUATION")
        if e.check_name == "export_is_fresh"}
    materialized = {"/".join(e.asset_key.path) for e in result.all_events
                    if e.event_type_value == "ASSET_MATERIALIZATION"}
    orders = evaluations["orders"]
    assert (orders.passed, orders.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert orders.description.startswith("no orders*.csv in the export drop")
    assert evaluations["points"].passed and evaluations["customers"].passed
    assert "raw_csv/orders" in materialized  # the load itself ran
    assert "marts/orders" not in materialized and "marts/subscriptions" not in materialized
    assert "actions/call_center_list" not in materialized
    assert "bi/snapshot" not in materialized
