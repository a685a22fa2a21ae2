"""The action ledger as dbt reads it is the table ledger.py creates.

ledger.py's DDL and the dbt source declaration
(dbt_project/models/staging/actions/_actions__sources.yml) are written in two places, and the
declaration is also the shape of the empty relation dbt reads before the first campaign run
(macros/source_or_empty.sql): this fails as soon as one side changes without the other.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import yaml

from orchestration.actions.ledger import LEDGER_TABLE, ensure_ledger

SOURCES_YML = (Path(__file__).resolve().parents[3] / "dbt_project" / "models" / "staging" / "actions"
               / "_actions__sources.yml")


def test_source_columns_and_types_are_the_ledger_ddl():
    doc = yaml.safe_load(SOURCES_YML.read_text(encoding="utf-8"))
    (source,) = doc["sources"]
    (table,) = source["tables"]
    assert f"{source['schema']}.{table['name']}" == LEDGER_TABLE
    con = duckdb.connect()
    ensure_ledger(con)
    created = con.execute(
        "select column_name, lower(data_type) from information_schema.columns "
        "where table_schema = 'actions' and table_name = 'action_ledger' order by ordinal_position").fetchall()
    assert [(c["name"], c["data_type"]) for c in table["columns"]] == created
