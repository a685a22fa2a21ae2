"""解約予兆 hazard model: the penalized logistic fit, the metrics, the baselines, the time split."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit
from scipy.stats import mannwhitneyu, rankdata

from orchestration.modeling.churn_hazard_fit import (
    INTERCEPT,
    METHOD_FALLBACK,
    METHOD_LOGISTIC,
    METRICS,
    SCORER_FLOW,
    SCORER_MODEL,
    SCORER_RECENCY,
    SEGMENTS,
    FitSettings,
    FlowHazardBaseline,
    RecencyRuleBaseline,
    Snapshots,
    average_precision,
    average_ranks,
    brier,
    calibration_table,
    delivery_segment,
    fit_logistic,
    isotonic_increasing,
    penalized_nll,
    roc_auc,
    run_hazard_model,
    standardization,
    time_split,
    top_decile_lift,
)

AS_OF = date(2026, 11, 23)


def synthetic_snapshots(n: int = 20000, seed: int = 0, as_of: date = AS_OF, signal: float = 1.0) -> Snapshots:
    """Opportunity rows over three years whose cancellations depend on the features, the
    delivery number and a recent cancel signal; labels resolve 1-120 days after the snapshot."""
    rng = np.random.default_rng(seed)
    x = np.column_stack([
        rng.normal(size=n),
        rng.poisson(0.4, n).astype(float),
        rng.binomial(1, 0.3, n).astype(float),
        rng.normal(size=n),  # pure noise
    ])
    number = rng.integers(1, 16, n)
    eta = -2.2 + signal * (0.9 * x[:, 0] + 0.6 * x[:, 1] - 0.7 * x[:, 2]) + np.where(number == 2, 1.2, 0.0)
    y = (rng.random(n) < expit(eta)).astype(float)
    end = np.datetime64(as_of.isoformat(), "D")
    snapshot = end - rng.integers(1, 1095, n).astype("timedelta64[D]")
    resolved = snapshot + rng.integers(1, 121, n).astype("timedelta64[D]")
    label = np.where(resolved <= end, y, np.nan)
    resolved = np.where(np.isnan(label), np.datetime64("NaT"), resolved).astype("datetime64[D]")
    has_signal = rng.random(n) < 0.1 + 0.3 * y
    signal_date = np.where(has_signal, snapshot - rng.integers(1, 90, n).astype("timedelta64[D]"),
                           np.datetime64("NaT")).astype("datetime64[D]")
    return Snapshots(
        subscription_id=np.array([f"csv/S{i:06d}" for i in range(n)], dtype=object),
        product_id=rng.choice(["csv/T-A", "csv/T-B", "csv/T-C"], n).astype(object),
        delivery_number=number,
        snapshot_date=snapshot,
        label=label,
        label_resolved_date=resolved,
        last_cancel_signal_date=signal_date,
        features=np.column_stack([x, np.log(number), (number == 2).astype(float)]),
        feature_names=("f_a", "f_b", "f_c", "f_noise", "f_log_delivery_number", "f_delivery_2"),
    )


# --- logistic fit --------------------------------------------------------------------------------

def test_newton_fit_matches_scipy_minimize_of_the_same_objective():
    rng = np.random.default_rng(1)
    n = 3000
    x = np.column_stack([rng.normal(3, 2, n), rng.poisson(1.0, n), rng.binomial(1, 0.2, n), np.full(n, 5.0)])
    y = (rng.random(n) < expit(-1 + 0.4 * x[:, 0] - 0.5 * x[:, 1] + 0.8 * x[:, 2] - 1.2)).astype(float)
    lam = 7.5
    fit = fit_logistic(x, y, ["f_a", "f_b", "f_c", "f_const"], lam)
    center, scale = standardization(x)
    z = (x - center) / scale

    def objective(b):
        return penalized_nll(b[0], b[1:], z, y, lam)

    ref = minimize(objective, np.zeros(5), method="BFGS", options={"gtol": 1e-9, "maxiter": 10000})
    assert fit.converged
    assert fit.objective == pytest.approx(ref.fun, rel=1e-9, abs=1e-9)
    assert fit.objective <= ref.fun + 1e-7
    np.testing.assert_allclose([fit.intercept, *fit.coef], ref.x, atol=1e-4)
    assert fit.coef[3] == 0.0 and fit.scale[3] == 1.0  # constant column: no information
    # The penalty binds: an unpenalized fit has larger coefficients.
    free = fit_logistic(x, y, ["f_a", "f_b", "f_c", "f_const"], 0.0)
    assert np.sum(free.coef ** 2) > np.sum(fit.coef ** 2)


def test_recovers_known_coefficients():
    rng = np.random.default_rng(2)
    n = 200_000
    x = np.column_stack([rng.normal(10, 3, n), rng.exponential(2.0, n), rng.binomial(1, 0.4, n)])
    true = np.array([0.25, -0.4, 0.9])  # per raw unit
    intercept = -1.5 - true @ np.array([10, 2.0, 0.4])
    y = (rng.random(n) < expit(intercept + x @ true)).astype(float)
    fit = fit_logistic(x, y, ["f_a", "f_b", "f_c"], l2_penalty=1.0)
    raw = fit.coef / fit.scale  # back to raw units
    np.testing.assert_allclose(raw, true, rtol=0.05)
    raw_intercept = fit.intercept - np.sum(fit.coef * fit.center / fit.scale)
    assert raw_intercept == pytest.approx(intercept, abs=0.08)
    p = fit.predict(x)
    assert p.mean() == pytest.approx(y.mean(), abs=1e-6)  # intercept unpenalized: mean matched


def test_fit_refuses_a_single_outcome():
    with pytest.raises(ValueError, match="both outcomes"):
        fit_logistic(np.ones((5, 1)), np.zeros(5), ["f_a"], 1.0)


# --- metrics -------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_auc_equals_mann_whitney_with_ties(seed):
    rng = np.random.default_rng(seed)
    y = rng.binomial(1, 0.2, 500).astype(float)
    score = rng.integers(0, 6, 500) + y * rng.integers(0, 2, 500)  # many ties
    u = mannwhitneyu(score[y == 1], score[y == 0]).statistic
    assert roc_auc(y, score) == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()), abs=1e-12)
    assert roc_auc(y, -score) == pytest.approx(1 - roc_auc(y, score), abs=1e-12)
    assert roc_auc(y, np.zeros(500)) == 0.5


def test_roc_auc_undefined_with_one_class():
    assert roc_auc(np.zeros(4), np.arange(4.0)) is None


def test_average_precision_hand_computed():
    y = np.array([1, 0, 1, 0, 0.0])
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    # recall steps 0.5 at precision 1, then 0.5 at precision 2/3
    assert average_precision(y, s) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    # a tie at the top is one threshold: precision 1/2 there, not 1
    y2 = np.array([1, 0, 1, 0.0])
    s2 = np.array([0.9, 0.9, 0.5, 0.1])
    assert average_precision(y2, s2) == pytest.approx(0.5 * 0.5 + 0.5 * 2 / 3)
    # a constant score gives the base rate
    assert average_precision(y, np.zeros(5)) == pytest.approx(0.4)


def test_top_decile_lift_hand_computed():
    y = np.array([1, 0] + [0] * 15 + [1, 1, 1.0])  # 20 rows, 4 events: base rate 0.2
    s = np.arange(20.0)[::-1]  # first rows score highest
    # top 2 rows: one event -> rate 0.5 -> lift 2.5
    assert top_decile_lift(y, s) == pytest.approx(2.5)
    # top 2 rows hold two events -> lift 5
    assert top_decile_lift(y, np.arange(20.0)) == pytest.approx(5.0)
    # ties straddling the boundary count pro rata: 10 rows, k = 1, the top two tie, one event
    y3 = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 0.0])
    s3 = np.array([5, 5, 1, 1, 1, 1, 1, 1, 1, 1.0])
    assert top_decile_lift(y3, s3) == pytest.approx((0.5 / 1) / 0.2)
    # constant score: lift 1
    assert top_decile_lift(y3, np.zeros(10)) == pytest.approx(1.0)


def test_brier_and_calibration_hand_computed():
    assert brier(np.array([1, 0.0]), np.array([0.8, 0.3])) == pytest.approx((0.04 + 0.09) / 2)
    y = np.array([0, 0, 1, 0, 1, 1.0])
    p = np.array([0.1, 0.1, 0.4, 0.4, 0.9, 0.8])
    table = calibration_table(y, p, bins=3)
    assert table == [
        (1, 2, pytest.approx(0.1), 0.0),
        (2, 2, pytest.approx(0.4), 0.5),
        (3, 2, pytest.approx(0.85), 1.0),
    ]
    # tied probabilities never split across bins
    tied = calibration_table(np.array([0, 1, 0, 1.0]), np.array([0.2, 0.2, 0.2, 0.7]), bins=2)
    assert [(b, n) for b, n, _, _ in tied] == [(1, 3), (2, 1)]


def test_average_ranks_match_scipy():
    values = np.random.default_rng(7).integers(0, 20, 300).astype(float)
    np.testing.assert_allclose(average_ranks(values), rankdata(values))


def test_delivery_segments():
    assert list(delivery_segment(np.array([1, 2, 3, 4, 6, 7, 30]))) == [
        "delivery_1", "delivery_2", "delivery_3", "delivery_4_6", "delivery_4_6", "delivery_7_plus",
        "delivery_7_plus"]


# --- baselines -----------------------------------------------------------------------------------

def test_flow_hazard_pools_thin_cells_by_delivery_number():
    cells = [("A", 1, 40, 8), ("B", 1, 5, 5), ("A", 2, 35, 7), ("A", 9, 3, 1), ("A", 12, 2, 2)]
    product = np.array([p for p, _, rows, _ in cells for _ in range(rows)], dtype=object)
    number = np.array([k for _, k, rows, _ in cells for _ in range(rows)])
    y = np.array([float(i < ev) for _, _, rows, ev in cells for i in range(rows)])
    base = FlowHazardBaseline.fit(product, number, y, min_cell_rows=30)
    # deliveries >= 9 have 5 rows, >= 2 have 40: one tail group from delivery 2 on
    assert base.tail_from == 2
    got = base.predict(np.array(["A", "B", "C", "A", "B"], dtype=object), np.array([1, 1, 1, 2, 40]))
    # A x 1 has 40 rows: its own rate; B x 1 has 5: delivery 1 pooled over products (13 / 45);
    # an unseen product too; A x 2+ is 40 rows with 10 cancellations; B x 40 reads delivery 2+
    np.testing.assert_allclose(got, [8 / 40, 13 / 45, 13 / 45, 10 / 40, 10 / 40])
    thin = FlowHazardBaseline.fit(product, number, y, min_cell_rows=1000)
    assert thin.predict(np.array(["A"], dtype=object), np.array([2]))[0] == pytest.approx(23 / 85)


def test_isotonic_matches_hand_pooling():
    np.testing.assert_allclose(isotonic_increasing(np.array([0.1, 0.3, 0.2, 0.5]), np.array([1, 1, 3, 1.0])),
                               [0.1, 0.225, 0.225, 0.5])


def test_recency_rule_ranks_recent_signals_highest_and_none_lowest():
    days = np.array([np.nan, 1, 3, 30, 400, np.nan, 2, 60])
    y = np.array([0, 1, 1, 0, 0, 0, 1, 1.0])
    rule = RecencyRuleBaseline.fit(days, y)
    s = RecencyRuleBaseline.score(np.array([1, 5, 200, 365, 900, np.nan]))
    assert list(np.argsort(-s)) == [0, 1, 2, 3, 4, 5]
    assert s[3] == s[4]  # older than a year counts as a year
    p = rule.predict(np.array([np.nan, 500, 100, 10, 1]))
    assert np.all(np.diff(p) >= 0)  # probability never reverses the rule's order


# --- split, run, fallback ------------------------------------------------------------------------

def test_split_never_trains_on_an_outcome_after_the_cutoff():
    snap = synthetic_snapshots(20000, seed=3)
    settings = FitSettings(label_maturity_days=90, test_days=120)
    split = time_split(snap, AS_OF, settings)
    cutoff = np.datetime64(split.train_cutoff_date.isoformat(), "D")
    assert split.train.sum() > 1000 and split.test.sum() > 1000
    assert np.all(snap.label_resolved_date[split.train] < cutoff)
    assert np.all(snap.snapshot_date[split.train] <= cutoff - 90)
    assert np.all(snap.snapshot_date[split.test] >= cutoff)
    assert np.all(snap.snapshot_date[split.test] <= np.datetime64(AS_OF.isoformat(), "D") - 90)
    assert not np.any(split.train & split.test)
    assert not np.isnan(snap.label[split.train | split.test | split.fit]).any()
    # rows with a snapshot before the cutoff but an outcome after it exist and are left out
    late = (snap.snapshot_date < cutoff) & (snap.label_resolved_date >= cutoff)
    assert late.any() and not np.any(split.train & late)
    assert split.test_end_date == AS_OF - timedelta(days=90)
    assert split.test_start_date == AS_OF - timedelta(days=90 + 119)


def test_run_beats_baselines_on_a_world_with_signal_and_writes_consistent_results():
    snap = synthetic_snapshots(40000, seed=4)
    run = run_hazard_model(snap, AS_OF, FitSettings(label_maturity_days=120, test_days=180))
    assert run.method == METHOD_LOGISTIC and run.fallback_reason is None
    assert run.production is not None and run.production.converged
    assert run.n_fit_rows > run.n_train_rows
    assert run.metric(SCORER_MODEL, "roc_auc") > run.metric(SCORER_FLOW, "roc_auc") + 0.05
    assert run.metric(SCORER_MODEL, "top_decile_lift") > run.metric(SCORER_FLOW, "top_decile_lift")
    for scorer in (SCORER_MODEL, SCORER_FLOW, SCORER_RECENCY):
        assert set(run.evaluation[scorer]) == {(s, m) for s in SEGMENTS for m in METRICS}
        assert sum(n for _, n, _, _ in run.calibration[scorer]) == run.n_test_rows
    terms = [t for t, *_ in run.production.coefficient_rows()]
    assert terms == [INTERCEPT, *snap.feature_names]
    # the signal features get their sign; the noise feature stays small
    coef = dict(zip(snap.feature_names, run.production.coef))
    assert coef["f_a"] > 0.5 and coef["f_b"] > 0.2 and coef["f_c"] < -0.1 and abs(coef["f_noise"]) < 0.05
    assert run.model_version.startswith("churn-hazard-1/2026-11-23/")
    again = run_hazard_model(snap, AS_OF, FitSettings(label_maturity_days=120, test_days=180))
    assert again.model_version == run.model_version
    other = run_hazard_model(snap, AS_OF, FitSettings(label_maturity_days=120, test_days=180, l2_penalty=50))
    assert other.model_version != run.model_version


def test_thin_history_falls_back_to_the_flow_hazard():
    snap = synthetic_snapshots(1500, seed=5)
    run = run_hazard_model(snap, AS_OF, FitSettings())
    assert run.method == METHOD_FALLBACK
    assert "min_train_rows" in run.fallback_reason and "min_train_events" in run.fallback_reason
    assert run.production is None and run.evaluated is None and run.converged is None
    assert SCORER_MODEL not in run.evaluation
    assert run.evaluation[SCORER_FLOW][("all", "n_rows")] == run.n_test_rows > 0
    # enough rows, too few test events
    few = run_hazard_model(synthetic_snapshots(20000, seed=5), AS_OF, FitSettings(min_test_events=10**6))
    assert few.method == METHOD_FALLBACK and "min_test_events" in few.fallback_reason


def test_snapshots_reject_a_null_feature_naming_the_record():
    snap = synthetic_snapshots(50, seed=6)
    features = snap.features.copy()
    features[17, 2] = np.nan
    with pytest.raises(ValueError, match=r"f_c .*csv/S000017"):
        Snapshots(**{**snap.__dict__, "features": features})
