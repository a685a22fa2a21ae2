"""The daily refresh: everything, every morning at 06:00 in Japan."""

from __future__ import annotations

import dagster as dg

daily_refresh_job = dg.define_asset_job(
    "daily_refresh",
    selection=dg.AssetSelection.all(),
    description="Exports -> raw -> dbt (with tests) -> actions -> BI snapshot.",
)

daily_refresh_schedule = dg.ScheduleDefinition(
    job=daily_refresh_job,
    cron_schedule="0 6 * * *",
    execution_timezone="Asia/Tokyo",
    # Unattended by design: runs as soon as the Dagster daemon runs.
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
