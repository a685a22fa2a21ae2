"""Fixtures for the connector tests (helpers live in connector_fixtures.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from servers import demo_to_colorme, demo_to_recharge
from servers.colorme_server import ColorMeServer
from servers.demo_to_shopify import read_demo, shopify_shop
from servers.recharge_server import RechargeServer

from demo_merchant.generate import generate


@pytest.fixture
def wh(tmp_path: Path) -> Path:
    """Path of a fresh DuckDB warehouse file."""
    return tmp_path / "warehouse.duckdb"


@pytest.fixture
def export_dir(tmp_path: Path) -> Path:
    d = tmp_path / "exports"
    d.mkdir()
    return d


@pytest.fixture(scope="session")
def demo_exports(tmp_path_factory) -> Path:
    """The demo merchant's cart exports the API-provider tests serve (60 customers, seed 3),
    generated once; the converters read them, nothing writes there."""
    out = tmp_path_factory.mktemp("api_demo")
    generate(out, customers=60, seed=3, as_of=date(2026, 11, 23))
    return out


@pytest.fixture(scope="session")
def colorme_data(demo_exports) -> dict:
    """The demo shop as カラーミー API records (the servers copy what they are given)."""
    data = demo_to_colorme.convert(demo_exports)
    assert len(data["sales"]) > 100 and any(s["canceled"] for s in data["sales"])
    assert all(s["details"] for s in data["sales"])
    return data


@pytest.fixture(scope="session")
def recharge_data(demo_exports) -> dict:
    """The demo shop as Recharge 2021-11 records."""
    data = demo_to_recharge.convert(demo_exports)
    assert len(data["charges"]) > 100 and any(c["status"] == "error" for c in data["charges"])
    assert any(s["status"] == "cancelled" for s in data["subscriptions"])
    return data


@pytest.fixture(scope="session")
def shop(demo_exports) -> dict:
    """The demo shop as Shopify GraphQL nodes (deep-copy before handing it to a server)."""
    return shopify_shop(read_demo(demo_exports))


@pytest.fixture
def colorme(colorme_data):
    """A カラーミー server on the demo shop, request limit out of the way."""
    with ColorMeServer(colorme_data, per_second=1e6) as srv:
        yield srv


@pytest.fixture
def recharge(recharge_data):
    """A Recharge server on the demo shop, leaky bucket out of the way."""
    with RechargeServer(recharge_data, leak_rate=10_000) as srv:
        yield srv
