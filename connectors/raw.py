"""Raw layer: how every connector lands records in the DuckDB warehouse.

One schema per source instance (``raw_<source>``), one table per stream. Each table holds the
stream's payload columns (primary key, cursor field and either typed CSV columns plus ``_extra``
or a ``_record`` JSON column for API connectors) followed by the writer's metadata columns::

    _source       VARCHAR    source instance name ("csv", "shopify", ...)
    _file         VARCHAR    file the row came from (CSV; NULL for APIs)
    _line         BIGINT     physical line of the record in that file (CSV; NULL for APIs)
    _record_hash  VARCHAR    md5 of the payload columns; unchanged hash => row left untouched
    _loaded_at    TIMESTAMP  UTC time of the load that last inserted or changed the row
    _sync_id      VARCHAR    sync that last inserted or changed the row

Loads are idempotent upserts by primary key, and **a row never replaces a newer version of
itself**: a stream's ``version_field`` (the column that dates a record's version, e.g.
``updated_at``) is compared with the stored row's, and a row older than the stored one is not
applied (ties and NULLs apply: nothing says the stored one is newer). A batch the caller knows
to be older than what is stored (``write_batch(stale=True)``: e.g. an export file dropped before
one already loaded, for a stream without a version field) inserts new keys only. Either way the
rows kept are counted (``rows_kept_newer``) and the sync_log note names the files (or syncs)
that wrote the newer versions. A batch (rows + cursor/state + sync_log row) commits
in one transaction or not at all; a failed sync writes only a ``failed`` sync_log row, in its own
transaction. Bookkeeping:

    raw_meta.sync_state  one row per (source, stream): cursor_field, cursor_value (text),
                         state (JSON, connector-specific), sync_id, updated_at (UTC)
    raw_meta.sync_log    one row per sync: sync_id, source, stream, started_at, finished_at,
                         status (running | success | skipped | failed), rows_read,
                         rows_inserted, rows_updated, rows_unchanged, rows_kept_newer
                         (stored rows newer than the batch's, left as they were), cursor_value,
                         detail (CSV: the file), note (why skipped, columns added), error

``running`` marks a paged sync whose last committed page was not final (or whose process died).

Usage (an API connector streaming pages)::

    stream = RawStream("shopify", "orders", columns=(RawColumn("id", "BIGINT"),
                       RawColumn("updated_at", "TIMESTAMP"), RawColumn("_record", "JSON")),
                       primary_key=("id",), cursor_field="updated_at")
    with RawWriter(warehouse, stream) as writer:
        previous = writer.current_state()          # SyncState | None
        for page in pages(since=previous.cursor_value if previous else None):
            writer.write_batch(page_rows, final=False)   # rows + cursor commit together
        writer.write_batch([], final=True)               # marks the sync_log row 'success'

A deletion pass lists the source's keys and lets the writer mark the rest (a ``deleted_at``
TIMESTAMP column set, the stored record kept), with the page's rows, in one commit::

        writer.mark_deleted(listed_ids, at=started, after=prev_last_id, through=last_id,
                            rows=page_rows, state=state)

and a source that reports deletions (key -> when) has them marked the same way::

        writer.mark_deleted_keys({product_id: occurred_at}, state=state)

A full snapshot (every live record of the stream in one batch, e.g. a full CSV export) upserts
its rows and marks deleted, in the same commit, every stored row it no longer holds (any primary
key; a stored row whose version is later than the snapshot was taken is not marked)::

        writer.write_snapshot(rows, at=loaded, column="_deleted_at", taken_at=dropped,
                              file=path, lines=lines)

Rows are sequences of Python values in ``stream.columns`` order (str, int, float, bool,
date, datetime (naive UTC), None; JSON columns take JSON text or dict/list). In typed raw columns
an empty string is stored as NULL (the staging format cannot tell them apart); JSON payloads keep
the difference. Bulk loading stages rows in a temporary UTF-8 CSV read by DuckDB's ``read_csv``
with explicit column types (no numpy/arrow, no executemany).

DuckDB allows one writing process per file: open the warehouse read-write from one process only.
This module never imports dagster.
"""

from __future__ import annotations

import csv
import gc
import itertools
import json
import operator
import os
import re
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Callable, Collection, Iterable, Iterator, Mapping, Sequence, Union

import duckdb

__all__ = [
    "AUTO",
    "METADATA_COLUMNS",
    "META_SCHEMA",
    "RawColumn",
    "RawSchemaError",
    "RawStream",
    "RawWriter",
    "SyncResult",
    "SyncState",
    "WarehouseLike",
    "ensure_meta",
    "ensure_table",
    "get_sync_state",
    "new_sync_id",
    "open_warehouse",
    "utc_now",
]

META_SCHEMA = "raw_meta"

