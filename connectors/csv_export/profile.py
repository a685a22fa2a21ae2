"""Column profiles: how one cart's CSV export headers map onto Teiki's raw tables.

The format is documented in ``profiles/demo_merchant.yaml`` (header comment) and README.md.
A profile is referred to by name (``demo_merchant`` -> ``profiles/demo_merchant.yaml``) or path.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from .encoding import ENCODINGS
from .errors import ProfileError, Problem

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"

#: Profile column types and the DuckDB type of the raw column each lands in.
SQL_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "yen": "BIGINT",
    "date": "DATE",
    "datetime": "TIMESTAMP",
    "boolean": "BOOLEAN",
}

_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
_TOP_KEYS = {"profile", "description", "encoding", "timezone", "true_values", "false_values", "streams"}
_STREAM_KEYS = {"file", "primary_key", "cursor_field", "version_field", "export", "optional",
                "repeated_keys", "columns", "description"}
#: What one export file of a stream holds: every live record (a full snapshot: a record it no
#: longer holds was deleted) or only the records changed since an earlier export.
EXPORT_KINDS = ("full", "incremental")
#: Column types that can date a record's version (``version_field``).
_VERSION_TYPES = ("datetime", "date", "integer")
_COLUMN_KEYS = {"header", "headers", "join", "split", "pattern", "map", "unmapped", "default",
                "value", "type", "required", "not_null", "authoritative", "rules"}
#: Figures an export writes that Teiki also derives from other records ("stream.column" -> what
#: Teiki derives it from). A warning test lists the rows where the two disagree; a column marked
#: ``authoritative: true`` makes the marts use the export's figure instead of Teiki's.
EXPORT_FIGURES: dict[str, str] = {
    "subscriptions.delivery_count": "the 定期契約's revenue orders (shipped or pending) up to the business date",
}
_UNMAPPED = ("error", "keep")
#: Rows repeating a primary key: an error, or (for an order-level stream read from a cart's
#: line-level file, one row per 明細 with the order's columns repeated) collapsed into one when
#: every mapped value agrees.
REPEATED_KEYS = ("error", "collapse")


@dataclass(frozen=True)
class ColumnSpec:
    """One raw column and how its text is taken from the export, in this order: the cell of
    ``header`` (or the non-empty cells of ``headers`` joined by ``join``, or the constant
    ``value``), then the part ``split`` or ``pattern`` picks, then ``map`` or ``rules``, then
    ``default`` for an empty result, then the type's parser."""

    name: str  # raw column name (snake_case)
    header: str  # CSV header text ("" for a constant)
    type: str  # one of SQL_TYPES
    required: bool = True  # header must be present
    not_null: bool = False  # every row needs a value
    headers: tuple[str, ...] = ()  # every header read (one, several with join, none for value)
    join: str | None = None  # separator for several headers
    split: tuple[str, int] | None = None  # (separator, 0-based part; negative counts from the end)
    pattern: re.Pattern[str] | None = None  # regular expression; its one group is the value
    map: Mapping[str, str] | None = None  # value as written -> value to store
    # ordered (regular expression, value) pairs: the first that matches the text gives the value
    rules: tuple[tuple[re.Pattern[str], str], ...] | None = None
    unmapped: str = "error"  # a value missing from map: "error" or "keep" it as written
    default: str | None = None  # text for an empty cell or a missing header
    value: str | None = None  # a constant: the export has no such column
    authoritative: bool = False  # an EXPORT_FIGURES column whose figure the marts use as is

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.type]

    @property
    def derived(self) -> bool:
        """Anything beyond one header's cell parsed by type."""
        return bool(self.value is not None or self.join is not None or self.split or self.pattern
                    or self.map is not None or self.rules is not None or self.default is not None)


