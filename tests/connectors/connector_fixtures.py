"""Helpers for the connector tests: write small cart exports, read the warehouse back, count
the sleeps of a retrying client.

A plain module imported by the tests, so that its name cannot clash with
other test folders' conftest modules.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Callable

import duckdb

CUSTOMER_HEADER = [
    "顧客ID", "姓", "名", "メールアドレス", "電話番号", "都道府県", "生年月日",
    "メルマガ配信", "LINE友だち", "登録日時", "更新日時",
]

CUSTOMERS = [
    ["C001", "山田", "花子", "hanako@example.com", "090-1111-2222", "東京都", "1985/4/1",
     "希望する", "登録", "2026/01/05 10:00:00", "2026/11/23 14:05:09"],
    ["C002", "佐藤", "太郎", "taro@example.com", "03-1234-5678", "大阪府", "",
     "希望しない", "", "2026-02-01 09:30", "2026-11-22 23:59"],
    ["C003", "鈴木", "一郎", "ichiro@example.com", "011-000-0000", "北海道", "1990-12-31",
     "希望する", "未登録", "2026/03/01 00:00:00", "2026/11/20 08:00:00"],
]

ORDER_HEADER = [
    "受注番号", "顧客ID", "受注日時", "定期受注番号", "定期回数", "受注ステータス", "支払方法",
    "商品合計", "送料", "値引額", "合計金額", "発送日", "更新日時",
]

ORDERS = [
    ["O-1001", "C001", "2026/11/01 09:00:00", "S-01", "1", "発送済み", "クレジットカード",
     "3,980", "￥550", "-500", "\\4,030", "2026/11/02", "2026/11/02 10:00:00"],
    ["O-1002", "C002", "2026/11/03 23:30:00", "", "", "発送待ち", "後払い",
     "1980", "0", "", "1,980", "", "2026/11/03 23:30:00"],
]

SUBSCRIPTION_HEADER = [
    "定期受注番号", "顧客ID", "商品コード", "数量", "お届け周期(日)", "ステータス", "申込日時",
    "解約日時", "解約理由", "次回お届け予定日", "定期回数", "スキップ回数", "更新日時",
]

SUBSCRIPTIONS = [
    ["S-01", "C001", "P-SERUM", "1", "30", "継続中", "2026/11/01 09:00:00", "", "",
     "2026/12/01", "1", "0", "2026/11/02 10:00:00"],
    ["S-02", "C002", "P-CREAM", "2", "60", "解約済み", "2026/06/01 12:00:00",
     "2026/10/15 18:30:00", "使い切れない", "", "3", "1", "2026/10/15 18:30:00"],
]


def csv_text(header: list[str], rows: list[list[str]], newline: str = "\r\n") -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def write_csv(
    path: Path,
    header: list[str],
    rows: list[list[str]],
    *,
    encoding: str = "cp932",
    newline: str = "\r\n",
) -> Path:
    """Write a cart export as carts do: cp932 and CRLF unless told otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_text(header, rows, newline).encode(encoding))
    return path


def query(db: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def query_dicts(db: Path, sql: str) -> list[dict[str, Any]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]
    finally:
        con.close()


def snapshot(db: Path) -> dict[str, Any]:
    """Everything a failed or skipped load must leave untouched: every raw table and
    sync_state (sync_log excluded: it gains a row)."""
    if not db.exists():
        return {}
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema LIKE 'raw_%' AND NOT (table_schema = 'raw_meta' "
            "AND table_name = 'sync_log') ORDER BY 1, 2"
        ).fetchall()
        out: dict[str, Any] = {}
        for schema, table in tables:
            out[f"{schema}.{table}"] = sorted(
                con.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall(), key=repr
            )
        return out
    finally:
        con.close()


def sync_log(db: Path) -> list[dict[str, Any]]:
    return query_dicts(db, "SELECT * FROM raw_meta.sync_log ORDER BY started_at, sync_id")


def raw_records(db: Path, stream: str, *, schema: str, deleted: bool = False) -> dict[int, dict]:
    """id -> record of an API source's raw table (the live rows, or the deleted ones)."""
    rows = query(db, f"SELECT id, CAST(_record AS VARCHAR) FROM {schema}.{stream} "
                     f"WHERE deleted_at IS {'NOT ' if deleted else ''}NULL")
    return {rid: json.loads(rec) for rid, rec in rows}


def source_records(server: Any, stream: str) -> dict[int, dict]:
    """id -> record as a local list-API server (Recharge, カラーミー) holds it now."""
    return {r["id"]: r for r in server.records(stream)}


class Sleeps(list):
    """A ``sleep`` that records the seconds asked for instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


# -- Shopify (GraphQL nodes keyed by gid; the server's snapshot is numeric id -> node) ----------

SHOPIFY_TOKEN = "shpat_test_token_0123456789"


def shopify_env(server: Any, **extra: str) -> dict[str, str]:
    env = {"SHOPIFY_SHOP": "demo-shop", "SHOPIFY_BASE_URL": server.url,
           "SHOPIFY_ACCESS_TOKEN": SHOPIFY_TOKEN, "SHOPIFY_BULK_POLL_SECONDS": "0.01",
           "SHOPIFY_BACKOFF_BASE": "0.01", "SHOPIFY_MAX_RETRIES": "4"}
    env.update(extra)
    return env


def shopify_raw(db: Path, stream: str) -> dict[int, dict]:
    rows = query(db, f"SELECT id, CAST(_record AS VARCHAR), deleted_at, updated_at "
                     f"FROM raw_shopify.{stream}")
    assert len(rows) == len({r[0] for r in rows})
    return {r[0]: {"record": json.loads(r[1]), "deleted_at": r[2], "updated_at": r[3]} for r in rows}


def assert_shopify_equals_source(db: Path, server: Any, stream: str) -> None:
    got = shopify_raw(db, stream)
    live = {i: r["record"] for i, r in got.items() if r["deleted_at"] is None}
    expected = server.snapshot(stream)
    assert sorted(live) == sorted(expected), f"{stream}: ids differ"
    for i, node in expected.items():
        assert live[i] == node, f"{stream} {i} differs"


def shopify_sync_log(db: Path) -> list[tuple]:
    return query(db, "SELECT stream, status, error FROM raw_meta.sync_log ORDER BY started_at")


# -- the REST list-API providers (カラーミー, Recharge): settings for a local server ---------------

def colorme_settings(srv: Any, **kw: Any):
    from connectors.colorme import ColorMeSettings
    from servers.colorme_server import TOKEN

    return ColorMeSettings(**{"token": TOKEN, "base_url": srv.url, "page_size": 20,
                              "requests_per_minute": 1e7, "max_retries": 4, **kw})


def recharge_settings(srv: Any, **kw: Any):
    from connectors.recharge import RechargeSettings
    from servers.recharge_server import TOKEN

    return RechargeSettings(**{"token": TOKEN, "base_url": srv.url, "page_size": 25,
                               "leak_per_second": 10_000, "max_retries": 4, **kw})


def full_sync(sync: Callable[..., Any], db: Path, streams: tuple[str, ...],
              settings: Callable[[Any], Any], server: Any, *, schema: str,
              token: str) -> dict[str, Any]:
    """Sync every stream of a list-API provider once: each succeeds and its raw table ends
    equal to the server's records, and no log line shows the token. The results by stream."""
    lines: list[str] = []
    results = {}
    for stream in streams:
        result = sync(db, stream, settings(server), log=lines.append)
        assert result.status == "success"
        assert raw_records(db, stream, schema=schema) == source_records(server, stream)
        results[stream] = result
    assert all(token not in line for line in lines)
    return results
