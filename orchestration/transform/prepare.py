"""Prepare dbt's manifest (`dbt parse`) for the CLI, `make` and tests.

dagster-dbt loads manifest.json when definitions are imported, and only `dagster dev` prepares
it by itself. Parsing with the same environment the pipeline will give dbt (warehouse path,
business date) keeps dbt's partial-parse cache valid, so a run does not re-parse everything
("profile has changed"). Deliberately imports nothing that needs the manifest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from orchestration.settings import DBT_PROJECT_DIR, load_settings


def dbt_environment(settings) -> dict[str, str]:
    return {
        "TEIKI_WAREHOUSE": str(settings.warehouse),
        "TEIKI_AS_OF_DATE": settings.as_of_date.isoformat() if settings.as_of_date else "",
    }


def prepare_manifest() -> None:
    dbt = Path(sys.executable).parent / "dbt"
    env = {**os.environ, **dbt_environment(load_settings())}
    subprocess.run(
        [str(dbt) if dbt.exists() else "dbt", "parse", "--quiet", "--profiles-dir", "."],
        cwd=DBT_PROJECT_DIR, env=env, check=True,
    )


if __name__ == "__main__":
    prepare_manifest()