@dataclass(frozen=True)
class StreamSpec:
    name: str
    file: str  # glob, matched against file names in the export directory
    primary_key: tuple[str, ...]
    cursor_field: str | None
    columns: tuple[ColumnSpec, ...]
    # the column that dates a record's version: an older row never replaces a newer stored one
    version_field: str | None = None
    # "full": each file holds every live record (absent ones are marked deleted) and a day
    # without a file is an error; "incremental": changed records only, a day may have no file
    export: str = "incremental"
    # a stream the cart may not export at all (no file is no error)
    optional: bool = False
    # "error": a repeated primary key fails the file; "collapse": rows repeating a key with the
    # same mapped values are one record (the first line's), differing values still fail
    repeated_keys: str = "error"

    @property
    def full(self) -> bool:
        return self.export == "full"

    def column(self, name: str) -> ColumnSpec:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    encoding: str
    timezone: str
    true_values: tuple[str, ...]
    false_values: tuple[str, ...]
    streams: Mapping[str, StreamSpec]
    path: str = "<profile>"
    tz: ZoneInfo = field(default=ZoneInfo("UTC"), repr=False, compare=False)

    def stream(self, name: str) -> StreamSpec:
        try:
            return self.streams[name]
        except KeyError:
            raise ProfileError(
                [Problem(self.path, None, name, f"no stream {name!r} in profile {self.name!r}; "
                         f"streams: {', '.join(self.streams)}")]
            ) from None

    @property
    def authoritative_figures(self) -> tuple[str, ...]:
        """The export figures ("stream.column") the profile declares authoritative, sorted."""
        return tuple(sorted(f"{s.name}.{c.name}" for s in self.streams.values()
                            for c in s.columns if c.authoritative))


def available_profiles() -> list[str]:
    """Names of the profiles shipped in ``connectors/csv_export/profiles/``."""
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def resolve_profile_path(name_or_path: str | os.PathLike[str]) -> Path:
    text = os.fspath(name_or_path)
    looks_like_path = (
        isinstance(name_or_path, os.PathLike)
        or os.sep in text
        or "/" in text
        or text.endswith((".yaml", ".yml"))
    )
    if looks_like_path:
        path = Path(text)
        if not path.is_file():
            raise ProfileError([Problem(text, None, None, "profile file not found")])
        return path
    path = PROFILES_DIR / f"{text}.yaml"
    if not path.is_file():
        raise ProfileError(
            [Problem(text, None, None, f"no profile named {text!r} in {PROFILES_DIR}; "
                     f"available: {', '.join(available_profiles()) or '(none)'}")]
        )
    return path


# libyaml's loader when PyYAML has it: the same documents, six times faster (every load reads
# the merchant's profile and the reference profile).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_profile(profile: "str | os.PathLike[str] | Profile") -> Profile:
    """Load and validate a profile given by name, path, or an already loaded Profile."""
    if isinstance(profile, Profile):
        return profile
    path = resolve_profile_path(profile)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ProfileError([Problem(str(path), line, None, f"invalid YAML: {err}")]) from None
    return profile_from_dict(data, str(path))


