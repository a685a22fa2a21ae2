"""解約予兆 hazard model: a Python multi-asset between the churn features and the risk-score marts.

Reads the training rows (delivery opportunities and their weekly mid-cycle checkpoints) of
`intermediate.int_subscriptions__churn_features`, fits the L2
logistic discrete-time hazard model (churn_hazard_fit.py), evaluates it and both baselines on a
later period, refits on every resolved snapshot, and appends one fit to the four dbt sources
`model_params.churn_model_runs / _coefficients / _evaluation / _calibration` in one
transaction (params_writer.py). History is kept (one model_version per business date); re-running a date replaces
that date's rows. The asset check warns, without blocking anything, when the model's test ROC-AUC
falls below the 定期フロー baseline's.
"""

import dataclasses
import typing
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
import pydantic

# numpy only: scipy is imported when a fit runs (churn_hazard_fit.expit).
from orchestration.modeling.churn_hazard_fit import FitSettings

from orchestration.modeling.params_writer import ParamsTable, columns, write_run
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from orchestration.settings import Settings

FEATURES_KEY = dg.AssetKey(["intermediate", "int_subscriptions__churn_features"])
RUNS_KEY = dg.AssetKey(["model_params", "churn_model_runs"])
COEFFICIENTS_KEY = dg.AssetKey(["model_params", "churn_model_coefficients"])
EVALUATION_KEY = dg.AssetKey(["model_params", "churn_model_evaluation"])
CALIBRATION_KEY = dg.AssetKey(["model_params", "churn_model_calibration"])
CHECK_NAME = "churn_model_beats_flow_baseline"

# The four tables, declared once: the DDL comes from here and tests/orchestration/modeling/test_params_tables.py
# keeps them equal to the dbt source declaration. The three detail tables belong to a run
# through its model_version.
RUNS = ParamsTable("churn_model_runs", columns("""
        model_version varchar not null,
        as_of_date date not null,
        fitted_at timestamp not null,
        method varchar not null,
        fallback_reason varchar,
        l2_penalty double not null,
        converged boolean,
        train_cutoff_date date not null,
        test_start_date date not null,
        test_end_date date not null,
        n_train_rows integer not null,
        n_train_events integer not null,
        n_test_rows integer not null,
        n_test_events integer not null,
        test_roc_auc double,
        test_pr_auc double,
        test_base_rate double,
        test_top_decile_lift double,
        test_brier double,
        baseline_flow_roc_auc double,
        baseline_flow_top_decile_lift double,
        baseline_recency_roc_auc double,
        baseline_recency_top_decile_lift double
    """))
COEFFICIENTS = ParamsTable("churn_model_coefficients", columns("""
        model_version varchar not null,
        term varchar not null,
        center double not null,
        scale double not null,
        coefficient double not null
    """), parent=RUNS)
EVALUATION = ParamsTable("churn_model_evaluation", columns("""
        model_version varchar not null,
        scorer varchar not null,
        segment varchar not null,
        metric varchar not null,
        value double
    """), parent=RUNS)
CALIBRATION = ParamsTable("churn_model_calibration", columns("""
        model_version varchar not null,
        scorer varchar not null,
        bin integer not null,
        n_rows integer not null,
        mean_predicted double not null,
        observed_rate double not null
    """), parent=RUNS)
TABLES = (RUNS, COEFFICIENTS, EVALUATION, CALIBRATION)


def _config_class(settings: type, name: str, doc: str) -> type[dg.Config]:
    """A Dagster config class with exactly the fields, types and defaults of a settings dataclass."""
    hints = typing.get_type_hints(settings)
    fields = {f.name: (hints[f.name], f.default) for f in dataclasses.fields(settings)}
    return pydantic.create_model(name, __base__=dg.Config, __doc__=doc, __module__=__name__, **fields)


# Split, penalty and fallback knobs (DECISIONLOG "解約予兆 model and evaluation"): the fields and
# defaults of churn_hazard_fit.FitSettings, declared there once.
ChurnHazardConfig = _config_class(
    FitSettings, "ChurnHazardConfig",
    "Split, penalty and fallback knobs of the 解約予兆 hazard model (churn_hazard_fit.FitSettings).")


