"""How good is the 解約予兆 hazard model? Test-period figures on two demo worlds.

    .venv/bin/python benchmarks/model_quality.py [--customers 10000] [--keep DIR]

Runs the real `daily_refresh` job (every asset, as `make demo` does) into a temporary data
directory for each world, then prints what the churn model asset recorded in
model_params.churn_model_*: the model version and split, the model beside both baselines
(ROC-AUC, PR-AUC with the base rate, top-decile lift, Brier) overall and by delivery band, the
calibration tables, and the asset check. Worlds: `default` (seed 42) and `alternate`
(demo_merchant.params.WORLDS, seed 2026): another seed and changed behaviour parameters, so the
model is not judged on the world it was developed on only.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WORLDS = [("default", 42), ("alternate", 2026)]
SCORERS = ["hazard_logit", "baseline_flow_hazard", "baseline_recency_rule"]
SEGMENTS = ["all", "delivery_1", "delivery_2", "delivery_3", "delivery_4_6", "delivery_7_plus"]


def fmt(v, digits=3) -> str:
    return "      -" if v is None else f"{v:7.{digits}f}"


def report(warehouse: Path) -> None:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        run = con.execute(
            "select * from model_params.churn_model_runs order by as_of_date desc, fitted_at desc limit 1"
        ).fetchone()
        cols = [d[0] for d in con.description]
        r = dict(zip(cols, run))
        version = r["model_version"]
        figures = {
            (s, seg, m): v for s, seg, m, v in con.execute(
                "select scorer, segment, metric, value from model_params.churn_model_evaluation "
                "where model_version = ?", [version]).fetchall()
        }
        calibration = con.execute(
            "select scorer, bin, n_rows, mean_predicted, observed_rate from model_params.churn_model_calibration "
            "where model_version = ? order by scorer, bin", [version]).fetchall()
        n_coef = con.execute("select count(*) from model_params.churn_model_coefficients where model_version = ?",
                             [version]).fetchone()[0]
    finally:
        con.close()
    print(f"  model_version {version}  method {r['method']}"
          + (f"  fallback: {r['fallback_reason']}" if r["fallback_reason"] else ""))
    print(f"  train: {r['n_train_rows']} rows, {r['n_train_events']} cancellations, outcomes before "
          f"{r['train_cutoff_date']}; test: snapshots {r['test_start_date']} .. {r['test_end_date']}, "
          f"{r['n_test_rows']} rows, {r['n_test_events']} cancellations; {n_coef} coefficients, "
          f"l2 {r['l2_penalty']}, converged {r['converged']}")
    scorers = [s for s in SCORERS if (s, "all", "n_rows") in figures]
    print(f"\n  {'scorer':<24}{'ROC-AUC':>8}{'PR-AUC':>8}{'base':>8}{'lift@10%':>9}{'Brier':>8}")
    for s in scorers:
        f = {m: figures.get((s, "all", m)) for m in ("roc_auc", "pr_auc", "base_rate", "top_decile_lift", "brier")}
        print(f"  {s:<24}{fmt(f['roc_auc'])} {fmt(f['pr_auc'])} {fmt(f['base_rate'])} "
              f"{fmt(f['top_decile_lift'], 2)}  {fmt(f['brier'], 4)}")
    print("\n  by delivery band: ROC-AUC / top-decile lift / PR-AUC (base rate)")
    print(f"  {'segment':<16}{'rows':>6}{'events':>7}{'base':>7}   " + "".join(f"{s:<27}" for s in scorers))
    for seg in SEGMENTS:
        f0 = {m: figures.get((scorers[0], seg, m)) for m in ("n_rows", "n_events", "base_rate")}
        cells = "".join(
            f"{fmt(figures.get((s, seg, 'roc_auc')))} {fmt(figures.get((s, seg, 'top_decile_lift')), 2)} "
            f"{fmt(figures.get((s, seg, 'pr_auc')))}    " for s in scorers)
        print(f"  {seg:<16}{int(f0['n_rows']):>6}{int(f0['n_events']):>7}{fmt(f0['base_rate'])}   {cells}")
    print("\n  calibration (probability deciles of the test rows): mean predicted -> observed (rows)")
    for s in scorers:
        bins = [c for c in calibration if c[0] == s]
        print(f"  {s}")
        for _, b, n, pred, obs in bins:
            print(f"    bin {b:>2}  {n:>5} rows  predicted {pred:.3f}  observed {obs:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--keep", type=Path, help="keep each world's data directory under DIR")
    args = ap.parse_args()

    import dagster as dg

    from orchestration.definitions import build_definitions
    from orchestration.settings import load_settings

    os.environ.setdefault("TEIKI_AS_OF_DATE", "2026-11-23")
    for world, seed in WORLDS:
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = args.keep / world if args.keep else Path(tmp)
            for name in [n for n in os.environ if n.startswith("TEIKI_") and n != "TEIKI_AS_OF_DATE"]:
                del os.environ[name]
            os.environ["TEIKI_DATA_DIR"] = str(data_dir)
            settings = load_settings()
            job = build_definitions(settings).resolve_job_def("daily_refresh")
            config = {"ops": {"demo_merchant_exports": {"config": {
                          "customers": args.customers, "seed": seed, "world": world}}},
                      "loggers": {"console": {"config": {"log_level": "ERROR"}}}}
            with dg.DagsterInstance.ephemeral() as instance:
                t0 = time.monotonic()
                result = job.execute_in_process(instance=instance, run_config=config, raise_on_error=False)
                elapsed = time.monotonic() - t0
                stats = {s.step_key: s for s in instance.get_run_step_stats(result.run_id)}
            step = stats.get("churn_hazard_model")
            fit_s = f"{step.end_time - step.start_time:.1f} s" if step and step.end_time else "?"
            print(f"\n=== world {world}: {args.customers} customers, seed {seed}, as of "
                  f"{settings.business_date()}; job success={result.success} in {elapsed:.0f} s "
                  f"(churn model step {fit_s})")
            for ev in result.get_asset_check_evaluations():
                if ev.check_name == "churn_model_beats_flow_baseline":
                    print(f"  check {ev.check_name}: {'passed' if ev.passed else 'WARN'} "
                          f"({ev.description})")
            if not result.success:
                print("  failed steps:", result.get_failed_step_keys())
            report(settings.warehouse)


if __name__ == "__main__":
    main()
