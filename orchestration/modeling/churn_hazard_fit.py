"""解約予兆: discrete-time hazard model for 定期 subscriptions, its baselines and its evaluation.

Plain Python (numpy/scipy), no Dagster, no pandas. The Dagster asset (churn_hazard.py) reads the
training rows of `intermediate.int_subscriptions__churn_features` into `Snapshots` and calls
`run_hazard_model`.

One row per subscription per delivery opportunity n, seen on the order date of n and again every
week while the outcome is open (checkpoints): y = 1 when the subscription was cancelled before
its (n+1)-th order. P(y = 1) = expit(b0 + sum_j b_j z_j), z_j = (x_j - center_j) / scale_j
with the training mean and standard deviation. Fitted by Newton's method (IRLS) on

    -sum_i [y_i log p_i + (1 - y_i) log(1 - p_i)] + (l2_penalty / 2) * sum_{j >= 1} b_j^2

(the intercept is not penalized; the penalty is on the summed, not averaged, log-likelihood, so
its weight shrinks relative to the data as the shop grows).

Time split (see DECISIONLOG "解約予兆 model and evaluation"), with M = label_maturity_days:

    fit_end   = as_of - M                 production fit: snapshots <= fit_end, label known
    test      = [fit_end - test_days + 1, fit_end]   snapshots, label known by as_of
    cutoff    = first test day; training: snapshots <= cutoff - M whose label was resolved
                before the cutoff

A snapshot younger than M days is left out everywhere: among recent snapshots a cancellation is
known at once but a continuation only when the next order comes, so keeping the resolved ones
would over-represent cancellations (right-censoring bias). The evaluation thus replays exactly
what production does: fit at the cutoff on what was known then, score the following snapshots.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import numpy as np

MODEL_CODE_VERSION = "churn-hazard-1"

METHOD_LOGISTIC = "logistic_hazard"
METHOD_FALLBACK = "flow_hazard_fallback"

SCORER_MODEL = "hazard_logit"
SCORER_FLOW = "baseline_flow_hazard"
SCORER_RECENCY = "baseline_recency_rule"
SCORERS = (SCORER_MODEL, SCORER_FLOW, SCORER_RECENCY)

SEGMENTS = ("all", "delivery_1", "delivery_2", "delivery_3", "delivery_4_6", "delivery_7_plus")
METRICS = ("roc_auc", "pr_auc", "base_rate", "top_decile_lift", "brier", "n_rows", "n_events")

# Signals older than this count as this old: the isotonic map of the recency rule needs no
# resolution beyond a year, and levels that sparse would only add noise.
RECENCY_CAP_DAYS = 365

INTERCEPT = "(intercept)"


def expit(x):
    """scipy.special.expit, imported when a fit first runs: the Dagster config is built from
    FitSettings when the code location loads, which should not load scipy."""
    from scipy.special import expit as scipy_expit

    return scipy_expit(x)


@dataclass(frozen=True)
class FitSettings:
    """Knobs of the split, the penalty and the fallback, with their defaults: the one place they
    are written (churn_hazard.ChurnHazardConfig, the Dagster config, is built from these fields)."""

    l2_penalty: float = 1.0
    # Snapshots younger than this are not used (their label may still be unknown).
    label_maturity_days: int = 180
    # Length of the held-out test window of snapshots.
    test_days: int = 180
    # Below these, fit nothing and fall back to the 定期フロー hazard: an L2 logistic model with
    # ~40 features wants a few hundred events; an evaluation on fewer than min_test_events
    # events cannot tell a model from a baseline.
    min_train_rows: int = 1000
    min_train_events: int = 200
    min_test_events: int = 30
    # 定期フロー baseline: cells (product x delivery number) with fewer training rows than this
    # use the delivery number pooled over products.
    flow_min_cell_rows: int = 30

    def __post_init__(self) -> None:
        if self.l2_penalty < 0:
            raise ValueError(f"l2_penalty must be >= 0, got {self.l2_penalty}")
        for name in ("label_maturity_days", "test_days", "flow_min_cell_rows"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


# --------------------------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshots:
    """Opportunity rows: one per subscription per delivery opportunity."""

    subscription_id: np.ndarray  # object (str): names the record in errors
    product_id: np.ndarray  # object (str or None)
    delivery_number: np.ndarray  # int
    snapshot_date: np.ndarray  # datetime64[D]
    label: np.ndarray  # float: 1.0 cancelled, 0.0 continued, nan not resolved
    label_resolved_date: np.ndarray  # datetime64[D], NaT when not resolved
    last_cancel_signal_date: np.ndarray  # datetime64[D], NaT when none
    features: np.ndarray  # (n, k) float
    feature_names: tuple[str, ...]

    def __post_init__(self) -> None:
        n = len(self.subscription_id)
        for name in ("product_id", "delivery_number", "snapshot_date", "label",
                     "label_resolved_date", "last_cancel_signal_date"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Snapshots.{name} has {len(getattr(self, name))} rows, expected {n}")
        if self.features.shape != (n, len(self.feature_names)):
            raise ValueError(f"features shape {self.features.shape} != ({n}, {len(self.feature_names)})")
        bad = ~np.isfinite(self.features)
        if bad.any():
            i, j = (int(v[0]) for v in np.nonzero(bad))
            raise ValueError(
                f"feature {self.feature_names[j]} is {self.features[i, j]} for subscription "
                f"{self.subscription_id[i]} at snapshot {self.snapshot_date[i]}: features must never be null")
        if n and np.isnat(self.snapshot_date).any():
            i = int(np.nonzero(np.isnat(self.snapshot_date))[0][0])
            raise ValueError(f"snapshot_date is null for subscription {self.subscription_id[i]}")
        known = ~np.isnan(self.label)
        if (known & np.isnat(self.label_resolved_date)).any():
            i = int(np.nonzero(known & np.isnat(self.label_resolved_date))[0][0])
            raise ValueError(f"label_resolved_date is null although the label is known, for "
                             f"subscription {self.subscription_id[i]} at {self.snapshot_date[i]}")

    def __len__(self) -> int:
        return len(self.subscription_id)

    def subset(self, mask: np.ndarray) -> Snapshots:
        return Snapshots(
            subscription_id=self.subscription_id[mask],
            product_id=self.product_id[mask],
            delivery_number=self.delivery_number[mask],
            snapshot_date=self.snapshot_date[mask],
            label=self.label[mask],
            label_resolved_date=self.label_resolved_date[mask],
            last_cancel_signal_date=self.last_cancel_signal_date[mask],
            features=self.features[mask],
            feature_names=self.feature_names,
        )

    def days_since_signal(self) -> np.ndarray:
        """Days from the last cancel-intent signal to the snapshot; nan when there was none."""
        days = (self.snapshot_date - self.last_cancel_signal_date).astype("timedelta64[D]")
        out = days.astype(float)
        out[np.isnat(days)] = np.nan
        return out


# --------------------------------------------------------------------------------------------
# Time split
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    train_cutoff_date: date  # training outcomes resolved strictly before; = test_start_date
    train_snapshot_end_date: date  # last training snapshot date (cutoff - maturity)
    test_start_date: date
    test_end_date: date  # = fit_snapshot_end_date
    fit_snapshot_end_date: date  # production fit: snapshots on or before, label known
    train: np.ndarray  # masks over the input rows
    test: np.ndarray
    fit: np.ndarray
    test_unresolved: int  # test-window snapshots left out because their label is still unknown


def _d64(d: date) -> np.datetime64:
    return np.datetime64(d.isoformat(), "D")


def time_split(snap: Snapshots, as_of: date, settings: FitSettings) -> Split:
    maturity = timedelta(days=settings.label_maturity_days)
    fit_end = as_of - maturity
    test_start = fit_end - timedelta(days=settings.test_days - 1)
    train_end = test_start - maturity
    known = ~np.isnan(snap.label)
    s = snap.snapshot_date
    # NaT compares False, so an unresolved row never passes the resolved-date test.
    train = known & (s <= _d64(train_end)) & (snap.label_resolved_date < _d64(test_start))
    in_test_window = (s >= _d64(test_start)) & (s <= _d64(fit_end))
    test = known & in_test_window & (snap.label_resolved_date <= _d64(as_of))
    fit = known & (s <= _d64(fit_end)) & (snap.label_resolved_date <= _d64(as_of))
    return Split(
        train_cutoff_date=test_start,
        train_snapshot_end_date=train_end,
        test_start_date=test_start,
        test_end_date=fit_end,
        fit_snapshot_end_date=fit_end,
        train=train,
        test=test,
        fit=fit,
        test_unresolved=int((in_test_window & ~known).sum()),
    )


# --------------------------------------------------------------------------------------------
# L2-penalized logistic regression
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogisticFit:
    feature_names: tuple[str, ...]
    center: np.ndarray
    scale: np.ndarray
    intercept: float
    coef: np.ndarray  # on standardized features
    l2_penalty: float
    converged: bool
    iterations: int
    objective: float  # penalized negative log-likelihood at the optimum

    def linear_predictor(self, features: np.ndarray) -> np.ndarray:
        return self.intercept + ((features - self.center) / self.scale) @ self.coef

    def predict(self, features: np.ndarray) -> np.ndarray:
        return expit(self.linear_predictor(features))

    def coefficient_rows(self) -> list[tuple[str, float, float, float]]:
        """(term, center, scale, coefficient), intercept first."""
        rows = [(INTERCEPT, 0.0, 1.0, float(self.intercept))]
        rows += [(n, float(c), float(s), float(b))
                 for n, c, s, b in zip(self.feature_names, self.center, self.scale, self.coef)]
        return rows


def standardization(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Training mean and (population) standard deviation; scale 1 for a constant column."""
    center = features.mean(axis=0) if len(features) else np.zeros(features.shape[1])
    scale = features.std(axis=0) if len(features) else np.ones(features.shape[1])
    scale = np.where(scale > 1e-12, scale, 1.0)
    return center, scale