def load_snapshots(con: Any, as_of: date):
    """The training rows (opportunities and their weekly checkpoints) with everything the fit
    needs, in a stable order."""
    import numpy as np

    from orchestration.modeling.churn_hazard_fit import Snapshots

    features = [
        r[0]
        for r in con.execute(
            """
            select column_name from information_schema.columns
            where table_schema = 'intermediate' and table_name = 'int_subscriptions__churn_features'
              and starts_with(column_name, 'f_')
            order by ordinal_position
            """
        ).fetchall()
    ]
    if not features:
        raise ValueError("intermediate.int_subscriptions__churn_features has no f_ feature columns")
    cols = ", ".join(f'"{f}"::double as "{f}"' for f in features)
    data = con.execute(
        f"""
        select
            source || '/' || subscription_id as subscription_id,
            source || '/' || coalesce(product_id, '(none)') as product_id,
            delivery_number,
            snapshot_date,
            label_cancelled,
            label_resolved_date,
            last_cancel_signal_date,
            {cols}
        from intermediate.int_subscriptions__churn_features
        where snapshot_kind in ('opportunity', 'checkpoint') and snapshot_date <= ?
        order by source, subscription_id, snapshot_date
        """,
        [as_of],
    ).fetchnumpy()

    def dates(name: str) -> np.ndarray:
        return np.ma.filled(np.ma.asarray(data[name]).astype("datetime64[D]"), np.datetime64("NaT"))

    label = np.ma.asarray(data["label_cancelled"])
    n = len(label)
    missing_number = np.ma.getmaskarray(np.ma.asarray(data["delivery_number"]))
    if missing_number.any():
        i = int(np.nonzero(missing_number)[0][0])
        raise ValueError(f"delivery_number is null for subscription {data['subscription_id'][i]}")
    matrix = np.empty((n, len(features)))
    for j, f in enumerate(features):
        column = np.ma.asarray(data[f], dtype=float)
        # Null breaks the contract (features are never null): NaN is reported by Snapshots.
        matrix[:, j] = np.ma.filled(column, np.nan)
    return Snapshots(
        subscription_id=np.asarray(np.ma.filled(np.ma.asarray(data["subscription_id"]), None), dtype=object),
        product_id=np.asarray(np.ma.filled(np.ma.asarray(data["product_id"]), None), dtype=object),
        delivery_number=np.asarray(data["delivery_number"], dtype=int),
        snapshot_date=dates("snapshot_date"),
        label=np.where(np.ma.getmaskarray(label), np.nan, np.ma.filled(label, False).astype(float)),
        label_resolved_date=dates("label_resolved_date"),
        last_cancel_signal_date=dates("last_cancel_signal_date"),
        features=matrix,
        feature_names=tuple(features),
    )


def table_rows(run, fitted_at: datetime) -> dict[str, list[tuple]]:
    """The run as rows of the four tables, in their declared column order."""
    from orchestration.modeling.churn_hazard_fit import (
        SCORER_FLOW,
        SCORER_MODEL,
        SCORER_RECENCY,
    )

    v = run.model_version
    test_base_rate = run.n_test_events / run.n_test_rows if run.n_test_rows else None
    runs = [(
        v, run.as_of, fitted_at, run.method, run.fallback_reason, run.settings.l2_penalty,
        run.converged, run.split.train_cutoff_date, run.split.test_start_date, run.split.test_end_date,
        run.n_train_rows, run.n_train_events, run.n_test_rows, run.n_test_events,
        run.metric(SCORER_MODEL, "roc_auc"), run.metric(SCORER_MODEL, "pr_auc"), test_base_rate,
        run.metric(SCORER_MODEL, "top_decile_lift"), run.metric(SCORER_MODEL, "brier"),
        run.metric(SCORER_FLOW, "roc_auc"), run.metric(SCORER_FLOW, "top_decile_lift"),
        run.metric(SCORER_RECENCY, "roc_auc"), run.metric(SCORER_RECENCY, "top_decile_lift"),
    )]
    coefficients = [(v, *row) for row in run.production.coefficient_rows()] if run.production else []
    evaluation = [
        (v, scorer, segment, metric, value)
        for scorer, figures in run.evaluation.items()
        for (segment, metric), value in figures.items()
    ]
    calibration = [(v, scorer, *row) for scorer, rows in run.calibration.items() for row in rows]
    return {
        "churn_model_runs": runs,
        "churn_model_coefficients": coefficients,
        "churn_model_evaluation": evaluation,
        "churn_model_calibration": calibration,
    }


