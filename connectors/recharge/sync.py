"""Recharge API 2021-11 -> ``raw_recharge.{customers,subscriptions,charges}``.

``README.md`` here is the authority for the protocol (endpoints, cursor pagination, the
incremental and reconciliation passes, limits, raw columns and references); this module only
implements it, on the shared skeleton (``connectors/sync_base.py``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

from connectors import sync_base as base
from connectors.http import (AuthError, HeaderTokenAuth, HttpClient, HttpError, LeakyBucket,
                             ResponseFormatError, cursor_param_pages)
from connectors.raw import RawStream, RawWriter, SyncResult, WarehouseLike, utc_now

__all__ = [
    "API_VERSION",
    "DEFAULT_BASE_URL",
    "SOURCE",
    "STREAMS",
    "TOKEN_ENV",
    "RechargeBucket",
    "RechargeSettings",
    "make_client",
    "raw_stream",
    "settings_from_env",
    "sync",
    "sync_stream",
]

API_VERSION = "2021-11"
DEFAULT_BASE_URL = "https://api.rechargeapps.com"
SOURCE_NAME = "recharge"
TOKEN_ENV = "RECHARGE_API_TOKEN"

#: stream -> (list endpoint, key of the list in the body, scope it needs)
STREAMS: dict[str, tuple[str, str, str]] = {
    "customers": ("customers", "customers", "read_customers"),
    "subscriptions": ("subscriptions", "subscriptions", "read_subscriptions"),
    "charges": ("charges", "charges", "read_orders"),
}

AUTH_HELP = base.AuthHelp(
    provider="Recharge", credential=f"API token in {TOKEN_ENV}",
    forbidden=f"the API token in {TOKEN_ENV} lacks the scope {{scope!r}} (read access to "
              f"{{stream}}). Edit the token's permissions on the API tokens page of the Recharge "
              f"merchant portal and grant {{scope}}.",
    unauthorized=f"it is wrong, revoked or belongs to another store. Create a new API token on "
                 f"the API tokens page of the Recharge merchant portal and set {TOKEN_ENV}.")

#: Query parameters Recharge refuses next to ``cursor`` (everything but ``limit``).
_FILTERS = ("sort_by", "updated_at_min", "updated_at_max", "created_at_min", "created_at_max",
            "status", "ids")


def raw_stream(stream: str, source: str = SOURCE_NAME) -> RawStream:
    """The raw table of one Recharge stream."""
    return base.record_stream(source, stream, STREAMS, "Recharge")


@dataclass(frozen=True)
class RechargeSettings(base.ConnectorSettings):
    base_url: str = DEFAULT_BASE_URL
    page_size: int = 250
    lookback: timedelta = timedelta(hours=24)
    reconcile_every: timedelta | None = timedelta(days=7)  # None: never
    bucket_size: float = 40
    leak_per_second: float = 2.0
    max_retries: int = 6
    source: str = SOURCE_NAME

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "RechargeSettings":
        """Settings from environment variables (see README.md)."""
        common = base.common_env(env, "RECHARGE", TOKEN_ENV,
                                 "create an API token in Recharge and set it", DEFAULT_BASE_URL)
        page_size = int(base.env_number(env, "RECHARGE_PAGE_SIZE", 250))
        if not 1 <= page_size <= 250:
            raise ValueError(
                f"RECHARGE_PAGE_SIZE must be 1..250 (Recharge's maximum), got {page_size}")
        return cls(**common, page_size=page_size,
                   bucket_size=base.env_number(env, "RECHARGE_BUCKET_SIZE", 40),
                   leak_per_second=base.env_number(env, "RECHARGE_LEAK_RATE", 2.0))


settings_from_env = RechargeSettings.from_env


class RechargeBucket(LeakyBucket):
    """Recharge's leaky bucket, kept in step with the ``X-Recharge-Limit: used/size`` header."""

    _HEADER = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")

    def observe(self, response: Any) -> None:
        m = self._HEADER.match(response.headers.get("X-Recharge-Limit") or "")
        if m and int(m.group(2)) > 0:
            # the header counts whole calls: assume up to one more, so rounding never overflows
            used, size = int(m.group(1)), int(m.group(2))
            self.sync(min(size, used + 1), size)