#: Column types a raw table may use (DuckDB names).
SQL_TYPES = frozenset(
    {"VARCHAR", "BIGINT", "INTEGER", "DOUBLE", "BOOLEAN", "DATE", "TIMESTAMP", "JSON"}
)

#: Metadata columns the writer appends to every raw table, in order.
METADATA_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_source", "VARCHAR"),
    ("_file", "VARCHAR"),
    ("_line", "BIGINT"),
    ("_record_hash", "VARCHAR"),
    ("_loaded_at", "TIMESTAMP"),
    ("_sync_id", "VARCHAR"),
)
_METADATA_NAMES = frozenset(name for name, _ in METADATA_COLUMNS)

SYNC_STATUSES = ("running", "success", "skipped", "failed")

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")

_META_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {META_SCHEMA};
CREATE TABLE IF NOT EXISTS {META_SCHEMA}.sync_state (
    source       VARCHAR NOT NULL,
    stream       VARCHAR NOT NULL,
    cursor_field VARCHAR,
    cursor_value VARCHAR,
    state        JSON,
    sync_id      VARCHAR,
    updated_at   TIMESTAMP,
    PRIMARY KEY (source, stream)
);
CREATE TABLE IF NOT EXISTS {META_SCHEMA}.sync_log (
    sync_id        VARCHAR PRIMARY KEY,
    source         VARCHAR NOT NULL,
    stream         VARCHAR NOT NULL,
    started_at     TIMESTAMP,
    finished_at    TIMESTAMP,
    status         VARCHAR NOT NULL,
    rows_read      BIGINT,
    rows_inserted  BIGINT,
    rows_updated   BIGINT,
    rows_unchanged BIGINT,
    cursor_value   VARCHAR,
    detail         VARCHAR,
    note           VARCHAR,
    error          VARCHAR
);
ALTER TABLE {META_SCHEMA}.sync_log ADD COLUMN IF NOT EXISTS rows_kept_newer BIGINT;
"""


class RawSchemaError(ValueError):
    """A stream definition is invalid, or conflicts with the table already in the warehouse."""


class _Auto:
    def __repr__(self) -> str:
        return "AUTO"


#: Default for ``write_batch(cursor_value=...)``: max(previous cursor, max cursor_field in batch).
AUTO: Any = _Auto()


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def utc_now() -> datetime:
    """Current UTC time as a naive datetime (how TIMESTAMP columns store it)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def new_sync_id() -> str:
    """A sortable unique sync id, e.g. ``20261123T051503Z-3f9a1c2e``."""
    return f"{utc_now():%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class RawColumn:
    name: str
    sql_type: str


@dataclass(frozen=True)
class RawStream:
    """One raw table: ``raw_<source>.<name>``.

    ``columns`` are the payload columns (including primary key and cursor field), in table order;
    the writer adds :data:`METADATA_COLUMNS` after them. ``version_field`` (optional) is the
    column that dates a record's version (``updated_at``): a row older than the stored one by it
    is not applied. Without one, a row's version is the batch's (see ``write_batch(stale=)``).
    """

    source: str
    name: str
    columns: tuple[RawColumn, ...]
    primary_key: tuple[str, ...]
    cursor_field: str | None = None
    version_field: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "primary_key", tuple(self.primary_key))
        where = f"raw stream {self.source}.{self.name}"
        for ident, what in ((self.source, "source"), (self.name, "stream name")):
            if not _IDENT.match(ident) or ident.startswith("_"):
                raise RawSchemaError(f"{where}: {what} {ident!r} must be lower snake_case")
        names = [c.name for c in self.columns]
        if not names:
            raise RawSchemaError(f"{where}: no columns")
        for col in self.columns:
            if not _IDENT.match(col.name):
                raise RawSchemaError(f"{where}: column name {col.name!r} must be lower snake_case")
            if col.name in _METADATA_NAMES:
                raise RawSchemaError(f"{where}: column name {col.name!r} is reserved for metadata")
            if col.sql_type not in SQL_TYPES:
                raise RawSchemaError(
                    f"{where}: column {col.name}: type {col.sql_type!r} is not one of "
                    f"{', '.join(sorted(SQL_TYPES))}"
                )
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise RawSchemaError(f"{where}: duplicate column names {dupes}")
        if not self.primary_key:
            raise RawSchemaError(f"{where}: primary_key is empty")
        for key in self.primary_key:
            if key not in names:
                raise RawSchemaError(f"{where}: primary key column {key!r} is not a column")
        if self.cursor_field is not None and self.cursor_field not in names:
            raise RawSchemaError(f"{where}: cursor_field {self.cursor_field!r} is not a column")
        if self.version_field is not None:
            if self.version_field not in names:
                raise RawSchemaError(f"{where}: version_field {self.version_field!r} is not a column")
            if self.column_type(self.version_field) not in ("TIMESTAMP", "DATE", "BIGINT", "INTEGER"):
                raise RawSchemaError(f"{where}: version_field {self.version_field!r} must be a "
                                     f"TIMESTAMP, DATE or integer column")

    @property
    def schema(self) -> str:
        return f"raw_{self.source}"

    @property
    def table(self) -> str:
        """Quoted, schema-qualified table name."""
        return f"{_q(self.schema)}.{_q(self.name)}"

    def column_type(self, name: str) -> str:
        for col in self.columns:
            if col.name == name:
                return col.sql_type
        raise KeyError(name)


