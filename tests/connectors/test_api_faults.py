"""Every cart API connector (Shopify, Recharge, カラーミー) through the faults a provider really
throws, on its local server: a 429 storm, 5xx, a hung server, malformed JSON, and a gateway that
quotes the request (the token included) back in its error body. Each fault fails the sync with
the right error, naming the provider; a hang fails within the retry budget; the next clean sync
loads everything. Then the token is looked for everywhere a run leaves text: every log line,
every error, every table of the warehouse and every file written. It must be nowhere.

Retry exhaustion per list API is in test_list_api_providers.py; the HTTP core's own behaviour in
test_http_core.py."""

from __future__ import annotations

import copy
import logging
import pickle
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import duckdb
import pytest
from connector_fixtures import SHOPIFY_TOKEN, shopify_env
from servers import colorme_server, recharge_server
from servers.colorme_server import ColorMeServer
from servers.recharge_server import RechargeServer
from servers.shopify_server import ShopifyServer

from connectors import colorme, recharge, shopify
from connectors.http import HttpError, RateLimitError, ResponseFormatError, ServerError, TransportError

# Small on purpose: a hung provider must fail in about BUDGET seconds.
READ_TIMEOUT, BUDGET = 0.5, 2.0


@dataclass(frozen=True)
class Provider:
    name: str                      # how errors name it
    stream: str
    token: str
    server: Callable[[Any], Any]   # fixture data -> a server (a context manager)
    data_fixture: str
    env: Callable[[Any], dict[str, str]]
    sync: Callable[..., Any]


PROVIDERS = {
    "shopify": Provider(
        "Shopify", "customers", SHOPIFY_TOKEN,
        lambda shop: ShopifyServer(copy.deepcopy(shop), token=SHOPIFY_TOKEN, bucket_max=1000,
                                   restore_rate=2000),
        "shop",
        lambda srv: shopify_env(srv, SHOPIFY_BULK="never", SHOPIFY_READ_TIMEOUT=str(READ_TIMEOUT),
                                SHOPIFY_RETRY_BUDGET=str(BUDGET)),
        shopify.sync_stream),
    "recharge": Provider(
        "Recharge", "customers", recharge_server.TOKEN,
        lambda data: RechargeServer(data, leak_rate=10_000), "recharge_data",
        lambda srv: {"RECHARGE_API_TOKEN": recharge_server.TOKEN, "RECHARGE_BASE_URL": srv.url,
                     "RECHARGE_LEAK_RATE": "10000", "RECHARGE_READ_TIMEOUT": str(READ_TIMEOUT),
                     "RECHARGE_RETRY_BUDGET": str(BUDGET)},
        recharge.sync_stream),
    "colorme": Provider(
        "カラーミーショップ", "sales", colorme_server.TOKEN,
        lambda data: ColorMeServer(data, per_second=1e6), "colorme_data",
        lambda srv: {"COLORME_ACCESS_TOKEN": colorme_server.TOKEN, "COLORME_BASE_URL": srv.url,
                     "COLORME_REQUESTS_PER_MINUTE": "1000000",
                     "COLORME_READ_TIMEOUT": str(READ_TIMEOUT), "COLORME_RETRY_BUDGET": str(BUDGET)},
        colorme.sync_stream),
}

# (what, how the server fails every request until told otherwise, the error expected)
FAULTS: list[tuple[str, Callable[[Any], None], type[HttpError]]] = [
    ("429 storm", lambda srv: srv.fail(429, times=1000, retry_after=0.05), RateLimitError),
    ("5xx", lambda srv: srv.fail(503, times=1000), ServerError),
    ("hang", lambda srv: srv.fail("hang", times=1000), TransportError),
    ("malformed JSON", lambda srv: srv.fail("malformed", times=1000), ResponseFormatError),
    ("token echoed in a 500", lambda srv: srv.fail("echo", status=500, times=1000), ServerError),
    ("token echoed in a 400", lambda srv: srv.fail("echo", status=400, times=1000), HttpError),
]


def _clear_faults(srv: Any) -> None:
    with srv.lock:
        srv.faults.clear()


