"""Private files written whole: the one writer behind every file a channel leaves on disk.

Call lists, postal DM address files and the dry-run outbox all hold personal data, so every file
is created with mode 0600 (never widened by the umask or a stale temporary file) in a folder
created 0700, and written under a temporary name in the same folder, fsync'ed and renamed over
the target: a reader sees the old file or the new one, never half of one, and re-running a day
replaces that day's file whole. The temporary name carries the writer's process id
(`.<name>.<pid>.tmp`): a writer killed mid-write leaves it behind, with the personal data it
held, and the next run's first write into that folder removes every one whose process is gone
(never one whose process still runs: a write under way). The BI snapshot is swapped in the same way and
swept by the same function (orchestration/publish/bi_snapshot.py).

CSV for Excel on a Japanese Windows PC: Excel recognises UTF-8 only with a BOM and otherwise
assumes cp932, so :func:`encode_csv` produces ``utf-8-sig`` (default) or ``cp932`` with CRLF
line endings, and a character cp932 cannot hold is an error naming the file and the line.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

SUPPORTED_CSV_ENCODINGS = ("utf-8-sig", "cp932")


class CsvEncodingError(ValueError):
    """A value the chosen CSV encoding cannot represent (names the file and the line)."""


def write_private_file(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, mode 0600 from creation; parents made 0700."""
    path = Path(path)
    make_private_dir(path.parent)
    remove_stale_temp_files_once(path.parent)
    tmp = temp_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)  # a stale tmp from a killed run may have other bits
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def temp_path(target: Path) -> Path:
    """Where this process writes ``target`` before renaming it over it (same folder: the rename is atomic)."""
    return target.with_name(f".{target.name}.{os.getpid()}.tmp")


def remove_stale_temp_files(target: Path) -> list[Path]:
    """Remove the temporary files of earlier writes of `target` whose process is gone."""
    return _remove_stale(target.parent, re.escape(target.name))


# Folders this process has swept: a folder of the outbox holds a file per message, so sweeping
# it at every write would read it once per message. A run is a process of its own (Dagster's run
# worker, `dagster job execute`), so once per process is once per run, and a process cannot have
# left stale files of its own.
_swept: set[tuple[int, Path]] = set()


def remove_stale_temp_files_once(folder: Path) -> None:
    """Remove, on this process's first write into ``folder``, every temporary file in it whose
    process is gone (what killed writes left there, of any target)."""
    key = (os.getpid(), Path(folder))
    if key not in _swept:
        _remove_stale(Path(folder), ".+")
        _swept.add(key)


def _remove_stale(folder: Path, name_pattern: str) -> list[Path]:
    pattern = re.compile(rf"\.{name_pattern}\.(\d+)\.tmp(\.wal)?")
    removed = []
    for path in folder.iterdir():
        match = pattern.fullmatch(path.name)
        if match is None or int(match.group(1)) == os.getpid():
            continue  # not a temporary file, or this process's own (its writer handles it)
        try:
            written = path.stat().st_mtime
        except FileNotFoundError:
            continue  # its writer just renamed or removed it
        if _process_is_running(int(match.group(1)), since=written):
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _process_is_running(pid: int, since: float) -> bool:
    """Whether process `pid` exists and may have written a file last modified at `since`."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    started = _process_start_time(pid)
    # A process started after the file was last written cannot have written it: the id was reused.
    return started is None or started <= since + 1.0


def _process_start_time(pid: int) -> float | None:
    """Epoch seconds process `pid` started at, from /proc; None where /proc cannot say."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        # Fields after the command name (which may hold spaces) start at field 3; starttime is 22.
        ticks = int(stat.rpartition(")")[2].split()[19])
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def make_private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) with mode 0700; an existing folder is left as is."""
    path = Path(path)
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def encode_csv(
    rows: Sequence[Mapping[str, object]],
    columns: Sequence[tuple[str, str]],
    encoding: str = "utf-8-sig",
    *,
    name: str = "csv",
) -> bytes:
    """The CSV bytes of ``rows``; ``columns`` is a list of (row key, header shown to the reader).

    ``name`` (the file's name) is what an encoding error names."""
    if encoding not in SUPPORTED_CSV_ENCODINGS:
        raise ValueError(f"{name}: CSV encoding must be one of {SUPPORTED_CSV_ENCODINGS}, not {encoding!r}")
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([header for _, header in columns])
    for row in rows:
        writer.writerow(["" if row.get(key) is None else row.get(key) for key, _ in columns])
    text = buf.getvalue()
    try:
        return text.encode(encoding)
    except UnicodeEncodeError as exc:
        line = text[: exc.start].count("\n") + 1
        raise CsvEncodingError(
            f"{name}: line {line} has {text[exc.start:exc.end]!r}, which {encoding} cannot "
            "represent; use encoding utf-8-sig"
        ) from None


def write_csv(
    path: Path,
    rows: Sequence[Mapping[str, object]],
    columns: Sequence[tuple[str, str]],
    encoding: str = "utf-8-sig",
) -> Path:
    """Encode and write a CSV with :func:`write_private_file` (nothing is written on an error)."""
    path = Path(path)
    return write_private_file(path, encode_csv(rows, columns, encoding, name=path.name))
