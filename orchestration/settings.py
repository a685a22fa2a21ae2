"""Where Teiki reads and writes, resolved once from environment variables.

Every path has a default under the repository's `data/` folder so that `make demo` needs no
configuration. dbt reads TEIKI_WAREHOUSE and TEIKI_AS_OF_DATE itself (dbt_project/profiles.yml,
dbt_project.yml); the dbt asset sets them from these settings when it invokes dbt
(transform/dbt_models.py), so Python assets and dbt never disagree on the file or the date.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
JST = ZoneInfo("Asia/Tokyo")


def today_jst() -> date:
    return datetime.now(JST).date()


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    warehouse: Path
    bi_snapshot: Path
    csv_export_dir: Path
    csv_profile: str
    demo: bool
    outbox_dir: Path
    as_of_date: date | None  # None: today in Japan, evaluated at run time

    def business_date(self) -> date:
        return self.as_of_date or today_jst()


def load_settings(env: os._Environ[str] | dict[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    data_dir = Path(env.get("TEIKI_DATA_DIR", REPO_ROOT / "data")).resolve()
    export_dir = env.get("TEIKI_CSV_EXPORT_DIR")
    as_of = env.get("TEIKI_AS_OF_DATE", "").strip()
    return Settings(
        data_dir=data_dir,
        warehouse=Path(env.get("TEIKI_WAREHOUSE", data_dir / "warehouse.duckdb")).resolve(),
        bi_snapshot=Path(env.get("TEIKI_BI_SNAPSHOT", data_dir / "bi" / "teiki.duckdb")).resolve(),
        # Without an export folder of the merchant's own, the demo merchant is generated there.
        csv_export_dir=Path(export_dir).resolve() if export_dir else data_dir / "exports" / "demo",
        csv_profile=env.get("TEIKI_CSV_PROFILE", "demo_merchant"),
        demo=export_dir is None,
        outbox_dir=Path(env.get("TEIKI_OUTBOX_DIR", data_dir / "outbox")).resolve(),
        as_of_date=date.fromisoformat(as_of) if as_of else None,
    )

