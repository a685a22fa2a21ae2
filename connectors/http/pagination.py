"""Pagination as small pieces: each helper yields pages and says how to ask for the next one.

Connectors commit each page (rows + cursor) before asking for the next, so the helpers yield one
page at a time and also expose *where the next page starts*, which a connector can save as
resumable state::

    # Recharge-style opaque cursor in a query parameter
    for page in cursor_param_pages(client, "subscriptions", params={"limit": 250},
                                   cursor_param="cursor", next_cursor=lambda b: b.get("next_cursor")):
        rows = page.body["subscriptions"]; page.next_cursor   # None on the last page

    # offset/limit (カラーミーショップ)
    for page in offset_pages(client, "sales.json", params={...}, items=lambda b: b["sales"], limit=100):
        ...

    # RFC 8288 Link header (rel="next")
    for page in link_header_pages(client, "orders.json", params={"limit": 250}): ...

    # GraphQL connection: pageInfo { hasNextPage endCursor }
    nodes, end_cursor, has_next = graphql_connection(data, ("orders",))
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

import requests

from .errors import ResponseFormatError

__all__ = [
    "Page",
    "cursor_param_pages",
    "graphql_connection",
    "link_header_pages",
    "next_link",
    "offset_pages",
]


@dataclass
class Page:
    body: Any                      # decoded JSON of this page
    number: int                    # 1-based page number in this run
    request_cursor: Any            # the cursor/offset/URL used to fetch this page
    next_cursor: Any               # what fetches the next page; None when this is the last one
    response: requests.Response | None = None


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
) -> Iterator[Page]:
    """GET with offset/limit until a short page (or ``offset >= total(body)``)."""
    offset, n = start, 0
    while True:
        p = dict(params or {})
        p[offset_param], p[limit_param] = offset, limit
        body = client.get_json(path, params=p)
        n += 1
        got = len(items(body))
        nxt: int | None = offset + got
        tot = total(body) if total else None
        if got < limit or got == 0 or (tot is not None and nxt >= tot):
            nxt = None
        yield Page(body, n, offset, nxt)
        if nxt is None:
            return
        offset = nxt


_LINK = re.compile(r'<([^>]*)>\s*((?:;\s*[^;,]+)*)')


def next_link(response: requests.Response | Mapping[str, str] | str | None) -> str | None:
    """The ``rel="next"`` URL of a Link header (response, headers mapping, or the header text)."""
    if response is None:
        return None
    if isinstance(response, str):
        header = response
    else:
        headers = response.headers if hasattr(response, "headers") else response
        header = headers.get("Link") or headers.get("link") or ""
    for url, attrs in _LINK.findall(header):
        rels = re.findall(r'rel\s*=\s*"?([^";]+)"?', attrs)
        if any("next" in r.split() for r in rels):
            return url
    return None


def link_header_pages(
    client: Any, path: str, *, params: Mapping[str, Any] | None = None, start: str | None = None
) -> Iterator[Page]:
    """GET ``path`` then follow ``Link: <...>; rel="next"`` (the next URL carries the params)."""
    url: str | None = start
    n = 0
    while True:
        if url is None:
            resp = client.request("GET", path, params=params)
            used = path
        else:
            resp = client.request("GET", url)
            used = url
        body = client.decode_json(resp, "GET", used)
        n += 1
        nxt = next_link(resp)
        yield Page(body, n, used, nxt, resp)
        if nxt is None:
            return
        url = nxt


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
