"""カラーミーショップ API v1 -> ``raw_colorme.{sales,customers,products}``.

``README.md`` here is the authority for the protocol (endpoints, limits per stream, offset
pagination over fixed windows, the one-record overlap, deletions, raw columns and references);
this module only implements it, on the shared skeleton (``connectors/sync_base.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

from connectors import sync_base as base
from connectors.http import (AuthError, BearerAuth, HttpClient, MinInterval, OffsetShifted,
                             ResponseFormatError, offset_pages)
from connectors.raw import RawStream, RawWriter, SyncResult, WarehouseLike, utc_now

__all__ = ["API_VERSION", "DEFAULT_BASE_URL", "SOURCE", "STREAMS", "TOKEN_ENV", "ColorMeSettings",
           "raw_stream", "settings_from_env", "sync", "sync_stream"]

API_VERSION = "v1"
DEFAULT_BASE_URL = "https://api.shop-pro.jp"
SOURCE_NAME = "colorme"
TOKEN_ENV = "COLORME_ACCESS_TOKEN"
JST = timezone(timedelta(hours=9))
MAX_RESTARTS = 5

#: stream -> (path, list key, scope, largest ``limit``). Asking for fewer per page costs
#: requests under the request limit (50-record sales pages halved the throughput:
#: benchmarks/connectors.py).
STREAMS: dict[str, tuple[str, str, str, int]] = {
    "sales": ("v1/sales.json", "sales", "read_sales", 100),
    "customers": ("v1/customers.json", "customers", "read_sales", 100),
    "products": ("v1/products.json", "products", "read_products", 50),
}
MAX_LIMIT = max(limit for *_, limit in STREAMS.values())

AUTH_HELP = base.AuthHelp(
    provider="カラーミーショップ", credential=f"access token in {TOKEN_ENV}",
    forbidden=f"the access token in {TOKEN_ENV} was not granted the scope {{scope!r}}. Authorize "
              f"the app again with scope {{scope}} (read_sales covers sales and customers, "
              f"read_products covers products) and set the new token.",
    unauthorized=f"it is wrong or the shop revoked the app. Authorize the app again (OAuth at "
                 f"https://api.shop-pro.jp/oauth/authorize) and set {TOKEN_ENV}.")


def raw_stream(stream: str, source: str = SOURCE_NAME) -> RawStream:
    return base.record_stream(source, stream, STREAMS, "カラーミーショップ")


@dataclass(frozen=True)
class ColorMeSettings(base.ConnectorSettings):
    base_url: str = DEFAULT_BASE_URL
    # None = each stream's largest page; a number is capped at each stream's largest
    page_size: int | None = None
    lookback: timedelta = timedelta(hours=24)
    reconcile_every: timedelta | None = timedelta(days=7)
    requests_per_minute: float = 120.0
    max_retries: int = 6
    source: str = SOURCE_NAME

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "ColorMeSettings":
        """Settings from environment variables (see README.md)."""
        common = base.common_env(env, "COLORME", TOKEN_ENV, "authorize the Teiki app on "
                                 "カラーミーショップ and set its access token", DEFAULT_BASE_URL)
        page_size = (int(base.env_number(env, "COLORME_PAGE_SIZE", MAX_LIMIT))
                     if base.env_text(env, "COLORME_PAGE_SIZE") else None)
        if page_size is not None and not 1 <= page_size <= MAX_LIMIT:
            raise ValueError(f"COLORME_PAGE_SIZE must be 1..{MAX_LIMIT}, got {page_size}")
        return cls(**common, page_size=page_size,
                   requests_per_minute=base.env_number(env, "COLORME_REQUESTS_PER_MINUTE", 120))


settings_from_env = ColorMeSettings.from_env


def page_size(settings: ColorMeSettings, stream: str) -> int:
    largest = STREAMS[stream][3]
    return largest if settings.page_size is None else min(settings.page_size, largest)


def make_client(settings: ColorMeSettings, *, sleep: Callable[[float], None] = time.sleep,
                log: Callable[[str], None] | None = None) -> HttpClient:
    return base.http_client(settings, provider=AUTH_HELP.provider, auth=BearerAuth(settings.token),
                            throttle=MinInterval(60.0 / settings.requests_per_minute, sleep=sleep),
                            sleep=sleep, log=log)


def sync(warehouse: WarehouseLike, stream: str, settings: ColorMeSettings, *,
         client: HttpClient | None = None, log: Callable[[str], None] | None = None,
         sleep: Callable[[float], None] = time.sleep, now: Callable[[], datetime] = utc_now
         ) -> SyncResult:
    """Sync one stream (see README.md)."""
    raw = raw_stream(stream, settings.source)
    path, _key, scope, _limit = STREAMS[stream]
    say = log or (lambda _m: None)
    started = now().replace(microsecond=0)
    return base.run_stream(
        warehouse, raw,
        lambda writer, http: _run(writer, http, raw, stream, settings, say, started),
        client=client, make_client=lambda: make_client(settings, sleep=sleep, log=say),
        explain=lambda err: AUTH_HELP.explain(err, stream, path, scope))


def _epoch(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return datetime.fromtimestamp(value, timezone.utc).replace(tzinfo=None)


def _jst(ts: datetime) -> str:
    """naive UTC -> the shop's wall clock, as the date filters take it."""
    return ts.replace(tzinfo=timezone.utc).astimezone(JST).strftime("%Y-%m-%d %H:%M:%S")


