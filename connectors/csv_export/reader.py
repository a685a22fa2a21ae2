"""Read one export file into typed rows for one stream, or fail with every problem found.

Pure (no warehouse): decode, reject NUL bytes, split into CSV records keeping the physical line
each record starts on (header = line 1, as an editor shows it), match headers (telling a
headerless file's first record from a header row), parse cells per type, check not_null,
duplicate primary keys and field counts, and check the last row of a file that ends without a
line break for a cut. Nothing is returned from a file that has any problem, and no message shows
more than the one offending value (README "Input rules").
"""

from __future__ import annotations

import csv
import difflib
import gc
import hashlib
import io
import itertools
import json
import os
import re
import unicodedata
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

from .encoding import decode
from .errors import MAX_PROBLEMS, CsvExportError, Problem
from .parse import make_parser
from .profile import Profile, StreamSpec, load_profile

EXTRA_COLUMN = "_extra"

# Long free-text cells (備考, 解約理由 ...) can exceed the csv module's 128 KiB default.
csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))


@dataclass
class ParsedFile:
    """A validated export file: ``rows`` are tuples in ``columns`` order (the stream's raw
    columns, then ``_extra``); ``lines[i]`` is the physical line row i starts on."""

    path: str
    stream: StreamSpec
    encoding: str
    sha256: str
    headers: list[str]
    columns: list[str]
    rows: list[tuple[Any, ...]]
    lines: list[int]
    extra_headers: list[str] = field(default_factory=list)
    missing_optional: list[str] = field(default_factory=list)


class _Problems:
    """Collects problems, keeping the first MAX_PROBLEMS per bucket and counting all."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.kept: list[tuple[int, int, Problem]] = []
        self.total = 0
        self._per_bucket: dict[Any, int] = {}

    def add(self, line: int | None, column: str | None, message: str, *, order: int = 0,
            bucket: Any = None) -> None:
        self.total += 1
        n = self._per_bucket.get(bucket, 0)
        self._per_bucket[bucket] = n + 1
        if n < MAX_PROBLEMS:
            self.kept.append((line or 0, order, Problem(self.file, line, column, message)))

    def __bool__(self) -> bool:
        return self.total > 0

    def error(self) -> CsvExportError:
        self.kept.sort(key=lambda item: (item[0], item[1]))
        noun = "problem" if self.total == 1 else "problems"
        return CsvExportError(
            [p for _, _, p in self.kept],
            total=self.total,
            summary=f"{self.file}: {self.total} {noun}; nothing was loaded from this file",
        )


def _physical_lines(text: str) -> int:
    breaks = text.count("\n") + text.count("\r") - text.count("\r\n")
    return breaks + (0 if text.endswith(("\n", "\r")) else 1)


def _records(text: str, problems: _Problems) -> tuple[list[list[str]], list[int]]:
    """Non-blank CSV records and the physical line each starts on (1-based)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        rows = list(reader)  # fast path: C speed
    except csv.Error:
        rows = None
    if rows is not None and len(rows) == _physical_lines(text):
        # one record per physical line: record i starts on line i + 1
        keep = [i for i, r in enumerate(rows) if r and (r[0] or any(r))]
        if len(keep) == len(rows):
            return rows, list(range(1, len(rows) + 1))
        return [rows[i] for i in keep], [i + 1 for i in keep]
    # records span lines (quoted newlines) or the CSV is malformed: track line_num
    records: list[list[str]] = []
    starts: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    prev = 0
    try:
        for row in reader:
            start = prev + 1
            prev = reader.line_num
            if row and (row[0] or any(row)):  # blank lines and all-empty rows (",,,") skipped
                records.append(row)
                starts.append(start)
    except csv.Error as err:
        line = prev + 1
        if str(err) == "unexpected end of data":  # the file ends inside a quoted field
            if _ends_with_break(text):
                message = (f"the file looks truncated at line {line}, or a quote is not closed: "
                           f"the quoted field opened on line {line} runs to the end of the file")
            else:
                message = (f"the file looks truncated at line {line}: it ends, without a line "
                           f"break, inside the quoted field opened on line {line}")
        else:
            message = f"malformed CSV (check the quotes): {err}"
        problems.add(line, None, message, bucket="csv")
    return records, starts


