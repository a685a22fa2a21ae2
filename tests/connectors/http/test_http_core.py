"""The shared HTTP core (connectors.http) against a real local HTTP server.

Backoff waits go through an injected ``sleep`` that records instead of sleeping, so retries are
exercised over real sockets without slowing the suite down.
"""

from __future__ import annotations

import email.utils
import logging
import pickle
import random
import socket
import time
from datetime import datetime, timedelta, timezone

import pytest
from servers.scripted_server import ScriptedServer

from connectors.api_source import ApiSource, api_sources, configured_sources
from connectors.http import (
    AuthError,
    BearerAuth,
    CostBasedThrottle,
    HeaderTokenAuth,
    HttpClient,
    HttpError,
    LeakyBucket,
    MinInterval,
    OffsetShifted,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    TransportError,
    cursor_param_pages,
    graphql_connection,
    offset_pages,
    parse_retry_after,
)

TOKEN = "fake-test-token-SECRET-0123456789abcdef"  # not a real credential


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def srv():
    with ScriptedServer() as s:
        yield s


def client(srv, sleeps=None, **kw) -> HttpClient:
    kw.setdefault("auth", HeaderTokenAuth("X-Api-Token", TOKEN))
    kw.setdefault("max_retries", 3)
    kw.setdefault("backoff_base", 1.0)
    kw.setdefault("rng", random.Random(7))
    return HttpClient(srv.url + "/api", sleep=sleeps if sleeps is not None else Sleeps(), **kw)


# -- retries ------------------------------------------------------------------------------------


def test_retries_5xx_with_exponential_backoff_then_succeeds(srv):
    srv.queue("/api/items", 503, "busy", times=2)
    srv.queue("/api/items", 500, {"error": "oops"})
    srv.queue("/api/items", 200, {"items": [1, 2]})
    sleeps = Sleeps()
    c = client(srv, sleeps)
    assert c.get_json("items") == {"items": [1, 2]}
    assert len(srv.requests) == 4
    # equal jitter: attempt n waits within [d/2, d] where d = base * 2**(n-1)
    for n, s in enumerate(sleeps, start=1):
        d = 1.0 * 2 ** (n - 1)
        assert d / 2 <= s <= d
    assert c.retries == 3
    assert all(r.headers["X-Api-Token"] == TOKEN for r in srv.requests)


def test_backoff_is_capped(srv):
    srv.queue("/api/x", 502, "bad gateway", times=5)
    srv.queue("/api/x", 200, {})
    sleeps = Sleeps()
    client(srv, sleeps, max_retries=5, backoff_base=10, backoff_max=15).get_json("x")
    assert max(sleeps) <= 15 and min(sleeps) >= 5


def test_429_honours_retry_after_seconds(srv):
    srv.queue("/api/x", 429, {"errors": "slow down"}, headers={"Retry-After": "7"})
    srv.queue("/api/x", 200, {"ok": 1})
    sleeps = Sleeps()
    assert client(srv, sleeps).get_json("x") == {"ok": 1}
    assert sleeps == [7.0]


def test_429_honours_retry_after_http_date(srv):
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    srv.queue("/api/x", 429, "", headers={"Retry-After": email.utils.format_datetime(when, usegmt=True)})
    srv.queue("/api/x", 200, {})
    sleeps = Sleeps()
    client(srv, sleeps).get_json("x")
    assert 27 <= sleeps[0] <= 31


def test_retry_after_beyond_the_maximum_fails_at_once(srv):
    srv.queue("/api/x", 429, {"errors": "daily quota"}, headers={"Retry-After": "3600"})
    with pytest.raises(RateLimitError) as e:
        client(srv, retry_after_max=60).get_json("x")
    assert e.value.status == 429 and e.value.retry_after == 3600
    assert "exceeds retry_after_max" in str(e.value)
    assert len(srv.requests) == 1


def test_exhausted_retries_raise_a_structured_server_error(srv):
    srv.queue("/api/orders", 503, {"error": "maintenance"}, headers={"X-Request-Id": "req-42"}, times=4)
    sleeps = Sleeps()
    with pytest.raises(ServerError) as e:
        client(srv, sleeps).get_json("orders", params={"page": 2})
    err = e.value
    assert (err.method, err.status, err.attempts, err.request_id) == ("GET", 503, 4, "req-42")
    assert err.url.endswith("/api/orders?page=2")
    assert "maintenance" in err.body_excerpt
    assert "server error (503)" in str(err) and "req-42" in str(err)
    assert len(sleeps) == 3


