"""The smallest base for a local provider server: a real HTTP server on 127.0.0.1 (stdlib
``http.server``), recorded requests, one fault API and a gate. The LINE and webhook servers
subclass it and implement :meth:`LocalHttpServer.handle`.

    class MyServer(LocalHttpServer):
        def handle(self, req: Request) -> Reply: return Reply(200, {"ok": True})

    with MyServer() as srv:
        srv.url                      # http://127.0.0.1:<ephemeral port>
        srv.fail_next(503, {"message": "busy"}, path="/v2/bot/message/push")
        srv.fail_next("drop")        # close the connection without an answer
        srv.fail_next("drop_after")  # handle the request (it takes effect), then close unanswered
        srv.gate.clear()             # hold requests until srv.gate.set()
        srv.requests                 # every request received, in order

A fault queued for a path wins over the handler; "drop_after" is the provider-accepted-but-
the-answer-was-lost case that exactly-once sending must survive.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Reply:
    status: int
    body: Any = b""  # dict/list -> JSON; str -> text/plain; bytes as is
    headers: dict[str, str] = field(default_factory=dict)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a benchmark's concurrent senders must not see refused connects


class LocalHttpServer:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.gate = threading.Event()
        self.gate.set()
        self._faults: deque[tuple[str | None, Any]] = deque()
        self._httpd: ThreadingHTTPServer | None = None

    # -- for subclasses -----------------------------------------------------------------------
    def handle(self, req: Request) -> Reply:
        return Reply(404, {"message": "Not found"})

    # -- faults -------------------------------------------------------------------------------
    def fail_next(self, fault: int | str, body: Any = b"", headers: dict[str, str] | None = None,
                  *, path: str | None = None, times: int = 1) -> None:
        """Answer the next ``times`` requests (to ``path``, or any) with status ``fault`` and
        ``body``, or ``"drop"`` / ``"drop_after"`` the connection (see the module docstring)."""
        with self.lock:
            for _ in range(times):
                self._faults.append((path, (fault, body, headers or {})))

    def _take_fault(self, path: str) -> tuple | None:
        with self.lock:
            for i, (p, f) in enumerate(self._faults):
                if p is None or p == path:
                    del self._faults[i]
                    return f
        return None

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> "LocalHttpServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                n = int(self.headers.get("Content-Length") or 0)
                req = Request(self.command, parts.path, parse_qs(parts.query),
                              {k.lower(): v for k, v in self.headers.items()},
                              self.rfile.read(n) if n else b"")
                server.gate.wait()
                with server.lock:
                    server.requests.append(req)
                fault = server._take_fault(parts.path)
                if fault is not None and fault[0] == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault is not None and fault[0] != "drop_after":
                    reply = Reply(fault[0], fault[1], dict(fault[2]))
                else:
                    reply = server.handle(req)
                if fault is not None:  # drop_after: the request took effect, the answer is lost
                    self.close_connection = True
                    self.connection.close()
                    return
                self._write(reply)

            def _write(self, reply: Reply) -> None:
                body = reply.body
                if isinstance(body, (dict, list)):
                    data, ctype = json.dumps(body, ensure_ascii=False).encode(), "application/json"
                elif isinstance(body, str):
                    data, ctype = body.encode(), "text/plain; charset=utf-8"
                else:
                    data, ctype = bytes(body), "application/octet-stream"
                headers = dict(reply.headers)
                self.send_response(reply.status)
                self.send_header("Content-Type", headers.pop("Content-Type", ctype))
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        self.gate.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"
