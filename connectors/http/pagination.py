"""Pagination as small pieces: each helper yields pages and says how to ask for the next one.

Connectors commit each page (rows + cursor) before asking for the next, so the helpers yield one
page at a time and also expose *where the next page starts*, which a connector can save as
resumable state::

    # Recharge-style opaque cursor in a query parameter
    for page in cursor_param_pages(client, "subscriptions", params={"limit": 250},
                                   cursor_param="cursor", next_cursor=lambda b: b.get("next_cursor")):
        rows = page.body["subscriptions"]; page.next_cursor   # None on the last page

    # offset/limit (カラーミーショップ), pages overlapping by one record to detect shifts
    for page in offset_pages(client, "sales.json", params={...}, items=lambda b: b["sales"],
                             limit=100, key=lambda r: r["id"]):
        page.items; page.next_cursor, page.last_key   # resume: start=..., start_key=...

    # GraphQL connection: pageInfo { hasNextPage endCursor }
    nodes, end_cursor, has_next = graphql_connection(data, ("orders",))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

import requests

from .errors import ResponseFormatError

__all__ = [
    "OffsetShifted",
    "Page",
    "cursor_param_pages",
    "graphql_connection",
    "offset_pages",
]


@dataclass
class Page:
    body: Any                      # decoded JSON of this page
    number: int                    # 1-based page number in this run
    request_cursor: Any            # the cursor/offset/URL used to fetch this page
    next_cursor: Any               # what fetches the next page; None when this is the last one
    response: requests.Response | None = None
    items: list[Any] | None = None  # offset_pages: this page's records (overlap removed)
    last_key: Any = None            # offset_pages with key: the last record's key so far


def cursor_param_pages(
    client: Any,
    path: str,
    *,
    params: Mapping[str, Any] | None = None,
    cursor_param: str = "cursor",
    next_cursor: Callable[[Any], Any],
    start: Any = None,
    drop_params_with_cursor: Sequence[str] = (),
) -> Iterator[Page]:
    """GET ``path`` with ``cursor_param=<cursor>`` until ``next_cursor(body)`` is falsy.
    ``drop_params_with_cursor`` names filters the API forbids alongside a cursor (Recharge)."""
    cursor, n = start, 0
    while True:
        p = dict(params or {})
        if cursor:
            for name in drop_params_with_cursor:
                p.pop(name, None)
            p[cursor_param] = cursor
        body = client.get_json(path, params=p)
        n += 1
        nxt = next_cursor(body) or None
        yield Page(body, n, cursor, nxt)
        if nxt is None:
            return
        cursor = nxt


class OffsetShifted(ResponseFormatError):
    """Records moved under offset pagination: a page did not start with the previous page's
    last record. Read the result again from offset 0 (upserts make re-reading harmless)."""


def offset_pages(
    client: Any,
    path: str,
    *,
    params: Mapping[str, Any] | None = None,
    items: Callable[[Any], Sequence[Any]],
    limit: int = 100,
    start: int = 0,
    offset_param: str = "offset",
    limit_param: str = "limit",
    total: Callable[[Any], int | None] | None = None,
    key: Callable[[Any], Any] | None = None,
    start_key: Any = None,
) -> Iterator[Page]:
    """GET with offset/limit until a short page (or ``offset >= total(body)``).

    With ``key`` (a record's identity), consecutive pages overlap by one record, which detects
    records moving while paging: each request after the first starts one record early, and
    when that record is not the previous page's last one, :class:`OffsetShifted` is raised.
    ``page.items`` holds the page's records without the overlap and ``page.last_key`` the key
    of the last record read; resume with ``start=page.next_cursor, start_key=page.last_key``.
    """
    offset, last_key, n = start, start_key, 0
    overlap = key is not None
    while True:
        request_offset = max(0, offset - 1) if overlap and last_key is not None else offset
        p = dict(params or {})
        p[offset_param], p[limit_param] = request_offset, limit
        body = client.get_json(path, params=p)
        n += 1
        records = list(items(body))
        got = len(records)
        if overlap and last_key is not None and offset > 0:
            if not records or key(records[0]) != last_key:
                raise OffsetShifted(f"GET /{path}: records moved under offset pagination "
                                    f"(offset {request_offset})")
            records = records[1:]
        if overlap and records:
            last_key = key(records[-1])
        nxt: int | None = request_offset + got
        tot = total(body) if total else None
        if got < limit or got == 0 or (tot is not None and nxt >= tot):
            nxt = None
        yield Page(body, n, request_offset, nxt, items=records, last_key=last_key)
        if nxt is None:
            return
        offset = nxt


def graphql_connection(data: Any, path: Sequence[str]) -> tuple[list[Any], str | None, bool]:
    """``(nodes, endCursor, hasNextPage)`` of the connection at ``data[path...]``, accepting
    either ``nodes`` or ``edges { node }``. Raises ResponseFormatError on a wrong shape."""
    conn = data
    for key in path:
        if not isinstance(conn, Mapping) or key not in conn:
            raise ResponseFormatError(
                f"GraphQL response has no {'.'.join(path)} connection (missing {key!r})"
            )
        conn = conn[key]
    if not isinstance(conn, Mapping):
        raise ResponseFormatError(f"GraphQL {'.'.join(path)} is not an object")
    if "nodes" in conn:
        nodes = list(conn["nodes"] or [])
    elif "edges" in conn:
        nodes = [e["node"] for e in conn["edges"] or []]
    else:
        raise ResponseFormatError(f"GraphQL {'.'.join(path)} has neither nodes nor edges")
    info = conn.get("pageInfo") or {}
    has_next = bool(info.get("hasNextPage"))
    end = info.get("endCursor")
    if has_next and not end:
        raise ResponseFormatError(f"GraphQL {'.'.join(path)}: hasNextPage without endCursor")
    return nodes, end, has_next
