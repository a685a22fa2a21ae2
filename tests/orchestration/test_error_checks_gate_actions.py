"""A failing error-severity dbt test stops the outbound action and the BI publication.

Runs the real job in "your own exports" mode (TEIKI_CSV_EXPORT_DIR set, export files observed,
not generated) on exports whose 定期回数 disagrees with the orders: the dbt test
assert_subscription_delivery_count_matches_export (severity error) must fail, and nothing may
reach a customer or a BI reader.
"""

from __future__ import annotations

import csv
import io
import os

import dagster as dg
import duckdb

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


def test_failed_error_check_blocks_call_list_and_snapshot(tmp_path):
    exports = tmp_path / "exports"
    generate(exports, customers=400, seed=3, as_of=DEMO_AS_OF)
    broken = _corrupt_one_delivery_count(exports / "subscriptions.csv")

    from orchestration.definitions import build_definitions
    from orchestration.settings import load_settings

    with teiki_env(tmp_path / "data"):
        os.environ["TEIKI_CSV_EXPORT_DIR"] = str(exports)
        settings = load_settings()
        assert not settings.demo
        defs = build_definitions(settings)
        job = defs.resolve_job_def("daily_refresh")
        with dg.DagsterInstance.ephemeral() as instance:
            result = job.execute_in_process(instance=instance, raise_on_error=False)

    assert not result.success
    evaluations = [e.event_specific_data for e in result.all_events
                   if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    failed = {ev.check_name for ev in evaluations if not ev.passed}
    assert "assert_subscription_delivery_count_matches_export" in failed

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
        # the failing row is the one we broke
        assert con.execute(
            "select count(*) from raw_csv.subscriptions where subscription_id = ?", [broken]).fetchone()[0] == 1
    finally:
        con.close()