def test_rate_limit_error_after_last_retry(srv):
    srv.queue("/api/x", 429, {"errors": "Throttled"}, headers={"Retry-After": "1"}, times=4)
    with pytest.raises(RateLimitError):
        client(srv).get_json("x")


def test_connection_errors_are_retried_then_reported():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps = Sleeps()
    c = HttpClient(f"http://127.0.0.1:{port}", auth=BearerAuth(TOKEN), max_retries=2,
                   sleep=sleeps, timeout=(1, 1))
    with pytest.raises(TransportError) as e:
        c.get_json("x", params={"access_token": TOKEN})
    assert e.value.attempts == 3 and len(sleeps) == 2 and e.value.status is None
    assert TOKEN not in str(e.value)


def test_a_hung_server_fails_within_the_retry_budget_saying_it_timed_out(srv):
    """A provider that accepts the connection and never answers: every attempt waits the read
    timeout, every wait the backoff; the whole request gives up inside its budget instead of
    (max_retries + 1) read timeouts plus the backoff. Real time, real sleeps."""
    srv.fail("hang", times=20)
    lines: list[str] = []
    c = HttpClient(srv.url + "/api", auth=HeaderTokenAuth("X-Api-Token", TOKEN), provider="Recharge",
                   timeout=(0.5, 0.5), max_retries=6, backoff_base=0.2, retry_budget=2.0,
                   log=lines.append)
    started = time.monotonic()
    with pytest.raises(TransportError) as e:
        c.get_json("items")
    took = time.monotonic() - started
    assert took < 2.0 + 0.5, took          # the budget, plus one scheduling slack
    assert 2 <= e.value.attempts < 7        # retried, but not all seven attempts of 0.5 s + waits
    message = str(e.value)
    assert message.startswith("Recharge: timed out: no answer within the read timeout of 0.5 s")
    assert "retry budget is 2 s" in message and "GET " in message
    assert lines and all("read timeout" in line for line in lines)
    assert TOKEN not in message + "".join(lines)


def test_a_retry_after_longer_than_the_budget_left_fails_at_once(srv):
    srv.queue("/api/x", 429, {"errors": "slow down"}, headers={"Retry-After": "30"})
    sleeps = Sleeps()
    with pytest.raises(RateLimitError) as e:
        client(srv, sleeps, retry_budget=10, provider="カラーミーショップ").get_json("x")
    assert sleeps == [] and len(srv.requests) == 1
    assert str(e.value).startswith("カラーミーショップ: rate limited (429)")
    assert "the next wait of 30.0 s would pass it" in str(e.value)


def test_client_errors_are_not_retried(srv):
    srv.queue("/api/x", 404, {"errors": "Not Found"})
    with pytest.raises(HttpError) as e:
        client(srv).get_json("x")
    assert type(e.value) is HttpError and e.value.status == 404 and "Not Found" in str(e.value)
    assert len(srv.requests) == 1


def test_retry_false_sends_once(srv):
    srv.queue("/api/send", 503, "busy")
    with pytest.raises(ServerError):
        client(srv).post_json("send", json={"to": "x"}, retry=False)
    assert len(srv.requests) == 1


# -- auth errors and secrets ------------------------------------------------------------------------


def test_401_is_an_auth_error_without_the_token(srv, caplog):
    srv.queue("/api/me", 401, {"errors": f"[API] Invalid API key or access token {TOKEN}"})
    c = client(srv)
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthError) as e:
        c.get_json("me", params={"access_token": TOKEN, "page": 1})
    text = str(e.value) + repr(e.value) + repr(c) + repr(c.auth) + caplog.text
    text += str(pickle.loads(pickle.dumps(e.value)))
    assert TOKEN not in text
    assert "Invalid API key or access token" in str(e.value)
    assert "access_token=***" in e.value.url and "page=1" in e.value.url
    assert e.value.status == 401 and len(srv.requests) == 1


def test_403_names_the_missing_scope(srv):
    srv.queue("/api/orders", 403,
              {"errors": "[API] This action requires merchant approval for read_all_orders scope."})
    with pytest.raises(AuthError) as e:
        client(srv).get_json("orders")
    assert "read_all_orders" in str(e.value) and "403" in str(e.value)


def test_bearer_auth_header_and_repr(srv):
    srv.queue("/api/x", 200, {})
    c = client(srv, auth=BearerAuth(TOKEN))
    c.get_json("x")
    assert srv.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in repr(c.auth) and TOKEN not in repr(c)


