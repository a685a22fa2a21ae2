"""Bad input: a clear error naming file, line and column; the warehouse keeps its earlier
loads, sync_state is untouched, and a `failed` sync_log row is written.

Most cases are rows of one table, the failure-injection corpus (`CASES`): each is the bytes of
a defective export and the problem the load must report. Every case is loaded into one warehouse
that already holds good exports and asserts (a) the message names the file, line and column,
(b) the raw tables and sync_state are exactly as before, and (c) no personal value of the file
(a name, mail address, phone number, birthday or customer id) appears in the error, except the
one offending value the case names.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from connector_fixtures import (
    CUSTOMER_HEADER,
    CUSTOMERS,
    ORDER_HEADER,
    ORDERS,
    SUBSCRIPTION_HEADER,
    SUBSCRIPTIONS,
    csv_text,
    query,
    snapshot,
    sync_log,
    write_csv,
)
from connectors.csv_export import (
    CsvExportError,
    Profile,
    load_export_dir,
    load_file,
    load_profile,
    read_export,
)
from connectors.csv_export.profile import PROFILES_DIR


@pytest.fixture
def loaded(wh: Path, export_dir: Path) -> Path:
    """A warehouse with customers and orders already loaded (the 'earlier loads')."""
    write_csv(export_dir / "customers_1.csv", CUSTOMER_HEADER, CUSTOMERS)
    write_csv(export_dir / "orders_1.csv", ORDER_HEADER, ORDERS)
    results = load_export_dir(wh, export_dir, "demo_merchant")
    assert [r.status for r in results] == ["success", "success"]
    return wh


def reject(wh: Path, path: Path, stream: str, profile: str | Path | Profile = "demo_merchant", *,
           before: dict | None = None, n_log: int | None = None) -> CsvExportError:
    """Load a bad file; check nothing changed and a failed sync was logged; return the error.
    ``before`` / ``n_log``: the warehouse's snapshot and sync_log length, when already known."""
    before = snapshot(wh) if before is None else before
    n_log = len(sync_log(wh)) if n_log is None else n_log
    with pytest.raises(CsvExportError) as info:
        load_file(wh, path, profile, stream)
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


# -- the corpus -------------------------------------------------------------------------------

ORDER_LINE_HEADER = ["受注番号", "明細番号", "商品コード", "数量", "単価(税込)", "値引額", "小計", "更新日時"]
ORDER_LINES = [["O-1001", "1", "P-SERUM", "1", "3,980", "", "3,980", "2026/11/02 10:00:00"],
               ["O-1002", "1", "P-CREAM", "1", "1,980", "", "1,980", "2026/11/03 23:30:00"]]

# A customer whose given name is also a header of the stream (メイ, the kana column): her record
# as the first line of a headerless export matches one header.
MEI_RECORD = ["C000001", "竹内", "メイ", "mtakeuchi@example.com", "090-3333-4444", "東京都",
              "1979/5/5", "希望する", "", "2026/01/05 10:00:00", "2026/11/23 14:05:09"]

PERSONAL_HEADERS = {"顧客ID", "姓", "名", "メールアドレス", "電話番号", "生年月日"}
PERSONAL_VALUES = sorted({v for row in CUSTOMERS + [MEI_RECORD]
                          for h, v in zip(CUSTOMER_HEADER, row) if h in PERSONAL_HEADERS and v})


def table(header: list[str], rows: list[list[str]], *edits: tuple[int, str, str],
          encoding: str = "cp932", newline: str = "\r\n") -> bytes:
    """An export of ``rows`` with ``edits`` (row index, header, new value) applied."""
    rows = [list(r) for r in rows]
    for i, field, value in edits:
        rows[i][header.index(field)] = value
    return csv_text(header, rows, newline).encode(encoding)


def orders(*edits: tuple[int, str, str], **kw) -> bytes:
    """The good orders export as a later file (ids O-2001, O-2002), edited."""
    return table(ORDER_HEADER, ORDERS, (0, "受注番号", "O-2001"), (1, "受注番号", "O-2002"), *edits, **kw)


