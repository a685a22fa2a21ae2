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
"""

from __future__ import annotations

import os
from collections.abc import Collection
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from connectors.channels.files import remove_stale_temp_files, temp_path

SNAPSHOT_SCHEMAS = ("marts",)


def publish_snapshot(warehouse: duckdb.DuckDBPyConnection, target: Path, as_of_date: str,
                     leave_out: Collection[str] = ()) -> dict[str, int]:
    """Copy the published schemas from `warehouse` into `target`; return rows per table.

    Columns named in `leave_out` (the personal columns, for a snapshot without contact details)
    are not copied, from whichever table has them.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(target)
    tmp = temp_path(target)
    for leftover in (tmp, Path(f"{tmp}.wal")):
        leftover.unlink(missing_ok=True)

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
    # Explicitly writable: the warehouse connection itself may be read-only.
    quoted = str(tmp).replace("'", "''")
    warehouse.execute(f"attach '{quoted}' as bi_snapshot_tmp (read_only false)")
    try:
        for schema in sorted({s for s, _ in tables}):
            warehouse.execute(f'create schema bi_snapshot_tmp."{schema}"')
        for schema, table in tables:
            warehouse.execute(
                f'create table bi_snapshot_tmp."{schema}"."{table}" as '
                f'select {_copied_columns(warehouse, schema, table, leave_out)} from "{schema}"."{table}"'
            )
            counts[f"{schema}.{table}"] = warehouse.execute(
                f'select count(*) from bi_snapshot_tmp."{schema}"."{table}"'
            ).fetchone()[0]
        warehouse.execute("create schema bi_snapshot_tmp.meta")
        warehouse.execute(
            "create table bi_snapshot_tmp.meta.published as select ?::timestamp as published_at, "
            "?::date as as_of_date",
            [datetime.now(timezone.utc).replace(tzinfo=None), as_of_date],
        )
    except BaseException:
        warehouse.execute("detach bi_snapshot_tmp")
        tmp.unlink(missing_ok=True)
        raise
    # Detach checkpoints the file and closes it, so the rename publishes a complete database.
    warehouse.execute("detach bi_snapshot_tmp")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    return counts


def _copied_columns(warehouse: duckdb.DuckDBPyConnection, schema: str, table: str,
                    leave_out: Collection[str]) -> str:
    if not leave_out:
        return "*"
    columns = [name for (name,) in warehouse.execute(
        """
        select column_name from information_schema.columns
        where table_catalog = current_database() and table_schema = ? and table_name = ?
        order by ordinal_position
        """,
        [schema, table],
    ).fetchall() if name not in leave_out]
    return ", ".join('"' + name.replace('"', '""') + '"' for name in columns)