def _ends_with_break(text: str) -> bool:
    return text.endswith(("\n", "\r"))


def _line_at(text: str, offset: int) -> int:
    """The physical line (1-based) character ``offset`` of ``text`` is on."""
    head = text[:offset]
    return head.count("\n") + head.count("\r") - head.count("\r\n") + 1


def _nul_bytes(text: str, problems: _Problems) -> None:
    """Report every field holding a NUL character (exports never contain one: the file is damaged
    or not a text export) without showing its value; a run of NULs at the end (a copy or save
    that did not finish writing) is reported as truncation."""
    body = text.rstrip("\x00")
    if not body:
        problems.add(1, None, f"the file looks truncated at line 1: it holds nothing but "
                     f"{len(text)} NUL bytes (a copy or save that did not finish writing); export "
                     "or copy the file again", bucket="nul")
        return
    if body.count("\x00") * 4 >= len(body):
        problems.add(None, None, "a quarter or more of the file is NUL bytes: it looks like UTF-16 "
                     "without a byte-order mark; save it as CSV in UTF-8 or Shift_JIS", bucket="nul")
        return
    if len(body) < len(text):
        line = _line_at(text, len(body))
        problems.add(line, None, f"the file looks truncated at line {line}: it ends in "
                     f"{len(text) - len(body)} NUL bytes (a copy or save that did not finish "
                     "writing); export or copy the file again", order=1, bucket="nul")
    if "\x00" not in body:
        return
    records, starts = _records(body, problems)
    headers = records[0] if records else []
    for r, line in zip(records, starts):
        for i, cell in enumerate(r):
            if "\x00" in cell:
                if r is headers:
                    column, where = None, f"header field {i + 1}"
                else:
                    column = headers[i].strip() if i < len(headers) else None
                    where = "the value" if column is not None else f"field {i + 1}"
                problems.add(line, column, f"NUL byte (0x00) in {where}: an export never contains "
                             "one (a damaged file, or not a CSV text export); value not shown",
                             bucket="nul")


# After NFKC: digits with the punctuation of dates, times, amounts and phone numbers.
_VALUE = re.compile(r"[0-9+\-/:.,()¥\\円TZ ]*[0-9][0-9+\-/:.,()¥\\円TZ ]*")


def _looks_like_value(field: str) -> bool:
    """A header row's field never reads as a date, amount, phone number or e-mail address."""
    t = unicodedata.normalize("NFKC", field).strip()
    return "@" in t or _VALUE.fullmatch(t) is not None


def _norm(header: str) -> str:
    """Header comparison key: NFKC folds full-width ASCII such as （ ） into ( )."""
    return unicodedata.normalize("NFKC", header).strip()


def read_export(
    path: str | os.PathLike[str],
    profile: "Profile | str | os.PathLike[str]",
    stream: str,
    *,
    data: bytes | None = None,
) -> ParsedFile:
    """Parse and validate ``path`` as ``stream`` of ``profile``. Raises CsvExportError."""
    # Millions of short-lived tuples would trigger the cyclic GC over and over; none of them
    # form cycles, so pause it while reading.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _read_export(path, profile, stream, data)
    finally:
        if enabled:
            gc.enable()