@dataclass(frozen=True)
class SyncState:
    source: str
    stream: str
    cursor_field: str | None
    cursor_value: str | None
    state: dict[str, Any]
    sync_id: str | None
    updated_at: datetime | None


@dataclass
class SyncResult:
    """Outcome of one sync (for a CSV export: one file)."""

    sync_id: str
    source: str
    stream: str
    status: str  # running | success | skipped | failed
    detail: str | None = None  # CSV: the file path
    rows_read: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    rows_kept_newer: int = 0  # stored rows newer than the batch's version, left as they were
    rows_deleted: int = 0  # rows a full snapshot no longer holds, marked (counted as updated)
    cursor_value: str | None = None
    note: str | None = None  # e.g. why a sync was skipped
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    @property
    def file(self) -> str | None:
        return self.detail


# --------------------------------------------------------------------------------------------
# connections and bookkeeping


WarehouseLike = Union[str, "os.PathLike[str]", duckdb.DuckDBPyConnection]


@contextmanager
def open_warehouse(warehouse: WarehouseLike) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield a read-write connection: the one given, or a new one on a path (closed after)."""
    if isinstance(warehouse, duckdb.DuckDBPyConnection):
        yield warehouse
        return
    con = duckdb.connect(str(warehouse))
    try:
        yield con
    finally:
        con.close()


def ensure_meta(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``raw_meta.sync_state`` and ``raw_meta.sync_log`` if missing (idempotent)."""
    con.execute(_META_DDL)


def get_sync_state(
    con: duckdb.DuckDBPyConnection, source: str, stream: str, *, check_exists: bool = True
) -> SyncState | None:
    """The committed cursor/state of one stream, or None if it never synced."""
    if check_exists and not _table_exists(con, META_SCHEMA, "sync_state"):
        return None
    row = con.execute(
        f"SELECT cursor_field, cursor_value, CAST(state AS VARCHAR), sync_id, updated_at "
        f"FROM {META_SCHEMA}.sync_state WHERE source = ? AND stream = ?",
        [source, stream],
    ).fetchone()
    if row is None:
        return None
    return SyncState(
        source=source,
        stream=stream,
        cursor_field=row[0],
        cursor_value=row[1],
        state=json.loads(row[2]) if row[2] else {},
        sync_id=row[3],
        updated_at=row[4],
    )


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = ? AND table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def _table_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    rows = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = "
        "current_database() AND schema_name = ? AND table_name = ? ORDER BY column_index",
        [schema, table],
    ).fetchall()
    return {name: dtype for name, dtype in rows}


def ensure_table(con: duckdb.DuckDBPyConnection, stream: RawStream) -> list[str]:
    """Create the stream's table, or add columns it lacks (schema drift). Returns the columns
    added to an existing table (empty when the table was just created).

    Call inside the batch transaction so a failed first load leaves no empty table behind.
    Columns the table has but the stream no longer declares are kept (NULL for new rows).
    """
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(stream.schema)}")
    wanted = list((c.name, c.sql_type) for c in stream.columns) + list(METADATA_COLUMNS)
    existing = _table_columns(con, stream.schema, stream.name)
    if not existing:
        cols = ",\n    ".join(f"{_q(n)} {t}" for n, t in wanted)
        pk = ", ".join(_q(k) for k in stream.primary_key)
        con.execute(f"CREATE TABLE {stream.table} (\n    {cols},\n    PRIMARY KEY ({pk})\n)")
        return []
    added = []
    for name, sql_type in wanted:
        have = existing.get(name)
        if have is None:
            con.execute(f"ALTER TABLE {stream.table} ADD COLUMN {_q(name)} {sql_type}")
            added.append(name)
        elif have != sql_type:
            raise RawSchemaError(
                f"{stream.schema}.{stream.name}.{name}: the table has type {have} but the stream "
                f"now declares {sql_type}; migrate the table (or rename the column) first"
            )
    return added


# --------------------------------------------------------------------------------------------
# the writer