def test_auth_is_not_sent_to_other_hosts(srv):
    with ScriptedServer() as other:
        other.queue("/file", 200, b"data")
        c = client(srv)
        assert c.request("GET", other.url + "/file").content == b"data"
        assert "X-Api-Token" not in other.requests[0].headers


def test_retry_log_lines_are_redacted(srv):
    srv.queue("/api/x", 503, "busy")
    srv.queue("/api/x", 200, {})
    lines: list[str] = []
    client(srv, log=lines.append).get_json("x", params={"token": TOKEN})
    assert lines and all(TOKEN not in line for line in lines)
    assert "HTTP 503" in lines[0]


# -- response format ------------------------------------------------------------------------------


def test_malformed_json_is_a_format_error(srv):
    srv.queue("/api/x", 200, b'{"data": {"orders": [', headers={"X-Request-Id": "abc"})
    with pytest.raises(ResponseFormatError) as e:
        client(srv).get_json("x")
    assert e.value.status == 200 and e.value.request_id == "abc"
    assert "malformed JSON" in str(e.value) and '{"data"' in e.value.body_excerpt


def test_japanese_json_body(srv):
    srv.queue("/api/x", 200, {"name": "薬用美白ローション"})
    assert client(srv).get_json("x") == {"name": "薬用美白ローション"}


# -- pagination helpers ---------------------------------------------------------------------------


def test_cursor_param_pages(srv):
    pages = {None: ({"items": [1, 2], "next_cursor": "c2"}), "c2": {"items": [3], "next_cursor": None}}
    srv.route("/api/items", lambda r: (200, pages[(r.query.get("cursor") or [None])[0]]))
    got = list(cursor_param_pages(client(srv), "items", params={"limit": 2, "updated_at_min": "x"},
                                  next_cursor=lambda b: b["next_cursor"],
                                  drop_params_with_cursor=("updated_at_min",)))
    assert [p.body["items"] for p in got] == [[1, 2], [3]]
    assert [p.next_cursor for p in got] == ["c2", None]
    assert "updated_at_min" not in srv.requests[1].query and srv.requests[1].query["cursor"] == ["c2"]


def test_offset_pages(srv):
    data = list(range(7))

    def page(r):
        off, lim = int(r.query["offset"][0]), int(r.query["limit"][0])
        return 200, {"sales": data[off:off + lim], "meta": {"total": len(data)}}

    srv.route("/api/sales.json", page)
    got = list(offset_pages(client(srv), "sales.json", items=lambda b: b["sales"], limit=3))
    assert [p.body["sales"] for p in got] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [p.request_cursor for p in got] == [0, 3, 6]


def test_offset_pages_overlap_by_one_record_and_detect_shifts(srv):
    data = [{"id": i} for i in range(7)]

    def page(r):
        off, lim = int(r.query["offset"][0]), int(r.query["limit"][0])
        return 200, {"sales": data[off:off + lim], "meta": {"total": len(data)}}

    srv.route("/api/sales.json", page)
    got = list(offset_pages(client(srv), "sales.json", items=lambda b: b["sales"], limit=3,
                            total=lambda b: b["meta"]["total"], key=lambda r: r["id"]))
    assert [[r["id"] for r in p.items] for p in got] == [[0, 1, 2], [3, 4], [5, 6]]
    assert [p.request_cursor for p in got] == [0, 2, 4]
    assert [(p.next_cursor, p.last_key) for p in got] == [(3, 2), (5, 4), (None, 6)]
    resumed = list(offset_pages(client(srv), "sales.json", items=lambda b: b["sales"], limit=3,
                                total=lambda b: b["meta"]["total"], key=lambda r: r["id"],
                                start=5, start_key=4))
    assert [[r["id"] for r in p.items] for p in resumed] == [[5, 6]]
    pages = offset_pages(client(srv), "sales.json", items=lambda b: b["sales"], limit=3,
                         key=lambda r: r["id"])
    next(pages)
    del data[1]                      # a record moves out while paging
    with pytest.raises(OffsetShifted):
        next(pages)


