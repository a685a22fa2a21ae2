"""カラーミーショップ API v1 -> ``raw_colorme.{sales,customers,products}``.

Reference (checked 2026-11-23):
- API documentation: https://shop-pro.jp/?mode=api_started (OAuth 2 with authorization code;
  scopes ``read_products``, ``write_products``, ``read_sales`` (受注・顧客データの参照),
  ``write_sales``; access tokens do not expire) and https://shop-pro.jp/?mode=api_interface
  (base ``https://api.shop-pro.jp``, ``GET /v1/sales.json``, ``/v1/customers.json``,
  ``/v1/products.json``), as also described by the official OpenAPI clients
  (github.com/pepabo/colormeshop-ruby ``docs/SaleApi.md``, ``docs/CustomerApi.md``):
  ``limit`` (sales and customers: max 100, products: max 50, per the current clients and the
  pepabo/colormeshop-mcp tool reference; older client docs said 50 for sales), ``offset``, ``update_date_min`` / ``update_date_max``
  (指定日時以降/以前に更新された), responses ``{"sales": [...], "meta": {"total", "limit",
  "offset"}}`` with Unix-epoch ``make_date`` / ``update_date``; a sale embeds ``customer`` and
  its ``details`` (受注明細); a cancelled sale keeps its id with ``canceled: true``.
- Request limit: about 120 requests per minute per access token (the documented guideline;
  overload may be answered with 429). The client spaces requests by 0.5 s and retries 429/5xx.

How a sync works (one stream, one ``sync_id``). Offset pagination over a changing result cannot
promise completeness by itself, so each sync reads a fixed **window**:
``update_date_min`` = committed cursor minus the lookback (none on the first sync) and
``update_date_max`` = the sync's start time (records updated later belong to the next window).
Each page is committed with its rows and the window's progress (``state.window``: offset and
the last id seen), so a killed sync resumes inside the same window. Consecutive pages overlap by
one record: if the first record of a page is not the last of the previous one, records moved
(updated past the window or deleted), and the window is read again from offset 0 (upserts make
re-reading harmless). Only when the window's last page commits does the cursor move to the
window's end, in that same transaction.

Deletions: every ``COLORME_RECONCILE_DAYS`` (default 7) a sync lists the whole stream (each page
upserted as it comes) and, once the listing is complete, marks rows whose id was not listed with
``deleted_at`` in one commit; an interrupted pass is simply run again next time.

Raw table columns: ``id`` BIGINT, ``updated_at`` TIMESTAMP (UTC, from ``update_date``),
``deleted_at`` TIMESTAMP, ``_record`` JSON (the record as returned, whole).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

from connectors.api_source import env_number
from connectors.http import (
    AuthError,
    BearerAuth,
    HttpClient,
    MinInterval,
    ResponseFormatError,
)
from connectors.raw import RawColumn, RawStream, RawWriter, SyncResult, WarehouseLike, utc_now

__all__ = ["API_VERSION", "DEFAULT_BASE_URL", "STREAMS", "ColorMeSettings", "raw_stream",
           "settings_from_env", "sync", "sync_stream"]

API_VERSION = "v1"
DEFAULT_BASE_URL = "https://api.shop-pro.jp"
SOURCE_NAME = "colorme"
TOKEN_ENV = "COLORME_ACCESS_TOKEN"
JST = timezone(timedelta(hours=9))
#: Largest ``limit`` per stream. Asking for fewer per page costs requests under the request limit
#: (50-record sales pages halved the throughput: benchmarks/connectors.py).
MAX_LIMIT_BY_STREAM = {"sales": 100, "customers": 100, "products": 50}
MAX_LIMIT = max(MAX_LIMIT_BY_STREAM.values())
MAX_RESTARTS = 5

#: stream -> (path, list key, scope)
STREAMS: dict[str, tuple[str, str, str]] = {
    "sales": ("v1/sales.json", "sales", "read_sales"),
    "customers": ("v1/customers.json", "customers", "read_sales"),
    "products": ("v1/products.json", "products", "read_products"),
}


def raw_stream(stream: str, source: str = SOURCE_NAME) -> RawStream:
    if stream not in STREAMS:
        raise ValueError(f"unknown カラーミーショップ stream {stream!r}; known: {', '.join(STREAMS)}")
    return RawStream(
        source=source,
        name=stream,
        columns=(RawColumn("id", "BIGINT"), RawColumn("updated_at", "TIMESTAMP"),
                 RawColumn("deleted_at", "TIMESTAMP"), RawColumn("_record", "JSON")),
        primary_key=("id",),
        cursor_field="updated_at",
    )


@dataclass(frozen=True)
class ColorMeSettings:
    token: str
    base_url: str = DEFAULT_BASE_URL
    # None = each stream's largest page; a number is capped at each stream's largest
    page_size: int | None = None
    lookback: timedelta = timedelta(hours=24)
    reconcile_every: timedelta | None = timedelta(days=7)
    requests_per_minute: float = 120.0
    max_retries: int = 6
    source: str = SOURCE_NAME

    def __repr__(self) -> str:  # never show the token
        return (f"ColorMeSettings(base_url={self.base_url!r}, page_size={self.page_size}, "
                f"lookback={self.lookback}, requests_per_minute={self.requests_per_minute})")



def page_size(settings: ColorMeSettings, stream: str) -> int:
    largest = MAX_LIMIT_BY_STREAM[stream]
    return largest if settings.page_size is None else min(settings.page_size, largest)


def settings_from_env(env: Mapping[str, str]) -> ColorMeSettings:
    token = (env.get(TOKEN_ENV) or "").strip()
    if not token:
        raise ValueError(f"{TOKEN_ENV} is not set: authorize the Teiki app on カラーミーショップ "
                         f"and set its access token")
    page_size = (int(env_number(env, "COLORME_PAGE_SIZE", MAX_LIMIT))
                 if (env.get("COLORME_PAGE_SIZE") or "").strip() else None)
    if page_size is not None and not 1 <= page_size <= MAX_LIMIT:
        raise ValueError(f"COLORME_PAGE_SIZE must be 1..{MAX_LIMIT}, got {page_size}")
    days = env_number(env, "COLORME_RECONCILE_DAYS", 7)
    return ColorMeSettings(
        token=token,
        base_url=(env.get("COLORME_BASE_URL") or "").strip() or DEFAULT_BASE_URL,
        page_size=page_size,
        lookback=timedelta(hours=env_number(env, "COLORME_LOOKBACK_HOURS", 24)),
        reconcile_every=None if days < 0 else timedelta(days=days),
        requests_per_minute=env_number(env, "COLORME_REQUESTS_PER_MINUTE", 120),
    )


def make_client(settings: ColorMeSettings, *, sleep: Callable[[float], None] = time.sleep,
                log: Callable[[str], None] | None = None) -> HttpClient:
    return HttpClient(
        settings.base_url,
        auth=BearerAuth(settings.token),
        throttle=MinInterval(60.0 / settings.requests_per_minute, sleep=sleep),
        max_retries=settings.max_retries,
        sleep=sleep,
        log=log,
    )


def _epoch(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return datetime.fromtimestamp(value, timezone.utc).replace(tzinfo=None)


def _jst(ts: datetime) -> str:
    """naive UTC -> the shop's wall clock, as the date filters take it."""
    return ts.replace(tzinfo=timezone.utc).astimezone(JST).strftime("%Y-%m-%d %H:%M:%S")


