"""sBG maximum likelihood: Fader & Hardie (2007) reference fits, censoring, DEL/DERL."""

from __future__ import annotations

import math

import numpy as np
import pytest

from orchestration.modeling.sbg_fit import (
    counts_from_deliveries,
    counts_from_survivors,
    discounted_expected_lifetime,
    discounted_expected_residual_lifetime,
    fit_sbg,
    kaplan_meier,
    log_likelihood,
    survival,
)

# Fader & Hardie (2007), "How to Project Customer Retention": survivors of 1000 customers at the
# start of years 0..7, and the published maximum-likelihood estimates fitted on years 1-7.
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]
PUBLISHED = {"regular": (0.704, 1.182, -1680.3), "high_end": (0.668, 3.806, -1611.2)}


@pytest.mark.parametrize("name,survivors", [("regular", REGULAR), ("high_end", HIGH_END)])
def test_reproduces_published_fit_within_half_a_percent(name, survivors):
    fit = fit_sbg(*counts_from_survivors(survivors))
    alpha, beta, ll = PUBLISHED[name]
    assert fit.alpha == pytest.approx(alpha, rel=0.005)
    assert fit.beta == pytest.approx(beta, rel=0.005)
    assert fit.log_likelihood == pytest.approx(ll, abs=0.1)
    assert fit.n == 1000 and fit.converged


def test_mle_is_a_maximum_on_an_independent_grid():
    churned, alive = counts_from_survivors(REGULAR)
    fit = fit_sbg(churned, alive)
    # Brute-force grid around the optimum: nothing beats the fitted point.
    grid = [(a, b) for a in np.linspace(0.5, 0.9, 81) for b in np.linspace(0.9, 1.5, 121)]
    best = max(grid, key=lambda ab: log_likelihood(ab[0], ab[1], churned, alive))
    assert log_likelihood(*best, churned, alive) <= fit.log_likelihood + 1e-9
    assert best[0] == pytest.approx(fit.alpha, abs=0.006)
    assert best[1] == pytest.approx(fit.beta, abs=0.006)


def test_survival_matches_the_recursion():
    a, b = 0.704, 1.182
    s = survival(a, b, 10)
    p, s_rec = a / (a + b), 1.0 - a / (a + b)
    assert s[0] == 1.0 and s[1] == pytest.approx(s_rec)
    for t in range(2, 11):
        p *= (b + t - 2) / (a + b + t - 1)
        s_rec -= p
        assert s[t] == pytest.approx(s_rec)


def test_projection_of_the_regular_cohort_is_close_to_the_data():
    fit = fit_sbg(*counts_from_survivors(REGULAR))
    projected = 1000 * survival(fit.alpha, fit.beta, 7)
    assert np.max(np.abs(projected - np.array(REGULAR))) < 10  # within 1% of the cohort


def test_right_censoring_counts_the_living_as_survivors():
    # 3 cancelled after 1 delivery, 1 after 2; 4 still alive after 2 deliveries.
    hist = [(1, False)] * 3 + [(2, False)] + [(2, True)] * 4
    churned, alive = counts_from_deliveries(hist)
    assert churned == {1: 3, 2: 1} and alive == {1: 4}
    # Treating the living as lost (no censoring) would say everyone churns: a much higher churn.
    censored = fit_sbg(churned, alive)
    naive = fit_sbg({1: 3, 2: 5}, {})
    assert censored.alpha / (censored.alpha + censored.beta) < naive.alpha / (naive.alpha + naive.beta)


def test_truncation_sees_only_the_first_k_deliveries():
    hist = [(1, False), (3, False), (5, False), (6, True), (2, True)]
    churned, alive = counts_from_deliveries(hist, truncate_at_delivery=3)
    assert churned == {1: 1} and alive == {2: 3, 1: 1}


def test_kaplan_meier_without_censoring_is_the_survivor_share():
    km = kaplan_meier(*counts_from_survivors(REGULAR))
    assert km == pytest.approx(np.array(REGULAR) / 1000)


def test_del_and_derl_closed_forms():
    a, b, d = 0.704, 1.182, 0.1
    # DEL = 2F1(1, b; a + b; 1 / (1 + d)) (Fader & Hardie 2010); evaluate the series directly.
    z, term, series = 1 / (1 + d), 1.0, 1.0
    for k in range(1, 5000):
        term *= (b + k - 1) / (a + b + k - 1) * z
        series += term
    assert discounted_expected_lifetime(a, b, d, 5000) == pytest.approx(series, rel=1e-6)
    # Undiscounted, alpha > 1, at sign-up: sum of S(t) for t >= 1 = E[T] - 1 = beta / (alpha - 1).
    derl = discounted_expected_residual_lifetime(2.5, 3.0, 0.0, renewals=0, periods=20000)
    assert derl == pytest.approx((3.0) / (2.5 - 1), rel=1e-3)
    assert math.isfinite(derl)


def test_the_fit_does_not_depend_on_the_order_the_subscriptions_come_in():
    # The asset reads marts.subscriptions without an order (its scan order varies from build to
    # build): the same subscriptions must give the same parameters to the last digit, or a
    # re-run of the day changes every LTV and value at risk.
    rng = np.random.default_rng(7)
    histories = [(int(d), bool(a)) for d, a in zip(rng.geometric(0.3, 300).clip(1, 40), rng.random(300) < 0.6)]
    fits = set()
    for seed in range(8):
        shuffled = [histories[i] for i in np.random.default_rng(seed).permutation(len(histories))]
        fit = fit_sbg(*counts_from_deliveries(shuffled))
        fits.add((fit.alpha, fit.beta, fit.log_likelihood, fit.lr_statistic))
    assert len(fits) == 1, fits
