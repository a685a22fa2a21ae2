"""Time the demo's end-to-end materialization (the `daily_refresh` job) at a given size.

    .venv/bin/python benchmarks/demo_pipeline.py [--customers 10000] [--runs 1]

Prints wall-clock seconds for the whole job and per step, on a fresh temporary data directory.
Target: at most 60 s at the default size on the 2-core reference machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()

    import dagster as dg

    from orchestration.settings import DBT_PROJECT_DIR
    from orchestration.transform.prepare import prepare_manifest

    if not (DBT_PROJECT_DIR / "target" / "manifest.json").exists():
        prepare_manifest()  # a fresh checkout: dagster-dbt needs it before definitions load

    from orchestration.definitions import build_definitions
    from orchestration.settings import load_settings

    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            for name in [n for n in os.environ if n.startswith("TEIKI_") and n != "TEIKI_AS_OF_DATE"]:
                del os.environ[name]
            os.environ["TEIKI_DATA_DIR"] = tmp
            defs = build_definitions(load_settings())
            job = defs.resolve_job_def("daily_refresh")
            config = {"ops": {"demo_merchant_exports": {"config": {"customers": args.customers, "seed": args.seed}}},
                      "loggers": {"console": {"config": {"log_level": "ERROR"}}}}
            with dg.DagsterInstance.ephemeral() as instance:
                t0 = time.monotonic()
                result = job.execute_in_process(instance=instance, run_config=config, raise_on_error=False)
                total = time.monotonic() - t0
                stats = instance.get_run_step_stats(result.run_id)
            print(f"run {i + 1}: {args.customers} customers, success={result.success}, total {total:.1f} s")
            for s in sorted(stats, key=lambda s: s.start_time or 0):
                if s.start_time and s.end_time:
                    print(f"  {s.step_key:<32} {s.end_time - s.start_time:6.1f} s")
            size = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
            print(f"  data directory {size / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
