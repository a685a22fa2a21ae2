"""The churn hazard multi-asset on synthetic feature tables: the four tables, history, the check."""

from __future__ import annotations

import csv
import dataclasses
from datetime import date

import dagster as dg
import duckdb
import numpy as np
import pytest
from test_churn_hazard_fit import synthetic_snapshots

from orchestration.modeling.churn_hazard import (
    CHECK_NAME,
    RUNS_KEY,
    ChurnHazardConfig,
    build_churn_hazard_assets,
)
from orchestration.modeling.churn_hazard_fit import (
    METRICS,
    SCORERS,
    SEGMENTS,
    FitSettings,
)
from orchestration.resources import WarehouseResource
from orchestration.settings import load_settings

AS_OF = date(2026, 11, 23)


def write_features(path, snap, product_hazard: dict[str, float] | None = None, seed: int = 0) -> None:
    """A feature table shaped like int_subscriptions__churn_features (plus 'current' rows).

    With product_hazard, the labels are redrawn from the product alone: the features then carry
    nothing the 定期フロー baseline does not already know better.
    """
    label = snap.label.copy()
    if product_hazard:
        rng = np.random.default_rng(seed)
        p = np.array([product_hazard[x] for x in snap.product_id])
        label = np.where(np.isnan(label), np.nan, (rng.random(len(p)) < p).astype(float))
    csv_path = path.with_suffix(".csv")
    names = list(snap.feature_names)
    with open(csv_path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["source", "subscription_id", "product_id", "snapshot_kind", "snapshot_date",
                    "delivery_number", "label_cancelled", "label_resolved_date",
                    "last_cancel_signal_date", *names])
        for i in range(len(snap)):
            known = not np.isnan(label[i])
            w.writerow([
                "csv", snap.subscription_id[i].split("/", 1)[1], snap.product_id[i].split("/", 1)[1],
                "opportunity", snap.snapshot_date[i], snap.delivery_number[i],
                ("true" if label[i] else "false") if known else "",
                snap.label_resolved_date[i] if known else "",
                "" if np.isnat(snap.last_cancel_signal_date[i]) else snap.last_cancel_signal_date[i],
                *snap.features[i],
            ])
        for i in range(50):  # rows to score, never to fit
            w.writerow(["csv", f"CUR{i}", "T-A", "current", "2026-11-24", 3, "", "", "", *([0.0] * len(names))])
    con = duckdb.connect(str(path))
    con.execute("create schema intermediate")
    types = {"snapshot_date": "date", "label_resolved_date": "date", "last_cancel_signal_date": "date",
             "delivery_number": "integer", "label_cancelled": "boolean", **{n: "double" for n in names}}
    con.execute(f"create table intermediate.int_subscriptions__churn_features as "
                f"select * from read_csv('{csv_path}', header = true, types = {types!r})")
    con.close()


def materialize(tmp_path, as_of: date = AS_OF, config: dict | None = None) -> dg.ExecuteInJobResult:
    settings = load_settings({"TEIKI_DATA_DIR": str(tmp_path), "TEIKI_AS_OF_DATE": as_of.isoformat()})
    assets = build_churn_hazard_assets(settings)
    return dg.materialize(
        assets,
        resources={"warehouse": WarehouseResource(path=str(settings.warehouse))},
        run_config={"ops": {"churn_hazard_model": {"config": config or {}}}},
    )


def check_evaluation(result: dg.ExecuteInJobResult) -> dg.AssetCheckEvaluation:
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == CHECK_NAME and evaluation.asset_key == RUNS_KEY
    return evaluation


def tables(path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t: con.execute(f"select * from model_params.{t}").fetchall() for t in
                ("churn_model_runs", "churn_model_coefficients", "churn_model_evaluation",
                 "churn_model_calibration")}
    finally:
        con.close()


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("churn_asset")
    snap = synthetic_snapshots(20000, seed=11)
    write_features(tmp / "warehouse.duckdb", snap)
    return tmp, snap


def test_config_defaults_are_the_fit_defaults():
    assert ChurnHazardConfig().model_dump() == dataclasses.asdict(FitSettings())


