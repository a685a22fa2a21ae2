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
- Faults on demand (:meth:`fail_next`), gates for kill tests (:meth:`gate`), data changes
  (:meth:`touch`, :meth:`delete`, :meth:`cancel_sale`).
"""

from __future__ import annotations

import copy
import json
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

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


class _Fault:
    def __init__(self, kind: Any, retry_after: float | None, stream: str | None,
                 after_pages: int) -> None:
        self.kind, self.retry_after, self.stream, self.after_pages = (
            kind, retry_after, stream, after_pages)


class ColorMeServer:
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
        self.data = {name: {r["id"]: copy.deepcopy(r) for r in rows} for name, rows in data.items()}
        self.token = token
        self.scopes = set(STREAM_SCOPES.values()) if scopes is None else set(scopes)
        self.bucket_size = bucket_size
        self.per_second = per_second
        self.retry_after = retry_after
        self.enforce_limit = enforce_limit
        self.lock = threading.RLock()
        self.faults: list[_Fault] = []
        self.requests: list[dict[str, Any]] = []
        self.page_requests: dict[str, int] = {}
        self.throttled = 0
        self._level = 0.0
        self._t = time.monotonic()
        self._gates: dict[tuple[str, int], threading.Event] = {}
        self.gate_reached: dict[tuple[str, int], threading.Event] = {}
        self._clock = max((r.get("update_date") or 0 for rows in self.data.values()
                           for r in rows.values()), default=1_700_000_000)
        self._httpd: ThreadingHTTPServer | None = None

    def __enter__(self) -> "ColorMeServer":
        server = self

        class Handler(_Handler):
            srv = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        for ev in self._gates.values():
            ev.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # -- test controls -----------------------------------------------------------------------
    def fail_next(self, *kinds: Any, retry_after: float | None = None, stream: str | None = None,
                  after_pages: int = 0) -> None:
        """Next requests (of ``stream``, once it served ``after_pages`` pages) get these faults:
        an HTTP status, ``"malformed"``, ``"wrong_shape"`` or ``"drop"``."""
        with self.lock:
            self.faults.extend(_Fault(k, retry_after, stream, after_pages) for k in kinds)

    def gate(self, stream: str, page: int) -> threading.Event:
        ev = threading.Event()
        with self.lock:
            self._gates[(stream, page)] = ev
            self.gate_reached[(stream, page)] = threading.Event()
        return ev

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

    def delete(self, stream: str, record_id: int) -> None:
        with self.lock:
            del self.data[stream][record_id]

    def records(self, stream: str) -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(r) for _, r in sorted(self.data[stream].items())]

    # -- protocol ----------------------------------------------------------------------------
    def _bucket(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self._level = max(0.0, self._level - (now - self._t) * self.per_second)
            self._t = now
            if self.enforce_limit and self._level + 1 > self.bucket_size:
                self.throttled += 1
                return False
            self._level += 1
            return True

    def _take_fault(self, stream: str) -> _Fault | None:
        with self.lock:
            for i, f in enumerate(self.faults):
                if (f.stream is None or f.stream == stream) and (
                        self.page_requests.get(stream, 0) >= f.after_pages):
                    return self.faults.pop(i)
        return None

    def list_page(self, stream: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        try:
            limit = int(params.get("limit", 10))
            offset = int(params.get("offset", 0))
            lo = _parse_jst(params["update_date_min"]) if "update_date_min" in params else None
            hi = _parse_jst(params["update_date_max"]) if "update_date_max" in params else None
        except ValueError as exc:
            return 400, {"errors": [{"code": 400, "message": f"パラメータが不正です: {exc}",
                                     "status": 400}]}
        top = MAX_LIMIT[stream]
        if not 1 <= limit <= top or offset < 0:
            return 400, {"errors": [{"code": 400, "message": f"limitは{top}以下で指定してください",
                                     "status": 400}]}
        with self.lock:
            rows = sorted(self.data[stream].values(), key=lambda r: r["id"], reverse=True)
        if lo is not None:
            rows = [r for r in rows if (r.get("update_date") or 0) >= lo]
        if hi is not None:
            rows = [r for r in rows if (r.get("update_date") or 0) <= hi]
        page = rows[offset:offset + limit]
        return 200, {stream: copy.deepcopy(page),
                     "meta": {"total": len(rows), "limit": limit, "offset": offset}}


class _Handler(BaseHTTPRequestHandler):
    srv: ColorMeServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None,
              raw: bytes | None = None) -> None:
        payload = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:  # noqa: N802
        srv = self.srv
        parts = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        path = parts.path
        stream = path[len("/v1/"):-len(".json")] if path.startswith("/v1/") and path.endswith(
            ".json") else ""
        entry = {"method": "GET", "path": path, "params": params, "status": None}
        with srv.lock:
            srv.requests.append(entry)

        def reply(status: int, body: Any, headers: dict[str, str] | None = None,
                  raw: bytes | None = None) -> None:
            entry["status"] = status
            self._send(status, body, headers, raw)

        if not srv._bucket():
            reply(429, {"errors": [{"code": 429, "message": "リクエスト数の上限を超えました",
                                    "status": 429}]},
                  {"Retry-After": f"{srv.retry_after:g}"})
            return
        fault = srv._take_fault(stream)
        if fault is not None:
            if fault.kind == "drop":
                entry["status"] = "drop"
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if fault.kind == "malformed":
                reply(200, None, raw=b'{"' + stream.encode() + b'": [{"id": 3, "make_')
                return
            if fault.kind == "wrong_shape":
                reply(200, {"error": None, "items": []})
                return
            hdr = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            reply(int(fault.kind), {"errors": [{"code": int(fault.kind),
                                                "message": f"simulated {fault.kind}",
                                                "status": int(fault.kind)}]}, hdr)
            return
        if self.headers.get("Authorization") != f"Bearer {srv.token}":
            reply(401, {"errors": [{"code": 401, "message": "アクセストークンが無効です",
                                    "status": 401}]})
            return
        if stream not in STREAM_SCOPES:
            reply(404, {"errors": [{"code": 404, "message": "Not Found", "status": 404}]})
            return
        scope = STREAM_SCOPES[stream]
        if scope not in srv.scopes:
            reply(403, {"errors": [{"code": 403, "message": f"スコープ {scope} が必要です",
                                    "status": 403}]})
            return
        with srv.lock:
            n = srv.page_requests.get(stream, 0) + 1
            gate = srv._gates.get((stream, n))
            reached = srv.gate_reached.get((stream, n))
        if gate is not None and reached is not None:
            reached.set()
            gate.wait(30)
        status, body = srv.list_page(stream, params)
        if status == 200:
            with srv.lock:
                srv.page_requests[stream] = srv.page_requests.get(stream, 0) + 1
        reply(status, body)
