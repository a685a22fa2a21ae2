"""A daily refresh killed at any stage and run again ends where a clean run ends.

The real `daily_refresh` job runs in its own `dagster job execute` process (its own
DAGSTER_HOME, as a schedule's run would), on the demo merchant's world. For each stage the test
watches the run from outside, as an operator could (the Dagster instance's event log, or a file
the stage writes), SIGKILLs the run's whole process group there (dbt's process included: a
machine that loses power does not ask), then runs the job again to completion in a new process.
The result must equal a clean run of the same world: every warehouse table (marts, intermediate,
model parameters, raw rows, the action ledger's decisions), every file in the outbox (campaign
messages and the call-center list) and the on-site eligibility file, and the BI snapshot; with
no temporary file left behind and the warehouse's run lock free.

Nothing in the pipeline knows it is being tested: no hook, no patch, no shortened step.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from demo_pipeline import DEMO_AS_OF
from orchestration.warehouse_lock import WarehouseLock

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CUSTOMERS, SEED = 300, 11
RUN_TIMEOUT = 600  # seconds for one whole refresh on a loaded 2-core machine
WATCHED_EVENTS = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS,
                  dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.ASSET_MATERIALIZATION}

# Columns that legitimately differ between two runs of the same day, and why:
VOLATILE_COLUMNS = {
    # the ledger: which run wrote a row and when (a crashed run's rows keep its id and time)
    "run_id", "recorded_at", "outcome_at",
    # model_params: when the fit ran (the fit itself must be equal)
    "fitted_at",
    # raw rows: which sync loaded them and when (the payload and its hash must be equal)
    "_loaded_at", "_sync_id",
    # raw_meta.sync_state: the sync that last moved the cursor, and when (the cursor must be
    # equal); in its per-file JSON also when the export file appeared and was loaded (each run
    # of the demo merchant writes its export files anew)
    "sync_id", "updated_at", "dropped_at", "loaded_at",
    # the BI snapshot's meta.published: when it was published (its as_of_date must be equal)
    "published_at",
}
# Whole tables that are a history of attempts, not state: the killed run's syncs belong there.
HISTORY_TABLES = {"raw_meta.sync_log"}
# Floats are equal to this relative precision, not to the last bit: DuckDB sums doubles in
# parallel, in an order that varies from run to run (a clean run against itself differs in the
# 16th digit). A fit that is not reproducible (digit 8 and up) still shows.
FLOAT_RTOL = 1e-12
WORLD = "<world>"  # each world's own directory, in raw rows' `_file` and the sync state


# -- one world: a data directory and a Dagster instance of its own ---------------------------------

@dataclass
class World:
    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def config(self) -> Path:
        return self.root / "run_config.yaml"

    @classmethod
    def create(cls, root: Path) -> World:
        world = cls(root)
        world.data.mkdir(parents=True)
        world.home.mkdir()
        (world.home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
        dg.DagsterInstance.from_config(str(world.home)).dispose()  # storage created before any run
        world.config.write_text(yaml.safe_dump({"ops": {"demo_merchant_exports": {"config": {
            "customers": CUSTOMERS, "seed": SEED}}}}), encoding="utf-8")
        return world

    def start(self, log_name: str) -> subprocess.Popen:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TEIKI_")}
        env.update(TEIKI_DATA_DIR=str(self.data), TEIKI_AS_OF_DATE=DEMO_AS_OF.isoformat(),
                   DAGSTER_HOME=str(self.home))
        dagster = Path(sys.executable).parent / "dagster"
        with open(self.root / log_name, "wb") as out:
            # A session of its own: the kill takes the run's whole process group (dbt's too).
            return subprocess.Popen(
                [str(dagster), "job", "execute", "-m", "orchestration.definitions", "-j", "daily_refresh",
                 "-c", str(self.config)],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def log_tail(self, log_name: str) -> str:
        return (self.root / log_name).read_text(errors="replace")[-4000:]

    def run_to_completion(self, log_name: str) -> None:
        proc = self.start(log_name)
        try:
            proc.wait(timeout=RUN_TIMEOUT)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert proc.returncode == 0, self.log_tail(log_name)


class RunWatch:
    """What the event log of a world's (first) run says so far, read incrementally."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self.instance = instance
        self.run_id: str | None = None
        self.cursor: str | None = None
        self.started: set[str] = set()
        self.finished: set[str] = set()
        self.materialized: list[tuple[str, tuple[str, ...]]] = []  # (step key, asset key path)

    def poll(self) -> None:
        if self.run_id is None:
            runs = self.instance.get_runs(limit=1)
            if not runs:
                return
            self.run_id = runs[0].run_id
        while True:
            page = self.instance.get_records_for_run(self.run_id, cursor=self.cursor, of_type=WATCHED_EVENTS)
            for record in page.records:
                event = record.event_log_entry.dagster_event
                kind = event.event_type
                if kind == dg.DagsterEventType.STEP_START:
                    self.started.add(event.step_key)
                elif kind == dg.DagsterEventType.ASSET_MATERIALIZATION:
                    self.materialized.append((event.step_key, tuple(event.asset_key.path)))
                else:
                    self.finished.add(event.step_key)
            self.cursor = page.cursor
            if not page.has_more:
                return


