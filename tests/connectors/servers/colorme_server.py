"""A local カラーミーショップ API v1 server on a real socket, for the connector tests.

- ``GET /v1/sales.json`` (受注, with ``details`` and ``customer``), ``/v1/customers.json``,
  ``/v1/products.json``: ``{"<stream>": [...], "meta": {"total": n, "limit": l, "offset": o}}``;
  ``limit`` (default 10; max 100 for sales and customers, 50 for products: ``MAX_LIMIT``),
  ``offset``, ``update_date_min`` / ``update_date_max``
  (``YYYY-MM-DD HH:MM:SS`` or ``YYYY-MM-DD``, Japan time). Newest id first. Offsets are plain
  offsets into the current result, so records updated or deleted between two page requests
  shift the following pages, as offset pagination does.
- ``Authorization: Bearer <token>`` (401 when missing/wrong); a token without ``read_sales`` /
  ``read_products`` gets 403 naming the scope. Errors look like
  ``{"errors": [{"code": ..., "message": "...", "status": ...}]}``.
- Request limit: a per-token bucket (``bucket_size`` requests, refilled ``per_second``); over it
  -> 429 with ``Retry-After``. The documented figure is a guideline of 120 requests/minute per
  access token (https://shop-pro.jp/?mode=api_started, "APIの呼び出し制限"), with no burst size;
  the default here lets a burst of 120 through, ``bucket_size=2, per_second=2`` holds a client
  to 2 requests/s (what ``benchmarks/connectors.py`` enforces).
- Faults, gates and request records come from ``connectors.testing.http_base``:
  ``fail(kind, times=1, on=stream, after_pages=n, retry_after=s)`` with kind an HTTP status,
  ``"malformed"``, ``"wrong_shape"`` or ``"drop"``; ``gate(stream, page)`` holds the request
  for that list page (kill tests). Data changes: :meth:`touch`, :meth:`delete`,
  :meth:`cancel_sale`.
"""

from __future__ import annotations

import copy
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from connectors.testing.http_base import ListApiServer, Request

TOKEN = "cm-test-token-0a1b2c3d4e5f6a7b"
JST = timezone(timedelta(hours=9))
STREAM_SCOPES = {"sales": "read_sales", "customers": "read_sales", "products": "read_products"}
#: Largest ``limit`` per list endpoint, from the current OpenAPI reference as GMO Pepabo's own
#: clients publish it (github.com/pepabo/colormeshop-ruby docs/SaleApi.md, CustomerApi.md,
#: ProductApi.md; github.com/pepabo/colormeshop-mcp tools.json): "指定がない場合は10。最大100"
#: for sales and customers, "最大50" for products. (Older versions of the reference said 50 for
#: sales too.)
MAX_LIMIT = {"sales": 100, "customers": 100, "products": 50}


def _parse_jst(value: str) -> int:
    v = value.strip().replace("/", "-")
    fmt = "%Y-%m-%d %H:%M:%S" if " " in v else ("%Y-%m-%dT%H:%M:%S" if "T" in v else "%Y-%m-%d")
    return int(datetime.strptime(v, fmt).replace(tzinfo=JST).timestamp())


class ColorMeServer(ListApiServer):
    STREAM_SCOPES = STREAM_SCOPES
    MESSAGES = {401: "アクセストークンが無効です", 403: "スコープ {scope} が必要です",
                404: "Not Found", 429: "リクエスト数の上限を超えました"}

    def __init__(
        self,
        data: dict[str, list[dict[str, Any]]],
        *,
        token: str = TOKEN,
        scopes: set[str] | None = None,
        bucket_size: int = 120,
        per_second: float = 2.0,
        retry_after: float = 1.0,
        enforce_limit: bool = True,
    ) -> None:
        super().__init__(data, token=token, scopes=scopes, bucket_size=bucket_size,
                         per_second=per_second, retry_after=retry_after,
                         enforce_limit=enforce_limit)
        self._clock = max((r.get("update_date") or 0 for rows in self.data.values()
                           for r in rows.values()), default=1_700_000_000)

    # -- test controls -----------------------------------------------------------------------
    def now(self) -> int:
        """Epoch seconds of a change: the real clock (never going back)."""
        with self.lock:
            self._clock = max(self._clock, int(time.time()))
            return self._clock

    def touch(self, stream: str, record_id: int, at: int | None = None,
              **changes: Any) -> dict[str, Any]:
        """Change (or create) a record; ``update_date`` = now, or ``at`` (epoch seconds)."""
        with self.lock:
            rec = copy.deepcopy(self.data[stream].get(record_id) or {"id": record_id})
            rec.update(changes)
            rec["update_date"] = self.now() if at is None else at
            self.data[stream][record_id] = rec
            return rec

    def cancel_sale(self, sale_id: int) -> dict[str, Any]:
        return self.touch("sales", sale_id, canceled=True, total_price=0, product_total_price=0)

    # -- protocol ----------------------------------------------------------------------------
    def target(self, req: Request) -> str:
        path = req.path
        return path[len("/v1/"):-len(".json")] if path.startswith("/v1/") and path.endswith(
            ".json") else ""

    def authorized(self, req: Request) -> bool:
        return req.headers.get("Authorization") == f"Bearer {self.token}"

    def error(self, status: int, message: str) -> dict[str, Any]:
        return {"errors": [{"code": status, "message": message, "status": status}]}

    def malformed(self, stream: str) -> bytes:
        return b'{"' + stream.encode() + b'": [{"id": 3, "make_'

    def wrong_shape(self, stream: str) -> dict[str, Any]:
        return {"error": None, "items": []}

    def list_page(self, stream: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        try:
            limit = int(params.get("limit", 10))
            offset = int(params.get("offset", 0))
            lo = _parse_jst(params["update_date_min"]) if "update_date_min" in params else None
            hi = _parse_jst(params["update_date_max"]) if "update_date_max" in params else None
        except ValueError as exc:
            return 400, self.error(400, f"パラメータが不正です: {exc}")
        top = MAX_LIMIT[stream]
        if not 1 <= limit <= top or offset < 0:
            return 400, self.error(400, f"limitは{top}以下で指定してください")
        with self.lock:
            rows = sorted(self.data[stream].values(), key=lambda r: r["id"], reverse=True)
        if lo is not None:
            rows = [r for r in rows if (r.get("update_date") or 0) >= lo]
        if hi is not None:
            rows = [r for r in rows if (r.get("update_date") or 0) <= hi]
        page = rows[offset:offset + limit]
        return 200, {stream: copy.deepcopy(page),
                     "meta": {"total": len(rows), "limit": limit, "offset": offset}}
