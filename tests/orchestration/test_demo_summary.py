"""The one-shot runner's closing report survives a shop whose figures are NULL: no 定期契約
(no churn rate), no complete month, nobody loyal yet. It used to crash formatting None."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import SimpleNamespace

from orchestration.demo import summary

SETTINGS = SimpleNamespace(warehouse=Path("w.duckdb"), bi_snapshot=Path("bi.duckdb"), outbox_dir=Path("outbox"))


def _kpi(**over):
    kpi = {"as_of_date": date(2026, 11, 23), "customers": 1200, "active_subscriptions": 0,
           "f2_rate": 0.25, "monthly_churn_rate": None}
    kpi.update(over)
    return kpi


def test_null_figures_print_as_not_available():
    text = summary(12.3, SETTINGS, ["customers"], [], _kpi(f2_rate=None, customers=None),
                   {}, None, None)
    assert "monthly churn rate               n/a" in text
    assert "churn in n/a" in text and "(none)" in text
    assert "customers                        n/a" in text


def test_figures_print_as_before():
    text = summary(12.3, SETTINGS, ["customers"], [Path("list.csv")],
                   _kpi(monthly_churn_rate=0.0412), {2: 0.7, 4: 0.5}, ("2026-10", 0.05, 0.04, 0.01), 321)
    assert "     1,200" in text and "4.1%" in text and "70.0% / 50.0% / n/a" in text
    assert "churn in 2026-10" in text and "(voluntary 4.0%, payment failure 1.0%)" in text
    assert "list.csv" in text


def test_campaign_rows_print_aligned_with_their_counts():
    from orchestration.demo import campaign_table

    text = campaign_table([("winback", 346, 34, 0, 6, 99, 0, 0, 312, 0, 0, 0)])
    head, row = text.splitlines()
    assert head.split()[0] == "campaign" and row.split()[0] == "winback"
    assert row.split()[1:3] == ["346", "34"] and len(head) == len(row)
    assert "no campaign decided" in campaign_table([])
