"""Benchmark: API connectors against their local servers with the providers' real rate limits.

    .venv/bin/python benchmarks/connectors.py [--customers 1000] [--restore-rate 100]
                                              [--bucket 1000] [--streams customers orders]

Shopify (GraphQL Admin API, paged path): the local server enforces the calculated-query-cost
leaky bucket (default 1000 points, 100 points/s = the Standard plan's restore rate in 2026). For
each stream it prints records/s and the ratio to the rate-limit bound:

    bound time = (points spent − bucket) / restore rate

(no client can go faster: beyond the initial full bucket every point must be restored first), so
a ratio of 1.0 means the connector spent the budget as fast as the bucket allows. A stream whose
cost fits in about two buckets is burst-dominated: its ratio is not printed (use more customers).
Target: >= 0.9. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "connectors"))

from connectors.shopify import ShopifyConfig, sync_stream  # noqa: E402
from demo_merchant.generate import generate  # noqa: E402
from servers.demo_to_api import read_demo, shopify_shop  # noqa: E402
from servers.shopify_server import ShopifyServer  # noqa: E402

TOKEN = "shpat_benchmark_token_000000"


def bench_shopify(shop: dict, streams: list[str], bucket: float, restore: float) -> None:
    print(f"shopify: bucket {bucket:.0f} points, restore {restore:.0f} points/s, paged sync")
    print(f"{'stream':<10} {'records':>8} {'seconds':>8} {'rec/s':>8} {'points':>8} "
          f"{'bound s':>8} {'bound rec/s':>11} {'ratio':>6}")
    for stream in streams:
        with tempfile.TemporaryDirectory() as tmp, \
                ShopifyServer(shop, token=TOKEN, bucket_max=bucket, restore_rate=restore) as srv:
            env = {"SHOPIFY_SHOP": "bench", "SHOPIFY_BASE_URL": srv.url,
                   "SHOPIFY_ACCESS_TOKEN": TOKEN, "SHOPIFY_BULK": "never"}
            cfg = ShopifyConfig.from_env(env)
            t0 = time.perf_counter()
            result = sync_stream(Path(tmp) / "w.duckdb", stream, env, lambda m: None, config=cfg)
            elapsed = time.perf_counter() - t0
            points = srv.points_spent
            bound = max(points - bucket, 0.0) / restore
            n = result.rows_read
            bound_rate = f"{n / bound:>11.0f}" if bound > 0 else f"{'-':>11}"
            ratio = f"{bound / elapsed:>6.2f}" if points > 2 * bucket else f"{'burst':>6}"
            print(f"{stream:<10} {n:>8} {elapsed:>8.1f} {n / elapsed:>8.0f} {points:>8.0f} "
                  f"{bound:>8.1f} {bound_rate} {ratio}"
                  + (f"  (THROTTLED {srv.throttled}x)" if srv.throttled else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--bucket", type=float, default=1000.0)
    ap.add_argument("--restore-rate", type=float, default=100.0)
    ap.add_argument("--streams", nargs="+", default=["customers", "orders"])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp), customers=args.customers, seed=args.seed, as_of=date(2026, 11, 23))
        shop = shopify_shop(read_demo(tmp))
    print(f"demo merchant: {args.customers} customers, {len(shop['orders'])} orders, "
          f"{len(shop['products'])} products")
    bench_shopify(shop, args.streams, args.bucket, args.restore_rate)


if __name__ == "__main__":
    main()