# -- the kill points --------------------------------------------------------------------------------

@dataclass(frozen=True)
class KillPoint:
    description: str
    reached: Callable[[RunWatch, World], bool]
    # The step the kill must land inside (started, not finished): else the run was not killed
    # at this stage and the case would prove nothing.
    inside_step: str


def _temp_snapshot_files(world: World) -> list[Path]:
    bi = world.data / "bi"
    return [p for p in bi.iterdir() if p.name.endswith((".tmp", ".tmp.wal"))] if bi.is_dir() else []


def _campaign_messages(world: World) -> list[Path]:
    outbox = world.data / "outbox"
    if not outbox.is_dir():
        return []
    return [p for p in outbox.rglob("*") if p.is_file() and p.relative_to(outbox).parts[0] != "call_center"]


KILL_POINTS = {
    # raw_csv_tables: the export files are written, their rows are being upserted into raw_csv.
    "load": KillPoint("the raw load step has started",
                      lambda w, _: "raw_csv_tables" in w.started, "raw_csv_tables"),
    # The first dbt step has rebuilt at least one mart; the others are still old or missing.
    "dbt": KillPoint("the first dbt step has materialized its first mart",
                     lambda w, _: any(s == "teiki_dbt_models" and k[0] == "marts" for s, k in w.materialized),
                     "teiki_dbt_models"),
    # The churn hazard and sBG fits of the day are committed, the BG/NBD fit is under way: the
    # rerun must replace the day's parameters, not add a second set.
    "fits": KillPoint("the repeat-buyer (BG/NBD) fit step has started",
                      lambda w, _: "repeat_buyer_model" in w.started, "repeat_buyer_model"),
    # The call list and the day's campaign decisions are committed, the first dry-run messages
    # rendered: the rest are still `planned` in the ledger.
    "actions": KillPoint("the campaigns step has rendered its first message into the outbox",
                         lambda _, world: bool(_campaign_messages(world)), "campaigns"),
    # The snapshot is being written under its temporary name, not yet renamed over the last one.
    "publish": KillPoint("the BI snapshot's temporary file exists",
                         lambda _, world: bool(_temp_snapshot_files(world)), "bi__snapshot"),
}


def kill_at(world: World, point: KillPoint) -> RunWatch:
    proc = world.start("killed.log")
    with dg.DagsterInstance.from_config(str(world.home)) as instance:
        watch = RunWatch(instance)
        deadline = time.monotonic() + RUN_TIMEOUT
        try:
            while True:
                watch.poll()
                if point.reached(watch, world):
                    break
                assert proc.poll() is None, f"the run ended before {point.description}:\n" + world.log_tail("killed.log")
                assert time.monotonic() < deadline, f"{point.description}: not seen in {RUN_TIMEOUT} s"
                time.sleep(0.02)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        time.sleep(0.5)  # let the log's last writes (made before the kill) be read
        watch.poll()
    assert point.inside_step in watch.started and point.inside_step not in watch.finished, (
        f"the kill ({point.description}) did not land inside step {point.inside_step}: "
        f"started {sorted(watch.started)}, finished {sorted(watch.finished)}")
    return watch


# -- what a refresh leaves behind, in comparable form -----------------------------------------------

def _comparable(value: object, root: str) -> object:
    """A value with the world's directory named alike in every world, and volatile JSON keys out."""
    if isinstance(value, str):
        value = value.replace(root, WORLD)
        if value.startswith("{"):
            try:
                return json.dumps(_without_volatile(json.loads(value)), sort_keys=True)
            except ValueError:
                pass
    return value


def _without_volatile(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_volatile(v) for k, v in value.items() if k not in VOLATILE_COLUMNS}
    if isinstance(value, list):
        return [_without_volatile(v) for v in value]
    return value


def _sort_key(row: tuple) -> str:
    # floats to 6 digits for the order only (rows are compared at FLOAT_RTOL): the same rows
    # sort alike in two runs even where a float differs in its last bits
    return repr(tuple(f"{v:.6g}" if isinstance(v, float) else v for v in row))


