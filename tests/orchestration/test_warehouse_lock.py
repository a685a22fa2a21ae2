"""One run at a time writes the warehouse, also when runs bypass Dagster's run queue
(`dagster job execute`, `make demo`, a second `dagster dev`): the run lock of
orchestration/warehouse_lock.py, taken by the `warehouse` resource for a whole run."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from demo_pipeline import DEMO_AS_OF
from orchestration.resources import WarehouseResource
from orchestration.warehouse_lock import WarehouseBusy, WarehouseLock, read_holder

ROOT = Path(__file__).resolve().parents[2]
CALL_CENTER = "call_center_churn_risk"  # rewritten whole by its own asset, not by campaign_send


def _quiet(*_a) -> None:
    pass


# -- two real runs of the real job, started together ----------------------------------------------

RUN_START = re.compile(r" - (?P<run_id>[0-9a-f-]{36}) - (?P<pid>\d+) - RUN_START - ")


def _run_identity(log: str) -> tuple[str, int]:
    m = RUN_START.search(log)
    assert m, log[-3000:]
    return m["run_id"], int(m["pid"])


def _wait_for(predicate, timeout: float, what: str, procs) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.2)
    raise AssertionError(f"{what}: not seen in {timeout:.0f} s")


def test_two_cli_runs_started_together_run_one_after_the_other(demo_run, tmp_path):
    """Two `dagster job execute -j campaign_send` started at once, on a warehouse whose day of
    campaigns is still to do: one waits for the other, saying whom it waits for; no step of one
    overlaps a step of the other; the campaigns are decided and sent once, by the first run.

    The test holds the lock while both start (as a refresh still running would), so both reach
    it together however long each takes to import: then one takes it and the other waits for it.
    """
    run = demo_run(300, 11)
    data = tmp_path / "data"
    data.mkdir()
    warehouse = data / "warehouse.duckdb"
    shutil.copy(run.settings.warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        # the day's campaign decisions undone, so the job has real work: decide and render them
        con.execute("delete from actions.action_ledger where action_date = ? and campaign <> ?",
                    [DEMO_AS_OF, CALL_CENTER])
        before = con.execute("select count(*) from actions.action_ledger").fetchone()[0]
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    # The instance's storage is created here: two processes creating it at once would collide.
    dg.DagsterInstance.from_config(str(home)).dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEIKI_")}
    env.update(TEIKI_DATA_DIR=str(data), TEIKI_AS_OF_DATE=DEMO_AS_OF.isoformat(), DAGSTER_HOME=str(home))
    dagster = Path(sys.executable).parent / "dagster"

    holder = WarehouseLock(warehouse)
    holder.acquire(run_id="test-holder", job=None, timeout=0, log=_quiet)
    logs = [tmp_path / "run_a.log", tmp_path / "run_b.log"]
    procs = []
    try:
        for log in logs:
            with open(log, "wb") as out:
                procs.append(subprocess.Popen(
                    [str(dagster), "job", "execute", "-m", "orchestration.definitions", "-j", "campaign_send"],
                    cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT))
        _wait_for(lambda: all("waiting for run test-holder" in p.read_text() for p in logs), 300,
                  "both runs waiting for the holder", procs)
        holder.release()
        for p in procs:
            p.wait(timeout=300)
    finally:
        holder.release()
        for p in procs:
            if p.poll() is None:
                p.kill()
    texts = [p.read_text() for p in logs]
    assert [p.returncode for p in procs] == [0, 0], "\n\n".join(t[-3000:] for t in texts)

    runs = [_run_identity(t) for t in texts]
    waits = [[line for line in t.splitlines() if "waiting for run " in line and "test-holder" not in line]
             for t in texts]
    second = [i for i, w in enumerate(waits) if w]
    assert len(second) == 1, waits
    later, first = second[0], 1 - second[0]
    (first_id, first_pid), (later_id, _) = runs[first], runs[later]
    assert (f"waiting for run {first_id} (campaign_send) / pid {first_pid} holding the warehouse since"
            in texts[later])
    assert "took the warehouse after waiting" in texts[later]
    # Once per run: not again when `dagster job execute` sets resources up after the run to load
    # its outputs (that would keep the finished first run's process waiting behind the later).
    assert [t.count("took the warehouse after waiting") for t in texts] == [1, 1]

    # No step of the later run started before the first run's last step ended.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        def step_times(run_id: str, kind: str) -> list[float]:
            return [e.timestamp for e in instance.all_logs(run_id)
                    if e.dagster_event is not None and e.dagster_event.event_type_value == kind]
        first_end = max(step_times(first_id, "STEP_SUCCESS") + step_times(first_id, "STEP_FAILURE"))
        later_start = min(step_times(later_id, "STEP_START"))
    assert first_end < later_start

    # Nothing decided or written twice: the first run decided the day, the later one found it done.
    with duckdb.connect(str(warehouse), read_only=True) as con:
        dupes = con.execute(
            "select count(*) from (select campaign, action_date, customer_key, step from actions.action_ledger "
            "group by all having count(*) > 1)").fetchone()[0]
        day = con.execute("select run_id, count(*) from actions.action_ledger where action_date = ? "
                          "and campaign <> ? group by 1", [DEMO_AS_OF, CALL_CENTER]).fetchall()
        after = con.execute("select count(*) from actions.action_ledger").fetchone()[0]
    assert dupes == 0
    assert [r[0] for r in day] == [first_id] and after > before
    written = sorted(p.relative_to(data / "outbox") for p in (data / "outbox").rglob("*") if p.is_file())
    expected = sorted(p.relative_to(run.settings.outbox_dir) for p in run.settings.outbox_dir.rglob("*")
                      if p.is_file() and p.relative_to(run.settings.outbox_dir).parts[0] != "call_center")
    assert written == expected and written
    assert read_holder(holder.path) is None  # nobody holds it now


# -- the lock's own promises, on a small asset ---------------------------------------------------


@dg.asset
def loads_rows(warehouse: WarehouseResource) -> None:
    with warehouse.connect() as con:
        con.execute("create table if not exists t (x int)")
        con.execute("insert into t values (1)")


@dg.asset(deps=[loads_rows])
def fails_after_writing(warehouse: WarehouseResource) -> None:
    with warehouse.connect() as con:
        con.execute("insert into t values (2)")
    raise RuntimeError("the step fails after writing")


HOLD = """
import sys, time
sys.path.insert(0, {root!r})
from orchestration.warehouse_lock import WarehouseLock
WarehouseLock({wh!r}).acquire(run_id="the-refresh-run", job="daily_refresh", timeout=0, log=print)
print("held", flush=True)
time.sleep(600)
"""


def _hold_in_another_process(warehouse: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD.format(root=str(ROOT), wh=str(warehouse))],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_run_that_waits_too_long_fails_naming_the_holder_and_writes_nothing(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    holder = _hold_in_another_process(warehouse)
    try:
        with dg.DagsterInstance.ephemeral() as instance:
            result = dg.materialize(
                [loads_rows], raise_on_error=False, instance=instance,
                resources={"warehouse": WarehouseResource(path=str(warehouse), run_lock_timeout_seconds=1)})
            logged = [e.user_message for e in instance.all_logs(result.run_id)]
    finally:
        holder.kill()
        holder.wait()
    assert not result.success
    text = "\n".join(str(e.event_specific_data) for e in result.all_events if e.is_failure)
    assert WarehouseBusy.__name__ in text
    assert f"still held by run the-refresh-run (daily_refresh) / pid {holder.pid}" in text
    assert "runs.warehouse_lock_timeout_minutes" in text
    waits = [m for m in logged if "waiting for run the-refresh-run" in m]
    assert waits and f"pid {holder.pid} holding the warehouse since" in waits[0]
    assert not warehouse.exists()  # no step ran


def test_the_lock_is_free_after_a_failed_run_and_after_a_killed_holder(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    # Two steps in one run, the second failing: the lock is taken once for both (a second take
    # in the same run would wait for itself and time out), and given back although the run failed.
    result = dg.materialize(
        [loads_rows, fails_after_writing], raise_on_error=False,
        resources={"warehouse": WarehouseResource(path=str(warehouse), run_lock_timeout_seconds=2)})
    assert not result.success
    assert [e.step_key for e in result.all_events if e.is_step_failure] == ["fails_after_writing"]
    lock = WarehouseLock(warehouse)
    lock.acquire(run_id="next", job=None, timeout=0, log=_quiet)  # free: no wait allowed
    lock.release()

    holder = _hold_in_another_process(warehouse)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    lock.acquire(run_id="after-the-kill", job=None, timeout=0, log=_quiet)
    assert read_holder(lock.path).run_id == "after-the-kill"
    lock.release()


def test_the_wait_setting_reaches_the_warehouse_resource(tmp_path):
    from demo_pipeline import teiki_env
    from orchestration.definitions import build_definitions
    from orchestration.settings import load_settings

    settings_file = tmp_path / "teiki.yaml"
    settings_file.write_text("runs:\n  warehouse_lock_timeout_minutes: 2.5\n", encoding="utf-8")
    with teiki_env(tmp_path / "data"):
        os.environ["TEIKI_SETTINGS"] = str(settings_file)
        defs = build_definitions(load_settings())
    warehouse = defs.resources["warehouse"]
    assert isinstance(warehouse, WarehouseResource) and warehouse.run_lock_timeout_seconds == 150


@pytest.mark.parametrize("value", ["-1", "soon"])
def test_a_wrong_wait_setting_is_refused(tmp_path, value):
    from orchestration.merchant_settings import SettingsFileError, parse_settings_file

    path = tmp_path / "teiki.yaml"
    path.write_text(f"runs:\n  warehouse_lock_timeout_minutes: {value}\n", encoding="utf-8")
    with pytest.raises(SettingsFileError, match="runs.warehouse_lock_timeout_minutes"):
        parse_settings_file(path)
