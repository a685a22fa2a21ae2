"""A tiny real HTTP server answering from a script, for testing the shared HTTP core.

    with ScriptedServer() as srv:                       # 127.0.0.1, ephemeral port
        srv.queue("/items", 503, {"error": "busy"})     # answered once, in order
        srv.queue("/items", 200, {"ok": True}, headers={"X-Request-Id": "r1"})
        srv.route("/pages", lambda req: (200, {...}, {"Link": '<...>; rel="next"'}))
        ...
        srv.requests                                    # [Request(method, path, query, headers, body)]

A queued response wins over a route; an unknown path is 404. ``body`` may be a dict/list (JSON),
str or bytes (sent as is, e.g. malformed JSON). The server is ``connectors.testing.http_base``'s:
a queued response is a fault on that path (``fail(status, on=path, body=..., headers=...)``).
"""

from __future__ import annotations

from typing import Any, Callable

from connectors.testing.http_base import LocalHttpServer, Reply, Request

Response = tuple  # (status, body) or (status, body, headers)

__all__ = ["Request", "Response", "ScriptedServer"]


class ScriptedServer(LocalHttpServer):
    def __init__(self) -> None:
        super().__init__()
        self._routes: dict[str, Callable[[Request], Response]] = {}

    def queue(self, path: str, status: int, body: Any = b"", headers: dict[str, str] | None = None,
              times: int = 1) -> None:
        self.fail(status, times, on=path, body=body, headers=headers)

    def route(self, path: str, fn: Callable[[Request], Response]) -> None:
        self._routes[path] = fn

    def handle(self, req: Request) -> Reply:
        fn = self._routes.get(req.path)
        status, body, *rest = fn(req) if fn else (404, {"error": "not found"})
        return Reply(status, body, dict(rest[0]) if rest else {})