def _read_export(
    path: str | os.PathLike[str],
    profile: "Profile | str | os.PathLike[str]",
    stream: str,
    data: bytes | None,
) -> ParsedFile:
    profile = load_profile(profile)
    spec = profile.stream(stream)
    file = os.fspath(path)
    if data is None:
        try:
            data = Path(file).read_bytes()
        except OSError as err:
            raise CsvExportError([Problem(file, None, None, f"cannot read file: {err}")]) from None
    digest = hashlib.sha256(data).hexdigest()
    if not data:
        raise CsvExportError([Problem(file, None, None, "empty file (0 bytes): no header line")])
    text, encoding = decode(data, profile.encoding, file)
    problems = _Problems(file)

    if "\x00" in text:
        _nul_bytes(text, problems)
        raise problems.error()

    # -- records, with the physical line each starts on ------------------------------------
    records, starts = _records(text, problems)
    # A file may end without a line break; its last record is then checked for a cut (below).
    unterminated = not _ends_with_break(text)
    if not records:
        raise CsvExportError(
            [Problem(file, None, None, "no header line: the file contains only blank lines")]
        )

    # -- header ----------------------------------------------------------------------------
    header_line = starts[0]
    headers = [h.lstrip("\ufeff").strip() for h in records[0]]
    positions: dict[str, list[int]] = {}
    for i, h in enumerate(headers):
        positions.setdefault(h, []).append(i)
    norm_positions: dict[str, list[int]] = {}
    for i, h in enumerate(headers):
        norm_positions.setdefault(_norm(h), []).append(i)

    # Where each raw column's text comes from: the field position of each of its headers, or
    # None for a constant or an optional header the file lacks.
    col_index: dict[str, list[int] | None] = {}
    missing_optional: list[str] = []
    n_required = sum(c.required and bool(c.headers) for c in spec.columns)
    # A first line with none of the stream's headers is data (a headerless export), and so is
    # one that lacks most required headers and has a field that reads as a value (a date, an
    # amount, a phone number, an e-mail address: a customer whose name is also a header, メイ).
    # Its fields are a customer's record: never echoed in a message, not even as a hint.
    known = {_norm(h) for c in spec.columns for h in c.headers}
    present = {_norm(h) for h in headers}
    n_present = sum(c.required and bool(c.headers) and all(_norm(h) in present for h in c.headers)
                    for c in spec.columns)
    has_values = any(_looks_like_value(h) for h in headers if _norm(h) not in known)
    looks_like_header = bool(present & known) and not (has_values and n_present * 2 < n_required)
    n_missing = 0
    for order, col in enumerate(spec.columns):
        found_all: list[int] = []
        for header in col.headers:
            found = positions.get(header) or norm_positions.get(_norm(header))
            if found and len(found) > 1 and looks_like_header:
                cols = " and ".join(str(i + 1) for i in found)
                problems.add(header_line, header,
                             f"header appears more than once (fields {cols}); which one is "
                             f"{col.name}?", order=order, bucket="header")
                found = found[:1]
            elif found and not looks_like_header:
                found = found[:1]  # a value that happens to read like a header: no header row
            if found:
                found_all.append(found[0])
            elif col.required:
                n_missing += 1
                hint = difflib.get_close_matches(header, headers, n=1, cutoff=0.6) if looks_like_header else []
                message = f"missing required column {header!r} (raw column {col.name})"
                if hint:
                    message += f" (did you mean {hint[0]!r}?)"
                if n_missing == 1 and looks_like_header:  # the list once, on the first missing column
                    message += f"; headers found: {', '.join(headers)}"
                elif n_missing == 1 and has_values:
                    message += (f"; line {header_line} looks like data, not a header row (it lacks "
                                f"the stream's headers and holds values such as dates, amounts or "
                                f"e-mail addresses; its {len(headers)} fields are not shown): is the "
                                f"header row missing?")
                elif n_missing == 1:
                    message += (f"; line {header_line} has none of the {len(spec.columns)} headers of "
                                f"this stream (its {len(headers)} fields are not shown): is the header row missing?")
                problems.add(header_line, header, message, order=order, bucket="header")
        if col.headers and len(found_all) == len(col.headers):
            col_index[col.name] = found_all
        else:
            col_index[col.name] = None
            if col.headers and not col.required:
                missing_optional.extend(h for h in col.headers if h not in
                                        {headers[i] for i in found_all})
    if n_missing > 1 and n_missing * 2 >= n_required:
        problems.add(header_line, None,
                     f"{n_missing} of {n_required} required headers are missing: is this file really "
                     f"for stream {spec.name} (file glob {spec.file})?", order=-1, bucket="header")
    mapped = {i for idx in col_index.values() if idx for i in idx}
    extra_idx = [i for i in range(len(headers)) if i not in mapped]
    extra_keys = _extra_keys(headers, extra_idx)

    body = records[1:]
    body_starts = starts[1:]
    if not body and not problems:
        raise CsvExportError(
            [Problem(file, None, None, f"header line only (line {header_line}), no data rows")]
        )
    if problems.total and any(p.line == header_line for _, _, p in problems.kept):
        raise problems.error()  # wrong header: the rows cannot be read meaningfully

    # -- field counts ----------------------------------------------------------------------
    width = len(headers)
    # The last line of a file without a final line break, when its record may have been cut.
    tail_line = body_starts[-1] if unterminated and body else None
    if any(len(r) != width for r in body):
        good_rows, good_lines = [], []
        for r, line in zip(body, body_starts):
            if len(r) == width:
                good_rows.append(r)
                good_lines.append(line)
            elif line == tail_line and len(r) < width:
                problems.add(line, None,
                             f"the file looks truncated at line {line}: it ends without a line "
                             f"break in a row of {len(r)} fields, fewer than the header's {width}",
                             bucket="width")
            else:
                more = "more" if len(r) > width else "fewer"
                problems.add(line, None,
                             f"row has {len(r)} fields, {more} than the header's {width}",
                             bucket="width")
    else:
        good_rows, good_lines = body, body_starts
    tail_cut = (tail_line is not None and bool(good_lines) and good_lines[-1] == tail_line
                and _cut_last_value(spec, col_index, good_rows, tail_line, width, problems))

    def cell_problem(line: int, idx: list[int] | None, column: str | None, message: str,
                     order: int, bucket: str) -> None:
        """A cell's problem; in the last field of an unterminated file's last row it says the
        file may have been cut there (or nothing more, when the cut is already reported)."""
        if line == tail_line and idx and idx[-1] == width - 1:
            if tail_cut:
                return
            message += f"; the file ends here without a line break: it looks truncated at line {line}"
        problems.add(line, column, message, order=order, bucket=bucket)

    # -- cells -----------------------------------------------------------------------------
    n = len(good_rows)
    out_cols: list[list[Any]] = []
    for order, col in enumerate(spec.columns):
        idx = col_index.get(col.name)
        unmapped: list[int] = []  # rows whose value the map lacks (already reported)
        if idx is None and col.value is None and col.default is None:
            values: list[Any] = [None] * n
        else:
            parser = make_parser(col.type, tz=profile.tz, true_values=profile.true_values,
                                 false_values=profile.false_values)
            if col.derived:
                cells, unmapped = _derived_cells(col, idx, good_rows, good_lines, problems, order)
            else:
                cells = list(map(itemgetter(idx[0]), good_rows))
            try:
                values = list(map(parser, cells))
            except ValueError:
                values = []
                for cell, line in zip(cells, good_lines):
                    try:
                        values.append(parser(cell))
                    except ValueError as err:
                        values.append(_BAD)
                        cell_problem(line, idx, col.header, str(err), order, col.name)
        # a string keeps its spaces, but a key or a required value of spaces only is empty
        if col.not_null and col.type == "string" and any(map(str.isspace, filter(None, values))):
            for i, (value, line) in enumerate(zip(values, good_lines)):
                if value is not None and value.isspace():
                    values[i] = _BAD
                    cell_problem(line, idx, col.header, f"blank value (only spaces), but "
                                 f"{col.name} must not be null", order, col.name)
        for i in unmapped:
            values[i] = _BAD
        if col.not_null and None in values:
            for value, line in zip(values, good_lines):
                if value is None:
                    cell_problem(line, idx, col.header,
                                 f"empty value, but {col.name} must not be null", order, col.name)
        out_cols.append(values)

    # -- duplicate primary keys ------------------------------------------------------------
    pk_pos = [i for i, c in enumerate(spec.columns) if c.name in spec.primary_key]
    if len(pk_pos) == 1:
        keys: list[Any] = out_cols[pk_pos[0]]
        unique = len(set(keys)) == len(keys)
        if not unique:
            keys = [(k,) for k in keys]
    else:
        keys = list(zip(*(out_cols[i] for i in pk_pos)))
        unique = len(set(keys)) == len(keys)
    if not unique and spec.repeated_keys == "collapse" and not problems:
        # A line-level export feeding a record-level stream (受注 CSV with one row per 明細):
        # rows repeating a key are one record when every mapped value agrees; the first
        # line's row is kept (its _extra too). A disagreement is an error naming both lines.
        first_at: dict[tuple[Any, ...], int] = {}
        keep: list[int] = []
        for i, key in enumerate(keys):
            j = first_at.get(key)
            if j is None:
                first_at[key] = i
                keep.append(i)
                continue
            for c, col in enumerate(spec.columns):
                if out_cols[c][i] != out_cols[c][j]:
                    shown = ", ".join(f"{spec.columns[p].name}={v}" for p, v in zip(pk_pos, key))
                    problems.add(good_lines[i], col.header or col.name,
                                 f"rows of one record ({shown}) disagree on {col.name}: this line "
                                 f"and line {good_lines[j]} (repeated_keys: collapse needs the "
                                 f"same values on every row of a record)", bucket="pk")
                    break
        if not problems:
            out_cols = [[values[i] for i in keep] for values in out_cols]
            good_rows = [good_rows[i] for i in keep]
            good_lines = [good_lines[i] for i in keep]
            unique = True
    if not unique and spec.repeated_keys == "error":
        pk_headers = " + ".join(spec.columns[i].header for i in pk_pos)
        first_seen: dict[tuple[Any, ...], int] = {}
        for key, line in zip(keys, good_lines):
            if None in key or _BAD in key:
                continue
            if key in first_seen:
                shown = ", ".join(f"{spec.columns[i].name}={v}" for i, v in zip(pk_pos, key))
                problems.add(line, pk_headers,
                             f"duplicate primary key ({shown}): also on line {first_seen[key]}",
                             bucket="pk")
            else:
                first_seen[key] = line

    if problems:
        raise problems.error()

    if extra_idx:
        getter = itemgetter(*extra_idx)
        if len(extra_idx) == 1:
            key0 = extra_keys[0]
            extra = [json.dumps({key0: getter(r)}, ensure_ascii=False) for r in good_rows]
        else:
            extra = [json.dumps(dict(zip(extra_keys, getter(r))), ensure_ascii=False)
                     for r in good_rows]
        rows = list(zip(*out_cols, extra))
    else:
        rows = list(zip(*out_cols, itertools.repeat(None)))
    return ParsedFile(
        path=file,
        stream=spec,
        encoding=encoding,
        sha256=digest,
        headers=headers,
        columns=[c.name for c in spec.columns] + [EXTRA_COLUMN],
        rows=rows,
        lines=list(good_lines),
        extra_headers=extra_keys,
        missing_optional=missing_optional,
    )