def _pieces(token: str) -> list[str]:
    """The token and its long head and tail: text cut short before it was scrubbed keeps a piece
    of the token that no longer matches it whole."""
    n = max(8, len(token) * 3 // 5)
    return [token, token[:n], token[-n:]]


def _warehouse_text(path: Path) -> str:
    """Every row of every table of the warehouse, as text."""
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        assert tables
        return "\n".join(repr(con.execute(f'select * from "{s}"."{t}"').fetchall()) for s, t in tables)


@pytest.mark.parametrize("name", list(PROVIDERS))
def test_faults_fail_cleanly_and_the_token_is_nowhere(name, request, tmp_path, caplog):
    p = PROVIDERS[name]
    wh = tmp_path / "warehouse.duckdb"
    lines: list[str] = []
    errors: list[HttpError] = []
    with p.server(request.getfixturevalue(p.data_fixture)) as srv, caplog.at_level(logging.DEBUG):
        env = p.env(srv)
        for what, fail, expected in FAULTS:
            fail(srv)
            started = time.monotonic()
            with pytest.raises(HttpError) as caught:
                p.sync(wh, p.stream, env, lines.append)
            took = time.monotonic() - started
            _clear_faults(srv)
            err = caught.value
            errors.append(err)
            assert isinstance(err, expected), (what, err)
            assert took < BUDGET + 1.5, (what, took)      # no fault outlasts the retry budget
            if what == "hang":
                assert str(err).startswith(f"{p.name}: timed out"), err
            elif what.startswith("token echoed"):
                assert "***" in str(err), err             # the body quoted the token: scrubbed
        assert len(srv.requests) > len(FAULTS)
        assert any(r.headers.get("X-Shopify-Access-Token") == p.token
                   or r.headers.get("X-Recharge-Access-Token") == p.token
                   or r.headers.get("Authorization") == f"Bearer {p.token}" for r in srv.requests)
        # faults over: the next sync loads the stream
        assert p.sync(wh, p.stream, env, lines.append).status == "success"

    assert all(e.args[0].startswith(f"{p.name}: ") or p.name in str(e) for e in errors)
    texts = {
        "log lines": "\n".join(lines),
        "logging": caplog.text,
        "errors": "\n".join(f"{e}\n{e!r}\n{pickle.loads(pickle.dumps(e))}\n{e.body_excerpt}\n"
                            f"{e.provider_message}\n{e.url}" for e in errors),
        "warehouse tables": _warehouse_text(wh),
    }
    for what, text in texts.items():
        for piece in _pieces(p.token):
            assert piece not in text, (what, piece)
    assert "failed" in texts["warehouse tables"]  # sync_log kept the failures (redacted)
    files = [f for f in tmp_path.rglob("*") if f.is_file()]
    assert wh in files
    for f in files:
        for piece in _pieces(p.token):
            assert piece.encode() not in f.read_bytes(), (f, piece)


@pytest.mark.parametrize("name", list(PROVIDERS))
def test_timeouts_and_budget_are_read_from_the_environment_with_safe_defaults(name):
    """Unset: a hung provider fails in under two minutes (90 s budget, 30 s read timeout)."""
    p = PROVIDERS[name]
    prefix = {"shopify": "SHOPIFY", "recharge": "RECHARGE", "colorme": "COLORME"}[name]
    module = {"shopify": shopify, "recharge": recharge, "colorme": colorme}[name]
    settings_cls = {"shopify": shopify.ShopifySettings, "recharge": recharge.RechargeSettings,
                    "colorme": colorme.ColorMeSettings}[name]
    env = p.env(type("Srv", (), {"url": "http://127.0.0.1:9"})())
    for key in ("CONNECT_TIMEOUT", "READ_TIMEOUT", "RETRY_BUDGET"):
        env.pop(f"{prefix}_{key}", None)
    default = settings_cls.from_env(env)
    assert (default.connect_timeout, default.read_timeout, default.retry_budget) == (5, 30, 90)
    assert default.retry_budget < 120
    tuned = settings_cls.from_env({**env, f"{prefix}_CONNECT_TIMEOUT": "2", f"{prefix}_READ_TIMEOUT": "7",
                                   f"{prefix}_RETRY_BUDGET": "20"})
    assert (tuned.connect_timeout, tuned.read_timeout, tuned.retry_budget) == (2, 7, 20)
    with pytest.raises(ValueError, match=f"{prefix}_RETRY_BUDGET=0: a number of seconds above 0"):
        settings_cls.from_env({**env, f"{prefix}_RETRY_BUDGET": "0"})
    assert module.SOURCE.name == name


def test_the_old_shopify_timeout_variable_is_refused_not_ignored():
    env = shopify_env(type("Srv", (), {"url": "http://127.0.0.1:9"})(), SHOPIFY_TIMEOUT="60")
    with pytest.raises(ValueError, match="SHOPIFY_TIMEOUT is now SHOPIFY_READ_TIMEOUT"):
        shopify.ShopifySettings.from_env(env)