def _records(body: Any, key: str, path: str) -> tuple[list[dict[str, Any]], int | None]:
    if not isinstance(body, dict) or not isinstance(body.get(key), list):
        keys = ", ".join(sorted(body))[:200] if isinstance(body, dict) else type(body).__name__
        raise ResponseFormatError(f"GET /{path}: the response has no {key!r} list ({keys})")
    items = body[key]
    for rec in items:
        if not isinstance(rec, dict) or not isinstance(rec.get("id"), int) or isinstance(
                rec.get("id"), bool):
            raise ResponseFormatError(f"GET /{path}: a {key} record has no integer id")
    meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
    total = meta.get("total") if isinstance(meta.get("total"), int) else None
    return items, total


def _row(rec: dict[str, Any], deleted_at: datetime | None = None) -> tuple[Any, ...]:
    return (rec["id"], _epoch(rec.get("update_date")), deleted_at, rec)


def _explain_auth(err: AuthError, stream: str) -> AuthError:
    path, _, scope = STREAMS[stream]
    provider = err.provider_message
    if err.status == 403:
        msg = (f"カラーミーショップ refused GET /{path} (403 Forbidden): the access token in "
               f"{TOKEN_ENV} was not granted the scope {scope!r}. Authorize the app again "
               f"with scope {scope} (read_sales covers sales and customers, read_products "
               f"covers products) and set the new token.")
    else:
        msg = (f"カラーミーショップ refused the access token in {TOKEN_ENV} ({err.status or 401} "
               f"Unauthorized): it is wrong or the shop revoked the app. Authorize the app "
               f"again (OAuth at https://api.shop-pro.jp/oauth/authorize) and set {TOKEN_ENV}.")
    if provider:
        msg += f" カラーミーショップ said: {provider}"
    return err.reworded(msg)


