"""The BI snapshot: every mart copied into a separate DuckDB file, swapped in atomically.

BI tools never open the live warehouse: DuckDB's single-writer lock would let a dashboard block
the pipeline, and a reader could see a refresh half done. The snapshot is built under a temporary
name next to the target and renamed over it; a reader that holds the previous file open keeps
reading the previous, complete version (POSIX rename semantics) until it reconnects.

With `bi_snapshot.include_contact_columns: false` in the settings file the copy leaves out the
columns the mart contracts tag as personal data (`transform/personal_columns.py`), from every
table that has them: for BI tools that chart customers and never show one.

The temporary name carries the publishing process's id (`.teiki.duckdb.<pid>.tmp`, and DuckDB's
`.wal` beside it). A publish that is killed leaves them behind; the next publish removes every
one whose process is gone and never one whose process still runs (a publish under way): the
sweep every private file's writer does (connectors/channels/files.py).

The file is written in DuckDB's v1.0.0 storage format (storage version 64), not 2.0's default,
which no DuckDB 1.x reads: the DuckDB CLI on PyPI, Evidence's Node client and the Metabase and
Superset drivers are 1.x builds. v1.0.0 is the oldest format every 1.x client reads, and it holds
every type the marts use; the publish refuses a column of any other type (`READABLE_TYPES`), since
DuckDB writes some newer types (BIGNUM) into a v1.0.0 file that a 1.0 client then cannot open.

Beside the file, `parquet/<mart>.parquet` (one file per mart, the same columns left
out) for tools that read Parquet but not DuckDB (Excel's Power Query, pandas, Spark). The folder
is built as `.parquet.<pid>.tmp` and swapped in just after the DuckDB file. On Linux the two
folders are exchanged in one step, so a reader finds the old folder or the new one; elsewhere it
takes two renames and for an instant between them `parquet/` is absent (a reader must retry). A
reader that has a Parquet file open keeps reading the old, complete file either way. A reader that
opens the DuckDB file and then Parquet files in the instant between the two swaps can see the
new file with old Parquet files: `meta.published` is in the file only. Files and folders get
the process umask (Teiki's private umask: 0600/0700, or 0640/0750 with `TEIKI_UMASK=027`).
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
from collections.abc import Collection
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from connectors.channels.files import _process_is_running, remove_stale_temp_files, temp_path

SNAPSHOT_SCHEMAS = ("marts",)
# The oldest storage format every DuckDB 1.x reads (v1.0.0 through v1.5.x; 2.0 files are version
# 69, which none of them reads). The marts use only the plain types below, which it holds.
STORAGE_VERSION = "v1.0.0"
# Types a DuckDB 1.0 client reads from a v1.0.0 file and Parquet holds exactly
# (tests/orchestration/publish/test_bi_clients.py writes one column of each and reads it back with
# 1.x clients). Not HUGEINT: Parquet has no 128-bit integer and DuckDB writes it as DOUBLE.
READABLE_TYPES = frozenset({
    "BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "FLOAT", "DOUBLE",
    "VARCHAR", "DATE", "TIME", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "INTERVAL", "UUID", "BLOB",
})
_DECIMAL = re.compile(r"DECIMAL\(\d+,\d+\)")
PARQUET_DIR = "parquet"


class UnreadableTypeError(ValueError):
    """A published column whose type DuckDB 1.x clients cannot read from the snapshot."""


def publish_snapshot(warehouse: duckdb.DuckDBPyConnection, target: Path, as_of_date: str,
                     leave_out: Collection[str] = ()) -> dict[str, int]:
    """Copy the published schemas from `warehouse` into `target`; return rows per table.

    Columns named in `leave_out` (the personal columns, for a snapshot without contact details)
    are not copied, from whichever table has them.

    Every table is also written as Parquet into `target.parent / "parquet"` (module docstring).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(target)
    parquet_dir = target.parent / PARQUET_DIR
    _remove_stale_folders(parquet_dir)
    tmp = temp_path(target)
    for leftover in (tmp, Path(f"{tmp}.wal")):
        leftover.unlink(missing_ok=True)
    parquet_tmp = _folder_temp(parquet_dir, "tmp")
    shutil.rmtree(parquet_tmp, ignore_errors=True)

    tables = warehouse.execute(
        f"""
        select table_schema, table_name from information_schema.tables
        where table_catalog = current_database() and table_type = 'BASE TABLE'
          and table_schema in ({", ".join("?" for _ in SNAPSHOT_SCHEMAS)})
        order by 1, 2
        """,
        list(SNAPSHOT_SCHEMAS),
    ).fetchall()
    counts: dict[str, int] = {}
    columns = {(schema, table): _copied_columns(warehouse, schema, table, leave_out)
               for schema, table in tables}  # checked before anything is written
    # Explicitly writable: the warehouse connection itself may be read-only.
    quoted = _sql_string(tmp)
    warehouse.execute(f"attach {quoted} as bi_snapshot_tmp "
                      f"(read_only false, storage_version '{STORAGE_VERSION}')")
    try:
        # The umask decides, as for the snapshot file: 0700, or 0750 for a reading group (027).
        os.mkdir(parquet_tmp)
        for schema in sorted({s for s, _ in tables}):
            warehouse.execute(f'create schema bi_snapshot_tmp."{schema}"')
        for schema, table in tables:
            warehouse.execute(
                f'create table bi_snapshot_tmp."{schema}"."{table}" as '
                f'select {columns[schema, table]} from "{schema}"."{table}"'
            )
            counts[f"{schema}.{table}"] = warehouse.execute(
                f'select count(*) from bi_snapshot_tmp."{schema}"."{table}"'
            ).fetchone()[0]
            # From the snapshot's copy: the Parquet file holds exactly the rows the file does. Named
            # by the table alone: the marts are the only published schema.
            parquet = _sql_string(parquet_tmp / f"{table}.parquet")
            warehouse.execute(f'copy bi_snapshot_tmp."{schema}"."{table}" to {parquet} (format parquet)')
        warehouse.execute("create schema bi_snapshot_tmp.meta")
        warehouse.execute(
            "create table bi_snapshot_tmp.meta.published as select ?::timestamp as published_at, "
            "?::date as as_of_date",
            [datetime.now(timezone.utc).replace(tzinfo=None), as_of_date],
        )
    except BaseException:
        warehouse.execute("detach bi_snapshot_tmp")
        tmp.unlink(missing_ok=True)
        shutil.rmtree(parquet_tmp, ignore_errors=True)
        raise
    # Detach checkpoints the file and closes it, so the rename publishes a complete database.
    warehouse.execute("detach bi_snapshot_tmp")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    for path in parquet_tmp.iterdir():
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())
    os.replace(tmp, target)
    _swap_folder(parquet_tmp, parquet_dir)
    return counts


