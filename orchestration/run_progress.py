"""What a person watching a one-shot run sees: each step as it starts and ends, then the warnings.

`make demo` sends dbt's own chatter to a log file; without this, the console says nothing for
minutes and a failed warning check is visible only in that log. `follow_run` reads the run's
events from the Dagster instance while the run executes (a daemon thread, polling the event log
once a second) and prints one line per step start and end with the elapsed time, and within a
long step how many assets it has materialized, every 5 s at most (the dbt build, which holds its
materializations back until dbt ends, logs its own `progress: ` lines instead, printed as they come); `warnings_text`
lists the failed warning checks (dbt warn tests and Teiki's own, e.g. an empty call list) of the
finished run, with the first line of their description and their failing-row count.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import IO, Any

import dagster as dg

# A step that cannot stream its materializations as they happen (the dbt build holds its
# events until dbt lets go of the warehouse) logs lines starting with this; they are printed.
PROGRESS_PREFIX = "progress: "

_STEP_EVENTS = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS,
                dg.DagsterEventType.STEP_FAILURE}


class follow_run:
    """Context manager: print step progress of `run_id` to `out` while the block runs."""

    def __init__(self, instance: dg.DagsterInstance, run_id: str, out: IO[str], poll_seconds: float = 1.0):
        self.instance, self.run_id, self.out, self.poll = instance, run_id, out, poll_seconds
        self.started = time.monotonic()
        self.step_started: dict[str, float] = {}
        self.materialized: dict[str, int] = {}
        self.says_own_progress: set[str | None] = set()
        self.progress_seconds, self.last_progress = 5.0, time.monotonic()
        self.seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="run-progress", daemon=True)

    def __enter__(self) -> "follow_run":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._drain()  # the last steps' ends, read after the run finished

    def _loop(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                self._drain()
            except Exception:  # the run's own storage is busy: try again next second
                continue

    def _drain(self) -> None:
        records = self.instance.all_logs(self.run_id)
        for record in records[self.seen:]:
            event = record.dagster_event
            if event is None:
                message = record.user_message or ""
                if message.startswith(PROGRESS_PREFIX):
                    self.says_own_progress.add(record.step_key)
                    elapsed = time.monotonic() - self.started
                    self._write(f"  [{elapsed:6.1f} s]   {record.step_key or '?'}: {message[len(PROGRESS_PREFIX):]}")
                continue
            if event.event_type in _STEP_EVENTS:
                self._write(self.line(event.event_type, event.step_key or "?", record.timestamp))
            elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
                # a long step (the dbt build) says how far it got, every few seconds at most
                step = event.step_key or "?"
                if step in self.says_own_progress:  # its held-back events arrive in one burst
                    continue
                self.materialized[step] = self.materialized.get(step, 0) + 1
                now = time.monotonic()
                if now - self.last_progress >= self.progress_seconds:
                    self.last_progress = now
                    self._write(f"  [{now - self.started:6.1f} s]   {step}: {self.materialized[step]} "
                                f"materialized so far (latest {event.asset_key.to_user_string()})")
        self.seen = len(records)

    def _write(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def line(self, kind: dg.DagsterEventType, step: str, at: float) -> str:
        elapsed = time.monotonic() - self.started
        if kind == dg.DagsterEventType.STEP_START:
            self.step_started[step] = at
            return f"  [{elapsed:6.1f} s] {step} ..."
        took = at - self.step_started.get(step, at)
        verdict = "done" if kind == dg.DagsterEventType.STEP_SUCCESS else "FAILED"
        return f"  [{elapsed:6.1f} s] {step} {verdict} ({took:.1f} s)"


def failed_warnings(events: Iterable[dg.DagsterEvent]) -> list[tuple[str, str, int | None, str]]:
    """(check, asset, failing rows or None, first line of its description) of each failed
    warning check among a run's events, in the order they ran."""
    found = []
    for event in events:
        if event.event_type_value != "ASSET_CHECK_EVALUATION":
            continue
        ev = event.event_specific_data
        if ev.passed or ev.severity != dg.AssetCheckSeverity.WARN:
            continue
        meta = ev.metadata or {}
        count = meta.get("dagster_dbt/failed_row_count")
        about = meta.get("reason") or meta.get("description")
        text = str(getattr(about, "value", about) or (ev.description or "")).strip().splitlines()
        found.append((ev.check_name, ev.asset_key.to_user_string(),
                      None if count is None else int(getattr(count, "value", count)), text[0] if text else ""))
    return found


def warnings_text(events: Iterable[dg.DagsterEvent]) -> str:
    rows = failed_warnings(events)
    if not rows:
        return "  Warnings: none (every warning check passed)."
    lines = [f"  Warnings ({len(rows)} checks failed at warning severity; nothing was blocked):"]
    for check, asset, count, about in rows:
        rows_text = "" if count is None else f" ({count:,} rows)"
        lines.append(f"    - {asset}: {check}{rows_text}" + (f": {about}" if about else ""))
    return "\n".join(lines)