def customers(*edits: tuple[int, str, str], **kw) -> bytes:
    return table(CUSTOMER_HEADER, CUSTOMERS, *edits, **kw)


def body_only(data: bytes) -> bytes:
    """The export without its header line."""
    return data[data.index(b"\n") + 1:]


def cut_inside(data: bytes, text: str, encoding: str, keep: int = 1) -> bytes:
    """``data`` cut after the first ``keep`` bytes of the last occurrence of ``text``."""
    return data[: data.rindex(text.encode(encoding)) + keep]


@dataclass(frozen=True)
class Case:
    id: str
    stream: str
    content: bytes | None  # None: the file does not exist
    line: int | None
    column: str | None
    fragments: tuple[str, ...]
    only: bool = True  # the error has exactly this one problem (else: the first of its line
                       # and column says it)
    shown: str | None = None  # the one personal value the message may show
    hidden: tuple[str, ...] = ()  # further values that must not appear (a whole record)
    profile: str = "demo_merchant"


def case(id: str, stream: str, content: bytes | None, line: int | None, column: str | None,
         *fragments: str, **kw) -> Case:
    return Case(id, stream, content, line, column, fragments, **kw)


UTF8_ROWS = csv_text(CUSTOMER_HEADER, CUSTOMERS)

CASES = [
    # -- encodings --
    case("enc_unknown", "orders",
         csv_text(ORDER_HEADER, ORDERS).encode("cp932") + b"O-3,\xff\xfe,\x80\r\n",
         4, None, "unknown encoding", "byte offset"),
    case("enc_utf16", "customers", UTF8_ROWS.encode("utf-16"), 1, None,
         "unknown encoding", "looks like UTF-16"),
    case("enc_utf16_without_bom", "customers", "id,name\r\nC001,x\r\n".encode("utf-16-le"), None,
         None, "NUL bytes", "UTF-16 without a byte-order mark"),
    case("enc_bom_on_cp932", "customers", b"\xef\xbb\xbf" + customers(), 1, None,
         "byte-order mark (BOM) but is not UTF-8", "byte offset 3 (line 1, bytes 8c da",
         "reads as cp932/Shift_JIS"),
    case("enc_bom_utf8_header_cp932_rows", "customers",
         b"\xef\xbb\xbf" + csv_text(CUSTOMER_HEADER, []).encode("utf-8") + "顧1,山田\r\n".encode("cp932"),
         2, None, f"byte offset {3 + len(csv_text(CUSTOMER_HEADER, []).encode())} (line 2",
         "UTF-8 up to line 2"),
    case("enc_named_utf8_gets_cp932", "customers", customers((0, "登録日時", "2026/01/06 10:00")), 1, None,
         "cannot decode as utf-8 (the profile's encoding)", profile="utf8"),
    case("enc_cut_inside_utf8_character", "customers",
         cut_inside(UTF8_ROWS.encode("utf-8"), "北海道", "utf-8"), 4, None,
         "the file looks truncated at line 4", "multi-byte UTF-8 character"),
    case("enc_cut_inside_cp932_character", "customers",
         cut_inside(customers(), "北海道", "cp932"), 4, None,
         "the file looks truncated at line 4", "multi-byte cp932/Shift_JIS character"),
    case("enc_cut_inside_character_after_bom", "customers",
         cut_inside(b"\xef\xbb\xbf" + UTF8_ROWS.encode("utf-8"), "北海道", "utf-8", keep=2), 4, None,
         "the file looks truncated at line 4",
         f"byte offset {3 + UTF8_ROWS.encode().rindex('北海道'.encode())} (line 4"),
    case("enc_cut_named_cp932", "customers", cut_inside(customers(), "一郎", "cp932", keep=3), 4, None,
         "the file looks truncated at line 4", profile="cp932"),
    # -- headers --
    case("hdr_missing_required", "orders",
         csv_text([h if h != "受注日時" else "注文日時" for h in ORDER_HEADER], ORDERS).encode("cp932"),
         1, "受注日時", "missing required column '受注日時'", "headers found: 受注番号, 顧客ID, 注文日時"),
    case("hdr_missing_required_beside_a_numeric_header", "orders",
         csv_text([h if h != "受注日時" else "注文日時" for h in ORDER_HEADER] + ["2026"],
                  [r + ["x"] for r in ORDERS]).encode("cp932"),
         1, "受注日時", "headers found: 受注番号, 顧客ID, 注文日時"),
    case("hdr_close_match", "orders",
         csv_text([h if h != "受注日時" else "受注日付" for h in ORDER_HEADER], ORDERS).encode("cp932"),
         1, "受注日時", "did you mean '受注日付'?"),
    case("hdr_headerless", "customers", body_only(customers()), 1, "顧客ID",
         "is the header row missing?", "looks like data", only=False,
         hidden=tuple(str(f) for f in CUSTOMERS[0] if len(str(f)) >= 3)),
    case("hdr_headerless_first_record_matches_a_header", "customers",
         body_only(table(CUSTOMER_HEADER, [MEI_RECORD])), 1, "顧客ID",
         "is the header row missing?", "looks like data", only=False,
         hidden=tuple(f for f in MEI_RECORD if len(f) >= 3)),
    case("hdr_mapped_header_twice", "orders",
         csv_text(ORDER_HEADER + ["受注日時"], [r + ["x"] for r in ORDERS]).encode("cp932"),
         1, "受注日時", "header appears more than once (fields 3 and 14)"),
    case("hdr_wrong_stream", "customers", orders(), 1, None,
         "required headers are missing: is this file really for stream customers", only=False),
    case("hdr_empty_file", "orders", b"", None, None, "empty file (0 bytes)"),
    case("hdr_header_only", "orders", csv_text(ORDER_HEADER, []).encode("cp932"), None, None,
         "header line only", "no data rows"),
    case("hdr_blank_lines_only", "orders", b"\r\n\r\n", None, None, "only blank lines"),
    # -- keys --
    case("key_duplicate", "customers", table(CUSTOMER_HEADER, CUSTOMERS + CUSTOMERS[:1]), 5, "顧客ID",
         "duplicate primary key (customer_id=C001)", "also on line 2", shown="C001"),
    case("key_duplicate_composite", "order_lines",
         table(ORDER_LINE_HEADER, ORDER_LINES + [ORDER_LINES[0]], (2, "商品コード", "P-C")), 4,
         "受注番号 + 明細番号", "order_id=O-1001, line_number=1", "also on line 2"),
    case("key_empty", "orders", table(ORDER_HEADER, ORDERS, (1, "受注番号", "")), 3, "受注番号",
         "order_id must not be null"),
    case("key_only_spaces", "orders", orders((1, "受注番号", "  ")), 3, "受注番号",
         "blank value (only spaces), but order_id must not be null"),
    case("key_empty_customer", "customers", customers((2, "顧客ID", "")), 4, "顧客ID",
         "customer_id must not be null"),
    case("key_empty_part_of_composite", "order_lines",
         table(ORDER_LINE_HEADER, ORDER_LINES, (1, "明細番号", "")), 3, "明細番号",
         "line_number must not be null"),
    # -- references (the id of the row a record points to) --
    case("ref_order_without_customer", "orders", orders((0, "顧客ID", "")), 2, "顧客ID",
         "customer_id must not be null"),
    case("ref_customer_of_spaces", "subscriptions",
         table(SUBSCRIPTION_HEADER, SUBSCRIPTIONS, (1, "顧客ID", " ")), 3, "顧客ID",
         "blank value (only spaces), but customer_id must not be null"),
    case("ref_order_line_without_product", "order_lines",
         table(ORDER_LINE_HEADER, ORDER_LINES, (0, "商品コード", "")), 2, "商品コード",
         "product_id must not be null"),
    # -- types --
    case("type_impossible_date", "orders", orders((0, "発送日", "2026/11/31")), 2, "発送日",
         "not a valid date: '2026/11/31'"),
    case("type_not_a_leap_year", "orders", orders((0, "発送日", "2026/02/29")), 2, "発送日",
         "not a valid date: '2026/02/29'"),
    case("type_date_without_year", "orders", orders((0, "発送日", "11/02")), 2, "発送日",
         "not a date: '11/02'"),
    case("type_datetime_in_words", "orders", orders((0, "受注日時", "2026/11/01 9時")), 2, "受注日時",
         "not a datetime: '2026/11/01 9時'"),
    case("type_hour_24", "orders", orders((1, "受注日時", "2026/11/03 24:00:00")), 3, "受注日時",
         "not a valid datetime: '2026/11/03 24:00:00'"),
    case("type_offset_out_of_range", "orders", orders((1, "更新日時", "2026-11-03T23:30:00+25:00")),
         3, "更新日時", "not a valid UTC offset"),
    case("type_kanji_integer", "orders", orders((0, "定期回数", "一")), 2, "定期回数",
         "not an integer: '一'"),
    case("type_full_width_integer", "orders", orders((0, "定期回数", "１２３")), 2, "定期回数",
         "not an integer: '１２３'", "full-width digits"),
    case("type_arabic_indic_integer", "orders", orders((0, "定期回数", "٣"), encoding="utf-8"), 2,
         "定期回数", "not an integer: '٣'"),
    case("type_integer_with_comma", "orders", orders((0, "定期回数", "1,000")), 2, "定期回数",
         "not an integer: '1,000'"),
    case("type_full_width_yen", "orders", orders((1, "商品合計", "１９８０")), 3, "商品合計",
         "not a yen amount: '１９８０'", "full-width digits"),
    case("type_yen_decimal", "orders", orders((0, "合計金額", "4,030.5")), 2, "合計金額",
         "yen amount with a decimal point: '4,030.5'"),
    case("type_yen_in_words", "orders", orders((0, "送料", "無料")), 2, "送料",
         "not a yen amount: '無料'"),
    case("type_full_width_datetime", "orders", orders((0, "受注日時", "２０２６/１１/０１ ０９:００")),
         2, "受注日時", "not a datetime", "full-width digits"),
    case("type_full_width_birthday", "customers", customers((0, "生年月日", "１９８５/４/１")), 2,
         "生年月日", "not a date: '１９８５/４/１'", "full-width digits", shown="１９８５/４/１"),
    case("type_boolean_not_in_lists", "customers", customers((2, "メルマガ配信", "たぶん")), 4,
         "メルマガ配信", "not a boolean: 'たぶん'", "希望する"),
    case("type_required_amount_empty", "orders", orders((1, "合計金額", "")), 3, "合計金額",
         "empty value", "total must not be null"),
    # -- statuses (a profile mapping the cart's words onto the labels) --
    case("status_unmapped_value", "orders",
         orders((0, "受注ステータス", "shipped"), (1, "受注ステータス", "refunded")), 3,
         "受注ステータス", "value 'refunded' is not in the profile's map for status (1 row, first on line 3)",
         profile="status_map"),
    case("status_empty", "orders", orders((0, "受注ステータス", "")), 2, "受注ステータス",
         "status must not be null"),
    # -- CSV structure --
    case("csv_row_with_more_fields", "orders",
         table(ORDER_HEADER, [ORDERS[0], ORDERS[1] + ["x"]]), 3, None, "fields, more than the header's 13"),
    case("csv_row_with_fewer_fields", "orders",
         csv_text(ORDER_HEADER, [ORDERS[0], ORDERS[1][:-2]]).encode("cp932"), 3, None,
         "fields, fewer than the header's 13"),
    case("csv_malformed_quotes", "orders",
         (csv_text(ORDER_HEADER, ORDERS) + 'O-9,C001,"2026/11/01 10:00"x,,,発送済み\r\n').encode("cp932"),
         4, None, "malformed CSV", only=False),
    case("csv_quote_never_closed", "customers",
         customers() + 'C009,"木村,x\r\nC010,y\r\n'.encode("cp932"),
         5, None, "the file looks truncated at line 5, or a quote is not closed"),
    # -- truncation: a file that ends without its last line break --
    case("cut_row_short", "orders", orders()[: orders().rindex(b"23:30:00,") + 9], 3, None,
         "the file looks truncated at line 3", "a row of 4 fields, fewer than the header's 13"),
    case("cut_inside_quoted_field", "customers",
         cut_inside(customers((1, "姓", "佐藤\r\n旧姓 田中")), "旧姓", "cp932", keep=2), 3, None,
         "the file looks truncated at line 3", "inside the quoted field"),
    case("cut_last_datetime_still_parses", "orders",
         orders()[: -len(b":00\r\n")], 3, "更新日時",  # 2026/11/03 23:30:00 -> 2026/11/03 23:30
         "the file looks truncated at line 3", "'2026/11/03 23:30'", "'0000/00/00 00:00:00'"),
    case("cut_last_datetime_unparsable", "orders",
         table(ORDER_HEADER, ORDERS[1:])[: -len(b"3:30:00\r\n")], 2, "更新日時",
         "not a datetime: '2026/11/03 2'", "it looks truncated at line 2"),
    case("cut_after_last_separator", "orders", orders()[: -len(b"2026/11/03 23:30:00\r\n")], 3,
         "更新日時", "updated_at must not be null", "it looks truncated at line 3"),
    case("cut_nul_padding", "orders", orders()[:-30] + b"\x00" * 512, 3, None,
         "the file looks truncated at line 3", "ends in 512 NUL bytes"),
    case("cut_only_nul_bytes", "orders", b"\x00" * 4096, 1, None,
         "the file looks truncated at line 1", "nothing but 4096 NUL bytes"),
    # -- NUL bytes --
    case("nul_in_a_value", "customers", customers((0, "メールアドレス", "hanako@exa\x00mple.com")), 2,
         "メールアドレス", "NUL byte (0x00) in the value", "value not shown"),
    case("nul_in_the_header", "orders", b"\x00" + orders(), 1, None, "NUL byte (0x00) in header field 1"),
    case("nul_in_two_rows", "orders", orders((0, "支払方法", "後\x00払い"), (1, "送料", "0\x00")), 2,
         "支払方法", "NUL byte", only=False),
    # -- files the reader cannot read --
    case("file_missing", "orders", None, None, None, "cannot read file"),
]