def write_tables(con: Any, as_of: date, rows: dict[str, list[tuple]]) -> None:
    """Replace this business date's fit, keep the others; all four tables or none."""
    write_run(con, as_of, {table: rows[table.name] for table in TABLES})


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def figures_markdown(run) -> str:
    from orchestration.modeling.churn_hazard_fit import SCORERS

    lines = ["| scorer | ROC-AUC | PR-AUC | base rate | top-decile lift | Brier |", "|---|---|---|---|---|---|"]
    for scorer in SCORERS:
        if scorer in run.evaluation:
            f = {k: run.metric(scorer, k) for k in ("roc_auc", "pr_auc", "base_rate", "top_decile_lift", "brier")}
            lines.append(f"| {scorer} | {_fmt(f['roc_auc'])} | {_fmt(f['pr_auc'])} | {_fmt(f['base_rate'])} "
                         f"| {_fmt(f['top_decile_lift'], 2)} | {_fmt(f['brier'], 4)} |")
    return "\n".join(lines)


def by_delivery_markdown(run) -> str:
    from orchestration.modeling.churn_hazard_fit import SCORERS, SEGMENTS

    scorers = [s for s in SCORERS if s in run.evaluation]
    head = "| segment | rows | base rate | " + " | ".join(f"{s} AUC / lift" for s in scorers) + " |"
    lines = [head, "|" + "---|" * (3 + len(scorers))]
    for segment in SEGMENTS:
        first = run.evaluation[scorers[0]]
        cells = [f"{_fmt(run.metric(s, 'roc_auc', segment))} / {_fmt(run.metric(s, 'top_decile_lift', segment), 2)}"
                 for s in scorers]
        lines.append(f"| {segment} | {int(first[(segment, 'n_rows')])} | {_fmt(first[(segment, 'base_rate')])} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def calibration_markdown(run) -> str:
    lines = ["| scorer | bin | rows | mean predicted | observed |", "|---|---|---|---|---|"]
    for scorer, rows in run.calibration.items():
        for b, n, pred, obs in rows:
            lines.append(f"| {scorer} | {b} | {n} | {pred:.3f} | {obs:.3f} |")
    return "\n".join(lines)


def check_result(run) -> dg.AssetCheckResult:
    """Passes unless the logistic model's test ROC-AUC is below the 定期フロー baseline's."""
    from orchestration.modeling.churn_hazard_fit import (
        METHOD_FALLBACK,
        SCORER_FLOW,
        SCORER_MODEL,
    )

    model_auc = run.metric(SCORER_MODEL, "roc_auc")
    flow_auc = run.metric(SCORER_FLOW, "roc_auc")
    if run.method == METHOD_FALLBACK:
        # The scores mart then applies the flow hazard itself: nothing can be worse than it.
        passed, text = True, f"fallback in use, no model to compare ({run.fallback_reason})"
    elif model_auc is None or flow_auc is None:
        passed, text = False, "the model could not be evaluated on the test period"
    else:
        passed = model_auc >= flow_auc
        text = (f"test ROC-AUC {model_auc:.3f} {'>=' if passed else '<'} 定期フロー baseline "
                f"{flow_auc:.3f}")
    return dg.AssetCheckResult(
        asset_key=RUNS_KEY,
        check_name=CHECK_NAME,
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=text,
        metadata={
            "model_version": run.model_version,
            "model_roc_auc": model_auc,
            "baseline_flow_roc_auc": flow_auc,
        },
    )


def build_churn_hazard_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    from orchestration.modeling.churn_hazard_fit import MODEL_CODE_VERSION

    def spec(key: dg.AssetKey, description: str) -> dg.AssetSpec:
        return dg.AssetSpec(key, deps=[FEATURES_KEY], group_name="model_params", kinds={"python", "duckdb"},
                            code_version=MODEL_CODE_VERSION, description=description)

    @dg.multi_asset(
        name="churn_hazard_model",
        specs=[
            spec(RUNS_KEY, "One row per fit of the 解約予兆 hazard model: method, time split, sizes "
                           "and test figures beside the two baselines."),
            spec(COEFFICIENTS_KEY, "Logistic coefficients on standardized f_ features (center, "
                                   "scale) of each model_version; the scores mart applies them."),
            spec(EVALUATION_KEY, "Test-period ROC-AUC, PR-AUC, base rate, top-decile lift and "
                                 "Brier per scorer and delivery band."),
            spec(CALIBRATION_KEY, "Test-period calibration: mean predicted vs observed "
                                  "cancellation rate per probability decile and scorer."),
        ],
        check_specs=[
            dg.AssetCheckSpec(
                CHECK_NAME,
                asset=RUNS_KEY,
                blocking=False,
                description="Warns when the model's test ROC-AUC is below the 定期フロー "
                            "(product x delivery number) baseline's.",
            )
        ],
        pool=WAREHOUSE_POOL,
    )
    def churn_hazard_model(context: dg.AssetExecutionContext, config: ChurnHazardConfig,
                           warehouse: WarehouseResource):
        from orchestration.modeling.churn_hazard_fit import (
            SCORER_FLOW,
            SCORER_MODEL,
            SCORER_RECENCY,
            run_hazard_model,
            settings_from,
        )

        as_of = settings.business_date()
        fit_settings = settings_from(config.model_dump())
        fitted_at = datetime.now(UTC).replace(tzinfo=None)
        with warehouse.connect() as con:
            snapshots = load_snapshots(con, as_of)
            run = run_hazard_model(snapshots, as_of, fit_settings)
            rows = table_rows(run, fitted_at)
            write_tables(con, as_of, rows)
        context.log.info(f"{run.model_version}: {run.method}"
                         + (f" ({run.fallback_reason})" if run.fallback_reason else ""))

        def figure(scorer: str, metric: str) -> float | None:
            return run.metric(scorer, metric)

        split = run.split
        yield dg.MaterializeResult(
            asset_key=RUNS_KEY,
            metadata={
                "model_version": run.model_version,
                "method": run.method,
                "fallback_reason": run.fallback_reason or "",
                "split": (f"train: snapshots <= {split.train_snapshot_end_date}, outcome before "
                          f"{split.train_cutoff_date}; test: snapshots {split.test_start_date} .. "
                          f"{split.test_end_date}; production fit: snapshots <= "
                          f"{split.fit_snapshot_end_date}"),
                "n_train_rows": run.n_train_rows,
                "n_train_events": run.n_train_events,
                "n_test_rows": run.n_test_rows,
                "n_test_events": run.n_test_events,
                "n_test_unresolved_dropped": split.test_unresolved,
                "n_fit_rows": run.n_fit_rows,
                "n_fit_events": run.n_fit_events,
                "test_roc_auc": figure(SCORER_MODEL, "roc_auc"),
                "test_pr_auc": figure(SCORER_MODEL, "pr_auc"),
                "test_base_rate": figure(SCORER_FLOW, "base_rate"),
                "test_top_decile_lift": figure(SCORER_MODEL, "top_decile_lift"),
                "test_brier": figure(SCORER_MODEL, "brier"),
                "baseline_flow_roc_auc": figure(SCORER_FLOW, "roc_auc"),
                "baseline_recency_roc_auc": figure(SCORER_RECENCY, "roc_auc"),
                "test_figures": dg.MetadataValue.md(figures_markdown(run)) if run.evaluation else "not evaluated",
                "test_figures_by_delivery": (dg.MetadataValue.md(by_delivery_markdown(run))
                                             if run.evaluation else "not evaluated"),
                "calibration": (dg.MetadataValue.md(calibration_markdown(run))
                                if run.calibration else "not evaluated"),
            },
        )
        for key, table in ((COEFFICIENTS_KEY, "churn_model_coefficients"),
                           (EVALUATION_KEY, "churn_model_evaluation"),
                           (CALIBRATION_KEY, "churn_model_calibration")):
            yield dg.MaterializeResult(
                asset_key=key,
                metadata={"model_version": run.model_version, "rows_this_fit": len(rows[table])},
            )
        yield check_result(run)

    return [churn_hazard_model]
