"""What the REST list-API connectors (カラーミー, Recharge) must do alike, against their local
servers: give up cleanly when retries run out, refuse an answer of the wrong shape, and be found
by orchestration and sync on its open connection. Provider-specific behaviour stays in
test_colorme.py / test_recharge.py; kill-and-resume is in test_kill_and_resume.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import duckdb
import pytest
from connector_fixtures import (
    Sleeps,
    colorme_settings,
    query,
    raw_records,
    recharge_settings,
    source_records,
)
from servers import colorme_server, recharge_server

from connectors import colorme, recharge
from connectors.http import HttpError, ResponseFormatError


@dataclass(frozen=True)
class Provider:
    name: str
    schema: str
    streams: tuple[str, ...]
    settings: Callable[..., Any]
    sync: Callable[..., Any]
    exhausted: tuple[str, int]   # a stream and the 5xx that keeps coming back
    wrong_shape: str             # the stream whose answer comes in another shape
    env: Callable[[Any], dict[str, str]]


PROVIDERS = {
    "colorme": Provider(
        "colorme", "raw_colorme", ("sales", "customers", "products"), colorme_settings,
        colorme.sync, ("products", 502), "products",
        lambda srv: {"COLORME_ACCESS_TOKEN": colorme_server.TOKEN, "COLORME_BASE_URL": srv.url,
                     "COLORME_REQUESTS_PER_MINUTE": "1000000"}),
    "recharge": Provider(
        "recharge", "raw_recharge", ("customers", "subscriptions", "charges"), recharge_settings,
        recharge.sync, ("customers", 500), "customers",
        lambda srv: {"RECHARGE_API_TOKEN": recharge_server.TOKEN, "RECHARGE_BASE_URL": srv.url,
                     "RECHARGE_PAGE_SIZE": "50", "RECHARGE_LEAK_RATE": "10000"}),
}


@pytest.fixture(params=list(PROVIDERS))
def provider(request) -> tuple[Provider, Any]:
    """(the provider, its server on the demo shop)."""
    return PROVIDERS[request.param], request.getfixturevalue(request.param)


def test_retries_exhausted_fail_cleanly(provider, tmp_path):
    p, server = provider
    wh = tmp_path / "w.duckdb"
    stream, status = p.exhausted
    server.fail(status, times=10, on=stream)
    with pytest.raises(HttpError) as info:
        p.sync(wh, stream, p.settings(server, max_retries=2), sleep=Sleeps())
    assert info.value.status == status
    assert query(wh, "SELECT status FROM raw_meta.sync_log") == [("failed",)]
    assert query(wh, "SELECT count(*) FROM raw_meta.sync_state") == [(0,)]


def test_wrong_shape_is_a_format_error(provider, tmp_path):
    p, server = provider
    server.fail("wrong_shape", on=p.wrong_shape)
    with pytest.raises(ResponseFormatError, match=f"no '{p.wrong_shape}' list"):
        p.sync(tmp_path / "w.duckdb", p.wrong_shape, p.settings(server))


def test_source_is_discovered_and_syncs_on_an_open_connection(provider, tmp_path):
    """What orchestration does: configured_sources(env), then sync on its open connection."""
    from connectors.api_source import configured_sources

    p, server = provider
    env = p.env(server)
    (source,) = [s for s in configured_sources(env) if s.name == p.name]
    assert source.streams == p.streams and source.schema == p.schema
    assert not [s for s in configured_sources({}) if s.name == p.name]
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        for stream in p.streams:
            assert source.sync(con, stream, env, lambda _line: None).status == "success"
    finally:
        con.close()
    for stream in p.streams:
        assert raw_records(tmp_path / "w.duckdb", stream, schema=p.schema) == source_records(
            server, stream)
