"""Every model_params table a Python model writes is the dbt source that declares it.

The writers' column declarations (ParamsTable in the asset modules of orchestration/modeling/)
and the dbt source declaration (dbt_project/models/staging/model_params/_model_params__sources.yml)
are written in two places; this test fails as soon as one changes without the other: a table on
one side only, a column missing, renamed or moved, or a different data_type.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import duckdb
import pytest
import yaml

import orchestration.modeling
from orchestration.modeling.params_writer import SCHEMA, ParamsTable

SOURCES_YML = (Path(__file__).resolve().parents[3] / "dbt_project" / "models" / "staging" / "model_params"
               / "_model_params__sources.yml")


def writer_tables() -> dict[str, ParamsTable]:
    """Every ParamsTable declared at module level in orchestration/modeling/."""
    found: dict[str, ParamsTable] = {}
    for info in pkgutil.iter_modules(orchestration.modeling.__path__):
        module = importlib.import_module(f"orchestration.modeling.{info.name}")
        for value in vars(module).values():
            if isinstance(value, ParamsTable):
                assert found.setdefault(value.name, value) is value, f"{value.name} declared twice"
    return found


def source_tables() -> dict[str, list[dict]]:
    doc = yaml.safe_load(SOURCES_YML.read_text(encoding="utf-8"))
    (source,) = [s for s in doc["sources"] if s["name"] == SCHEMA]
    assert source.get("schema", SCHEMA) == SCHEMA
    return {t["name"]: t.get("columns", []) for t in source["tables"]}


WRITERS = writer_tables()


def test_the_same_tables_on_both_sides():
    assert WRITERS, "no ParamsTable found: the writers moved?"
    assert sorted(WRITERS) == sorted(source_tables())


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_columns_and_types_match_the_dbt_source(name):
    declared = source_tables()[name]
    table = WRITERS[name]
    assert [c["name"] for c in declared] == table.column_names
    for column, source_column in zip(table.columns, declared):
        if "data_type" in source_column:
            assert source_column["data_type"].lower() == column.data_type, (name, column.name)


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_the_generated_ddl_creates_the_declared_table(name):
    table = WRITERS[name]
    con = duckdb.connect()
    con.execute(f"create schema {SCHEMA}")
    if table.parent is not None:
        con.execute(table.parent.ddl)
    con.execute(table.ddl)
    got = con.execute(
        "select column_name, lower(data_type), is_nullable from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position", [SCHEMA, name]).fetchall()
    assert got == [(c.name, c.data_type, "NO" if c.not_null else "YES") for c in table.columns]