def profile_from_dict(data: Any, path: str = "<profile>") -> Profile:
    """Validate a parsed profile; every problem found is reported in one ProfileError."""
    problems: list[Problem] = []

    def bad(where: str | None, message: str) -> None:
        problems.append(Problem(path, None, where, message))

    if not isinstance(data, dict):
        raise ProfileError([Problem(path, None, None, "a profile must be a YAML mapping")])
    for key in sorted(set(data) - _TOP_KEYS):
        bad(None, f"unknown key {key!r} (allowed: {', '.join(sorted(_TOP_KEYS))})")

    name = data.get("profile")
    if not isinstance(name, str) or not name:
        bad(None, "'profile' (the profile's name) is required")
        name = Path(path).stem
    description = data.get("description") or ""
    encoding = data.get("encoding", "auto")
    if encoding not in ENCODINGS:
        bad(None, f"encoding {encoding!r} is not one of {', '.join(ENCODINGS)}")
    tz_name = data.get("timezone", "Asia/Tokyo")
    tz = ZoneInfo("UTC")
    try:
        tz = ZoneInfo(str(tz_name))
    except (ZoneInfoNotFoundError, ValueError):
        bad(None, f"unknown timezone {tz_name!r} (an IANA name such as Asia/Tokyo; "
                  "without system tz data, pip install tzdata)")

    flags: dict[str, tuple[str, ...]] = {}
    for key in ("true_values", "false_values"):
        values = data.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            bad(None, f"{key} must be a list of strings (quote values such as \"1\" or \"true\")")
            values = []
        flags[key] = tuple(values)
    both = set(flags["true_values"]) & set(flags["false_values"])
    if both:
        bad(None, f"values in both true_values and false_values: {sorted(both)}")

    streams: dict[str, StreamSpec] = {}
    raw_streams = data.get("streams")
    if not isinstance(raw_streams, dict) or not raw_streams:
        bad(None, "'streams' must map stream names to stream definitions")
        raw_streams = {}
    for sname, sdef in raw_streams.items():
        spec = _stream(str(sname), sdef, bad)
        if spec is not None:
            streams[spec.name] = spec
            if any(c.type == "boolean" for c in spec.columns) and not (
                flags["true_values"] and flags["false_values"]
            ):
                bad(sname, "boolean columns need true_values and false_values in the profile")

    if problems:
        raise ProfileError(problems, summary=f"invalid profile {path}:")
    return Profile(
        name=name,
        description=str(description),
        encoding=encoding,
        timezone=str(tz_name),
        true_values=flags["true_values"],
        false_values=flags["false_values"],
        streams=streams,
        path=path,
        tz=tz,
    )


def _stream(sname: str, sdef: Any, bad) -> StreamSpec | None:
    if not _IDENT.match(sname):
        bad(sname, f"stream name {sname!r} must be lower snake_case (it names the raw table)")
    if not isinstance(sdef, dict):
        bad(sname, "a stream must be a mapping with file, primary_key, export, columns")
        return None
    for key in sorted(set(sdef) - _STREAM_KEYS):
        bad(sname, f"unknown key {key!r} (allowed: {', '.join(sorted(_STREAM_KEYS))})")
    glob = sdef.get("file")
    if not isinstance(glob, str) or not glob or "/" in glob:
        bad(sname, "'file' must be a file name glob such as orders*.csv")
        glob = ""

    columns: list[ColumnSpec] = []
    raw_cols = sdef.get("columns")
    if not isinstance(raw_cols, dict) or not raw_cols:
        bad(sname, "'columns' must map raw column names to {header, type, ...}")
        raw_cols = {}
    pk_raw = sdef.get("primary_key")
    if isinstance(pk_raw, str):
        pk_raw = [pk_raw]
    if not isinstance(pk_raw, list) or not pk_raw or not all(isinstance(k, str) for k in pk_raw):
        bad(sname, "'primary_key' must be a column name or a list of column names")
        pk_raw = []
    pk = tuple(pk_raw)

    for cname, cdef in raw_cols.items():
        cname = str(cname)
        where = f"{sname}.{cname}"
        if not _IDENT.match(cname):
            bad(where, "raw column names must be lower snake_case, not starting with '_' "
                       "(the loader's own columns start with '_')")
        if not isinstance(cdef, dict):
            bad(where, "a column must be a mapping such as {header: 受注番号, type: string}")
            continue
        column = _column(cname, cdef, where, bad, is_key=cname in pk)
        if column is not None:
            columns.append(column)

    names = {c.name for c in columns}
    for col in columns:
        if col.authoritative and f"{sname}.{col.name}" not in EXPORT_FIGURES:
            bad(f"{sname}.{col.name}", "'authoritative' applies only to an export figure Teiki also "
                                       f"derives: {', '.join(EXPORT_FIGURES)}")
    for key in pk:
        if key not in names:
            bad(sname, f"primary key column {key!r} is not among the columns "
                       f"({', '.join(sorted(names)) or 'none'})")
    if len(set(pk)) != len(pk):
        bad(sname, f"primary key {list(pk)} repeats a column")
    cursor = sdef.get("cursor_field")
    if cursor is not None and (not isinstance(cursor, str) or cursor not in names):
        bad(sname, f"cursor_field {cursor!r} is not among the columns")
        cursor = None
    by_name = {c.name: c for c in columns}
    # Default: the raw contract's `updated_at` (更新日時) when the stream maps it.
    version = sdef.get("version_field", "updated_at" if "updated_at" in by_name else None)
    if version is not None and (not isinstance(version, str) or version not in by_name
                                or by_name[version].type not in _VERSION_TYPES):
        bad(sname, f"version_field {version!r} must be one of the stream's {'/'.join(_VERSION_TYPES)} "
                   f"columns (the one that dates a record's version, e.g. updated_at)")
        version = None
    export = sdef.get("export", "incremental")
    if export not in EXPORT_KINDS:
        bad(sname, f"export must be one of {' | '.join(EXPORT_KINDS)} (full: every file holds "
                   f"every live record; incremental: only changed ones), not {export!r}")
        export = "incremental"
    optional = sdef.get("optional", False)
    if not isinstance(optional, bool):
        bad(sname, f"optional must be true or false, not {optional!r}")
        optional = False
    repeated = sdef.get("repeated_keys", "error")
    if repeated not in REPEATED_KEYS:
        bad(sname, f"repeated_keys must be one of {' | '.join(REPEATED_KEYS)} (collapse: rows "
                   f"repeating a primary key with the same values are one record), not {repeated!r}")
        repeated = "error"
    return StreamSpec(sname, glob, pk, cursor, tuple(columns), version_field=version,
                      export=export, optional=optional, repeated_keys=repeated)