_SHAPE = str.maketrans("0123456789", "0000000000")


def _cut_last_value(spec: StreamSpec, col_index: dict[str, list[int] | None],
                    rows: list[list[str]], line: int, width: int, problems: _Problems) -> bool:
    """A file that ends without a line break may have been cut inside its last field and still
    parse (``2026/11/03 23:30:00`` cut to ``2026/11/03 23:30``). For a datetime last field, whose
    values a cart writes in one fixed form, a last value that is a proper prefix of the form
    every other row's value has is reported as truncation (returns whether it was)."""
    for col in spec.columns:
        idx = col_index.get(col.name)
        if col.type != "datetime" or col.derived or idx != [width - 1]:
            continue
        last = rows[-1][width - 1].strip()
        shapes = {r[width - 1].strip().translate(_SHAPE) for r in rows[:-1]} - {""}
        if len(shapes) != 1 or not last:
            continue
        (shape,) = shapes
        if len(last) < len(shape) and shape.startswith(last.translate(_SHAPE)):
            problems.add(line, col.header,
                         f"the file looks truncated at line {line}: it ends without a line break "
                         f"in the value {last!r}, shorter than the form {shape!r} of every other "
                         f"row's {col.header}", bucket="width")
            return True
    return False


def _derived_cells(col, idx: list[int] | None, rows: list[list[str]], lines: list[int],
                   problems: _Problems, order: int) -> tuple[list[str], list[int]]:
    """The text of a derived column per row (ColumnSpec's order: source, split or pattern, map or
    rules, default), and the rows whose value is missing from the map (``unmapped: error``): each such
    value is reported once, with its count and first line, and its rows are not checked
    further (their cell is not empty, whatever not_null says)."""
    n = len(rows)
    if col.value is not None:
        cells = [col.value] * n
    elif idx is None:
        cells = [""] * n
    elif col.join is not None:
        cells = [col.join.join(p for p in (r[i].strip() for i in idx) if p) for r in rows]
    else:
        cells = list(map(itemgetter(idx[0]), rows))
    if col.split is not None:
        sep, part = col.split
        pieces = [c.split(sep) if c else [] for c in cells]
        cells = [p[part].strip() if -len(p) <= part < len(p) else "" for p in pieces]
    elif col.pattern is not None:
        found = [col.pattern.search(c) if c else None for c in cells]
        cells = [(m.group(1) or "").strip() if m else "" for m in found]
    bad_rows: list[int] = []
    if col.map is not None:
        mapped, unmapped = [], {}
        for i, (cell, line) in enumerate(zip(cells, lines)):
            key = cell.strip()
            if not key:
                mapped.append("")
            elif key in col.map:
                mapped.append(col.map[key])
            else:
                first, count = unmapped.get(key, (line, 0))
                unmapped[key] = (first, count + 1)
                mapped.append(cell if col.unmapped == "keep" else "")
                if col.unmapped == "error":
                    bad_rows.append(i)
        if col.unmapped == "error":
            known = ", ".join(repr(k) for k in list(col.map)[:10])
            for key, (first, count) in unmapped.items():
                rows_word = "row" if count == 1 else "rows"
                problems.add(first, col.header or col.name,
                             f"value {key!r} is not in the profile's map for {col.name} "
                             f"({count} {rows_word}, first on line {first}); mapped: {known}"
                             f"{', ...' if len(col.map) > 10 else ''}. Add it to the map, or "
                             f"set unmapped: keep", order=order, bucket=col.name)
        cells = mapped
    elif col.rules is not None:
        cells = [next((value for when, value in col.rules if when.search(c)), "") if c.strip() else ""
                 for c in cells]
    if col.default is not None:
        cells = [c if c.strip() else col.default for c in cells]
    return cells, bad_rows


class _Bad:
    """Placeholder for a cell that failed to parse (never reaches the warehouse)."""

    def __repr__(self) -> str:
        return "<unparsable>"


_BAD = _Bad()


def _extra_keys(headers: list[str], idx: list[int]) -> list[str]:
    """JSON keys for unmapped headers: the header text; ``#n`` (field number) added when the
    text is empty or repeated."""
    counts: dict[str, int] = {}
    for i in idx:
        counts[headers[i]] = counts.get(headers[i], 0) + 1
    keys = []
    for i in idx:
        h = headers[i]
        keys.append(h if h and counts[h] == 1 else f"{h}#{i + 1}")
    return keys
