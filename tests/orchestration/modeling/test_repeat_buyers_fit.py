"""BG/NBD and Gamma-Gamma maximum likelihood: published CDNOW reference fits, worked example,
closed-form cross-checks, edge cases and recovery of known parameters from simulated data."""

from __future__ import annotations

import csv
import importlib.metadata
import math

import numpy as np
import pytest

from orchestration.modeling.repeat_buyers_fit import (
    BgNbdParams,
    GammaGammaParams,
    bgnbd_log_likelihood,
    clv,
    expected_average_spend,
    expected_purchases,
    expected_purchases_new,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_log_likelihood,
    p_alive,
)

# Published fits on the CDNOW sample (2,357 customers, first purchase in Q1 1997, 39-week
# calibration period, time in weeks):
# - BG/NBD: Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way", Marketing
#   Science 24(2); also the note "Implementing the BG/NBD Model for Customer Base Analysis in
#   Excel" (brucehardie.com/notes/004).
# - Gamma-Gamma on the 946 customers with at least one repeat purchase: Fader & Hardie (2013),
#   "The Gamma-Gamma Model of Monetary Value" (brucehardie.com/notes/025).
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_BGNBD_LL = -9582.4
PUBLISHED_GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def _cdnow() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T, m_x) from the CDNOW summary shipped in the `lifetimes` wheel (dev dependency),
    read with csv: importing lifetimes itself would need pandas."""
    dist = importlib.metadata.distribution("lifetimes")
    summary = dist.locate_file("lifetimes/datasets/cdnow_customers_summary.csv")
    with open(summary, newline="") as fh:
        rows = list(csv.DictReader(fh))  # ID, frequency, recency, T
    # The twin file adds zbar, the mean value of the repeat transactions (m_x; 0 when x = 0).
    spend_file = dist.locate_file("lifetimes/datasets/cdnow_customers_summary_with_transactions.csv")
    with open(spend_file, newline="") as fh:
        spend = {r["ID"]: float(r["zbar"]) for r in csv.DictReader(fh)}
    x = np.array([int(r["frequency"]) for r in rows], dtype=float)
    t_x = np.array([float(r["recency"]) for r in rows])
    T = np.array([float(r["T"]) for r in rows])
    m_x = np.array([spend[r["ID"]] for r in rows])
    return x, t_x, T, m_x


@pytest.fixture(scope="module")
def cdnow():
    return _cdnow()


@pytest.fixture(scope="module")
def bgnbd_fit(cdnow):
    x, t_x, T, _ = cdnow
    return fit_bgnbd(x, t_x, T)


# ------------------------------------------------------------------------------------------
# Published reference fits
# ------------------------------------------------------------------------------------------

def test_cdnow_data_is_the_published_sample(cdnow):
    x, _, _, m_x = cdnow
    assert x.size == 2357
    assert int(np.sum(x > 0)) == 946
    assert np.all(m_x[x > 0] > 0) and np.all(m_x[x == 0] == 0)


def test_bgnbd_reproduces_published_cdnow_fit_within_half_a_percent(bgnbd_fit):
    got = bgnbd_fit.params
    for name, value in PUBLISHED_BGNBD.items():
        assert getattr(got, name) == pytest.approx(value, rel=0.005), name
    assert bgnbd_fit.log_likelihood == pytest.approx(PUBLISHED_BGNBD_LL, abs=0.1)
    assert bgnbd_fit.n == 2357 and bgnbd_fit.converged


def test_bgnbd_fit_is_a_maximum(cdnow, bgnbd_fit):
    x, t_x, T, _ = cdnow
    published = BgNbdParams(**PUBLISHED_BGNBD)
    ll_pub = bgnbd_log_likelihood(published, x, t_x, T)
    # The rounded published point is (just) worse than the fit, and close to it.
    assert ll_pub <= bgnbd_fit.log_likelihood + 1e-9
    assert ll_pub == pytest.approx(bgnbd_fit.log_likelihood, abs=0.01)
    # Nudging any parameter by 2% in either direction lowers the likelihood.
    p = bgnbd_fit.params
    for name in ("r", "alpha", "a", "b"):
        for f in (0.98, 1.02):
            moved = BgNbdParams(**{**p.__dict__, name: getattr(p, name) * f})
            assert bgnbd_log_likelihood(moved, x, t_x, T) < bgnbd_fit.log_likelihood


def test_gamma_gamma_reproduces_published_cdnow_fit_within_half_a_percent(cdnow):
    x, _, _, m_x = cdnow
    fit = fit_gamma_gamma(x, m_x)  # zero repeaters are dropped inside
    for name, value in PUBLISHED_GG.items():
        assert getattr(fit.params, name) == pytest.approx(value, rel=0.005), name
    assert fit.n == 946 and fit.converged
    ll_pub = gamma_gamma_log_likelihood(GammaGammaParams(**PUBLISHED_GG), x[x > 0], m_x[x > 0])
    assert ll_pub <= fit.log_likelihood + 1e-9
    assert ll_pub == pytest.approx(fit.log_likelihood, abs=0.01)
    # CLVTools reports -4055.92 for this fit (from unrounded spends; zbar here has 2 decimals).
    assert fit.log_likelihood == pytest.approx(-4055.92, abs=0.05)


def test_conditional_expectation_matches_the_papers_worked_example(bgnbd_fit):
    # Customer 1 of the sample: x = 2, t_x = 30.43, T = 38.86; expected purchases in the next
    # 39 weeks = 1.226 (Fader, Hardie & Lee 2005 and the Excel note).
    published = BgNbdParams(**PUBLISHED_BGNBD)
    assert expected_purchases(published, 39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=0.001)
    assert expected_purchases(bgnbd_fit.params, 39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=0.001)


# ------------------------------------------------------------------------------------------
# Closed forms against independent computations
# ------------------------------------------------------------------------------------------

def _hyp2f1_series(a: float, b: float, c: float, z: float, terms: int = 200000) -> float:
    """2F1 by its power series, as in the Excel note (converges for |z| < 1)."""
    term, total = 1.0, 1.0
    for j in range(1, terms):
        term *= (a + j - 1) * (b + j - 1) / ((c + j - 1) * j) * z
        total += term
        if abs(term) < 1e-15 * abs(total):
            break
    return total


def _eq10_by_series(p: BgNbdParams, t: float, x: int, t_x: float, T: float) -> float:
    r, al, a, b = p.r, p.alpha, p.a, p.b
    z = t / (al + T + t)
    bracket = (a + b + x - 1) / (a - 1) * (
        1 - ((al + T) / (al + T + t)) ** (r + x) * _hyp2f1_series(r + x, b + x, a + b + x - 1, z)
    )
    denom = 1 + (x > 0) * a / (b + x - 1) * ((al + T) / (al + t_x)) ** (r + x)
    return bracket / denom


@pytest.mark.parametrize(
    "params",
    [BgNbdParams(0.243, 4.414, 0.793, 2.426), BgNbdParams(1.5, 10.0, 2.5, 4.0), BgNbdParams(0.5, 0.3, 0.4, 0.9)],
)
@pytest.mark.parametrize("case", [(39.0, 2, 30.43, 38.86), (13.0, 0, 0.0, 20.0), (52.0, 7, 35.0, 38.0), (4.0, 1, 1.0, 10.0)])
def test_conditional_expectation_equals_the_series_form_of_eq_10(params, case):
    t, x, t_x, T = case
    assert expected_purchases(params, t, x, t_x, T) == pytest.approx(_eq10_by_series(params, t, x, t_x, T), rel=1e-8)


def test_unconditional_expectation_is_the_conditional_one_at_birth():
    p = BgNbdParams(0.243, 4.414, 0.793, 2.426)
    t = np.array([0.5, 1.0, 13.0, 39.0, 78.0, 520.0])
    assert expected_purchases_new(p, t) == pytest.approx(expected_purchases(p, t, 0, 0.0, 0.0), rel=1e-12)
    # Early on nobody has had the chance to drop out: the rate is E[lambda] = r / alpha.
    assert expected_purchases_new(p, 1e-4) / 1e-4 == pytest.approx(p.r / p.alpha, rel=1e-3)
    assert expected_purchases_new(p, 0.0) == 0.0


def test_a_equal_to_one_is_continuous():
    t = 39.0
    near = [expected_purchases(BgNbdParams(0.5, 5.0, a, 2.0), t, 3, 20.0, 38.0) for a in (0.999, 1.0, 1.001)]
    assert all(math.isfinite(v) for v in near)
    assert near[1] == pytest.approx(0.5 * (near[0] + near[2]), rel=1e-4)
    assert expected_purchases_new(BgNbdParams(0.5, 5.0, 1.0, 2.0), t) == pytest.approx(
        expected_purchases_new(BgNbdParams(0.5, 5.0, 1.0 + 1e-3, 2.0), t), rel=1e-3
    )


# ------------------------------------------------------------------------------------------
# Edge cases and monotonicity
# ------------------------------------------------------------------------------------------

P = BgNbdParams(0.243, 4.414, 0.793, 2.426)


def test_p_alive_edge_cases_and_monotonicity():
    # No repeat purchase: dropout happens only right after a purchase, so alive for sure.
    assert p_alive(P, 0, 0.0, 38.86) == 1.0
    assert p_alive(P, 0, 0.0, 1e6) == 1.0
    # More silence since the last purchase -> less likely alive; later last purchase -> more.
    by_T = p_alive(P, 3, 10.0, np.array([10.0, 20.0, 40.0, 80.0, 1e4]))
    assert np.all(np.diff(by_T) < 0) and by_T[0] == pytest.approx(1 / (1 + P.a / (P.b + 2)))
    by_tx = p_alive(P, 3, np.array([1.0, 10.0, 20.0, 30.0, 38.0]), 38.86)
    assert np.all(np.diff(by_tx) > 0)
    # Very old, long silent frequent buyer: essentially dead; finite, no overflow or warning.
    with np.errstate(all="raise"):
        assert 0.0 <= p_alive(P, 200, 1.0, 1e7) < 1e-12
    assert np.all((by_T >= 0) & (by_T <= 1))


def test_expected_purchases_monotone_and_bounded():
    t = np.array([0.0, 1.0, 4.0, 13.0, 26.0, 52.0, 104.0, 520.0])
    for x, t_x, T in [(0, 0.0, 38.86), (2, 30.43, 38.86), (10, 38.0, 38.86), (10, 2.0, 38.86)]:
        e = expected_purchases(P, t, x, t_x, T)
        assert e[0] == 0.0 and np.all(np.diff(e) > 0) and np.all(np.isfinite(e))
    # An active frequent buyer is expected to buy more than a lapsed one with the same frequency.
    assert expected_purchases(P, 39, 10, 38.0, 38.86) > 5 * expected_purchases(P, 39, 10, 2.0, 38.86)
    # Very large T / very long horizons stay finite (2F1 argument close to 1).
    for T in (1e3, 1e5):
        v = expected_purchases(P, 1e6, 5, 10.0, T)
        assert math.isfinite(v) and v >= 0
    assert math.isfinite(expected_purchases(P, 1e7, 0, 0.0, 1.0))
    # Zero repeaters who have been around a long time: low rate -> few expected purchases.
    assert expected_purchases(P, 39, 0, 0.0, 1e4) < expected_purchases(P, 39, 0, 0.0, 10.0)


def test_unconditional_expectation_grows_without_bound_only_slowly_when_a_below_one():
    # a < 1: infinitely many customers never die in expectation -> E[X(t)] grows without bound.
    e = expected_purchases_new(P, np.array([39.0, 78.0, 520.0, 5200.0]))
    assert np.all(np.diff(e) > 0) and np.all(np.isfinite(e))
    # a > 1: E[X(t)] converges to a finite limit.
    q = BgNbdParams(1.0, 5.0, 3.0, 2.0)
    far = expected_purchases_new(q, np.array([1e4, 1e6]))
    assert far[1] == pytest.approx(far[0], rel=0.02)


def test_input_validation():
    with pytest.raises(ValueError):
        p_alive(P, 1, 40.0, 38.0)  # t_x > T
    with pytest.raises(ValueError):
        p_alive(P, 0, 3.0, 38.0)  # no repeat but a last-repeat time
    with pytest.raises(ValueError):
        expected_purchases(P, -1.0, 1, 1.0, 2.0)
    with pytest.raises(ValueError):
        fit_gamma_gamma([0, 0], [0.0, 0.0])
    with pytest.raises(ValueError):
        expected_average_spend(GammaGammaParams(2.0, 0.9, 1.0), 1, 10.0)


def test_fit_does_not_depend_on_the_time_unit(cdnow, bgnbd_fit):
    x, t_x, T, _ = cdnow
    days = fit_bgnbd(x, 7 * t_x, 7 * T)
    assert days.params.alpha == pytest.approx(7 * bgnbd_fit.params.alpha, rel=1e-4)
    for name in ("r", "a", "b"):
        assert getattr(days.params, name) == pytest.approx(getattr(bgnbd_fit.params, name), rel=1e-4)
    # Densities of event times pick up the Jacobian: one factor 1/7 per repeat purchase.
    assert days.log_likelihood == pytest.approx(bgnbd_fit.log_likelihood - x.sum() * math.log(7), abs=1e-3)


# ------------------------------------------------------------------------------------------
# Spend and CLV
# ------------------------------------------------------------------------------------------

G = GammaGammaParams(**PUBLISHED_GG)


def test_expected_average_spend_is_a_weighted_average():
    pop = G.gamma * G.p / (G.q - 1)
    assert expected_average_spend(G, 0, 0.0) == pytest.approx(pop)
    for x, m in [(1, 10.0), (2, 22.35), (10, 100.0)]:
        w = G.p * x / (G.p * x + G.q - 1)
        assert expected_average_spend(G, x, m) == pytest.approx(w * m + (1 - w) * pop)
    # More transactions -> more weight on the customer's own mean.
    e = expected_average_spend(G, np.array([1, 2, 5, 50]), 100.0)
    assert np.all(np.diff(e) > 0) and e[-1] < 100.0


def test_clv_discounting():
    args = {"x": 2, "t_x": 30.43, "T": 38.86, "m_x": 22.35, "periods": 12, "period_length": 52 / 12}
    undiscounted = clv(P, G, discount_rate=0.0, **args)
    assert undiscounted == pytest.approx(
        expected_average_spend(G, 2, 22.35) * expected_purchases(P, 52.0, 2, 30.43, 38.86), rel=1e-9
    )
    discounted = clv(P, G, discount_rate=0.01, **args)
    assert 0 < discounted < undiscounted
    assert clv(P, G, discount_rate=0.01, margin=0.3, **args) == pytest.approx(0.3 * discounted)
    # Vectorised over customers; lapsed customers are worth less than active ones.
    v = clv(P, G, np.array([2, 2]), np.array([30.43, 2.0]), 38.86, np.array([22.35, 22.35]), 12, 52 / 12, 0.01)
    assert v.shape == (2,) and v[0] > v[1] > 0
    # Horizon zero is worth nothing.
    assert clv(P, G, 2, 30.43, 38.86, 22.35, 0, 52 / 12, 0.01) == 0.0


# ------------------------------------------------------------------------------------------
# Recovery of known parameters from simulated data
# ------------------------------------------------------------------------------------------

def _simulate_bgnbd(p: BgNbdParams, n: int, rng: np.random.Generator):
    lam = rng.gamma(p.r, 1.0 / p.alpha, n)
    drop = rng.beta(p.a, p.b, n)
    T = rng.uniform(26.0, 52.0, n)  # staggered first purchases, weeks
    x = np.zeros(n)
    t_x = np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1.0 / lam[i])
            if t > T[i]:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < drop[i]:  # dropout right after a (repeat) purchase
                break
    return x, t_x, T


def test_bgnbd_recovers_simulated_parameters():
    true = BgNbdParams(0.5, 5.0, 0.8, 3.0)
    x, t_x, T = _simulate_bgnbd(true, 6000, np.random.default_rng(20260401))
    fit = fit_bgnbd(x, t_x, T)
    assert fit.converged and fit.n == 6000
    assert fit.params.r == pytest.approx(true.r, rel=0.1)
    assert fit.params.alpha == pytest.approx(true.alpha, rel=0.15)
    assert fit.params.a == pytest.approx(true.a, rel=0.25)
    assert fit.params.b == pytest.approx(true.b, rel=0.25)
    # The fitted model predicts the simulated total number of repeat purchases.
    predicted = float(np.sum(expected_purchases_new(fit.params, T)))
    assert predicted == pytest.approx(x.sum(), rel=0.03)


def test_gamma_gamma_recovers_simulated_parameters():
    true = GammaGammaParams(4.0, 5.0, 2000.0)  # yen-like scale
    rng = np.random.default_rng(11)
    n = 4000
    nu = rng.gamma(true.q, 1.0 / true.gamma, n)
    x = rng.integers(1, 8, n).astype(float)
    m_x = rng.gamma(true.p * x, 1.0 / nu) / x
    fit = fit_gamma_gamma(x, m_x)
    assert fit.converged and fit.n == n
    assert fit.params.p == pytest.approx(true.p, rel=0.1)
    assert fit.params.q == pytest.approx(true.q, rel=0.2)
    assert fit.params.gamma == pytest.approx(true.gamma, rel=0.25)
    # Population mean spend gamma p / (q - 1) is what matters for new customers.
    assert expected_average_spend(fit.params, 0, 0.0) == pytest.approx(true.gamma * true.p / (true.q - 1), rel=0.05)


def test_degenerate_data_is_flagged_not_converged():
    # Nobody ever repeats: the rate heads to zero and the dropout parameters are unidentified.
    fit = fit_bgnbd(np.zeros(50), np.zeros(50), np.linspace(1.0, 50.0, 50))
    assert not fit.converged