def _profiles(root: Path) -> dict[str, Profile]:
    """The demo profile, and variants of it written as files: a named encoding, a status map
    (loaded once: the corpus is about exports, not about reading profiles)."""
    demo = yaml.safe_load((PROFILES_DIR / "demo_merchant.yaml").read_text(encoding="utf-8"))
    out = {"demo_merchant": load_profile("demo_merchant")}
    for name, change in {
        "utf8": lambda p: p.update(encoding="utf-8"),
        "cp932": lambda p: p.update(encoding="cp932"),
        "status_map": lambda p: p["streams"]["orders"]["columns"]["status"].update(
            map={"shipped": "発送済み", "pending": "発送待ち", "cancelled": "キャンセル"}),
    }.items():
        prof = yaml.safe_load(yaml.safe_dump(demo))
        prof["profile"] = name
        change(prof)
        path = root / f"{name}.yaml"
        path.write_text(yaml.safe_dump(prof, allow_unicode=True), encoding="utf-8")
        out[name] = load_profile(path)
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> SimpleNamespace:
    """The warehouse every case starts from: good customers, orders, order lines and
    subscriptions loaded (each case loads its bad file into a copy)."""
    root = tmp_path_factory.mktemp("corpus")
    good = root / "good"
    write_csv(good / "customers_1.csv", CUSTOMER_HEADER, CUSTOMERS)
    write_csv(good / "orders_1.csv", ORDER_HEADER, ORDERS)
    write_csv(good / "order_lines_1.csv", ORDER_LINE_HEADER, ORDER_LINES)
    write_csv(good / "subscriptions_1.csv", SUBSCRIPTION_HEADER, SUBSCRIPTIONS)
    wh = root / "warehouse.duckdb"
    assert {r.status for r in load_export_dir(wh, good, "demo_merchant")} == {"success"}
    assert not wh.with_name(wh.name + ".wal").exists()  # the file alone holds the warehouse
    return SimpleNamespace(wh=wh, root=root, profiles=_profiles(root), rows=snapshot(wh),
                           n_log=len(sync_log(wh)))


