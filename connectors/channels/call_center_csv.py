"""Call-center list files: a CSV that opens correctly in Excel on a Japanese Windows PC.

UTF-8 with BOM (default) or cp932, CRLF line endings, mode 0600, written atomically: the shared
private-file writer (:mod:`connectors.channels.files`) does all of it, for this list as for the
postal DM file and the outbox.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from connectors.channels.files import SUPPORTED_CSV_ENCODINGS, CsvEncodingError, write_csv

SUPPORTED_ENCODINGS = SUPPORTED_CSV_ENCODINGS
# Kept for the callers that catch it by this name.
CallListEncodingError = CsvEncodingError


def write_call_list(
    path: Path,
    rows: Sequence[Mapping[str, object]],
    columns: Sequence[tuple[str, str]],
    encoding: str = "utf-8-sig",
) -> Path:
    """Write `rows` to `path`; `columns` is a list of (row key, header shown to the agents)."""
    return write_csv(path, rows, columns, encoding)
