"""Resources: the DuckDB warehouse and the dbt CLI."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource

from orchestration.settings import DBT_PROJECT_DIR

# Every asset that writes the warehouse runs in this pool; dagster.yaml gives it one slot because
# DuckDB admits a single writing process (ARCHITECTURE.md, known traps).
WAREHOUSE_POOL = "teiki_warehouse"


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file. Opening waits out another process's lock instead of failing."""

    path: str
    lock_timeout_seconds: float = 120.0

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        con = _connect_waiting(self.path, read_only, self.lock_timeout_seconds)
        try:
            yield con
        finally:
            con.close()


def _connect_waiting(path: str, read_only: bool, timeout: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + timeout
    delay = 0.2
    while True:
        try:
            return duckdb.connect(path, read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def dbt_cli_resource() -> DbtCliResource:
    # The dbt next to this interpreter, so a venv's pytest or dagster works without the venv on PATH.
    local_dbt = Path(sys.executable).parent / "dbt"
    return DbtCliResource(
        project_dir=str(DBT_PROJECT_DIR),
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=str(local_dbt) if local_dbt.exists() else "dbt",
    )