def test_corpus_is_large_and_ids_unique() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_export(corpus: SimpleNamespace, case: Case) -> None:
    folder = corpus.root / case.id
    folder.mkdir()
    path = folder / f"{case.stream}_2.csv"
    if case.content is not None:
        path.write_bytes(case.content)

    # (b) the earlier loads are intact: the warehouse (a copy of the one holding the good loads,
    # so that no case depends on another) still equals the good loads
    wh = Path(shutil.copy(corpus.wh, folder / corpus.wh.name))
    err = reject(wh, path, case.stream, corpus.profiles[case.profile], before=corpus.rows,
                 n_log=corpus.n_log)

    # (a) the message: file, line, column and what is wrong
    if case.only:
        only_problem(err, case.line, case.column, *case.fragments)
    else:
        at = [p for p in err.problems if (p.line, p.column) == (case.line, case.column)]
        assert at, str(err)
        for s in case.fragments:
            assert s in at[0].message, str(err)
    assert all(p.file == str(path) for p in err.problems)
    # (c) no personal value other than the offending one, never a whole record
    text = str(err).replace(str(path), "<file>")
    content = case.content or b""
    present = [v for v in PERSONAL_VALUES
               if any(v.encode(enc, "ignore") in content for enc in ("cp932", "utf-8"))]
    for value in present + list(case.hidden):
        if value != case.shown:
            assert value not in text, f"{value!r} shown in the error:\n{text}"