def penalized_nll(intercept: float, coef: np.ndarray, z: np.ndarray, y: np.ndarray, l2_penalty: float) -> float:
    """The objective: negative log-likelihood on standardized z plus (l2/2)|coef|^2."""
    eta = intercept + z @ coef
    # log(1 + e^eta) - y * eta, stable for large |eta|
    return float(np.sum(np.logaddexp(0.0, eta) - y * eta) + 0.5 * l2_penalty * coef @ coef)


def fit_logistic(
    features: np.ndarray,
    y: np.ndarray,
    feature_names: Sequence[str],
    l2_penalty: float,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> LogisticFit:
    """Newton-Raphson (IRLS) with step halving; the objective is strictly convex when l2 > 0."""
    y = np.asarray(y, dtype=float)
    if len(y) == 0 or y.min() == y.max():
        raise ValueError("a logistic fit needs both outcomes among its rows")
    center, scale = standardization(features)
    z = (features - center) / scale
    # A constant column carries no information (z = 0); keeping it out of the solve makes the
    # unpenalized case (l2 = 0) well posed too. Its coefficient stays 0.
    active = features.std(axis=0) > 1e-12 if len(features) > 1 else np.zeros(z.shape[1], bool)
    x = np.column_stack([np.ones(len(y)), z[:, active]])
    penalty = np.full(x.shape[1], float(l2_penalty))
    penalty[0] = 0.0
    mean = y.mean()
    beta = np.zeros(x.shape[1])
    beta[0] = math.log(mean / (1.0 - mean))

    def objective(b: np.ndarray) -> float:
        eta = x @ b
        return float(np.sum(np.logaddexp(0.0, eta) - y * eta) + 0.5 * np.sum(penalty * b * b))

    current = objective(beta)
    converged = False
    iteration = 0
    for iteration in range(1, max_iter + 1):
        p = expit(x @ beta)
        grad = x.T @ (p - y) + penalty * beta
        hess = (x * (p * (1.0 - p))[:, None]).T @ x + np.diag(penalty)
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        # Newton decrement: half of it bounds the remaining decrease of the objective.
        if grad @ step / 2.0 <= tol:
            converged = True
            break
        t = 1.0
        while objective(beta - t * step) > current and t > 1e-10:
            t *= 0.5
        beta = beta - t * step
        current = objective(beta)
    coef = np.zeros(z.shape[1])
    coef[active] = beta[1:]
    return LogisticFit(
        feature_names=tuple(feature_names),
        center=center,
        scale=scale,
        intercept=float(beta[0]),
        coef=coef,
        l2_penalty=float(l2_penalty),
        converged=converged,
        iterations=iteration,
        objective=current,
    )


# --------------------------------------------------------------------------------------------
# Baselines (fitted on the training rows only)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlowHazardBaseline:
    """定期フロー hazard: training cancellation rate by product x delivery number.

    Thin cells fall back to the delivery number pooled over products, then to the overall
    rate; delivery numbers beyond the last one with min_cell_rows training rows at or above it
    are pooled into one tail group (so delivery 40 borrows from 12+ rather than from nothing).
    """

    cell_rate: dict[tuple[str, int], float]
    number_rate: dict[int, float]
    overall_rate: float
    tail_from: int

    @classmethod
    def fit(cls, product_id: np.ndarray, delivery_number: np.ndarray, y: np.ndarray,
            min_cell_rows: int) -> FlowHazardBaseline:
        if len(y) == 0:
            raise ValueError("the flow hazard baseline needs training rows")
        n = delivery_number.astype(int)
        tail_from = 1
        for k in range(int(n.max()), 0, -1):
            if (n >= k).sum() >= min_cell_rows:
                tail_from = k
                break
        n_eff = np.minimum(n, tail_from)
        cells: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0.0, 0.0])
        numbers: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for prod, k, label in zip(product_id, n_eff, y):
            cells[(prod, int(k))][0] += 1
            cells[(prod, int(k))][1] += label
            numbers[int(k)][0] += 1
            numbers[int(k)][1] += label
        return cls(
            cell_rate={key: ev / rows for key, (rows, ev) in cells.items() if rows >= min_cell_rows},
            number_rate={key: ev / rows for key, (rows, ev) in numbers.items() if rows >= min_cell_rows},
            overall_rate=float(np.mean(y)),
            tail_from=tail_from,
        )

    def predict(self, product_id: np.ndarray, delivery_number: np.ndarray) -> np.ndarray:
        out = np.empty(len(product_id))
        for i, (prod, k) in enumerate(zip(product_id, delivery_number)):
            k = min(int(k), self.tail_from)
            rate = self.cell_rate.get((prod, k))
            if rate is None:
                rate = self.number_rate.get(k, self.overall_rate)
            out[i] = rate
        return out


