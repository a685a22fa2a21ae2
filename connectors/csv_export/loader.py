"""Load cart CSV exports into ``raw_<source>.<stream>`` tables.

Each file is one sync (own sync_id) and one transaction: its rows, the stream's cursor and its
state (the sha256 and drop time of every file loaded) commit together. A file whose content was
already loaded for the stream is recorded as ``skipped``; a bad file is recorded as ``failed``
and changes nothing else.

Versions: a row never replaces a newer stored version of itself (the stream's
``version_field``, by default ``updated_at``). A stream without one is versioned by the export
file's drop time (modification time): a file dropped before one already loaded only adds
records it has that are not stored. A file of a ``full`` stream is the stream's whole live
set: stored rows it no longer holds are marked deleted (``_deleted_at``), unless the file was
dropped before one already loaded (an old snapshot says nothing about today).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from ..raw import (
    RawColumn,
    RawStream,
    RawWriter,
    SyncResult,
    WarehouseLike,
    ensure_table,
    open_warehouse,
    utc_now,
)
from .errors import CsvExportError, Problem
from .profile import Profile, StreamSpec, load_profile
from .reader import EXTRA_COLUMN, read_export

#: The raw contract of a CSV source: the columns dbt's `stg_csv__*` models read. Every raw table
#: has them, whatever the merchant's profile maps; a column or a whole stream the export lacks is
#: NULL or empty, so dbt builds and the marts (and `check`) know the fact is missing.
REFERENCE_PROFILE = "demo_merchant"

#: Set (UTC) on a row that a full-snapshot export no longer holds; NULL for live rows. The
#: stored record is kept; staging reads live rows only.
DELETED_COLUMN = "_deleted_at"


def reference_streams() -> dict[str, StreamSpec]:
    return dict(load_profile(REFERENCE_PROFILE).streams)


def raw_stream(profile: Profile, stream: str, source: str = "csv") -> RawStream:
    """The raw table definition of one stream: the profile's typed columns, the reference
    columns the profile lacks, then ``_extra``. A stream only the reference has gets its shape."""
    reference = reference_streams().get(stream)
    spec = profile.streams.get(stream) or reference or profile.stream(stream)
    columns = [RawColumn(c.name, c.sql_type) for c in spec.columns]
    names = {c.name for c in spec.columns}
    if reference is not None:
        columns += [RawColumn(c.name, c.sql_type) for c in reference.columns if c.name not in names]
    return RawStream(
        source=source,
        name=spec.name,
        columns=tuple(columns) + (RawColumn(DELETED_COLUMN, "TIMESTAMP"),
                                  RawColumn(EXTRA_COLUMN, "JSON")),
        primary_key=spec.primary_key,
        cursor_field=spec.cursor_field,
        version_field=spec.version_field,
    )


def stream_files(
    export_dir: str | os.PathLike[str],
    profile: "Profile | str | os.PathLike[str]",
    streams: Iterable[str] | None = None,
) -> dict[str, list[Path]]:
    """For each stream (all by default, in profile order), the files in ``export_dir`` matching
    its ``file`` glob, sorted by name. Streams without files map to an empty list."""
    prof = load_profile(profile)
    names = list(streams) if streams is not None else list(prof.streams)
    directory = Path(export_dir)
    if not directory.is_dir():
        raise CsvExportError([Problem(str(directory), None, None, "export directory not found")])
    entries = sorted((p for p in directory.iterdir() if p.is_file()), key=lambda p: p.name)
    out: dict[str, list[Path]] = {}
    for name in names:
        spec = prof.stream(name)
        out[name] = [p for p in entries if fnmatch.fnmatchcase(p.name, spec.file)]
    return out


def create_tables(
    warehouse: WarehouseLike,
    profile: "Profile | str | os.PathLike[str]",
    *,
    source: str = "csv",
    streams: Iterable[str] | None = None,
) -> list[str]:
    """Create the (empty) raw tables that do not exist yet, so that dbt sources resolve before
    a stream's first export arrives: the profile's streams and the reference streams it lacks
    (by default), or ``streams``. A table that exists gets the columns it lacks (a warehouse
    older than a column of the raw contract, such as ``_deleted_at``), so staging reads every
    table alike even on a day its stream has no new file. Returns the streams created. Loads
    never need this: the first successful load creates its table."""
    prof = load_profile(profile)
    names = (list(streams) if streams is not None
             else list(prof.streams) + [s for s in reference_streams() if s not in prof.streams])
    created = []
    with open_warehouse(warehouse) as con:
        for name in names:
            stream = raw_stream(prof, name, source)
            exists = con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                "AND schema_name = ? AND table_name = ?", [stream.schema, stream.name]
            ).fetchone()[0]
            con.begin()
            try:
                ensure_table(con, stream)
                con.commit()
            except BaseException:
                con.rollback()
                raise
            if not exists:
                created.append(name)
    return created


def stream_for_file(path: str | os.PathLike[str], profile: Profile) -> StreamSpec:
    """The one stream whose ``file`` glob matches the file's name."""
    name = Path(path).name
    matches = [s for s in profile.streams.values() if fnmatch.fnmatchcase(name, s.file)]
    if len(matches) != 1:
        which = ", ".join(f"{s.name} ({s.file})" for s in matches) or "none"
        raise CsvExportError(
            [Problem(os.fspath(path), None, None,
                     f"cannot tell the stream from the file name: streams matching: {which}; "
                     "pass stream=")]
        )
    return matches[0]


