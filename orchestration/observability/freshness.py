"""Freshness: a missing export drop or a snapshot nobody republished is a visible, failing check.

Two checks, thresholds in the settings file (``freshness`` section):
- each CSV export stream (check on ``raw_csv/<stream>``): the export set is complete and fresh.
  A stream the profile expects in every drop (``export: full``, not ``optional``) that has no
  file in today's drop fails at **error** severity whatever the settings say, and blocks dbt,
  the actions and the publication: its raw table still holds the previous export, and every
  mart would run on it. Today's drop is the files dropped within ``export_max_age_hours`` of the
  newest export file; a stream whose newest file is older than that, or that has no file at
  all, is missing from it. Otherwise the stream's newest file must be at most
  ``export_max_age_hours`` old (a whole drop that is old: the cart's export job stopped); an
  ``incremental`` stream without any file fails the same way, an ``optional`` one passes.
- the BI snapshot (check on ``bi/snapshot``): published at most ``snapshot_max_age_hours`` ago,
  so a dashboard reading a stale copy says so.

Staleness is a warning by default (``severity: error`` makes it block what is downstream). The
checks run after their asset in every refresh, and on their own every hour
(``freshness_checks`` job and schedule), so a morning run that never started is caught as well.
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


def _dropped_at(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)


def export_freshness(export_dir: Path, profile_name: str, stream: str, max_age_hours: float,
                     now: datetime | None = None) -> tuple[bool, dict]:
    """(passed, metadata) for one stream: in today's drop if the profile expects it there, and
    its newest export file fresh. ``metadata["missing"]`` is True when an expected stream is
    missing from the drop (an error whatever the settings' severity); ``reason`` says why."""
    now = now or datetime.now(timezone.utc)
    profile = load_profile(profile_name)
    spec = profile.stream(stream)
    expected = spec.full and not spec.optional
    files = stream_files(export_dir, profile, [stream]).get(stream, []) if export_dir.is_dir() else []
    meta: dict = {"newest_file": None, "max_age_hours": max_age_hours, "missing": False,
                  "export": spec.export, "optional": spec.optional}
    if not files:
        if spec.optional:
            return True, {**meta, "reason": "optional stream, no file"}
        if expected:
            return False, {**meta, "missing": True, "reason": (
                f"no {spec.file} in the export drop: the {stream} export is missing, and the "
                f"raw table still holds the previous export's rows")}
        return False, {**meta, "reason": f"no export file for this stream ({spec.file})"}
    newest = max(files, key=lambda p: p.stat().st_mtime)
    dropped = _dropped_at(newest)
    age = _age_hours(dropped, now)
    meta.update(newest_file=newest.name, dropped_at=dropped.isoformat(timespec="seconds"),
                age_hours=age)
    if expected:
        # today's drop: the files dropped within max_age_hours of the newest export file
        drop = [p for paths in stream_files(export_dir, profile).values() for p in paths]
        latest = max(drop, key=lambda p: p.stat().st_mtime)
        behind = _age_hours(dropped, _dropped_at(latest))
        if behind > max_age_hours:
            return False, {**meta, "missing": True, "reason": (
                f"no {spec.file} in today's export drop (newest file {latest.name}, dropped "
                f"{behind:g} hours after {newest.name}, the newest {stream} file): the {stream} "
                f"export is missing")}
    return age <= max_age_hours, meta


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
        # Blocking: a failure at error severity (an expected stream missing from the drop, or
        # any staleness with `severity: error`) stops dbt, the actions and the publication in
        # this run; a warning lets them go on.
        blocking=True,
        description=(f"The `{stream}` export is in today's drop when the profile expects it there "
                     f"(a missing file is an error) and its newest file was dropped within the last "
                     f"{freshness.export_max_age_hours:g} hours (settings: freshness.export_max_age_hours); "
                     "a missing export or a stopped cart export job is flagged instead of marts "
                     "silently running on old data."),
    )
    def export_is_fresh() -> dg.AssetCheckResult:
        passed, meta = export_freshness(settings.csv_export_dir, settings.csv_profile, stream,
                                        freshness.export_max_age_hours)
        severity = dg.AssetCheckSeverity.ERROR if meta["missing"] else _severity(freshness)
        return dg.AssetCheckResult(passed=passed, severity=severity, metadata=meta,
                                   description=None if passed else meta.get("reason"))

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
