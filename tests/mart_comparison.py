"""Two builds of the same merchant's marts, attached to one DuckDB connection, compared row for
row (the API path against the CSV path, a foreign cart's exports against the demo cart's).

Named uniquely: several test folders have a conftest.py, so `import conftest` is ambiguous.
"""

from __future__ import annotations

import duckdb


def is_float(data_type: str) -> bool:
    return data_type in ("DOUBLE", "FLOAT") or data_type.startswith("DECIMAL")


def comparable(expr: str, column: str, data_type: str) -> str:
    """`expr as column`, floats rounded: the same sums in another order may differ in the last bit."""
    if is_float(data_type):
        expr = f"round({expr}, 9)"
    return f"{expr} as {column}"


def shared_columns(con: duckdb.DuckDBPyConnection, left: str, right: str, mart: str,
                   left_out: set[str]) -> list[tuple[str, str]]:
    """(column, type) of `left`'s mart in order, after asserting both builds have the same columns
    and that each left-out column still exists; the left side must have rows to compare."""
    columns = con.execute(
        "select column_name, data_type from duckdb_columns() where database_name = ? "
        "and schema_name = 'marts' and table_name = ? order by column_index", [left, mart]).fetchall()
    right_columns = {r[0] for r in con.execute(
        "select column_name from duckdb_columns() where database_name = ? "
        "and schema_name = 'marts' and table_name = ?", [right, mart]).fetchall()}
    assert {c for c, _ in columns} == right_columns, f"{mart}: the two builds have other columns"
    assert left_out <= right_columns, "a left-out column no longer exists"
    count = con.execute(f"select count(*) from {left}.marts.{mart}").fetchone()[0]
    assert count > 0, f"{mart} is empty in {left}: nothing would be compared"
    return columns


def rows_only_on_each_side(con: duckdb.DuckDBPyConnection, left_sql: str, right_sql: str,
                           most: int = 5) -> tuple[list, list]:
    """Up to `most` rows of each query that the other lacks, duplicates counted."""
    return (con.execute(f"{left_sql} except all {right_sql} limit {most}").fetchall(),
            con.execute(f"{right_sql} except all {left_sql} limit {most}").fetchall())
