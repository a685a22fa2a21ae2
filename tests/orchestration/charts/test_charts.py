"""Chart rendering alone: rows in, a PNG out, embeddable as markdown."""

from __future__ import annotations

import base64
import math
import warnings
from datetime import date

import duckdb
import pytest

from orchestration.charts import queries, render

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_subscription_flow_chart():
    rows = [(p, n, 0.8 ** (n - 1)) for p in ("T-LOTION", "T-GEL") for n in range(1, 13)]
    png = render.subscription_flow_chart(rows)
    assert png.startswith(PNG_MAGIC) and len(png) > 5000


def test_japanese_labels_render_without_missing_glyphs():
    """Every chart with its Japanese title, axis labels and product names draws each glyph: a
    font without Japanese makes matplotlib warn "Glyph ... missing from font(s)" and draw boxes."""
    flow = [(p, n, 0.8 ** (n - 1)) for p in ("薬用美白ローション定期便", "ジェル（お試し）") for n in range(1, 8)]
    cohorts = [(date(2025, m, 1), k, 0.5, m + k == 6) for m in range(1, 6) for k in range(0, 7 - m)]
    sbg = [("csv:T-LOTION", n, 0.9 ** n, 0.88 ** n, 0.91 ** n, 0.9 ** n) for n in range(1, 13)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        render.subscription_flow_chart(flow, title="定期フロー（全コホート）")
        render.cohort_heatmap(cohorts)
        render.sbg_projection_chart(sbg, calibration_deliveries=4)
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing, missing[:3]


def test_cohort_heatmap_with_gaps_and_empty():
    rows = [(date(2025, m, 1), k, 1.0 if k == 0 else 0.5 / k) for m in range(1, 13) for k in range(0, 13 - m)]
    assert render.cohort_heatmap(rows).startswith(PNG_MAGIC)
    assert render.cohort_heatmap([]).startswith(PNG_MAGIC)


def test_sbg_chart_handles_missing_actuals():
    rows = [("csv:T-LOTION", n, 0.9 ** n, None if n > 10 else 0.88 ** n, 0.91 ** n) for n in range(1, 25)]
    rows += [("csv:T-GEL", n, 0.8 ** n, 0.8 ** n, None) for n in range(1, 25)]
    assert render.sbg_projection_chart(rows, calibration_deliveries=4).startswith(PNG_MAGIC)


def test_markdown_image_is_a_data_uri():
    md = render.markdown_image(b"\x89PNG-bytes", "alt text")
    assert md.startswith("![alt text](data:image/png;base64,") and md.endswith(")")
    assert base64.b64decode(md.split(",", 1)[1][:-1]) == b"\x89PNG-bytes"


def test_flow_rows_pool_cohorts_and_drop_points_with_too_few_eligible():
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("""
        create table marts.subscription_flow as select * from (values
            ('A', '美白ローション', 1, 30, 30), ('A', '美白ローション', 1, 20, 20),  -- two cohorts
            ('A', '美白ローション', 2, 12, 30), ('A', '美白ローション', 2, 8, 20),   -- 20 of 50
            ('A', '美白ローション', 3, 1, 5),                  -- too few had the chance
            ('B', null, 1, 25, 25)                             -- no 商品名: the code stands in
        ) t(product_id, product_name, delivery_number, subscriptions_reached, eligible_subscriptions)
    """)
    rows = {(p, n): share for p, n, share in queries.subscription_flow_rows(con)}
    assert rows == {("美白ローション", 1): 1.0, ("美白ローション", 2): 0.4, ("B", 1): 1.0}


def _cohort_mart(con: duckdb.DuckDBPyConnection) -> None:
    """Two sources, cohorts 2026-10 and 2026-11, business date 2026-12-04: December is partial."""
    con.execute("create schema marts")
    con.execute("""
        create table marts.cohort_retention as
        select source, cohort_month::date as cohort_month, m as months_since_first_order,
               (cohort_month::date + to_months(m))::date as activity_month,
               10 as cohort_customers, active as active_customers, date '2026-12-04' as as_of_date
        from (values ('a', '2026-10-01', 0, 10), ('a', '2026-10-01', 1, 6), ('a', '2026-10-01', 2, 1),
                     ('b', '2026-10-01', 2, 3), ('a', '2026-11-01', 0, 10), ('a', '2026-11-01', 1, 2))
             t(source, cohort_month, m, active)
    """)


def test_cohort_rows_flag_the_business_dates_month_as_partial():
    con = duckdb.connect()
    _cohort_mart(con)
    rows = {(c.strftime("%Y-%m"), m): (r, p) for c, m, r, p in queries.cohort_retention_rows(con)}
    assert rows == {("2026-10", 0): (1.0, False), ("2026-10", 1): (0.6, False),
                    ("2026-10", 2): (pytest.approx(0.2), True),  # 4 of 20 across sources, December
                    ("2026-11", 0): (1.0, False), ("2026-11", 1): (0.2, True)}


def test_heatmap_leaves_the_partial_month_out_and_marks_it():
    con = duckdb.connect()
    _cohort_mart(con)
    cohorts, grid, partial = render.heatmap_grid(queries.cohort_retention_rows(con))
    assert cohorts == [date(2026, 10, 1), date(2026, 11, 1)]
    assert grid[0][:2] == [100.0, 60.0] and grid[1][0] == 100.0
    assert math.isnan(grid[0][2]) and math.isnan(grid[1][1])  # December: not drawn as a value
    assert partial == [(0, 2), (1, 1)]
    assert render.cohort_heatmap(queries.cohort_retention_rows(con)).startswith(PNG_MAGIC)
