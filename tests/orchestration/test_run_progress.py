"""The one-shot runner's console: every step of a real run as it starts and ends, then the failed
warning checks with their reason, so nothing is hidden in the log."""

from __future__ import annotations

import io
import time
import uuid

import dagster as dg

from orchestration.run_progress import PROGRESS_PREFIX, failed_warnings, follow_run, warnings_text


@dg.multi_asset(specs=[dg.AssetSpec("raw_orders"), dg.AssetSpec("raw_customers")])
def raw_tables(context):
    yield dg.MaterializeResult(asset_key="raw_orders")
    # a step that holds its materializations back (the dbt build) says how far it got this way
    context.log.info(f"{PROGRESS_PREFIX}1 of 2 tables written")
    context.log.info("not a progress line")
    time.sleep(1.2)  # long enough for the follower to see the step while it runs
    yield dg.MaterializeResult(asset_key="raw_customers")


@dg.multi_asset(specs=[dg.AssetSpec("staged_orders", deps=["raw_orders"]),
                        dg.AssetSpec("staged_customers", deps=["raw_customers"])])
def held_tables(context):
    context.log.info(f"{PROGRESS_PREFIX}2 of 2 tables built")
    time.sleep(0.6)  # the follower polls every 0.2 s: it sees the log line before the burst
    yield dg.MaterializeResult(asset_key="staged_orders")
    yield dg.MaterializeResult(asset_key="staged_customers")


@dg.asset(deps=["staged_orders", "staged_customers"], check_specs=[
    dg.AssetCheckSpec("list_is_not_empty_without_a_reason", asset="call_list", blocking=False)])
def call_list():
    yield dg.Output(0)
    yield dg.AssetCheckResult(check_name="list_is_not_empty_without_a_reason", passed=False,
                              severity=dg.AssetCheckSeverity.WARN,
                              metadata={"reason": "nobody to call: phone consent is unknown\nsecond line"})


@dg.asset(deps=[call_list], check_specs=[dg.AssetCheckSpec("passes", asset="snapshot")])
def snapshot():
    yield dg.Output(1)
    yield dg.AssetCheckResult(check_name="passes", passed=True)


def _run(out: io.StringIO):
    job = dg.Definitions(assets=[raw_tables, held_tables, call_list, snapshot]).resolve_implicit_global_asset_job_def()
    run_id = str(uuid.uuid4())
    with dg.DagsterInstance.ephemeral() as instance, follow_run(instance, run_id, out, poll_seconds=0.2) as follower:
        follower.progress_seconds, follower.last_progress = 0.5, float("-inf")
        return job.execute_in_process(instance=instance, run_id=run_id, raise_on_error=False)


def test_each_step_is_printed_as_it_starts_and_ends_with_its_time():
    out = io.StringIO()
    result = _run(out)
    assert result.success
    lines = out.getvalue().splitlines()
    for step in ("raw_tables", "call_list", "snapshot"):
        start = next(i for i, line in enumerate(lines) if line.endswith(f"] {step} ..."))
        end = next(i for i, line in enumerate(lines) if f"] {step} done (" in line)
        assert start < end
    took = next(line for line in lines if "] raw_tables done (" in line)
    assert float(took.rsplit("(", 1)[1].split(" s)")[0]) >= 1.0
    # within the long step, how far it got
    assert any("raw_tables: 1 materialized so far (latest raw_orders)" in line for line in lines), lines
    assert any(line.endswith("s]   raw_tables: 1 of 2 tables written") for line in lines), lines
    assert not any("not a progress line" in line for line in lines)
    # a step that says its own progress is not also counted by its materializations
    assert not any("held_tables: " in line and "materialized so far" in line for line in lines), lines
    assert any(line.endswith("s]   held_tables: 2 of 2 tables built") for line in lines), lines
    # in order: a step's start comes after the previous step's end
    assert lines.index(next(x for x in lines if x.endswith("] call_list ..."))) > lines.index(took)


def test_failed_warning_checks_are_listed_with_their_reason_and_passed_ones_are_not():
    result = _run(io.StringIO())
    assert failed_warnings(result.all_events) == [
        ("list_is_not_empty_without_a_reason", "call_list", None, "nobody to call: phone consent is unknown")]
    text = warnings_text(result.all_events)
    assert "call_list: list_is_not_empty_without_a_reason: nobody to call" in text
    assert "passes" not in text and "second line" not in text
    assert "none" in warnings_text([])
