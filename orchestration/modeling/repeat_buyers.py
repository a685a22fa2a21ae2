"""BG/NBD + Gamma-Gamma for one-off repeat buyers (単品リピート): the non-contractual twin of the
subscription hazard model.

Reads `intermediate.int_customers__repeat_purchase_summary` (x, t_x, T in days and m_x per
customer; the population and the purchase definition live there, once), fits both models by
maximum likelihood (repeat_buyers_fit.py, the pure model code) and appends one fit per business
date to two tables in one transaction (params_writer.py; history kept, a re-run of the date
replaces it):

- `model_params.repeat_buyer_parameters`: the fitted parameters, log-likelihoods and sizes of
  the 'full' fit (as of the business date) and of the 'calibration' fit (as of the calibration
  end), the latter with the holdout check: predicted against actual one-off purchases between
  the calibration end and the business date, overall and per calibration frequency bucket.
- `model_params.repeat_buyer_predictions`: one row per customer of the full summary: P(alive),
  expected purchases in the next 90 and 180 days, expected average order value and CLV.

Too few repeat buyers to fit (or a fit that cannot be used) falls back to pooled empirical
figures: a constant repeat rate (repeat purchase days per day of customer age) and the pooled
mean repeat spend; P(alive) is then NULL, and `purchase_method` / `spend_method` say which.

The CLV discount rate is the dbt var `ltv_annual_discount_rate` in force (dbt_project.yml's
default, else the merchant's settings file), read at each run: the 定期 LTV marts and this CLV
always discount at the same rate.
"""

import math
from datetime import date
from typing import TYPE_CHECKING

import dagster as dg

from orchestration.merchant_settings import effective_dbt_vars
from orchestration.modeling.params_writer import ParamsTable, columns, write_run
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from orchestration.settings import Settings

if TYPE_CHECKING:  # the fit module loads scipy: imported when the asset runs
    from orchestration.modeling.repeat_buyers_fit import RepeatBuyerResult

DISCOUNT_RATE_VAR = "ltv_annual_discount_rate"

PARAMETERS_KEY = dg.AssetKey(["model_params", "repeat_buyer_parameters"])
PREDICTIONS_KEY = dg.AssetKey(["model_params", "repeat_buyer_predictions"])
SUMMARY_KEY = dg.AssetKey(["intermediate", "int_customers__repeat_purchase_summary"])
HOLDOUT_CHECK = "holdout_purchases_within_tolerance"

# Declared once: the DDL comes from here and tests/orchestration/modeling/test_params_tables.py keeps them equal
# to the dbt source declaration. One run per business date, history kept (params_writer.py).
PARAMETERS = ParamsTable("repeat_buyer_parameters", columns("""
    fit_kind varchar not null,
    frequency_bucket varchar not null,
    period_end_date date not null,
    time_unit varchar not null,
    purchase_method varchar not null,
    spend_method varchar not null,
    fallback_reason varchar,
    n_customers integer not null,
    n_repeat_customers integer not null,
    r double,
    alpha double,
    a double,
    b double,
    mean_dropout_probability double,
    bgnbd_log_likelihood double,
    bgnbd_converged boolean,
    p double,
    q double,
    gamma double,
    gamma_gamma_log_likelihood double,
    gamma_gamma_converged boolean,
    n_spend_customers integer not null,
    empirical_repeat_rate_per_day double,
    mean_spend double,
    holdout_days integer,
    holdout_customers integer,
    holdout_predicted_purchases double,
    holdout_actual_purchases integer,
    clv_horizon_days integer not null,
    clv_periods integer not null,
    clv_annual_discount_rate double not null,
    model_version varchar not null,
    as_of_date date not null,
    fitted_at timestamp not null
"""))

PREDICTIONS = ParamsTable("repeat_buyer_predictions", columns("""
    customer_key varchar not null,
    source varchar not null,
    repeat_purchases integer not null,
    days_first_to_last_purchase integer not null,
    days_since_first_purchase integer not null,
    average_repeat_purchase_value double,
    p_alive double,
    expected_purchases_90d double not null,
    expected_purchases_180d double not null,
    expected_average_order_value double,
    predicted_clv double,
    clv_horizon_days integer not null,
    purchase_method varchar not null,
    spend_method varchar not null,
    model_version varchar not null,
    as_of_date date not null,
    fitted_at timestamp not null
"""))


