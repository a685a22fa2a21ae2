"""A materialized demo pipeline for end-to-end tests (the `demo_run` fixture in conftest.py).

Named uniquely: several test folders have a conftest.py, so `import conftest` is ambiguous.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
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
        with teiki_env(self.settings.data_dir):
            return self.job.execute_in_process(
                instance=self.instance, run_config=self.run_config, raise_on_error=False)


class teiki_env:
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
