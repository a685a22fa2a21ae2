"""A tiny real HTTP server answering from a script, for testing the shared HTTP core.

    with ScriptedServer() as srv:                       # 127.0.0.1, ephemeral port
        srv.queue("/items", 503, {"error": "busy"})     # answered once, in order
        srv.queue("/items", 200, {"ok": True}, headers={"X-Request-Id": "r1"})
        srv.route("/pages", lambda req: (200, {...}, {"Link": '<...>; rel="next"'}))
        ...
        srv.requests                                    # [Request(method, path, query, headers, body)]

A queued response wins over a route; an unknown path is 404. ``body`` may be a dict/list (JSON),
str or bytes (sent as is, e.g. malformed JSON).
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


Response = tuple  # (status, body) or (status, body, headers)


class ScriptedServer:
    def __init__(self) -> None:
        self._queues: dict[str, deque] = defaultdict(deque)
        self._routes: dict[str, Callable[[Request], Response]] = {}
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    def queue(self, path: str, status: int, body: Any = b"", headers: dict[str, str] | None = None,
              times: int = 1) -> None:
        with self.lock:
            for _ in range(times):
                self._queues[path].append((status, body, headers or {}))

    def route(self, path: str, fn: Callable[[Request], Response]) -> None:
        self._routes[path] = fn

    def start(self) -> "ScriptedServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                n = int(self.headers.get("Content-Length") or 0)
                req = Request(self.command, parts.path, parse_qs(parts.query),
                              {k: v for k, v in self.headers.items()},
                              self.rfile.read(n) if n else b"")
                with server.lock:
                    server.requests.append(req)
                    q = server._queues.get(parts.path)
                    scripted = q.popleft() if q else None
                if scripted is None:
                    fn = server._routes.get(parts.path)
                    scripted = fn(req) if fn else (404, {"error": "not found"})
                status, body, *rest = scripted
                headers = rest[0] if rest else {}
                if isinstance(body, (dict, list)):
                    data = json.dumps(body, ensure_ascii=False).encode()
                    ctype = "application/json"
                elif isinstance(body, str):
                    data, ctype = body.encode(), "text/plain; charset=utf-8"
                else:
                    data, ctype = bytes(body), "application/octet-stream"
                self.send_response(status)
                self.send_header("Content-Type", headers.pop("Content-Type", ctype)
                                 if isinstance(headers, dict) else ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "ScriptedServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"