def warehouse_state(path: Path, root: Path) -> dict[str, list[tuple]]:
    """Every base table (views are queries over these), sorted rows without volatile columns."""
    out = {}
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and table_catalog = current_database() order by 1, 2").fetchall()
        for schema, table in tables:
            name = f"{schema}.{table}"
            if name in HISTORY_TABLES:
                continue
            columns = [c for (c,) in con.execute(
                "select column_name from information_schema.columns where table_catalog = current_database() "
                "and table_schema = ? and table_name = ? order by ordinal_position", [schema, table]).fetchall()
                if c not in VOLATILE_COLUMNS]
            select = ", ".join(f'"{c}"' for c in columns)
            rows = [tuple(_comparable(v, str(root)) for v in r)
                    for r in con.execute(f'select {select} from "{schema}"."{table}"').fetchall()]
            out[name] = [tuple(columns)] + sorted(rows, key=_sort_key)
    return out


def _without_header(data: bytes, header: bytes) -> bytes:
    return b"\n".join(line for line in data.split(b"\n") if not line.startswith(header))


def files_state(root: Path) -> dict[str, bytes]:
    """Every file under root (temporary ones included), by relative path."""
    out = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.suffix == ".eml":
            data = _without_header(data, b"Date: ")  # when it was rendered (the wall clock)
        elif path.suffix == ".jsonl":
            # the on-site eligibility's first line says when it was published (the wall clock)
            head, _, rest = data.partition(b"\n")
            meta = {k: v for k, v in json.loads(head).items() if k != "published_at"}
            data = json.dumps(meta, sort_keys=True).encode() + b"\n" + rest
        out[path.relative_to(root).as_posix()] = data
    return out


def refresh_state(world: World) -> dict[str, object]:
    data = world.data
    state: dict[str, object] = {
        f"warehouse {k}": v for k, v in warehouse_state(data / "warehouse.duckdb", world.root).items()}
    state.update({f"snapshot {k}": v for k, v in warehouse_state(data / "bi" / "teiki.duckdb", world.root).items()})
    state.update({f"file {k}": v for k, v in files_state(data / "outbox").items()})
    state.update({f"file onsite/{k}": v for k, v in files_state(data / "onsite").items()})
    state["files in data/bi"] = sorted(p.name for p in (data / "bi").iterdir())
    return state


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, object]:
    """One clean run of the world, the same way each crashed world is run."""
    world = World.create(tmp_path_factory.mktemp("crash_reference"))
    world.run_to_completion("clean.log")
    state = refresh_state(world)
    # The world has real work at every stage, so each kill point interrupts something.
    assert len(state["warehouse actions.action_ledger"]) > 1
    assert any(k.startswith("file mail/") for k in state) and any(k.startswith("file call_center/") for k in state)
    return state


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=FLOAT_RTOL, abs_tol=1e-300)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _differences(got: dict[str, object], want: dict[str, object]) -> list[str]:
    out = []
    for key in sorted(set(got) | set(want)):
        if key not in got or key not in want:
            out.append(f"{key}: only in the {'crashed' if key in got else 'clean'} run")
        elif not _same(got[key], want[key]):
            a, b = got[key], want[key]
            if isinstance(a, list) and isinstance(b, list):
                pairs = [(x, y) for x, y in zip(a, b) if not _same(x, y)][:2]
                out.append(f"{key}: {len(a)} vs {len(b)} rows; first differing (crashed, clean): {pairs!r:.1500}")
            else:
                out.append(f"{key}: differs ({len(a)} vs {len(b)} bytes)")
    return out


@pytest.mark.parametrize("stage", list(KILL_POINTS))
def test_a_refresh_killed_at_a_stage_and_run_again_equals_a_clean_run(stage, reference, tmp_path):
    world = World.create(tmp_path)
    kill_at(world, KILL_POINTS[stage])
    if stage == "publish":
        assert _temp_snapshot_files(world)  # the killed publish left its temporary file behind

    world.run_to_completion("rerun.log")
    state = refresh_state(world)
    differences = _differences(state, reference)
    assert not differences, "\n".join(differences)

    ledger = state["warehouse actions.action_ledger"]
    key = [ledger[0].index(c) for c in ("campaign", "action_date", "customer_key", "step")]
    keys = [tuple(r[i] for i in key) for r in ledger[1:]]
    assert len(keys) == len(set(keys))  # one row per campaign, day, customer and step
    lock = WarehouseLock(world.data / "warehouse.duckdb")
    lock.acquire(run_id="after-the-test", job=None, timeout=0, log=lambda _m: None)  # free: no wait
    lock.release()
