"""A local Recharge API 2021-11 server on a real socket, for the connector tests.

Follows the documented protocol closely enough to exercise every code path of the connector:

- ``GET /customers``, ``/subscriptions``, ``/charges``: ``{"<stream>": [...], "next_cursor": ..,
  "previous_cursor": ..}``; ``limit`` (default 50, max 250), ``sort_by`` (``id-asc``,
  ``id-desc``, ``updated_at-asc``, ``updated_at-desc``), ``updated_at_min`` / ``updated_at_max``
  filters. Cursors are opaque and carry the filters and sort; a request with ``cursor`` and any
  parameter other than ``limit`` is refused (422), as the docs require.
  Cursors are keyset cursors, so records changed between two page requests move (like the real
  API) and records deleted in between simply vanish.
- Headers ``X-Recharge-Access-Token`` (401 when missing/wrong) and ``X-Recharge-Version``
  (``2021-11`` expected; another value is answered in the 2021-01 shape, which the connector must
  reject). A token without a stream's scope gets 403 naming the scope.
- A leaky bucket per token (``bucket_size`` calls, leaking ``leak_rate`` per second); every
  response carries ``X-Recharge-Limit: used/size``; overflow gets 429 with ``Retry-After``.
  The defaults are Recharge's documented standard limit, 40 calls leaking 2 per second
  (https://docs.getrecharge.com/docs/api-rate-limits); ``limit`` max 250 is from
  https://docs.getrecharge.com/docs/using-cursor-pagination-with-the-recharge-api .
- Faults on demand: :meth:`RechargeServer.fail_next` (status codes with optional Retry-After,
  ``"malformed"`` JSON bodies, ``"drop"`` = close the connection), :meth:`gate` to block the
  n-th page request until released (kill-and-resume tests).
- Data changes between runs: :meth:`upsert`, :meth:`touch`, :meth:`delete`, :meth:`cancel`.

    with RechargeServer(convert(export_dir)) as srv:
        srv.url   # http://127.0.0.1:<port>
"""

from __future__ import annotations

import base64
import copy
import json
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "rc-test-token-9f8e7d6c5b4a"
STREAM_SCOPES = {
    "customers": "read_customers",
    "subscriptions": "read_subscriptions",
    "charges": "read_orders",
}
FILTERS = ("updated_at_min", "updated_at_max", "created_at_min", "created_at_max", "status",
           "sort_by", "ids", "customer_id")


def _parse_ts(value: str) -> datetime:
    v = value.strip().replace("Z", "+00:00").replace(" ", "T")
    if len(v) == 10:
        v += "T00:00:00"
    ts = datetime.fromisoformat(v)
    if ts.tzinfo is not None:
        ts = ts.astimezone(timezone.utc).replace(tzinfo=None)
    return ts