@dataclass(frozen=True)
class RecencyRuleBaseline:
    """Recency of the last cancel-intent signal (cancel-page visit or 解約相談).

    The rule ranks by recency: the more recent the signal, the riskier; no signal is the lowest
    (rank score = -days, none = -(cap + 1)). Ranking metrics (AUC, PR-AUC, lift) use that score.
    Its probability, for the Brier score and the calibration table, is the isotonic
    (pool-adjacent-violators) fit of the training cancellation rate on the same score, so it is
    non-decreasing in the rule's order and cannot reorder it.
    """

    levels: np.ndarray  # ascending rank-score levels seen in training
    rates: np.ndarray  # isotonic rate at each level

    @staticmethod
    def score(days_since_signal: np.ndarray) -> np.ndarray:
        days = np.minimum(days_since_signal, RECENCY_CAP_DAYS)
        return np.where(np.isnan(days), -(RECENCY_CAP_DAYS + 1.0), -days)

    @classmethod
    def fit(cls, days_since_signal: np.ndarray, y: np.ndarray) -> RecencyRuleBaseline:
        if len(y) == 0:
            raise ValueError("the recency baseline needs training rows")
        levels, inverse = np.unique(cls.score(days_since_signal), return_inverse=True)
        counts = np.bincount(inverse).astype(float)
        sums = np.bincount(inverse, weights=y)
        return cls(levels=levels, rates=isotonic_increasing(sums / counts, counts))

    def predict(self, days_since_signal: np.ndarray) -> np.ndarray:
        s = self.score(days_since_signal)
        idx = np.clip(np.searchsorted(self.levels, s, side="right") - 1, 0, len(self.levels) - 1)
        return self.rates[idx]


