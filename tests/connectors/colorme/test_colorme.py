"""カラーミーショップ connector against a real local API v1 server (real sockets, demo data).

Kill-and-resume is in test_kill_and_resume.py, shared with the other API providers."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from functools import partial

import duckdb
import pytest
from connector_fixtures import Sleeps, full_sync, query, source_records
from connector_fixtures import colorme_settings as settings
from connector_fixtures import raw_records as _raw_records
from servers.colorme_server import TOKEN, ColorMeServer

from connectors.colorme import SOURCE, sync
from connectors.http import AuthError, ResponseFormatError

STREAMS = ("sales", "customers", "products")
raw_records = partial(_raw_records, schema="raw_colorme")


@pytest.fixture
def server(colorme):
    return colorme


def test_full_sync_equals_source(server, tmp_path):
    wh = tmp_path / "w.duckdb"
    full_sync(sync, wh, STREAMS, settings, server, schema="raw_colorme", token=TOKEN)
    for r in server.requests:
        assert int(r.params["limit"]) <= 50 and "update_date_max" in r.params
    sale = next(iter(raw_records(wh, "sales").values()))
    assert sale["details"] and sale["customer"]["id"]


def test_incremental_resync_reflects_updates_and_cancellations(server, tmp_path):
    wh = tmp_path / "w.duckdb"
    for stream in STREAMS:
        sync(wh, stream, settings(server))
    live = next(s for s in server.records("sales") if not s["canceled"])
    server.cancel_sale(live["id"])
    server.touch("customers", 7, mail="changed@example.jp", new_field="x")
    server.touch("sales", 99_999, make_date=1_790_000_000, canceled=False, details=[],
                 customer=None, total_price=1980)
    n = len(server.requests)
    results = {s: sync(wh, s, settings(server)) for s in STREAMS}
    for stream in STREAMS:
        assert raw_records(wh, stream) == source_records(server, stream)
    assert results["sales"].rows_inserted == 1 and results["sales"].rows_updated == 1
    assert results["customers"].rows_updated == 1
    assert raw_records(wh, "sales")[live["id"]]["canceled"] is True
    assert all("update_date_min" in r.params for r in server.requests[n:])


def test_records_moving_during_paging_are_not_lost(server, tmp_path):
    """A record updated after the window's end while the sync pages shifts the offsets; the
    overlap check notices and re-reads the window, so nothing in the window is skipped."""
    wh = tmp_path / "w.duckdb"
    sales = server.records("sales")
    newest = sales[-1]["id"]  # served first (newest id first)
    gate = server.gate("sales", 3)

    def move():
        gate.reached.wait(10)
        # updated after the window's end (the sync started earlier): it leaves the window
        server.touch("sales", newest, at=int(time.time()) + 5, memo="updated while paging")
        gate.open()

    t = threading.Thread(target=move)
    t.start()
    lines: list[str] = []
    sync(wh, "sales", settings(server, page_size=10), log=lines.append)
    t.join()
    assert any("re-reading the window" in line for line in lines)
    got = raw_records(wh, "sales")
    assert set(got) == set(source_records(server, "sales"))
    # the next sync (a little later) picks the moved record up
    later = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(seconds=10)
    sync(wh, "sales", settings(server, page_size=10), now=lambda: later)
    assert raw_records(wh, "sales") == source_records(server, "sales")


def test_deleted_records_are_marked(server, tmp_path):
    wh = tmp_path / "w.duckdb"
    sync(wh, "customers", settings(server))
    server.delete("customers", 3)
    sync(wh, "customers", settings(server, reconcile_every=timedelta(0)))
    assert set(raw_records(wh, "customers", deleted=True)) == {3}
    assert raw_records(wh, "customers") == source_records(server, "customers")


def test_retries_honour_retry_after(server, tmp_path):
    wh = tmp_path / "w.duckdb"
    sleeps = Sleeps()
    server.fail(503, on="sales")
    server.fail(429, retry_after=9, on="sales", after_pages=2)
    server.fail("drop", on="sales", after_pages=3)
    result = sync(wh, "sales", settings(server), sleep=sleeps)
    assert result.status == "success" and 9.0 in sleeps
    assert raw_records(wh, "sales") == source_records(server, "sales")


def test_request_limit(colorme_data, tmp_path):
    # server: a burst of 4, then 40/s; the client spaces requests to 40/s: no 429
    with ColorMeServer(colorme_data, bucket_size=4, per_second=40) as srv:
        result = sync(tmp_path / "a.duckdb", "sales",
                      settings(srv, page_size=20, requests_per_minute=40 * 60))
        assert result.status == "success" and srv.throttled == 0
    # a client going too fast is told 429 + Retry-After and waits it out (4/s: a client paging
    # at full speed makes ~7 requests/s even on a loaded machine; at 8/s it sometimes did not
    # outrun the bucket and the test failed on either server version)
    with ColorMeServer(colorme_data, bucket_size=2, per_second=4, retry_after=0.05) as srv:
        wh = tmp_path / "b.duckdb"
        result = sync(wh, "sales", settings(srv, page_size=20, max_retries=30))
        assert result.status == "success" and srv.throttled > 0
        assert raw_records(wh, "sales") == source_records(srv, "sales")


def test_bad_token_names_the_variable_and_hides_the_secret(server, tmp_path):
    wh = tmp_path / "w.duckdb"
    secret = "wrong-colorme-token-1234567890"
    with pytest.raises(AuthError) as info:
        SOURCE.sync(wh, "sales", {"COLORME_ACCESS_TOKEN": secret, "COLORME_BASE_URL": server.url,
                                  "COLORME_REQUESTS_PER_MINUTE": "100000"}, lambda _l: None)
    msg = str(info.value)
    assert "COLORME_ACCESS_TOKEN" in msg and "401" in msg and secret not in msg
    (error,) = query(wh, "SELECT error FROM raw_meta.sync_log")[0]
    assert "COLORME_ACCESS_TOKEN" in error and secret not in error


def test_missing_scope_is_named(colorme_data, tmp_path):
    with ColorMeServer(colorme_data, scopes={"read_sales"}, per_second=1e6) as srv:
        assert sync(tmp_path / "w.duckdb", "customers", settings(srv)).status == "success"
        with pytest.raises(AuthError) as info:
            sync(tmp_path / "w.duckdb", "products", settings(srv))
    assert "read_products" in str(info.value) and "403" in str(info.value)


def test_malformed_json_fails_then_resumes(server, tmp_path):
    wh = tmp_path / "w.duckdb"
    server.fail("malformed", on="sales", after_pages=2)
    with pytest.raises(ResponseFormatError, match="malformed JSON"):
        sync(wh, "sales", settings(server))
    assert query(wh, "SELECT count(*) FROM raw_colorme.sales")[0][0] == 20 + 19
    assert query(wh, "SELECT cursor_value FROM raw_meta.sync_state") == [(None,)]
    assert sync(wh, "sales", settings(server)).status == "success"
    assert raw_records(wh, "sales") == source_records(server, "sales")


def test_pages_are_as_large_as_each_stream_allows(server, tmp_path):
    """Sales and customers go 100 a page, products 50 (the API's maxima); a configured page
    size is capped per stream, never sent above a stream's maximum (the server answers 400)."""
    wh = tmp_path / "w.duckdb"
    for stream in STREAMS:
        sync(wh, stream, settings(server, page_size=None))
    limits = {}
    for r in server.requests:
        limits.setdefault(r.path, set()).add(int(r.params["limit"]))
    assert limits == {"/v1/sales.json": {100}, "/v1/customers.json": {100}, "/v1/products.json": {50}}
    assert all(r.status == 200 for r in server.requests)

    server.requests.clear()
    sync(tmp_path / "w2.duckdb", "products", settings(server, page_size=80))
    assert {int(r.params["limit"]) for r in server.requests} == {50}
    assert all(r.status == 200 for r in server.requests)
