"""Sync one Shopify stream into ``raw_shopify.<stream>``: paged incremental, or bulk backfill.

Raw table (one per stream: customers, orders, products)::

    id          BIGINT     numeric part of the gid (gid://shopify/Order/123 -> 123), primary key
    updated_at  TIMESTAMP  the record's updatedAt (UTC) — the stream's cursor field
    deleted_at  TIMESTAMP  set when Shopify reports the record deleted (products:
                           deletionEvents); NULL otherwise
    _record     JSON       the whole GraphQL node, nested connections complete
                           (orders.lineItems.nodes, products.variants.nodes) — keys sorted

Incremental (default once a cursor exists): ``query: "updated_at:>='<cursor - lookback>'"``,
``sortKey: UPDATED_AT`` ascending, ``first``/``after`` pages; each page is committed with
``write_batch(final=False)`` so the cursor (max updatedAt committed) moves only with its rows.
A killed sync re-reads from the last committed cursor minus the lookback; rows are upserted by id
(an unchanged record is left untouched), so nothing is missing and nothing is twice.

Bulk backfill (first sync of customers/orders when ``SHOPIFY_BULK=auto``, or ``always``):
``bulkOperationRunQuery`` -> poll ``node(id:)`` until COMPLETED -> stream the JSONL from ``url``
-> rebuild children from ``__parentId`` -> commit every ``bulk_batch`` root records together
with state ``{"bulk": {"id", "created_at", "lines_done"}}`` (the cursor is untouched until the
end). A killed backfill resumes the *same* operation and skips the lines already committed; the
last batch sets the cursor to the operation's ``createdAt`` and the incremental pass follows at
once to pick up what changed while it ran.
https://shopify.dev/docs/api/usage/bulk-operations/queries
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator, Mapping

from connectors.http import HttpError, ResponseFormatError, graphql_connection
from connectors.http.errors import AuthError
from connectors.raw import RawColumn, RawStream, RawWriter, SyncResult, WarehouseLike

from .graphql import API_VERSION, ShopifyGraphQL
from .queries import (
    BULK_CHILDREN,
    BULK_QUERIES,
    BULK_RUN,
    BULK_STATUS,
    ORDER_LINE_ITEMS,
    PAGE_QUERIES,
    PRODUCT_DELETIONS,
    PRODUCT_VARIANTS,
)

__all__ = [
    "BULK_STREAMS",
    "SOURCE_NAME",
    "STREAMS",
    "ShopifyConfig",
    "raw_stream",
    "record_row",
    "sync_stream",
]

SOURCE_NAME = "shopify"
STREAMS: tuple[str, ...] = ("customers", "orders", "products")
BULK_STREAMS: tuple[str, ...] = tuple(BULK_QUERIES)
OPERATION = {"customers": "Customers", "orders": "Orders", "products": "Products"}
DEFAULT_PAGE_SIZE = {"customers": 100, "orders": 25, "products": 10}


def raw_stream(name: str, source: str = SOURCE_NAME) -> RawStream:
    if name not in STREAMS:
        raise ValueError(f"unknown Shopify stream {name!r}; streams: {', '.join(STREAMS)}")
    return RawStream(
        source,
        name,
        columns=(
            RawColumn("id", "BIGINT"),
            RawColumn("updated_at", "TIMESTAMP"),
            RawColumn("deleted_at", "TIMESTAMP"),
            RawColumn("_record", "JSON"),
        ),
        primary_key=("id",),
        cursor_field="updated_at",
    )


@dataclass
class ShopifyConfig:
    token: str
    shop: str | None = None
    base_url: str | None = None              # override (local test server, proxy)
    api_version: str = API_VERSION
    lookback: timedelta = timedelta(minutes=60)
    page_size: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PAGE_SIZE))
    bulk: str = "auto"                       # auto | always | never
    bulk_poll_seconds: float = 5.0
    bulk_batch: int = 500                    # root records per committed bulk batch
    bulk_timeout_seconds: float = 6 * 3600
    http_options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "ShopifyConfig":
        """SHOPIFY_ACCESS_TOKEN, SHOPIFY_SHOP (required); SHOPIFY_BASE_URL, SHOPIFY_API_VERSION,
        SHOPIFY_LOOKBACK_MINUTES, SHOPIFY_PAGE_SIZE, SHOPIFY_BULK, SHOPIFY_BULK_POLL_SECONDS,
        SHOPIFY_BULK_BATCH, SHOPIFY_MAX_RETRIES, SHOPIFY_BACKOFF_BASE, SHOPIFY_TIMEOUT."""
        token = (env.get("SHOPIFY_ACCESS_TOKEN") or "").strip()
        if not token:
            raise ValueError("SHOPIFY_ACCESS_TOKEN is not set")
        shop = (env.get("SHOPIFY_SHOP") or "").strip() or None
        base_url = (env.get("SHOPIFY_BASE_URL") or "").strip() or None
        if not shop and not base_url:
            raise ValueError("SHOPIFY_SHOP is not set (e.g. 'example' for example.myshopify.com)")
        cfg = cls(token=token, shop=shop, base_url=base_url)
        if env.get("SHOPIFY_API_VERSION"):
            cfg.api_version = env["SHOPIFY_API_VERSION"].strip()
        if env.get("SHOPIFY_LOOKBACK_MINUTES"):
            cfg.lookback = timedelta(minutes=float(env["SHOPIFY_LOOKBACK_MINUTES"]))
        if env.get("SHOPIFY_PAGE_SIZE"):
            n = int(env["SHOPIFY_PAGE_SIZE"])
            cfg.page_size = {s: n for s in STREAMS}
        if env.get("SHOPIFY_BULK"):
            cfg.bulk = env["SHOPIFY_BULK"].strip().lower()
            if cfg.bulk not in ("auto", "always", "never"):
                raise ValueError("SHOPIFY_BULK must be auto, always or never")
        if env.get("SHOPIFY_BULK_POLL_SECONDS"):
            cfg.bulk_poll_seconds = float(env["SHOPIFY_BULK_POLL_SECONDS"])
        if env.get("SHOPIFY_BULK_BATCH"):
            cfg.bulk_batch = int(env["SHOPIFY_BULK_BATCH"])
        if env.get("SHOPIFY_MAX_RETRIES"):
            cfg.http_options["max_retries"] = int(env["SHOPIFY_MAX_RETRIES"])
        if env.get("SHOPIFY_BACKOFF_BASE"):
            cfg.http_options["backoff_base"] = float(env["SHOPIFY_BACKOFF_BASE"])
        if env.get("SHOPIFY_TIMEOUT"):
            t = float(env["SHOPIFY_TIMEOUT"])
            cfg.http_options["timeout"] = (min(5.0, t), t)
        return cfg

    def client(self, *, log: Callable[[str], None] | None = None,
               sleep: Callable[[float], None] = time.sleep) -> ShopifyGraphQL:
        return ShopifyGraphQL(token=self.token, shop=self.shop, base_url=self.base_url,
                              api_version=self.api_version, log=log, sleep=sleep,
                              **self.http_options)


# --------------------------------------------------------------------------------------------
# records


def gid_number(gid: Any) -> int:
    try:
        return int(str(gid).rsplit("/", 1)[1].split("?", 1)[0])
    except (IndexError, ValueError):
        raise ResponseFormatError(f"not a Shopify gid: {str(gid)[:80]!r}") from None


def parse_ts(value: Any) -> datetime | None:
    """ISO 8601 (with Z or offset) -> naive UTC; None stays None."""
    if value in (None, ""):
        return None
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ResponseFormatError(f"not an ISO 8601 timestamp: {str(value)[:40]!r}") from None
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt


def iso_z(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def record_row(node: Mapping[str, Any], deleted_at: datetime | None = None) -> tuple:
    """(id, updated_at, deleted_at, _record JSON text) for one node."""
    if not isinstance(node, Mapping) or "id" not in node:
        raise ResponseFormatError("a Shopify node without an id")
    return (
        gid_number(node["id"]),
        parse_ts(node.get("updatedAt")),
        deleted_at,
        json.dumps(node, ensure_ascii=False, sort_keys=True),
    )


def _closed(nodes: list[Any]) -> dict[str, Any]:
    return {"nodes": nodes, "pageInfo": {"hasNextPage": False, "endCursor": None}}


# --------------------------------------------------------------------------------------------
# the sync


def sync_stream(
    warehouse: WarehouseLike,
    stream: str,
    env: Mapping[str, str],
    log: Callable[[str], None] = print,
    *,
    config: ShopifyConfig | None = None,
    client: ShopifyGraphQL | None = None,
    sleep: Callable[[float], None] = time.sleep,
    source: str = SOURCE_NAME,
) -> SyncResult:
    """Sync ``stream`` (customers | orders | products); the ApiSource entry point."""
    cfg = config or ShopifyConfig.from_env(env)
    rs = raw_stream(stream, source)
    gql = client or cfg.client(log=log, sleep=sleep)
    try:
        with RawWriter(warehouse, rs) as writer:
            state = writer.current_state()
            bulk_state = (state.state or {}).get("bulk") if state else None
            first_sync = state is None or state.cursor_value is None
            use_bulk = stream in BULK_STREAMS and (
                bulk_state is not None
                or cfg.bulk == "always"
                or (cfg.bulk == "auto" and first_sync)
            )
            if use_bulk:
                _bulk_backfill(gql, writer, stream, cfg, bulk_state, log, sleep)
            _incremental(gql, writer, stream, cfg, log)
            if stream == "products":
                _product_deletions(gql, writer, cfg, log)
            result = writer.write_batch([], final=True, cursor_value=None)
            log(f"shopify {stream}: {result.rows_read} read, {result.rows_inserted} new, "
                f"{result.rows_updated} changed, cursor {result.cursor_value}")
            return result
    finally:
        if client is None:
            gql.close()


def _incremental(gql: ShopifyGraphQL, writer: RawWriter, stream: str, cfg: ShopifyConfig,
                 log: Callable[[str], None]) -> None:
    state = writer.current_state()
    cursor = parse_ts(state.cursor_value.replace(" ", "T")) if state and state.cursor_value else None
    search = None
    if cursor is not None:
        search = f"updated_at:>='{iso_z(cursor - cfg.lookback)}'"
    after: str | None = None
    pages = 0
    while True:
        data = gql.execute(
            PAGE_QUERIES[stream],
            {"first": cfg.page_size[stream], "after": after, "query": search},
            operation=OPERATION[stream],
        )
        nodes, end, has_next = graphql_connection(data, (stream,))
        nodes = [_complete(gql, stream, n) for n in nodes]
        writer.write_batch([record_row(n) for n in nodes], final=False)
        pages += 1
        if not has_next:
            break
        after = end
    log(f"shopify {stream}: {pages} page(s) since {search or 'the beginning'}")


def _complete(gql: ShopifyGraphQL, stream: str, node: dict[str, Any]) -> dict[str, Any]:
    """Fetch the rest of a nested connection (line items / variants) past its first page."""
    nested = {"orders": ("lineItems", ORDER_LINE_ITEMS, "OrderLineItems", "order"),
              "products": ("variants", PRODUCT_VARIANTS, "ProductVariants", "product")}.get(stream)
    if nested is None or not isinstance(node, dict):
        return node
    key, query, op, root = nested
    conn = node.get(key)
    if not isinstance(conn, Mapping):
        return node  # field absent (schema drift): keep the record as it came
    items = list(conn.get("nodes") or [])
    info = conn.get("pageInfo") or {}
    after = info.get("endCursor")
    while info.get("hasNextPage"):
        data = gql.execute(query, {"id": node["id"], "after": after}, operation=op)
        more, after, has_next = graphql_connection(data, (root, key))
        items.extend(more)
        info = {"hasNextPage": has_next}
    node[key] = _closed(items)
    if stream == "products" and isinstance(node.get("sellingPlanGroups"), Mapping):
        node["sellingPlanGroups"] = _closed(list(node["sellingPlanGroups"].get("nodes") or []))
    return node


def _product_deletions(gql: ShopifyGraphQL, writer: RawWriter, cfg: ShopifyConfig,
                       log: Callable[[str], None]) -> None:
    """Mark products Shopify reports deleted (deletionEvents) with deleted_at; keep the last
    known record. The deletions cursor lives in the stream state."""
    state = writer.current_state()
    st = dict(state.state or {}) if state else {}
    since = st.get("deletions_since")
    search = f"occurred_at:>='{since}'" if since else None
    after = None
    marked = 0
    while True:
        data = gql.execute(PRODUCT_DELETIONS, {"first": 250, "after": after, "query": search},
                           operation="ProductDeletions")
        events, end, has_next = graphql_connection(data, ("deletionEvents",))
        rows = []
        newest = since
        for ev in events:
            pid = gid_number(ev.get("subjectId"))
            occurred = parse_ts(ev.get("occurredAt"))
            found = writer.con.execute(
                f"SELECT updated_at, CAST(_record AS VARCHAR), deleted_at FROM {writer.stream.table} "
                f"WHERE id = ?", [pid]).fetchone()
            if found and found[2] is not None:
                continue
            record = json.loads(found[1]) if found and found[1] else {"id": ev.get("subjectId")}
            rows.append((pid, found[0] if found else occurred, occurred,
                         json.dumps(record, ensure_ascii=False, sort_keys=True)))
            if ev.get("occurredAt") and (newest is None or ev["occurredAt"] > newest):
                newest = ev["occurredAt"]
        st["deletions_since"] = newest
        writer.write_batch(rows, final=False, cursor_value=None, state=st)
        marked += len(rows)
        if not has_next:
            break
        after = end
    if marked:
        log(f"shopify products: {marked} marked deleted")


# -- bulk -------------------------------------------------------------------------------------


def _bulk_backfill(gql: ShopifyGraphQL, writer: RawWriter, stream: str, cfg: ShopifyConfig,
                   bulk_state: dict[str, Any] | None, log: Callable[[str], None],
                   sleep: Callable[[float], None]) -> None:
    state = writer.current_state()
    base_state = dict(state.state or {}) if state else {}
    if bulk_state is None:
        bulk_state = _bulk_start(gql, stream, log)
        base_state["bulk"] = bulk_state
        # Remember the operation before waiting for it: a killed sync resumes this one.
        writer.write_batch([], final=False, cursor_value=None, state=base_state)
    else:
        log(f"shopify {stream}: resuming bulk operation {bulk_state['id']} after line "
            f"{bulk_state.get('lines_done', 0)}")
    op = _bulk_wait(gql, bulk_state["id"], cfg, sleep, log)
    if op.get("status") == "EXPIRED" or (op.get("status") == "COMPLETED" and op.get("url") is None
                                         and int(op.get("objectCount") or 0) > 0):
        log(f"shopify {stream}: bulk result expired; starting a new bulk operation")
        bulk_state = _bulk_start(gql, stream, log)
        base_state["bulk"] = bulk_state
        writer.write_batch([], final=False, cursor_value=None, state=base_state)
        op = _bulk_wait(gql, bulk_state["id"], cfg, sleep, log)
    skip = int(bulk_state.get("lines_done") or 0)
    roots: list[dict[str, Any]] = []   # complete roots waiting for the next commit
    current: dict[str, Any] | None = None
    children = BULK_CHILDREN.get(stream, {})

    def commit(upto_line: int, *, done: bool = False, cursor: str | None = None) -> None:
        """Commit the complete roots; ``done`` drops the bulk state and sets the cursor."""
        st = dict(base_state)
        if done:
            st.pop("bulk", None)
        else:
            st["bulk"] = {**bulk_state, "lines_done": upto_line}
        rows = [record_row(_close_children(r, children)) for r in roots]
        writer.write_batch(rows, final=False, cursor_value=cursor if done else None, state=st)
        if not done:
            log(f"shopify {stream}: bulk committed {len(rows)} records (through line {upto_line})")
        roots.clear()

    url = op.get("url")
    n_lines = 0
    if url:
        for index, line in _jsonl_lines(gql, url, skip):
            n_lines += 1
            try:
                obj = json.loads(line)
            except ValueError:
                raise ResponseFormatError(
                    f"bulk operation {bulk_state['id']}: line {index + 1} is not JSON",
                    body_excerpt=gql.http.redact(line[:120])) from None
            parent = obj.pop("__parentId", None)
            if parent is None:
                if current is not None:
                    roots.append(current)
                    if len(roots) >= cfg.bulk_batch:
                        commit(index)
                current = obj
                continue
            target = current if current is not None and current.get("id") == parent else next(
                (r for r in reversed(roots) if r.get("id") == parent), None)
            if target is None:
                raise ResponseFormatError(
                    f"bulk operation {bulk_state['id']}: line {index + 1} is a child of "
                    f"{parent}, which is not among the records still open")
            kind = str(obj.get("id", "")).split("/")[-2] if "/" in str(obj.get("id", "")) else ""
            key = children.get(kind)
            if key is None:
                raise ResponseFormatError(f"bulk: unexpected child type {kind!r} in {stream}")
            target.setdefault(key, {"nodes": []})["nodes"].append(obj)
    if current is not None:
        roots.append(current)
    created = parse_ts(op.get("createdAt") or bulk_state.get("created_at"))
    # The cursor becomes the operation's start: what changed since is re-read incrementally.
    # (Without a createdAt, None keeps the previous cursor and the incremental pass reads all.)
    commit(0, done=True, cursor=str(created) if created else None)
    log(f"shopify {stream}: bulk backfill done ({n_lines} JSONL lines after skipping {skip})")


def _close_children(root: dict[str, Any], children: Mapping[str, str]) -> dict[str, Any]:
    for key in children.values():
        conn = root.get(key)
        root[key] = _closed(list(conn.get("nodes") or []) if isinstance(conn, Mapping) else [])
    return root


def _bulk_query(stream: str) -> str:
    # Full history: the incremental pass that follows catches changes made while it ran.
    return BULK_QUERIES[stream].replace("(query: $QUERY)", "")


def _bulk_start(gql: ShopifyGraphQL, stream: str, log: Callable[[str], None]) -> dict[str, Any]:
    data = gql.execute(BULK_RUN, {"query": _bulk_query(stream)}, operation="BulkRun")
    payload = data.get("bulkOperationRunQuery") or {}
    errors = payload.get("userErrors") or []
    if errors:
        msg = "; ".join(f"{e.get('message')} ({e.get('code')})" for e in errors)
        raise HttpError(f"bulkOperationRunQuery for {stream} refused: {msg}")
    op = payload.get("bulkOperation") or {}
    if not op.get("id"):
        raise ResponseFormatError("bulkOperationRunQuery returned no operation id")
    log(f"shopify {stream}: started bulk operation {op['id']}")
    return {"id": op["id"], "created_at": op.get("createdAt"), "lines_done": 0}


def _bulk_wait(gql: ShopifyGraphQL, op_id: str, cfg: ShopifyConfig,
               sleep: Callable[[float], None], log: Callable[[str], None]) -> dict[str, Any]:
    waited = 0.0
    while True:
        data = gql.execute(BULK_STATUS, {"id": op_id}, operation="BulkStatus")
        op = data.get("node") or {}
        status = op.get("status")
        if status in ("COMPLETED", "EXPIRED"):
            return op
        if status in ("FAILED", "CANCELED", "CANCELING"):
            code = op.get("errorCode")
            cls = AuthError if code == "ACCESS_DENIED" else HttpError
            raise cls(f"bulk operation {op_id} {status}" + (f" ({code})" if code else ""))
        if status not in ("CREATED", "RUNNING"):
            raise ResponseFormatError(f"bulk operation {op_id}: unknown status {status!r}")
        if waited > cfg.bulk_timeout_seconds:
            raise HttpError(f"bulk operation {op_id} still {status} after {waited:.0f}s")
        sleep(cfg.bulk_poll_seconds)
        waited += cfg.bulk_poll_seconds


def _jsonl_lines(gql: ShopifyGraphQL, url: str, skip: int) -> Iterator[tuple[int, str]]:
    """(0-based line index, text) of the result file from line ``skip`` on; streamed."""
    resp = gql.http.request("GET", url, stream=True, headers={"Accept": "application/jsonl"})
    try:
        index = 0
        for raw in resp.iter_lines(decode_unicode=False):
            if not raw:
                continue
            if index >= skip:
                yield index, raw.decode("utf-8")
            index += 1
    finally:
        resp.close()
