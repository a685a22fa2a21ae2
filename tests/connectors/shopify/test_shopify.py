"""Shopify connector against a real local GraphQL Admin API server fed with demo-merchant data."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from connector_fixtures import SHOPIFY_TOKEN as TOKEN
from connector_fixtures import Sleeps
from connector_fixtures import assert_shopify_equals_source as assert_equals_source
from connector_fixtures import shopify_env as env_for
from connector_fixtures import shopify_raw as raw
from connector_fixtures import shopify_sync_log as sync_log
from servers.demo_to_shopify import gid
from servers.shopify_server import ALL_SCOPES, ShopifyServer

from connectors.http import AuthError, ResponseFormatError
from connectors.shopify import SOURCE, ShopifySettings as ShopifyConfig, sync_stream
from connectors.shopify.queries import LINE_ITEMS_FIRST
from connectors.testing.http_base import Gate

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def server(shop):
    with ShopifyServer(copy.deepcopy(shop), token=TOKEN, bucket_max=1000, restore_rate=2000) as s:
        yield s


def sync_all(db, env, log=None, **kw):
    return {s: sync_stream(db, s, env, log or (lambda m: None), **kw) for s in SOURCE.streams}


# -- full syncs -------------------------------------------------------------------------------------


def test_first_sync_bulk_backfill_equals_source(server, tmp_path):
    db = tmp_path / "w.duckdb"
    results = sync_all(db, env_for(server, SHOPIFY_BULK_BATCH="7"))
    assert all(r.status == "success" for r in results.values())
    for stream in SOURCE.streams:
        assert_equals_source(db, server, stream)
    ops = server.operations()
    assert ops.count("BulkRun") == 2 and ops.count("BulkDownload") == 2  # customers, orders
    # A selling-plan line tells a subscription order from a one-off.
    orders = raw(db, "orders")
    plans = [li["sellingPlan"] for o in orders.values() for li in o["record"]["lineItems"]["nodes"]]
    assert any(p and p["sellingPlanId"].startswith("gid://shopify/SellingPlan/") for p in plans)
    assert any(p is None for p in plans)


def test_paged_sync_equals_source_and_paginates(server, tmp_path):
    db = tmp_path / "w.duckdb"
    sync_all(db, env_for(server, SHOPIFY_BULK="never", SHOPIFY_PAGE_SIZE="9"))
    for stream in SOURCE.streams:
        assert_equals_source(db, server, stream)
    n_orders = len(server.records["orders"])
    order_pages = [e for e in server.log if e["operation"] == "Orders"]
    assert len(order_pages) == -(-n_orders // 9)
    assert order_pages[0]["variables"]["after"] is None
    assert all(e["variables"]["after"] for e in order_pages[1:])
    assert all(e["variables"]["first"] == 9 for e in order_pages)
    assert "BulkRun" not in server.operations()


def test_long_orders_fetch_the_rest_of_their_line_items(server, tmp_path):
    order = copy.deepcopy(server.records["orders"]["gid://shopify/Order/1"])
    template = order["lineItems"]["nodes"][0]
    order["lineItems"]["nodes"] = [
        {**template, "id": gid("LineItem", 900000 + k), "quantity": k + 1}
        for k in range(LINE_ITEMS_FIRST + 15)]
    server.upsert("orders", order)
    db = tmp_path / "w.duckdb"
    sync_stream(db, "orders", env_for(server, SHOPIFY_BULK="never"), lambda m: None)
    assert len(raw(db, "orders")[1]["record"]["lineItems"]["nodes"]) == LINE_ITEMS_FIRST + 15
    assert "OrderLineItems" in server.operations()
    assert_equals_source(db, server, "orders")


# -- incremental, deletions, drift -------------------------------------------------------------------


def test_incremental_resync_with_lookback_reflects_changes(server, tmp_path):
    db = tmp_path / "w.duckdb"
    env = env_for(server, SHOPIFY_LOOKBACK_MINUTES="30")
    sync_all(db, env)
    cancelled = "gid://shopify/Order/5"
    server.cancel_order(cancelled)
    server.touch("customers", "gid://shopify/Customer/2", lastName="変更後")
    server.delete_product("gid://shopify/Product/3")
    new = copy.deepcopy(server.records["customers"]["gid://shopify/Customer/1"])
    new["id"], new["legacyResourceId"] = gid("Customer", 999), "999"
    server.upsert("customers", new)
    n_before = len(server.log)
    results = sync_all(db, env)
    for stream in SOURCE.streams:
        assert_equals_source(db, server, stream)
    # the incremental queries start 30 minutes before the committed cursor
    queries = [e["variables"].get("query") for e in server.log[n_before:]
               if e["operation"] in ("Customers", "Orders", "Products")]
    assert all(q and q.startswith("updated_at:>='") for q in queries)
    assert results["customers"].rows_inserted == 1 and results["customers"].rows_updated == 1
    assert results["customers"].rows_read < len(server.records["customers"])
    assert results["orders"].rows_updated == 1
    order = raw(db, "orders")[5]["record"]
    assert order["cancelledAt"] and order["cancelReason"] == "CUSTOMER"
    products = raw(db, "products")
    assert products[3]["deleted_at"] is not None and products[3]["record"]["title"]
    assert sum(p["deleted_at"] is not None for p in products.values()) == 1
    # a third sync with nothing new changes nothing
    again = sync_all(db, env)
    assert all(r.rows_inserted == 0 and r.rows_updated == 0 for r in again.values())


def test_schema_drift_new_and_missing_optional_fields(server, tmp_path):
    db = tmp_path / "w.duckdb"
    env = env_for(server, SHOPIFY_BULK="never")
    sync_all(db, env)
    server.add_field("customers", "loyaltyTier", {"name": "ゴールド", "points": 120})
    server.remove_field("customers", "defaultPhoneNumber")
    server.remove_field("orders", "paymentGatewayNames")
    for n in (1, 2):
        server.touch("customers", f"gid://shopify/Customer/{n}")
        server.touch("orders", f"gid://shopify/Order/{n}")
    sync_all(db, env)
    customers = raw(db, "customers")
    assert customers[1]["record"]["loyaltyTier"]["name"] == "ゴールド"
    assert "defaultPhoneNumber" not in customers[1]["record"]
    assert "paymentGatewayNames" not in raw(db, "orders")[2]["record"]
    assert all(status == "success" for _, status, _ in sync_log(db))


# -- throttling and transient failures -------------------------------------------------------------


def test_cost_based_throttle_keeps_within_the_bucket(shop, tmp_path):
    # a small bucket (30 points, 60/s): each customers page asks 2 + 25 = 27 points
    with ShopifyServer(copy.deepcopy(shop), token=TOKEN, bucket_max=30, restore_rate=60) as s:
        db = tmp_path / "w.duckdb"
        cfg = ShopifyConfig.from_env(env_for(s, SHOPIFY_BULK="never", SHOPIFY_PAGE_SIZE="25"))
        gql = cfg.client()
        sync_stream(db, "customers", {}, lambda m: None, config=cfg, client=gql)
        assert_equals_source(db, s, "customers")
        assert s.throttled <= 1          # the client waits before the server has to say no
        assert gql.throttle.waited > 0


def test_throttled_errors_are_waited_out(server, tmp_path):
    server.fail("throttled", times=2, on="Orders")
    db = tmp_path / "w.duckdb"
    cfg = ShopifyConfig.from_env(env_for(server, SHOPIFY_BULK="never"))
    gql = cfg.client()
    sync_stream(db, "orders", {}, lambda m: None, config=cfg, client=gql)
    assert gql.throttled == 2 and server.throttled == 2
    assert_equals_source(db, server, "orders")


def test_429_5xx_and_resets_are_retried(server, tmp_path):
    server.fail(429, on="Customers", retry_after=2)
    server.fail(503, times=2, on="Orders")
    server.fail("drop", on="Products")
    server.fail("429-date", on="Orders")
    server.fail(500, on="BulkDownload")
    db = tmp_path / "w.duckdb"
    sleeps = Sleeps()
    lines: list[str] = []
    sync_all(db, env_for(server), log=lines.append, sleep=sleeps)
    for stream in SOURCE.streams:
        assert_equals_source(db, server, stream)
    assert 2.0 in sleeps                         # Retry-After: 2 honoured
    assert sum("retry" in line for line in lines) >= 5
    assert not server.faults


def test_malformed_json_fails_the_sync_without_moving_the_cursor(server, tmp_path):
    db = tmp_path / "w.duckdb"
    env = env_for(server, SHOPIFY_BULK="never", SHOPIFY_PAGE_SIZE="20")
    sync_stream(db, "customers", env, lambda m: None)
    server.touch("customers", "gid://shopify/Customer/4")
    server.fail("malformed", on="Customers")
    with pytest.raises(ResponseFormatError) as e:
        sync_stream(db, "customers", env, lambda m: None)
    assert "malformed JSON" in str(e.value)
    log = sync_log(db)
    assert log[-1][1] == "failed" and "malformed JSON" in log[-1][2]
    sync_stream(db, "customers", env, lambda m: None)
    assert_equals_source(db, server, "customers")


# -- auth -----------------------------------------------------------------------------------------


def test_bad_token_stops_with_a_clear_message_and_no_secret(server, tmp_path):
    db = tmp_path / "w.duckdb"
    bad = "shpat_WRONG_abcdef0123456789"
    with pytest.raises(AuthError) as e:
        sync_stream(db, "customers", env_for(server, SHOPIFY_ACCESS_TOKEN=bad), lambda m: None)
    assert "401" in str(e.value) and "Invalid API key or access token" in str(e.value)
    assert bad not in str(e.value) + repr(e.value)
    stored = "".join(str(x) for row in sync_log(db) for x in row)
    assert "failed" in stored and bad not in stored and TOKEN not in stored
    assert [e["operation"] for e in server.log] == ["BulkRun"]  # not retried


def test_missing_read_all_orders_scope_is_named(shop, tmp_path):
    scopes = ALL_SCOPES - {"read_all_orders"}
    with ShopifyServer(copy.deepcopy(shop), token=TOKEN, scopes=scopes) as s:
        with pytest.raises(AuthError) as e:
            sync_stream(tmp_path / "w.duckdb", "orders", env_for(s, SHOPIFY_BULK="never"),
                        lambda m: None)
    assert "read_all_orders" in str(e.value) and "403" in str(e.value)
    assert TOKEN not in str(e.value)


def test_missing_read_customers_scope_is_named(shop, tmp_path):
    with ShopifyServer(copy.deepcopy(shop), token=TOKEN, scopes=ALL_SCOPES - {"read_customers"}) as s:
        with pytest.raises(AuthError) as e:
            sync_stream(tmp_path / "w.duckdb", "customers", env_for(s, SHOPIFY_BULK="never"),
                        lambda m: None)
    assert "read_customers" in str(e.value) and "ACCESS_DENIED" in str(e.value)


# -- kill and resume ------------------------------------------------------------------------------


def _start_sync(db: Path, env: dict[str, str], stream: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "connectors.shopify", "--warehouse", str(db), "--stream", stream],
        cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _kill_when_blocked(gate: Gate, proc: subprocess.Popen) -> None:
    assert gate.reached.wait(30), proc.communicate(timeout=5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    gate.open()


def test_kill_mid_bulk_download_resumes_the_same_operation(server, tmp_path):
    db = tmp_path / "w.duckdb"
    env = env_for(server, SHOPIFY_BULK="always", SHOPIFY_BULK_BATCH="5")
    gate = server.gate("BulkDownload", 60)
    proc = _start_sync(db, env, "orders")
    for line in proc.stdout:  # the CLI prints a line after each committed bulk batch
        if b"bulk committed" in line:
            break
    _kill_when_blocked(gate, proc)
    partial = raw(db, "orders")
    assert 0 < len(partial) < len(server.records["orders"])
    con = duckdb.connect(str(db), read_only=True)
    state = json.loads(con.execute("SELECT CAST(state AS VARCHAR) FROM raw_meta.sync_state").fetchone()[0])
    cursor = con.execute("SELECT cursor_value FROM raw_meta.sync_state").fetchone()[0]
    con.close()
    assert cursor is None and state["bulk"]["lines_done"] > 0
    proc = _start_sync(db, env, "orders")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert "resuming bulk operation" in out.decode()
    assert server.operations().count("BulkRun") == 1
    assert_equals_source(db, server, "orders")


def test_kill_right_after_a_page_is_sent(server, tmp_path):
    """Not blocked: the client dies wherever it is (maybe inside a commit); the rerun still
    ends equal to the source."""
    db = tmp_path / "w.duckdb"
    env = env_for(server, SHOPIFY_BULK="never", SHOPIFY_PAGE_SIZE="5", SHOPIFY_LOOKBACK_MINUTES="1")
    server.fail("slow", times=1000, on="Orders", delay=0.05)
    proc = _start_sync(db, env, "orders")
    deadline = time.time() + 30
    while server.pages_served < 4 and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    server.faults.clear()
    sync_stream(db, "orders", env, lambda m: None)
    assert_equals_source(db, server, "orders")
