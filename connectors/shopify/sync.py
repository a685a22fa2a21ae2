"""Sync one Shopify stream into ``raw_shopify.<stream>``: paged incremental, or bulk backfill.

``README.md`` here is the authority for the protocol (queries, incremental and bulk passes,
deletion events, limits, raw columns and references); this module only implements it, on the
shared skeleton (``connectors/sync_base.py``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator, Mapping

from connectors.http import AuthError, HttpError, ResponseFormatError, graphql_connection
from connectors import sync_base as base
from connectors.raw import RawStream, RawWriter, SyncResult, WarehouseLike

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
    "REQUIRED_ENV",
    "SOURCE",
    "SOURCE_NAME",
    "STREAMS",
    "ShopifySettings",
    "raw_stream",
    "record_row",
    "sync",
    "sync_stream",
]

SOURCE_NAME = "shopify"
STREAMS: tuple[str, ...] = ("customers", "orders", "products")
BULK_STREAMS: tuple[str, ...] = tuple(BULK_QUERIES)
OPERATION = {"customers": "Customers", "orders": "Orders", "products": "Products"}
DEFAULT_PAGE_SIZE = {"customers": 100, "orders": 25, "products": 10}


def raw_stream(name: str, source: str = SOURCE_NAME) -> RawStream:
    return base.record_stream(source, name, STREAMS, "Shopify")


@dataclass(frozen=True)
class ShopifySettings(base.ConnectorSettings):
    shop: str | None = None
    base_url: str | None = None              # override (local test server, proxy)
    api_version: str = API_VERSION
    lookback: timedelta = timedelta(minutes=60)
    page_size: int | None = None             # None: DEFAULT_PAGE_SIZE of each stream
    bulk: str = "auto"                       # auto | always | never
    bulk_poll_seconds: float = 5.0
    bulk_batch: int = 500                    # root records per committed bulk batch
    bulk_timeout_seconds: float = 6 * 3600
    max_retries: int | None = None           # HTTP options; None: the HTTP core's default
    backoff_base: float | None = None
    source: str = SOURCE_NAME

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "ShopifySettings":
        """Settings from environment variables (see README.md)."""
        token = base.env_token(env, "SHOPIFY_ACCESS_TOKEN")
        shop = base.env_text(env, "SHOPIFY_SHOP")
        base_url = base.env_text(env, "SHOPIFY_BASE_URL")
        if not shop and not base_url:
            raise ValueError("SHOPIFY_SHOP is not set (e.g. 'example' for example.myshopify.com)")
        bulk = base.env_text(env, "SHOPIFY_BULK", "auto").lower()
        if bulk not in ("auto", "always", "never"):
            raise ValueError("SHOPIFY_BULK must be auto, always or never")
        page_size = base.env_number(env, "SHOPIFY_PAGE_SIZE", 0)
        retries = base.env_number(env, "SHOPIFY_MAX_RETRIES", -1)
        if base.env_text(env, "SHOPIFY_TIMEOUT"):
            # an old setting silently ignored would leave the default in force unnoticed
            raise ValueError("SHOPIFY_TIMEOUT is now SHOPIFY_READ_TIMEOUT (with SHOPIFY_CONNECT_TIMEOUT "
                             "and SHOPIFY_RETRY_BUDGET): rename it")
        return cls(
            token=token,
            shop=shop,
            base_url=base_url,
            api_version=base.env_text(env, "SHOPIFY_API_VERSION", API_VERSION),
            lookback=timedelta(minutes=base.env_number(env, "SHOPIFY_LOOKBACK_MINUTES", 60)),
            page_size=int(page_size) if page_size else None,
            bulk=bulk,
            bulk_poll_seconds=base.env_number(env, "SHOPIFY_BULK_POLL_SECONDS", 5.0),
            bulk_batch=int(base.env_number(env, "SHOPIFY_BULK_BATCH", 500)),
            max_retries=None if retries < 0 else int(retries),
            backoff_base=base.env_number(env, "SHOPIFY_BACKOFF_BASE", None),  # type: ignore[arg-type]
            **base.http_env(env, "SHOPIFY"),
        )

    def page_size_for(self, stream: str) -> int:
        return self.page_size or DEFAULT_PAGE_SIZE[stream]

    def client(self, *, log: Callable[[str], None] | None = None,
               sleep: Callable[[float], None] = time.sleep) -> ShopifyGraphQL:
        options: dict[str, Any] = base.http_options(self)
        if self.max_retries is not None:
            options["max_retries"] = self.max_retries
        if self.backoff_base is not None:
            options["backoff_base"] = self.backoff_base
        return ShopifyGraphQL(token=self.token, shop=self.shop, base_url=self.base_url,
                              api_version=self.api_version, log=log, sleep=sleep, **options)


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


def sync(warehouse: WarehouseLike, stream: str, settings: ShopifySettings, *,
         client: ShopifyGraphQL | None = None, log: Callable[[str], None] | None = None,
         sleep: Callable[[float], None] = time.sleep) -> SyncResult:
    """Sync ``stream`` (customers | orders | products); see README.md."""
    say = log or (lambda _m: None)
    return base.run_stream(
        warehouse, raw_stream(stream, settings.source),
        lambda writer, gql: _run(gql, writer, stream, settings, say, sleep),
        client=client, make_client=lambda: settings.client(log=say, sleep=sleep))


def _run(gql: ShopifyGraphQL, writer: RawWriter, stream: str, cfg: ShopifySettings,
         log: Callable[[str], None], sleep: Callable[[float], None]) -> SyncResult:
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


def _incremental(gql: ShopifyGraphQL, writer: RawWriter, stream: str, cfg: ShopifySettings,
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
            {"first": cfg.page_size_for(stream), "after": after, "query": search},
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


def _product_deletions(gql: ShopifyGraphQL, writer: RawWriter, cfg: ShopifySettings,
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
        deleted: dict[int, datetime | None] = {}
        gids: dict[int, Any] = {}
        newest = since
        for ev in events:
            pid = gid_number(ev.get("subjectId"))
            deleted[pid], gids[pid] = parse_ts(ev.get("occurredAt")), ev.get("subjectId")
            if ev.get("occurredAt") and (newest is None or ev["occurredAt"] > newest):
                newest = ev["occurredAt"]
        st["deletions_since"] = newest
        # a product deleted before it was ever synced lands as a stub with its gid
        n = writer.mark_deleted_keys(deleted, unknown=lambda pid, at: (
            pid, at, at, json.dumps({"id": gids[pid]}, ensure_ascii=False, sort_keys=True)),
            state=st)
        marked += n
        if not has_next:
            break
        after = end
    if marked:
        log(f"shopify products: {marked} marked deleted")


# -- bulk -------------------------------------------------------------------------------------


def _bulk_backfill(gql: ShopifyGraphQL, writer: RawWriter, stream: str, cfg: ShopifySettings,
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


def _bulk_wait(gql: ShopifyGraphQL, op_id: str, cfg: ShopifySettings,
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


REQUIRED_ENV = ("SHOPIFY_SHOP", "SHOPIFY_ACCESS_TOKEN")
sync_stream = base.entry_point(ShopifySettings, sync)
SOURCE = base.api_source(SOURCE_NAME, STREAMS, REQUIRED_ENV, f"Shopify GraphQL Admin API {API_VERSION}: "
                    f"customers, orders (line items, selling plans), products (variants)",
                    sync_stream)