def sync(
    warehouse: WarehouseLike,
    stream: str,
    settings: ColorMeSettings,
    *,
    client: HttpClient | None = None,
    log: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = utc_now,
) -> SyncResult:
    raw = raw_stream(stream, settings.source)
    say = log or (lambda _m: None)
    own = client is None
    client = client or make_client(settings, sleep=sleep, log=say)
    started = now().replace(microsecond=0)
    try:
        with RawWriter(warehouse, raw) as writer:
            try:
                return _run(writer, client, raw, stream, settings, say, started)
            except AuthError as err:
                raise _explain_auth(err, stream) from None
    finally:
        if own:
            client.close()


class _Shifted(Exception):
    pass


def _run(writer: RawWriter, client: HttpClient, raw: RawStream, stream: str,
         settings: ColorMeSettings, say: Callable[[str], None], started: datetime) -> SyncResult:
    path, key, _ = STREAMS[stream]
    previous = writer.current_state()
    state: dict[str, Any] = dict(previous.state) if previous else {}
    first_sync = previous is None or previous.cursor_value is None
    window = state.get("window")
    if window is None:
        since = None
        if previous is not None and previous.cursor_value:
            since = datetime.fromisoformat(previous.cursor_value) - settings.lookback
        window = {"min": _jst(since) if since else None, "max": _jst(started),
                  "cursor": started.isoformat(sep=" "), "offset": 0, "last_id": None,
                  "restarts": 0}
    say(f"colorme {stream}: window {window['min'] or 'beginning'} .. {window['max']} (JST), "
        f"from offset {window['offset']}")
    params = {"update_date_max": window["max"]}
    if window["min"]:
        params["update_date_min"] = window["min"]

    def commit(records: list[dict[str, Any]], next_pos: tuple[int, int] | None) -> None:
        rows = [_row(r) for r in records]
        if next_pos is None:  # the window is complete: the cursor moves to its end
            state.pop("window", None)
            writer.write_batch(rows, final=False, state=state, cursor_value=window["cursor"])
        else:
            window["offset"], window["last_id"] = next_pos
            state["window"] = window
            writer.write_batch(rows, final=False, state=state, cursor_value=None)

    while True:
        try:
            _offset_pass(client, path, key, params, page_size(settings, stream),
                         window["offset"], window["last_id"], commit, say, stream)
            break
        except _Shifted:
            window["restarts"] = window.get("restarts", 0) + 1
            if window["restarts"] > MAX_RESTARTS:
                raise ResponseFormatError(
                    f"GET /{path}: the result kept shifting under offset pagination "
                    f"({MAX_RESTARTS} restarts); try again later") from None
            say(f"colorme {stream}: records moved while paging; re-reading the window")
            window["offset"], window["last_id"] = 0, None

    if first_sync:
        state["reconciled_at"] = started.isoformat()
    elif _due(state, settings, started):
        _reconcile(writer, client, raw, path, key, settings, say, state, started)
    result = writer.write_batch([], final=True, state=state, cursor_value=None)
    say(f"colorme {stream}: done, {result.rows_read} read, {result.rows_inserted} new, "
        f"{result.rows_updated} changed, cursor {result.cursor_value}")
    return result


