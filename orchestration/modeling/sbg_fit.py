"""Shifted-beta-geometric (sBG) retention model: likelihood, maximum-likelihood fit, projections.

Plain Python (numpy/scipy), no Dagster: Fader & Hardie (2007), "How to Project Customer
Retention", Journal of Interactive Marketing 21(1).

Each subscriber has a constant churn probability theta per renewal opportunity; theta is
Beta(alpha, beta) distributed across subscribers. With T the period at which a subscriber churns
(T = 1 means lost at the first renewal opportunity):

    P(T = 1) = alpha / (alpha + beta)
    P(T = t) = P(T = t - 1) * (beta + t - 2) / (alpha + beta + t - 1)      t >= 2
    S(t)     = P(T > t) = B(alpha, beta + t) / B(alpha, beta),  S(0) = 1

Mapping onto 定期 deliveries: delivery 1 is period 0 (everyone who started has it); reaching
delivery n means surviving n - 1 renewals, so the survival to delivery n is S(n - 1). A
subscription cancelled after d deliveries churned at period d: it contributes log P(T = d). A
subscription still alive (active or paused) after d deliveries is right-censored: it survived
d - 1 renewals and contributes log S(d - 1). Ignoring that censoring (treating only cancelled
subscriptions, or counting the living as lost) biases theta upwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln

MODEL_VERSION = "sbg-mle-1"


@dataclass(frozen=True)
class SbgFit:
    alpha: float
    beta: float
    log_likelihood: float
    n: int  # subscribers in the likelihood
    churned: int  # of which churn was observed (uncensored)
    converged: bool
    # Fit quality: largest absolute gap between fitted and empirical (Kaplan-Meier) survival over
    # the observed periods, in survival points (0.01 = 1 point).
    max_abs_survival_error: float
    # Likelihood-ratio statistic against the saturated (Kaplan-Meier) model; small is good.
    lr_statistic: float


def churn_probabilities(alpha: float, beta: float, periods: int) -> np.ndarray:
    """P(T = t) for t = 1..periods."""
    t = np.arange(1, periods + 1, dtype=float)
    return np.exp(betaln(alpha + 1.0, beta + t - 1.0) - betaln(alpha, beta))


def survival(alpha: float, beta: float, periods: int) -> np.ndarray:
    """S(t) for t = 0..periods (S(0) = 1)."""
    t = np.arange(0, periods + 1, dtype=float)
    return np.exp(betaln(alpha, beta + t) - betaln(alpha, beta))


def log_likelihood(
    alpha: float, beta: float, churned_at: Mapping[int, int], alive_after: Mapping[int, int]
) -> float:
    """Log-likelihood of counts: churned_at[t] subscribers lost at period t (t >= 1);
    alive_after[t] subscribers known alive after t periods, fate unknown (t >= 0)."""
    ll = 0.0
    for t, k in churned_at.items():
        if k:
            ll += k * (betaln(alpha + 1.0, beta + t - 1.0) - betaln(alpha, beta))
    for t, k in alive_after.items():
        if k:
            ll += k * (betaln(alpha, beta + t) - betaln(alpha, beta))
    return float(ll)


def counts_from_survivors(survivors: Sequence[float]) -> tuple[dict[int, int], dict[int, int]]:
    """Aggregate survivor counts at periods 0..k (e.g. 1000, 631, ...) -> (churned_at, alive_after)."""
    churned = {t: survivors[t - 1] - survivors[t] for t in range(1, len(survivors))}
    return churned, {len(survivors) - 1: survivors[-1]}


def counts_from_deliveries(
    histories: Iterable[tuple[int, bool]], truncate_at_delivery: int | None = None
) -> tuple[dict[int, int], dict[int, int]]:
    """Subscription histories (deliveries received, still alive) -> (churned_at, alive_after).

    Cancelled after d deliveries: churned at period d. Alive after d deliveries: alive after
    period d - 1 (right-censored). With truncate_at_delivery k, only deliveries 1..k are seen:
    anything that reached delivery k is alive after period k - 1 whatever happened later
    (calibration fit for checking projections against later actuals). Histories with fewer than
    one delivery are ignored.
    """
    churned: dict[int, int] = {}
    alive: dict[int, int] = {}
    for deliveries, is_alive in histories:
        if deliveries < 1:
            continue
        if truncate_at_delivery is not None and deliveries >= truncate_at_delivery:
            alive[truncate_at_delivery - 1] = alive.get(truncate_at_delivery - 1, 0) + 1
        elif is_alive:
            alive[deliveries - 1] = alive.get(deliveries - 1, 0) + 1
        else:
            churned[deliveries] = churned.get(deliveries, 0) + 1
    return churned, alive


def kaplan_meier(churned_at: Mapping[int, int], alive_after: Mapping[int, int]) -> np.ndarray:
    """Empirical survival S(t), t = 0..max period seen, with right-censoring (product-limit)."""
    horizon = max([*churned_at, *alive_after, 0])
    s = np.ones(horizon + 1)
    for t in range(1, horizon + 1):
        # At risk at period t: churned at >= t, or alive after >= t.
        at_risk = sum(k for u, k in churned_at.items() if u >= t) + sum(
            k for u, k in alive_after.items() if u >= t
        )
        lost = churned_at.get(t, 0)
        s[t] = s[t - 1] * (1.0 - lost / at_risk) if at_risk else s[t - 1]
    return s


def fit_sbg(churned_at: Mapping[int, int], alive_after: Mapping[int, int]) -> SbgFit:
    """Maximum-likelihood alpha, beta (optimised on the log scale, several starts)."""
    # In period order: the likelihood is a float sum, so counts taken in the order the rows came
    # (the warehouse's scan order, which varies from build to build) would move the optimum in
    # its 8th digit and make the same subscriptions give a different fit (and LTV) on a re-run.
    churned_at = {int(t): int(k) for t, k in sorted(churned_at.items()) if k}
    alive_after = {int(t): int(k) for t, k in sorted(alive_after.items()) if k}
    n = sum(churned_at.values()) + sum(alive_after.values())
    if n == 0:
        raise ValueError("no subscribers to fit")

    def nll(x: np.ndarray) -> float:
        a, b = np.exp(np.clip(x, -12.0, 12.0))
        return -log_likelihood(a, b, churned_at, alive_after)

    best = None
    for start in ([0.0, 0.0], [-1.0, 1.0], [1.0, 2.0], [-2.0, -1.0]):
        res = minimize(nll, np.array(start), method="Nelder-Mead",
                       options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000, "maxfev": 40000})
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None
    alpha, beta = (float(v) for v in np.exp(best.x))
    ll = -float(best.fun)

    km = kaplan_meier(churned_at, alive_after)
    fitted = survival(alpha, beta, len(km) - 1)
    # Saturated model: a free churn probability per period (the Kaplan-Meier hazards).
    ll_sat = 0.0
    for t in range(1, len(km)):
        at_risk = sum(k for u, k in churned_at.items() if u >= t) + sum(k for u, k in alive_after.items() if u >= t)
        lost = churned_at.get(t, 0)
        if at_risk and 0 < lost < at_risk:
            h = lost / at_risk
            ll_sat += lost * np.log(h) + (at_risk - lost) * np.log1p(-h)
    return SbgFit(
        alpha=alpha,
        beta=beta,
        log_likelihood=ll,
        n=n,
        churned=sum(churned_at.values()),
        converged=bool(best.success),
        max_abs_survival_error=float(np.max(np.abs(fitted - km))),
        lr_statistic=float(max(0.0, 2.0 * (ll_sat - ll))),
    )


def discounted_expected_lifetime(alpha: float, beta: float, discount: float, periods: int = 2000) -> float:
    """DEL: sum over t >= 0 of S(t) / (1 + d)^t, in 'payments' (multiply by value per period)."""
    s = survival(alpha, beta, periods)
    return float(np.sum(s / (1.0 + discount) ** np.arange(periods + 1)))


def discounted_expected_residual_lifetime(
    alpha: float, beta: float, discount: float, renewals: int, periods: int = 2000
) -> float:
    """DERL for someone alive after `renewals` periods, counting the next payment one period out:
    sum over t > renewals of [S(t) / S(renewals)] / (1 + d)^(t - renewals)."""
    s = survival(alpha, beta, renewals + periods)
    t = np.arange(renewals + 1, renewals + periods + 1)
    return float(np.sum(s[t] / s[renewals] / (1.0 + discount) ** (t - renewals)))
