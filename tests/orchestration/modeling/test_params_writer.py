"""params_writer: history per business date, a re-run replaces its date, one transaction."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from orchestration.modeling import params_writer
from orchestration.modeling.params_writer import ParamsTable, columns, write_run

RUNS = ParamsTable("t_runs", columns("""
    model_version varchar not null,
    as_of_date date not null,
    score double
"""))
DETAILS = ParamsTable("t_details", columns("model_version varchar not null, \n term varchar not null"), parent=RUNS)
D1, D2 = date(2026, 11, 23), date(2026, 11, 24)


def rows(con, table: ParamsTable) -> list[tuple]:
    return con.execute(f"select * from {table.qualified} order by all").fetchall()


def test_columns_are_parsed_from_one_declaration():
    assert [(c.name, c.data_type, c.not_null) for c in RUNS.columns] == [
        ("model_version", "varchar", True), ("as_of_date", "date", True), ("score", "double", False)]
    assert "score double,\n" not in RUNS.ddl and "score double\n" in RUNS.ddl


def test_history_kept_and_a_rerun_replaces_its_date_only():
    con = duckdb.connect()
    write_run(con, D1, {RUNS: [("v1", D1, 0.5)], DETAILS: [("v1", "a"), ("v1", "b")]})
    write_run(con, D2, {RUNS: [{"model_version": "v2", "as_of_date": D2, "score": 0.6}], DETAILS: [("v2", "a")]})
    write_run(con, D2, {RUNS: [("v2b", D2, 0.7)], DETAILS: [("v2b", "c")]})
    assert rows(con, RUNS) == [("v1", D1, 0.5), ("v2b", D2, 0.7)]
    assert rows(con, DETAILS) == [("v1", "a"), ("v1", "b"), ("v2b", "c")]


def test_a_failed_write_leaves_every_table_as_it_was(monkeypatch):
    con = duckdb.connect()
    write_run(con, D1, {RUNS: [("v1", D1, 0.5)], DETAILS: [("v1", "a")]})
    real = params_writer._insert

    def failing(con, table, rows):
        if table is DETAILS:
            raise RuntimeError("disk full")
        real(con, table, rows)

    monkeypatch.setattr(params_writer, "_insert", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        write_run(con, D1, {RUNS: [("v1b", D1, 0.9)], DETAILS: [("v1b", "z")]})
    assert rows(con, RUNS) == [("v1", D1, 0.5)] and rows(con, DETAILS) == [("v1", "a")]


def test_a_row_must_have_exactly_the_declared_columns():
    con = duckdb.connect()
    with pytest.raises(ValueError, match=r"missing \['score'\], undeclared \['extra'\]"):
        write_run(con, D1, {RUNS: [{"model_version": "v", "as_of_date": D1, "extra": 1}]})
    with pytest.raises(ValueError, match="written with its parent"):
        write_run(con, D1, {DETAILS: [("v", "a")]})


def test_an_existing_table_of_another_shape_is_not_written_to():
    con = duckdb.connect()
    con.execute("create schema model_params")
    con.execute("create table model_params.t_runs (model_version varchar, as_of_date date)")
    with pytest.raises(RuntimeError, match="migrate the table"):
        write_run(con, D1, {RUNS: [("v1", D1, 0.5)]})