def isotonic_increasing(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted least-squares non-decreasing fit (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [weighted mean, weight, length]
    for v, w in zip(values, weights):
        blocks.append([float(v), float(w), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, n2 = blocks.pop()
            v1, w1, n1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    return np.concatenate([np.full(n, v) for v, _, n in blocks])


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


def _threshold_counts(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative (true positives, false positives) at each distinct score, highest first."""
    order = np.argsort(-score, kind="mergesort")
    s, yy = score[order], y[order]
    last_of_group = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp = np.cumsum(yy)[last_of_group]
    fp = (last_of_group + 1) - tp
    return tp, fp


def roc_auc(y: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve; tied scores count one half (trapezoid over tied groups)."""
    y = np.asarray(y, dtype=float)
    pos = y.sum()
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        return None
    tp, fp = _threshold_counts(y, np.asarray(score, dtype=float))
    tpr = np.r_[0.0, tp / pos]
    fpr = np.r_[0.0, fp / neg]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def average_precision(y: np.ndarray, score: np.ndarray) -> float | None:
    """PR-AUC as average precision: sum over thresholds of (recall step) x precision.

    Tied scores form one threshold (no optimistic ordering inside a tie). A random score has
    an expected value close to the base rate.
    """
    y = np.asarray(y, dtype=float)
    pos = y.sum()
    if pos == 0:
        return None
    tp, fp = _threshold_counts(y, np.asarray(score, dtype=float))
    recall = np.r_[0.0, tp / pos]
    precision = tp / (tp + fp)
    return float(np.sum(np.diff(recall) * precision))


def top_decile_lift(y: np.ndarray, score: np.ndarray, share: float = 0.1) -> float | None:
    """Event rate among the top `share` of rows by score, over the base rate.

    Exactly share * n rows are taken; a tied group straddling the boundary contributes its
    events pro rata (the expectation under a random tie-break), so ties never flatter a score.
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n == 0 or y.sum() == 0:
        return None
    k = share * n
    tp, fp = _threshold_counts(y, np.asarray(score, dtype=float))
    size = tp + fp
    prev_size = np.r_[0.0, size[:-1]]
    prev_tp = np.r_[0.0, tp[:-1]]
    g = int(np.searchsorted(size, k, side="left"))  # first group reaching k rows
    events = prev_tp[g] + (tp[g] - prev_tp[g]) * (k - prev_size[g]) / (size[g] - prev_size[g])
    return float((events / k) / y.mean())


def brier(y: np.ndarray, prob: np.ndarray) -> float | None:
    if len(y) == 0:
        return None
    return float(np.mean((np.asarray(prob, dtype=float) - np.asarray(y, dtype=float)) ** 2))


def calibration_table(y: np.ndarray, prob: np.ndarray, bins: int = 10) -> list[tuple[int, int, float, float]]:
    """(bin 1..bins, rows, mean predicted, observed rate) by quantile of the predicted
    probability; tied probabilities share a bin (average rank), so a bin may be empty and is
    then left out."""
    y = np.asarray(y, dtype=float)
    prob = np.asarray(prob, dtype=float)
    n = len(y)
    if n == 0:
        return []
    which = np.minimum(bins, np.floor(bins * (average_ranks(prob) - 0.5) / n).astype(int) + 1)
    rows = []
    for b in range(1, bins + 1):
        m = which == b
        if m.any():
            rows.append((b, int(m.sum()), float(prob[m].mean()), float(y[m].mean())))
    return rows


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties sharing their average rank (scipy.stats.rankdata's default; scipy.stats
    itself is not imported because it takes seconds to load)."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    starts = np.r_[0, np.nonzero(np.diff(sorted_values))[0] + 1]
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values))
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def delivery_segment(delivery_number: np.ndarray) -> np.ndarray:
    n = np.asarray(delivery_number, dtype=int)
    return np.select(
        [n <= 1, n == 2, n == 3, n <= 6],
        ["delivery_1", "delivery_2", "delivery_3", "delivery_4_6"],
        "delivery_7_plus",
    )


def evaluate(y: np.ndarray, prob: np.ndarray, rank_score: np.ndarray,
             delivery_number: np.ndarray) -> dict[tuple[str, str], float | None]:
    """{(segment, metric): value} for 'all' and each delivery band; None where undefined."""
    y = np.asarray(y, dtype=float)
    seg = delivery_segment(delivery_number)
    out: dict[tuple[str, str], float | None] = {}
    for segment in SEGMENTS:
        m = np.ones(len(y), bool) if segment == "all" else seg == segment
        ys, ps, ss = y[m], prob[m], rank_score[m]
        out[(segment, "roc_auc")] = roc_auc(ys, ss)
        out[(segment, "pr_auc")] = average_precision(ys, ss)
        out[(segment, "base_rate")] = float(ys.mean()) if len(ys) else None
        out[(segment, "top_decile_lift")] = top_decile_lift(ys, ss)
        out[(segment, "brier")] = brier(ys, ps)
        out[(segment, "n_rows")] = float(len(ys))
        out[(segment, "n_events")] = float(ys.sum())
    return out


# --------------------------------------------------------------------------------------------
# The whole run
# --------------------------------------------------------------------------------------------


@dataclass
class HazardRun:
    as_of: date
    settings: FitSettings
    method: str
    fallback_reason: str | None
    split: Split
    n_train_rows: int
    n_train_events: int
    n_test_rows: int
    n_test_events: int
    n_fit_rows: int
    n_fit_events: int
    production: LogisticFit | None  # the coefficients used for scoring
    evaluated: LogisticFit | None  # the same model fitted on the training rows only
    # {scorer: {(segment, metric): value}}, {scorer: [(bin, rows, mean predicted, observed)]}
    evaluation: dict[str, dict[tuple[str, str], float | None]] = field(default_factory=dict)
    calibration: dict[str, list[tuple[int, int, float, float]]] = field(default_factory=dict)
    model_version: str = ""

    def metric(self, scorer: str, metric: str, segment: str = "all") -> float | None:
        return self.evaluation.get(scorer, {}).get((segment, metric))

    @property
    def converged(self) -> bool | None:
        return None if self.production is None else self.production.converged


def model_version(as_of: date, method: str, production: LogisticFit | None, fallback_reason: str | None) -> str:
    """Code version / as-of date / short hash of what scoring applies (the coefficients)."""
    if production is not None:
        payload = ";".join(f"{t}:{c:.10g}:{s:.10g}:{b:.10g}" for t, c, s, b in production.coefficient_rows())
    else:
        payload = f"{method}:{fallback_reason}"
    digest = hashlib.sha256(payload.encode()).hexdigest()[:8]
    return f"{MODEL_CODE_VERSION}/{as_of.isoformat()}/{digest}"


def run_hazard_model(snap: Snapshots, as_of: date, settings: FitSettings = FitSettings()) -> HazardRun:
    """Split, evaluate model and baselines on the later period, refit on everything resolved."""
    split = time_split(snap, as_of, settings)
    train, test, fit = snap.subset(split.train), snap.subset(split.test), snap.subset(split.fit)
    sizes = {
        "n_train_rows": len(train), "n_train_events": int(np.nansum(train.label)),
        "n_test_rows": len(test), "n_test_events": int(np.nansum(test.label)),
        "n_fit_rows": len(fit), "n_fit_events": int(np.nansum(fit.label)),
    }
    reasons = []
    if sizes["n_train_rows"] < settings.min_train_rows:
        reasons.append(f"{sizes['n_train_rows']} training rows (snapshots up to "
                       f"{split.train_snapshot_end_date}) < min_train_rows {settings.min_train_rows}")
    if sizes["n_train_events"] < settings.min_train_events:
        reasons.append(f"{sizes['n_train_events']} training cancellations < min_train_events "
                       f"{settings.min_train_events}")
    if sizes["n_test_events"] < settings.min_test_events:
        reasons.append(f"{sizes['n_test_events']} test cancellations ({split.test_start_date} to "
                       f"{split.test_end_date}) < min_test_events {settings.min_test_events}")
    if sizes["n_test_rows"] == sizes["n_test_events"]:
        reasons.append("no continued subscription in the test period")
    method = METHOD_FALLBACK if reasons else METHOD_LOGISTIC
    fallback_reason = "; ".join(reasons) or None

    run = HazardRun(as_of=as_of, settings=settings, method=method, fallback_reason=fallback_reason,
                    split=split, production=None, evaluated=None, **sizes)

    y_train, y_test = train.label, test.label
    if _both_outcomes(y_train) and _both_outcomes(y_test):
        # Baselines are evaluated whenever possible, also in a fallback run: the flow hazard is
        # then what the scores mart applies, and its figures say how good that is.
        flow = FlowHazardBaseline.fit(train.product_id, train.delivery_number, y_train,
                                      settings.flow_min_cell_rows)
        p_flow = flow.predict(test.product_id, test.delivery_number)
        recency = RecencyRuleBaseline.fit(train.days_since_signal(), y_train)
        days_test = test.days_since_signal()
        p_recency = recency.predict(days_test)
        scored = {
            SCORER_FLOW: (p_flow, p_flow),
            SCORER_RECENCY: (p_recency, RecencyRuleBaseline.score(days_test)),
        }
        if method == METHOD_LOGISTIC:
            run.evaluated = fit_logistic(train.features, y_train, snap.feature_names, settings.l2_penalty)
            p_model = run.evaluated.predict(test.features)
            scored = {SCORER_MODEL: (p_model, p_model), **scored}
        for scorer, (prob, rank_score) in scored.items():
            run.evaluation[scorer] = evaluate(y_test, prob, rank_score, test.delivery_number)
            run.calibration[scorer] = calibration_table(y_test, prob)
    if method == METHOD_LOGISTIC:
        run.production = fit_logistic(fit.features, fit.label, snap.feature_names, settings.l2_penalty)
    run.model_version = model_version(as_of, method, run.production, fallback_reason)
    return run


def _both_outcomes(y: np.ndarray) -> bool:
    return len(y) > 0 and 0 < y.sum() < len(y)


def settings_from(values: dict) -> FitSettings:
    """FitSettings from a mapping that may hold extra keys (e.g. a Dagster config dump)."""
    names = FitSettings.__dataclass_fields__
    return replace(FitSettings(), **{k: v for k, v in values.items() if k in names})
