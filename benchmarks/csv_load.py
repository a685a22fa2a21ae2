"""Benchmark: validate and load a 300,000-row cp932 orders export (13 columns).

Not collected by pytest (no test_ prefix). Run: .venv/bin/python benchmarks/csv_load.py
Prints read+validate and load times, first load and an identical second file (all unchanged).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.csv_export import load_file, read_export  # noqa: E402

N = 300_000
HEADER = "受注番号,顧客ID,受注日時,定期受注番号,定期回数,受注ステータス,支払方法,商品合計,送料,値引額,合計金額,発送日,更新日時\r\n"


def make_export(path: Path, n: int = N) -> None:
    statuses = ["発送済み", "発送待ち", "キャンセル"]
    methods = ["クレジットカード", "後払い", "コンビニ払い", "代金引換"]
    with open(path, "w", encoding="cp932", newline="") as fh:
        fh.write(HEADER)
        for i in range(n):
            day = 1 + i % 28
            fh.write(
                f"O{i:08d},C{i % 50000:07d},2026/{1 + i % 12}/{day} {i % 24:02d}:{i % 60:02d}:07,"
                f"{'S%07d' % (i % 40000) if i % 3 else ''},{1 + i % 12},{statuses[i % 3]},"
                f"{methods[i % 4]},\"{3980 + i % 1000:,}\",550,{'-500' if i % 5 == 0 else '0'},"
                f"￥{4530 + i % 1000},2026/{1 + i % 12}/{day},2026-11-{1 + i % 22:02d} 12:{i % 60:02d}\r\n"
            )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "orders_20261123.csv"
        make_export(export)
        size = export.stat().st_size / 1e6
        t0 = time.perf_counter()
        parsed = read_export(export, "demo_merchant", "orders")
        t1 = time.perf_counter()
        print(f"{N} rows, {size:.1f} MB cp932: read + validate {t1 - t0:.2f} s")
        wh = Path(tmp) / "wh.duckdb"
        t0 = time.perf_counter()
        r = load_file(wh, export, "demo_merchant", "orders")
        t1 = time.perf_counter()
        print(f"first load (decode, validate, stage, upsert, commit): {t1 - t0:.2f} s "
              f"-> {N / (t1 - t0):,.0f} rows/s; inserted {r.rows_inserted}")
        copy = Path(tmp) / "orders_20261124.csv"
        copy.write_bytes(export.read_bytes() + b"O99999999,C0000001,2026/11/24 10:00,,,"
                         b"\x94\xad\x91\x97\x91\xd2\x82\xbf,,100,0,0,100,,2026/11/24 10:00\r\n")
        t0 = time.perf_counter()
        r = load_file(wh, copy, "demo_merchant", "orders")
        t1 = time.perf_counter()
        print(f"second load, same rows + 1 new: {t1 - t0:.2f} s; inserted {r.rows_inserted}, "
              f"updated {r.rows_updated}, unchanged {r.rows_unchanged}")
        del parsed


if __name__ == "__main__":
    main()
