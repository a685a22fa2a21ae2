"""Warehouse reads behind the charts (DuckDB connection in, rows out). No Dagster."""

from __future__ import annotations

import duckdb


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()[0] > 0


# A point of the 定期フロー curve needs this many subscriptions that had the chance to reach it;
# below that, late deliveries of long-cycle products swing between 0 % and 100 % on a handful.
MIN_ELIGIBLE_FOR_FLOW_POINT = 20


def subscription_flow_rows(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int, float]]:
    """(product label, delivery_number, share of eligible first deliveries reaching n), all
    cohorts pooled, from marts.subscription_flow. The label is the 商品名 a CRM manager knows the
    product by (the 商品コード when the cart gave no name)."""
    return con.execute(
        """
        select coalesce(max(product_name), product_id), delivery_number,
               sum(subscriptions_reached) / sum(eligible_subscriptions)
        from marts.subscription_flow
        group by product_id, delivery_number
        having sum(eligible_subscriptions) >= ?
        order by 1, 2
        """,
        [MIN_ELIGIBLE_FOR_FLOW_POINT],
    ).fetchall()


def cohort_retention_rows(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """(cohort_month, months_since_first_order, retention, is_partial) across sources.

    is_partial: the activity month is the business date's month or later, so it is counted only
    up to the business date and its retention reads low. The business date is the mart's own
    as_of_date column (the date dbt computed it at), so chart and table cannot disagree.
    """
    return con.execute(
        """
        select cohort_month, months_since_first_order,
               sum(active_customers) / nullif(sum(cohort_customers), 0),
               bool_or(activity_month >= cast(date_trunc('month', as_of_date) as date))
        from marts.cohort_retention
        group by all
        order by 1, 2
        """
    ).fetchall()


def sbg_projection_rows(con: duckdb.DuckDBPyConnection) -> tuple[list[tuple], int | None]:
    """(product, n, projected full fit, observed, projected calibration fit, actual of the
    calibration population), and k (deliveries the calibration fit saw)."""
    has_check = _table_exists(con, "marts", "ltv_projection_check")
    rows = con.execute(
        f"""
        select p.source || ':' || p.product_id as product, p.delivery_number, p.projected_survival,
               p.observed_survival, {'c.projected_survival, c.actual_survival' if has_check else 'null, null'}
        from marts.ltv_projected as p
        {'''left join marts.ltv_projection_check as c
            on c.source = p.source and c.product_id = p.product_id
            and c.delivery_number = p.delivery_number''' if has_check else ''}
        order by 1, 2
        """
    ).fetchall()
    k = None
    if has_check:
        k = con.execute("select max(calibration_deliveries) from marts.ltv_projection_check").fetchone()[0]
    return rows, k
