"""BG/NBD purchase model and Gamma-Gamma spend model for one-off repeat buyers (単品リピート).

Plain Python (numpy/scipy), no Dagster, no pandas. The Dagster asset (repeat_buyers.py) reads the
purchase summary and writes the tables; everything between is here: the two models' maths, then
the repeat-buyer model built on them (fits with their empirical fallback, predictions, holdout).

BG/NBD -- Fader, Hardie & Lee (2005), "'Counting Your Customers' the Easy Way: An Alternative to
the Pareto/NBD Model", Marketing Science 24(2). While alive, a customer buys at a Poisson rate
lambda ~ Gamma(r, alpha) (shape r, rate alpha); after every repeat purchase she drops out with
probability p ~ Beta(a, b). Each customer is summarised by (x, t_x, T): x repeat purchases
(purchases after the first one), t_x the time of the last repeat purchase (0 when x = 0), T her
age, i.e. the time from the first purchase to the end of observation; all in the same time unit
(the paper uses weeks). Individual likelihood (from the paper, in the form of Fader & Hardie's note
"Overcoming the BG/NBD Model's #NUM! Error Problem", 2013):

    L = B(a, b + x) / B(a, b) * Gamma(r + x) alpha^r / Gamma(r)
        * [ (alpha + T)^-(r+x) + 1{x > 0} * a / (b + x - 1) * (alpha + t_x)^-(r+x) ]

evaluated here in logs with gammaln/betaln and a log-sum-exp of the two bracketed terms, so
neither large x nor large T overflows.

Gamma-Gamma -- Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for Customer Base
Analysis", JMR 42(4); Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value". Each
transaction value is Gamma(p, nu); nu ~ Gamma(q, gamma) across customers; spend is assumed
independent of the purchase process. Fitted on customers with x >= 1 repeat transactions from
(x, m_x), m_x the mean value of those x transactions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from typing import Protocol

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, expit, gammaln, hyp2f1, logsumexp

MODEL_VERSION = "bgnbd-gg-mle-1"

ArrayLike = float | Sequence[float] | np.ndarray


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class BgNbdFit:
    params: BgNbdParams
    log_likelihood: float
    n: int  # customers in the likelihood
    converged: bool


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    gamma: float


@dataclass(frozen=True)
class GammaGammaFit:
    params: GammaGammaParams
    log_likelihood: float
    n: int  # customers with x >= 1 (and m_x > 0) in the likelihood
    converged: bool


# --------------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------------

def _rft(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T)))
    if np.any(x < 0) or np.any(x != np.floor(x)):
        raise ValueError("x (repeat transactions) must be non-negative integers")
    if np.any(t_x < 0) or np.any(t_x > T + 1e-9):
        raise ValueError("need 0 <= t_x <= T")
    if np.any((x == 0) & (t_x != 0)):
        raise ValueError("t_x must be 0 when x = 0")
    return x, t_x, T


def _scalar_or_array(v: np.ndarray) -> float | np.ndarray:
    return float(v) if np.ndim(v) == 0 else v


# --------------------------------------------------------------------------------------------
# BG/NBD
# --------------------------------------------------------------------------------------------

def bgnbd_log_likelihood_individual(
    params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> np.ndarray:
    """log L for each customer (see the module docstring)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, T = _rft(x, t_x, T)
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)
    term_alive = -(r + x) * np.log(alpha + T)
    has_repeat = x > 0
    # For x = 0 the second term is absent: give it weight 0 in the log-sum-exp. b + x - 1 > 0
    # whenever x >= 1, so the logs are finite where they count.
    bx1 = np.where(has_repeat, b + x - 1.0, 1.0)
    term_dead = np.log(a) - np.log(bx1) - (r + x) * np.log(alpha + t_x)
    stacked = np.stack([term_alive, term_dead])
    weights = np.stack([np.ones_like(x), has_repeat.astype(float)])
    return common + logsumexp(stacked, axis=0, b=weights)