def _offset_pass(client: HttpClient, path: str, key: str, params: dict[str, Any], limit: int,
                 offset: int, last_id: int | None,
                 on_page: Callable[[list[dict[str, Any]], tuple[int, int] | None], None],
                 say: Callable[[str], None], stream: str) -> None:
    """Read ``params`` from ``offset``; pages overlap by one record (``last_id``) to detect
    shifts (raises _Shifted). ``on_page(records, (next_offset, last_id) | None-when-last)``."""
    while True:
        request_offset = max(0, offset - 1) if last_id is not None else offset
        body = client.get_json(path, params={**params, "limit": limit, "offset": request_offset})
        records, total = _records(body, key, path)
        got = len(records)
        if last_id is not None and offset > 0:
            if not records or records[0]["id"] != last_id:
                raise _Shifted()
            records = records[1:]
        next_offset = request_offset + got
        last = got < limit or (total is not None and next_offset >= total)
        on_page(records, None if last else (next_offset, (records or [{"id": last_id}])[-1]["id"]))
        say(f"colorme {stream}: offset {request_offset}: {len(records)} records committed")
        if last:
            return
        offset, last_id = next_offset, (records or [{"id": last_id}])[-1]["id"]


def _due(state: dict[str, Any], settings: ColorMeSettings, started: datetime) -> bool:
    if settings.reconcile_every is None:
        return False
    last = state.get("reconciled_at")
    try:
        return not last or started - datetime.fromisoformat(last) >= settings.reconcile_every
    except ValueError:
        return True


def _reconcile(writer: RawWriter, client: HttpClient, raw: RawStream, path: str, key: str,
               settings: ColorMeSettings, say: Callable[[str], None], state: dict[str, Any],
               started: datetime) -> None:
    say(f"colorme {raw.name}: listing every id to find deletions")
    seen: set[int] = set()

    def collect(records: list[dict[str, Any]], _next: Any) -> None:
        # each page is upserted as it comes (fresh data, bounded memory); only ids are kept
        seen.update(r["id"] for r in records)
        writer.write_batch([_row(r) for r in records], final=False, state=state,
                           cursor_value=None)

    for _attempt in range(MAX_RESTARTS + 1):
        seen.clear()
        try:
            _offset_pass(client, path, key, {}, page_size(settings, raw.name), 0, None, collect, say,
                         raw.name)
            break
        except _Shifted:
            say(f"colorme {raw.name}: records moved while listing; listing again")
    else:
        raise ResponseFormatError(f"GET /{path}: the result kept shifting; deletions not checked")
    live = writer.con.execute(
        f"SELECT id, updated_at, CAST(_record AS VARCHAR) FROM {raw.table} "
        f"WHERE deleted_at IS NULL").fetchall()
    gone = [(rid, upd, started, rec) for rid, upd, rec in live if rid not in seen]
    state["reconciled_at"] = started.isoformat()
    writer.write_batch(gone, final=False, state=state, cursor_value=None)
    say(f"colorme {raw.name}: {len(gone)} deleted records marked")


def sync_stream(warehouse: WarehouseLike, stream: str, env: Mapping[str, str],
                log: Callable[[str], None]) -> SyncResult:
    """:class:`connectors.api_source.ApiSource` entry point: settings from ``env``."""
    return sync(warehouse, stream, settings_from_env(env), log=log)
