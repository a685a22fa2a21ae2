"""The shared raw layer (connectors/raw.py) as an API connector would use it."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from connector_fixtures import query, query_dicts, snapshot, sync_log
from connectors.raw import RawColumn, RawSchemaError, RawStream, RawWriter, get_sync_state, open_warehouse

ORDERS = RawStream(
    "shopify",
    "orders",
    columns=(RawColumn("id", "BIGINT"), RawColumn("updated_at", "TIMESTAMP"), RawColumn("_record", "JSON")),
    primary_key=("id",),
    cursor_field="updated_at",
)


def rec(i: int, day: int, **extra) -> tuple:
    return (i, datetime(2026, 11, day), {"id": i, "updated_at": f"2026-11-{day:02d}", **extra})


def test_paged_sync_commits_each_page_with_its_cursor(wh: Path) -> None:
    with RawWriter(wh, ORDERS) as w:
        assert w.current_state() is None
        r1 = w.write_batch([rec(1, 1), rec(2, 2)], final=False)
        # page 1 is committed with its cursor while the sync is still running
        assert r1.status == "running" and r1.cursor_value == "2026-11-02 00:00:00"
        reader = w.con.cursor()  # another connection to the same database
        assert reader.execute("SELECT count(*) FROM raw_shopify.orders").fetchone() == (2,)
        assert reader.execute("SELECT status FROM raw_meta.sync_log").fetchone() == ("running",)
        assert get_sync_state(reader, "shopify", "orders").cursor_value == "2026-11-02 00:00:00"
        reader.close()
        r2 = w.write_batch([rec(3, 5)], state={"page_info": "abc"})
    assert (r2.status, r2.rows_read, r2.rows_inserted) == ("success", 3, 3)
    [log] = sync_log(wh)
    assert (log["status"], log["rows_inserted"], log["cursor_value"]) == ("success", 3, "2026-11-05 00:00:00")
    [state] = query_dicts(wh, "SELECT * FROM raw_meta.sync_state")
    assert json.loads(state["state"]) == {"page_info": "abc"}
    assert state["cursor_value"] == "2026-11-05 00:00:00"
    rows = query(wh, "SELECT id, _record->>'updated_at', _source, _file, _line FROM raw_shopify.orders ORDER BY id")
    assert rows == [(1, "2026-11-01", "shopify", None, None), (2, "2026-11-02", "shopify", None, None),
                    (3, "2026-11-05", "shopify", None, None)]


def test_page_committed_before_a_failure_stays_and_sync_is_failed(wh: Path) -> None:
    with pytest.raises(ValueError, match="API went away"):
        with RawWriter(wh, ORDERS) as w:
            w.write_batch([rec(1, 1)], final=False)
            raise ValueError("API went away")
    assert query(wh, "SELECT id FROM raw_shopify.orders") == [(1,)]
    [log] = sync_log(wh)
    assert log["status"] == "failed" and "API went away" in log["error"]
    assert log["rows_inserted"] == 1
    assert query(wh, "SELECT cursor_value FROM raw_meta.sync_state") == [("2026-11-01 00:00:00",)]


def test_unchanged_rows_are_left_untouched_and_changed_ones_updated(wh: Path) -> None:
    with RawWriter(wh, ORDERS) as w:
        w.write_batch([rec(1, 1), rec(2, 2)])
    before = {r["id"]: r for r in query_dicts(wh, "SELECT * FROM raw_shopify.orders")}
    with RawWriter(wh, ORDERS) as w:
        r = w.write_batch([rec(1, 1), rec(2, 3, note="changed")])
    assert (r.rows_inserted, r.rows_updated, r.rows_unchanged) == (0, 1, 1)
    after = {r["id"]: r for r in query_dicts(wh, "SELECT * FROM raw_shopify.orders")}
    assert after[1] == before[1]
    assert after[2]["_loaded_at"] > before[2]["_loaded_at"]
    assert after[2]["_sync_id"] == r.sync_id


def test_duplicate_keys_in_a_batch_last_wins(wh: Path) -> None:
    with RawWriter(wh, ORDERS) as w:
        r = w.write_batch([rec(1, 1), rec(1, 4, v=2)])
    assert (r.rows_read, r.rows_inserted, r.rows_unchanged) == (2, 1, 1)
    assert query(wh, "SELECT updated_at FROM raw_shopify.orders") == [(datetime(2026, 11, 4),)]


def test_explicit_cursor_and_kept_state(wh: Path) -> None:
    with RawWriter(wh, ORDERS) as w:
        w.write_batch([rec(1, 1)], cursor_value="bulk-op-42", state={"op": 42})
    with RawWriter(wh, ORDERS) as w:
        w.write_batch([rec(2, 2)], cursor_value=None)  # None keeps cursor; state None keeps state
    [state] = query_dicts(wh, "SELECT cursor_value, state FROM raw_meta.sync_state")
    assert state["cursor_value"] == "bulk-op-42"
    assert json.loads(state["state"]) == {"op": 42}


def test_type_conflict_fails_cleanly(wh: Path) -> None:
    with RawWriter(wh, ORDERS) as w:
        w.write_batch([rec(1, 1)])
    before = snapshot(wh)
    changed = RawStream("shopify", "orders", columns=(RawColumn("id", "VARCHAR"),
                        RawColumn("updated_at", "TIMESTAMP"), RawColumn("_record", "JSON")),
                        primary_key=("id",), cursor_field="updated_at")
    with pytest.raises(RawSchemaError, match="has type BIGINT"):
        with RawWriter(wh, changed) as w:
            w.write_batch([("x", datetime(2026, 11, 9), "{}")])
    assert snapshot(wh) == before
    assert [r["status"] for r in sync_log(wh)] == ["success", "failed"]


def test_schema_drift_adds_columns(wh: Path) -> None:
    with RawWriter(wh, ORDERS) as w:
        w.write_batch([rec(1, 1)])
    wider = RawStream("shopify", "orders", columns=ORDERS.columns + (RawColumn("financial_status", "VARCHAR"),),
                      primary_key=("id",), cursor_field="updated_at")
    with RawWriter(wh, wider) as w:
        r = w.write_batch([rec(2, 2) + ("paid",)])
    assert r.note == "added columns: financial_status"
    assert query(wh, "SELECT id, financial_status FROM raw_shopify.orders ORDER BY id") == [(1, None), (2, "paid")]


def test_empty_batch_only_moves_state(wh: Path) -> None:
    with RawWriter(wh, ORDERS) as w:
        r = w.write_batch([], state={"bulk_operation": "gid://1"})
    assert (r.status, r.rows_read) == ("success", 0)
    assert query(wh, "SELECT count(*) FROM raw_shopify.orders") == [(0,)]


def test_skip_and_connection_reuse(tmp_path: Path) -> None:
    with open_warehouse(tmp_path / "w.duckdb") as con:
        with RawWriter(con, ORDERS, detail="nothing new") as w:
            r = w.skip("no changes since cursor")
        assert r.status == "skipped"
        assert con.execute("SELECT status, note FROM raw_meta.sync_log").fetchall() == [
            ("skipped", "no changes since cursor")]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(columns=(RawColumn("_source", "VARCHAR"),), primary_key=("_source",)), "reserved"),
        (dict(columns=(RawColumn("id", "BIGINT"),), primary_key=("key",)), "not a column"),
        (dict(columns=(RawColumn("id", "MONEY"),), primary_key=("id",)), "type 'MONEY'"),
        (dict(columns=(RawColumn("Id", "BIGINT"),), primary_key=("Id",)), "snake_case"),
    ],
)
def test_stream_definition_is_validated(kwargs, message) -> None:
    with pytest.raises(RawSchemaError, match=message):
        RawStream("shopify", "orders", **kwargs)


LISTED = RawStream(
    "recharge",
    "charges",
    columns=(RawColumn("id", "BIGINT"), RawColumn("updated_at", "TIMESTAMP"),
             RawColumn("deleted_at", "TIMESTAMP"), RawColumn("_record", "JSON")),
    primary_key=("id",),
    cursor_field="updated_at",
)


def live(i: int, day: int) -> tuple:
    return (i, datetime(2026, 11, day), None, {"id": i, "day": day})


def test_mark_deleted_marks_unlisted_rows_and_keeps_their_record(wh: Path) -> None:
    gone_at = datetime(2026, 11, 20, 9, 0)
    with RawWriter(wh, LISTED) as w:
        w.write_batch([live(i, i) for i in range(1, 6)], final=False)
        # a page listing ids 1..3 (and bringing 3 changed): 2 is gone, 4 and 5 are beyond the page
        marked = w.mark_deleted({1, 3}, at=gone_at, through=3, rows=[live(3, 9)],
                                state={"reconcile": {"after_id": 3}})
        assert marked == 1
        assert w.result.status == "running"
        # the last page (no upper bound) lists 4: 5 is gone; 2 stays as marked
        assert w.mark_deleted({4}, at=datetime(2026, 11, 21), after=3, final=True) == 1
    rows = query(wh, "SELECT id, updated_at, deleted_at, _record->>'day' FROM raw_recharge.charges "
                     "ORDER BY id")
    assert rows == [(1, datetime(2026, 11, 1), None, "1"), (2, datetime(2026, 11, 2), gone_at, "2"),
                    (3, datetime(2026, 11, 9), None, "9"), (4, datetime(2026, 11, 4), None, "4"),
                    (5, datetime(2026, 11, 5), datetime(2026, 11, 21), "5")]
    [log] = sync_log(wh)
    # the markers are ordinary updates of the sync; the cursor was not moved by them
    assert (log["status"], log["rows_updated"], log["cursor_value"]) == ("success", 3,
                                                                       "2026-11-05 00:00:00")
    assert json.loads(query(wh, "SELECT CAST(state AS VARCHAR) FROM raw_meta.sync_state")[0][0]) == {
        "reconcile": {"after_id": 3}}


def test_mark_deleted_before_any_table_and_on_a_stream_without_the_column(wh: Path) -> None:
    with RawWriter(wh, LISTED) as w:
        assert w.mark_deleted(set(), at=datetime(2026, 11, 1)) == 0
    with RawWriter(wh, ORDERS) as w:
        with pytest.raises(RawSchemaError, match="no TIMESTAMP column deleted_at"):
            w.mark_deleted(set(), at=datetime(2026, 11, 1))


def test_mark_deleted_keys_marks_reported_deletions_once(wh: Path) -> None:
    first, again = datetime(2026, 11, 20), datetime(2026, 11, 22)
    with RawWriter(wh, LISTED) as w:
        w.write_batch([live(1, 1), live(2, 2)], final=False)
        stub = lambda key, at: (key, at, at, {"id": key, "stub": True})  # noqa: E731
        assert w.mark_deleted_keys({2: first, 7: first}, unknown=stub) == 2
        # reported again later: already marked, left alone; unknown keys without a stub: skipped
        assert w.mark_deleted_keys({2: again, 8: again}, state={"since": "x"}, final=True) == 0
    rows = query(wh, "SELECT id, updated_at, deleted_at, _record->>'stub' FROM raw_recharge.charges "
                     "ORDER BY id")
    assert rows == [(1, datetime(2026, 11, 1), None, None), (2, datetime(2026, 11, 2), first, None),
                    (7, first, first, "true")]
    assert json.loads(query(wh, "SELECT CAST(state AS VARCHAR) FROM raw_meta.sync_state")[0][0]) == {
        "since": "x"}


# -- a row never replaces a newer version of itself ------------------------------------------

def test_an_older_row_never_replaces_a_newer_stored_version(wh: Path) -> None:
    """The API connectors' raw table (connectors/sync_base.record_stream): a page or a replayed
    sync carrying an older version of a record leaves the stored newer one, and says so."""
    from connectors.sync_base import record_stream

    stream = record_stream("recharge", "charges", ["charges"], "Recharge")
    with RawWriter(wh, stream) as w:
        first = w.write_batch([live(1, 9), live(2, 9), live(3, 9)])
    with RawWriter(wh, stream) as w:
        # 1 and 2 older than stored, 3 newer, 4 new
        r = w.write_batch([live(1, 2), live(2, 3), live(3, 12), live(4, 1)])
    assert (r.rows_inserted, r.rows_updated, r.rows_kept_newer, r.rows_unchanged) == (1, 1, 2, 0)
    assert query(wh, "SELECT id, updated_at, _record->>'day' FROM raw_recharge.charges ORDER BY id") == [
        (1, datetime(2026, 11, 9), "9"), (2, datetime(2026, 11, 9), "9"),
        (3, datetime(2026, 11, 12), "12"), (4, datetime(2026, 11, 1), "1")]
    log = sync_log(wh)[-1]
    assert log["rows_kept_newer"] == 2
    assert f"kept 2 stored rows newer than this batch's (updated_at newer than this batch's): " \
           f"sync {first.sync_id} (2)" in log["note"]


def test_a_stale_batch_only_inserts_new_keys(wh: Path) -> None:
    """Without a version field, a batch the caller knows to be older keeps every stored row."""
    with RawWriter(wh, ORDERS) as w:
        w.write_batch([rec(1, 5)], file="orders_new.csv")
    with RawWriter(wh, ORDERS) as w:
        r = w.write_batch([rec(1, 9, older="yes"), rec(2, 1)], file="orders_old.csv", stale=True)
    assert (r.rows_inserted, r.rows_updated, r.rows_kept_newer) == (1, 0, 1)
    assert query(wh, "SELECT id, _record->>'older', _file FROM raw_shopify.orders ORDER BY id") == [
        (1, None, "orders_new.csv"), (2, None, "orders_old.csv")]
    assert "orders_new.csv (1)" in sync_log(wh)[-1]["note"]


# -- full snapshots ---------------------------------------------------------------------------

LINES = RawStream(
    "csv", "order_lines",
    columns=(RawColumn("order_id", "VARCHAR"), RawColumn("line_number", "BIGINT"),
             RawColumn("updated_at", "TIMESTAMP"), RawColumn("_deleted_at", "TIMESTAMP"),
             RawColumn("_extra", "JSON")),
    primary_key=("order_id", "line_number"), cursor_field="updated_at", version_field="updated_at",
)


def line(order: str, n: int, day: int) -> tuple:
    return (order, n, datetime(2026, 11, day), None, "{}")


def test_a_full_snapshot_marks_what_it_no_longer_holds_and_revives_what_returns(wh: Path) -> None:
    loaded = datetime(2026, 11, 23, 21)
    with RawWriter(wh, LINES) as w:
        w.write_batch([line("O1", 1, 1), line("O1", 2, 1), line("O2", 1, 2), line("O9", 1, 30)])
    with RawWriter(wh, LINES) as w:
        # O1/2 and O2/1 are gone; O9/1 changed after the snapshot was taken: not marked
        r = w.write_snapshot([line("O1", 1, 1), line("O3", 1, 3)], at=loaded, column="_deleted_at",
                             taken_at=datetime(2026, 11, 23, 6), file="order_lines_1123.csv")
    assert (r.rows_inserted, r.rows_updated, r.rows_deleted) == (1, 2, 2)
    assert "marked 2 rows deleted: not in this full snapshot" in r.note
    rows = query(wh, "SELECT order_id, line_number, updated_at, _deleted_at, _file FROM raw_csv.order_lines "
                     "ORDER BY 1, 2")
    assert rows == [("O1", 1, datetime(2026, 11, 1), None, None),
                    ("O1", 2, datetime(2026, 11, 1), loaded, "order_lines_1123.csv"),
                    ("O2", 1, datetime(2026, 11, 2), loaded, "order_lines_1123.csv"),
                    ("O3", 1, datetime(2026, 11, 3), None, "order_lines_1123.csv"),
                    ("O9", 1, datetime(2026, 11, 30), None, None)]
    with RawWriter(wh, LINES) as w:
        # marked rows stay marked; O2/1 comes back live
        again = w.write_snapshot([line("O1", 1, 1), line("O2", 1, 2), line("O3", 1, 3)],
                                 at=datetime(2026, 11, 24), column="_deleted_at",
                                 taken_at=datetime(2026, 11, 24))
    assert (again.rows_updated, again.rows_deleted, again.rows_unchanged) == (1, 0, 2)
    assert query(wh, "SELECT order_id, line_number FROM raw_csv.order_lines WHERE _deleted_at IS NULL "
                     "ORDER BY 1, 2") == [("O1", 1), ("O2", 1), ("O3", 1), ("O9", 1)]
    with RawWriter(wh, LINES) as w:
        stale = w.write_snapshot([line("O1", 1, 1)], at=datetime(2026, 11, 25), column="_deleted_at",
                                 stale=True)
    assert stale.rows_deleted == 0  # an older snapshot says nothing about what exists now
