"""Private files written whole: the one writer behind every file a channel leaves on disk.

Call lists, postal DM address files and the dry-run outbox all hold personal data, so every file
is created with mode 0600 (never widened by the umask or a stale temporary file) in a folder
created 0700, and written under a temporary name in the same folder, fsync'ed and renamed over
the target: a reader sees the old file or the new one, never half of one, and re-running a day
replaces that day's file whole.

CSV for Excel on a Japanese Windows PC: Excel recognises UTF-8 only with a BOM and otherwise
assumes cp932, so :func:`encode_csv` produces ``utf-8-sig`` (default) or ``cp932`` with CRLF
line endings, and a character cp932 cannot hold is an error naming the file and the line.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

SUPPORTED_CSV_ENCODINGS = ("utf-8-sig", "cp932")


class CsvEncodingError(ValueError):
    """A value the chosen CSV encoding cannot represent (names the file and the line)."""


def write_private_file(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, mode 0600 from creation; parents made 0700."""
    path = Path(path)
    make_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
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