def _text(value: Any) -> str | None:
    """A YAML scalar as the text a cell would hold; None for a boolean (true/yes/no are ambiguous)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def _column(cname: str, cdef: dict, where: str, bad, *, is_key: bool) -> ColumnSpec | None:
    for key in sorted(set(cdef) - _COLUMN_KEYS):
        bad(where, f"unknown key {key!r} (allowed: {', '.join(sorted(_COLUMN_KEYS))})")
    sources = [k for k in ("header", "headers", "value") if k in cdef]
    if not sources:
        bad(where, "missing 'header' (the CSV header text; quote it if it looks like a number); "
                   "or 'headers' with 'join' for several, or 'value' for a constant")
        return None
    if len(sources) > 1:
        bad(where, f"use one of 'header', 'headers' or 'value', not {' and '.join(sources)}")
        return None
    header, headers, value = "", (), None
    if "header" in cdef:
        header = cdef["header"].strip() if isinstance(cdef["header"], str) else ""
        if not header:
            bad(where, "'header' must be the CSV header text (quote it if it looks like a number)")
        headers = (header,)
    elif "headers" in cdef:
        raw = cdef["headers"]
        if not isinstance(raw, list) or len(raw) < 2 or not all(isinstance(h, str) and h.strip() for h in raw):
            bad(where, "'headers' must list two or more CSV header texts")
            raw = []
        headers = tuple(h.strip() for h in raw)
        header = headers[0] if headers else ""
        if not isinstance(cdef.get("join"), str):
            bad(where, "'headers' needs 'join', the text put between the non-empty cells (e.g. \" \")")
    else:
        value = _text(cdef["value"])
        if value is None:
            bad(where, f"'value' must be a string or a number, not {cdef['value']!r} (quote true/false)")
    join = cdef.get("join")
    if join is not None and "headers" not in cdef:
        bad(where, "'join' goes with 'headers'")
        join = None

    split = None
    if "split" in cdef:
        raw = cdef["split"]
        sep = raw.get("separator") if isinstance(raw, dict) else None
        index = raw.get("index", 0) if isinstance(raw, dict) else None
        if (not isinstance(sep, str) or not sep or not isinstance(index, int) or isinstance(index, bool)
                or set(raw) - {"separator", "index"}):
            bad(where, "'split' must be {separator: <text>, index: <0-based part, negative from the end>}")
        else:
            split = (sep, index)
    pattern = None
    if "pattern" in cdef:
        try:
            pattern = re.compile(str(cdef["pattern"]))
            if pattern.groups != 1:
                bad(where, f"'pattern' needs exactly one group ( ... ), the part kept; it has {pattern.groups}")
                pattern = None
        except re.error as err:
            bad(where, f"'pattern' is not a regular expression: {err}")
    if split and pattern:
        bad(where, "use 'split' or 'pattern', not both")

    mapping = None
    if "map" in cdef:
        raw = cdef["map"]
        if not isinstance(raw, dict) or not raw:
            bad(where, "'map' must map each value as written to the value to store")
        else:
            mapping = {}
            for k, v in raw.items():
                kt, vt = _text(k), ("" if v is None else _text(v))
                if kt is None or vt is None:
                    bad(where, f"map entry {k!r}: {v!r}: quote both sides (true/yes/no are read as booleans)")
                    continue
                mapping[kt.strip()] = vt
    rules = None
    if "rules" in cdef:
        raw = cdef["rules"]
        if not isinstance(raw, list) or not raw:
            bad(where, "'rules' must list {when: <regular expression>, value: <text>} in the order they apply")
            raw = []
        parsed = []
        for n, rule in enumerate(raw, 1):
            when = rule.get("when") if isinstance(rule, dict) else None
            val = _text(rule.get("value")) if isinstance(rule, dict) else None
            if not isinstance(when, str) or val is None or set(rule) - {"when", "value"}:
                bad(where, f"rule {n} must be {{when: <regular expression>, value: <text>}} (quote true/false)")
                continue
            try:
                parsed.append((re.compile(when), val))
            except re.error as err:
                bad(where, f"rule {n}: 'when' is not a regular expression: {err}")
        rules = tuple(parsed) if raw else None
        if mapping is not None:
            bad(where, "use 'map' (exact values) or 'rules' (regular expressions), not both")
    unmapped = cdef.get("unmapped", "error")
    if unmapped not in _UNMAPPED:
        bad(where, f"'unmapped' must be one of {' | '.join(_UNMAPPED)}, not {unmapped!r}")
    if "unmapped" in cdef and mapping is None:
        bad(where, "'unmapped' goes with 'map'")
    default = None
    if "default" in cdef:
        default = _text(cdef["default"])
        if default is None:
            bad(where, f"'default' must be a string or a number, not {cdef['default']!r} (quote true/false)")

    ctype = cdef.get("type")
    if ctype not in SQL_TYPES:
        bad(where, f"unknown type {ctype!r} (one of {' | '.join(SQL_TYPES)})")
        ctype = "string"
    # A column with a default or a constant does not need its header in the file.
    required = cdef.get("required", default is None and value is None)
    not_null = cdef.get("not_null", False)
    for key, flag in (("required", required), ("not_null", not_null)):
        if not isinstance(flag, bool):
            bad(where, f"{key} must be true or false, not {flag!r}")
    authoritative = cdef.get("authoritative", False)
    if not isinstance(authoritative, bool):
        bad(where, f"authoritative must be true or false, not {authoritative!r}")
        authoritative = False
    if is_key:
        if required is False and value is None and default is None:
            bad(where, "a primary key column cannot be required: false")
        not_null = True  # primary-key columns are always not_null
    return ColumnSpec(cname, header, ctype, bool(required), bool(not_null), headers=headers,
                      join=join if isinstance(join, str) else None, split=split, pattern=pattern,
                      map=mapping, unmapped=unmapped if unmapped in _UNMAPPED else "error",
                      default=default, value=value, authoritative=authoritative, rules=rules)