@pytest.mark.parametrize(("stream", "data", "n_rows"), [
    ("orders", orders().rstrip(b"\r\n"), 2),  # no final line break
    ("orders", orders()[:-1], 2),  # ends in CR only
    ("orders", table(ORDER_HEADER, ORDERS[:1]).rstrip(b"\r\n"), 1),  # one row, no line break
    ("orders", orders(newline="\n").rstrip(b"\n"), 2),  # LF, no final line break
    ("orders", table(ORDER_HEADER, ORDERS, (0, "更新日時", "2026/11/02 10:00"),  # minutes only,
                     (1, "更新日時", "2026/11/03 23:30")).rstrip(b"\r\n"), 2),  # like the others
    ("customers", customers().rstrip(b"\r\n"), 3),
    ("orders", orders((0, "定期回数", "12")), 2),  # half-width digits
])
def test_complete_exports_still_load(tmp_path: Path, stream: str, data: bytes, n_rows: int) -> None:
    """A file without a final line break is complete when its last row has every field and
    its last value is whole: carts and spreadsheets do write such files."""
    path = tmp_path / f"{stream}_1.csv"
    path.write_bytes(data)
    assert len(read_export(path, "demo_merchant", stream).rows) == n_rows


def test_full_width_parentheses_in_headers_still_match(loaded: Path, export_dir: Path) -> None:
    header = [h.replace("(", "（").replace(")", "）") for h in SUBSCRIPTION_HEADER]
    path = write_csv(export_dir / "subscriptions_1.csv", header, SUBSCRIPTIONS)
    assert load_file(loaded, path, "demo_merchant").status == "success"


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
