"""Loading exports into the raw layer: typed columns, idempotency, cursor/state, drift."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest
import yaml

import connectors.raw as raw
from connector_fixtures import (
    CUSTOMER_HEADER,
    CUSTOMERS,
    ORDER_HEADER,
    ORDERS,
    SUBSCRIPTION_HEADER,
    SUBSCRIPTIONS,
    query,
    query_dicts,
    snapshot,
    sync_log,
    write_csv,
)
from connectors.csv_export import (
    CsvExportError,
    load_export_dir,
    load_file,
    load_profile,
    stream_files,
)
from connectors.csv_export.profile import PROFILES_DIR


def test_customers_land_as_typed_columns(wh: Path, export_dir: Path) -> None:
    header = CUSTOMER_HEADER + ["会員ランク", "備考"]
    rows = [r + ["ゴールド", "電話は夕方"] for r in CUSTOMERS]
    write_csv(export_dir / "customers_20261123.csv", header, rows)

    [result] = load_export_dir(wh, export_dir, "demo_merchant")

    assert (result.status, result.rows_read, result.rows_inserted) == ("success", 3, 3)
    c1 = query_dicts(wh, "SELECT * FROM raw_csv.customers WHERE customer_id = 'C001'")[0]
    assert c1["last_name"] == "山田"
    assert c1["birthday"] == date(1985, 4, 1)
    assert c1["email_opt_in"] is True and c1["line_opt_in"] is True
    assert c1["updated_at"] == datetime(2026, 11, 23, 5, 5, 9)  # 14:05:09 JST -> UTC
    assert c1["created_at"] == datetime(2026, 1, 5, 1, 0)
    assert json.loads(c1["_extra"]) == {"会員ランク": "ゴールド", "備考": "電話は夕方"}
    assert c1["last_name_kana"] is None  # optional header absent -> NULL
    assert c1["_source"] == "csv"
    assert c1["_file"] == str(export_dir / "customers_20261123.csv")
    assert c1["_line"] == 2
    assert c1["_sync_id"] == result.sync_id
    c2 = query_dicts(wh, "SELECT * FROM raw_csv.customers WHERE customer_id = 'C002'")[0]
    assert c2["birthday"] is None and c2["line_opt_in"] is None  # empty cell -> NULL
    assert c2["email_opt_in"] is False
    assert c2["updated_at"] == datetime(2026, 11, 22, 14, 59)


def test_raw_table_layout(wh: Path, export_dir: Path) -> None:
    write_csv(export_dir / "orders_1.csv", ORDER_HEADER, ORDERS)
    load_export_dir(wh, export_dir, "demo_merchant")
    cols = query(wh, "SELECT column_name, data_type FROM information_schema.columns "
                     "WHERE table_schema = 'raw_csv' AND table_name = 'orders' "
                     "ORDER BY ordinal_position")
    assert cols == [
        ("order_id", "VARCHAR"), ("customer_id", "VARCHAR"), ("ordered_at", "TIMESTAMP"),
        ("subscription_id", "VARCHAR"), ("delivery_number", "BIGINT"), ("status", "VARCHAR"),
        ("payment_method", "VARCHAR"), ("subtotal", "BIGINT"), ("shipping_fee", "BIGINT"),
        ("discount", "BIGINT"), ("total", "BIGINT"), ("shipped_on", "DATE"),
        ("updated_at", "TIMESTAMP"), ("_deleted_at", "TIMESTAMP"), ("_extra", "JSON"),
        ("_source", "VARCHAR"), ("_file", "VARCHAR"), ("_line", "BIGINT"), ("_record_hash", "VARCHAR"),
        ("_loaded_at", "TIMESTAMP"), ("_sync_id", "VARCHAR"),
    ]
    o1 = query_dicts(wh, "SELECT * FROM raw_csv.orders WHERE order_id = 'O-1001'")[0]
    assert (o1["subtotal"], o1["shipping_fee"], o1["discount"], o1["total"]) == (3980, 550, -500, 4030)
    assert o1["_extra"] is None  # no unmapped headers
    o2 = query_dicts(wh, "SELECT * FROM raw_csv.orders WHERE order_id = 'O-1002'")[0]
    assert o2["subscription_id"] is None and o2["discount"] is None and o2["shipped_on"] is None
    # primary key enforced by the table itself
    con = duckdb.connect(str(wh))
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO raw_csv.orders (order_id) VALUES ('O-1001')")
    con.close()


def test_quoted_commas_and_newlines_keep_physical_line_numbers(wh: Path, export_dir: Path) -> None:
    rows = [list(r) for r in SUBSCRIPTIONS] + [
        ["S-03", "C003", "P-SERUM", "1", "30", "解約済み", "2026/05/01 10:00:00",
         "2026/09/01 10:00:00", "肌に合わない,\r\n香りが苦手", "", "4", "0", "2026/09/01 10:00:00"],
        ["S-04", "C003", "P-CREAM", "1", "45", "継続中", "2026/05/01 10:00:00", "", "",
         "2026/12/10", "2", "", "2026/11/01 10:00:00"],
    ]
    write_csv(export_dir / "subscriptions.csv", SUBSCRIPTION_HEADER, rows)
    load_export_dir(wh, export_dir, "demo_merchant")
    got = dict(query(wh, "SELECT subscription_id, _line FROM raw_csv.subscriptions"))
    assert got == {"S-01": 2, "S-02": 3, "S-03": 4, "S-04": 6}  # S-03 spans lines 4-5
    reason = query(wh, "SELECT cancel_reason FROM raw_csv.subscriptions WHERE subscription_id = 'S-03'")
    assert reason == [("肌に合わない,\r\n香りが苦手",)]


def test_loading_the_same_file_twice_is_skipped_and_changes_nothing(wh: Path, export_dir: Path) -> None:
    write_csv(export_dir / "customers_20261123.csv", CUSTOMER_HEADER, CUSTOMERS)
    first = load_export_dir(wh, export_dir, "demo_merchant")
    before = snapshot(wh)

    second = load_export_dir(wh, export_dir, "demo_merchant")

    assert [r.status for r in first] == ["success"]
    assert [r.status for r in second] == ["skipped"]
    assert "already loaded" in second[0].note
    assert snapshot(wh) == before  # rows, _loaded_at, sync_state all unchanged
    assert [r["status"] for r in sync_log(wh)] == ["success", "skipped"]


def test_same_content_under_another_name_is_skipped(wh: Path, export_dir: Path) -> None:
    a = write_csv(export_dir / "customers_1.csv", CUSTOMER_HEADER, CUSTOMERS)
    (export_dir / "customers_2.csv").write_bytes(a.read_bytes())
    results = load_export_dir(wh, export_dir, "demo_merchant")
    assert [r.status for r in results] == ["success", "skipped"]


def test_modified_file_updates_only_changed_rows(wh: Path, export_dir: Path) -> None:
    write_csv(export_dir / "customers_20261122.csv", CUSTOMER_HEADER, CUSTOMERS)
    [first] = load_export_dir(wh, export_dir, "demo_merchant")
    before = {r["customer_id"]: r for r in query_dicts(wh, "SELECT * FROM raw_csv.customers")}

    changed = [list(r) for r in CUSTOMERS]
    changed[1][5] = "京都府"  # C002 moved
    changed[1][10] = "2026/11/24 09:00:00"
    changed.append(["C004", "高橋", "美咲", "misaki@example.com", "080-0000-0000", "福岡県", "",
                    "希望する", "", "2026/11/24 08:00:00", "2026/11/24 08:00:00"])
    write_csv(export_dir / "customers_20261124.csv", CUSTOMER_HEADER, changed)
    results = load_export_dir(wh, export_dir, "demo_merchant")

    assert [r.status for r in results] == ["skipped", "success"]
    second = results[1]
    assert (second.rows_read, second.rows_inserted, second.rows_updated, second.rows_unchanged) == (4, 1, 1, 2)
    after = {r["customer_id"]: r for r in query_dicts(wh, "SELECT * FROM raw_csv.customers")}
    for unchanged in ("C001", "C003"):
        assert after[unchanged] == before[unchanged]  # _loaded_at, _sync_id, _file untouched
    assert after["C002"]["prefecture"] == "京都府"
    assert after["C002"]["_sync_id"] == second.sync_id != first.sync_id
    assert after["C002"]["_file"].endswith("customers_20261124.csv")
    assert after["C002"]["_loaded_at"] > before["C002"]["_loaded_at"]
    assert after["C004"]["_sync_id"] == second.sync_id


def test_cursor_and_state_advance_with_the_rows(wh: Path, export_dir: Path) -> None:
    write_csv(export_dir / "orders_1.csv", ORDER_HEADER, ORDERS)
    load_export_dir(wh, export_dir, "demo_merchant")
    [state] = query_dicts(wh, "SELECT * FROM raw_meta.sync_state")
    assert (state["source"], state["stream"], state["cursor_field"]) == ("csv", "orders", "updated_at")
    assert state["cursor_value"] == "2026-11-03 14:30:00"  # max updated_at, in UTC
    files = json.loads(state["state"])["files"]
    assert [f["file"] for f in files.values()] == ["orders_1.csv"]

    # an older file loaded later does not move the cursor back
    older = [list(ORDERS[0])]
    older[0][0] = "O-0999"
    older[0][12] = "2026/10/01 10:00:00"
    write_csv(export_dir / "orders_2.csv", ORDER_HEADER, older)
    load_export_dir(wh, export_dir, "demo_merchant")
    [state] = query_dicts(wh, "SELECT * FROM raw_meta.sync_state")
    assert state["cursor_value"] == "2026-11-03 14:30:00"
    assert len(json.loads(state["state"])["files"]) == 2
    log = sync_log(wh)
    assert [(r["detail"].rsplit("/", 1)[-1], r["status"]) for r in log] == [
        ("orders_1.csv", "success"), ("orders_1.csv", "skipped"), ("orders_2.csv", "success")]
    assert [r["cursor_value"] for r in log] == ["2026-11-03 14:30:00"] * 3


def test_cursor_does_not_advance_when_the_commit_fails(
    wh: Path, export_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_csv(export_dir / "orders_1.csv", ORDER_HEADER, ORDERS[:1])
    load_export_dir(wh, export_dir, "demo_merchant")
    before = snapshot(wh)

    write_csv(export_dir / "orders_2.csv", ORDER_HEADER, ORDERS[1:])

    def boom(*args, **kwargs):
        raise RuntimeError("disk full while saving the cursor")

    # fails after the rows were upserted, inside the same transaction
    monkeypatch.setattr(raw.RawWriter, "_next_cursor", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        load_file(wh, export_dir / "orders_2.csv", "demo_merchant")

    assert snapshot(wh) == before  # no O-1002, cursor and state as before
    last = sync_log(wh)[-1]
    assert last["status"] == "failed" and "disk full" in last["error"]


def test_schema_drift_new_column_is_added(wh: Path, export_dir: Path, tmp_path: Path) -> None:
    write_csv(export_dir / "orders_1.csv", ORDER_HEADER, ORDERS)
    load_export_dir(wh, export_dir, "demo_merchant")

    # the merchant maps a new header in their profile: the raw table gains the column
    text = (Path(load_profile("demo_merchant").path)).read_text(encoding="utf-8")
    text = text.replace(
        "      shipped_on:       {header: 発送日, type: date, required: false}\n",
        "      shipped_on:       {header: 発送日, type: date, required: false}\n"
        "      coupon_code:      {header: クーポンコード, type: string, required: false}\n",
    )
    profile_path = tmp_path / "demo_v2.yaml"
    profile_path.write_text(text, encoding="utf-8")
    rows = [r + ["WELCOME10"] for r in ORDERS]
    rows[1][1] = "C009"  # one row changes besides the new column
    write_csv(export_dir / "orders_2.csv", ORDER_HEADER + ["クーポンコード"], rows)

    results = load_export_dir(wh, export_dir, profile_path)

    assert [r.status for r in results] == ["skipped", "success"]
    assert "added columns: coupon_code" in results[1].note
    got = query(wh, "SELECT order_id, customer_id, coupon_code FROM raw_csv.orders ORDER BY 1")
    assert got == [("O-1001", "C001", "WELCOME10"), ("O-1002", "C009", "WELCOME10")]


def test_unmapped_new_header_lands_in_extra(wh: Path, export_dir: Path) -> None:
    write_csv(export_dir / "orders_1.csv", ORDER_HEADER, ORDERS)
    load_export_dir(wh, export_dir, "demo_merchant")
    write_csv(export_dir / "orders_2.csv", ORDER_HEADER + ["ギフト"], [r + ["あり"] for r in ORDERS])
    results = load_export_dir(wh, export_dir, "demo_merchant")
    assert results[1].rows_updated == 2  # the records changed: they carry a new field
    extras = query(wh, "SELECT DISTINCT _extra->>'ギフト' FROM raw_csv.orders")
    assert extras == [("あり",)]


def test_ecforce_export_loads_into_the_same_columns(wh: Path, export_dir: Path) -> None:
    header = ["ID", "定期受注番号", "顧客番号", "定期内受注数", "ステータス", "次回配送予定日",
              "商品コード", "数量", "配送間隔", "作成日時", "更新日時", "解約日時", "解約理由",
              "定期受注ラベル"]
    rows = [
        ["101", "a1b2c3d4e5", "10001", "3", "有効", "2026/12/01", "SKU-01", "1", "30",
         "2026/06/01 10:00:00", "2026/11/20 12:00:00", "", "", "VIP"],
        ["102", "f6g7h8i9j0", "10002", "5", "キャンセル", "", "SKU-02", "2", "",
         "2026/01/01 10:00:00", "2026/10/01 09:00:00", "2026/10/01 09:00:00", "価格が高い", ""],
    ]
    write_csv(export_dir / "ecforce_teiki_20261123.csv", header, rows)
    write_csv(export_dir / "demo" / "subscriptions_1.csv", SUBSCRIPTION_HEADER, SUBSCRIPTIONS)

    [ec] = load_export_dir(wh, export_dir, "ecforce_teiki", source="ecforce")
    [demo] = load_export_dir(wh, export_dir / "demo", "demo_merchant", source="csv")
    assert ec.status == demo.status == "success"

    def layout(schema: str) -> list[tuple[str, str]]:
        return query(wh, "SELECT column_name, data_type FROM information_schema.columns "
                         "WHERE table_schema = ? AND table_name = 'subscriptions' "
                         "ORDER BY ordinal_position", [schema])

    assert layout("raw_ecforce") == layout("raw_csv")
    got = query_dicts(wh, "SELECT * FROM raw_ecforce.subscriptions ORDER BY subscription_id")
    assert got[0]["customer_id"] == "10001" and got[0]["delivery_count"] == 3
    assert got[0]["next_delivery_date"] == date(2026, 12, 1)
    assert got[0]["started_at"] == datetime(2026, 6, 1, 1, 0)
    assert got[0]["skip_count"] is None  # optional header absent
    assert json.loads(got[0]["_extra"]) == {"ID": "101", "定期受注ラベル": "VIP"}
    assert got[1]["cycle_days"] is None and got[1]["cancel_reason"] == "価格が高い"
    assert got[1]["cancelled_at"] == datetime(2026, 10, 1, 0, 0)


def test_stream_files_lists_each_stream_sorted(export_dir: Path) -> None:
    for name in ("orders_20261124.csv", "orders_20261123.csv", "order_lines_1.csv",
                 "subscription_events_1.csv", "subscriptions_1.csv", "notes.txt"):
        (export_dir / name).write_text("x", encoding="utf-8")
    files = stream_files(export_dir, "demo_merchant")
    assert list(files) == list(load_profile("demo_merchant").streams)
    assert [p.name for p in files["orders"]] == ["orders_20261123.csv", "orders_20261124.csv"]
    assert [p.name for p in files["order_lines"]] == ["order_lines_1.csv"]
    assert [p.name for p in files["subscriptions"]] == ["subscriptions_1.csv"]
    assert [p.name for p in files["subscription_events"]] == ["subscription_events_1.csv"]
    assert files["customers"] == []


def test_load_file_infers_the_stream(wh: Path, export_dir: Path) -> None:
    path = write_csv(export_dir / "orders_x.csv", ORDER_HEADER, ORDERS)
    result = load_file(wh, path, "demo_merchant")
    assert (result.stream, result.status, result.rows_inserted) == ("orders", "success", 2)
    with pytest.raises(CsvExportError, match="cannot tell the stream"):
        load_file(wh, write_csv(export_dir / "misc.csv", ORDER_HEADER, ORDERS), "demo_merchant")


def test_accepts_an_open_connection(tmp_path: Path, export_dir: Path) -> None:
    write_csv(export_dir / "orders_1.csv", ORDER_HEADER, ORDERS)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    results = load_export_dir(con, export_dir, "demo_merchant")
    assert results[0].rows_inserted == 2
    assert con.execute("SELECT count(*) FROM raw_csv.orders").fetchone() == (2,)
    con.close()


def test_create_tables_for_streams_without_files(wh: Path, export_dir: Path) -> None:
    from connectors.csv_export import create_tables

    write_csv(export_dir / "orders_1.csv", ORDER_HEADER, ORDERS)
    load_export_dir(wh, export_dir, "demo_merchant")
    created = create_tables(wh, "demo_merchant")
    assert "orders" not in created and "web_events" in created and "points" in created
    assert len(created) == 9
    assert query(wh, "SELECT count(*) FROM raw_csv.web_events") == [(0,)]
    assert query(wh, "SELECT count(*) FROM raw_csv.orders") == [(2,)]
    assert create_tables(wh, "demo_merchant") == []


def test_a_profile_lacking_reference_columns_and_streams_still_gives_the_raw_contract(
        wh: Path, export_dir: Path, tmp_path: Path) -> None:
    """staging reads the reference profile's columns: a cart without 電話連絡 or without an
    inquiries export gets NULLs and an empty table, never a dbt error."""
    import yaml

    from connectors.csv_export import create_tables
    data = yaml.safe_load(Path(load_profile("demo_merchant").path).read_text(encoding="utf-8"))
    data["profile"] = "no_phone_no_inquiries"
    del data["streams"]["customers"]["columns"]["phone_opt_in"]
    del data["streams"]["inquiries"]
    profile_path = tmp_path / "cart.yaml"
    profile_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    write_csv(export_dir / "customers_1.csv", CUSTOMER_HEADER, CUSTOMERS)
    load_export_dir(wh, export_dir, profile_path, streams=["customers"])
    rows = query(wh, "SELECT count(*), count(phone_opt_in) FROM raw_csv.customers")
    assert rows == [(len(CUSTOMERS), 0)]  # the column exists, every value unknown
    # an older export without 住所1 / 住所2 (optional headers) loads with NULL street addresses
    assert "住所1" not in CUSTOMER_HEADER
    rows = query(wh, "SELECT count(address1), count(address2) FROM raw_csv.customers")
    assert rows == [(0, 0)]
    assert "inquiries" in create_tables(wh, profile_path)
    columns = {r[0] for r in query(wh, "SELECT column_name FROM information_schema.columns "
                                       "WHERE table_schema = 'raw_csv' AND table_name = 'inquiries'")}
    reference = {c.name for c in load_profile("demo_merchant").stream("inquiries").columns}
    assert reference <= columns
    assert query(wh, "SELECT count(*) FROM raw_csv.inquiries") == [(0,)]


def test_the_points_stream_is_optional(wh: Path, export_dir: Path) -> None:
    """A cart without a points programme (the ecforce profile has no points stream) still gets an
    empty raw_csv.points in the reference shape, so the points marts build empty."""
    from connectors.csv_export import create_tables

    assert "points" not in load_profile("ecforce_teiki").streams
    assert "points" in create_tables(wh, "ecforce_teiki")
    columns = [r[0] for r in query(wh, "SELECT column_name FROM information_schema.columns "
                                       "WHERE table_schema = 'raw_csv' AND table_name = 'points' "
                                       "ORDER BY ordinal_position")]
    reference = [c.name for c in load_profile("demo_merchant").stream("points").columns]
    assert columns[:len(reference)] == reference
    assert query(wh, "SELECT count(*) FROM raw_csv.points") == [(0,)]


# -- versions: an older export never overwrites newer rows --------------------------------------

def _age(path: Path, days: float) -> Path:
    """Give a file the drop time (modification time) of ``days`` ago."""
    import os
    import time

    then = time.time() - days * 86400
    os.utime(path, (then, then))
    return path


def test_an_old_export_sorting_after_todays_keeps_the_newer_rows(wh: Path, export_dir: Path) -> None:
    """Today's orders are shipped; an old export (発送待ち, 2023 timestamps) whose name sorts
    after today's loads after it: the stored newer rows stay, nothing is marked deleted, and the
    sync says how many rows it kept and from which file."""
    today = [list(r) for r in ORDERS] + [[
        "O-1003", "C003", "2026/11/20 10:00:00", "", "", "発送済み", "後払い", "1980", "0", "",
        "1,980", "2026/11/21", "2026/11/21 15:00:00"]]
    new = write_csv(export_dir / "orders_20261124.csv", ORDER_HEADER, today)
    old_rows = [list(r) for r in ORDERS]
    for r in old_rows:
        r[5], r[11], r[12] = "発送待ち", "", "2023/06/01 09:00:00"
    _age(write_csv(export_dir / "orders_old.csv", ORDER_HEADER, old_rows), days=400)

    first, second = load_export_dir(wh, export_dir, "demo_merchant")

    assert (first.detail, first.rows_inserted) == (str(new), 3)
    assert (second.status, second.rows_updated, second.rows_kept_newer, second.rows_deleted) == (
        "success", 0, 2, 0)
    assert query(wh, "SELECT order_id, status, updated_at, _deleted_at FROM raw_csv.orders "
                     "ORDER BY 1") == [
        ("O-1001", "発送済み", datetime(2026, 11, 2, 1), None),
        ("O-1002", "発送待ち", datetime(2026, 11, 3, 14, 30), None),
        ("O-1003", "発送済み", datetime(2026, 11, 21, 6), None)]
    log = sync_log(wh)[-1]
    assert log["rows_kept_newer"] == 2
    assert f"kept 2 stored rows newer than this batch's (updated_at newer than this batch's): {new} (2)" \
        in log["note"]


def test_an_old_file_of_a_stream_without_a_version_column_only_adds(wh: Path, export_dir: Path) -> None:
    """payments has no 更新日時: the file's drop time is the version. An export dropped before the
    one loaded changes no stored payment (its other payments are added)."""
    header = ["決済ID", "受注番号", "顧客ID", "決済方法", "処理日時", "金額", "結果", "エラー内容"]
    now = write_csv(export_dir / "payments_1.csv", header, [
        ["PAY-1", "O-1001", "C001", "クレジットカード", "2026/11/01 09:00:00", "4030", "成功", ""]])
    _age(write_csv(export_dir / "payments_2.csv", header, [
        ["PAY-1", "O-1001", "C001", "クレジットカード", "2026/11/01 09:00:00", "4030", "失敗", "与信NG"],
        ["PAY-0", "O-0999", "C001", "クレジットカード", "2026/10/01 09:00:00", "1980", "成功", ""]]),
         days=3)
    assert load_profile("demo_merchant").stream("payments").version_field is None

    _, old = load_export_dir(wh, export_dir, "demo_merchant")

    assert (old.rows_inserted, old.rows_updated, old.rows_kept_newer, old.rows_deleted) == (1, 0, 1, 0)
    assert query(wh, "SELECT payment_id, result, _deleted_at FROM raw_csv.payments ORDER BY 1") == [
        ("PAY-0", "成功", None), ("PAY-1", "成功", None)]
    assert "before a file already loaded" in old.note and f"{now} (1)" in old.note


# -- full snapshots and incremental exports ---------------------------------------------------

def test_a_full_export_marks_the_rows_it_no_longer_holds_deleted(wh: Path, export_dir: Path) -> None:
    assert load_profile("demo_merchant").stream("orders").export == "full"
    write_csv(export_dir / "orders_20261123.csv", ORDER_HEADER, ORDERS)
    load_export_dir(wh, export_dir, "demo_merchant")
    write_csv(export_dir / "orders_20261124.csv", ORDER_HEADER, ORDERS[:1])

    _, today = load_export_dir(wh, export_dir, "demo_merchant")

    assert (today.rows_deleted, today.rows_updated) == (1, 1)
    assert "marked 1 rows deleted: not in this full snapshot" in today.note
    rows = query_dicts(wh, "SELECT * FROM raw_csv.orders ORDER BY order_id")
    assert [(r["order_id"], r["_deleted_at"] is None) for r in rows] == [("O-1001", True),
                                                                         ("O-1002", False)]
    gone = rows[1]  # the record is kept as it was, with the file that no longer held it
    assert (gone["status"], gone["total"], gone["_file"]) == (
        "発送待ち", 1980, str(export_dir / "orders_20261124.csv"))


def test_an_incremental_export_never_marks_deletions(wh: Path, export_dir: Path, tmp_path: Path) -> None:
    profile = yaml.safe_load((PROFILES_DIR / "demo_merchant.yaml").read_text(encoding="utf-8"))
    profile["streams"]["orders"]["export"] = "incremental"
    path = tmp_path / "incremental.yaml"
    path.write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
    write_csv(export_dir / "orders_20261123.csv", ORDER_HEADER, ORDERS)
    write_csv(export_dir / "orders_20261124.csv", ORDER_HEADER, ORDERS[:1])
    results = load_export_dir(wh, export_dir, path)
    assert [r.rows_deleted for r in results] == [0, 0]
    assert query(wh, "SELECT count(*) FROM raw_csv.orders WHERE _deleted_at IS NULL") == [(2,)]
