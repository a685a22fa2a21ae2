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
- Faults, gates and request records come from ``connectors.testing.http_base``:
  ``fail(kind, times=1, on=stream, after_pages=n, retry_after=s)`` with kind an HTTP status,
  ``"malformed"`` (200 with a broken JSON body), ``"wrong_shape"`` (200 with valid JSON of
  another shape) or ``"drop"`` (connection closed, no response); ``gate(stream, page)`` holds
  the request for the page-th list page until ``gate.open()`` (kill-and-resume tests).
- Data changes between runs: :meth:`upsert`, :meth:`touch`, :meth:`delete`, :meth:`cancel`.

    with RechargeServer(convert(export_dir)) as srv:
        srv.url   # http://127.0.0.1:<port>
"""

from __future__ import annotations

import base64
import copy
import json
from datetime import datetime, timedelta, timezone
from typing import Any

from connectors.testing.http_base import ListApiServer, Request

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


class RechargeServer(ListApiServer):
    STREAM_SCOPES = STREAM_SCOPES
    MESSAGES = {401: "A valid API token is required",
                403: "Your token does not have the required scope: {scope}",
                404: "Not Found", 429: "Too many requests"}

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
        super().__init__(data, token=token, scopes=scopes, bucket_size=bucket_size,
                         per_second=leak_rate, retry_after=retry_after,
                         enforce_limit=enforce_limit)
        self.answer_version = answer_version  # e.g. "2021-01": ignore the version header
        self._clock = max(
            (_parse_ts(r["updated_at"]) for rows in self.data.values() for r in rows.values()
             if r.get("updated_at")),
            default=datetime(2026, 1, 1),
        )

    # -- test controls -----------------------------------------------------------------------
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

    # -- protocol ----------------------------------------------------------------------------
    def target(self, req: Request) -> str:
        return req.path.strip("/")

    def authorized(self, req: Request) -> bool:
        return req.headers.get("X-Recharge-Access-Token") == self.token

    def error(self, status: int, message: str) -> dict[str, Any]:
        return {"errors": message}

    def headers_for(self, req: Request, level: float) -> dict[str, str]:
        return {"X-Recharge-Limit": f"{int(round(level))}/{int(self.bucket.size)}",
                "X-Request-Id": f"req-{len(self.requests)}"}

    def malformed(self, stream: str) -> bytes:
        return b'{"' + stream.encode() + b'": [{"id": 1, "upd'

    def wrong_shape(self, stream: str) -> dict[str, Any]:
        return {"data": [], "meta": {}}

    def finish(self, req: Request, stream: str, body: Any) -> Any:
        if (self.answer_version or req.headers.get("X-Recharge-Version")) != "2021-11":
            # 2021-01 shape: no cursors in the body, a Link header instead
            return {stream: body[stream]}
        return body

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