class RawWriter:
    """Writes one sync of one stream. Use as a context manager.

    ``warehouse`` is a DuckDB file path (opened read-write, closed on exit) or an open connection
    that has no transaction in progress. Each :meth:`write_batch` call is one transaction holding
    the rows, the stream's cursor/state and the sync_log row. An exception escaping the ``with``
    block (or :meth:`fail`) records a ``failed`` sync_log row in its own transaction.
    """

    def __init__(
        self,
        warehouse: WarehouseLike,
        stream: RawStream,
        *,
        detail: str | None = None,
        sync_id: str | None = None,
    ) -> None:
        self.stream = stream
        self.detail = detail
        self.sync_id = sync_id or new_sync_id()
        self._warehouse = warehouse
        self._owns = not isinstance(warehouse, duckdb.DuckDBPyConnection)
        self._con: duckdb.DuckDBPyConnection | None = None if self._owns else warehouse
        self.result = SyncResult(
            sync_id=self.sync_id,
            source=stream.source,
            stream=stream.name,
            status="running",
            detail=detail,
            started_at=utc_now(),
        )
        self._closed_status: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> "RawWriter":
        self.open()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc is not None and self._closed_status is None and self._con is not None:
                self.fail(exc)
        finally:
            self.close()

    def open(self) -> None:
        if self._con is None:
            self._con = duckdb.connect(str(self._warehouse))
        ensure_meta(self.con)

    def close(self) -> None:
        if self._owns and self._con is not None:
            self._con.close()
            self._con = None

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise RuntimeError("RawWriter is not open (use it as a context manager)")
        return self._con

    def current_state(self) -> SyncState | None:
        """The stream's committed cursor and state."""
        return get_sync_state(self.con, self.stream.source, self.stream.name, check_exists=False)

    # -- outcomes without rows ---------------------------------------------------------------
    def skip(self, note: str | None = None) -> SyncResult:
        """Record this sync as ``skipped`` with an optional note (nothing else changes)."""
        state = self.current_state()
        self.result.cursor_value = state.cursor_value if state else None
        self._finish_alone("skipped", note)
        return self.result

    def fail(self, error: BaseException | str) -> SyncResult:
        """Record this sync as ``failed`` with the error text (nothing else changes)."""
        if isinstance(error, BaseException):
            self.result.exception = error
        self._finish_alone("failed", None, error=str(error))
        return self.result

    def _finish_alone(self, status: str, note: str | None, error: str | None = None) -> None:
        self.result.status = status
        self.result.finished_at = utc_now()
        if error is not None:
            self.result.error = error
        if note is not None:
            self.result.note = note
        self._closed_status = status
        con = self.con
        _rollback_quietly(con)
        con.begin()
        try:
            self._upsert_log(con)
            con.commit()
        except BaseException:
            _rollback_quietly(con)
            raise

    # -- the batch ---------------------------------------------------------------------------
    def write_batch(
        self,
        rows: Iterable[Sequence[Any]],
        *,
        file: str | None = None,
        lines: Sequence[int | None] | None = None,
        cursor_value: Any = AUTO,
        state: dict[str, Any] | None = None,
        final: bool = True,
        dedupe: bool = True,
        stale: bool = False,
        _snapshot: tuple[datetime, str, datetime | None] | None = None,
    ) -> SyncResult:
        """Upsert ``rows`` and commit them together with the cursor, state and sync_log row.

        rows:          sequences in ``stream.columns`` order.
        file, lines:   ``_file`` for the whole batch and ``_line`` per row (CSV); default NULL.
        cursor_value:  AUTO = max(previous cursor, max of cursor_field in the batch); None = keep
                       the previous cursor; anything else is stored as given (as text).
        state:         connector-specific JSON state replacing the previous one; None = keep.
        final:         True marks the sync ``success``; False leaves it ``running`` so that a
                       paged sync can commit page by page.
        dedupe:        True: of rows sharing a primary key within the batch, the last wins.
                       False (faster) if the caller guarantees unique keys; a duplicate then
                       fails the batch.
        stale:         True if the batch is known to be older than what is stored (an export
                       file dropped before one already loaded): new keys are inserted, stored
                       rows it would change are kept (counted in ``rows_kept_newer``). Rows
                       older than the stored ones by ``stream.version_field`` are kept either way.
        """
        if self._closed_status is not None:
            raise RuntimeError(f"sync {self.sync_id} is already {self._closed_status}")
        stream = self.stream
        con = self.con
        ncols = len(stream.columns)
        json_idx = [i for i, c in enumerate(stream.columns) if c.sql_type == "JSON"]
        loaded_at = utc_now()

        fd, stage_path = tempfile.mkstemp(prefix="teiki_stage_", suffix=".csv")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh, _gc_paused():
                writer = csv.writer(fh, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
                counter = _Counter()
                writer.writerows(_stage_rows(rows, lines, json_idx, ncols, stream, counter))
            self.result = self._commit_batch(
                con, stage_path, file, counter.n, cursor_value, state, loaded_at, final, dedupe,
                stale, _snapshot,
            )
        finally:
            try:
                os.unlink(stage_path)
            except OSError:
                pass
        return self.result

    def write_snapshot(
        self,
        rows: Iterable[Sequence[Any]],
        *,
        at: datetime,
        column: str = "deleted_at",
        taken_at: datetime | None = None,
        **batch: Any,
    ) -> SyncResult:
        """Write the stream's full snapshot: upsert ``rows`` (every live record) and mark
        deleted every stored row whose key they lack (``column`` set to ``at``, every other
        column kept as stored), in one commit with ``batch`` (:meth:`write_batch` keywords).
        A row marked earlier that comes back is live again (its ``column`` NULL).
        taken_at: when the snapshot was taken (an export file's drop time, naive UTC): a stored
        row whose version (``stream.version_field``) is later is not marked, the snapshot
        predates it. A ``stale`` batch marks nothing. Any primary key. The count is
        ``result.rows_deleted`` (included in ``rows_updated``) and in the note."""
        self._deletion_column(column, single_key=False)
        return self.write_batch(rows, _snapshot=(at, column, taken_at), **batch)

    def mark_deleted(
        self,
        present: Collection[Any],
        *,
        at: datetime,
        after: Any = None,
        through: Any = None,
        rows: Iterable[Sequence[Any]] = (),
        column: str = "deleted_at",
        **batch: Any,
    ) -> int:
        """Mark deleted every stored row whose key is not in ``present``: ``column`` set to
        ``at``, every other column kept as stored. Returns how many rows were marked.

        present:        keys the source still lists (the stream's single primary key).
        after, through: only keys with ``after < key <= through`` (None: no bound), for a
                        pass that lists the source page by page in key order.
        rows:           the page's own rows, upserted in the same transaction.
        batch:          :meth:`write_batch` keywords (``state``, ``cursor_value``, ``final``);
                        ``final`` defaults to False, ``cursor_value`` to None (keep).
        Rows already marked stay as they are.
        """
        self._deletion_column(column)
        gone = self._not_present(present, at, after, through, column)
        batch.setdefault("final", False)
        batch.setdefault("cursor_value", None)
        self.write_batch(list(rows) + gone, **batch)
        return len(gone)

    def mark_deleted_keys(
        self,
        deleted: Mapping[Any, datetime],
        *,
        unknown: Callable[[Any, datetime], Sequence[Any]] | None = None,
        column: str = "deleted_at",
        **batch: Any,
    ) -> int:
        """Mark deleted the rows whose keys the source reported deleted (``key -> when``), for
        sources that list deletions: ``column`` set, every other column kept as stored. A key
        already marked is left alone; a key never stored gets the row ``unknown(key, at)``
        (skipped when None). One commit with ``batch`` (:meth:`write_batch` keywords;
        ``final`` defaults to False, ``cursor_value`` to None). Returns the rows written."""
        d = self._deletion_column(column)
        stored = self._stored(list(deleted))
        json_idx = [i for i, c in enumerate(self.stream.columns) if c.sql_type == "JSON"]
        rows = []
        for key, at in deleted.items():
            row = stored.get(key)
            if row is None:
                if unknown is not None:  # JSON as text, like the stored rows beside it
                    rows.append(_jsonify(unknown(key, at), json_idx))
            elif row[d] is None:
                rows.append(row[:d] + (at,) + row[d + 1:])
        batch.setdefault("final", False)
        batch.setdefault("cursor_value", None)
        self.write_batch(rows, **batch)
        return len(rows)

    def _deletion_column(self, column: str, single_key: bool = True) -> int:
        stream = self.stream
        if single_key and len(stream.primary_key) != 1:
            raise RawSchemaError(f"{stream.schema}.{stream.name}: marking deletions needs a "
                                 f"single-column primary key")
        names = [(c.name, c.sql_type) for c in stream.columns]
        if (column, "TIMESTAMP") not in names:
            raise RawSchemaError(f"{stream.schema}.{stream.name} has no TIMESTAMP column {column}")
        return names.index((column, "TIMESTAMP"))

    def _select(self) -> str:
        return ", ".join(f"CAST({_q(c.name)} AS VARCHAR)" if c.sql_type == "JSON" else _q(c.name)
                         for c in self.stream.columns)

    def _stored(self, keys: list[Any]) -> dict[Any, tuple[Any, ...]]:
        """The stored rows (payload columns, JSON as text) of ``keys``, by key."""
        stream = self.stream
        if not keys or not _table_exists(self.con, stream.schema, stream.name):
            return {}
        k = [c.name for c in stream.columns].index(stream.primary_key[0])
        found = self.con.execute(f"SELECT {self._select()} FROM {stream.table} "
                                 f"WHERE {_q(stream.primary_key[0])} IN (SELECT unnest(?))",
                                 [keys]).fetchall()
        return {row[k]: row for row in found}

    def _not_present(self, present: Collection[Any], at: datetime, after: Any, through: Any,
                     column: str) -> list[tuple[Any, ...]]:
        stream = self.stream
        if not _table_exists(self.con, stream.schema, stream.name):
            return []
        key = _q(stream.primary_key[0])
        select = self._select()
        where, args = [f"{_q(column)} IS NULL"], []
        if after is not None:
            where.append(f"{key} > ?")
            args.append(after)
        if through is not None:
            where.append(f"{key} <= ?")
            args.append(through)
        names = [c.name for c in stream.columns]
        k, d = names.index(stream.primary_key[0]), names.index(column)
        found = self.con.execute(f"SELECT {select} FROM {stream.table} WHERE {' AND '.join(where)} "
                                 f"ORDER BY {key}", args).fetchall()
        return [row[:d] + (at,) + row[d + 1:] for row in found if row[k] not in present]

    def _commit_batch(
        self,
        con: duckdb.DuckDBPyConnection,
        stage_path: str,
        file: str | None,
        n_read: int,
        cursor_value: Any,
        state: dict[str, Any] | None,
        loaded_at: datetime,
        final: bool,
        dedupe: bool,
        stale: bool = False,
        snapshot: tuple[datetime, str, datetime | None] | None = None,
    ) -> SyncResult:
        stream = self.stream
        stage = _q(f"_teiki_stage_{self.sync_id.replace('-', '_')}")
        payload = [c.name for c in stream.columns]
        pk = ", ".join(_q(k) for k in stream.primary_key)
        col_types = ", ".join(
            f"'{c.name}': '{c.sql_type}'" for c in stream.columns
        ) + ", '_line': 'BIGINT', '_seq': 'BIGINT'"
        hash_expr = (
            "md5(CAST(to_json(struct_pack("
            + ", ".join(f"{_q(n)} := {_q(n)}" for n in payload)
            + ")) AS VARCHAR))"
        )
        con.begin()
        try:
            previous = get_sync_state(con, stream.source, stream.name, check_exists=False)
            added = ensure_table(con, stream)
            con.execute(
                f"CREATE TEMP TABLE {stage} AS "
                f"SELECT * EXCLUDE (_seq), {hash_expr} AS _record_hash "
                f"FROM read_csv(?, columns = {{{col_types}}}, header = false, "
                f"auto_detect = false, delim = ',', quote = '\"', escape = '\"', nullstr = '', "
                f"max_line_size = 67108864) "
                + (f"QUALIFY row_number() OVER (PARTITION BY {pk} ORDER BY _seq DESC) = 1"
                   if dedupe else ""),
                [stage_path],
            )
            join = " AND ".join(f"s.{_q(k)} = t.{_q(k)}" for k in stream.primary_key)
            first_pk = _q(stream.primary_key[0])
            # A stored row newer than the incoming one (by version_field; any, for a stale
            # batch) is kept: an older export never overwrites a newer version of a record.
            version = stream.version_field
            older = ("true" if stale else
                     f"coalesce(s.{_q(version)} < t.{_q(version)}, false)" if version else "false")
            changed = (f"t.{first_pk} IS NOT NULL AND t._record_hash IS DISTINCT FROM "
                       f"s._record_hash")
            n_new, n_changed, n_kept, n_same = con.execute(
                f"SELECT count(*) FILTER (WHERE t.{first_pk} IS NULL), "
                f"count(*) FILTER (WHERE {changed} AND NOT {older}), "
                f"count(*) FILTER (WHERE {changed} AND {older}), "
                f"count(*) FILTER (WHERE t._record_hash = s._record_hash) "
                f"FROM {stage} s LEFT JOIN {stream.table} t ON {join}"
            ).fetchone()
            kept_note = None
            if n_kept:
                kept_from = con.execute(
                    f"SELECT coalesce(t._file, 'sync ' || t._sync_id) AS origin, count(*) "
                    f"FROM {stage} s JOIN {stream.table} t ON {join} "
                    f"WHERE {changed} AND {older} GROUP BY origin ORDER BY 2 DESC, 1 LIMIT 5"
                ).fetchall()
                basis = "this batch is older than the stored data" if stale else (
                    f"{version} newer than this batch's")
                kept_note = (f"kept {n_kept} stored rows newer than this batch's ({basis}): "
                             + ", ".join(f"{origin} ({n})" for origin, n in kept_from)
                             + (", ..." if len(kept_from) == 5 else ""))

            if n_new or n_changed:
                insert_cols = payload + [n for n, _ in METADATA_COLUMNS]
                non_key = [n for n in insert_cols if n not in stream.primary_key]
                sets = ", ".join(f"{_q(n)} = excluded.{_q(n)}" for n in non_key)
                newer_only = ("" if not version else
                              f" AND NOT coalesce(excluded.{_q(version)} < tgt.{_q(version)}, false)")
                conflict = ("DO NOTHING" if stale else
                            f"DO UPDATE SET {sets} WHERE excluded._record_hash IS DISTINCT FROM "
                            f"tgt._record_hash{newer_only}")
                con.execute(
                    f"INSERT INTO {stream.table} AS tgt ({', '.join(_q(n) for n in insert_cols)}) "
                    f"SELECT {', '.join(_q(n) for n in payload)}, ?, ?, _line, _record_hash, ?, ? "
                    f"FROM {stage} "
                    f"ON CONFLICT ({pk}) {conflict}",
                    [stream.source, file, loaded_at, self.sync_id],
                )
            n_gone = 0
            if snapshot is not None and not stale:
                n_gone = self._mark_absent(con, stage, snapshot, file, loaded_at)

            new_cursor = self._next_cursor(con, stage, previous, cursor_value)
            new_state = state if state is not None else (previous.state if previous else {})
            con.execute(
                f"INSERT INTO {META_SCHEMA}.sync_state AS s "
                f"(source, stream, cursor_field, cursor_value, state, sync_id, updated_at) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?) "
                f"ON CONFLICT (source, stream) DO UPDATE SET cursor_field = excluded.cursor_field, "
                f"cursor_value = excluded.cursor_value, state = excluded.state, "
                f"sync_id = excluded.sync_id, updated_at = excluded.updated_at",
                [
                    stream.source,
                    stream.name,
                    stream.cursor_field,
                    new_cursor,
                    json.dumps(new_state, ensure_ascii=False, default=str),
                    self.sync_id,
                    loaded_at,
                ],
            )
            # rows_read counts every row given; in-batch duplicates (dropped) count as unchanged.
            n_dupes = n_read - (n_new + n_changed + n_kept + n_same)
            pending = replace(
                self.result,
                status="success" if final else "running",
                rows_read=self.result.rows_read + n_read,
                rows_inserted=self.result.rows_inserted + n_new,
                rows_updated=self.result.rows_updated + n_changed + n_gone,
                rows_unchanged=self.result.rows_unchanged + n_same + n_dupes,
                rows_kept_newer=self.result.rows_kept_newer + n_kept,
                rows_deleted=self.result.rows_deleted + n_gone,
                cursor_value=new_cursor,
                finished_at=utc_now() if final else None,
                note=_join_notes(self.result.note,
                                 f"added columns: {', '.join(added)}" if added else None,
                                 kept_note,
                                 f"marked {n_gone} rows deleted: not in this full snapshot"
                                 if n_gone else None),
            )
            self._upsert_log(con, pending)
            con.execute(f"DROP TABLE {stage}")
            con.commit()
        except BaseException:
            _rollback_quietly(con)
            raise
        if final:
            self._closed_status = "success"
        return pending

    def _mark_absent(self, con: duckdb.DuckDBPyConnection, stage: str,
                     snapshot: tuple[datetime, str, datetime | None], file: str | None,
                     loaded_at: datetime) -> int:
        """Mark deleted the live stored rows whose keys the staged snapshot lacks (not those
        whose version is later than the snapshot was taken). Returns how many."""
        stream = self.stream
        at, column, taken_at = snapshot
        payload = [c.name for c in stream.columns]
        # the same hash as a staged row with this deletion time, so a row that comes back differs
        hash_expr = ("md5(CAST(to_json(struct_pack(" + ", ".join(
            f"{_q(n)} := " + (f"CAST(? AS TIMESTAMP)" if n == column else f"t.{_q(n)}")
            for n in payload) + ")) AS VARCHAR))")
        join = " AND ".join(f"s.{_q(k)} = t.{_q(k)}" for k in stream.primary_key)
        where = [f"t.{_q(column)} IS NULL", f"NOT EXISTS (SELECT 1 FROM {stage} s WHERE {join})"]
        args: list[Any] = []
        version = stream.version_field
        if taken_at is not None and version and stream.column_type(version) in ("TIMESTAMP", "DATE"):
            where.append(f"NOT coalesce(CAST(t.{_q(version)} AS TIMESTAMP) > ?, false)")
            args.append(taken_at)
        cond = " AND ".join(where)
        n = con.execute(f"SELECT count(*) FROM {stream.table} t WHERE {cond}", args).fetchone()[0]
        if n:
            con.execute(
                f"UPDATE {stream.table} AS t SET {_q(column)} = ?, _record_hash = {hash_expr}, "
                f"_file = ?, _line = NULL, _loaded_at = ?, _sync_id = ? WHERE {cond}",
                [at, at, file, loaded_at, self.sync_id, *args],
            )
        return n

    def _next_cursor(
        self,
        con: duckdb.DuckDBPyConnection,
        stage: str,
        previous: SyncState | None,
        cursor_value: Any,
    ) -> str | None:
        prev = previous.cursor_value if previous else None
        if cursor_value is None:
            return prev
        if cursor_value is not AUTO:
            return cursor_value if isinstance(cursor_value, str) else str(cursor_value)
        field_ = self.stream.cursor_field
        if field_ is None:
            return prev
        sql_type = self.stream.column_type(field_)
        return con.execute(
            f"SELECT CAST(max(c) AS VARCHAR) FROM ("
            f"SELECT max({_q(field_)}) AS c FROM {stage} "
            f"UNION ALL SELECT TRY_CAST(CAST(? AS VARCHAR) AS {sql_type}))",
            [prev],
        ).fetchone()[0]

    def _upsert_log(self, con: duckdb.DuckDBPyConnection, r: SyncResult | None = None) -> None:
        r = r or self.result
        con.execute(
            f"INSERT INTO {META_SCHEMA}.sync_log AS l (sync_id, source, stream, started_at, "
            f"finished_at, status, rows_read, rows_inserted, rows_updated, rows_unchanged, "
            f"rows_kept_newer, cursor_value, detail, note, error) "
            f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            f"ON CONFLICT (sync_id) DO UPDATE SET finished_at = excluded.finished_at, "
            f"status = excluded.status, rows_read = excluded.rows_read, "
            f"rows_inserted = excluded.rows_inserted, rows_updated = excluded.rows_updated, "
            f"rows_unchanged = excluded.rows_unchanged, "
            f"rows_kept_newer = excluded.rows_kept_newer, cursor_value = excluded.cursor_value, "
            f"detail = excluded.detail, note = excluded.note, error = excluded.error",
            [
                r.sync_id,
                r.source,
                r.stream,
                r.started_at,
                r.finished_at,
                r.status,
                r.rows_read,
                r.rows_inserted,
                r.rows_updated,
                r.rows_unchanged,
                r.rows_kept_newer,
                r.cursor_value,
                r.detail,
                r.note,
                r.error,
            ],
        )


def _join_notes(*notes: str | None) -> str | None:
    kept = [n for n in notes if n]
    return "; ".join(kept) if kept else None


def _rollback_quietly(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.rollback()
    except duckdb.Error:
        pass  # no transaction in progress


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while churning through many short-lived acyclic tuples."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Counter:
    n = 0


def _stage_rows(
    rows: Iterable[Sequence[Any]],
    lines: Sequence[int | None] | None,
    json_idx: list[int],
    ncols: int,
    stream: RawStream,
    counter: _Counter,
) -> Iterator[tuple[Any, ...]]:
    """Yield staging tuples (payload..., _line, _seq), counting them in ``counter.n``.

    Fast path (C-level map/zip) when the first row's JSON values are already text; otherwise
    JSON values that are not text are serialized with json.dumps, row by row.
    """
    if lines is not None and hasattr(rows, "__len__") and len(rows) != len(lines):  # type: ignore[arg-type]
        raise RawSchemaError(
            f"{stream.schema}.{stream.name}: {len(rows)} rows but {len(lines)} line numbers"  # type: ignore[arg-type]
        )
    it = iter(rows)
    first = next(it, None)
    if first is None:
        counter.n = 0
        if lines:
            raise RawSchemaError(f"{stream.schema}.{stream.name}: no rows but {len(lines)} lines")
        return
    if len(first) != ncols:
        raise RawSchemaError(
            f"{stream.schema}.{stream.name}: rows have {len(first)} values, expected {ncols} "
            f"({', '.join(c.name for c in stream.columns)})"
        )
    seq = itertools.count(1)
    line_iter: Iterable[int | None] = lines if lines is not None else itertools.repeat(None)
    all_rows = itertools.chain((first,), it)
    needs_json = any(first[i] is not None and not isinstance(first[i], str) for i in json_idx)
    if needs_json:
        all_rows = map(_jsonify, all_rows, itertools.repeat(json_idx))
    else:
        all_rows = map(tuple, all_rows)
    staged = map(operator.add, all_rows, zip(line_iter, seq))
    yield from staged
    counter.n = next(seq) - 1
    if lines is not None and (len(lines) != counter.n or next(it, None) is not None):
        raise RawSchemaError(
            f"{stream.schema}.{stream.name}: {counter.n} rows but {len(lines)} line numbers"
        )


def _jsonify(row: Sequence[Any], json_idx: list[int]) -> tuple[Any, ...]:
    out = list(row)
    for i in json_idx:
        v = out[i]
        if v is not None and not isinstance(v, str):
            out[i] = json.dumps(v, ensure_ascii=False, default=str)
    return tuple(out)