def bgnbd_log_likelihood(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> float:
    """Sample log-likelihood."""
    return float(np.sum(bgnbd_log_likelihood_individual(params, x, t_x, T)))


def _compress(*cols: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Unique rows and their counts: many customers share (x, t_x, T) (e.g. x = 0)."""
    stacked = np.column_stack(cols)
    uniq, counts = np.unique(stacked, axis=0, return_counts=True)
    return [uniq[:, i] for i in range(uniq.shape[1])], counts.astype(float)


def _minimize_log_space(nll, starts: Sequence[Sequence[float]]):
    """L-BFGS-B from several starts in log-parameter space, then a Nelder-Mead polish of the best
    and a final L-BFGS-B from the polished point. Returns (result, converged)."""
    best = None
    for start in starts:
        res = minimize(nll, np.asarray(start, dtype=float), method="L-BFGS-B",
                       bounds=[(-15.0, 15.0)] * len(start),
                       options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-8})
        if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
            best = res
    if best is None:
        raise RuntimeError("likelihood not finite at any starting point")
    # Capped at 2,000 evaluations: on a boundary fit (a, b -> infinity) the simplex never meets
    # its tolerances and ran to 40,000 (7 s at 10k customers) for the same likelihood to 1e-4;
    # the L-BFGS-B step after it finishes the job either way.
    polish = minimize(nll, best.x, method="Nelder-Mead",
                      options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 2000, "maxfev": 2000})
    point = polish.x if polish.fun <= best.fun else best.x
    final = minimize(nll, point, method="L-BFGS-B", bounds=[(-15.0, 15.0)] * len(point),
                     options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-8})
    if not (final.fun <= min(best.fun, polish.fun) + 1e-9):
        final = polish if polish.fun <= best.fun else best
    # Converged: the log-likelihood is flat at the optimum (central-difference gradient in
    # log-parameter space: below 0.01, i.e. a 1% move of any parameter changes the
    # log-likelihood by less than 1e-4) and no parameter is pinned at the log-space bound
    # (a degenerate fit, e.g. a -> 0 or b -> infinity).
    h = 1e-5
    grad = np.array([(nll(final.x + h * e) - nll(final.x - h * e)) / (2 * h) for e in np.eye(len(final.x))])
    at_bound = bool(np.any(np.abs(final.x) >= 15.0 - 1e-6))
    converged = bool(np.all(np.isfinite(grad)) and np.max(np.abs(grad)) < 1e-2 and not at_bound)
    return final, converged


def fit_bgnbd(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> BgNbdFit:
    """Maximum-likelihood (r, alpha, a, b), optimised on the log scale from several starts."""
    x, t_x, T = _rft(x, t_x, T)
    x, t_x, T = (np.atleast_1d(v) for v in (x, t_x, T))
    n = int(x.size)
    if n == 0:
        raise ValueError("no customers to fit")
    (ux, ut, uT), w = _compress(x, t_x, T)
    # Work in a time unit where the oldest customer is 1 old: alpha then lives near 1 whatever
    # the caller's unit (days or weeks), which keeps the starts meaningful. alpha scales back.
    scale = float(np.max(uT)) or 1.0
    ut_s, uT_s = ut / scale, uT / scale

    def nll(theta: np.ndarray) -> float:
        r, alpha, a, b = np.exp(theta)
        ll = bgnbd_log_likelihood_individual(BgNbdParams(r, alpha, a, b), ux, ut_s, uT_s)
        v = -float(np.dot(w, ll))
        return v if math.isfinite(v) else 1e300

    starts = [[0.0, 0.0, 0.0, 0.0], [-1.0, -2.0, -0.5, 0.5], [0.5, 1.0, 0.5, 1.5], [-1.5, -3.0, 1.0, 2.0]]
    res, converged = _minimize_log_space(nll, starts)
    r, alpha_s, a, b = (float(v) for v in np.exp(res.x))
    params = BgNbdParams(r=r, alpha=alpha_s * scale, a=a, b=b)
    return BgNbdFit(params=params, log_likelihood=bgnbd_log_likelihood(params, x, t_x, T), n=n,
                    converged=converged)


def p_alive(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> float | np.ndarray:
    """P(alive at T | x, t_x, T) (from the paper):
    1 / (1 + 1{x > 0} * a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x)).
    A customer with no repeat purchase cannot have dropped out yet (dropout follows purchases)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, T = _rft(x, t_x, T)
    has_repeat = x > 0
    bx1 = np.where(has_repeat, b + x - 1.0, 1.0)
    log_odds_dead = np.log(a) - np.log(bx1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return _scalar_or_array(np.where(has_repeat, expit(-log_odds_dead), 1.0))


def _one_minus_g_over_a_minus_1(r: float, a: float, b: float, x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """(a + b + x - 1)/(a - 1) * [1 - (1 - z)^(r + x) * 2F1(r + x, b + x; a + b + x - 1; z)].

    This is the bracket shared by the unconditional expectation (x = 0, z = t/(alpha + t)) and
    the numerator of the conditional one (paper eq. 10, z = t/(alpha + T + t)); in the paper the
    factor (1 - z)^(r+x) is written ((alpha + T)/(alpha + T + t))^(r + x).

    Domain guard: the Gaussian hypergeometric series converges for |z| < 1, and here
    0 <= z < 1 by construction (t >= 0, alpha > 0), which is the form the paper prescribes.
    As z -> 1 (horizon much longer than alpha + T) the series converges slowly and 2F1 itself
    grows like (1 - z)^(a - 1 - r - x), so the product is evaluated through Euler's
    transformation, which is exact and well conditioned:
        (1 - z)^(r+x) 2F1(r+x, b+x; c; z) = (1 - z)^(a-1) 2F1(a+b-1-r, a-1; c; z),  c = a+b+x-1.
    The direct form is kept as a fallback if scipy returns a non-finite value. At a = 1 the ratio
    is 0/0 (a removable singularity); it is then taken as the average of a = 1 +- h.
    """
    if abs(a - 1.0) < 1e-6:
        h = 1e-4
        return 0.5 * (_one_minus_g_over_a_minus_1(r, 1.0 + h, b, x, z)
                      + _one_minus_g_over_a_minus_1(r, 1.0 - h, b, x, z))
    if np.any(z < 0) or np.any(z >= 1):
        raise ValueError("hypergeometric argument must lie in [0, 1)")
    c = a + b + x - 1.0
    euler = np.exp((a - 1.0) * np.log1p(-z)) * hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
    direct = np.exp((r + x) * np.log1p(-z)) * hyp2f1(r + x, b + x, c, z)
    g = np.where(np.isfinite(euler), euler, direct)
    if not np.all(np.isfinite(g)):
        raise FloatingPointError("2F1 could not be evaluated for these parameters")
    return c / (a - 1.0) * (1.0 - g)


def expected_purchases_new(params: BgNbdParams, t: ArrayLike) -> float | np.ndarray:
    """E[X(t)]: expected repeat purchases in (0, t] of a customer who made the first purchase
    at 0 (from the paper): (a + b - 1)/(a - 1) * [1 - (alpha/(alpha + t))^r 2F1(r, b; a+b-1; t/(alpha+t))]."""
    t = np.asarray(t, dtype=float)
    if np.any(t < 0):
        raise ValueError("t must be >= 0")
    z = t / (params.alpha + t)
    out = _one_minus_g_over_a_minus_1(params.r, params.a, params.b, np.zeros_like(t), z)
    return _scalar_or_array(np.where(t == 0, 0.0, out))


def expected_purchases(
    params: BgNbdParams, t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> float | np.ndarray:
    """E[Y(t) | x, t_x, T]: expected purchases in (T, T + t] (paper eq. 10)

        (a + b + x - 1)/(a - 1) * [1 - ((alpha + T)/(alpha + T + t))^(r+x)
                                       * 2F1(r + x, b + x; a + b + x - 1; t/(alpha + T + t))]
        / (1 + 1{x > 0} * a/(b + x - 1) * ((alpha + T)/(alpha + t_x))^(r + x)),

    i.e. P(alive) times the bracketed term."""
    x, t_x, T = _rft(x, t_x, T)
    t = np.asarray(t, dtype=float)
    if np.any(t < 0):
        raise ValueError("t must be >= 0")
    t, x, t_x, T = np.broadcast_arrays(t, x, t_x, T)
    z = t / (params.alpha + T + t)
    bracket = _one_minus_g_over_a_minus_1(params.r, params.a, params.b, x, z)
    out = np.asarray(p_alive(params, x, t_x, T)) * bracket
    return _scalar_or_array(np.where(t == 0, 0.0, out))


# --------------------------------------------------------------------------------------------
# Gamma-Gamma
# --------------------------------------------------------------------------------------------

def _xm(x: ArrayLike, m_x: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x, m_x = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(m_x, dtype=float))
    if np.any(x < 0) or np.any(x != np.floor(x)):
        raise ValueError("x must be non-negative integers")
    if np.any(m_x < 0):
        raise ValueError("m_x must be >= 0 (returns/refunds net out before modelling)")
    return x, m_x


def gamma_gamma_log_likelihood_individual(
    params: GammaGammaParams, x: ArrayLike, m_x: ArrayLike
) -> np.ndarray:
    """log f(m_x | p, q, gamma; x) for customers with x >= 1 and m_x > 0 (note 025):

        f = Gamma(px + q) / (Gamma(px) Gamma(q)) * gamma^q (m_x x)^(px - 1) x / (gamma + m_x x)^(px + q)

    (the density of the mean; the trailing x is the Jacobian from the total x m_x to the mean)."""
    p, q, g = params.p, params.q, params.gamma
    x, m_x = _xm(x, m_x)
    px = p * x
    total = m_x * x
    return (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(g) + (px - 1.0) * np.log(total)
            + np.log(x) - (px + q) * np.log(g + total))


def gamma_gamma_log_likelihood(params: GammaGammaParams, x: ArrayLike, m_x: ArrayLike) -> float:
    return float(np.sum(gamma_gamma_log_likelihood_individual(params, x, m_x)))


def fit_gamma_gamma(x: ArrayLike, m_x: ArrayLike) -> GammaGammaFit:
    """Maximum-likelihood (p, q, gamma) on the customers with x >= 1 and m_x > 0 (others are
    dropped: zero repeaters carry no repeat-spend information)."""
    x, m_x = _xm(x, m_x)
    x, m_x = np.atleast_1d(x), np.atleast_1d(m_x)
    keep = (x >= 1) & (m_x > 0)
    x, m_x = x[keep], m_x[keep]
    n = int(x.size)
    if n == 0:
        raise ValueError("no repeat customers with positive spend to fit")
    # Money in units of the median spend: gamma scales with the currency (yen vs dollars).
    scale = float(np.median(m_x))

    def nll(theta: np.ndarray) -> float:
        p, q, g = np.exp(theta)
        v = -gamma_gamma_log_likelihood(GammaGammaParams(p, q, g), x, m_x / scale)
        return v if math.isfinite(v) else 1e300

    starts = [[0.0, 0.0, 0.0], [1.5, 1.0, 0.5], [0.5, 2.0, 2.0], [2.0, 0.5, -0.5]]
    res, converged = _minimize_log_space(nll, starts)
    p, q, g_s = (float(v) for v in np.exp(res.x))
    params = GammaGammaParams(p=p, q=q, gamma=g_s * scale)
    return GammaGammaFit(params=params, log_likelihood=gamma_gamma_log_likelihood(params, x, m_x),
                         n=n, converged=converged)


def expected_average_spend(params: GammaGammaParams, x: ArrayLike, m_x: ArrayLike) -> float | np.ndarray:
    """E[M | p, q, gamma, m_x, x] = (gamma + m_x x) p / (p x + q - 1) (note 025): a weighted
    average of the population mean gamma p / (q - 1) and the customer's own mean m_x, with weight
    p x / (p x + q - 1) on m_x. With x = 0 it is the population mean. Needs q > 1."""
    if params.q <= 1:
        raise ValueError("q <= 1: the population mean spend is infinite")
    x, m_x = _xm(x, m_x)
    m_x = np.where(x == 0, 0.0, m_x)  # no repeat purchase: no own evidence
    p, q, g = params.p, params.q, params.gamma
    return _scalar_or_array((g + m_x * x) * p / (p * x + q - 1.0))


def clv(
    bgnbd: BgNbdParams,
    gamma_gamma: GammaGammaParams,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    m_x: ArrayLike,
    periods: int,
    period_length: float,
    discount_rate: float,
    margin: float = 1.0,
) -> float | np.ndarray:
    """Discounted expected value of future purchases over `periods` periods of `period_length`
    time units (the unit of t_x and T: e.g. 30 days per period for a monthly discount rate).

    Simple per-period discounting: the expected purchases in period k,
        E[Y(k L) | x, t_x, T] - E[Y((k - 1) L) | x, t_x, T],
    are valued at the Gamma-Gamma expected average spend times `margin` and discounted by
    (1 + discount_rate)^k, i.e. as if paid at the end of period k:

        CLV = margin * E[M] * sum_{k=1..periods} (E[Y(kL)] - E[Y((k-1)L)]) / (1 + d)^k.

    With discount_rate = 0 this is margin * E[M] * E[Y(periods * L)]. Spend and purchase count
    are independent by the Gamma-Gamma assumption, so the product of expectations is exact.
    """
    if periods < 0 or period_length <= 0 or discount_rate <= -1:
        raise ValueError("need periods >= 0, period_length > 0, discount_rate > -1")
    x, t_x, T = _rft(x, t_x, T)
    spend = np.asarray(expected_average_spend(gamma_gamma, x, m_x), dtype=float)
    total = np.zeros(np.broadcast(x, spend).shape)
    previous = np.zeros_like(total)
    for k in range(1, periods + 1):
        cumulative = np.asarray(expected_purchases(bgnbd, k * period_length, x, t_x, T), dtype=float)
        total = total + (cumulative - previous) / (1.0 + discount_rate) ** k
        previous = cumulative
    return _scalar_or_array(margin * spend * total)


# ------------------------------------------------------------------------------------------
# The repeat-buyer model: the purchase summary, both fits with their fallback, predictions and
# the holdout table, as rows of model_params.repeat_buyer_parameters / _predictions (the asset,
# repeat_buyers.py, reads the summary and writes them).
# ------------------------------------------------------------------------------------------

class ModelSettings(Protocol):
    """What the model needs of the asset's config (repeat_buyers.RepeatBuyerConfig)."""

    min_repeat_buyers: int
    clv_horizon_days: int
    clv_periods: int


# The horizons: what a CRM plan for the next quarter and half-year needs.
HORIZONS_DAYS = (90, 180)
# Calibration frequency buckets of the holdout table, as in Fader, Hardie & Lee (2005), fig. 3.
TOP_BUCKET = 7

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
    bgnbd: BgNbdFit | None
    gamma_gamma: GammaGammaFit | None
    empirical_rate: float  # repeat purchase days per day of customer age, pooled
    empirical_spend: float | None  # pooled mean repeat spend (yen); None with no purchase at all

    def p_alive(self, s: Summary) -> np.ndarray | None:

        if self.bgnbd is None:
            return None
        return np.asarray(p_alive(self.bgnbd.params, s.x, s.t_x, s.T), dtype=float)

    def expected_purchases(self, t: float, s: Summary) -> np.ndarray:

        if self.bgnbd is None:
            return np.full(s.n, self.empirical_rate * t)
        # At a boundary fit (a, b very large) the Euler form of 2F1 underflows and
        # _one_minus_g_over_a_minus_1 switches to the direct form; numpy's warning about the discarded branch is noise.
        with np.errstate(invalid="ignore", over="ignore", under="ignore", divide="ignore"):
            return np.asarray(expected_purchases(self.bgnbd.params, t, s.x, s.t_x, s.T), dtype=float)

    def expected_spend(self, s: Summary) -> np.ndarray:

        if self.gamma_gamma is None:
            return np.full(s.n, np.nan if self.empirical_spend is None else self.empirical_spend)
        return np.asarray(expected_average_spend(self.gamma_gamma.params, s.x, s.m_x), dtype=float)

    def clv(self, s: Summary, horizon_days: int, periods: int, annual_discount_rate: float) -> np.ndarray:
        """sum over periods k of (E[Y(kL)] - E[Y((k-1)L)]) / (1 + d)^k times the expected spend,
        L = horizon / periods days, d = the annual rate compounded over L (clv()'s rule)."""
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


def _parameter_row(model: RepeatBuyerModel, fit_kind: str, period_end: date, config: ModelSettings,
                   annual_discount_rate: float, common: dict) -> dict:
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
        "clv_annual_discount_rate": annual_discount_rate,
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
    config: ModelSettings,
    *,
    annual_discount_rate: float,
    fitted_at: datetime | None = None,
) -> RepeatBuyerResult:
    """Both fits, the holdout table and the per-customer predictions, as rows of the two
    model_params tables. annual_discount_rate: the dbt var ltv_annual_discount_rate in force
    (the asset reads it; no default here, so the 定期 LTV marts and the CLV share one rate)."""

    fitted_at = fitted_at or datetime.now(timezone.utc).replace(tzinfo=None)
    common = {"model_version": MODEL_VERSION, "as_of_date": as_of, "fitted_at": fitted_at}
    model = fit_model(full, config.min_repeat_buyers, max(*HORIZONS_DAYS, config.clv_horizon_days))
    parameters = [_parameter_row(model, "full", as_of, config, annual_discount_rate, common)]

    calibration_model, holdout = None, []
    if calibration is not None and calibration.n and calibration_end is not None:
        holdout_days = (as_of - calibration_end).days
        calibration_model = fit_model(calibration, config.min_repeat_buyers, holdout_days)
        base = _parameter_row(calibration_model, "calibration", calibration_end, config,
                              annual_discount_rate, common)
        holdout = holdout_table(calibration_model, calibration, holdout_days)
        parameters += [{**base, **h, "holdout_days": holdout_days} for h in holdout]

    p_alive = model.p_alive(full)
    horizon = {t: model.expected_purchases(t, full) for t in HORIZONS_DAYS}
    spend = model.expected_spend(full)
    clv = model.clv(full, config.clv_horizon_days, config.clv_periods, annual_discount_rate)
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
