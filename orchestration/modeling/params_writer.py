"""The one writer of fitted-model tables (`model_params.*`, the dbt sources of the model marts).

Every model asset (churn_hazard.py, sbg.py, repeat_buyers.py) declares its tables here once, as
a :class:`ParamsTable` whose columns are the single declaration the DDL is generated from and
that tests/orchestration/modeling/test_params_tables.py compares with the dbt source declaration
(dbt_project/models/staging/model_params/_model_params__sources.yml).

One pattern for all of them:

- History is kept: a fit is appended, never written over another business date's. The run of a
  business date is its rows with that ``as_of_date`` (or, for a table without that column, the
  rows whose ``parent_key`` belongs to that date's rows of the ``parent`` table); re-running the
  same date replaces that date's run, so a same-day re-run never doubles anything.
- One transaction for all tables of a fit: a reader (dbt, the BI snapshot) sees the previous
  run whole or the new one whole, never a half-written table, and a failed write leaves the
  previous state exactly as it was.
- dbt selects the run in force: the latest as_of_date on or before the business date
  (staging/model_params/stg_model_params__*.sql; churn_risk_scores for the churn tables).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

SCHEMA = "model_params"
RUN_DATE_COLUMN = "as_of_date"


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str  # DuckDB type, as dbt's data_type of the source column
    not_null: bool = False

    @property
    def ddl(self) -> str:
        return f"{self.name} {self.data_type}" + (" not null" if self.not_null else "")


def columns(declaration: str) -> tuple[Column, ...]:
    """Columns from lines 'name type [not null]' (commas and blank lines ignored)."""
    out = []
    for line in declaration.strip().splitlines():
        words = line.strip().rstrip(",").split()
        if not words:
            continue
        not_null = [w.lower() for w in words[-2:]] == ["not", "null"]
        name, *type_words = words[:-2] if not_null else words
        if not type_words:
            raise ValueError(f"column {name!r} has no type")
        out.append(Column(name, " ".join(type_words).lower(), not_null))
    names = [c.name for c in out]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate column in {names}")
    return tuple(out)


@dataclass(frozen=True)
class ParamsTable:
    """A model_params table: its columns and how its rows belong to one business date's run."""

    name: str
    columns: tuple[Column, ...]
    # For a table without as_of_date: rows belong to the run of the parent rows they reference.
    parent: ParamsTable | None = None
    parent_key: str = "model_version"

    def __post_init__(self) -> None:
        if self.parent is None and RUN_DATE_COLUMN not in self.column_names:
            raise ValueError(f"{self.name}: needs an {RUN_DATE_COLUMN} column or a parent table")
        if self.parent is not None and self.parent_key not in self.column_names:
            raise ValueError(f"{self.name}: no column {self.parent_key!r} to reference {self.parent.name}")

    @property
    def qualified(self) -> str:
        return f"{SCHEMA}.{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def ddl(self) -> str:
        return f"create table if not exists {self.qualified} (\n    " + ",\n    ".join(
            c.ddl for c in self.columns) + "\n)"

    def run_filter(self) -> str:
        """SQL condition selecting the rows of the run of business date ? (one parameter)."""
        if self.parent is None:
            return f"{RUN_DATE_COLUMN} = ?"
        return f"{self.parent_key} in (select {self.parent_key} from {self.parent.qualified} where {self.parent.run_filter()})"

    def values(self, row: Mapping[str, Any] | Sequence[Any]) -> list[Any]:
        """A row as values in declared column order: a mapping must have exactly the columns."""
        if isinstance(row, Mapping):
            if set(row) != set(self.column_names):
                missing = sorted(set(self.column_names) - set(row))
                extra = sorted(set(row) - set(self.column_names))
                raise ValueError(f"{self.qualified}: row does not match the declared columns "
                                 f"(missing {missing}, undeclared {extra})")
            return [row[n] for n in self.column_names]
        if len(row) != len(self.columns):
            raise ValueError(f"{self.qualified}: row of {len(row)} values for {len(self.columns)} columns")
        return list(row)


def _check_existing(con: Any, table: ParamsTable) -> None:
    """A table left by an earlier version must have the declared columns, in order."""
    found = [r[0] for r in con.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
        "order by ordinal_position", [SCHEMA, table.name]).fetchall()]
    if found != table.column_names:
        raise RuntimeError(
            f"{table.qualified} has columns {found}, the declaration {table.column_names}: migrate the "
            f"table (its rows are the model's history) before writing this version's fits")


def _insert(con: Any, table: ParamsTable, rows: Sequence[Mapping[str, Any] | Sequence[Any]]) -> None:
    if rows:
        marks = ", ".join("?" for _ in table.columns)
        con.executemany(f"insert into {table.qualified} ({', '.join(table.column_names)}) values ({marks})",
                        [table.values(r) for r in rows])


def write_run(con: Any, as_of: date, rows: Mapping[ParamsTable, Sequence[Mapping[str, Any] | Sequence[Any]]]) -> None:
    """Write one fit of business date ``as_of``: every table in ``rows`` (parents first), replacing
    that date's earlier run and keeping every other date's, all in one transaction."""
    tables = list(rows)
    for t in tables:
        if t.parent is not None and t.parent not in rows:
            raise ValueError(f"{t.name} is written with its parent {t.parent.name}")
    con.execute("begin transaction")
    try:
        con.execute(f"create schema if not exists {SCHEMA}")
        for t in tables:
            con.execute(t.ddl)
            _check_existing(con, t)
        # Children first: their run is found through the parent's rows of that date.
        for t in sorted(tables, key=lambda t: t.parent is None):
            con.execute(f"delete from {t.qualified} where {t.run_filter()}", [as_of])
        for t in tables:
            _insert(con, t, rows[t])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
