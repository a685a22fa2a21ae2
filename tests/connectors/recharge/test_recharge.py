"""Recharge connector against a real local Recharge 2021-11 server (real sockets, demo data).

Kill-and-resume is in test_kill_and_resume.py, shared with the other API providers."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import duckdb
import pytest
from connector_fixtures import Sleeps, full_sync, query, source_records
from connector_fixtures import recharge_settings as settings
from connector_fixtures import raw_records as _raw_records
from servers.recharge_server import TOKEN, RechargeServer

from connectors.http import AuthError, ResponseFormatError
from connectors.recharge import SOURCE, settings_from_env, sync

STREAMS = ("customers", "subscriptions", "charges")
raw_records = partial(_raw_records, schema="raw_recharge")


@pytest.fixture
def server(recharge):
    return recharge


# --- full and incremental -----------------------------------------------------------------------

def test_full_sync_equals_source(server, tmp_path):
    wh = tmp_path / "w.duckdb"
    results = full_sync(sync, wh, STREAMS, settings, server, schema="raw_recharge", token=TOKEN)
    for stream, result in results.items():
        assert result.rows_inserted == len(server.records(stream))
        # cursor = newest updated_at committed
        assert result.cursor_value == query(
            wh, f"SELECT CAST(max(updated_at) AS VARCHAR) FROM raw_recharge.{stream}")[0][0]
    # protocol: version pinned, filters only on page 1, cursor + limit afterwards
    assert {r.headers.get("X-Recharge-Version") for r in server.requests} == {"2021-11"}
    for r in server.requests:
        if "cursor" in r.params:
            assert set(r.params) == {"cursor", "limit"}
        else:
            assert r.params["sort_by"] == "updated_at-asc"
    # failed charges are payment failures: status error with the error text kept
    failed = [c for c in raw_records(wh, "charges").values() if c["status"] == "error"]
    assert failed and all(c["error"] and c["error_type"] for c in failed)
    assert query(wh, "SELECT DISTINCT status FROM raw_meta.sync_log") == [("success",)]


def test_incremental_resync_reflects_changes_and_cancellations(server, tmp_path):
    wh = tmp_path / "w.duckdb"
    for stream in STREAMS:
        sync(wh, stream, settings(server))
    active = next(s for s in server.records("subscriptions") if s["status"] == "active")
    cancelled = server.cancel(active["id"], reason="使い切れない")
    cust = server.records("customers")[0]
    server.touch("customers", cust["id"], email="new@example.jp", loyalty_tier="gold")
    charge = dict(server.records("charges")[-1], id=799_999_999, status="error",
                  error="カード与信NG", error_type="CARD_DECLINED", external_order_id={"ecommerce": None})
    server.upsert("charges", charge)
    n_before = len(server.requests)

    results = {stream: sync(wh, stream, settings(server, lookback=timedelta(hours=1)))
               for stream in STREAMS}
    for stream in STREAMS:
        assert raw_records(wh, stream) == source_records(server, stream)
    assert results["customers"].rows_updated == 1 and results["customers"].rows_inserted == 0
    assert results["subscriptions"].rows_updated == 1
    assert results["charges"].rows_inserted == 1
    sub = raw_records(wh, "subscriptions")[active["id"]]
    assert sub["status"] == "cancelled" and sub["cancellation_reason"] == "使い切れない"
    assert sub["cancelled_at"] == cancelled["cancelled_at"]
    assert raw_records(wh, "customers")[cust["id"]]["loyalty_tier"] == "gold"  # drift kept
    # the re-sync asked only for recent records (cursor minus the lookback)
    first = [r for r in server.requests[n_before:] if "cursor" not in r.params]
    assert all("updated_at_min" in r.params for r in first)


def test_deleted_records_are_marked_and_restored(server, tmp_path):
    wh = tmp_path / "w.duckdb"
    for stream in ("subscriptions", "charges"):
        sync(wh, stream, settings(server))
    subs, charges = server.records("subscriptions"), server.records("charges")
    gone_sub, gone_charges = subs[len(subs) // 2]["id"], [charges[3]["id"], charges[-1]["id"]]
    server.delete("subscriptions", gone_sub)
    for cid in gone_charges:
        server.delete("charges", cid)

    st = settings(server, reconcile_every=timedelta(0))
    sync(wh, "subscriptions", st)
    sync(wh, "charges", st)
    assert set(raw_records(wh, "subscriptions", deleted=True)) == {gone_sub}
    assert set(raw_records(wh, "charges", deleted=True)) == set(gone_charges)
    assert raw_records(wh, "charges") == source_records(server, "charges")
    assert query(wh, "SELECT count(*) FROM raw_recharge.charges WHERE deleted_at IS NOT NULL "
                     "AND _record->>'id' IS NULL") == [(0,)]  # the last record is kept
    # a record that comes back is live again
    server.upsert("subscriptions", next(s for s in subs if s["id"] == gone_sub))
    sync(wh, "subscriptions", st)
    assert raw_records(wh, "subscriptions", deleted=True) == {}
    assert raw_records(wh, "subscriptions") == source_records(server, "subscriptions")


def test_reconcile_not_run_when_not_due(server, tmp_path):
    wh = tmp_path / "w.duckdb"
    sync(wh, "charges", settings(server))
    server.delete("charges", server.records("charges")[0]["id"])
    n = len(server.requests)
    sync(wh, "charges", settings(server))  # default: every 7 days
    assert all(r.params.get("sort_by") != "id-asc" for r in server.requests[n:])
    assert raw_records(wh, "charges", deleted=True) == {}


# --- retries, throttling ------------------------------------------------------------------------

def test_retries_honour_retry_after(server, tmp_path):
    wh = tmp_path / "w.duckdb"
    sleeps = Sleeps()
    server.fail(503, on="customers")
    server.fail(429, retry_after=7, on="customers")
    server.fail("drop", on="customers")
    server.fail(502, retry_after=2, on="customers")
    result = sync(wh, "customers", settings(server), sleep=sleeps)
    assert result.status == "success"
    assert raw_records(wh, "customers") == source_records(server, "customers")
    assert 7.0 in sleeps and 2.0 in sleeps and len(sleeps) == 4


def test_client_bucket_keeps_under_the_limit(recharge_data, tmp_path):
    # server: 5-call bucket leaking 40/s; the client bucket matches, so no 429 is ever sent
    with RechargeServer(recharge_data, bucket_size=5, leak_rate=40) as srv:
        st = settings(srv, page_size=10, bucket_size=5, leak_per_second=40)
        result = sync(tmp_path / "w.duckdb", "charges", st)
        assert result.status == "success" and srv.throttled == 0
        assert srv.page_requests["charges"] > 5


def test_server_429_is_waited_out(recharge_data, tmp_path):
    # the client believes in a fast leak; the server throttles and says Retry-After
    with RechargeServer(recharge_data, bucket_size=3, leak_rate=5, retry_after=0.05) as srv:
        st = settings(srv, page_size=25, bucket_size=1000, leak_per_second=1000, max_retries=20)
        wh = tmp_path / "w.duckdb"
        result = sync(wh, "charges", st)
        assert result.status == "success" and srv.throttled > 0
        assert raw_records(wh, "charges") == source_records(srv, "charges")


# --- auth, bad responses, drift -----------------------------------------------------------------

def test_bad_token_names_the_variable_and_hides_the_secret(server, tmp_path):
    wh = tmp_path / "w.duckdb"
    secret = "sk_1x1_this-is-a-wrong-secret-token"
    lines: list[str] = []
    with pytest.raises(AuthError) as info:
        SOURCE.sync(wh, "customers", {"RECHARGE_API_TOKEN": secret,
                                      "RECHARGE_BASE_URL": server.url}, lines.append)
    msg = str(info.value)
    assert "RECHARGE_API_TOKEN" in msg and "401" in msg and secret not in msg
    assert all(secret not in line for line in lines)
    (error,) = query(wh, "SELECT error FROM raw_meta.sync_log WHERE status = 'failed'")[0]
    assert "RECHARGE_API_TOKEN" in error and secret not in error
    assert secret not in repr(settings_from_env({"RECHARGE_API_TOKEN": secret}))


def test_missing_scope_is_named(recharge_data, tmp_path):
    wh = tmp_path / "w.duckdb"
    with RechargeServer(recharge_data, scopes={"read_customers", "read_subscriptions"},
                        leak_rate=10_000) as srv:
        assert sync(wh, "customers", settings(srv)).status == "success"
        with pytest.raises(AuthError) as info:
            sync(wh, "charges", settings(srv))
    msg = str(info.value)
    assert "read_orders" in msg and "403" in msg and TOKEN not in msg


def test_malformed_json_fails_then_resumes(server, tmp_path):
    wh = tmp_path / "w.duckdb"
    server.fail("malformed", on="charges", after_pages=3)  # page 4 is cut short
    with pytest.raises(ResponseFormatError, match="malformed JSON"):
        sync(wh, "charges", settings(server))
    assert query(wh, "SELECT count(*) FROM raw_recharge.charges")[0][0] == 3 * 25
    assert query(wh, "SELECT status FROM raw_meta.sync_log") == [("failed",)]
    assert sync(wh, "charges", settings(server)).status == "success"
    assert raw_records(wh, "charges") == source_records(server, "charges")


def test_an_answer_in_another_api_version_is_refused(recharge_data, tmp_path):
    with RechargeServer(recharge_data, leak_rate=10_000, answer_version="2021-01") as srv:
        with pytest.raises(ResponseFormatError, match="2021-11"):
            sync(tmp_path / "w.duckdb", "customers", settings(srv))


def test_schema_drift_new_and_missing_fields(server, tmp_path):
    wh = tmp_path / "w.duckdb"
    sync(wh, "subscriptions", settings(server))
    for sub in server.records("subscriptions")[:5]:
        changed = {k: v for k, v in sub.items() if k not in ("cancellation_reason", "sku")}
        changed["plan_id"] = 42
        changed["bundle"] = {"items": [1, 2]}
        server.upsert("subscriptions", changed)
    result = sync(wh, "subscriptions", settings(server))
    assert result.status == "success" and result.rows_updated == 5
    assert raw_records(wh, "subscriptions") == source_records(server, "subscriptions")