def _records(body: Any, key: str, path: str) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get(key), list):
        keys = ", ".join(sorted(body))[:200] if isinstance(body, dict) else type(body).__name__
        raise ResponseFormatError(f"GET /{path}: the response has no {key!r} list ({keys})")
    items = body[key]
    base.require_int_ids(items, key, f"GET /{path}")
    return items


def _total(body: Any) -> int | None:
    meta = body.get("meta") if isinstance(body, dict) and isinstance(body.get("meta"), dict) else {}
    return meta.get("total") if isinstance(meta.get("total"), int) else None


def _row(rec: dict[str, Any]) -> tuple[Any, ...]:
    return base.record_row(rec, _epoch(rec.get("update_date")))


def _pages(client: HttpClient, stream: str, params: dict[str, Any], settings: ColorMeSettings,
           offset: int = 0, last_id: int | None = None):
    """The shared offset pager, pages overlapping by one record (raises OffsetShifted)."""
    path, key, _scope, _limit = STREAMS[stream]
    return offset_pages(client, path, params=params, items=lambda b: _records(b, key, path),
                        total=_total, limit=page_size(settings, stream), start=offset,
                        start_key=last_id, key=lambda r: r["id"])


def _run(writer: RawWriter, client: HttpClient, raw: RawStream, stream: str,
         settings: ColorMeSettings, say: Callable[[str], None], started: datetime) -> SyncResult:
    path = STREAMS[stream][0]
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

    while True:
        try:
            for page in _pages(client, stream, params, settings, window["offset"],
                               window["last_id"]):
                rows = [_row(r) for r in page.items]
                if page.next_cursor is None:  # the window is complete: the cursor moves to its end
                    state.pop("window", None)
                    writer.write_batch(rows, final=False, state=state, cursor_value=window["cursor"])
                else:
                    window["offset"], window["last_id"] = page.next_cursor, page.last_key
                    state["window"] = window
                    writer.write_batch(rows, final=False, state=state, cursor_value=None)
                say(f"colorme {stream}: offset {page.request_cursor}: {len(rows)} records committed")
            break
        except OffsetShifted:
            window["restarts"] = window.get("restarts", 0) + 1
            if window["restarts"] > MAX_RESTARTS:
                raise ResponseFormatError(
                    f"GET /{path}: the result kept shifting under offset pagination "
                    f"({MAX_RESTARTS} restarts); try again later") from None
            say(f"colorme {stream}: records moved while paging; re-reading the window")
            window["offset"], window["last_id"] = 0, None

    if base.reconcile_due(state, settings.reconcile_every, started, first_sync=first_sync):
        _reconcile(writer, client, stream, say, settings, state, started)
    elif first_sync:
        base.mark_reconciled(state, started)  # a first full sync saw everything
    result = writer.write_batch([], final=True, state=state, cursor_value=None)
    say(f"colorme {stream}: done, {result.rows_read} read, {result.rows_inserted} new, "
        f"{result.rows_updated} changed, cursor {result.cursor_value}")
    return result


def _reconcile(writer: RawWriter, client: HttpClient, stream: str, say: Callable[[str], None],
               settings: ColorMeSettings, state: dict[str, Any],
               started: datetime) -> None:
    say(f"colorme {stream}: listing every id to find deletions")
    path = STREAMS[stream][0]
    seen: set[int] = set()
    for _attempt in range(MAX_RESTARTS + 1):
        seen.clear()
        try:
            for page in _pages(client, stream, {}, settings):
                # each page is upserted as it comes (fresh data, bounded memory); only ids are kept
                seen.update(r["id"] for r in page.items)
                writer.write_batch([_row(r) for r in page.items], final=False, state=state,
                                   cursor_value=None)
                say(f"colorme {stream}: offset {page.request_cursor}: {len(page.items)} records "
                    f"committed")
            break
        except OffsetShifted:
            say(f"colorme {stream}: records moved while listing; listing again")
    else:
        raise ResponseFormatError(f"GET /{path}: the result kept shifting; deletions not checked")
    base.mark_reconciled(state, started)
    marked = writer.mark_deleted(seen, at=started, state=state)
    say(f"colorme {stream}: {marked} deleted records marked")


sync_stream = base.entry_point(ColorMeSettings, sync)
SOURCE = base.api_source(SOURCE_NAME, STREAMS, (TOKEN_ENV,), f"カラーミーショップ API {API_VERSION}: "
                    f"sales (受注) with details, customers, products", sync_stream)