def test_writes_four_consistent_tables_and_keeps_history(synthetic):
    tmp, snap = synthetic
    result = materialize(tmp)
    assert result.success
    check = check_evaluation(result)
    assert check.passed and check.severity == dg.AssetCheckSeverity.WARN
    t = tables(tmp / "warehouse.duckdb")
    (run,) = t["churn_model_runs"]
    version, as_of, method = run[0], run[1], run[3]
    assert as_of == AS_OF and method == "logistic_hazard" and version.startswith("churn-hazard-1/2026-11-23/")
    assert [r[1] for r in t["churn_model_coefficients"]] == ["(intercept)", *snap.feature_names]
    evaluation = {(s, seg, m): v for _, s, seg, m, v in t["churn_model_evaluation"]}
    assert set(evaluation) == {(s, seg, m) for s in SCORERS for seg in SEGMENTS for m in METRICS}
    # the run row repeats the 'all' figures of the evaluation table
    assert run[14] == evaluation[("hazard_logit", "all", "roc_auc")]
    assert run[19] == evaluation[("baseline_flow_hazard", "all", "roc_auc")]
    assert run[12] == evaluation[("hazard_logit", "all", "n_rows")]
    for scorer in SCORERS:
        assert sum(r[3] for r in t["churn_model_calibration"] if r[1] == scorer) == run[12]
    metadata = result.asset_materializations_for_node("churn_hazard_model")[0].metadata
    assert metadata["model_version"].value == version
    assert "baseline_recency_rule" in metadata["test_figures"].value
    assert "delivery_7_plus" in metadata["test_figures_by_delivery"].value

    # the same business date again: replaced, not doubled
    assert materialize(tmp).success
    again = tables(tmp / "warehouse.duckdb")
    assert {k: len(v) for k, v in again.items()} == {k: len(v) for k, v in t.items()}
    # another date: appended, the earlier fit kept as it was
    assert materialize(tmp, as_of=date(2026, 12, 1)).success
    later = tables(tmp / "warehouse.duckdb")
    assert sorted(r[1] for r in later["churn_model_runs"]) == [AS_OF, date(2026, 12, 1)]
    assert {r for r in later["churn_model_coefficients"] if r[0] == version} == set(t["churn_model_coefficients"])


def test_warns_without_failing_when_the_model_is_worse_than_the_flow_baseline(tmp_path):
    # Cancellation depends only on the product, which is no model feature: the 定期フロー
    # baseline (product x delivery number) knows it, the model can only fit noise.
    snap = synthetic_snapshots(20000, seed=12)
    write_features(tmp_path / "warehouse.duckdb", snap, {"csv/T-A": 0.05, "csv/T-B": 0.2, "csv/T-C": 0.5})
    result = materialize(tmp_path)
    assert result.success
    check = check_evaluation(result)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["model_roc_auc"].value < check.metadata["baseline_flow_roc_auc"].value


def test_thin_history_writes_a_fallback_run(tmp_path):
    write_features(tmp_path / "warehouse.duckdb", synthetic_snapshots(20000, seed=13))
    result = materialize(tmp_path, config={"min_train_events": 10**6})
    assert result.success and check_evaluation(result).passed
    t = tables(tmp_path / "warehouse.duckdb")
    (run,) = t["churn_model_runs"]
    assert run[3] == "flow_hazard_fallback" and "min_train_events" in run[4]
    assert run[6] is None and run[14] is None  # not converged / no model AUC: no model
    assert t["churn_model_coefficients"] == []
    assert {r[1] for r in t["churn_model_evaluation"]} == {"baseline_flow_hazard", "baseline_recency_rule"}


def test_a_failed_write_leaves_the_previous_fit_whole(tmp_path, monkeypatch):
    from orchestration.modeling import churn_hazard

    write_features(tmp_path / "warehouse.duckdb", synthetic_snapshots(20000, seed=15))
    assert materialize(tmp_path).success
    before = tables(tmp_path / "warehouse.duckdb")
    real = churn_hazard.table_rows

    def broken(run, fitted_at):
        rows = real(run, fitted_at)
        # the last table written gets a row that cannot be inserted (bin null)
        rows["churn_model_calibration"].append((run.model_version, "hazard_logit", None, 1, 0.1, 0.1))
        return rows

    monkeypatch.setattr(churn_hazard, "table_rows", broken)
    settings = load_settings({"TEIKI_DATA_DIR": str(tmp_path), "TEIKI_AS_OF_DATE": AS_OF.isoformat()})
    result = dg.materialize(build_churn_hazard_assets(settings), raise_on_error=False,
                            resources={"warehouse": WarehouseResource(path=str(settings.warehouse))},
                            run_config={"ops": {"churn_hazard_model": {"config": {"l2_penalty": 5.0}}}})
    assert not result.success
    assert tables(tmp_path / "warehouse.duckdb") == before


def test_a_null_feature_fails_naming_the_record(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    write_features(path, synthetic_snapshots(3000, seed=14))
    con = duckdb.connect(str(path))
    con.execute("update intermediate.int_subscriptions__churn_features set f_b = null "
                "where subscription_id = 'S000042'")
    con.close()
    result = dg.materialize(
        build_churn_hazard_assets(load_settings({"TEIKI_DATA_DIR": str(tmp_path), "TEIKI_AS_OF_DATE": "2026-11-23"})),
        resources={"warehouse": WarehouseResource(path=str(path))},
        raise_on_error=False,
    )
    assert not result.success
    error, message = result.failure_data_for_node("churn_hazard_model").error, ""
    while error is not None:
        message, error = message + error.message, error.cause
    assert "f_b" in message and "csv/S000042" in message
    # nothing was written
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("select count(*) from information_schema.tables where table_schema = 'model_params'").fetchone()[0] == 0
    con.close()
