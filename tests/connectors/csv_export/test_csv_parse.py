"""Cell parsers, exactly as the profile header comment defines the types."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from connectors.csv_export.parse import make_parser

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.mark.parametrize(
    ("text", "value"),
    [("1980", 1980), ("1,980", 1980), ("¥1,980", 1980), ("￥1,980", 1980), ("\\1,980", 1980),
     ("-100", -100), ("¥-100", -100), ("-¥100", -100), ("1,980円", 1980), (" 550 ", 550),
     ("0", 0), ("1,234,567", 1234567), ("", None), ("  ", None)],
)
def test_yen_accepts(text: str, value: int | None) -> None:
    assert make_parser("yen")(text) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [("19.80", "decimal point"), ("1980.0", "decimal point"), ("1,98,0", "not a yen amount"),
     ("abc", "not a yen amount"), ("--1", "not a yen amount"), ("-¥-1", "not a yen amount"),
     ("１９８０", "full-width digits"), ("￥１，９８０", "not a yen amount")],
)
def test_yen_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        make_parser("yen")(text)
    assert repr(text) in str(info.value)  # the offending value is shown


def test_integer() -> None:
    p = make_parser("integer")
    assert [p("12"), p("-3"), p("+5"), p(""), p(" 7 ")] == [12, -3, 5, None, 7]
    for bad in ("1,000", "1.5", "1_000", "x"):
        with pytest.raises(ValueError, match="not an integer"):
            p(bad)
    for bad in ("１２３", "-１", "٣", "²"):  # int() and str.isdigit() take these; exports never
        with pytest.raises(ValueError, match="not an integer") as info:
            p(bad)
        assert ("full-width digits" in str(info.value)) == ("１" in bad)


def test_date() -> None:
    p = make_parser("date")
    assert p("2026/11/23") == date(2026, 11, 23)
    assert p("2026-11-23") == date(2026, 11, 23)
    assert p("2026/1/5") == date(2026, 1, 5)
    assert p("2026/11/23 00:00:00") == date(2026, 11, 23)
    assert p("") is None
    with pytest.raises(ValueError, match="not a valid date: '2026/02/30'"):
        p("2026/02/30")
    for bad in ("20261123", "23/11/2026", "2026/11/23 10:00", "2026年11月23日", "２０２６/１１/２３"):
        with pytest.raises(ValueError, match="date"):
            p(bad)


def test_datetime_is_converted_from_jst_to_utc() -> None:
    p = make_parser("datetime", tz=TOKYO)
    assert p("2026/11/23 14:05:09") == datetime(2026, 11, 23, 5, 5, 9)
    assert p("2026-11-23 14:05") == datetime(2026, 11, 23, 5, 5)
    assert p("2026/1/1 00:30:00") == datetime(2025, 12, 31, 15, 30)  # crosses the date line
    assert p("2026-11-23T14:05:09.5") == datetime(2026, 11, 23, 5, 5, 9, 500000)
    assert p("2026/11/23") == datetime(2026, 11, 22, 15, 0)  # bare date = local midnight
    assert p("") is None
    for bad in ("2026/11/23 25:00", "2026-11-23T14:05:09+9:00", "11/23 14:05", "2026/02/30 10:00",
                "2026/11/23 １４:05", "2026-11-23T14:05:09+０９:00"):
        with pytest.raises(ValueError, match="datetime"):
            p(bad)


def test_datetime_follows_dst_in_other_zones() -> None:
    p = make_parser("datetime", tz=ZoneInfo("America/New_York"))
    assert p("2026-07-01 12:00") == datetime(2026, 7, 1, 16, 0)  # EDT, UTC-4
    assert p("2026-12-01 12:00") == datetime(2026, 12, 1, 17, 0)  # EST, UTC-5


@pytest.mark.parametrize("text, utc", [
    ("2023-11-02T10:57:54Z", datetime(2023, 11, 2, 10, 57, 54)),       # UTC, as APIs export
    ("2026-11-23T14:05:09+09:00", datetime(2026, 11, 23, 5, 5, 9)),
    ("2026-11-23T14:05:09+0900", datetime(2026, 11, 23, 5, 5, 9)),
    ("2026-11-23T14:05:09+09", datetime(2026, 11, 23, 5, 5, 9)),
    ("2026-11-23 14:05:09 +09:00", datetime(2026, 11, 23, 5, 5, 9)),
    ("2026-11-23T01:00:00.5-05:30", datetime(2026, 11, 23, 6, 30, 0, 500000)),
    ("2026-11-23T00:10:00z", datetime(2026, 11, 23, 0, 10)),
])
def test_datetime_with_an_offset_ignores_the_profile_timezone(text: str, utc: datetime) -> None:
    for tz in (TOKYO, ZoneInfo("America/New_York")):
        assert make_parser("datetime", tz=tz)(text) == utc


@pytest.mark.parametrize("text, message", [
    ("2026-11-23T14:05:09+25:00", "offset"),
    ("2026-11-23T14:05:09+09:00x", "not a datetime"),
    ("2026-11-23Z", "not a datetime"),
])
def test_datetime_rejects_a_malformed_offset_naming_the_value(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        make_parser("datetime", tz=TOKYO)(text)
    assert text in str(err.value)


def test_boolean_uses_profile_values() -> None:
    p = make_parser("boolean", true_values=["希望する", "1"], false_values=["希望しない", "0"])
    assert [p("希望する"), p("1"), p("希望しない"), p(" 0 "), p("")] == [True, True, False, False, None]
    with pytest.raises(ValueError, match="not a boolean: 'はい'") as info:
        p("はい")
    assert "希望する" in str(info.value)  # lists the accepted values


def test_string_keeps_text_and_empty_is_null() -> None:
    p = make_parser("string")
    assert p(" 山田 ") == " 山田 "
    assert p("") is None
