"""Kill a paged sync with SIGKILL while the provider's server holds the next page, change the
source while the sync is down, resume: the warehouse holds exactly what was committed before the
kill, and ends equal to the source. One test over the API providers (カラーミー, Recharge,
Shopify's paged GraphQL sync); each provider says how its sync is started and what it commits.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import textwrap
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from connector_fixtures import (
    SHOPIFY_TOKEN,
    assert_shopify_equals_source,
    query,
    raw_records,
    shopify_env,
    shopify_raw,
    shopify_sync_log,
    source_records,
)
from servers import colorme_server, recharge_server
from servers.colorme_server import ColorMeServer
from servers.recharge_server import RechargeServer
from servers.shopify_server import ShopifyServer

from connectors.testing.http_base import Gate

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str, tmp_path: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


class ColorMe:
    """Sales, 10 a page, offset paging newest first: a page after the first overlaps by one."""

    data_fixture = "colorme_data"
    child = textwrap.dedent("""
        import sys
        sys.path.insert(0, {root!r})
        from connectors.colorme import ColorMeSettings, sync
        st = ColorMeSettings(token={token!r}, base_url={url!r}, page_size=10,
                             requests_per_minute=1e7)
        sync({wh!r}, "sales", st)
    """)

    def __init__(self, data: dict) -> None:
        self.data = data

    def server(self) -> AbstractContextManager:
        return ColorMeServer(self.data, per_second=1e6)

    def gate(self, srv: ColorMeServer, page: int) -> Gate:
        return srv.gate("sales", page)

    def start(self, srv: ColorMeServer, wh: Path, tmp_path: Path) -> subprocess.Popen:
        return _python(self.child.format(root=str(ROOT), token=colorme_server.TOKEN, url=srv.url,
                                         wh=str(wh)), tmp_path)

    def settings(self, srv: ColorMeServer):
        from connectors.colorme import ColorMeSettings

        return ColorMeSettings(token=colorme_server.TOKEN, base_url=srv.url, page_size=10,
                               requests_per_minute=1e7, max_retries=4)

    def after_kill(self, srv: ColorMeServer, wh: Path, pages: int) -> None:
        # committed: exactly the pages served (10, then 9 new per overlapping page)
        assert query(wh, "SELECT count(*) FROM raw_colorme.sales")[0][0] == 10 + 9 * (pages - 1)
        (cursor, state, status) = query(
            wh, "SELECT s.cursor_value, CAST(s.state AS VARCHAR), l.status "
                "FROM raw_meta.sync_state s JOIN raw_meta.sync_log l USING (sync_id)")[0]
        assert cursor is None and status == "running"  # the window is not finished
        assert json.loads(state)["window"]["offset"] == 10 + 9 * (pages - 1)

    def resume(self, srv: ColorMeServer, wh: Path) -> None:
        from connectors.colorme import sync

        # while it is down, the shop changes: a sale is cancelled, one is added
        srv.cancel_sale(srv.records("sales")[0]["id"])
        srv.touch("sales", 88_888, make_date=1_790_000_000, canceled=False, details=[],
                  customer=None, total_price=500)
        result = sync(wh, "sales", self.settings(srv))
        assert result.status == "success"
        # changes made after the killed sync's window started belong to the next window
        sync(wh, "sales", self.settings(srv))
        assert raw_records(wh, "sales", schema="raw_colorme") == source_records(srv, "sales")
        assert query(wh, "SELECT count(*) FROM raw_colorme.sales")[0][0] == len(self.data["sales"]) + 1


class Recharge:
    """Charges, 10 a page, keyset cursors: the cursor covers exactly the committed pages."""

    data_fixture = "recharge_data"
    child = textwrap.dedent("""
        import sys
        sys.path.insert(0, {root!r})
        from connectors.recharge import RechargeSettings, sync
        st = RechargeSettings(token={token!r}, base_url={url!r}, page_size=10,
                              leak_per_second=10000)
        sync({wh!r}, "charges", st)
    """)

    def __init__(self, data: dict) -> None:
        self.data = data

    def server(self) -> AbstractContextManager:
        return RechargeServer(self.data, leak_rate=10_000)

    def gate(self, srv: RechargeServer, page: int) -> Gate:
        return srv.gate("charges", page)

    def start(self, srv: RechargeServer, wh: Path, tmp_path: Path) -> subprocess.Popen:
        return _python(self.child.format(root=str(ROOT), token=recharge_server.TOKEN, url=srv.url,
                                         wh=str(wh)), tmp_path)

    def after_kill(self, srv: RechargeServer, wh: Path, pages: int) -> None:
        # exactly the committed pages are there, and the cursor covers only them
        assert query(wh, "SELECT count(*) FROM raw_recharge.charges")[0][0] == pages * 10
        (cursor, status) = query(
            wh, "SELECT s.cursor_value, l.status FROM raw_meta.sync_state s "
                "JOIN raw_meta.sync_log l USING (sync_id)")[0]
        assert status == "running"
        assert cursor == query(
            wh, "SELECT CAST(max(updated_at) AS VARCHAR) FROM raw_recharge.charges")[0][0]

    def resume(self, srv: RechargeServer, wh: Path) -> None:
        from connectors.recharge import RechargeSettings, sync

        # the source changes while the sync is down: an old committed record is updated,
        # one is deleted, a new one arrives
        old = srv.records("charges")[0]
        srv.touch("charges", old["id"], status="refunded")
        srv.delete("charges", srv.records("charges")[5]["id"])
        srv.upsert("charges", dict(old, id=799_000_001))

        st = RechargeSettings(token=recharge_server.TOKEN, base_url=srv.url, page_size=10,
                              leak_per_second=10_000, max_retries=4,
                              reconcile_every=timedelta(0))
        result = sync(wh, "charges", st)
        assert result.status == "success"
        assert raw_records(wh, "charges", schema="raw_recharge") == source_records(srv, "charges")
        assert query(wh, "SELECT count(*) FROM raw_recharge.charges")[0][0] == len(
            {c["id"] for c in self.data["charges"]} | {799_000_001})


class Shopify:
    """Orders, 8 a page over GraphQL cursors (no bulk), through the connector's CLI."""

    data_fixture = "shop"

    def __init__(self, data: dict) -> None:
        self.data = data
        self.env: dict[str, str] = {}

    def server(self) -> AbstractContextManager:
        return ShopifyServer(copy.deepcopy(self.data), token=SHOPIFY_TOKEN, bucket_max=1000,
                             restore_rate=2000)

    def gate(self, srv: ShopifyServer, page: int) -> Gate:
        return srv.gate("Orders", page)

    def start(self, srv: ShopifyServer, wh: Path, tmp_path: Path) -> subprocess.Popen:
        self.env = shopify_env(srv, SHOPIFY_BULK="never", SHOPIFY_PAGE_SIZE="8",
                               SHOPIFY_LOOKBACK_MINUTES="1")
        return subprocess.Popen(
            [sys.executable, "-m", "connectors.shopify", "--warehouse", str(wh),
             "--stream", "orders"],
            cwd=ROOT, env={**os.environ, **self.env}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)

    def after_kill(self, srv: ShopifyServer, wh: Path, pages: int) -> None:
        # exactly the pages committed before the kill
        assert len(shopify_raw(wh, "orders")) == 8 * pages

    def resume(self, srv: ShopifyServer, wh: Path) -> None:
        from connectors.shopify import sync_stream

        # the source moves on while the sync is down: an already-loaded order changes, one is
        # cancelled
        committed = shopify_raw(wh, "orders")
        first_loaded = sorted(committed)[0]
        srv.touch("orders", f"gid://shopify/Order/{first_loaded}", tags=["変更"])
        srv.cancel_order(f"gid://shopify/Order/{sorted(committed)[-1]}")
        sync_stream(wh, "orders", self.env, lambda m: None)
        assert_shopify_equals_source(wh, srv, "orders")
        assert [s for _, s, _ in shopify_sync_log(wh)] == ["running", "success"]


PROVIDERS: dict[str, Any] = {"colorme": ColorMe, "recharge": Recharge, "shopify": Shopify}


@pytest.mark.parametrize("pages", [1, 3, 7])
@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_kill_and_resume_ends_equal_to_source(provider, pages, request, tmp_path):
    case = PROVIDERS[provider](request.getfixturevalue(PROVIDERS[provider].data_fixture))
    wh = tmp_path / "w.duckdb"
    with case.server() as srv:
        gate = case.gate(srv, pages + 1)
        child = case.start(srv, wh, tmp_path)
        try:
            assert gate.reached.wait(30), child.communicate(timeout=5)
            os.kill(child.pid, signal.SIGKILL)  # while it waits for page pages+1
            child.wait(10)
        finally:
            gate.open()
            if child.poll() is None:
                child.kill()
        assert child.returncode == -signal.SIGKILL
        case.after_kill(srv, wh, pages)
        case.resume(srv, wh)
