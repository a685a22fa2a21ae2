"""Bad input: a clear error naming file, line and column; the warehouse keeps its earlier
loads, sync_state is untouched, and a `failed` sync_log row is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector_fixtures import (
    CUSTOMER_HEADER,
    CUSTOMERS,
    ORDER_HEADER,
    ORDERS,
    csv_text,
    query,
    snapshot,
    sync_log,
    write_csv,
)
from connectors.csv_export import CsvExportError, load_export_dir, load_file


@pytest.fixture
def loaded(wh: Path, export_dir: Path) -> Path:
    """A warehouse with customers and orders already loaded (the 'earlier loads')."""
    write_csv(export_dir / "customers_1.csv", CUSTOMER_HEADER, CUSTOMERS)
    write_csv(export_dir / "orders_1.csv", ORDER_HEADER, ORDERS)
    results = load_export_dir(wh, export_dir, "demo_merchant")
    assert [r.status for r in results] == ["success", "success"]
    return wh


def reject(wh: Path, path: Path, stream: str) -> CsvExportError:
    """Load a bad file; check nothing changed and a failed sync was logged; return the error."""
    before = snapshot(wh)
    n_log = len(sync_log(wh))
    with pytest.raises(CsvExportError) as info:
        load_file(wh, path, "demo_merchant", stream)
    err = info.value
    assert snapshot(wh) == before, "a failed load must change nothing"
    log = sync_log(wh)
    assert len(log) == n_log + 1
    assert log[-1]["status"] == "failed"
    assert log[-1]["detail"] == str(path)
    assert log[-1]["stream"] == stream
    assert log[-1]["error"] == str(err)
    assert (log[-1]["rows_inserted"], log[-1]["rows_updated"]) == (0, 0)
    assert str(path) in str(err)
    return err


def only_problem(err: CsvExportError, line: int | None, column: str | None, *snippets: str) -> None:
    assert err.total == len(err.problems) == 1, str(err)
    p = err.problems[0]
    assert (p.line, p.column) == (line, column), str(err)
    for s in snippets:
        assert s in p.message, str(err)
    text = str(err)
    if line is not None:
        assert f"line {line}" in text
    if column is not None:
        assert f"column {column}" in text


def orders_with(export_dir: Path, row_index: int, field: str, value: str, name: str = "orders_2.csv") -> Path:
    rows = [list(r) for r in ORDERS]
    rows[row_index][ORDER_HEADER.index(field)] = value
    rows[0][0] = "O-2001"
    rows[1][0] = "O-2002"
    return write_csv(export_dir / name, ORDER_HEADER, rows)


def test_unknown_encoding(loaded: Path, export_dir: Path) -> None:
    path = export_dir / "orders_2.csv"
    path.write_bytes(csv_text(ORDER_HEADER, ORDERS).encode("cp932") + b"O-3,\xff\xfe,\x80\r\n")
    err = reject(loaded, path, "orders")
    only_problem(err, 4, None, "unknown encoding", "byte offset")


def test_missing_required_column_lists_headers_found(loaded: Path, export_dir: Path) -> None:
    header = [h if h != "受注日時" else "注文日時" for h in ORDER_HEADER]
    path = write_csv(export_dir / "orders_2.csv", header, ORDERS)
    err = reject(loaded, path, "orders")
    only_problem(err, 1, "受注日時", "missing required column '受注日時'", "headers found: 受注番号, 顧客ID, 注文日時")


def test_headerless_export_never_echoes_the_customer_record(loaded: Path, export_dir: Path) -> None:
    """A file whose first line is data: the error says the header is missing and shows none of
    the record's fields (they are a customer's name, mail and phone)."""
    path = export_dir / "customers_2.csv"
    path.write_bytes("".join(csv_text(CUSTOMER_HEADER, CUSTOMERS).splitlines(keepends=True)[1:]).encode("cp932"))
    err = reject(loaded, path, "customers")
    text = str(err)
    assert "is the header row missing?" in text
    for field in CUSTOMERS[0]:
        if len(str(field)) >= 3:
            assert str(field) not in text.replace(str(path), ""), f"{field!r} echoed in the error"


def test_full_width_parentheses_in_headers_still_match(loaded: Path, export_dir: Path) -> None:
    from connector_fixtures import SUBSCRIPTION_HEADER, SUBSCRIPTIONS

    header = [h.replace("(", "（").replace(")", "）") for h in SUBSCRIPTION_HEADER]
    path = write_csv(export_dir / "subscriptions_1.csv", header, SUBSCRIPTIONS)
    assert load_file(loaded, path, "demo_merchant").status == "success"


@pytest.mark.parametrize(
    ("field", "value", "snippet"),
    [
        ("発送日", "2026/11/31", "not a valid date: '2026/11/31'"),
        ("発送日", "11/02", "not a date: '11/02'"),
        ("受注日時", "2026/11/01 9時", "not a datetime: '2026/11/01 9時'"),
        ("定期回数", "一", "not an integer: '一'"),
        ("合計金額", "4,030.5", "yen amount with a decimal point: '4,030.5'"),
        ("送料", "無料", "not a yen amount: '無料'"),
    ],
)
def test_unparsable_values(loaded: Path, export_dir: Path, field: str, value: str, snippet: str) -> None:
    path = orders_with(export_dir, 0, field, value)
    err = reject(loaded, path, "orders")
    only_problem(err, 2, field, snippet)


def test_not_null_violated(loaded: Path, export_dir: Path) -> None:
    path = orders_with(export_dir, 1, "合計金額", "")
    err = reject(loaded, path, "orders")
    only_problem(err, 3, "合計金額", "empty value", "total must not be null")


def test_empty_primary_key(loaded: Path, export_dir: Path) -> None:
    path = orders_with(export_dir, 1, "受注番号", "")
    rows = [list(r) for r in ORDERS]
    rows[1][0] = ""
    path = write_csv(export_dir / "orders_2.csv", ORDER_HEADER, rows)
    err = reject(loaded, path, "orders")
    only_problem(err, 3, "受注番号", "order_id must not be null")


def test_boolean_not_in_the_lists(loaded: Path, export_dir: Path) -> None:
    rows = [list(r) for r in CUSTOMERS]
    rows[2][CUSTOMER_HEADER.index("メルマガ配信")] = "たぶん"
    path = write_csv(export_dir / "customers_2.csv", CUSTOMER_HEADER, rows)
    err = reject(loaded, path, "customers")
    only_problem(err, 4, "メルマガ配信", "not a boolean: 'たぶん'", "希望する")


def test_duplicate_primary_key_names_both_lines(loaded: Path, export_dir: Path) -> None:
    rows = [list(r) for r in CUSTOMERS] + [list(CUSTOMERS[0])]
    path = write_csv(export_dir / "customers_2.csv", CUSTOMER_HEADER, rows)
    err = reject(loaded, path, "customers")
    only_problem(err, 5, "顧客ID", "duplicate primary key (customer_id=C001)", "also on line 2")


def test_duplicate_composite_key(loaded: Path, export_dir: Path) -> None:
    header = ["受注番号", "明細番号", "商品コード", "数量", "単価(税込)", "値引額", "小計", "更新日時"]
    rows = [["O-1", "1", "P-A", "1", "1,980", "", "1,980", "2026/11/01 10:00"],
            ["O-1", "2", "P-B", "1", "980", "", "980", "2026/11/01 10:00"],
            ["O-1", "1", "P-C", "1", "500", "", "500", "2026/11/01 10:00"]]
    path = write_csv(export_dir / "order_lines_1.csv", header, rows)
    err = reject(loaded, path, "order_lines")
    only_problem(err, 4, "受注番号 + 明細番号", "order_id=O-1, line_number=1", "also on line 2")


def test_empty_file_zero_bytes(loaded: Path, export_dir: Path) -> None:
    path = export_dir / "orders_2.csv"
    path.write_bytes(b"")
    err = reject(loaded, path, "orders")
    only_problem(err, None, None, "empty file (0 bytes)")


def test_header_only_file(loaded: Path, export_dir: Path) -> None:
    path = write_csv(export_dir / "orders_2.csv", ORDER_HEADER, [])
    err = reject(loaded, path, "orders")
    only_problem(err, None, None, "header line only", "no data rows")


def test_blank_lines_only(loaded: Path, export_dir: Path) -> None:
    path = export_dir / "orders_2.csv"
    path.write_bytes(b"\r\n\r\n")
    err = reject(loaded, path, "orders")
    only_problem(err, None, None, "only blank lines")


@pytest.mark.parametrize(("extra", "word"), [(["x"], "more"), (None, "fewer")])
def test_row_with_wrong_field_count(loaded: Path, export_dir: Path, extra, word: str) -> None:
    rows = [list(r) for r in ORDERS]
    rows[1] = rows[1] + extra if extra else rows[1][:-2]
    path = write_csv(export_dir / "orders_2.csv", ORDER_HEADER, rows)
    err = reject(loaded, path, "orders")
    only_problem(err, 3, None, f"fields, {word} than the header's 13")


def test_malformed_quotes(loaded: Path, export_dir: Path) -> None:
    text = csv_text(ORDER_HEADER, ORDERS) + 'O-9,C001,"2026/11/01 10:00"x,,,発送済み\r\n'
    path = export_dir / "orders_2.csv"
    path.write_bytes(text.encode("cp932"))
    err = reject(loaded, path, "orders")
    assert err.problems[0].line == 4 and "malformed CSV" in err.problems[0].message


def test_many_problems_in_one_exception(loaded: Path, export_dir: Path) -> None:
    rows = []
    for i in range(30):
        row = list(ORDERS[0])
        row[0] = f"O-9{i:03d}"
        row[ORDER_HEADER.index("受注日時")] = "昨日"  # 30 bad datetimes
        rows.append(row)
    rows[5][ORDER_HEADER.index("合計金額")] = "1.5"  # and one bad amount on line 7
    path = write_csv(export_dir / "orders_2.csv", ORDER_HEADER, rows)
    err = reject(loaded, path, "orders")
    assert err.total == 31
    assert len(err.problems) == 20
    assert [p.line for p in err.problems] == sorted(p.line for p in err.problems)
    assert any(p.column == "合計金額" and p.line == 7 for p in err.problems)
    assert "... and 11 more" in str(err)
    assert all(p.file == str(path) for p in err.problems)


def test_failed_file_stops_its_stream_but_not_others(loaded: Path, export_dir: Path) -> None:
    orders_with(export_dir, 0, "受注日時", "昨日", name="orders_2.csv")
    later = [list(r) for r in ORDERS]
    later[0][0], later[1][0] = "O-3001", "O-3002"
    write_csv(export_dir / "orders_3.csv", ORDER_HEADER, later)
    more_customers = [["C010", "伊藤", "健", "ken@example.com", "090", "愛知県", "", "希望する", "",
                       "2026/11/25 10:00", "2026/11/25 10:00"]]
    write_csv(export_dir / "customers_2.csv", CUSTOMER_HEADER, more_customers)

    with pytest.raises(CsvExportError) as info:
        load_export_dir(loaded, export_dir, "demo_merchant")

    err = info.value
    assert "1 of 4 export files failed" in str(err)
    assert err.problems[0].file.endswith("orders_2.csv") and err.problems[0].line == 2
    statuses = {(r.stream, Path(r.detail).name): r.status for r in err.results}
    assert statuses == {
        ("customers", "customers_1.csv"): "skipped",
        ("customers", "customers_2.csv"): "success",
        ("orders", "orders_1.csv"): "skipped",
        ("orders", "orders_2.csv"): "failed",
    }  # orders_3.csv was not attempted
    assert query(loaded, "SELECT count(*) FROM raw_csv.orders") == [(2,)]
    assert query(loaded, "SELECT count(*) FROM raw_csv.customers") == [(4,)]


def test_raise_on_error_false_returns_failed_results(loaded: Path, export_dir: Path) -> None:
    orders_with(export_dir, 0, "受注日時", "昨日", name="orders_2.csv")
    results = load_export_dir(loaded, export_dir, "demo_merchant", raise_on_error=False)
    failed = [r for r in results if r.status == "failed"]
    assert len(failed) == 1
    assert isinstance(failed[0].exception, CsvExportError)
    assert "line 2, column 受注日時" in failed[0].error
