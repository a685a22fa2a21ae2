"""Recharge API 2021-11 -> ``raw_recharge.{customers,subscriptions,charges}``.

Reference (checked 2026-11-23):
- API reference 2021-11: https://developer.rechargepayments.com/2021-11 (base URL
  ``https://api.rechargeapps.com``; header ``X-Recharge-Access-Token``; version pinned with
  ``X-Recharge-Version: 2021-11``); list endpoints ``GET /customers``, ``GET /subscriptions``,
  ``GET /charges`` with ``limit``, ``sort_by`` (``id-asc``/``updated_at-asc``/...),
  ``updated_at_min``; scopes ``read_customers``, ``read_subscriptions``, ``read_orders``
  (charges).
- Cursor pagination: https://docs.getrecharge.com/docs/using-cursor-pagination-with-the-recharge-api
  (2021-11: ``next_cursor`` / ``previous_cursor`` in the JSON body, passed back as ``cursor``;
  ``limit`` default 50, max 250). With ``cursor`` only ``limit`` may be sent: the filters and
  sort travel inside the cursor, so they are dropped from page 2 on. Since May 2025 responses
  over 100 pages *require* cursor pagination.
- Rate limits: https://docs.getrecharge.com/docs/api-rate-limits (leaky bucket per token: 40
  calls, leaking 2 per second; overflow -> 429; tokens created with higher limits exist on
  Pro/Enterprise plans). Responses carry ``X-Recharge-Limit: used/size``, which the client's
  bucket follows.
- Fields that link Recharge to the Shopify shop (read by dbt staging, stg_recharge__* and
  stg_shopify__orders; checked 2026-11-23): a charge's ``status`` (``success``, ``error``,
  ``queued``, ``skipped``, ``refunded``, ``partially_refunded``, ``pending_manual_payment``,
  ``pending``), ``processed_at``, ``external_order_id.ecommerce`` ("the associated external
  order ID": the order a successful charge created), ``customer.external_customer_id.ecommerce``,
  ``error`` / ``error_type``, ``charge_attempts`` -- Recharge's type reference
  https://storefront.getrecharge.com/client/docs/types/interfaces/Charge and
  .../type-aliases/ChargeStatus; a customer's ``external_customer_id.ecommerce``
  (.../interfaces/Customer); a subscription's ``customer_id``, ``external_product_id`` /
  ``external_variant_id.ecommerce`` (.../interfaces/SubscriptionBase); a charge's
  ``line_items[].purchase_item_id`` and ``purchase_item_type`` (``subscription`` / ``onetime``),
  as listed for the 2021-11 ``GET /charges``
  (https://developer.rechargepayments.com/2021-11/charges/charge_list) in Stitch's tap-recharge
  schema (github.com/stitchdata/docs, _integration-schemas/recharge/v2/charges.md). Orders exist
  only for processed charges ("Orders are created after a charge is successfully processed",
  the same schema's orders.md), so a failed charge has no external order id.

How a sync works (one stream, one ``sync_id``):

1. **Incremental pass**: ``sort_by=updated_at-asc`` with ``updated_at_min`` = committed cursor
   minus the lookback (none on the first sync). Every page is committed with
   ``RawWriter.write_batch(final=False)``: rows and the new cursor (max ``updated_at`` committed)
   in one transaction. Because pages come in ``updated_at`` order, the cursor never passes a
   record that is not committed, so a sync killed at any moment resumes from its last page
   (re-reading at most one page plus the lookback; upserts by ``id`` make that harmless).
   Cancelled subscriptions and failed charges are ordinary updates (``status``, ``cancelled_at``,
   ``error``), so they arrive here.
2. **Reconciliation pass** (deletions; every ``RECHARGE_RECONCILE_DAYS``, default 7): lists the
   whole stream ``sort_by=id-asc`` and marks rows whose id is no longer listed with
   ``deleted_at`` (Recharge deletes queued charges when a subscription changes, and customers or
   subscriptions can be deleted outright). Each page commits its rows, its deletion markers and
   the page cursor (``state.reconcile``), so this pass resumes too; the incremental cursor is not
   moved by it.

Raw table columns: ``id`` BIGINT, ``updated_at`` TIMESTAMP (UTC), ``deleted_at`` TIMESTAMP (UTC
time the deletion was noticed; NULL while the record exists), ``_record`` JSON (the record as
returned, whole: new fields are kept, missing optional ones are simply absent).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

from connectors.api_source import env_number
from connectors.http import (
    AuthError,
    HeaderTokenAuth,
    HttpClient,
    HttpError,
    LeakyBucket,
    ResponseFormatError,
    cursor_param_pages,
)
from connectors.raw import RawColumn, RawStream, RawWriter, SyncResult, WarehouseLike, utc_now

__all__ = [
    "API_VERSION",
    "DEFAULT_BASE_URL",
    "STREAMS",
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

#: Query parameters Recharge refuses next to ``cursor`` (everything but ``limit``).
_FILTERS = ("sort_by", "updated_at_min", "updated_at_max", "created_at_min", "created_at_max",
            "status", "ids")


def raw_stream(stream: str, source: str = SOURCE_NAME) -> RawStream:
    """The raw table of one Recharge stream."""
    if stream not in STREAMS:
        raise ValueError(f"unknown Recharge stream {stream!r}; known: {', '.join(STREAMS)}")
    return RawStream(
        source=source,
        name=stream,
        columns=(
            RawColumn("id", "BIGINT"),
            RawColumn("updated_at", "TIMESTAMP"),
            RawColumn("deleted_at", "TIMESTAMP"),
            RawColumn("_record", "JSON"),
        ),
        primary_key=("id",),
        cursor_field="updated_at",
    )


@dataclass(frozen=True)
class RechargeSettings:
    token: str
    base_url: str = DEFAULT_BASE_URL
    page_size: int = 250
    lookback: timedelta = timedelta(hours=24)
    reconcile_every: timedelta | None = timedelta(days=7)  # None: never
    bucket_size: float = 40
    leak_per_second: float = 2.0
    max_retries: int = 6
    source: str = SOURCE_NAME

    def __repr__(self) -> str:  # never show the token
        return (f"RechargeSettings(base_url={self.base_url!r}, page_size={self.page_size}, "
                f"lookback={self.lookback}, reconcile_every={self.reconcile_every})")



def settings_from_env(env: Mapping[str, str]) -> RechargeSettings:
    """Settings from environment variables (see README.md)."""
    token = (env.get(TOKEN_ENV) or "").strip()
    if not token:
        raise ValueError(f"{TOKEN_ENV} is not set: create an API token in Recharge and set it")
    page_size = int(env_number(env, "RECHARGE_PAGE_SIZE", 250))
    if not 1 <= page_size <= 250:
        raise ValueError(f"RECHARGE_PAGE_SIZE must be 1..250 (Recharge's maximum), got {page_size}")
    reconcile_days = env_number(env, "RECHARGE_RECONCILE_DAYS", 7)
    return RechargeSettings(
        token=token,
        base_url=(env.get("RECHARGE_BASE_URL") or "").strip() or DEFAULT_BASE_URL,
        page_size=page_size,
        lookback=timedelta(hours=env_number(env, "RECHARGE_LOOKBACK_HOURS", 24)),
        reconcile_every=None if reconcile_days < 0 else timedelta(days=reconcile_days),
        bucket_size=env_number(env, "RECHARGE_BUCKET_SIZE", 40),
        leak_per_second=env_number(env, "RECHARGE_LEAK_RATE", 2.0),
    )


class RechargeBucket(LeakyBucket):
    """Recharge's leaky bucket, kept in step with the ``X-Recharge-Limit: used/size`` header."""

    _HEADER = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")

    def observe(self, response: Any) -> None:
        m = self._HEADER.match(response.headers.get("X-Recharge-Limit") or "")
        if m and int(m.group(2)) > 0:
            # the header counts whole calls: assume up to one more, so rounding never overflows
            used, size = int(m.group(1)), int(m.group(2))
            self.sync(min(size, used + 1), size)


