"""Time `dbt build` on the demo merchant at given sizes (generation and loading timed apart).

    .venv/bin/python benchmarks/dbt_build.py [--customers 10000 100000] [--seed 42]

For each size: generate the demo exports, load them into a fresh warehouse with the CSV
connector, then run `dbt build` (models + tests) and print the wall-clock seconds of each phase.
Python-fitted parameter tables (if the project has them) are not produced here: models that need
them are excluded and listed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--as-of", default="2026-11-23")
    ap.add_argument("--exclude", default="", help="dbt --exclude selector (e.g. models needing fitted parameters)")
    args = ap.parse_args()

    from connectors.csv_export import load_export_dir, load_profile
    from demo_merchant.generate import generate

    dbt = Path(sys.executable).parent / "dbt"
    for n in args.customers:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            t0 = time.monotonic()
            generate(tmp / "exports", customers=n, seed=args.seed, as_of=date.fromisoformat(args.as_of))
            t1 = time.monotonic()
            results = load_export_dir(tmp / "warehouse.duckdb", tmp / "exports", load_profile("demo_merchant"))
            rows = sum(r.rows_inserted for r in results)
            t2 = time.monotonic()
            env = {**os.environ, "TEIKI_WAREHOUSE": str(tmp / "warehouse.duckdb"), "TEIKI_AS_OF_DATE": args.as_of}
            cmd = [str(dbt), "build", "--quiet", "--profiles-dir", ".", "--target-path", str(tmp / "target")]
            if args.exclude:
                cmd += ["--exclude", args.exclude]
            proc = subprocess.run(cmd, cwd=ROOT / "dbt_project", env=env, capture_output=True, text=True)
            t3 = time.monotonic()
            status = "ok" if proc.returncode == 0 else f"FAILED\n{proc.stdout[-2000:]}"
            print(f"{n:>7} customers: generate {t1 - t0:5.1f} s | load {rows:,} rows {t2 - t1:5.1f} s "
                  f"| dbt build {t3 - t2:5.1f} s ({status})", flush=True)


if __name__ == "__main__":
    main()
