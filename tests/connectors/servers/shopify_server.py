"""A real local Shopify GraphQL Admin API server (the subset the connector uses).

    from servers.shopify_server import ShopifyServer
    with ShopifyServer(shop_data, token="shpat_test") as server:     # 127.0.0.1, ephemeral port
        env = {"SHOPIFY_SHOP": "demo", "SHOPIFY_BASE_URL": server.url,
               "SHOPIFY_ACCESS_TOKEN": "shpat_test"}
        server.fail(503, times=2)                   # scripted faults, see fault_reply
        gate = server.gate("Orders", 4)             # hold the 4th Orders page until gate.open()

Protocol followed (https://shopify.dev/docs/api/admin-graphql, 2026-10):
- ``POST /admin/api/<version>/graphql.json`` with ``X-Shopify-Access-Token``; a wrong token is
  HTTP 401 ``{"errors": "[API] Invalid API key or access token ..."}``.
- Operations recognised by ``operationName`` (or the name in the document): Customers, Orders,
  Products (``first``/``after``/``query`` with ``updated_at:>='...'``, sorted by updatedAt then
  id, opaque cursors that stay valid when records change), OrderLineItems, ProductVariants,
  ProductDeletions (deletionEvents), BulkRun (bulkOperationRunQuery), BulkStatus (node(id:)),
  CurrentBulk (currentBulkOperation). Nodes are returned whole (no field selection), nested
  connections (lineItems/variants) cut at the ``first:`` the document asks for.
- Calculated query cost with a real leaky bucket (``bucket_max`` points, ``restore_rate``/s):
  every response carries ``extensions.cost`` {requestedQueryCost, actualQueryCost,
  throttleStatus{maximumAvailable, currentlyAvailable, restoreRate}}; a query whose requested
  cost exceeds what is available gets ``errors[{message: "Throttled", extensions: {code:
  "THROTTLED"}}]`` with HTTP 200 and no data.
- Scopes: a missing read_customers/read_orders/read_products gives an ACCESS_DENIED error naming
  the scope; orders without ``read_all_orders`` reaching back more than 60 days give HTTP 403
  ``[API] This action requires merchant approval for read_all_orders scope.``
- Bulk: BulkRun snapshots nothing until the operation completes (after ``bulk_polls`` status
  polls); the JSONL (roots, then their children with ``__parentId``) is served from
  ``GET /bulk/<n>.jsonl`` without a token, like Shopify's signed URL.

Test controls: ``upsert``/``touch``/``cancel_order``/``delete_product``/``remove_field`` change
data between runs (updatedAt moves to the server's now). Faults, gates and request records come
from ``connectors.testing.http_base``: ``fail(kind, times=1, on=operation)`` (kinds: 429 with
``retry_after`` seconds (default 1), ``"429-date"`` (Retry-After as an HTTP date), 500/502/503/
504, 401/403, ``"malformed"`` JSON, ``"throttled"`` (empties the cost bucket), ``"drop"``
(connection reset), ``"slow"`` (``delay`` seconds), ``"hang"`` (never answers), ``"echo"``
(an error quoting the request's headers, token included)); ``gate(operation, page)`` holds that page
of a paginated stream and ``gate("BulkDownload", n)`` a bulk file after n lines until
``gate.open()``, so a test can SIGKILL a client at a known point; ``log`` lists every GraphQL
request (operation, variables) and bulk download.
"""

from __future__ import annotations

import base64
import copy
import email.utils
import json
import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from connectors.testing.http_base import Fault, LeakyBucket, LocalHttpServer, Reply, Request

ALL_SCOPES = frozenset({"read_customers", "read_orders", "read_all_orders", "read_products"})
STREAM_OPS = {"Customers": "customers", "Orders": "orders", "Products": "products"}
OP_SCOPE = {
    "Customers": "read_customers",
    "Orders": "read_orders",
    "OrderLineItems": "read_orders",
    "Products": "read_products",
    "ProductVariants": "read_products",
    "ProductDeletions": "read_products",
}
NESTED = {"orders": "lineItems", "products": "variants"}


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _num(gid: str) -> int:
    return int(str(gid).rsplit("/", 1)[1])