class RepeatBuyerConfig(dg.Config):
    # Fewer customers with a repeat purchase than this: no BG/NBD or Gamma-Gamma fit (four and
    # three parameters from a handful of repeaters is noise); the empirical fallback is used.
    min_repeat_buyers: int = 30
    # CLV: the next clv_horizon_days in clv_periods equal periods, each discounted at the dbt var
    # ltv_annual_discount_rate (not a config of its own: the 定期 LTV marts' rate, read per run).
    clv_horizon_days: int = 365
    clv_periods: int = 12
    # The holdout check warns when predicted holdout purchases miss the actual by more than
    # this share of the actual.
    holdout_tolerance: float = 0.5


def _fmt(v: float | None, spec: str = ".4g") -> str:
    return "-" if v is None else format(v, spec)


def metadata_for(result: "RepeatBuyerResult", calibration_end: date | None) -> dict:
    m = result.full_model
    full = result.parameters[0]
    meta: dict = {
        "model_version": full["model_version"],
        "customers": m.n_customers,
        "repeat_customers": m.n_repeat_customers,
        "purchase_method": m.purchase_method,
        "spend_method": m.spend_method,
        "parameters": dg.MetadataValue.md(
            "| fit | n | repeaters | r | alpha (days) | a | b | mean dropout | LL | p | q | gamma | LL (spend) |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
            + "\n".join(
                f"| {r['fit_kind']} (to {r['period_end_date']}) | {r['n_customers']} | {r['n_repeat_customers']} | "
                f"{_fmt(r['r'])} | {_fmt(r['alpha'])} | {_fmt(r['a'])} | {_fmt(r['b'])} | "
                f"{_fmt(r['mean_dropout_probability'], '.3f')} | {_fmt(r['bgnbd_log_likelihood'], '.1f')} | "
                f"{_fmt(r['p'])} | {_fmt(r['q'])} | {_fmt(r['gamma'])} | "
                f"{_fmt(r['gamma_gamma_log_likelihood'], '.1f')} |"
                for r in result.parameters if r["frequency_bucket"] == "all"
            )
        ),
    }
    if m.fallback_reason:
        meta["fallback_reason"] = m.fallback_reason
    notes = []
    if m.bgnbd is not None and not m.bgnbd.converged:
        notes.append("BG/NBD stopped at a boundary of the parameter space; with a and b very large "
                     "every customer has the same dropout probability after a purchase "
                     "(mean_dropout_probability), a valid limit of the model.")
    if m.gamma_gamma is not None and not m.gamma_gamma.converged:
        notes.append("Gamma-Gamma stopped at a boundary; with p very large a customer's order "
                     "values do not spread around their own mean, so the expected order value is "
                     "close to the customer's own mean.")
    if notes:
        meta["fit_notes"] = " ".join(notes)
    if result.holdout:
        meta["holdout"] = dg.MetadataValue.md(
            f"Calibration to {calibration_end}, holdout to {full['as_of_date']}; one-off purchase days.\n\n"
            "| calibration x | customers | predicted | actual | predicted / actual |\n|---|---|---|---|---|\n"
            + "\n".join(
                f"| {h['frequency_bucket']} | {h['holdout_customers']} | {h['holdout_predicted_purchases']:.1f} | "
                f"{h['holdout_actual_purchases']} | "
                f"{_fmt(h['holdout_predicted_purchases'] / h['holdout_actual_purchases'] if h['holdout_actual_purchases'] else None, '.2f')} |"
                for h in result.holdout
            )
        )
        overall = result.holdout[0]
        meta["holdout_predicted_purchases"] = round(overall["holdout_predicted_purchases"], 2)
        meta["holdout_actual_purchases"] = overall["holdout_actual_purchases"]
    return meta