def load_file(
    warehouse: WarehouseLike,
    path: str | os.PathLike[str],
    profile: "Profile | str | os.PathLike[str]",
    stream: str | None = None,
    *,
    source: str = "csv",
) -> SyncResult:
    """Load one export file as one sync. Returns the SyncResult (status success or skipped);
    raises CsvExportError (after recording a ``failed`` sync) if the file is bad."""
    prof = load_profile(profile)
    spec = prof.stream(stream) if stream else stream_for_file(path, prof)
    with open_warehouse(warehouse) as con:
        return _load_one(con, Path(path), prof, spec.name, source, raise_on_error=True)


def load_export_dir(
    warehouse: WarehouseLike,
    export_dir: str | os.PathLike[str],
    profile: "Profile | str | os.PathLike[str]",
    *,
    source: str = "csv",
    streams: Iterable[str] | None = None,
    raise_on_error: bool = True,
) -> list[SyncResult]:
    """Load every stream's files (sorted by name, one sync each) from ``export_dir``.

    Within a stream, the first failed file stops that stream (later files may be newer
    incremental exports; loading them past a gap would hide it); other streams go on.
    With ``raise_on_error`` (default) a CsvExportError listing every failed file's problems is
    raised at the end, its ``results`` attribute holding all SyncResults; otherwise failed
    results are returned with ``status == "failed"`` and ``exception`` set.
    """
    prof = load_profile(profile)
    files = stream_files(export_dir, prof, streams)
    results: list[SyncResult] = []
    with open_warehouse(warehouse) as con:
        for name, paths in files.items():
            for path in paths:
                result = _load_one(con, path, prof, name, source, raise_on_error=False)
                results.append(result)
                if result.status == "failed":
                    break
    failed = [r for r in results if r.status == "failed"]
    if failed and raise_on_error:
        problems: list[Problem] = []
        total = 0
        for r in failed:
            exc = r.exception
            if isinstance(exc, CsvExportError):
                problems.extend(exc.problems)
                total += exc.total
            else:
                problems.append(Problem(r.detail or "?", None, None, f"{type(exc).__name__}: {exc}"))
                total += 1
        err = CsvExportError(
            problems,
            total=total,
            summary=(
                f"{len(failed)} of {len(results)} export files failed to load (nothing was "
                f"loaded from them; a failed file stops its stream): "
                + ", ".join(f"{r.stream}: {r.detail}" for r in failed)
            ),
        )
        err.results = results  # type: ignore[attr-defined]
        raise err
    return results


def _dropped_at(path: Path) -> str:
    """When the cart dropped the file (its modification time), ISO UTC to the microsecond."""
    mtime = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).replace(tzinfo=None)
    return mtime.isoformat(sep=" ", timespec="microseconds")


def _load_one(
    con,
    path: Path,
    profile: Profile,
    stream: str,
    source: str,
    *,
    raise_on_error: bool,
) -> SyncResult:
    file = str(path)
    table = raw_stream(profile, stream, source)
    with RawWriter(con, table, detail=file) as writer:
        try:
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            previous = writer.current_state()
            state = dict(previous.state) if previous else {}
            loaded = dict(state.get("files", {}))
            if digest in loaded:
                seen = loaded[digest]
                return writer.skip(
                    f"same content (sha256 {digest[:12]}...) already loaded from "
                    f"{seen.get('file')} by sync {seen.get('sync_id')}"
                )
            parsed = read_export(path, profile, stream, data=data)
            dropped = _dropped_at(path)
            # a file dropped before one already loaded is older than what is stored
            older = any(seen.get("dropped_at", "") > dropped for seen in loaded.values())
            loaded[digest] = {
                "file": path.name,
                "sync_id": writer.sync_id,
                "rows": len(parsed.rows),
                "encoding": parsed.encoding,
                "dropped_at": dropped,
                "loaded_at": utc_now().isoformat(sep=" ", timespec="seconds"),
            }
            state["files"] = loaded
            rows = parsed.rows
            pad = len(table.columns) - len(parsed.columns)
            if pad:  # reference columns the profile lacks: NULL, before _extra
                nulls = (None,) * pad
                rows = [r[:-1] + nulls + r[-1:] for r in rows]
            # keys are unique: read_export rejects duplicate primary keys
            batch = dict(file=file, lines=parsed.lines, state=state, dedupe=False,
                         stale=older and table.version_field is None)
            if profile.stream(stream).full and not older:
                return writer.write_snapshot(rows, at=utc_now(), column=DELETED_COLUMN,
                                             taken_at=datetime.fromisoformat(dropped), **batch)
            if older:
                writer.result.note = f"dropped at {dropped} UTC, before a file already loaded"
            return writer.write_batch(rows, **batch)
        except Exception as exc:  # recorded as a failed sync, then raised or returned
            err = exc
            if isinstance(exc, OSError):
                err = CsvExportError([Problem(file, None, None, f"cannot read file: {exc}")])
            result = writer.fail(err)
            if not raise_on_error:
                return result
            if err is exc:
                raise
            raise err from exc