def _cursor(node: dict[str, Any]) -> str:
    key = json.dumps([node.get("updatedAt") or "", _num(node["id"])])
    return base64.urlsafe_b64encode(key.encode()).decode()


def _uncursor(cursor: str) -> tuple[str, int]:
    u, n = json.loads(base64.urlsafe_b64decode(cursor.encode()).decode())
    return u, n


class ShopifyServer(LocalHttpServer):
    json_type = "application/json; charset=utf-8"

    def __init__(
        self,
        shop: dict[str, list[dict[str, Any]]],
        *,
        token: str = "shpat_test_token_0123456789",
        scopes: frozenset[str] = ALL_SCOPES,
        bucket_max: float = 1000.0,
        restore_rate: float = 50.0,
        api_version: str = "2026-10",
        bulk_polls: int = 1,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__()
        self.records: dict[str, dict[str, dict[str, Any]]] = {
            s: {n["id"]: copy.deepcopy(n) for n in shop.get(s, [])}
            for s in ("customers", "orders", "products")
        }
        self.deletions: list[dict[str, Any]] = []
        self.token = token
        self.scopes = frozenset(scopes)
        self.bucket_max = float(bucket_max)
        self.restore_rate = float(restore_rate)
        self.api_version = api_version
        self.bulk_polls = bulk_polls
        self._now = now or (lambda: datetime.now(timezone.utc))
        self.bucket = LeakyBucket(self.bucket_max, self.restore_rate)  # spent query cost
        self.points_spent = 0.0
        self.costs: list[tuple[str, float, float]] = []  # (operation, requested, actual) run
        self.throttled = 0
        self.bulk_ops: dict[int, dict[str, Any]] = {}
        self.bulk_files: dict[int, bytes] = {}
        self._clock_bump = 0

    @property
    def graphql_path(self) -> str:
        return f"/admin/api/{self.api_version}/graphql.json"

    @property
    def graphql_url(self) -> str:
        return self.url + self.graphql_path

    @property
    def pages_served(self) -> int:
        """Pages of the paginated streams served (all streams)."""
        with self.lock:
            return sum(self.page_requests.values())

    @property
    def log(self) -> list[dict[str, Any]]:
        """Every GraphQL request (operation, variables, token) and bulk download, in order."""
        out = []
        for r in list(self.requests):
            if r.method == "GET" and r.target == "BulkDownload":
                out.append({"operation": "BulkDownload", "variables": {}, "path": r.path})
            elif r.method == "POST" and r.path == self.graphql_path:
                try:
                    body = json.loads(r.body or b"{}")
                except ValueError:
                    continue
                out.append({"operation": body.get("operationName"),
                            "variables": body.get("variables") or {},
                            "token": r.headers.get("X-Shopify-Access-Token")})
        return out

    # -- test controls -------------------------------------------------------------------------
    def now_iso(self) -> str:
        """The server's now, strictly increasing per call (distinct updatedAt values)."""
        with self.lock:
            self._clock_bump += 1
            return _iso(self._now() + timedelta(seconds=self._clock_bump))

    def upsert(self, stream: str, node: dict[str, Any], *, touch: bool = True) -> dict[str, Any]:
        with self.lock:
            node = copy.deepcopy(node)
            if touch:
                node["updatedAt"] = self.now_iso()
            self.records[stream][node["id"]] = node
            return node

    def touch(self, stream: str, gid: str, **changes: Any) -> dict[str, Any]:
        with self.lock:
            node = copy.deepcopy(self.records[stream][gid])
            node.update(changes)
            return self.upsert(stream, node)

    def cancel_order(self, gid: str, reason: str = "CUSTOMER") -> dict[str, Any]:
        with self.lock:
            when = self.now_iso()
            return self.touch("orders", gid, cancelledAt=when, cancelReason=reason,
                              displayFinancialStatus="VOIDED")

    def delete_product(self, gid: str) -> None:
        with self.lock:
            self.records["products"].pop(gid)
            self.deletions.append({"subjectId": gid, "subjectType": "PRODUCT",
                                   "occurredAt": self.now_iso()})

    def remove_field(self, stream: str, field: str) -> None:
        """Schema drift: an optional field disappears from every record (updatedAt unchanged)."""
        with self.lock:
            for node in self.records[stream].values():
                node.pop(field, None)

    def add_field(self, stream: str, field: str, value: Any) -> None:
        """Schema drift: a new field appears on every record (updatedAt unchanged)."""
        with self.lock:
            for node in self.records[stream].values():
                node[field] = copy.deepcopy(value)

    def snapshot(self, stream: str) -> dict[int, dict[str, Any]]:
        """What a complete, correct sync must hold: numeric id -> node."""
        with self.lock:
            return {_num(g): copy.deepcopy(n) for g, n in self.records[stream].items()}

    def operations(self) -> list[str]:
        return [e["operation"] for e in self.log]

    # -- cost bucket ---------------------------------------------------------------------------
    def _status(self) -> dict[str, float]:
        return {"maximumAvailable": self.bucket_max,
                "currentlyAvailable": round(self.bucket.size - self.bucket.level, 1),
                "restoreRate": self.restore_rate}

    # -- request handling ----------------------------------------------------------------------
    def target(self, req: Request) -> str | None:
        """The GraphQL operation name, or "BulkDownload" for a bulk file."""
        if req.method == "GET":
            m = re.fullmatch(r"/bulk/(\d+)\.jsonl", req.path)
            return "BulkDownload" if m and int(m.group(1)) in self.bulk_files else None
        try:
            return json.loads(req.body or b"{}").get("operationName")
        except (ValueError, AttributeError):
            return None

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None,
               content_type: str = "application/json; charset=utf-8") -> Reply:
        return Reply(status, body, {"Content-Type": content_type,
                                    "X-Request-Id": uuid.uuid4().hex, **(headers or {})})

    def respond(self, req: Request) -> Reply:
        if req.method == "GET":
            return self._download(req)
        if req.method != "POST" or req.path != self.graphql_path:
            return self._reply(404, {"errors": "Not Found"})
        try:
            body = json.loads(req.body or b"{}")
        except ValueError:
            return self._reply(400, {"errors": "Invalid JSON in request body"})
        if req.headers.get("X-Shopify-Access-Token") != self.token:
            return self._reply(401, {"errors": "[API] Invalid API key or access token "
                                               "(unrecognized login or wrong password)"})
        fault = self.take_fault(req.target)
        if fault is not None:
            reply = self.fault_reply(fault, req)
            if reply is not None:
                return reply
        if req.target in STREAM_OPS:
            self.at_gate(req.target, self.next_page(req.target), timeout=60)
        status, payload = self.graphql(body)
        return self._reply(status, payload)

    def _download(self, req: Request) -> Reply:
        if req.target != "BulkDownload":
            return self._reply(404, {"errors": "Not Found"})
        data = self.bulk_files[int(req.path[len("/bulk/"):-len(".jsonl")])]
        fault = self.take_fault("BulkDownload")
        if fault is not None and fault.kind in (500, 503):
            return self._reply(fault.kind, {"errors": "Internal Server Error"})
        headers = {"Content-Type": "application/jsonl", "Content-Length": str(len(data))}
        with self.lock:
            held = next((k[1] for k in self.gates if len(k) == 2 and k[0] == "BulkDownload"),
                        None)
        if held is None:
            return Reply(200, data, headers)
        lines = data.splitlines(keepends=True)

        def chunks():
            yield b"".join(lines[:held])
            self.at_gate("BulkDownload", held, timeout=60)
            yield b"".join(lines[held:])

        return Reply(200, chunks(), headers)

    def fault_reply(self, f: Fault, req: Request) -> Reply | None:
        """Serve a scripted fault; None: answer normally (after its effect)."""
        if f.kind == 429:
            return self._reply(429, {"errors": "Exceeded 2 calls per second for api client. "
                                               "Reduce request rates to resume uninterrupted "
                                               "service."}, f.retry_header(default="1"))
        if f.kind == "429-date":
            when = email.utils.format_datetime(datetime.now(timezone.utc) + timedelta(seconds=1),
                                               usegmt=True)
            return self._reply(429, {"errors": "Throttled"}, {"Retry-After": when})
        if f.kind in (500, 502, 503, 504):
            if f.kind == 500:
                return self._reply(500, {"errors": "Internal Server Error"},
                                   content_type="application/json")
            return self._reply(f.kind, "<html><body>Service temporarily unavailable</body></html>",
                               content_type="text/html")
        if f.kind == "malformed":
            return self._reply(200, '{"data": {"orders": {"nodes": [{"id": "gid://shopify/Order/1", ')
        if f.kind == 401:
            return self._reply(401, {"errors": "[API] Invalid API key or access token "
                                               "(unrecognized login or wrong password)"})
        if f.kind == 403:
            return self._reply(403, {"errors": "[API] This action requires merchant approval "
                                               "for read_all_orders scope."})
        if f.kind == "throttled":
            with self.lock:
                self.bucket.fill()
            return None  # the bucket is empty: the normal path answers THROTTLED
        if f.kind in ("drop", "slow", "hang", "echo"):
            return super().fault_reply(f, req)
        raise ValueError(f"unknown fault {f.kind!r}")

    def graphql(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        query = body.get("query") or ""
        variables = body.get("variables") or {}
        op = body.get("operationName")
        if not op:
            m = re.search(r"\b(?:query|mutation)\s+(\w+)", query)
            op = m.group(1) if m else "anonymous"
        scope = OP_SCOPE.get(op)
        if scope and scope not in self.scopes:
            field = {"read_customers": "customers", "read_orders": "orders",
                     "read_products": "products"}[scope]
            return 200, {"errors": [{
                "message": f"Access denied for {field} field. Required access: `{scope}` access "
                           f"scope.",
                "extensions": {"code": "ACCESS_DENIED",
                               "documentation": "https://shopify.dev/api/usage/access-scopes"},
                "path": [field]}]}
        if op == "Orders" and "read_all_orders" not in self.scopes:
            since = _since(variables.get("query"))
            if since is None or since < self._now() - timedelta(days=60):
                return 403, {"errors": "[API] This action requires merchant approval for "
                                       "read_all_orders scope."}
        requested = _requested_cost(op, query, variables)
        if requested > self.bucket_max:
            return 200, {"errors": [{
                "message": f"Query cost is {requested:.0f}, which exceeds the single query max "
                           f"cost limit ({self.bucket_max:.0f}).",
                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested,
                               "maxCost": self.bucket_max}}]}
        with self.lock:
            if requested > self.bucket.room():
                self.throttled += 1
                return 200, {"errors": [{"message": "Throttled", "extensions": {
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                    "extensions": {"cost": {"requestedQueryCost": requested,
                                            "actualQueryCost": None,
                                            "throttleStatus": self._status()}}}
            data, actual = self._execute(op, query, variables)
            self.bucket.level += actual
            self.points_spent += actual
            self.costs.append((op, requested, actual))
            status = self._status()
        return 200, {"data": data, "extensions": {"cost": {
            "requestedQueryCost": requested, "actualQueryCost": actual,
            "throttleStatus": status}}}

    def _execute(self, op: str, query: str, v: dict[str, Any]) -> tuple[dict[str, Any], float]:
        if op in STREAM_OPS:
            stream = STREAM_OPS[op]
            nodes, info = self._page(sorted(self.records[stream].values(),
                                            key=lambda n: (n.get("updatedAt") or "", _num(n["id"]))),
                                     v, since_field="updatedAt")
            key = NESTED.get(stream)
            first_nested = _nested_first(query, key) if key else None
            out = []
            for n in nodes:
                n = copy.deepcopy(n)
                if key and isinstance(n.get(key), dict) and first_nested is not None:
                    items = n[key].get("nodes") or []
                    n[key] = {"nodes": items[:first_nested],
                              "pageInfo": {"hasNextPage": len(items) > first_nested,
                                           "endCursor": str(min(first_nested, len(items)))}}
                out.append(n)
            self.count_page(op)
            actual = 2 + sum(1 + len((n.get(key) or {}).get("nodes") or []) if key else 1 for n in out)
            return {stream: {"nodes": out, "pageInfo": info}}, float(actual)
        if op in ("OrderLineItems", "ProductVariants"):
            stream, key, root = (("orders", "lineItems", "order") if op == "OrderLineItems"
                                 else ("products", "variants", "product"))
            node = self.records[stream].get(v.get("id"))
            if node is None:
                return {root: None}, 1.0
            items = (node.get(key) or {}).get("nodes") or []
            start = int(v.get("after") or 0)
            chunk = items[start:start + 100]
            end = start + len(chunk)
            return {root: {key: {"nodes": copy.deepcopy(chunk), "pageInfo": {
                "hasNextPage": end < len(items), "endCursor": str(end)}}}}, 1.0 + len(chunk)
        if op == "ProductDeletions":
            events = sorted(self.deletions, key=lambda e: (e["occurredAt"], _num(e["subjectId"])))
            since = _since(v.get("query"), "occurred_at")
            if since is not None:
                events = [e for e in events if e["occurredAt"] >= _iso(since)]
            start = int(v.get("after") or 0)
            first = int(v.get("first") or 50)
            chunk = events[start:start + first]
            return {"deletionEvents": {"nodes": copy.deepcopy(chunk), "pageInfo": {
                "hasNextPage": start + first < len(events),
                "endCursor": str(start + len(chunk)) if chunk else None}}}, 2.0 + len(chunk)
        if op == "BulkRun":
            return self._bulk_run(v.get("query") or ""), 10.0
        if op == "BulkStatus":
            return {"node": self._bulk_status(v.get("id"))}, 1.0
        if op == "CurrentBulk":
            latest = max(self.bulk_ops) if self.bulk_ops else None
            return {"currentBulkOperation": self._public_op(latest) if latest else None}, 1.0
        raise KeyError(op)

    def _page(self, items: list[dict[str, Any]], v: dict[str, Any], since_field: str):
        since = _since(v.get("query"))
        if since is not None:
            s = _iso(since)
            items = [n for n in items if (n.get(since_field) or "") >= s]
        after = v.get("after")
        if after:
            u, n = _uncursor(after)
            items = [x for x in items if ((x.get(since_field) or ""), _num(x["id"])) > (u, n)]
        first = int(v.get("first") or 50)
        if first > 250:
            raise ValueError("first must be <= 250")
        chunk = items[:first]
        info = {"hasNextPage": len(items) > first,
                "endCursor": _cursor(chunk[-1]) if chunk else None}
        return chunk, info

    # -- bulk ----------------------------------------------------------------------------------
    def _bulk_run(self, bulk_query: str) -> dict[str, Any]:
        running = [o for o in self.bulk_ops.values() if o["status"] in ("CREATED", "RUNNING")]
        if running:
            return {"bulkOperationRunQuery": {"bulkOperation": None, "userErrors": [{
                "field": None, "code": "OPERATION_IN_PROGRESS",
                "message": f"A bulk query operation for this app and shop is already in "
                           f"progress: {running[0]['id']}."}]}}
        m = re.search(r"\{\s*(customers|orders|products)\b", bulk_query)
        if not m:
            return {"bulkOperationRunQuery": {"bulkOperation": None, "userErrors": [{
                "field": ["query"], "code": "INVALID", "message": "Invalid bulk query"}]}}
        n = len(self.bulk_ops) + 1
        op = {"id": f"gid://shopify/BulkOperation/{n}", "status": "CREATED",
              "createdAt": self.now_iso(), "stream": m.group(1), "polls": 0,
              "errorCode": None, "completedAt": None, "objectCount": "0",
              "rootObjectCount": "0", "url": None, "partialDataUrl": None}
        self.bulk_ops[n] = op
        return {"bulkOperationRunQuery": {"bulkOperation": {
            k: op[k] for k in ("id", "status", "createdAt")}, "userErrors": []}}

    def _bulk_status(self, gid: str | None) -> dict[str, Any] | None:
        try:
            n = _num(gid or "")
        except (IndexError, ValueError):
            return None
        op = self.bulk_ops.get(n)
        if op is None:
            return None
        if op["status"] in ("CREATED", "RUNNING"):
            op["polls"] += 1
            op["status"] = "RUNNING"
            if op["polls"] >= self.bulk_polls:
                self._bulk_complete(n, op)
        return self._public_op(n)

    def _bulk_complete(self, n: int, op: dict[str, Any]) -> None:
        stream = op["stream"]
        key = NESTED.get(stream) if stream != "products" else "variants"
        lines: list[str] = []
        roots = sorted(self.records[stream].values(), key=lambda x: _num(x["id"]))
        for node in roots:
            node = copy.deepcopy(node)
            children = []
            if key and isinstance(node.get(key), dict):
                children = node.pop(key).get("nodes") or []
            lines.append(json.dumps(node, ensure_ascii=False))
            for child in children:
                lines.append(json.dumps({**child, "__parentId": node["id"]}, ensure_ascii=False))
        self.bulk_files[n] = ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8")
        op.update(status="COMPLETED", completedAt=self.now_iso(), objectCount=str(len(lines)),
                  rootObjectCount=str(len(roots)),
                  url=f"{self.url}/bulk/{n}.jsonl" if lines else None)

    def _public_op(self, n: int) -> dict[str, Any]:
        op = self.bulk_ops[n]
        return {k: op[k] for k in ("id", "status", "errorCode", "createdAt", "completedAt",
                                   "objectCount", "rootObjectCount", "url", "partialDataUrl")}

    def expire_bulk(self, n: int | None = None) -> None:
        with self.lock:
            for k, op in self.bulk_ops.items():
                if n is None or k == n:
                    op.update(status="EXPIRED", url=None)


def _since(search: str | None, field: str = "updated_at") -> datetime | None:
    if not search:
        return None
    m = re.search(field + r":>=?\s*'?([0-9T:\-\.Z+ ]+?)'?(?:\s|$)", search)
    if not m:
        return None
    return datetime.fromisoformat(m.group(1).strip().replace("Z", "+00:00"))


def _nested_first(query: str, key: str) -> int | None:
    m = re.search(key + r"\s*\(\s*first:\s*(\d+)", query)
    return int(m.group(1)) if m else None


def _requested_cost(op: str, query: str, v: dict[str, Any]) -> float:
    first = int(v.get("first") or 0) if isinstance(v, dict) else 0
    if op == "Customers":
        return 2.0 + first
    if op == "Orders":
        return 2.0 + first * (2 + (_nested_first(query, "lineItems") or 0))
    if op == "Products":
        return 2.0 + first * (3 + (_nested_first(query, "variants") or 0) + 5 * 6)
    if op in ("OrderLineItems", "ProductVariants"):
        return 102.0
    if op == "ProductDeletions":
        return 2.0 + first
    if op == "BulkRun":
        return 10.0
    return 1.0
