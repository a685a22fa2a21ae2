"""Call-center list files: a CSV that opens correctly in Excel on a Japanese Windows PC.

Excel guesses the encoding of a double-clicked CSV: UTF-8 is recognised only with a BOM, and
otherwise it assumes cp932. So the file is UTF-8 with BOM (default) or cp932, with CRLF line
endings. It holds names and phone numbers, so it is created with mode 0600, and it is written
under a temporary name and renamed: re-running a day replaces that day's file whole, and nobody
ever opens a half-written list.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

SUPPORTED_ENCODINGS = ("utf-8-sig", "cp932")


class CallListEncodingError(ValueError):
    pass


def write_call_list(
    path: Path,
    rows: Sequence[Mapping[str, object]],
    columns: Sequence[tuple[str, str]],
    encoding: str = "utf-8-sig",
) -> Path:
    """Write `rows` to `path`; `columns` is a list of (row key, header shown to the agents)."""
    if encoding not in SUPPORTED_ENCODINGS:
        raise ValueError(f"call list encoding must be one of {SUPPORTED_ENCODINGS}, not {encoding!r}")
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([header for _, header in columns])
    for row in rows:
        writer.writerow(["" if row.get(key) is None else row.get(key) for key, _ in columns])
    text = buf.getvalue()
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError as exc:
        line = text[: exc.start].count("\n") + 1
        raise CallListEncodingError(
            f"{path.name}: line {line} has {text[exc.start:exc.end]!r}, which {encoding} cannot "
            "represent; use encoding utf-8-sig"
        ) from None

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)  # the umask cannot widen it, but an existing tmp could have other bits
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