def make_client(settings: RechargeSettings, *, sleep: Callable[[float], None] = time.sleep,
                clock: Callable[[], float] = time.monotonic,
                log: Callable[[str], None] | None = None) -> HttpClient:
    return base.http_client(
        settings, provider=AUTH_HELP.provider,
        auth=HeaderTokenAuth("X-Recharge-Access-Token", settings.token),
        throttle=RechargeBucket(settings.bucket_size, settings.leak_per_second, clock=clock,
                                sleep=sleep),
        default_headers={"X-Recharge-Version": API_VERSION}, sleep=sleep, log=log)


# ------------------------------------------------------------------------------------------------
# records -> rows


def parse_ts(value: Any) -> datetime | None:
    """Recharge timestamp (ISO 8601, with or without offset) -> naive UTC; None if absent or
    unreadable (the whole record is kept in ``_record`` either way)."""
    if not isinstance(value, str) or not value.strip():
        return None
    v = value.strip().replace("Z", "+00:00")
    try:
        ts = datetime.fromisoformat(v)
    except ValueError:
        return None
    if ts.tzinfo is not None:
        ts = ts.astimezone(timezone.utc).replace(tzinfo=None)
    return ts


def _fmt_filter(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S")


def _records(body: Any, key: str, path: str) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        raise ResponseFormatError(f"GET /{path}: expected a JSON object, got {type(body).__name__}")
    items = body.get(key)
    if not isinstance(items, list):
        raise ResponseFormatError(
            f"GET /{path}: the response has no {key!r} list (keys: {', '.join(sorted(body))[:200]})")
    if "next_cursor" not in body and "previous_cursor" not in body:
        # 2021-01 answers page by page with a Link header and no cursors in the body: reading
        # it as 2021-11 would silently stop after the first page.
        raise ResponseFormatError(
            f"GET /{path}: no next_cursor/previous_cursor in the response; the API did not "
            f"answer in version {API_VERSION} (X-Recharge-Version header ignored or changed?)")
    base.require_int_ids(items, key, f"GET /{path}")
    return items


def _next_cursor(body: Any) -> str | None:
    return body.get("next_cursor") if isinstance(body, dict) else None


def _row(rec: dict[str, Any]) -> tuple[Any, ...]:
    return base.record_row(rec, parse_ts(rec.get("updated_at")))


# ------------------------------------------------------------------------------------------------
# the sync


def sync(warehouse: WarehouseLike, stream: str, settings: RechargeSettings, *,
         client: HttpClient | None = None, log: Callable[[str], None] | None = None,
         sleep: Callable[[float], None] = time.sleep, now: Callable[[], datetime] = utc_now
         ) -> SyncResult:
    """Sync one stream (see README.md). Raises HttpError subclasses on failure, after the
    writer has recorded a ``failed`` sync_log row."""
    raw = raw_stream(stream, settings.source)
    path, key, scope = STREAMS[stream]
    say = log or (lambda _msg: None)
    started = now()
    return base.run_stream(
        warehouse, raw, lambda writer, http: _run(writer, http, raw, path, key, settings, say,
                                                  started),
        client=client, make_client=lambda: make_client(settings, sleep=sleep, log=say),
        explain=lambda err: AUTH_HELP.explain(err, stream, path, scope))


def _run(writer: RawWriter, client: HttpClient, raw: RawStream, path: str, key: str,
         settings: RechargeSettings, say: Callable[[str], None], started: datetime) -> SyncResult:
    previous = writer.current_state()
    state: dict[str, Any] = dict(previous.state) if previous else {}
    watermark = parse_ts(previous.cursor_value) if previous and previous.cursor_value else None

    # 1. incremental pass, updated_at ascending
    params: dict[str, Any] = {"limit": settings.page_size, "sort_by": "updated_at-asc"}
    if watermark is not None:
        params["updated_at_min"] = _fmt_filter(watermark - settings.lookback)
    say(f"recharge {raw.name}: incremental from "
        f"{params.get('updated_at_min', 'the beginning')} (cursor {watermark})")
    for page in cursor_param_pages(client, path, params=params, next_cursor=_next_cursor,
                                   drop_params_with_cursor=_FILTERS):
        rows = [_row(r) for r in _records(page.body, key, path)]
        writer.write_batch(rows, final=False, state=state)
        say(f"recharge {raw.name}: page {page.number}: {len(rows)} records committed")

    # 2. reconciliation pass (deletions)
    if base.reconcile_due(state, settings.reconcile_every, started, first_sync=watermark is None):
        _reconcile(writer, client, raw, path, key, settings, say, state, started)
    elif watermark is None:
        base.mark_reconciled(state, started)  # a first full sync saw everything

    result = writer.write_batch([], final=True, state=state, cursor_value=None)
    say(f"recharge {raw.name}: done, {result.rows_read} read, {result.rows_inserted} new, "
        f"{result.rows_updated} changed, cursor {result.cursor_value}")
    return result


def _reconcile(writer: RawWriter, client: HttpClient, raw: RawStream, path: str, key: str,
               settings: RechargeSettings, say: Callable[[str], None], state: dict[str, Any],
               started: datetime) -> None:
    progress = state.get(base.RECONCILE_IN_PROGRESS) or {}
    after_id = progress.get("after_id")
    start_cursor = progress.get("cursor")
    say(f"recharge {raw.name}: reconciling ids"
        + (f" from id > {after_id}" if after_id is not None else ""))
    params = {"limit": settings.page_size, "sort_by": "id-asc"}
    try:
        _reconcile_pages(writer, client, raw, path, key, params, state, started,
                         after_id, start_cursor)
    except HttpError as err:
        if start_cursor is None or isinstance(err, AuthError) or err.status not in (400, 404, 410, 422):
            raise
        # the saved page cursor expired: start the pass again (idempotent)
        say(f"recharge {raw.name}: saved reconcile cursor refused ({err.status}); restarting pass")
        _reconcile_pages(writer, client, raw, path, key, params, state, started, None, None)
    base.mark_reconciled(state, started)


def _reconcile_pages(writer: RawWriter, client: HttpClient, raw: RawStream, path: str, key: str,
                     params: dict[str, Any], state: dict[str, Any], started: datetime,
                     after_id: int | None, start_cursor: str | None) -> None:
    for page in cursor_param_pages(client, path, params=params, start=start_cursor,
                                   next_cursor=_next_cursor, drop_params_with_cursor=_FILTERS):
        records = _records(page.body, key, path)
        ids = [r["id"] for r in records]
        if ids != sorted(ids):
            raise ResponseFormatError(f"GET /{path}?sort_by=id-asc returned ids out of order")
        last = page.next_cursor is None
        hi = ids[-1] if ids and not last else None  # None: no upper bound on the last page
        progress = {"after_id": ids[-1] if ids else after_id, "cursor": page.next_cursor}
        state[base.RECONCILE_IN_PROGRESS] = progress
        # the page's rows, the ids it no longer lists (after_id < id <= hi) marked deleted, and
        # the pass's progress: one transaction
        writer.mark_deleted(set(ids), at=started, after=after_id, through=hi,
                            rows=[_row(r) for r in records], state=state)
        after_id = progress["after_id"]


sync_stream = base.entry_point(RechargeSettings, sync)
SOURCE = base.api_source(SOURCE_NAME, STREAMS, (TOKEN_ENV,), f"Recharge subscriptions API "
                    f"{API_VERSION}: customers, subscriptions, charges", sync_stream)
