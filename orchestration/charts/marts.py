"""Which marts carry which chart: asset key path -> function(connection) -> markdown."""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from orchestration.charts import queries


def _subscription_flow(con: duckdb.DuckDBPyConnection) -> str:
    from orchestration.charts import render  # matplotlib: loaded only when a chart is drawn

    png = render.subscription_flow_chart(queries.subscription_flow_rows(con),
                                         title="定期フロー（全コホート）")
    return render.markdown_image(png, "商品別 定期フロー")


def _cohort_retention(con: duckdb.DuckDBPyConnection) -> str:
    from orchestration.charts import render  # matplotlib: loaded only when a chart is drawn

    png = render.cohort_heatmap(queries.cohort_retention_rows(con))
    return render.markdown_image(png, "コホート別継続率")


def _sbg_projection(con: duckdb.DuckDBPyConnection) -> str:
    from orchestration.charts import render  # matplotlib: loaded only when a chart is drawn

    rows, k = queries.sbg_projection_rows(con)
    png = render.sbg_projection_chart(rows, calibration_deliveries=k)
    return render.markdown_image(png, "sBG予測と実績の継続率")


CHARTS: dict[tuple[str, ...], tuple[str, Callable[[duckdb.DuckDBPyConnection], str]]] = {
    ("marts", "subscription_flow"): ("subscription_flow_chart", _subscription_flow),
    ("marts", "cohort_retention"): ("cohort_retention_heatmap", _cohort_retention),
    ("marts", "ltv_projected"): ("sbg_projection_chart", _sbg_projection),
}
