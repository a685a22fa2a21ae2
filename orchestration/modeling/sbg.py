"""sBG parameters per 定期 product: a Python asset between the subscriptions mart and the LTV marts.

Reads `marts.subscriptions` (delivery count and status as of the business date), fits the
shifted-beta-geometric model per (source, product_id) by maximum likelihood (sbg_fit.py) and
appends the fit to `model_params.sbg_parameters` (params_writer.py: history kept, one run per
business date, a re-run replaces that date's), the dbt source whose run in force
(stg_model_params__sbg_parameters) the `ltv_projected` and `ltv_projection_check` marts apply.
Two fits per product:

- `full`: every subscription with at least one delivery; cancelled ones churned at their last
  delivery, active and paused ones right-censored.
- `calibration`: only subscriptions started at least `check_min_age_days` before the business
  date, seen through their first `calibration_deliveries` deliveries only. The mart compares its
  projection at later deliveries with what those same subscriptions actually did.
"""


from collections import defaultdict
from datetime import date, datetime, timedelta, timezone

import dagster as dg

from orchestration.modeling.params_writer import ParamsTable, columns, write_run
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from orchestration.settings import Settings

SBG_PARAMETERS_KEY = dg.AssetKey(["model_params", "sbg_parameters"])

# Declared once: the DDL comes from here and tests/orchestration/modeling/test_params_tables.py keeps it equal
# to the dbt source declaration. One run per business date, history kept (params_writer.py).
SBG_PARAMETERS = ParamsTable("sbg_parameters", columns("""
    source varchar not null,
    product_id varchar not null,
    fit_kind varchar not null,
    calibration_deliveries integer,
    population_started_on_or_before date,
    alpha double not null,
    beta double not null,
    log_likelihood double not null,
    n_subscriptions integer not null,
    n_churned integer not null,
    max_delivery_observed integer not null,
    converged boolean not null,
    max_abs_survival_error double not null,
    lr_statistic double not null,
    model_version varchar not null,
    as_of_date date not null,
    fitted_at timestamp not null
"""))


class SbgConfig(dg.Config):
    # Products with fewer subscriptions than this get no fit (the projection would be noise).
    min_subscriptions: int = 30
    # Calibration fit for the projection check: deliveries seen, and the minimum age of the
    # subscriptions it uses (old enough that most have had the chance to go well past them).
    calibration_deliveries: int = 4
    check_min_age_days: int = 365


def fit_rows(
    histories: list[tuple[str, str, date, int, bool]], as_of: date, config: SbgConfig
) -> list[dict]:
    """histories: (source, product_id, started_date, deliveries, is_alive) -> parameter rows."""
    # scipy is loaded when a fit runs, not every time the code location starts.
    from orchestration.modeling.sbg_fit import MODEL_VERSION, counts_from_deliveries, fit_sbg

    by_product: dict[tuple[str, str], list[tuple[date, int, bool]]] = defaultdict(list)
    for source, product_id, started, deliveries, alive in histories:
        if deliveries >= 1:
            by_product[(source, product_id)].append((started, deliveries, alive))
    cutoff = as_of - timedelta(days=config.check_min_age_days)
    fitted_at = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = []
    for (source, product_id), subs in sorted(by_product.items()):
        kinds: list[tuple[str, int | None, date | None, list[tuple[int, bool]]]] = [
            ("full", None, None, [(d, a) for _, d, a in subs]),
        ]
        old = [(d, a) for started, d, a in subs if started <= cutoff]
        kinds.append(("calibration", config.calibration_deliveries, cutoff, old))
        for kind, k, population_cutoff, hist in kinds:
            if len(hist) < config.min_subscriptions:
                continue
            churned, alive = counts_from_deliveries(hist, truncate_at_delivery=k)
            if not churned:
                continue  # nobody lost yet: the likelihood has no maximum
            fit = fit_sbg(churned, alive)
            rows.append({
                "source": source,
                "product_id": product_id,
                "fit_kind": kind,
                "calibration_deliveries": k,
                "population_started_on_or_before": population_cutoff,
                "alpha": fit.alpha,
                "beta": fit.beta,
                "log_likelihood": fit.log_likelihood,
                "n_subscriptions": fit.n,
                "n_churned": fit.churned,
                "max_delivery_observed": max(d for d, _ in hist) if k is None else min(k, max(d for d, _ in hist)),
                "converged": fit.converged,
                "max_abs_survival_error": fit.max_abs_survival_error,
                "lr_statistic": fit.lr_statistic,
                "model_version": MODEL_VERSION,
                "as_of_date": as_of,
                "fitted_at": fitted_at,
            })
    return rows


def build_sbg_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=SBG_PARAMETERS_KEY,
        deps=[dg.AssetKey(["marts", "subscriptions"])],
        group_name="model_params",
        pool=WAREHOUSE_POOL,
        description="sBG (shifted-beta-geometric) retention parameters per 定期 product, fitted "
                    "by maximum likelihood over delivery numbers (full fit and calibration fit).",
    )
    def sbg_parameters(context: dg.AssetExecutionContext, config: SbgConfig,
                       warehouse: WarehouseResource) -> dg.MaterializeResult:
        from orchestration.modeling.sbg_fit import MODEL_VERSION

        as_of = settings.business_date()
        with warehouse.connect() as con:
            histories = con.execute(
                """
                select source, product_id, started_date, delivery_count, status <> 'cancelled'
                from marts.subscriptions
                where product_id is not null
                """
            ).fetchall()
            rows = fit_rows(histories, as_of, config)
            # Appended in one transaction: never an empty or half-filled parameter table.
            write_run(con, as_of, {SBG_PARAMETERS: rows})
        table = "\n".join(
            f"| {r['product_id']} | {r['fit_kind']} | {r['alpha']:.3f} | {r['beta']:.3f} | "
            f"{r['n_subscriptions']} | {r['max_abs_survival_error']:.3f} |"
            for r in rows
        )
        return dg.MaterializeResult(metadata={
            "products_fitted": len({(r["source"], r["product_id"]) for r in rows if r["fit_kind"] == "full"}),
            "model_version": MODEL_VERSION,
            "fits": dg.MetadataValue.md(
                "| product | fit | alpha | beta | n | max abs survival error |\n|---|---|---|---|---|---|\n" + table
            ),
        })

    return [sbg_parameters]