def _sql_string(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _folder_temp(folder: Path, kind: str, pid: int | None = None) -> Path:
    return folder.with_name(f".{folder.name}.{os.getpid() if pid is None else pid}.{kind}")


def _swap_folder(new: Path, folder: Path) -> None:
    """Put `new` in the place of `folder` and remove the old one.

    Linux exchanges the two folders in one step (renameat2 RENAME_EXCHANGE): a reader sees the old
    folder or the new one. Elsewhere (or on a filesystem without it) POSIX renames a folder only
    onto an absent or empty one, hence two renames, with `folder` absent for an instant between."""
    old = _folder_temp(folder, "old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists() and _exchange(new, folder):
        old = new  # now holds the previous contents
    else:
        if folder.exists():
            os.rename(folder, old)
        os.rename(new, folder)
    fd = os.open(folder.parent, os.O_RDONLY)
    try:
        os.fsync(fd)  # the renames themselves survive a crash
    finally:
        os.close(fd)
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _remove_stale_folders(folder: Path) -> None:
    """Remove the temporary Parquet folders of killed publishes (their process is gone)."""
    pattern = re.compile(rf"\.{re.escape(folder.name)}\.(\d+)\.(tmp|old)")
    if not folder.parent.is_dir():
        return
    for path in folder.parent.iterdir():
        match = pattern.fullmatch(path.name)
        if match is None or int(match.group(1)) == os.getpid():
            continue
        try:
            written = path.stat().st_mtime
        except FileNotFoundError:
            continue
        if not _process_is_running(int(match.group(1)), since=written):
            shutil.rmtree(path, ignore_errors=True)


def _copied_columns(warehouse: duckdb.DuckDBPyConnection, schema: str, table: str,
                    leave_out: Collection[str]) -> str:
    """The select list of the copied columns; a copied column of a type 1.x cannot read is an error."""
    columns = [(name, data_type) for name, data_type in warehouse.execute(
        """
        select column_name, data_type from information_schema.columns
        where table_catalog = current_database() and table_schema = ? and table_name = ?
        order by ordinal_position
        """,
        [schema, table],
    ).fetchall() if name not in leave_out]
    for name, data_type in columns:
        if data_type not in READABLE_TYPES and not _DECIMAL.fullmatch(data_type):
            raise UnreadableTypeError(
                f"{schema}.{table}, column {name}: type {data_type} cannot be published in the BI "
                f"snapshot (storage {STORAGE_VERSION} for DuckDB 1.x clients, and Parquet); cast it in the "
                f"mart to one of {', '.join(sorted(READABLE_TYPES))} or DECIMAL(p,s)"
            )
    return ", ".join('"' + name.replace('"', '""') + '"' for name, _ in columns)