def holdout_check(result: "RepeatBuyerResult", tolerance: float) -> dg.AssetCheckResult:
    if not result.holdout:
        return dg.AssetCheckResult(
            asset_key=PREDICTIONS_KEY, check_name=HOLDOUT_CHECK, passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description="No holdout check: nobody in the one-off population before the calibration end.",
        )
    overall = result.holdout[0]
    predicted, actual = overall["holdout_predicted_purchases"], overall["holdout_actual_purchases"]
    error = (predicted - actual) / actual if actual else (0.0 if predicted == 0 else math.inf)
    return dg.AssetCheckResult(
        asset_key=PREDICTIONS_KEY, check_name=HOLDOUT_CHECK, passed=abs(error) <= tolerance,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"predicted": round(predicted, 2), "actual": actual,
                  "relative_error": round(error, 4) if math.isfinite(error) else "inf",
                  "tolerance": tolerance},
    )


SUMMARY_QUERY = """
    select customer_key, source, repeat_purchases, days_first_to_last_purchase,
           days_since_first_purchase, average_repeat_purchase_value, first_purchase_revenue,
           holdout_repeat_purchases
    from intermediate.int_customers__repeat_purchase_summary
    where summary_kind = ?
"""


def build_repeat_buyer_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    @dg.multi_asset(
        name="repeat_buyer_model",
        specs=[
            dg.AssetSpec(PARAMETERS_KEY, deps=[SUMMARY_KEY], group_name="model_params",
                         description="BG/NBD and Gamma-Gamma parameters for one-off repeat buyers "
                                     "(full fit and calibration fit with its holdout check)."),
            dg.AssetSpec(PREDICTIONS_KEY, deps=[SUMMARY_KEY], group_name="model_params",
                         description="Per one-off customer: P(alive), expected purchases in 90 and "
                                     "180 days, expected order value and CLV."),
        ],
        check_specs=[dg.AssetCheckSpec(HOLDOUT_CHECK, asset=PREDICTIONS_KEY,
                                       description="Calibration fit's predicted one-off purchases in "
                                                   "the holdout are within holdout_tolerance of the actual.")],
        pool=WAREHOUSE_POOL,
    )
    def repeat_buyer_model(context: dg.AssetExecutionContext, config: RepeatBuyerConfig,
                           warehouse: WarehouseResource):
        from orchestration.modeling.repeat_buyers_fit import Summary, fit_repeat_buyers

        as_of = settings.business_date()
        # Read now, like every dbt call's vars: a rate changed in the settings file applies to this run.
        annual_discount_rate = float(effective_dbt_vars()[DISCOUNT_RATE_VAR])
        with warehouse.connect() as con:
            full = Summary.from_rows(con.execute(SUMMARY_QUERY, ["full"]).fetchall())
            calibration = Summary.from_rows(con.execute(SUMMARY_QUERY, ["calibration"]).fetchall())
            calibration_end = con.execute(
                "select max(period_end_date) from intermediate.int_customers__repeat_purchase_summary "
                "where summary_kind = 'calibration'").fetchone()[0]
            result = fit_repeat_buyers(full, calibration, calibration_end, as_of, config,
                                       annual_discount_rate=annual_discount_rate)
            # Both tables in one transaction: the mart never sees predictions of another fit.
            write_run(con, as_of, {PARAMETERS: result.parameters, PREDICTIONS: result.predictions})
        if result.full_model.fallback_reason:
            context.log.warning(f"repeat buyers: fallback in use: {result.full_model.fallback_reason}")
        meta = metadata_for(result, calibration_end)
        yield dg.MaterializeResult(asset_key=PARAMETERS_KEY, metadata=meta)
        yield dg.MaterializeResult(asset_key=PREDICTIONS_KEY, metadata={
            "customers": len(result.predictions),
            "model_version": meta["model_version"],
            "purchase_method": result.full_model.purchase_method,
            "spend_method": result.full_model.spend_method,
        })
        yield holdout_check(result, config.holdout_tolerance)

    return [repeat_buyer_model]
