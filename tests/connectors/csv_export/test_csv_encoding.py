"""Encoding detection: UTF-8, UTF-8 with BOM, cp932; anything else is a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector_fixtures import CUSTOMER_HEADER, CUSTOMERS, csv_text, write_csv
from connectors.csv_export import CsvExportError, read_export
from connectors.csv_export.encoding import decode


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp932", "cp932")],
)
def test_auto_detects_the_three_encodings(tmp_path: Path, encoding: str, expected: str) -> None:
    path = write_csv(tmp_path / "customers.csv", CUSTOMER_HEADER, CUSTOMERS, encoding=encoding)
    parsed = read_export(path, "demo_merchant", "customers")
    assert parsed.encoding == expected
    assert parsed.headers[0] == "顧客ID"  # no BOM left on the first header
    assert [r[1] for r in parsed.rows] == ["山田", "佐藤", "鈴木"]


def test_lf_and_crlf_both_work(tmp_path: Path) -> None:
    lf = write_csv(tmp_path / "a.csv", CUSTOMER_HEADER, CUSTOMERS, newline="\n")
    crlf = write_csv(tmp_path / "b.csv", CUSTOMER_HEADER, CUSTOMERS, newline="\r\n")
    a = read_export(lf, "demo_merchant", "customers")
    b = read_export(crlf, "demo_merchant", "customers")
    assert a.rows == b.rows
    assert a.lines == b.lines == [2, 3, 4]


def test_undecodable_file_names_file_offset_and_line(tmp_path: Path) -> None:
    good = csv_text(CUSTOMER_HEADER, CUSTOMERS[:1]).encode("utf-8")
    # 0x80 and 0xFF are invalid both as UTF-8 and as cp932
    data = good + b"C009,\x80\xff\x80,x\r\n"
    path = tmp_path / "customers_bad.csv"
    path.write_bytes(data)
    with pytest.raises(CsvExportError) as info:
        read_export(path, "demo_merchant", "customers")
    err = info.value
    msg = str(err)
    assert "unknown encoding" in msg
    assert str(path) in msg
    assert f"byte offset {len(good) + 5}" in msg
    assert err.problems[0].file == str(path)
    assert err.problems[0].line == 3


def test_utf16_gets_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(csv_text(CUSTOMER_HEADER, CUSTOMERS).encode("utf-16"))
    with pytest.raises(CsvExportError, match="UTF-16"):
        read_export(path, "demo_merchant", "customers")


def test_explicit_encoding_is_honoured() -> None:
    data = "顧客ID\r\nC001\r\n".encode("cp932")
    assert decode(data, "cp932", "f.csv") == ("顧客ID\r\nC001\r\n", "cp932")
    with pytest.raises(CsvExportError, match="cannot decode as utf-8"):
        decode(data, "utf-8", "f.csv")
    bom = "\ufeff顧客ID\n".encode("utf-8")
    assert decode(bom, "utf-8", "f.csv")[0] == "顧客ID\n"  # BOM dropped even when named utf-8


def test_unknown_encoding_name_is_an_error() -> None:
    with pytest.raises(CsvExportError, match="not one of"):
        decode(b"a", "latin-1", "f.csv")


def test_cr_line_ends_and_trailing_empty_rows(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    data = csv_text(CUSTOMER_HEADER, CUSTOMERS, newline="\r") + ",,,,,,,,,,\r\r"
    path.write_bytes(data.encode("cp932"))
    parsed = read_export(path, "demo_merchant", "customers")
    assert parsed.lines == [2, 3, 4]  # Excel's all-empty rows and blank lines are skipped
