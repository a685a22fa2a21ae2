"""Where Teiki reads and writes, and which sources feed it, resolved once from environment variables
(and the settings file's `csv_export` section, the merchant's choice of export folder and profile).

Every path has a default under the repository's `data/` folder so that `make demo` needs no
configuration. dbt reads TEIKI_WAREHOUSE, TEIKI_AS_OF_DATE and TEIKI_SOURCES itself
(dbt_project/profiles.yml, dbt_project.yml, macros/union_staging.sql); every dbt invocation gets
them from these settings (transform/prepare.py `dbt_environment`), so Python assets, the manifest
and dbt never disagree on the file, the date or the sources.

Sources: the CSV path when an export folder is set (the settings file's `csv_export.dir`, or
TEIKI_CSV_EXPORT_DIR for one process), plus every cart API whose variables are
all set (connectors/api_source.py). With neither, the demo merchant is generated and loaded
through the CSV path; as soon as one API source is configured the demo steps aside, so a
Shopify + Recharge shop never gets fictional customers mixed into its marts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from connectors.api_source import configured_sources

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
JST = ZoneInfo("Asia/Tokyo")
CSV_SOURCE = "csv"  # the CSV path's source name: raw schema raw_csv, staging stg_csv__*


def today_jst() -> date:
    return datetime.now(JST).date()


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    warehouse: Path
    bi_snapshot: Path
    csv_export_dir: Path
    csv_profile: str
    demo: bool  # no CSV export folder and no API source: the demo merchant is generated
    sources: tuple[str, ...]  # "csv" and/or configured API sources, in a fixed order
    outbox_dir: Path
    as_of_date: date | None  # None: today in Japan, evaluated at run time

    def business_date(self) -> date:
        return self.as_of_date or today_jst()


def load_settings(env: os._Environ[str] | dict[str, str] | None = None) -> Settings:
    # The settings file (TEIKI_SETTINGS) holds the merchant's choice of export folder and profile;
    # the environment overrides it for one process (a backfill from another folder, a test).
    from orchestration.merchant_settings import load_merchant_settings

    env = os.environ if env is None else env
    csv_export = load_merchant_settings(env).csv_export
    data_dir = Path(env.get("TEIKI_DATA_DIR", REPO_ROOT / "data")).resolve()
    export_dir = (env.get("TEIKI_CSV_EXPORT_DIR") or "").strip() or csv_export.dir
    as_of = env.get("TEIKI_AS_OF_DATE", "").strip()
    api = tuple(source.name for source in configured_sources(env))
    demo = export_dir is None and not api
    return Settings(
        data_dir=data_dir,
        warehouse=Path(env.get("TEIKI_WAREHOUSE", data_dir / "warehouse.duckdb")).resolve(),
        bi_snapshot=Path(env.get("TEIKI_BI_SNAPSHOT", data_dir / "bi" / "teiki.duckdb")).resolve(),
        # Without an export folder of the merchant's own, the demo merchant is generated there.
        csv_export_dir=Path(export_dir).resolve() if export_dir else data_dir / "exports" / "demo",
        csv_profile=(env.get("TEIKI_CSV_PROFILE") or "").strip() or csv_export.profile,
        demo=demo,
        sources=((CSV_SOURCE,) if export_dir or demo else ()) + api,
        outbox_dir=Path(env.get("TEIKI_OUTBOX_DIR", data_dir / "outbox")).resolve(),
        as_of_date=date.fromisoformat(as_of) if as_of else None,
    )

