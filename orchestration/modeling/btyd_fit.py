"""BG/NBD purchase model and Gamma-Gamma spend model for one-off repeat buyers (単品リピート).

Plain Python (numpy/scipy), no Dagster, no pandas.

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
from dataclasses import dataclass

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