def _enc(obj: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode()


def _dec(token: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(token.encode()).decode())


class _Fault:
    def __init__(self, kind: Any, retry_after: float | None, stream: str | None,
                 after_pages: int) -> None:
        self.kind = kind
        self.retry_after = retry_after
        self.stream = stream
        self.after_pages = after_pages


class RechargeServer:
    def __init__(
        self,
        data: dict[str, list[dict[str, Any]]],
        *,
        token: str = TOKEN,
        scopes: set[str] | None = None,
        bucket_size: int = 40,
        leak_rate: float = 2.0,
        retry_after: float = 1.0,
        enforce_limit: bool = True,
        answer_version: str | None = None,
    ) -> None:
        self.data = {name: {r["id"]: copy.deepcopy(r) for r in rows} for name, rows in data.items()}
        self.answer_version = answer_version  # e.g. "2021-01": ignore the version header
        self.token = token
        self.scopes = set(STREAM_SCOPES.values()) if scopes is None else set(scopes)
        self.bucket_size = bucket_size
        self.leak_rate = leak_rate
        self.retry_after = retry_after
        self.enforce_limit = enforce_limit
        self.lock = threading.RLock()
        self.faults: list[_Fault] = []
        self.requests: list[dict[str, Any]] = []  # method, path, params, status (no headers)
        self.page_requests: dict[str, int] = {}  # stream -> successful list responses served
        self.throttled = 0
        self._level = 0.0
        self._t = time.monotonic()
        self._gates: dict[tuple[str, int], threading.Event] = {}
        self.gate_reached: dict[tuple[str, int], threading.Event] = {}
        self._clock = max(
            (_parse_ts(r["updated_at"]) for rows in self.data.values() for r in rows.values()
             if r.get("updated_at")),
            default=datetime(2026, 1, 1),
        )
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> "RechargeServer":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        server = self

        class Handler(_Handler):
            srv = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        for ev in self._gates.values():
            ev.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # -- test controls -----------------------------------------------------------------------
    def fail_next(self, *kinds: Any, retry_after: float | None = None,
                  stream: str | None = None, after_pages: int = 0) -> None:
        """Answer the next requests (of ``stream``, or any) with these faults, in order: an
        HTTP status (int), ``"malformed"`` (200 with a broken JSON body), ``"wrong_shape"`` (200
        with valid JSON of another shape) or ``"drop"`` (connection closed, no response).
        ``after_pages``: only once ``stream`` has served that many list pages."""
        with self.lock:
            self.faults.extend(_Fault(k, retry_after, stream, after_pages) for k in kinds)

    def gate(self, stream: str, page: int) -> threading.Event:
        """Block the request for the ``page``-th list page of ``stream`` (1-based, counting
        pages served since the server started) until the returned event is set.
        ``gate_reached[(stream, page)]`` is set when a request arrives at the gate."""
        ev = threading.Event()
        with self.lock:
            self._gates[(stream, page)] = ev
            self.gate_reached[(stream, page)] = threading.Event()
        return ev

    def now(self) -> datetime:
        """A server clock that moves forward one second per change."""
        with self.lock:
            self._clock += timedelta(seconds=1)
            return self._clock

    def upsert(self, stream: str, record: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            rec = copy.deepcopy(record)
            rec["updated_at"] = self.now().strftime("%Y-%m-%dT%H:%M:%S+00:00")
            self.data[stream][rec["id"]] = rec
            return rec

    def touch(self, stream: str, record_id: int, **changes: Any) -> dict[str, Any]:
        with self.lock:
            rec = copy.deepcopy(self.data[stream][record_id])
            rec.update(changes)
            return self.upsert(stream, rec)

    def cancel(self, subscription_id: int, reason: str = "価格が高い") -> dict[str, Any]:
        with self.lock:
            now = self._clock + timedelta(seconds=1)
            return self.touch(
                "subscriptions", subscription_id, status="cancelled",
                cancelled_at=now.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                cancellation_reason=reason, next_charge_scheduled_at=None)

    def delete(self, stream: str, record_id: int) -> None:
        with self.lock:
            del self.data[stream][record_id]

    def records(self, stream: str) -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(r) for _, r in sorted(self.data[stream].items())]

    # -- protocol ----------------------------------------------------------------------------
    def _bucket(self) -> tuple[bool, int]:
        """Add one call to the bucket; (allowed, level after)."""
        with self.lock:
            now = time.monotonic()
            self._level = max(0.0, self._level - (now - self._t) * self.leak_rate)
            self._t = now
            if self.enforce_limit and self._level + 1 > self.bucket_size:
                self.throttled += 1
                return False, int(round(self._level))
            self._level += 1
            return True, int(round(self._level))

    def _take_fault(self, stream: str | None) -> _Fault | None:
        with self.lock:
            for i, f in enumerate(self.faults):
                if (f.stream is None or f.stream == stream) and (
                        self.page_requests.get(stream or "", 0) >= f.after_pages):
                    return self.faults.pop(i)
        return None

    def list_page(self, stream: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        limit = int(params.get("limit", 50))
        if not 1 <= limit <= 250:
            return 422, {"errors": {"limit": "must be between 1 and 250"}}
        if "cursor" in params:
            extra = sorted(k for k in params if k not in ("cursor", "limit"))
            if extra:
                return 422, {"errors": f"cursor cannot be combined with other parameters "
                                       f"than limit: {', '.join(extra)}"}
            try:
                spec = _dec(params["cursor"])
                if spec.get("stream") != stream:
                    raise ValueError
            except Exception:
                return 422, {"errors": "invalid cursor"}
        else:
            spec = {"stream": stream, "sort_by": params.get("sort_by", "id-desc"),
                    "filters": {k: v for k, v in params.items() if k in FILTERS and k != "sort_by"},
                    "after": None, "direction": "next"}
        sort_by = spec["sort_by"]
        field, _, order = sort_by.rpartition("-")
        if field not in ("id", "updated_at", "created_at") or order not in ("asc", "desc"):
            return 422, {"errors": {"sort_by": f"invalid value {sort_by}"}}

        def key(r: dict[str, Any]) -> tuple:
            if field == "id":
                return (r["id"],)
            v = r.get(field)
            return (v and _parse_ts(v).isoformat() or "", r["id"])

        f = spec["filters"]
        with self.lock:
            rows = list(self.data[stream].values())
        if "updated_at_min" in f:
            lo = _parse_ts(f["updated_at_min"])
            rows = [r for r in rows if r.get("updated_at") and _parse_ts(r["updated_at"]) >= lo]
        if "updated_at_max" in f:
            hi = _parse_ts(f["updated_at_max"])
            rows = [r for r in rows if r.get("updated_at") and _parse_ts(r["updated_at"]) <= hi]
        if "status" in f:
            rows = [r for r in rows if str(r.get("status", "")).lower() == f["status"].lower()]
        rows.sort(key=key, reverse=(order == "desc"))
        after = tuple(spec["after"]) if spec["after"] is not None else None
        if after is not None:
            rows = [r for r in rows if (key(r) > after if order == "asc" else key(r) < after)]
        page = rows[:limit]
        more = len(rows) > limit
        nxt = None
        if more:
            nxt = _enc({**spec, "after": list(key(page[-1]))})
        prev = _enc({**spec, "direction": "prev"}) if after is not None else None
        return 200, {stream: copy.deepcopy(page), "next_cursor": nxt, "previous_cursor": prev}


class _Handler(BaseHTTPRequestHandler):
    srv: RechargeServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # keep test output quiet
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
        stream = parts.path.strip("/")
        entry = {"method": "GET", "path": parts.path, "params": params, "status": None,
                 "version": self.headers.get("X-Recharge-Version")}
        with srv.lock:
            srv.requests.append(entry)

        def reply(status: int, body: Any, headers: dict[str, str] | None = None,
                  raw: bytes | None = None) -> None:
            entry["status"] = status
            self._send(status, body, headers, raw)

        allowed, level = srv._bucket()
        limit_hdr = {"X-Recharge-Limit": f"{level}/{srv.bucket_size}",
                     "X-Request-Id": f"req-{len(srv.requests)}"}
        if not allowed:
            reply(429, {"errors": "Too many requests"},
                  {**limit_hdr, "Retry-After": f"{srv.retry_after:g}"})
            return
        fault = srv._take_fault(stream)
        if fault is not None:
            if fault.kind == "drop":
                entry["status"] = "drop"
                self.close_connection = True
                self.connection.shutdown(2)  # socket.SHUT_RDWR
                return
            if fault.kind == "wrong_shape":
                reply(200, {"data": [], "meta": {}}, limit_hdr)
                return
            if fault.kind == "malformed":
                reply(200, None, limit_hdr, raw=b'{"' + stream.encode() + b'": [{"id": 1, "upd')
                return
            hdr = dict(limit_hdr)
            if fault.retry_after is not None:
                hdr["Retry-After"] = f"{fault.retry_after:g}"
            reply(int(fault.kind), {"errors": f"simulated {fault.kind}"}, hdr)
            return
        if self.headers.get("X-Recharge-Access-Token") != srv.token:
            reply(401, {"errors": "A valid API token is required"}, limit_hdr)
            return
        if stream not in STREAM_SCOPES:
            reply(404, {"errors": "Not Found"}, limit_hdr)
            return
        scope = STREAM_SCOPES[stream]
        if scope not in srv.scopes:
            reply(403, {"errors": f"Your token does not have the required scope: {scope}"},
                  limit_hdr)
            return
        with srv.lock:
            n = srv.page_requests.get(stream, 0) + 1
            gate = srv._gates.get((stream, n))
            reached = srv.gate_reached.get((stream, n))
        if gate is not None:
            assert reached is not None
            reached.set()
            gate.wait(30)
        status, body = srv.list_page(stream, params)
        if status == 200:
            with srv.lock:
                srv.page_requests[stream] = srv.page_requests.get(stream, 0) + 1
            if (srv.answer_version or self.headers.get("X-Recharge-Version")) != "2021-11":
                # 2021-01 shape: no cursors in the body, a Link header instead
                body = {stream: body[stream]}
        reply(status, body, limit_hdr)
