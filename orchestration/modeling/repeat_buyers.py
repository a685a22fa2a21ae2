"""BG/NBD + Gamma-Gamma for one-off repeat buyers (単品リピート): the non-contractual twin of the
subscription hazard model.

Reads `intermediate.int_customers__repeat_purchase_summary` (x, t_x, T in days and m_x per
customer; the population and the purchase definition live there, once), fits both models by
maximum likelihood (btyd_fit.py) and writes two tables in one transaction:

- `model_params.repeat_buyer_parameters`: the fitted parameters, log-likelihoods and sizes of
  the 'full' fit (as of the business date) and of the 'calibration' fit (as of the calibration
  end), the latter with the holdout check: predicted against actual one-off purchases between
  the calibration end and the business date, overall and per calibration frequency bucket.
- `model_params.repeat_buyer_predictions`: one row per customer of the full summary: P(alive),
  expected purchases in the next 90 and 180 days, expected average order value and CLV.

Too few repeat buyers to fit (or a fit that cannot be used) falls back to pooled empirical
figures: a constant repeat rate (repeat purchase days per day of customer age) and the pooled
mean repeat spend; P(alive) is then NULL, and `purchase_method` / `spend_method` say which.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone

import dagster as dg
import numpy as np

from orchestration.modeling.params_writer import ParamsTable, columns, write_run
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from orchestration.settings import Settings

PARAMETERS_KEY = dg.AssetKey(["model_params", "repeat_buyer_parameters"])
PREDICTIONS_KEY = dg.AssetKey(["model_params", "repeat_buyer_predictions"])
SUMMARY_KEY = dg.AssetKey(["intermediate", "int_customers__repeat_purchase_summary"])
HOLDOUT_CHECK = "holdout_purchases_within_tolerance"

# The issue's horizons: what a CRM plan for the next quarter and half-year needs.
HORIZONS_DAYS = (90, 180)
# Calibration frequency buckets of the holdout table, as in Fader, Hardie & Lee (2005), fig. 3.
TOP_BUCKET = 7

# Declared once: the DDL comes from here and tests/modeling/test_params_tables.py keeps them equal
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
    # CLV: the next clv_horizon_days in clv_periods equal periods, each discounted at the annual
    # rate (the same 10% as the dbt var ltv_annual_discount_rate of the 定期 LTV marts).
    clv_horizon_days: int = 365
    clv_periods: int = 12
    clv_annual_discount_rate: float = 0.10
    # The holdout check warns when predicted holdout purchases miss the actual by more than
    # this share of the actual.
    holdout_tolerance: float = 0.5


@dataclass(frozen=True)
class Summary:
    """The columns of one summary kind, sorted by customer_key (a fit never depends on row order)."""

    customer_key: list[str]
    source: list[str]
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    m_x: np.ndarray  # 0 where x = 0 (no repeat spend observed)
    first_purchase_revenue: np.ndarray
    holdout_purchases: np.ndarray | None  # calibration only

    @property
    def n(self) -> int:
        return len(self.customer_key)

    @classmethod
    def from_rows(cls, rows: Sequence[tuple]) -> "Summary":
        """rows: (customer_key, source, x, t_x, T, m_x or None, first_purchase_revenue, holdout or None)."""
        rows = sorted(rows, key=lambda r: r[0])
        for r in rows:
            key, _, x, t_x, T = r[:5]
            if x is None or t_x is None or T is None or x < 0 or not (0 <= t_x <= T) or (x == 0 and t_x != 0):
                raise ValueError(f"customer {key}: inconsistent purchase summary x={x}, t_x={t_x}, T={T}")
        col = list(zip(*rows)) if rows else [()] * 8
        holdout = None if not rows or rows[0][7] is None else np.array(col[7], dtype=float)
        return cls(
            customer_key=list(col[0]),
            source=list(col[1]),
            x=np.array(col[2], dtype=float),
            t_x=np.array(col[3], dtype=float),
            T=np.array(col[4], dtype=float),
            m_x=np.array([m or 0.0 for m in col[5]], dtype=float),
            first_purchase_revenue=np.array(col[6], dtype=float),
            holdout_purchases=holdout,
        )


@dataclass(frozen=True)
class RepeatBuyerModel:
    """A fitted (or fallen-back) purchase model and spend model, able to predict for customers."""

    purchase_method: str  # 'bgnbd' or 'empirical_rate'
    spend_method: str  # 'gamma_gamma' or 'empirical_mean'
    fallback_reason: str | None
    n_customers: int
    n_repeat_customers: int
    n_spend_customers: int
    bgnbd: object | None  # btyd_fit.BgNbdFit
    gamma_gamma: object | None  # btyd_fit.GammaGammaFit
    empirical_rate: float  # repeat purchase days per day of customer age, pooled
    empirical_spend: float | None  # pooled mean repeat spend (yen); None with no purchase at all

    def p_alive(self, s: Summary) -> np.ndarray | None:
        from orchestration.modeling.btyd_fit import p_alive

        if self.bgnbd is None:
            return None
        return np.asarray(p_alive(self.bgnbd.params, s.x, s.t_x, s.T), dtype=float)

    def expected_purchases(self, t: float, s: Summary) -> np.ndarray:
        from orchestration.modeling.btyd_fit import expected_purchases

        if self.bgnbd is None:
            return np.full(s.n, self.empirical_rate * t)
        # At a boundary fit (a, b very large) the Euler form of 2F1 underflows and btyd_fit
        # switches to the direct form; numpy's warning about the discarded branch is noise.
        with np.errstate(invalid="ignore", over="ignore", under="ignore", divide="ignore"):
            return np.asarray(expected_purchases(self.bgnbd.params, t, s.x, s.t_x, s.T), dtype=float)

    def expected_spend(self, s: Summary) -> np.ndarray:
        from orchestration.modeling.btyd_fit import expected_average_spend

        if self.gamma_gamma is None:
            return np.full(s.n, np.nan if self.empirical_spend is None else self.empirical_spend)
        return np.asarray(expected_average_spend(self.gamma_gamma.params, s.x, s.m_x), dtype=float)

    def clv(self, s: Summary, horizon_days: int, periods: int, annual_discount_rate: float) -> np.ndarray:
        """sum over periods k of (E[Y(kL)] - E[Y((k-1)L)]) / (1 + d)^k times the expected spend,
        L = horizon / periods days, d = the annual rate compounded over L (btyd_fit.clv's rule)."""
        length = horizon_days / periods
        rate = (1.0 + annual_discount_rate) ** (length / 365.0) - 1.0
        discounted = np.zeros(s.n)
        previous = np.zeros(s.n)
        for k in range(1, periods + 1):
            cumulative = self.expected_purchases(k * length, s)
            discounted += (cumulative - previous) / (1.0 + rate) ** k
            previous = cumulative
        return discounted * self.expected_spend(s)


def fit_model(s: Summary, min_repeat_buyers: int, check_horizon_days: float = max(HORIZONS_DAYS)) -> RepeatBuyerModel:
    """check_horizon_days: the longest horizon the caller will predict over; a BG/NBD fit whose
    predictions there are not finite is not used."""
    from orchestration.modeling.btyd_fit import fit_bgnbd, fit_gamma_gamma

    repeaters = s.x > 0
    spenders = repeaters & (s.m_x > 0)
    n_repeat, n_spend = int(repeaters.sum()), int(spenders.sum())
    total_age = float(s.T.sum())
    empirical_rate = float(s.x.sum()) / total_age if total_age > 0 else 0.0
    repeat_days = float(s.x.sum())
    if repeat_days > 0:
        empirical_spend: float | None = float(np.dot(s.x, s.m_x)) / repeat_days
    elif s.n:
        empirical_spend = float(s.first_purchase_revenue.mean())
    else:
        empirical_spend = None

    reasons: list[str] = []
    bgnbd = gamma_gamma = None
    if n_repeat < min_repeat_buyers:
        reasons.append(f"{n_repeat} repeat buyers, fewer than min_repeat_buyers ({min_repeat_buyers}): no BG/NBD fit")
    else:
        try:
            bgnbd = fit_bgnbd(s.x, s.t_x, s.T)
        except (ValueError, RuntimeError, FloatingPointError) as exc:
            reasons.append(f"BG/NBD fit failed: {exc}")
    if n_spend < min_repeat_buyers:
        reasons.append(f"{n_spend} repeat buyers with spend, fewer than min_repeat_buyers "
                       f"({min_repeat_buyers}): no Gamma-Gamma fit")
    else:
        try:
            gamma_gamma = fit_gamma_gamma(s.x, s.m_x)
            if gamma_gamma.params.q <= 1:
                reasons.append("Gamma-Gamma q <= 1 (infinite population mean spend)")
                gamma_gamma = None
        except (ValueError, RuntimeError, FloatingPointError) as exc:
            reasons.append(f"Gamma-Gamma fit failed: {exc}")
    model = RepeatBuyerModel(
        purchase_method="bgnbd" if bgnbd is not None else "empirical_rate",
        spend_method="gamma_gamma" if gamma_gamma is not None else "empirical_mean",
        fallback_reason="; ".join(reasons) or None,
        n_customers=s.n, n_repeat_customers=n_repeat, n_spend_customers=n_spend,
        bgnbd=bgnbd, gamma_gamma=gamma_gamma,
        empirical_rate=empirical_rate, empirical_spend=empirical_spend,
    )
    if bgnbd is not None:
        # A fit whose predictions are not finite is unusable: say so and fall back.
        try:
            ok = bool(np.all(np.isfinite(model.expected_purchases(check_horizon_days, s))))
        except FloatingPointError:
            ok = False
        if not ok:
            return replace(model, purchase_method="empirical_rate", bgnbd=None,
                           fallback_reason="; ".join([*reasons, "BG/NBD predictions not finite"]))
    return model


def frequency_bucket(x: float) -> str:
    return f"{TOP_BUCKET}+" if x >= TOP_BUCKET else str(int(x))


def holdout_table(model: RepeatBuyerModel, calibration: Summary, holdout_days: int) -> list[dict]:
    """Predicted vs actual one-off purchases in the holdout, 'all' first, then per bucket of the
    calibration frequency x (non-empty buckets only)."""
    predicted = model.expected_purchases(holdout_days, calibration)
    actual = calibration.holdout_purchases
    assert actual is not None
    buckets = np.array([frequency_bucket(v) for v in calibration.x])
    order = ["all"] + [b for b in [*map(str, range(TOP_BUCKET)), f"{TOP_BUCKET}+"] if (buckets == b).any()]
    rows = []
    for b in order:
        sel = np.ones(calibration.n, dtype=bool) if b == "all" else buckets == b
        rows.append({
            "frequency_bucket": b,
            "holdout_customers": int(sel.sum()),
            "holdout_predicted_purchases": float(predicted[sel].sum()),
            "holdout_actual_purchases": int(actual[sel].sum()),
        })
    return rows


def _parameter_row(model: RepeatBuyerModel, fit_kind: str, period_end: date, config: RepeatBuyerConfig,
                   common: dict) -> dict:
    bg = model.bgnbd.params if model.bgnbd is not None else None
    gg = model.gamma_gamma.params if model.gamma_gamma is not None else None
    if gg is not None:
        mean_spend = gg.p * gg.gamma / (gg.q - 1.0)
    else:
        mean_spend = model.empirical_spend
    return {
        "fit_kind": fit_kind,
        "frequency_bucket": "all",
        "period_end_date": period_end,
        "time_unit": "day",
        "purchase_method": model.purchase_method,
        "spend_method": model.spend_method,
        "fallback_reason": model.fallback_reason,
        "n_customers": model.n_customers,
        "n_repeat_customers": model.n_repeat_customers,
        "r": bg.r if bg else None,
        "alpha": bg.alpha if bg else None,
        "a": bg.a if bg else None,
        "b": bg.b if bg else None,
        "mean_dropout_probability": bg.a / (bg.a + bg.b) if bg else None,
        "bgnbd_log_likelihood": model.bgnbd.log_likelihood if bg else None,
        "bgnbd_converged": model.bgnbd.converged if bg else None,
        "p": gg.p if gg else None,
        "q": gg.q if gg else None,
        "gamma": gg.gamma if gg else None,
        "gamma_gamma_log_likelihood": model.gamma_gamma.log_likelihood if gg else None,
        "gamma_gamma_converged": model.gamma_gamma.converged if gg else None,
        "n_spend_customers": model.n_spend_customers,
        "empirical_repeat_rate_per_day": model.empirical_rate if bg is None else None,
        "mean_spend": mean_spend,
        "holdout_days": None,
        "holdout_customers": None,
        "holdout_predicted_purchases": None,
        "holdout_actual_purchases": None,
        "clv_horizon_days": config.clv_horizon_days,
        "clv_periods": config.clv_periods,
        "clv_annual_discount_rate": config.clv_annual_discount_rate,
        **common,
    }


@dataclass(frozen=True)
class RepeatBuyerResult:
    parameters: list[dict]
    predictions: list[dict]
    full_model: RepeatBuyerModel
    calibration_model: RepeatBuyerModel | None
    holdout: list[dict]  # empty without a calibration population


def fit_repeat_buyers(
    full: Summary,
    calibration: Summary | None,
    calibration_end: date | None,
    as_of: date,
    config: RepeatBuyerConfig,
    fitted_at: datetime | None = None,
) -> RepeatBuyerResult:
    from orchestration.modeling.btyd_fit import MODEL_VERSION

    fitted_at = fitted_at or datetime.now(timezone.utc).replace(tzinfo=None)
    common = {"model_version": MODEL_VERSION, "as_of_date": as_of, "fitted_at": fitted_at}
    model = fit_model(full, config.min_repeat_buyers, max(*HORIZONS_DAYS, config.clv_horizon_days))
    parameters = [_parameter_row(model, "full", as_of, config, common)]

    calibration_model, holdout = None, []
    if calibration is not None and calibration.n and calibration_end is not None:
        holdout_days = (as_of - calibration_end).days
        calibration_model = fit_model(calibration, config.min_repeat_buyers, holdout_days)
        base = _parameter_row(calibration_model, "calibration", calibration_end, config, common)
        holdout = holdout_table(calibration_model, calibration, holdout_days)
        parameters += [{**base, **h, "holdout_days": holdout_days} for h in holdout]

    p_alive = model.p_alive(full)
    horizon = {t: model.expected_purchases(t, full) for t in HORIZONS_DAYS}
    spend = model.expected_spend(full)
    clv = model.clv(full, config.clv_horizon_days, config.clv_periods, config.clv_annual_discount_rate)
    predictions = [
        {
            "customer_key": full.customer_key[i],
            "source": full.source[i],
            "repeat_purchases": int(full.x[i]),
            "days_first_to_last_purchase": int(full.t_x[i]),
            "days_since_first_purchase": int(full.T[i]),
            "average_repeat_purchase_value": float(full.m_x[i]) if full.x[i] > 0 else None,
            "p_alive": None if p_alive is None else float(p_alive[i]),
            "expected_purchases_90d": float(horizon[90][i]),
            "expected_purchases_180d": float(horizon[180][i]),
            "expected_average_order_value": _finite_or_none(spend[i]),
            "predicted_clv": _finite_or_none(clv[i]),
            "clv_horizon_days": config.clv_horizon_days,
            "purchase_method": model.purchase_method,
            "spend_method": model.spend_method,
            **common,
        }
        for i in range(full.n)
    ]
    return RepeatBuyerResult(parameters, predictions, model, calibration_model, holdout)


def _finite_or_none(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _fmt(v: float | None, spec: str = ".4g") -> str:
    return "-" if v is None else format(v, spec)


def metadata_for(result: RepeatBuyerResult, calibration_end: date | None) -> dict:
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


def holdout_check(result: RepeatBuyerResult, tolerance: float) -> dg.AssetCheckResult:
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
        as_of = settings.business_date()
        with warehouse.connect() as con:
            full = Summary.from_rows(con.execute(SUMMARY_QUERY, ["full"]).fetchall())
            calibration = Summary.from_rows(con.execute(SUMMARY_QUERY, ["calibration"]).fetchall())
            calibration_end = con.execute(
                "select max(period_end_date) from intermediate.int_customers__repeat_purchase_summary "
                "where summary_kind = 'calibration'").fetchone()[0]
            result = fit_repeat_buyers(full, calibration, calibration_end, as_of, config)
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
