"""Cell parsers for the profile types. Each takes the cell text and returns a Python value, None
for an empty cell, or raises ValueError with a message that shows the offending value.

    string    the text as is ("" -> None)
    integer   [+-]digits                       "12", "-3"
    yen       integer yen: "1980", "1,980", "¥1,980", "￥1,980", "-100", "1,980円";
              a decimal point is an error
    date      YYYY/M/D or YYYY-M-D ("2026/11/23", "2026-11-23", "2026/1/5"); a midnight time
              part ("2026/11/23 00:00:00", as spreadsheets write dates) is accepted
    datetime  a date, then " " or "T" and H:MM[:SS[.ffffff]] ("2026/11/23 14:05:09",
              "2026-11-23 14:05"); a bare date means midnight. Without an offset the time is the
              profile's timezone (the cart's local time); ISO-8601's "Z" or an offset
              ("2023-11-02T10:57:54Z", "2026-11-23T14:05:09+09:00", "+0900", "+09") says the
              zone itself. Returned as naive UTC
    boolean   the profile's true_values / false_values

For every type but string, surrounding whitespace is ignored and a blank cell is None. Digits
are ASCII 0-9 only: full-width １２３ (and every other script's digits, which Python's int() and
str.isdigit() would take) are an error that says so, never read as a number.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo

Parser = Callable[[str], Any]

_YEN = re.compile(r"^([+-]?)[¥￥\\]?([+-]?)([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)円?$")
_DATE_HINT = "expected e.g. 2026/11/23 or 2026-11-23"
_DATETIME_HINT = ("expected e.g. 2026/11/23 14:05:09, 2026-11-23 14:05 or "
                  "2026-11-23T05:05:09Z / +09:00")
# An ISO-8601 zone designator at the end of a time: Z, or +HH[:MM] / -HH[MM].
_OFFSET = re.compile(r"(?:[Zz]|([+-])([0-9]{2})(?::?([0-9]{2}))?)$")
_FULL_WIDTH_DIGITS = re.compile("[０-９]")


def _digits(s: str) -> bool:
    """ASCII digits only (str.isdigit() also takes １２３, ٣ and ²)."""
    return s.isascii() and s.isdigit()


def _hint(s: str) -> str:
    if _FULL_WIDTH_DIGITS.search(s):
        return "; it has full-width digits: the export must write half-width 0-9"
    return ""


def parse_string(s: str) -> str | None:
    return s or None


def parse_integer(s: str) -> int | None:
    t = s.strip()
    if not t:
        return None
    digits = t[1:] if t[0] in "+-" else t
    if _digits(digits):
        return int(t)
    raise ValueError(f"not an integer: {s!r}{_hint(s)}")


def parse_yen(s: str) -> int | None:
    t = s.strip()
    if not t:
        return None
    if _digits(t):  # fast path: "1980"
        return int(t)
    m = _YEN.match(t)
    if m is None or (m.group(1) and m.group(2)):
        if "." in t:
            raise ValueError(f"yen amount with a decimal point: {s!r} (amounts are whole yen)")
        raise ValueError(f"not a yen amount: {s!r} (expected e.g. 1980, 1,980, ¥1,980 or -100)"
                         f"{_hint(s)}")
    value = int(m.group(3).replace(",", ""))
    return -value if "-" in (m.group(1), m.group(2)) else value


def _ymd(s: str) -> tuple[int, int, int] | None:
    parts = s.split("/") if "/" in s else s.split("-")
    if len(parts) != 3:
        return None
    y, m, d = parts
    if (
        len(y) == 4
        and 1 <= len(m) <= 2
        and 1 <= len(d) <= 2
        and _digits(y + m + d)
    ):
        return int(y), int(m), int(d)
    return None


def _hms(s: str) -> tuple[int, int, int, int] | None:
    parts = s.split(":")
    if len(parts) not in (2, 3):
        return None
    hour, minute = parts[0], parts[1]
    second, micro = "0", 0
    if len(parts) == 3:
        second, _, frac = parts[2].partition(".")
        if frac:
            if not (_digits(frac) and len(frac) <= 6):
                return None
            micro = int(frac.ljust(6, "0"))
        if len(second) != 2:
            return None
    if not (1 <= len(hour) <= 2 and len(minute) == 2):
        return None
    if not _digits(hour + minute + second):
        return None
    return int(hour), int(minute), int(second), micro


def _split(t: str) -> tuple[str, str]:
    date_part, sep, time_part = t.partition(" ")
    if not sep:
        date_part, _, time_part = t.partition("T")
    return date_part, time_part.strip()


def parse_date(s: str) -> date | None:
    t = s.strip()
    if not t:
        return None
    date_part, time_part = _split(t)
    ymd = _ymd(date_part)
    if ymd is None:
        raise ValueError(f"not a date: {s!r} ({_DATE_HINT}){_hint(s)}")
    if time_part:
        hms = _hms(time_part)
        if hms is None or any(hms):
            raise ValueError(f"not a date: {s!r} has a time of day ({_DATE_HINT})")
    try:
        return date(*ymd)
    except ValueError as err:
        raise ValueError(f"not a valid date: {s!r} ({err})") from None


def _offset(time_part: str) -> tuple[str, timedelta | None]:
    """Split an ISO-8601 zone designator off a time: ("10:57:54", +0:00) for "10:57:54Z"."""
    m = _OFFSET.search(time_part)
    if m is None or ":" not in time_part[: m.start()]:
        return time_part, None
    if m.group(1) is None:
        return time_part[: m.start()], timedelta(0)
    hours, minutes = int(m.group(2)), int(m.group(3) or 0)
    if hours > 23 or minutes > 59:
        raise ValueError(f"not a valid UTC offset in {time_part!r}")
    delta = timedelta(hours=hours, minutes=minutes)
    return time_part[: m.start()], -delta if m.group(1) == "-" else delta


def parse_local_datetime(s: str) -> datetime | None:
    """Parse a naive datetime as written (no timezone conversion; an offset is an error)."""
    parsed = _parse_datetime(s)
    if parsed is None:
        return None
    local, offset = parsed
    if offset is not None:
        raise ValueError(f"not a local datetime: {s!r} carries a UTC offset")
    return local


def _parse_datetime(s: str) -> tuple[datetime, timedelta | None] | None:
    """(the datetime as written, its UTC offset or None when the text names no zone)."""
    t = s.strip()
    if not t:
        return None
    date_part, time_part = _split(t)
    offset = None
    if time_part:
        try:
            time_part, offset = _offset(time_part)
            time_part = time_part.strip()
        except ValueError as err:
            raise ValueError(f"not a valid datetime: {s!r} ({err})") from None
    ymd = _ymd(date_part)
    hms = _hms(time_part) if time_part else (0, 0, 0, 0)
    if ymd is None or hms is None:
        raise ValueError(f"not a datetime: {s!r} ({_DATETIME_HINT}){_hint(s)}")
    try:
        return datetime(*ymd, *hms), offset
    except ValueError as err:
        raise ValueError(f"not a valid datetime: {s!r} ({err})") from None


_MISS = object()

#: Distinct values a memoizing parser remembers (per column of one file).
MEMO_LIMIT = 100_000


def memoize(parser: Parser, limit: int = MEMO_LIMIT) -> Parser:
    """Wrap a parser with a cache of the values it has seen (exports repeat dates, amounts,
    flags a lot). Failures are not cached, so every bad cell is reported."""
    cache: dict[str, Any] = {}
    get = cache.get

    def parse(s: str) -> Any:
        value = get(s, _MISS)
        if value is _MISS:
            value = parser(s)
            if len(cache) < limit:
                cache[s] = value
        return value

    return parse


class _ToUtc:
    """Local naive datetime -> naive UTC, caching the offset per local hour.

    An hour whose two ends have different offsets (a DST change inside it) is computed per value.
    Ambiguous or missing local times follow zoneinfo's fold=0 rule. Asia/Tokyo has had no DST
    since 1951, so there every value is local - 9 hours.
    """

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self.cache: dict[tuple[int, int, int, int], timedelta] = {}

    def __call__(self, dt: datetime) -> datetime:
        key = (dt.year, dt.month, dt.day, dt.hour)
        offset = self.cache.get(key)
        if offset is None:
            start = dt.replace(minute=0, second=0, microsecond=0)
            a = self.tz.utcoffset(start)
            b = self.tz.utcoffset(start.replace(minute=59, second=59, microsecond=999999))
            if a != b:
                return dt - self.tz.utcoffset(dt)
            offset = self.cache[key] = a
        return dt - offset


def make_datetime_parser(tz: ZoneInfo) -> Parser:
    """Local datetime text -> naive UTC datetime. The date part and the time part are cached
    separately (dates and clock times repeat even when whole timestamps do not)."""
    to_utc = _ToUtc(tz)
    dates: dict[str, tuple[int, int, int] | None] = {}
    times: dict[str, tuple[int, int, int, int] | None] = {}

    def parse_datetime(s: str) -> datetime | None:
        date_part, sep, time_part = s.partition(" ")
        if sep and len(dates) < MEMO_LIMIT and len(times) < MEMO_LIMIT:
            ymd = dates.get(date_part, _MISS)
            if ymd is _MISS:
                ymd = dates[date_part] = _ymd(date_part)
            hms = times.get(time_part, _MISS)
            if hms is _MISS:
                hms = times[time_part] = _hms(time_part)
            if ymd is not None and hms is not None:
                try:
                    return to_utc(datetime(*ymd, *hms))  # type: ignore[misc]
                except ValueError:
                    pass  # e.g. 2026/02/30: the general path words the error
        parsed = _parse_datetime(s)
        if parsed is None:
            return None
        written, offset = parsed
        return to_utc(written) if offset is None else written - offset

    return parse_datetime


def make_boolean_parser(true_values: Iterable[str], false_values: Iterable[str]) -> Parser:
    trues, falses = list(true_values), list(false_values)
    table = {v: True for v in trues}
    table.update({v: False for v in falses})
    table.update({v.strip(): True for v in trues})
    table.update({v.strip(): False for v in falses})
    accepted = f"true: {' / '.join(trues)}; false: {' / '.join(falses)}"

    def parse_boolean(s: str) -> bool | None:
        value = table.get(s)
        if value is not None:
            return value
        t = s.strip()
        if not t:
            return None
        value = table.get(t)
        if value is None:
            raise ValueError(f"not a boolean: {s!r} (profile values {accepted})")
        return value

    return parse_boolean


def make_parser(
    type_: str,
    *,
    tz: ZoneInfo | None = None,
    true_values: Iterable[str] = (),
    false_values: Iterable[str] = (),
) -> Parser:
    """The parser for a profile type (string | integer | yen | date | datetime | boolean)."""
    if type_ == "string":
        return parse_string
    if type_ == "integer":
        return memoize(parse_integer)
    if type_ == "yen":
        return memoize(parse_yen)
    if type_ == "date":
        return memoize(parse_date)
    if type_ == "datetime":
        return make_datetime_parser(tz or ZoneInfo("Asia/Tokyo"))
    if type_ == "boolean":
        return memoize(make_boolean_parser(true_values, false_values))
    raise ValueError(f"unknown type {type_!r}")
