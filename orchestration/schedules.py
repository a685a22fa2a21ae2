"""The daily refresh: everything, every morning at 06:00 in Japan; and the 09:00 campaign send.

The refresh decides the day's campaigns at 06:00, inside the quiet hours (21:00-08:00): live mail
and LINE stay planned in the ledger, and the 09:00 run of the campaigns sends them (deciding
nobody twice: orchestration/actions/ledger.py)."""

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

campaign_send_job = dg.define_asset_job(
    "campaign_send",
    selection=dg.AssetSelection.groups("campaigns"),
    description="Sends the day's planned campaign messages once the quiet hours are over.",
)

campaign_send_schedule = dg.ScheduleDefinition(
    job=campaign_send_job,
    cron_schedule="0 9 * * *",
    execution_timezone="Asia/Tokyo",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