def test_graphql_connection_shapes():
    data = {"orders": {"edges": [{"node": {"id": 1}}], "pageInfo": {"hasNextPage": True, "endCursor": "e"}}}
    assert graphql_connection(data, ("orders",)) == ([{"id": 1}], "e", True)
    data = {"orders": {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}}
    assert graphql_connection(data, ("orders",)) == ([], None, False)
    with pytest.raises(ResponseFormatError):
        graphql_connection({"customers": {}}, ("orders",))
    with pytest.raises(ResponseFormatError):
        graphql_connection({"orders": {"nodes": [], "pageInfo": {"hasNextPage": True}}}, ("orders",))


# -- throttles (pure; fake clock) ---------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def test_leaky_bucket_allows_a_burst_then_paces_at_the_leak_rate():
    clk = FakeClock()
    b = LeakyBucket(capacity=40, leak_per_second=2, clock=clk, sleep=clk.sleep)
    for _ in range(40):
        assert b.acquire() == 0
    for _ in range(10):
        b.acquire()
    assert clk.t == pytest.approx(5.0)  # 10 more requests at 2/s
    b.sync(used=40)
    assert b.acquire() == pytest.approx(0.5)


def test_min_interval():
    clk = FakeClock()
    m = MinInterval(0.5, clock=clk, sleep=clk.sleep)
    for _ in range(5):
        m.acquire()
    assert clk.t == pytest.approx(2.0)


def test_min_interval_keeps_the_pace_when_sleep_overshoots():
    # A real sleep returns late (timer slack, a busy CPU): the overshoot must not add to every
    # interval. It did: 2,000/s paced at about 1,270/s on a loaded 2-core machine.
    clk = FakeClock()
    m = MinInterval(0.005, clock=clk, sleep=lambda s: clk.sleep(s + 0.001))
    for _ in range(201):
        m.acquire()
    assert clk.t == pytest.approx(200 * 0.005 + 0.001)  # not 200 * 0.006
    clk.t += 10.0  # idle: the next request goes at once, then the pace resumes (no burst)
    assert m.acquire() == 0
    assert m.acquire() == pytest.approx(0.005)


def test_cost_based_throttle_follows_the_reported_budget():
    clk = FakeClock()
    t = CostBasedThrottle(maximum=1000, restore_rate=50, clock=clk, sleep=clk.sleep)
    assert t.acquire(400) == 0
    t.update(currently_available=100, maximum=1000, restore_rate=50)
    assert t.acquire(352) == pytest.approx((352 - 100) / 50)
    t.update(currently_available=1000, maximum=2000, restore_rate=100)
    assert t.maximum == 2000 and t.acquire(900) == 0


def test_throttle_is_applied_before_each_request(srv):
    srv.queue("/api/x", 200, {}, times=5)
    clk = FakeClock()
    c = client(srv, throttle=MinInterval(1.0, clock=clk, sleep=clk.sleep))
    for _ in range(5):
        c.get_json("x")
    assert clk.t == pytest.approx(4.0)


# -- misc -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value,expected", [("3", 3.0), ("0", 0.0), (" 1.5 ", 1.5), ("soon", None),
                                            (None, None), ("", None)])
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value) == expected


def test_parse_retry_after_past_date_is_zero():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_api_source_registry(monkeypatch):
    sources = api_sources(("connectors.shopify", "connectors.does_not_exist_yet"))
    assert [s.name for s in sources] == ["shopify"]
    src = sources[0]
    assert isinstance(src, ApiSource) and src.schema == "raw_shopify"
    assert not src.is_configured({"SHOPIFY_SHOP": "x"})
    assert src.missing_env({"SHOPIFY_SHOP": "x", "SHOPIFY_ACCESS_TOKEN": " "}) == ["SHOPIFY_ACCESS_TOKEN"]
    names = [s.name for s in configured_sources({"SHOPIFY_SHOP": "x", "SHOPIFY_ACCESS_TOKEN": "t"})]
    assert "shopify" in names
    assert "shopify" not in [s.name for s in configured_sources({})]


def test_a_reworded_error_keeps_its_class_request_and_provider_text():
    import pickle

    from connectors.http import AuthError

    err = AuthError("forbidden (403): scope: missing read_sales", method="GET", url="https://x/v1/s",
                    status=403, request_id="r1", attempts=1, provider_message="missing read_sales")
    new = pickle.loads(pickle.dumps(err.reworded("the token lacks read_sales: re-authorize")))
    assert type(new) is AuthError and new.message == "the token lacks read_sales: re-authorize"
    assert (new.method, new.url, new.status, new.request_id, new.provider_message) == (
        "GET", "https://x/v1/s", 403, "r1", "missing read_sales")
