"""Test-session set-up: dagster-dbt needs dbt's manifest.json before any definitions import."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DBT_DIR = ROOT / "dbt_project"


def _manifest_is_stale() -> bool:
    manifest = DBT_DIR / "target" / "manifest.json"
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    return any(
        p.stat().st_mtime > built
        for p in DBT_DIR.rglob("*")
        if p.suffix in {".sql", ".yml", ".csv"} and "target" not in p.parts
    )


def pytest_configure(config):
    # `make test` prepares it already; this covers a bare `pytest` after editing a model.
    if _manifest_is_stale():
        from orchestration.transform.prepare import prepare_manifest

        prepare_manifest()


# --- a materialized demo pipeline, shared by every end-to-end test -------------------------------
DEMO_AS_OF = date(2026, 11, 23)
DEMO_PROFILE = yaml.safe_load((ROOT / "connectors/csv_export/profiles/demo_merchant.yaml").read_text())


@dataclass
class DemoRun:
    """One real materialization of the `daily_refresh` job into a temporary data directory."""

    settings: object  # orchestration.settings.Settings
    job: object
    instance: object
    result: object
    run_config: dict
    customers: int
    seed: int

    def read_export(self, stream: str) -> list[dict]:
        """Rows of a generated export file keyed by raw column name, read without the loader."""
        cols = DEMO_PROFILE["streams"][stream]["columns"]
        header_to_col = {c["header"]: name for name, c in cols.items()}
        path = self.settings.csv_export_dir / f"{stream}.csv"
        with open(path, encoding="cp932", newline="") as fh:
            return [{header_to_col.get(h, h): v for h, v in row.items()} for row in csv.DictReader(fh)]

    def rerun(self):
        with _teiki_env(self.settings.data_dir):
            return self.job.execute_in_process(
                instance=self.instance, run_config=self.run_config, raise_on_error=False)


class _teiki_env:
    """Point every TEIKI_* setting at one data directory for the duration of a block."""

    def __init__(self, data_dir):
        self.data_dir = data_dir

    def __enter__(self):
        self.saved = dict(os.environ)
        # Importing orchestration.definitions exported the default paths; start from none of them.
        for name in [n for n in os.environ if n.startswith("TEIKI_")]:
            del os.environ[name]
        os.environ.update({"TEIKI_DATA_DIR": str(self.data_dir), "TEIKI_AS_OF_DATE": DEMO_AS_OF.isoformat()})

    def __exit__(self, *exc):
        os.environ.clear()
        os.environ.update(self.saved)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """Factory: demo_run(customers, seed) materializes every asset once per session and size."""
    import dagster as dg

    from orchestration.definitions import build_definitions
    from orchestration.settings import load_settings

    runs: dict[tuple[int, int], DemoRun] = {}
    instance = dg.DagsterInstance.ephemeral()

    def get(customers: int = 1500, seed: int = 11) -> DemoRun:
        if (customers, seed) not in runs:
            data_dir = tmp_path_factory.mktemp(f"teiki_{customers}_{seed}")
            run_config = {"ops": {"demo_merchant_exports": {"config": {"customers": customers, "seed": seed}}}}
            with _teiki_env(data_dir):
                settings = load_settings()
                job = build_definitions(settings).resolve_job_def("daily_refresh")
                result = job.execute_in_process(instance=instance, run_config=run_config, raise_on_error=False)
            assert result.success, [e.message for e in result.all_events if e.is_failure]
            runs[(customers, seed)] = DemoRun(settings, job, instance, result, run_config, customers, seed)
        return runs[(customers, seed)]

    yield get
    instance.dispose()