def make_client(
    settings: RechargeSettings,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    log: Callable[[str], None] | None = None,
) -> HttpClient:
    return HttpClient(
        settings.base_url,
        auth=HeaderTokenAuth("X-Recharge-Access-Token", settings.token),
        throttle=RechargeBucket(settings.bucket_size, settings.leak_per_second,
                                clock=clock, sleep=sleep),
        default_headers={"X-Recharge-Version": API_VERSION},
        max_retries=settings.max_retries,
        sleep=sleep,
        log=log,
    )


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
    for rec in items:
        if not isinstance(rec, dict) or not isinstance(rec.get("id"), int) or isinstance(
                rec.get("id"), bool):
            raise ResponseFormatError(f"GET /{path}: a {key} record has no integer id")
    return items


def _next_cursor(body: Any) -> str | None:
    return body.get("next_cursor") if isinstance(body, dict) else None


def _row(rec: dict[str, Any], deleted_at: datetime | None = None) -> tuple[Any, ...]:
    return (rec["id"], parse_ts(rec.get("updated_at")), deleted_at, rec)


# ------------------------------------------------------------------------------------------------
# the sync


def _explain_auth(err: AuthError, stream: str) -> AuthError:
    path, _, scope = STREAMS[stream]
    provider = err.provider_message
    if err.status == 403:
        msg = (f"Recharge refused GET /{path} (403 Forbidden): the API token in {TOKEN_ENV} lacks "
               f"the scope {scope!r} (read access to {stream}). Edit the token's permissions on the "
               f"API tokens page of the Recharge merchant portal and grant {scope}.")
    else:
        msg = (f"Recharge refused the API token in {TOKEN_ENV} ({err.status or 401} "
               f"Unauthorized): it is wrong, revoked or belongs to another store. Create a new "
               f"API token on the API tokens page of the Recharge merchant portal and set {TOKEN_ENV}.")
    if provider:
        msg += f" Recharge said: {provider}"
    return err.reworded(msg)


