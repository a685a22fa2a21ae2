"""The churn hazard model in the real `daily_refresh` job, on two demo worlds.

The default world (10,000 customers, seed 42: the session run other tests use) and a smaller
`alternate` world (demo_merchant.params.WORLDS: other seed, changed churn, signal and payment
behaviour), so the model is not judged on the world it was developed on only.
"""

from __future__ import annotations

import shutil

import dagster as dg
import duckdb
import pytest

from orchestration.modeling.churn_hazard import CHECK_NAME, build_churn_hazard_assets
from orchestration.modeling.churn_hazard_fit import METRICS, SCORERS, SEGMENTS
from orchestration.resources import WarehouseResource
from orchestration.settings import load_settings

WORLDS = {"default": (10000, 42, "default"), "alternate": (2000, 7, "alternate")}


def latest_fit(con: duckdb.DuckDBPyConnection) -> tuple[dict, dict, list[str]]:
    cur = con.execute("select * from model_params.churn_model_runs order by as_of_date desc limit 1")
    run = dict(zip([d[0] for d in cur.description], cur.fetchone()))
    figures = {
        (s, seg, m): v for s, seg, m, v in con.execute(
            "select scorer, segment, metric, value from model_params.churn_model_evaluation "
            "where model_version = ?", [run["model_version"]]).fetchall()
    }
    terms = [t for (t,) in con.execute(
        "select term from model_params.churn_model_coefficients where model_version = ? order by term",
        [run["model_version"]]).fetchall()]
    return run, figures, terms


# Each world is a full pipeline run of thousands of customers: CI's slow tier.
@pytest.fixture(scope="module", params=[pytest.param(w, id=w, marks=pytest.mark.slow) for w in WORLDS])
def world(request, demo_run):
    run = demo_run(*WORLDS[request.param])
    con = duckdb.connect(str(run.settings.warehouse), read_only=True)
    yield run, con
    con.close()


def test_model_beats_the_flow_baseline_on_auc_and_lift(world):
    _, con = world
    run, figures, _ = latest_fit(con)
    assert run["method"] == "logistic_hazard" and run["converged"]
    assert run["n_test_events"] >= 30 and run["n_train_events"] >= 200
    model, flow = ("hazard_logit", "all"), ("baseline_flow_hazard", "all")
    assert figures[(*model, "roc_auc")] > figures[(*flow, "roc_auc")]
    assert figures[(*model, "top_decile_lift")] > figures[(*flow, "top_decile_lift")]
    # the run row carries the same figures
    assert run["test_roc_auc"] == figures[(*model, "roc_auc")]
    assert run["baseline_flow_top_decile_lift"] == figures[(*flow, "top_decile_lift")]


def test_tables_are_complete_and_consistent(world):
    demo, con = world
    run, figures, terms = latest_fit(con)
    assert run["as_of_date"] == demo.settings.business_date()
    assert set(figures) == {(s, seg, m) for s in SCORERS for seg in SEGMENTS for m in METRICS}
    assert sum(figures[(SCORERS[0], seg, "n_rows")] for seg in SEGMENTS[1:]) == run["n_test_rows"]
    features = [c for (c,) in con.execute(
        "select column_name from information_schema.columns where table_schema = 'intermediate' "
        "and table_name = 'int_subscriptions__churn_features' and column_name like 'f\\_%' escape '\\'").fetchall()]
    assert len(features) >= 30
    assert sorted(terms) == sorted(["(intercept)", *features])
    calibrated = con.execute(
        "select scorer, sum(n_rows) from model_params.churn_model_calibration where model_version = ? group by 1",
        [run["model_version"]]).fetchall()
    assert dict(calibrated) == {s: run["n_test_rows"] for s in SCORERS}


def test_the_check_passes(world):
    demo, _ = world
    (check,) = [e for e in demo.result.get_asset_check_evaluations() if e.check_name == CHECK_NAME]
    assert check.passed, check.description


@pytest.mark.slow
def test_the_check_warns_when_the_features_carry_nothing(demo_run, tmp_path):
    # A shop whose exports carry no behaviour at all (every feature 0): the model can only learn
    # the overall rate, which ranks nobody, while the 定期フロー baseline still knows the stage.
    demo = demo_run(*WORLDS["alternate"])
    shutil.copy(demo.settings.warehouse, tmp_path / "warehouse.duckdb")
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    features = [c for (c,) in con.execute(
        "select column_name from information_schema.columns where table_schema = 'intermediate' "
        "and table_name = 'int_subscriptions__churn_features' and starts_with(column_name, 'f_')").fetchall()]
    con.execute("update intermediate.int_subscriptions__churn_features set "
                + ", ".join(f'"{f}" = 0' for f in features))
    con.close()
    settings = load_settings({"TEIKI_DATA_DIR": str(tmp_path),
                              "TEIKI_AS_OF_DATE": demo.settings.business_date().isoformat()})
    result = dg.materialize(build_churn_hazard_assets(settings),
                            resources={"warehouse": WarehouseResource(path=str(settings.warehouse))})
    assert result.success  # a warning, never a failed refresh
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["model_roc_auc"].value == pytest.approx(0.5)
    assert check.metadata["baseline_flow_roc_auc"].value > 0.6


def test_an_unknown_world_is_refused_by_name(tmp_path):
    from orchestration.ingestion.csv_exports import build_csv_export_assets

    settings = load_settings({"TEIKI_DATA_DIR": str(tmp_path), "TEIKI_AS_OF_DATE": "2026-11-23"})
    (exports,) = [a for a in build_csv_export_assets(settings) if a.node_def.name == "demo_merchant_exports"]
    result = dg.materialize([exports], raise_on_error=False,
                            run_config={"ops": {"demo_merchant_exports": {"config": {"world": "harsh"}}}})
    assert not result.success
    error = result.failure_data_for_node("demo_merchant_exports").error
    text = error.message + (error.cause.message if error.cause else "")
    assert "'harsh'" in text and "default, alternate" in text
    assert not any(settings.csv_export_dir.glob("*.csv"))
