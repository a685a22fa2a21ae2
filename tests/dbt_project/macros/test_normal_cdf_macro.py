"""macros/normal_cdf.sql, the standard normal CDF the effect marts' p-values use (DuckDB has none),
against the exact value from math.erf on a grid: within the 7.5e-8 that Abramowitz-Stegun 7.1.26
promises. The macro is plain Jinja, rendered here as dbt would render it.
(tests/assert_normal_cdf_matches_tables.sql checks tabulated values inside dbt too.)"""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import jinja2

MACRO = Path(__file__).resolve().parents[3] / "dbt_project" / "macros" / "normal_cdf.sql"


def _normal_cdf_sql(expression: str) -> str:
    module = jinja2.Environment().from_string(MACRO.read_text(encoding="utf-8")).module
    return str(module.normal_cdf(expression))


def test_normal_cdf_is_within_the_approximation_bound():
    xs = [i / 100 for i in range(-800, 801)]
    con = duckdb.connect()
    rows = con.execute(
        f"select x, {_normal_cdf_sql('x')} from (select unnest(?::double[]) as x)", [xs]).fetchall()
    errors = [abs(phi - 0.5 * (1 + math.erf(x / math.sqrt(2)))) for x, phi in rows]
    assert len(rows) == len(xs)
    assert max(errors) < 7.5e-8


def test_normal_cdf_known_values_and_symmetry():
    con = duckdb.connect()
    value = lambda x: con.execute(f"select {_normal_cdf_sql(repr(x))}").fetchone()[0]  # noqa: E731
    assert value(0.0) == 0.5
    assert abs(value(1.959963985) - 0.975) < 1e-7
    assert abs(value(-1.959963985) - 0.025) < 1e-7
    assert abs(value(1.0) + value(-1.0) - 1) < 1e-12
    # the p-value of the effect marts' z = 1.4213 (60% vs 50%, 100 per arm)
    assert abs(2 * (1 - value(0.1 / math.sqrt(0.55 * 0.45 * 0.02))) - 0.155218) < 1e-6