def sync(
    warehouse: WarehouseLike,
    stream: str,
    settings: RechargeSettings,
    *,
    client: HttpClient | None = None,
    log: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = utc_now,
) -> SyncResult:
    """Sync one stream (see the module docstring). Raises HttpError subclasses on failure, after
    the writer has recorded a ``failed`` sync_log row."""
    raw = raw_stream(stream, settings.source)
    path, key, _scope = STREAMS[stream]
    say = log or (lambda _msg: None)
    own_client = client is None
    client = client or make_client(settings, sleep=sleep, log=say)
    started = now()
    try:
        with RawWriter(warehouse, raw) as writer:
            try:
                return _run(writer, client, raw, path, key, settings, say, started)
            except AuthError as err:
                raise _explain_auth(err, stream) from None
    finally:
        if own_client:
            client.close()


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
    if watermark is None and "reconcile" not in state:
        state["reconciled_at"] = started.isoformat()  # a first full sync saw everything
    elif _reconcile_due(state, settings, started):
        _reconcile(writer, client, raw, path, key, settings, say, state, started)

    result = writer.write_batch([], final=True, state=state, cursor_value=None)
    say(f"recharge {raw.name}: done, {result.rows_read} read, {result.rows_inserted} new, "
        f"{result.rows_updated} changed, cursor {result.cursor_value}")
    return result


def _reconcile_due(state: dict[str, Any], settings: RechargeSettings, started: datetime) -> bool:
    if "reconcile" in state:
        return True  # a pass was interrupted: finish it
    if settings.reconcile_every is None:
        return False
    last = state.get("reconciled_at")
    if not last:
        return True
    try:
        return started - datetime.fromisoformat(last) >= settings.reconcile_every
    except ValueError:
        return True


def _reconcile(writer: RawWriter, client: HttpClient, raw: RawStream, path: str, key: str,
               settings: RechargeSettings, say: Callable[[str], None], state: dict[str, Any],
               started: datetime) -> None:
    progress = state.get("reconcile") or {}
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
    state.pop("reconcile", None)
    state["reconciled_at"] = started.isoformat()


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
        gone = _missing(writer, raw, after_id, hi, set(ids))
        rows = [_row(r) for r in records] + [
            (rid, upd, started, rec) for rid, upd, rec in gone]
        state["reconcile"] = {"after_id": ids[-1] if ids else after_id, "cursor": page.next_cursor}
        writer.write_batch(rows, final=False, state=state, cursor_value=None)
        after_id = state["reconcile"]["after_id"]


def _missing(writer: RawWriter, raw: RawStream, lo: int | None, hi: int | None,
             seen: set[int]) -> list[tuple[int, Any, str]]:
    """Rows of the table with lo < id <= hi (no bound when None), not deleted, not in ``seen``."""
    where = ["deleted_at IS NULL"]
    args: list[Any] = []
    if lo is not None:
        where.append("id > ?")
        args.append(lo)
    if hi is not None:
        where.append("id <= ?")
        args.append(hi)
    rows = writer.con.execute(
        f"SELECT id, updated_at, CAST(_record AS VARCHAR) FROM {raw.table} "
        f"WHERE {' AND '.join(where)} ORDER BY id", args).fetchall()
    return [(rid, upd, rec) for rid, upd, rec in rows if rid not in seen]


def sync_stream(warehouse: WarehouseLike, stream: str, env: Mapping[str, str],
                log: Callable[[str], None]) -> SyncResult:
    """:class:`connectors.api_source.ApiSource` entry point: settings from ``env``."""
    return sync(warehouse, stream, settings_from_env(env), log=log)
