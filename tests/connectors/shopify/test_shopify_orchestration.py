"""Shopify as Dagster assets: present only when configured, materialized against the local server."""

from __future__ import annotations

import copy
import json
from datetime import date

import dagster as dg
from servers.demo_to_shopify import read_demo, shopify_shop
from servers.shopify_server import ShopifyServer

from demo_merchant.generate import generate
from orchestration.ingestion.api_sources import (
    build_api_source_assets,
    configured_api_source_names,
)
from orchestration.resources import WarehouseResource
from orchestration.settings import load_settings

TOKEN = "shpat_orchestration_secret_987654321"


def test_unconfigured_sources_add_no_assets(tmp_path):
    settings = load_settings({"TEIKI_DATA_DIR": str(tmp_path)})
    assert build_api_source_assets(settings, env={}) == []
    assert configured_api_source_names({}) == []


def test_configured_shopify_materializes_its_raw_tables(tmp_path):
    out = tmp_path / "demo"
    generate(out, customers=30, seed=5, as_of=date(2026, 11, 23))
    shop = shopify_shop(read_demo(out))
    with ShopifyServer(copy.deepcopy(shop), token=TOKEN, restore_rate=2000) as server:
        env = {"SHOPIFY_SHOP": "demo", "SHOPIFY_ACCESS_TOKEN": TOKEN,
               "SHOPIFY_BASE_URL": server.url, "SHOPIFY_BULK_POLL_SECONDS": "0.01"}
        settings = load_settings({"TEIKI_DATA_DIR": str(tmp_path)})
        assets = build_api_source_assets(settings, env=env)
        assert [a.node_def.name for a in assets] == ["raw_shopify_tables"]
        keys = {k.to_user_string() for a in assets for k in a.keys}
        assert keys == {"raw_shopify/customers", "raw_shopify/orders", "raw_shopify/products"}
        result = dg.materialize(
            assets, resources={"warehouse": WarehouseResource(path=str(tmp_path / "w.duckdb"))})
        assert result.success
        mats = {m.asset_key.to_user_string(): m.metadata
                for m in result.asset_materializations_for_node("raw_shopify_tables")}
        assert mats["raw_shopify/customers"]["dagster/row_count"].value == 30
        assert mats["raw_shopify/orders"]["dagster/row_count"].value == len(shop["orders"])
        assert TOKEN not in json.dumps({k: str(v) for k, v in mats.items()})


def test_a_failed_run_leaves_the_token_in_no_run_storage(tmp_path):
    """A gateway that quotes the request back (credential included) fails the materialization;
    the error Dagster stores (event log, run storage, compute logs: every file of the instance's
    folder) and the warehouse carry the token nowhere, not even a piece of it."""
    out = tmp_path / "demo"
    generate(out, customers=10, seed=5, as_of=date(2026, 11, 23))
    home = tmp_path / "dagster_home"
    home.mkdir()
    with ShopifyServer(copy.deepcopy(shopify_shop(read_demo(out))), token=TOKEN, restore_rate=2000) as server:
        server.fail("echo", status=500, times=1000)
        env = {"SHOPIFY_SHOP": "demo", "SHOPIFY_ACCESS_TOKEN": TOKEN, "SHOPIFY_BASE_URL": server.url,
               "SHOPIFY_BULK_POLL_SECONDS": "0.01", "SHOPIFY_RETRY_BUDGET": "2"}
        assets = build_api_source_assets(load_settings({"TEIKI_DATA_DIR": str(tmp_path)}), env=env)
        with dg.DagsterInstance.local_temp(str(home)) as instance:
            result = dg.materialize(
                assets, instance=instance, raise_on_error=False,
                resources={"warehouse": WarehouseResource(path=str(tmp_path / "w.duckdb"))})
        assert any(r.headers.get("X-Shopify-Access-Token") == TOKEN for r in server.requests)
    assert not result.success
    failure = result.failure_data_for_node("raw_shopify_tables")
    assert failure is not None and "***" in str(failure.error)   # the echoed token was scrubbed
    files = [f for f in tmp_path.rglob("*") if f.is_file()]
    assert any(f.is_relative_to(home) for f in files)             # the run storage was written
    pieces = [TOKEN, TOKEN[:len(TOKEN) * 3 // 5], TOKEN[-(len(TOKEN) * 3 // 5):]]
    for f in files:
        data = f.read_bytes()
        for piece in pieces:
            assert piece.encode() not in data, (f, piece)

