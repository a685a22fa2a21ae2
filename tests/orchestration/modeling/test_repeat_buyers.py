"""One-off repeat buyers (単品リピート): BG/NBD + Gamma-Gamma asset, summary model and scores mart.

End to end on the session's small demo run: the purchase summary is recomputed in plain Python
from the generator's export files (DECISIONLOG.md "Repeat buyers (BG/NBD)", read independently),
repeat_buyers_fit's BG/NBD and Gamma-Gamma are applied to it directly, and the asset's tables and the mart must agree. The fallback,
the holdout check and the one-transaction write are tested on a hand-made warehouse.

Defaults of the dbt vars and the asset config are restated here on purpose: a changed default
must be changed here too, knowingly.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from datetime import date, datetime, timedelta

import dagster as dg
import duckdb
import numpy as np
import pytest

from orchestration.modeling import repeat_buyers_fit
from orchestration.modeling.repeat_buyers import (
    HOLDOUT_CHECK,
    PARAMETERS_KEY,
    PREDICTIONS_KEY,
    RepeatBuyerConfig,
    build_repeat_buyer_assets,
    holdout_check,
)
from orchestration.modeling.repeat_buyers_fit import Summary, fit_model, fit_repeat_buyers
from orchestration.resources import WarehouseResource
from orchestration.settings import load_settings

AS_OF = date(2026, 11, 23)
HOLDOUT_DAYS = 180
CALIBRATION_END = AS_OF - timedelta(days=HOLDOUT_DAYS)
MIN_REPEAT_BUYERS = 30
CLV_HORIZON_DAYS, CLV_PERIODS, ANNUAL_DISCOUNT = 365, 12, 0.10
LOW_P_ALIVE, MEDIUM_P_ALIVE, OVERDUE_MULTIPLE = 0.2, 0.5, 1.5
REVENUE_STATUSES = {"発送済み", "発送待ち"}


def _dt(text: str) -> datetime | None:
    return datetime.strptime(text, "%Y/%m/%d %H:%M:%S") if text else None


# ------------------------------------------------------------------------------------------
# Plain-Python reading of the rules, from the export files
# ------------------------------------------------------------------------------------------

class OneOffBuyers:
    """Summaries (x, t_x, T in days, m_x, ...) per period end, recomputed from the exports."""

    def __init__(self, run):
        customers = run.read_export("customers")
        # Every demo customer has a distinct usable e-mail, so a person is one customer record.
        emails = [c["email"].strip().lower() for c in customers]
        assert all("@" in e for e in emails) and len(set(emails)) == len(emails)
        key = lambda customer_id: f"csv:{customer_id}"  # noqa: E731

        self.days: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))  # revenue per day
        self.one_off_days: dict[str, set[date]] = defaultdict(set)
        self.subscribed_from: dict[str, date] = {}
        first: dict[str, tuple[datetime, str]] = {}
        for o in run.read_export("orders"):
            at = _dt(o["ordered_at"])
            if at.date() > AS_OF:
                continue
            k = key(o["customer_id"])
            if o["subscription_id"]:
                self.subscribed_from[k] = min(self.subscribed_from.get(k, at.date()), at.date())
            if o["status"] in REVENUE_STATUSES:
                self.days[k][at.date()] += int(o["total"])
                if not o["subscription_id"]:
                    self.one_off_days[k].add(at.date())
        for s in run.read_export("subscriptions"):
            started = _dt(s["started_at"]).date()
            if started <= AS_OF:
                k = key(s["customer_id"])
                self.subscribed_from[k] = min(self.subscribed_from.get(k, started), started)

    def summary(self, end: date) -> dict[str, dict]:
        out = {}
        for k, revenue_by_day in self.days.items():
            days = sorted(d for d in revenue_by_day if d <= end)
            if not days or self.subscribed_from.get(k, date.max) <= end:
                continue
            x = len(days) - 1
            gaps = [(b - a).days for a, b in zip(days, days[1:])]
            repeat_revenue = sum(revenue_by_day[d] for d in days[1:])
            out[k] = {
                "x": x, "t_x": (days[-1] - days[0]).days, "T": (end - days[0]).days,
                "m_x": repeat_revenue / x if x else None,
                "first_revenue": revenue_by_day[days[0]],
                "last": days[-1], "since_last": (end - days[-1]).days,
                # round half up, as SQL round() does
                "cadence": math.floor(statistics.median(gaps) + 0.5) if gaps else None,
                "holdout": len([d for d in self.one_off_days[k] if end < d <= AS_OF]),
            }
        return out


def _arrays(summary: dict[str, dict]):
    keys = sorted(summary)
    x = np.array([summary[k]["x"] for k in keys], dtype=float)
    t_x = np.array([summary[k]["t_x"] for k in keys], dtype=float)
    T = np.array([summary[k]["T"] for k in keys], dtype=float)
    m_x = np.array([summary[k]["m_x"] or 0.0 for k in keys], dtype=float)
    return keys, x, t_x, T, m_x


@pytest.fixture(scope="module")
def world(demo_run):
    run = demo_run(1500, 11)
    con = duckdb.connect(str(run.settings.warehouse), read_only=True)
    yield OneOffBuyers(run), con
    con.close()


@pytest.fixture(scope="module")
def reference_fits(world):
    """repeat_buyers_fit applied directly to the plain-Python summaries."""
    buyers, _ = world
    full = buyers.summary(AS_OF)
    calibration = buyers.summary(CALIBRATION_END)
    _, x, t_x, T, m_x = _arrays(full)
    assert int((x > 0).sum()) >= MIN_REPEAT_BUYERS, "the small demo must be big enough to fit"
    return {
        "full": full, "calibration": calibration,
        "bgnbd": repeat_buyers_fit.fit_bgnbd(x, t_x, T), "gamma_gamma": repeat_buyers_fit.fit_gamma_gamma(x, m_x),
    }


# ------------------------------------------------------------------------------------------
# End to end
# ------------------------------------------------------------------------------------------

def test_summary_model_matches_the_exports(world):
    buyers, con = world
    for kind, end in (("full", AS_OF), ("calibration", CALIBRATION_END)):
        expected = buyers.summary(end)
        got = {
            r[0]: r[1:] for r in con.execute(
                "select customer_key, period_end_date, repeat_purchases, days_first_to_last_purchase, "
                "days_since_first_purchase, average_repeat_purchase_value, first_purchase_revenue, "
                "usual_cadence_days, holdout_repeat_purchases "
                "from intermediate.int_customers__repeat_purchase_summary where summary_kind = ?", [kind]
            ).fetchall()
        }
        assert set(got) == set(expected)
        for k, e in expected.items():
            period_end, x, t_x, T, m_x, first_revenue, cadence, holdout = got[k]
            assert period_end == end
            assert (x, t_x, T, first_revenue, cadence) == (e["x"], e["t_x"], e["T"], e["first_revenue"], e["cadence"]), k
            assert m_x == pytest.approx(e["m_x"]) if e["m_x"] is not None else m_x is None
            assert holdout == (e["holdout"] if kind == "calibration" else None)


def test_predictions_equal_the_fit_on_the_recomputed_summary(world, reference_fits):
    _, con = world
    full = reference_fits["full"]
    keys, x, t_x, T, m_x = _arrays(full)
    bg, gg = reference_fits["bgnbd"].params, reference_fits["gamma_gamma"].params
    length = CLV_HORIZON_DAYS / CLV_PERIODS
    with np.errstate(invalid="ignore", over="ignore", under="ignore", divide="ignore"):
        expected = {
            "p_alive": repeat_buyers_fit.p_alive(bg, x, t_x, T),
            "e90": repeat_buyers_fit.expected_purchases(bg, 90, x, t_x, T),
            "e180": repeat_buyers_fit.expected_purchases(bg, 180, x, t_x, T),
            "aov": repeat_buyers_fit.expected_average_spend(gg, x, m_x),
            "clv": repeat_buyers_fit.clv(bg, gg, x, t_x, T, m_x, periods=CLV_PERIODS, period_length=length,
                                discount_rate=(1 + ANNUAL_DISCOUNT) ** (length / 365) - 1),
        }
    rows = {r[0]: r[1:] for r in con.execute(
        "select customer_key, repeat_purchases, days_first_to_last_purchase, days_since_first_purchase, "
        "p_alive, expected_purchases_90d, expected_purchases_180d, expected_average_order_value, "
        "predicted_clv, purchase_method, spend_method from model_params.repeat_buyer_predictions"
    ).fetchall()}
    assert sorted(rows) == keys
    for i, k in enumerate(keys):
        got = rows[k]
        assert got[:3] == (x[i], t_x[i], T[i])
        assert got[8:] == ("bgnbd", "gamma_gamma")
        for j, name in enumerate(["p_alive", "e90", "e180", "aov", "clv"]):
            assert got[3 + j] == pytest.approx(float(expected[name][i]), rel=1e-6, abs=1e-9), (k, name)

    params = con.execute(
        "select r, alpha, a, b, p, q, gamma, n_customers, n_repeat_customers, purchase_method "
        "from model_params.repeat_buyer_parameters where fit_kind = 'full'").fetchall()
    assert len(params) == 1
    r, alpha, a, b, p, q, gamma, n, n_repeat, method = params[0]
    # a, b may sit far out on a flat ridge: compare the ratio that carries the meaning too.
    assert (r, alpha) == pytest.approx((bg.r, bg.alpha), rel=1e-6)
    assert a / (a + b) == pytest.approx(bg.a / (bg.a + bg.b), rel=1e-6)
    assert (p * gamma / (q - 1)) == pytest.approx(gg.p * gg.gamma / (gg.q - 1), rel=1e-6)
    assert (n, n_repeat, method) == (len(keys), int((x > 0).sum()), "bgnbd")


def test_holdout_check_compares_the_calibration_fit_with_later_purchases(world, reference_fits):
    """The holdout arithmetic, from the calibration parameters the asset stored (the fit itself is
    repeat_buyers_fit's, checked on the full fit above) and purchases recomputed from the exports."""
    _, con = world
    calibration = reference_fits["calibration"]
    keys, x, t_x, T, _ = _arrays(calibration)
    actual = np.array([calibration[k]["holdout"] for k in keys])
    rows = con.execute(
        "select frequency_bucket, period_end_date, holdout_days, holdout_customers, "
        "holdout_predicted_purchases, holdout_actual_purchases, n_customers, purchase_method, r, alpha, a, b "
        "from model_params.repeat_buyer_parameters where fit_kind = 'calibration'").fetchall()
    got = {r[0]: r[1:7] for r in rows}
    methods, params = {r[7] for r in rows}, {r[8:] for r in rows}
    assert methods == {"bgnbd"} and len(params) == 1
    with np.errstate(invalid="ignore", over="ignore", under="ignore", divide="ignore"):
        predicted = repeat_buyers_fit.expected_purchases(repeat_buyers_fit.BgNbdParams(*params.pop()), HOLDOUT_DAYS, x, t_x, T)
    bucket = np.array(["7+" if v >= 7 else str(int(v)) for v in x])
    assert set(got) == {"all", *bucket}
    assert actual.sum() > 0, "nobody bought in the holdout: the check would test nothing"
    for b, (end, days, customers, pred, act, n) in got.items():
        sel = np.ones(len(keys), bool) if b == "all" else bucket == b
        assert (end, days, n) == (CALIBRATION_END, HOLDOUT_DAYS, len(keys))
        assert (customers, act) == (int(sel.sum()), int(actual[sel].sum())), b
        assert pred == pytest.approx(float(predicted[sel].sum()), rel=1e-9), b


def test_scores_mart_bands_and_reasons(world):
    buyers, con = world
    full = buyers.summary(AS_OF)
    rows = con.execute(
        "select customer_key, last_purchase_date, days_since_last_purchase, usual_cadence_days, "
        "days_overdue, p_alive, risk_band, reason_1_code, reason_2_code from marts.repeat_buyer_scores"
    ).fetchall()
    assert len(rows) == len(full)
    bands = set()
    for key, last, since, cadence, overdue, p_alive, band, reason1, reason2 in rows:
        e = full[key]
        assert (last, since, cadence) == (e["last"], e["since_last"], e["cadence"])
        assert overdue == (since - cadence if cadence is not None else None)
        low = p_alive < LOW_P_ALIVE
        late = cadence is not None and since > OVERDUE_MULTIPLE * cadence
        expected_band = ("one_time" if e["x"] == 0 else "high" if low
                         else "medium" if p_alive < MEDIUM_P_ALIVE else "low")
        reasons = [c for c, on in (("repeat_low_p_alive", low), ("repeat_overdue_vs_own_cadence", late)) if on]
        assert (band, reason1, reason2) == (expected_band, *(reasons + [None, None])[:2]), key
        bands.add(band)
    assert {"one_time", "high"} <= bands
    # Every reason shown carries the seed's labels.
    assert con.execute(
        "select count(*) from marts.repeat_buyer_scores where (reason_1_code is not null and "
        "(reason_1_label_ja is null or reason_1_label_en is null)) or (reason_2_code is not null and "
        "(reason_2_label_ja is null or reason_2_label_en is null))").fetchone()[0] == 0


# ------------------------------------------------------------------------------------------
# The asset on a hand-made warehouse: fallback, holdout check, one transaction
# ------------------------------------------------------------------------------------------

SUMMARY_DDL = """
    create schema intermediate;
    create table intermediate.int_customers__repeat_purchase_summary (
        summary_kind varchar, period_end_date date, customer_key varchar, source varchar,
        repeat_purchases integer, days_first_to_last_purchase integer, days_since_first_purchase integer,
        average_repeat_purchase_value double, first_purchase_revenue bigint, holdout_repeat_purchases integer
    );
"""


def _write_summary(path, rows: list[tuple]) -> None:
    con = duckdb.connect(str(path))
    con.execute(SUMMARY_DDL)
    con.executemany("insert into intermediate.int_customers__repeat_purchase_summary values "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.close()


def _small_shop(path, repeaters: int, one_timers: int) -> None:
    """`repeaters` two-purchase buyers and `one_timers`, as of AS_OF and of the calibration end."""
    rows = []
    for i in range(repeaters + one_timers):
        x = 1 if i < repeaters else 0
        t_x = 40 + i if x else 0
        m_x = 4000.0 + 10 * i if x else None
        rows.append(("full", AS_OF, f"csv:R{i:03d}", "csv", x, t_x, 300 + i, m_x, 3000, None))
        rows.append(("calibration", CALIBRATION_END, f"csv:R{i:03d}", "csv", x, t_x, 120 + i, m_x, 3000, 3 * (i % 2)))
    _write_summary(path, rows)


def _simulated_customers(n: int = 60, seed: int = 1) -> list[tuple]:
    """(customer_key, source, x, t_x, T, m_x, first revenue, None) drawn from a BG/NBD world
    (r 0.8, alpha 40 days, a 0.8, b 2.5; spend Gamma-Gamma), so the likelihood has an interior
    maximum and the fit is quick."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        lam, p_drop = rng.gamma(0.8, 1 / 40.0), rng.beta(0.8, 2.5)
        nu = rng.gamma(4.0, 1 / 20000.0)
        age = int(rng.integers(30, 400))
        t, x, t_x = 0.0, 0, 0
        while True:
            t += rng.exponential(1 / lam)
            if t > age:
                break
            x, t_x = x + 1, int(t)
            if rng.random() < p_drop:
                break
        m_x = float(np.mean(rng.gamma(6.0, 1 / nu, x))) if x else None
        rows.append((f"csv:S{i:03d}", "csv", x, t_x, age, m_x, 3000, None))
    return rows


def _simulated_shop(path) -> None:
    _write_summary(path, [("full", AS_OF, *row) for row in _simulated_customers()])


def _materialize(tmp_path, monkeypatch, config: dict | None = None):
    monkeypatch.setenv("TEIKI_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TEIKI_AS_OF_DATE", AS_OF.isoformat())
    settings = load_settings()
    return dg.materialize(
        build_repeat_buyer_assets(settings),
        resources={"warehouse": WarehouseResource(path=str(tmp_path / "warehouse.duckdb"))},
        run_config={"ops": {"repeat_buyer_model": {"config": config}}} if config else None,
        raise_on_error=False,
    )


def test_fallback_when_too_few_repeat_buyers(tmp_path, monkeypatch):
    _small_shop(tmp_path / "warehouse.duckdb", repeaters=12, one_timers=20)
    result = _materialize(tmp_path, monkeypatch)
    assert result.success
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    full = con.execute(
        "select purchase_method, spend_method, fallback_reason, r, p, empirical_repeat_rate_per_day, mean_spend "
        "from model_params.repeat_buyer_parameters where fit_kind = 'full'").fetchone()
    method, spend_method, reason, r, p, rate, mean_spend = full
    assert (method, spend_method, r, p) == ("empirical_rate", "empirical_mean", None, None)
    assert "12 repeat buyers, fewer than min_repeat_buyers (30)" in reason
    # Pooled rate: repeat purchase days per day of age; pooled mean repeat spend.
    ages = [300 + i for i in range(32)]
    assert rate == pytest.approx(12 / sum(ages))
    assert mean_spend == pytest.approx(sum(4000.0 + 10 * i for i in range(12)) / 12)
    preds = con.execute(
        "select p_alive, expected_purchases_90d, expected_purchases_180d, expected_average_order_value, "
        "purchase_method from model_params.repeat_buyer_predictions").fetchall()
    assert len(preds) == 32
    for p_alive, e90, e180, aov, m in preds:
        assert p_alive is None and m == "empirical_rate"
        assert (e90, e180, aov) == pytest.approx((rate * 90, rate * 180, mean_spend))
    con.close()
    meta = result.asset_materializations_for_node("repeat_buyer_model")[0].metadata
    assert "fewer than min_repeat_buyers" in meta["fallback_reason"].value


def test_fitted_when_there_are_enough_repeat_buyers(tmp_path, monkeypatch):
    _simulated_shop(tmp_path / "warehouse.duckdb")
    result = _materialize(tmp_path, monkeypatch)
    assert result.success
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    rows = con.execute("select fit_kind, purchase_method, spend_method, fallback_reason, n_repeat_customers "
                       "from model_params.repeat_buyer_parameters").fetchall()
    assert con.execute("select count(*) from model_params.repeat_buyer_predictions "
                       "where p_alive is null or predicted_clv is null").fetchone()[0] == 0
    con.close()
    # No calibration rows in this shop: fitted, and the holdout check says it could not run.
    assert [r[:4] for r in rows] == [("full", "bgnbd", "gamma_gamma", None)]
    assert rows[0][4] >= MIN_REPEAT_BUYERS
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and "No holdout check" in check.description


def test_min_repeat_buyers_is_the_boundary():
    s = Summary.from_rows(_simulated_customers())
    n_repeat = int((s.x > 0).sum())
    assert fit_model(s, n_repeat).purchase_method == "bgnbd"
    fallback = fit_model(s, n_repeat + 1)
    assert (fallback.purchase_method, fallback.spend_method) == ("empirical_rate", "empirical_mean")
    assert fallback.p_alive(s) is None


def test_holdout_check_warns_outside_the_tolerance(tmp_path, monkeypatch):
    _small_shop(tmp_path / "warehouse.duckdb", repeaters=12, one_timers=20)
    # 48 holdout purchases against a pooled rate that predicts about 16: outside 50%.
    result = _materialize(tmp_path, monkeypatch)
    (check,) = [c for c in result.get_asset_check_evaluations() if c.check_name == HOLDOUT_CHECK]
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    predicted, actual = con.execute(
        "select holdout_predicted_purchases, holdout_actual_purchases from model_params.repeat_buyer_parameters "
        "where fit_kind = 'calibration' and frequency_bucket = 'all'").fetchone()
    con.close()
    assert actual == 48
    # Calibration pooled rate 12 / sum(120 + i) per day, over 180 days, for 32 customers.
    assert predicted == pytest.approx(32 * 180 * 12 / sum(120 + i for i in range(32)))
    assert predicted == pytest.approx(15.94, abs=0.01)
    assert check.passed is False
    assert check.severity == dg.AssetCheckSeverity.WARN
    assert check.asset_key == PREDICTIONS_KEY


def test_holdout_check_thresholds():
    def result_with(predicted: float, actual: int):
        return type("R", (), {"holdout": [{"holdout_predicted_purchases": predicted, "holdout_actual_purchases": actual}]})()

    assert holdout_check(result_with(149.0, 100), 0.5).passed
    assert not holdout_check(result_with(151.0, 100), 0.5).passed
    assert not holdout_check(result_with(49.0, 100), 0.5).passed
    assert not holdout_check(type("R", (), {"holdout": []})(), 0.5).passed


def test_both_tables_are_replaced_together_or_not_at_all(tmp_path, monkeypatch):
    _small_shop(tmp_path / "warehouse.duckdb", repeaters=12, one_timers=20)
    assert _materialize(tmp_path, monkeypatch).success

    import orchestration.modeling.params_writer as writer

    original = writer._insert

    def failing(con, table, rows):
        if table.name == "repeat_buyer_predictions":
            raise RuntimeError("disk full")
        original(con, table, rows)

    monkeypatch.setattr(writer, "_insert", failing)
    assert not _materialize(tmp_path, monkeypatch, {"clv_horizon_days": 90}).success
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    # The failed run's parameter table (horizon 90) was rolled back with its predictions.
    assert con.execute("select distinct clv_horizon_days from model_params.repeat_buyer_parameters").fetchall() == [(365,)]
    assert con.execute("select distinct clv_horizon_days from model_params.repeat_buyer_predictions").fetchall() == [(365,)]
    con.close()


def test_inconsistent_summary_names_the_customer():
    with pytest.raises(ValueError, match="csv:BAD"):
        Summary.from_rows([("csv:OK", "csv", 1, 10, 20, 100.0, 1000, None),
                           ("csv:BAD", "csv", 1, 30, 20, 100.0, 1000, None)])


def test_empty_population_writes_a_fallback_row_and_no_predictions():
    empty = Summary.from_rows([])
    result = fit_repeat_buyers(empty, empty, CALIBRATION_END, AS_OF, RepeatBuyerConfig(),
                               annual_discount_rate=ANNUAL_DISCOUNT)
    assert result.predictions == [] and result.holdout == []
    assert [r["fit_kind"] for r in result.parameters] == ["full"]
    assert result.parameters[0]["purchase_method"] == "empirical_rate"
    assert PARAMETERS_KEY.path == ["model_params", "repeat_buyer_parameters"]


def test_clv_discounts_at_the_dbt_var_in_force(tmp_path, monkeypatch):
    """No rate of its own: dbt_project.yml's ltv_annual_discount_rate, else the settings file's."""
    from orchestration.merchant_settings import declared_dbt_vars

    _small_shop(tmp_path / "warehouse.duckdb", repeaters=12, one_timers=20)
    monkeypatch.delenv("TEIKI_SETTINGS", raising=False)
    assert _materialize(tmp_path, monkeypatch).success
    settings_file = tmp_path / "teiki.yaml"
    settings_file.write_text("dbt_vars:\n  ltv_annual_discount_rate: 0.5\n", encoding="utf-8")
    monkeypatch.setenv("TEIKI_SETTINGS", str(settings_file))
    monkeypatch.setenv("TEIKI_AS_OF_DATE", "2026-11-24")
    settings = load_settings()
    assert dg.materialize(
        build_repeat_buyer_assets(settings),
        resources={"warehouse": WarehouseResource(path=str(tmp_path / "warehouse.duckdb"))}).success
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    rates = con.execute("select distinct as_of_date, clv_annual_discount_rate from model_params.repeat_buyer_parameters "
                        "order by 1").fetchall()
    con.close()
    # history kept: the first run's rate stays beside the second's
    assert rates == [(AS_OF, declared_dbt_vars()["ltv_annual_discount_rate"]), (date(2026, 11, 24), 0.5)]
