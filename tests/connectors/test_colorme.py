"""カラーミーショップ connector against a real local API v1 server (real sockets, demo data)."""

from __future__ import annotations

import json
import os
import threading
import time
import signal
import subprocess
import sys
import textwrap
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from connectors.colorme import SOURCE, ColorMeSettings, sync  # noqa: E402
from connectors.http import AuthError, HttpError, ResponseFormatError  # noqa: E402
from demo_merchant.generate import generate  # noqa: E402
from tests.connectors.servers.colorme_server import TOKEN, ColorMeServer  # noqa: E402
from tests.connectors.servers.demo_to_colorme import convert  # noqa: E402

STREAMS = ("sales", "customers", "products")


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("colorme_demo")
    generate(out, customers=60, seed=3, as_of=date(2026, 11, 23))
    data = convert(out)
    assert len(data["sales"]) > 100 and any(s["canceled"] for s in data["sales"])
    assert all(s["details"] for s in data["sales"])
    return data


@pytest.fixture
def server(demo_data):
    with ColorMeServer(demo_data, per_second=1e6) as srv:
        yield srv


def settings(srv: ColorMeServer, **kw) -> ColorMeSettings:
    base = dict(token=TOKEN, base_url=srv.url, page_size=20, requests_per_minute=1e7,
                max_retries=4)
    base.update(kw)
    return ColorMeSettings(**base)


def query(wh: Path, sql: str, params=None):
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def raw_records(wh: Path, stream: str, *, deleted: bool = False) -> dict[int, dict]:
    rows = query(wh, f"SELECT id, CAST(_record AS VARCHAR) FROM raw_colorme.{stream} "
                     f"WHERE deleted_at IS {'NOT ' if deleted else ''}NULL")
    return {rid: json.loads(rec) for rid, rec in rows}


def source_records(srv: ColorMeServer, stream: str) -> dict[int, dict]:
    return {r["id"]: r for r in srv.records(stream)}


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_full_sync_equals_source(server, tmp_path):
    wh = tmp_path / "w.duckdb"
    lines: list[str] = []
    for stream in STREAMS:
        result = sync(wh, stream, settings(server), log=lines.append)
        assert result.status == "success"
        assert raw_records(wh, stream) == source_records(server, stream)
    for r in server.requests:
        assert int(r.params["limit"]) <= 50 and "update_date_max" in r.params
    sale = next(iter(raw_records(wh, "sales").values()))
    assert sale["details"] and sale["customer"]["id"]
    assert all(TOKEN not in line for line in lines)


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


def test_retries_exhausted_fail_cleanly(server, tmp_path):
    wh = tmp_path / "w.duckdb"
    server.fail(502, times=10, on="products")
    with pytest.raises(HttpError) as info:
        sync(wh, "products", settings(server, max_retries=2), sleep=Sleeps())
    assert info.value.status == 502
    assert query(wh, "SELECT status FROM raw_meta.sync_log") == [("failed",)]


def test_request_limit(demo_data, tmp_path):
    # server: a burst of 4, then 40/s; the client spaces requests to 40/s: no 429
    with ColorMeServer(demo_data, bucket_size=4, per_second=40) as srv:
        result = sync(tmp_path / "a.duckdb", "sales",
                      settings(srv, page_size=20, requests_per_minute=40 * 60))
        assert result.status == "success" and srv.throttled == 0
    # a client going too fast is told 429 + Retry-After and waits it out
    with ColorMeServer(demo_data, bucket_size=2, per_second=8, retry_after=0.05) as srv:
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


def test_missing_scope_is_named(demo_data, tmp_path):
    with ColorMeServer(demo_data, scopes={"read_sales"}, per_second=1e6) as srv:
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


def test_wrong_shape_is_a_format_error(server, tmp_path):
    server.fail("wrong_shape", on="products")
    with pytest.raises(ResponseFormatError, match="no 'products' list"):
        sync(tmp_path / "w.duckdb", "products", settings(server))


_CHILD = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from connectors.colorme import ColorMeSettings, sync
    st = ColorMeSettings(token={token!r}, base_url={url!r}, page_size=10,
                         requests_per_minute=1e7)
    sync({wh!r}, "sales", st)
""")


@pytest.mark.parametrize("pages", [1, 3, 7])
def test_kill_and_resume_ends_equal_to_source(demo_data, tmp_path, pages):
    wh = tmp_path / "w.duckdb"
    with ColorMeServer(demo_data, per_second=1e6) as srv:
        gate = srv.gate("sales", pages + 1)
        code = _CHILD.format(root=str(ROOT), token=TOKEN, url=srv.url, wh=str(wh))
        child = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            assert gate.reached.wait(30), child.communicate()[0]
            os.kill(child.pid, signal.SIGKILL)
            child.wait(10)
        finally:
            gate.open()
            if child.poll() is None:
                child.kill()
        assert child.returncode == -signal.SIGKILL
        # committed: exactly the pages served (10, then 9 new per overlapping page)
        assert query(wh, "SELECT count(*) FROM raw_colorme.sales")[0][0] == 10 + 9 * (pages - 1)
        (cursor, state, status) = query(
            wh, "SELECT s.cursor_value, CAST(s.state AS VARCHAR), l.status "
                "FROM raw_meta.sync_state s JOIN raw_meta.sync_log l USING (sync_id)")[0]
        assert cursor is None and status == "running"  # the window is not finished
        assert json.loads(state)["window"]["offset"] == 10 + 9 * (pages - 1)
        # while it is down, the shop changes: a sale is cancelled, one is added
        srv.cancel_sale(srv.records("sales")[0]["id"])
        srv.touch("sales", 88_888, make_date=1_790_000_000, canceled=False, details=[],
                  customer=None, total_price=500)
        result = sync(wh, "sales", settings(srv, page_size=10))
        assert result.status == "success"
        # changes made after the killed sync's window started belong to the next window
        sync(wh, "sales", settings(srv, page_size=10))
        assert raw_records(wh, "sales") == source_records(srv, "sales")
        assert query(wh, "SELECT count(*) FROM raw_colorme.sales")[0][0] == len(demo_data["sales"]) + 1


def test_source_is_discovered_and_syncs_on_an_open_connection(server, tmp_path):
    """What orchestration does: configured_sources(env), then sync on its open connection."""
    from connectors.api_source import configured_sources

    env = {"COLORME_ACCESS_TOKEN": TOKEN, "COLORME_BASE_URL": server.url,
           "COLORME_REQUESTS_PER_MINUTE": "1000000"}
    (source,) = [s for s in configured_sources(env) if s.name == "colorme"]
    assert source.streams == STREAMS and source.schema == "raw_colorme"
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        for stream in STREAMS:
            assert source.sync(con, stream, env, lambda _line: None).status == "success"
    finally:
        con.close()
    for stream in STREAMS:
        assert raw_records(tmp_path / "w.duckdb", stream) == source_records(server, stream)


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
