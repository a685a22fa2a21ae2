"""Benchmark: the three cart API connectors against their local servers, with each provider's
documented rate limit enforced by the server (over the limit it answers 429 / THROTTLED), so
what is measured is the connector's own throttle.

    .venv/bin/python benchmarks/connectors.py [--only shopify recharge colorme]
        [--shopify-customers 450] [--recharge-customers 4500] [--colorme-customers 600]
        [--set COLORME_REQUESTS_PER_MINUTE=240 ...]   # extra connector settings, to experiment

Each connector syncs all its streams in order (as its Dagster multi-asset does) from an empty
warehouse against one server, one token: the rate-limit budget is shared by the streams, and
each stream starts a new client whose throttle knows nothing of the previous stream's usage.
The connectors run with their default settings (only the token and base URL are set), Shopify
on its paged path (``SHOPIFY_BULK=never``; the bulk backfill is not rate-bound). A stream whose
landed row count differs from the server's stops the script (the figures would mean nothing).

Limits enforced (the providers' documented figures; checked 2026-11-23):

- Shopify GraphQL Admin API: calculated query cost, 100 points/s restore on the Standard plan
  (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits); bucket 1000 points, the
  connector's default (that page gives no bucket size; a bigger one only lengthens the
  initial burst, which the bound below accounts for).
- Recharge API 2021-11: leaky bucket per token of 40 calls leaking 2 calls/s, 429 on overflow
  (https://docs.getrecharge.com/docs/api-rate-limits); ``limit`` up to 250 records per page
  (https://docs.getrecharge.com/docs/using-cursor-pagination-with-the-recharge-api).
- カラーミーショップ API v1: "API の呼び出し回数は 1 アクセストークンあたり 120 リクエスト/分 を
  目安" (https://shop-pro.jp/?mode=api_started, section APIの呼び出し制限; a guideline, not
  enforced today, no burst size given). Enforced here at its strictest reading: 2 requests/s,
  a leaky bucket holding 2 calls. ``limit`` up to 100 for sales and customers, 50 for products
  (current OpenAPI reference as GMO Pepabo's clients publish it:
  https://glama.ai/mcp/servers/pepabo/colormeshop-mcp/tools/getSales "limit(最大 100、デフォルト
  10)", github.com/pepabo/colormeshop-ruby docs/CustomerApi.md, ProductApi.md).

Printed per stream: records, requests (429 or THROTTLED answers in brackets), seconds, records/s,
the page size used against the largest allowed, and the stream's rate-limit bound in records/s
(requests/s allowed x largest page; Shopify: restore rate / points spent per record). Per
connector:

    bound s = (budget the records need - the initial bucket) / rate

the least time any client could take under the limit (after the first full bucket every unit
must leak first). Budget: the fewest requests that can carry the records (each stream's records
/ largest page, rounded up). Shopify: a query runs only once the bucket holds its requested cost
and is charged its actual cost, so bound s = the largest, over the queries made, of (actual cost
of the queries before it + its requested cost - bucket) / restore. ``bound rec/s`` = records /
bound s, ``ratio`` = bound s / elapsed (target >= 0.9). ``pacing`` uses the requests the
connector actually made instead of the fewest possible: it isolates the throttle and
per-request overhead from the page-size choice (for Shopify it equals ``ratio``). The servers
run in this process, on threads. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "connectors"))

from connectors.api_source import ApiSource  # noqa: E402
from connectors.colorme import SOURCE as COLORME  # noqa: E402
from connectors.recharge import SOURCE as RECHARGE  # noqa: E402
from connectors.shopify import SOURCE as SHOPIFY  # noqa: E402
from demo_merchant.generate import generate  # noqa: E402
from servers import demo_to_colorme, demo_to_recharge  # noqa: E402
from servers.colorme_server import MAX_LIMIT as COLORME_MAX_LIMIT  # noqa: E402
from servers.colorme_server import ColorMeServer  # noqa: E402
from servers.demo_to_shopify import read_demo, shopify_shop  # noqa: E402
from servers.recharge_server import RechargeServer  # noqa: E402
from servers.shopify_server import ShopifyServer  # noqa: E402

SHOPIFY_BUCKET, SHOPIFY_RESTORE = 1000.0, 100.0
RECHARGE_BUCKET, RECHARGE_LEAK, RECHARGE_MAX_LIMIT = 40, 2.0, 250
COLORME_BUCKET, COLORME_RATE = 2, 120 / 60

SHOPIFY_TOKEN = "shpat_benchmark_token_000000"
RECHARGE_TOKEN = "rc-benchmark-token-0000000000"
COLORME_TOKEN = "cm-benchmark-token-0000000000"


@dataclass
class StreamRun:
    stream: str
    records: int
    seconds: float
    ok: int = 0           # requests answered with data
    refused: int = 0      # 429 / THROTTLED
    page: int | None = None
    max_page: int | None = None
    points: float | None = None

    @property
    def min_requests(self) -> int:
        assert self.max_page
        return math.ceil(self.records / self.max_page)


@dataclass
class ConnectorRun:
    name: str
    limit: str
    streams: list[StreamRun] = field(default_factory=list)
    bound_s: float = 0.0      # least time the limit allows for these records
    pacing_s: float = 0.0     # least time the limit allows for the requests actually made

    @property
    def records(self) -> int:
        return sum(s.records for s in self.streams)

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.streams)


def _demo(customers: int, tmp: str) -> None:
    # as_of yesterday: every record's update time is in the past, so windowed syncs see it all
    as_of = (datetime.now(timezone.utc) - timedelta(days=1)).date()
    generate(Path(tmp), customers=customers, seed=42, as_of=as_of)


def _count(wh: Path, source: ApiSource, stream: str) -> int:
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.execute(f'SELECT count(*) FROM "{source.schema}"."{stream}"').fetchone()[0]


def _sync_all(source: ApiSource, env: dict[str, str], wh: Path, expected: dict[str, int],
              requests: Callable[[], tuple[int, int]],
              extra: Callable[[str], dict[str, Any]]) -> list[StreamRun]:
    runs = []
    for stream in source.streams:
        ok0, refused0 = requests()
        t0 = time.perf_counter()
        source.sync(wh, stream, env, lambda _m: None)
        elapsed = time.perf_counter() - t0
        ok1, refused1 = requests()
        landed = _count(wh, source, stream)
        if landed != expected[stream]:
            raise SystemExit(f"{source.name} {stream}: {landed} rows landed, the server has "
                             f"{expected[stream]}: the figures would mean nothing")
        runs.append(StreamRun(stream, landed, elapsed, ok1 - ok0, refused1 - refused0,
                              **extra(stream)))
    return runs


def bench_shopify(customers: int, settings: dict[str, str]) -> ConnectorRun:
    with tempfile.TemporaryDirectory() as tmp:
        _demo(customers, tmp)
        shop = shopify_shop(read_demo(tmp))
        with ShopifyServer(shop, token=SHOPIFY_TOKEN, bucket_max=SHOPIFY_BUCKET,
                           restore_rate=SHOPIFY_RESTORE) as srv:
            env = {"SHOPIFY_SHOP": "bench", "SHOPIFY_BASE_URL": srv.url,
                   "SHOPIFY_ACCESS_TOKEN": SHOPIFY_TOKEN, "SHOPIFY_BULK": "never", **settings}
            spent: dict[str, float] = {}

            def requests() -> tuple[int, int]:
                return srv.pages_served, srv.throttled

            def extra(stream: str) -> dict[str, Any]:
                before = sum(spent.values())
                spent[stream] = srv.points_spent - before
                return {"points": spent[stream]}

            expected = {s: len(shop[s]) for s in SHOPIFY.streams}
            runs = _sync_all(SHOPIFY, env, Path(tmp) / "w.duckdb", expected, requests, extra)
            costs = list(srv.costs)
    run = ConnectorRun("shopify", f"cost bucket {SHOPIFY_BUCKET:.0f} points, restore "
                                  f"{SHOPIFY_RESTORE:.0f} points/s", runs)
    # A query runs only once the bucket holds its *requested* cost, and is then charged its
    # actual cost: query i cannot start before (actual cost of queries before it + its requested
    # cost - bucket) / restore.
    spent, least = 0.0, 0.0
    for _op, requested, actual in costs:
        least = max(least, (spent + requested - SHOPIFY_BUCKET) / SHOPIFY_RESTORE)
        spent += actual
    run.bound_s = run.pacing_s = least
    return run


def bench_recharge(customers: int, settings: dict[str, str]) -> ConnectorRun:
    with tempfile.TemporaryDirectory() as tmp:
        _demo(customers, tmp)
        data = demo_to_recharge.convert(tmp)
        with RechargeServer(data, token=RECHARGE_TOKEN, bucket_size=RECHARGE_BUCKET,
                            leak_rate=RECHARGE_LEAK) as srv:
            env = {"RECHARGE_API_TOKEN": RECHARGE_TOKEN, "RECHARGE_BASE_URL": srv.url, **settings}

            def requests() -> tuple[int, int]:
                return sum(srv.page_requests.values()), srv.throttled

            def extra(stream: str) -> dict[str, Any]:
                limits = {int(r.params["limit"]) for r in srv.requests
                          if r.path == f"/{stream}" and r.status == 200}
                return {"page": max(limits), "max_page": RECHARGE_MAX_LIMIT}

            expected = {s: len(data[s]) for s in RECHARGE.streams}
            runs = _sync_all(RECHARGE, env, Path(tmp) / "w.duckdb", expected, requests, extra)
    run = ConnectorRun("recharge", f"leaky bucket {RECHARGE_BUCKET} calls, "
                                   f"{RECHARGE_LEAK:g} calls/s", runs)
    run.bound_s = max(sum(s.min_requests for s in runs) - RECHARGE_BUCKET, 0) / RECHARGE_LEAK
    run.pacing_s = max(sum(s.ok for s in runs) - RECHARGE_BUCKET, 0) / RECHARGE_LEAK
    return run


def bench_colorme(customers: int, settings: dict[str, str]) -> ConnectorRun:
    with tempfile.TemporaryDirectory() as tmp:
        _demo(customers, tmp)
        data = demo_to_colorme.convert(tmp)
        with ColorMeServer(data, token=COLORME_TOKEN, bucket_size=COLORME_BUCKET,
                           per_second=COLORME_RATE) as srv:
            env = {"COLORME_ACCESS_TOKEN": COLORME_TOKEN, "COLORME_BASE_URL": srv.url, **settings}

            def requests() -> tuple[int, int]:
                return sum(srv.page_requests.values()), srv.throttled

            def extra(stream: str) -> dict[str, Any]:
                limits = {int(r.params["limit"]) for r in srv.requests
                          if r.path == f"/v1/{stream}.json" and r.status == 200}
                return {"page": max(limits), "max_page": COLORME_MAX_LIMIT[stream]}

            expected = {s: len(data[s]) for s in COLORME.streams}
            runs = _sync_all(COLORME, env, Path(tmp) / "w.duckdb", expected, requests, extra)
    run = ConnectorRun("colorme", f"{COLORME_RATE * 60:.0f} requests/min held to "
                                  f"{COLORME_RATE:g}/s (bucket {COLORME_BUCKET})", runs)
    run.bound_s = max(sum(s.min_requests for s in runs) - COLORME_BUCKET, 0) / COLORME_RATE
    run.pacing_s = max(sum(s.ok for s in runs) - COLORME_BUCKET, 0) / COLORME_RATE
    return run


def _stream_bound(run: ConnectorRun, s: StreamRun) -> float:
    if s.points is not None:
        return SHOPIFY_RESTORE * s.records / s.points if s.points else math.inf
    rate = RECHARGE_LEAK if run.name == "recharge" else COLORME_RATE
    assert s.max_page
    return rate * s.max_page


def report(run: ConnectorRun) -> None:
    print(f"\n{run.name}: {run.limit}")
    print(f"  {'stream':<14} {'records':>8} {'requests':>12} {'seconds':>8} {'rec/s':>7} "
          f"{'page/max':>9} {'bound rec/s':>11}")
    for s in run.streams:
        req = f"{s.ok}" + (f" [{s.refused}]" if s.refused else "")
        page = (f"{s.page}/{s.max_page}" if s.page else f"{s.points:.0f} pt")
        print(f"  {s.stream:<14} {s.records:>8} {req:>12} {s.seconds:>8.1f} "
              f"{s.records / s.seconds:>7.0f} {page:>9} {_stream_bound(run, s):>11.0f}")
    n, t = run.records, run.seconds
    bound_rate = f"{n / run.bound_s:.0f}" if run.bound_s else "-"
    print(f"  {'all':<14} {n:>8} {'':>12} {t:>8.1f} {n / t:>7.0f}   bound {run.bound_s:.1f} s "
          f"= {bound_rate} rec/s   ratio {run.bound_s / t:.2f}   pacing {run.pacing_s / t:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="+", choices=["shopify", "recharge", "colorme"],
                    default=["shopify", "recharge", "colorme"])
    # sized so each connector spends well over one bucket (about 30 s each on this machine)
    ap.add_argument("--shopify-customers", type=int, default=450)
    ap.add_argument("--recharge-customers", type=int, default=4500)
    ap.add_argument("--colorme-customers", type=int, default=600)
    ap.add_argument("--set", nargs="+", default=[], metavar="NAME=VALUE",
                    help="extra connector environment variables (defaults otherwise)")
    args = ap.parse_args()
    settings = dict(item.split("=", 1) for item in args.set)
    if settings:
        print(f"connector settings changed from their defaults: {settings}")
    benches = {"shopify": (bench_shopify, args.shopify_customers),
               "recharge": (bench_recharge, args.recharge_customers),
               "colorme": (bench_colorme, args.colorme_customers)}
    t0 = time.perf_counter()
    for name in args.only:
        fn, customers = benches[name]
        print(f"\n== {name}: demo merchant with {customers} customers")
        report(fn(customers, settings))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
