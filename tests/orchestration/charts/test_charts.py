"""Chart rendering alone: rows in, a PNG out, embeddable as markdown."""

from __future__ import annotations

import base64
from datetime import date

import duckdb

from orchestration.charts import queries, render

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_subscription_flow_chart():
    rows = [(p, n, 0.8 ** (n - 1)) for p in ("T-LOTION", "T-GEL") for n in range(1, 13)]
    png = render.subscription_flow_chart(rows)
    assert png.startswith(PNG_MAGIC) and len(png) > 5000


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
            ('A', 1, 30, 30), ('A', 1, 20, 20),      -- two cohorts, delivery 1
            ('A', 2, 12, 30), ('A', 2, 8, 20),       -- 20 of 50 reach delivery 2
            ('A', 3, 1, 5)                           -- too few had the chance
        ) t(product_id, delivery_number, subscriptions_reached, eligible_subscriptions)
    """)
    rows = {(p, n): share for p, n, share in queries.subscription_flow_rows(con)}
    assert rows == {("A", 1): 1.0, ("A", 2): 0.4}
