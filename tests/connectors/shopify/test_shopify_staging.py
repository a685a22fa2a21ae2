"""The same demo merchant through the CSV path and the Shopify API path gives the same staging
rows (stg_csv__* vs stg_shopify__*), built by dbt from the real raw tables."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest
from servers.demo_to_shopify import read_demo, shopify_shop
from servers.shopify_server import ShopifyServer

from connectors.csv_export import load_export_dir
from connectors.shopify import SOURCE, sync_stream
from demo_merchant.generate import generate

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "shpat_staging_token_0123456789"
ENTITIES = ("customers", "orders", "order_lines", "products")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("staging")
    exports = tmp / "exports"
    generate(exports, customers=80, seed=11, as_of=date(2026, 11, 23))
    db = tmp / "w.duckdb"
    load_export_dir(db, exports, "demo_merchant")
    with ShopifyServer(copy.deepcopy(shopify_shop(read_demo(exports))), token=TOKEN,
                       restore_rate=5000) as server:
        env = {"SHOPIFY_SHOP": "demo", "SHOPIFY_ACCESS_TOKEN": TOKEN,
               "SHOPIFY_BASE_URL": server.url, "SHOPIFY_BULK_POLL_SECONDS": "0.01"}
        for stream in SOURCE.streams:
            sync_stream(db, stream, env, lambda m: None)
    dbt = Path(sys.executable).parent / "dbt"
    # one dbt invocation: the label_codes seed (label_code() reads it), then the staging views
    run = subprocess.run(
        [str(dbt), "build", "--profiles-dir", ".", "--target-path", str(tmp / "target"),
         "--log-path", str(tmp / "logs"),
         "--resource-type", "seed", "--resource-type", "model",
         "-s", "label_codes", "path:models/staging/shopify", "path:models/staging/csv"],
        cwd=ROOT / "dbt_project", env={**os.environ, "TEIKI_WAREHOUSE": str(db), "TEIKI_SOURCES": "csv,shopify"},
        capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout[-3000:]
    return db


def q(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def columns(db: Path, view: str) -> list[str]:
    return [r[0] for r in q(db, f"select column_name from duckdb_columns() where table_name = '{view}' "
                                f"order by column_index")]


@pytest.mark.parametrize("entity", ENTITIES)
def test_shopify_staging_has_every_canonical_column(warehouse, entity):
    csv_cols = columns(warehouse, f"stg_csv__{entity}")
    shopify_cols = columns(warehouse, f"stg_shopify__{entity}")
    assert csv_cols and [c for c in csv_cols if c not in shopify_cols] == []
    # same types for the shared columns
    types = lambda v: dict(q(warehouse, f"select column_name, data_type from duckdb_columns() "  # noqa: E731
                                         f"where table_name = '{v}'"))
    ct, st = types(f"stg_csv__{entity}"), types(f"stg_shopify__{entity}")
    assert {c: ct[c] for c in csv_cols} == {c: st[c] for c in csv_cols}


def test_same_customers(warehouse):
    sql = ("select email, prefecture, email_opt_in, created_at, updated_at "
           "from staging.stg_{s}__customers order by email")
    assert q(warehouse, sql.format(s="csv")) == q(warehouse, sql.format(s="shopify"))


def test_same_orders(warehouse):
    sql = ("select cast(regexp_extract(order_id, '(\\d+)$', 1) as int), "
           "cast(regexp_extract(customer_id, '(\\d+)$', 1) as int), ordered_at, status, "
           "payment_method, subtotal, shipping_fee, discount, total, updated_at "
           "from staging.stg_{s}__orders order by 1")
    csv_rows, shopify_rows = q(warehouse, sql.format(s="csv")), q(warehouse, sql.format(s="shopify"))
    assert len(csv_rows) > 100 and csv_rows == shopify_rows
    assert {r[3] for r in shopify_rows} >= {"shipped", "cancelled"}


def test_same_order_lines_and_subscription_flag(warehouse):
    sql = ("select cast(regexp_extract(order_id, '(\\d+)$', 1) as int), line_number, product_id, "
           "quantity, unit_price, discount, line_total from staging.stg_{s}__order_lines order by 1, 2")
    assert q(warehouse, sql.format(s="csv")) == q(warehouse, sql.format(s="shopify"))
    # a line on a selling plan <=> the CSV order belongs to a 定期契約
    mismatched = q(warehouse, """
        select count(*) from staging.stg_shopify__order_lines l
        join staging.stg_csv__orders o
          on cast(regexp_extract(o.order_id, '(\\d+)$', 1) as int) = cast(l.order_id as int)
        where (l.selling_plan_id is not null) <> (o.subscription_id is not null)""")
    assert mismatched == [(0,)]


def test_same_products(warehouse):
    sql = ("select product_id, product_name, category, price, is_subscription, cycle_days, "
           "created_at from staging.stg_{s}__products order by product_id")
    assert q(warehouse, sql.format(s="csv")) == q(warehouse, sql.format(s="shopify"))
