"""Freshness: a missing export drop or a snapshot nobody republished is a visible, failing check.

Two checks, thresholds in the settings file (``freshness`` section):
- each CSV export stream (check on ``raw_csv/<stream>``): the newest file the cart dropped for
  the stream is at most ``export_max_age_hours`` old. A stream with no file at all fails too,
  unless the profile marks it optional. Without this, a cart export job that silently stopped
  leaves every mart running on yesterday's (or last week's) data.
- the BI snapshot (check on ``bi/snapshot``): published at most ``snapshot_max_age_hours`` ago,
  so a dashboard reading a stale copy says so.

Both are warnings by default (``severity: error`` makes them block what is downstream) and run
after their asset in every refresh, and on their own every hour (``freshness_checks`` job and
schedule), so a morning run that never started is caught as well.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import duckdb

from connectors.csv_export import load_profile
from connectors.csv_export.loader import stream_files
from orchestration.merchant_settings import FreshnessSettings
from orchestration.settings import Settings


def _severity(settings: FreshnessSettings) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity.ERROR if settings.severity == "error" else dg.AssetCheckSeverity.WARN


def _age_hours(then: datetime, now: datetime) -> float:
    return round((now - then).total_seconds() / 3600, 2)


def export_freshness(export_dir: Path, profile_name: str, stream: str, max_age_hours: float,
                     now: datetime | None = None) -> tuple[bool, dict]:
    """(passed, metadata) for one stream's newest export file."""
    now = now or datetime.now(timezone.utc)
    profile = load_profile(profile_name)
    optional = bool(getattr(profile.stream(stream), "optional", False))
    files = stream_files(export_dir, profile, [stream]).get(stream, []) if export_dir.is_dir() else []
    if not files:
        return optional, {"newest_file": None, "max_age_hours": max_age_hours,
                          "reason": "optional stream, no file" if optional else "no export file for this stream"}
    newest = max(files, key=lambda p: p.stat().st_mtime)
    dropped = datetime.fromtimestamp(newest.stat().st_mtime, timezone.utc)
    age = _age_hours(dropped, now)
    return age <= max_age_hours, {
        "newest_file": newest.name,
        "dropped_at": dropped.isoformat(timespec="seconds"),
        "age_hours": age,
        "max_age_hours": max_age_hours,
    }


def snapshot_published_at(snapshot: Path) -> datetime | None:
    """When the snapshot at `snapshot` was published (its meta.published row), or None."""
    if not snapshot.exists():
        return None
    try:
        con = duckdb.connect(str(snapshot), read_only=True)
    except duckdb.Error:
        return None
    try:
        row = con.execute("select max(published_at) from meta.published").fetchone()
    except duckdb.Error:
        return None
    finally:
        con.close()
    return row[0].replace(tzinfo=timezone.utc) if row and row[0] else None


def snapshot_freshness(snapshot: Path, max_age_hours: float, now: datetime | None = None) -> tuple[bool, dict]:
    now = now or datetime.now(timezone.utc)
    published = snapshot_published_at(snapshot)
    if published is None:
        return False, {"published_at": None, "max_age_hours": max_age_hours, "reason": "no snapshot published yet"}
    age = _age_hours(published, now)
    return age <= max_age_hours, {"published_at": published.isoformat(timespec="seconds"),
                                  "age_hours": age, "max_age_hours": max_age_hours}


def build_freshness_checks(settings: Settings, freshness: FreshnessSettings, csv_streams: list[str]) -> list:
    checks = []
    for stream in csv_streams:
        checks.append(_export_check(settings, freshness, stream))

    @dg.asset_check(
        asset=dg.AssetKey(["bi", "snapshot"]), name="snapshot_is_fresh",
        description=(f"The BI snapshot was published within the last {freshness.snapshot_max_age_hours:g} hours "
                     "(settings: freshness.snapshot_max_age_hours): dashboards are not reading a stale copy."),
    )
    def snapshot_is_fresh() -> dg.AssetCheckResult:
        passed, meta = snapshot_freshness(settings.bi_snapshot, freshness.snapshot_max_age_hours)
        return dg.AssetCheckResult(passed=passed, severity=_severity(freshness), metadata=meta)

    checks.append(snapshot_is_fresh)
    return checks


def _export_check(settings: Settings, freshness: FreshnessSettings, stream: str):
    @dg.asset_check(
        asset=dg.AssetKey(["raw_csv", stream]), name="export_is_fresh",
        # severity error: a stale export stops dbt, the actions and the publication in this run.
        blocking=freshness.severity == "error",
        description=(f"The newest `{stream}` export file was dropped within the last "
                     f"{freshness.export_max_age_hours:g} hours (settings: freshness.export_max_age_hours); "
                     "a stopped cart export job is flagged instead of marts silently running on old data."),
    )
    def export_is_fresh() -> dg.AssetCheckResult:
        passed, meta = export_freshness(settings.csv_export_dir, settings.csv_profile, stream,
                                        freshness.export_max_age_hours)
        return dg.AssetCheckResult(passed=passed, severity=_severity(freshness), metadata=meta)

    return export_is_fresh


def build_freshness_job_and_schedule(checks: list, timezone_name: str):
    job = dg.define_asset_job(
        "freshness_checks",
        selection=dg.AssetSelection.checks(*checks),
        description="Only the freshness checks: runs hourly so a refresh that never started is caught too.",
    )
    schedule = dg.ScheduleDefinition(
        job=job, cron_schedule="15 * * * *", execution_timezone=timezone_name,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    return job, schedule
