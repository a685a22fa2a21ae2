"""Durable offer events: every decision and every acceptance, appended to one SQLite file.

The decision service appends; the ingestion asset reads after a cursor and lands the rows in
``raw_onsite.offer_events`` (connectors/raw.py RawWriter). SQLite in WAL mode: readers (the loader)
never block the service, and the service's appends never wait for them.

Durability: decisions are committed with ``synchronous=NORMAL`` (in WAL mode a commit survives the
process being killed; only a power cut may lose the last ones); acceptances with
``synchronous=FULL`` on their own connection, committed before the service answers 200, so an
acknowledged acceptance survives a crash or power loss.

Tables::

    offer_events   event_id (INTEGER PK, the loader's cursor), occurred_at (UTC ISO), business_date
                   (JST), event_type (shown | not_shown | accepted), reason (not_shown: not_eligible,
                   holdout, outside_window, already_accepted; accepted: NULL), customer_id, page,
                   offer_id, window_id
    shown_offers   the offer first shown to a customer in a window, (customer_id, window_id) PK:
                   the same offer is shown again for the rest of the window
    acceptances    one per (customer_id, window_id): offer_id, accepted_at, token_id
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from connectors.raw import RawColumn, RawStream

_DDL = """
CREATE TABLE IF NOT EXISTS offer_events (
    event_id      INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred_at   TEXT NOT NULL,
    business_date TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    reason        TEXT,
    customer_id   TEXT NOT NULL,
    page          TEXT,
    offer_id      TEXT,
    window_id     TEXT
);
CREATE TABLE IF NOT EXISTS shown_offers (
    customer_id TEXT NOT NULL,
    window_id   TEXT NOT NULL,
    offer_id    TEXT NOT NULL,
    payload     TEXT NOT NULL,
    first_shown_at TEXT NOT NULL,
    PRIMARY KEY (customer_id, window_id)
);
CREATE TABLE IF NOT EXISTS acceptances (
    customer_id TEXT NOT NULL,
    window_id   TEXT NOT NULL,
    offer_id    TEXT NOT NULL,
    accepted_at TEXT NOT NULL,
    token_id    TEXT NOT NULL,
    PRIMARY KEY (customer_id, window_id)
);
"""

EVENT_COLUMNS = ("event_id", "occurred_at", "business_date", "event_type", "reason", "customer_id",
                 "page", "offer_id", "window_id")

#: The raw stream the loader writes: raw_onsite.offer_events, cursor event_id.
RAW_STREAM = RawStream(
    "onsite", "offer_events",
    columns=(RawColumn("event_id", "BIGINT"), RawColumn("occurred_at", "TIMESTAMP"),
             RawColumn("business_date", "DATE"), RawColumn("event_type", "VARCHAR"),
             RawColumn("reason", "VARCHAR"), RawColumn("customer_id", "VARCHAR"),
             RawColumn("page", "VARCHAR"), RawColumn("offer_id", "VARCHAR"),
             RawColumn("window_id", "VARCHAR")),
    primary_key=("event_id",), cursor_field="event_id",
)


def _connect(path: Path, synchronous: str) -> sqlite3.Connection:
    con = sqlite3.connect(str(path), timeout=30.0, isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute(f"PRAGMA synchronous={synchronous}")
    con.execute("PRAGMA busy_timeout=30000")
    # No checkpoint inside a request's commit (it fsyncs the database): checkpoint() runs them
    # from the service's background thread.
    con.execute("PRAGMA wal_autocheckpoint=0")
    return con


@dataclass(frozen=True)
class Decision:
    occurred_at: datetime
    business_date: date
    event_type: str
    reason: str | None
    customer_id: str
    page: str | None
    offer_id: str | None
    window_id: str | None


class EventLog:
    """The service's writer: thread-safe; one connection for decisions, one (FULL) for acceptances."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._decisions = _connect(self.path, "NORMAL")
        self._decisions.executescript(_DDL)
        self._accepts = _connect(self.path, "FULL")
        self._lock = threading.Lock()
        self._accept_lock = threading.Lock()

        self._checkpointer = _connect(self.path, "NORMAL")

    def checkpoint(self) -> None:
        """Copy the WAL into the database without blocking the writers (PASSIVE)."""
        self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        with self._lock, self._accept_lock:
            self._decisions.close()
            self._accepts.close()
            self._checkpointer.close()

    @staticmethod
    def _event_row(d: Decision) -> tuple:
        return (d.occurred_at.isoformat(), d.business_date.isoformat(), d.event_type, d.reason,
                d.customer_id, d.page, d.offer_id, d.window_id)

    @classmethod
    def _append_event(cls, con, d: Decision) -> None:
        """One row of the append-only event log (decisions and acceptances alike)."""
        con.execute(
            "INSERT INTO offer_events (occurred_at, business_date, event_type, reason, "
            "customer_id, page, offer_id, window_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            cls._event_row(d))

    def record(self, d: Decision, *, first_shown_payload: str | None = None) -> str | None:
        """Append a decision. For a ``shown`` decision with ``first_shown_payload``, the offer is
        also stored as the window's offer unless one is stored already; returns the stored
        payload (the one to show), else None."""
        with self._lock:
            con = self._decisions
            con.execute("BEGIN IMMEDIATE")
            try:
                stored = None
                if first_shown_payload is not None:
                    con.execute(
                        "INSERT OR IGNORE INTO shown_offers VALUES (?, ?, ?, ?, ?)",
                        (d.customer_id, d.window_id, d.offer_id, first_shown_payload, d.occurred_at.isoformat()))
                    stored = con.execute(
                        "SELECT payload FROM shown_offers WHERE customer_id = ? AND window_id = ?",
                        (d.customer_id, d.window_id)).fetchone()[0]
                self._append_event(con, d)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            return stored

    def load_state(self) -> tuple[dict[tuple[str, str], str], set[tuple[str, str]]]:
        """Every window's shown offer and every acceptance, for the service's memory at start
        (it is the only writer, so its memory stays in step with the file afterwards)."""
        with self._lock:
            shown = {(c, w): p for c, w, p in self._decisions.execute(
                "SELECT customer_id, window_id, payload FROM shown_offers")}
            accepted = {(c, w) for c, w in self._decisions.execute(
                "SELECT customer_id, window_id FROM acceptances")}
        return shown, accepted

    def shown_payload(self, customer_id: str, window_id: str) -> str | None:
        with self._lock:
            row = self._decisions.execute(
                "SELECT payload FROM shown_offers WHERE customer_id = ? AND window_id = ?",
                (customer_id, window_id)).fetchone()
        return row[0] if row else None

    def is_accepted(self, customer_id: str, window_id: str) -> bool:
        with self._lock:
            return self._decisions.execute(
                "SELECT 1 FROM acceptances WHERE customer_id = ? AND window_id = ?",
                (customer_id, window_id)).fetchone() is not None

    def accept(self, d: Decision, token_id: str) -> bool:
        """Record an acceptance durably (synchronous=FULL) before returning. True if new, False if
        this window's offer was accepted already (nothing written)."""
        with self._accept_lock:
            con = self._accepts
            con.execute("BEGIN IMMEDIATE")
            try:
                cur = con.execute(
                    "INSERT OR IGNORE INTO acceptances VALUES (?, ?, ?, ?, ?)",
                    (d.customer_id, d.window_id, d.offer_id, d.occurred_at.isoformat(), token_id))
                new = cur.rowcount == 1
                if new:
                    self._append_event(con, d)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            return new


def read_events_after(path: Path, cursor: int | None, limit: int = 50_000) -> list[tuple[Any, ...]]:
    """Events with event_id > cursor, in event_id order, as rows in RAW_STREAM column order
    (timestamps as naive UTC datetimes, dates as dates). A missing file has no events."""
    path = Path(path)
    if not path.exists():
        return []
    # Not mode=ro: a WAL file whose -shm is gone (service stopped) cannot be opened read-only.
    con = sqlite3.connect(str(path), timeout=30.0)
    try:
        con.execute("PRAGMA busy_timeout=30000")
        rows = con.execute(
            f"SELECT {', '.join(EVENT_COLUMNS)} FROM offer_events WHERE event_id > ? "
            "ORDER BY event_id LIMIT ?", (cursor or 0, limit)).fetchall()
    finally:
        con.close()
    out = []
    for r in rows:
        occurred = datetime.fromisoformat(r[1]).astimezone(timezone.utc).replace(tzinfo=None)
        out.append((r[0], occurred, date.fromisoformat(r[2]), *r[3:]))
    return out


def iter_event_batches(path: Path, cursor: int | None, batch: int = 50_000) -> Iterator[list[tuple]]:
    """Successive batches after ``cursor`` until none is left."""
    while True:
        rows = read_events_after(path, cursor, batch)
        if not rows:
            return
        yield rows
        cursor = rows[-1][0]


def load_events_into_raw(events_path: Path, warehouse: Any, log=print) -> dict[str, Any]:
    """Land the events after the stored cursor in raw_onsite.offer_events (idempotent by event_id).
    ``warehouse`` is a DuckDB path or an open connection. Returns counters."""
    from connectors.raw import RawWriter

    loaded = 0
    with RawWriter(warehouse, RAW_STREAM, detail=str(events_path)) as writer:
        state = writer.current_state()
        cursor = int(state.cursor_value) if state and state.cursor_value else None
        result = None
        for rows in iter_event_batches(events_path, cursor):
            result = writer.write_batch(rows, final=False, dedupe=False)
            loaded += len(rows)
        result = writer.write_batch([], final=True)
    log(f"onsite offer events: {loaded} new rows (cursor {result.cursor_value})")
    return {"rows_read": loaded, "cursor": result.cursor_value, "sync_id": result.sync_id}
