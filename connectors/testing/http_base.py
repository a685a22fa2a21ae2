"""The one base for the local provider servers: a real HTTP server on 127.0.0.1 (stdlib
``http.server``), request records, one fault API, gates and a leaky bucket. The LINE and webhook
servers, the Shopify, Recharge and カラーミー test servers and the scripted server of the HTTP core
tests all subclass it; a subclass holds only its provider's protocol.

    class MyServer(LocalHttpServer):
        def handle(self, req: Request) -> Reply: return Reply(200, {"ok": True})

    with MyServer() as srv:
        srv.url                           # http://127.0.0.1:<ephemeral port>
        srv.fail(503, body={"message": "busy"}, on="/v2/bot/message/push")
        srv.fail(500, times=3)            # the next three requests, whatever they are
        srv.fail("drop")                  # close the connection without an answer
        srv.fail("drop_after")            # handle the request (it takes effect), then close unanswered
        srv.fail("slow", delay=0.05)      # wait, then answer normally
        srv.fail("hang")                  # accept the request, never answer (until the server stops)
        srv.fail("echo", status=500)      # an error whose body quotes the request's headers back
        gate = srv.gate()                 # hold every request until gate.open()
        srv.requests                      # every request received, in order (Request records)

Faults: ``fail(kind, times=1, *, on=None, after_pages=0, retry_after=None, body=None,
headers=None, delay=0.0, status=None)``. ``kind`` is an HTTP status (int) or a named fault: the
base knows ``"drop"``, ``"drop_after"``, ``"slow"``, ``"hang"`` (hold the request unanswered for
``delay`` seconds, or until the server stops when 0, then close: a provider that accepts
connections and never answers) and ``"echo"`` (answer ``status``, 400 by default, with an error
quoting every request header back, the credential included, as a careless API gateway does); a
provider server adds its own (``"malformed"``,
``"wrong_shape"``, ``"throttled"``, ...). ``on`` limits the fault to requests whose
:attr:`Request.target` is ``on``: the path by default, what the subclass names in
:meth:`LocalHttpServer.target` otherwise (a REST stream, a GraphQL operation). ``after_pages``:
only once that target has served that many pages (:meth:`LocalHttpServer.count_page`). Faults
are taken in the order they were queued; a fault wins over the handler. "drop_after" is the
provider-accepted-but-the-answer-was-lost case that exactly-once sending must survive.

Gates: ``srv.gate(*key)`` returns a :class:`Gate`; a request reaching :meth:`at_gate` with that
key (the base: ``()`` for every request; a provider: e.g. ``(stream, page)``) sets
``gate.reached`` and waits until ``gate.open()``, so a test can SIGKILL a client at a known
point. Stopping the server opens every gate.
"""

from __future__ import annotations

import copy
import json
import socket
import threading
import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class Headers(dict):
    """Request headers: names stored lower-cased, looked up case-insensitively."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__((k.lower(), v) for k, v in items)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


@dataclass(eq=False)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Headers
    body: bytes
    #: what faults' ``on`` and the provider's gates match (the path unless the subclass says)
    target: str | None = None
    #: the answer's status once sent; ``"drop"`` when the connection was closed unanswered
    status: int | str | None = None

    @property
    def params(self) -> dict[str, str]:
        """The query parameters, the last value of each."""
        return {k: v[-1] for k, v in self.query.items()}

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Reply:
    status: int
    #: dict/list -> JSON; str -> text; bytes as is; any other iterable: bytes chunks streamed
    #: one by one (give Content-Length in ``headers``)
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: close the connection without answering
    close: bool = False


DROP = Reply(0, close=True)


@dataclass
class Fault:
    kind: int | str
    times: int = 1
    on: str | None = None
    after_pages: int = 0
    retry_after: float | str | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    status: int | None = None  # the answer's status where the kind is a name ("echo")

    def retry_header(self, default: float | str | None = None) -> dict[str, str]:
        value = self.retry_after if self.retry_after is not None else default
        if value is None:
            return {}
        return {"Retry-After": value if isinstance(value, str) else f"{value:g}"}


class Gate:
    """Holds the requests that reach it until :meth:`open`; :attr:`reached` says one arrived."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self._open = threading.Event()
        # Set by :meth:`drop`: the held request is abandoned (its client was killed), not served.
        self.dropped = False

    def open(self) -> None:
        self._open.set()

    def drop(self) -> None:
        """Release the held request without serving it, as if its client had died mid-request."""
        self.dropped = True
        self._open.set()

    def hold(self, timeout: float | None = None) -> bool:
        self.reached.set()
        return self._open.wait(timeout)


class LeakyBucket:
    """A request (or cost) bucket of ``size`` leaking ``rate`` per second."""

    def __init__(self, size: float, rate: float) -> None:
        self.size, self.rate = float(size), float(rate)
        self.level = 0.0
        self._t = time.monotonic()

    def leak(self) -> float:
        now = time.monotonic()
        self.level = max(0.0, self.level - (now - self._t) * self.rate)
        self._t = now
        return self.level

    def room(self) -> float:
        return self.size - self.leak()

    def take(self, amount: float = 1.0, *, enforce: bool = True) -> bool:
        """Add ``amount`` unless it would overflow (and ``enforce``); whether it was added."""
        self.leak()
        if enforce and self.level + amount > self.size:
            return False
        self.level += amount
        return True

    def fill(self) -> None:
        """Empty of room now (a provider said: throttled)."""
        self.level, self._t = self.size, time.monotonic()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a benchmark's concurrent senders must not see refused connects


class LocalHttpServer:
    #: Content-Type of dict/list bodies
    json_type = "application/json"
    #: keep ``?a=`` in :attr:`Request.query` (parse_qs drops it by default)
    keep_blank_values = False

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.lock = threading.RLock()
        self.faults: list[Fault] = []
        self.gates: dict[Hashable, Gate] = {}
        self.page_requests: dict[str, int] = {}  # target -> pages served (count_page)
        self._httpd: ThreadingHTTPServer | None = None
        self._stopping = threading.Event()  # releases "hang" faults

    # -- for subclasses -----------------------------------------------------------------------
    def target(self, req: Request) -> str | None:
        """What ``fail(on=...)`` matches for this request: its path unless a subclass says."""
        return req.path

    def handle(self, req: Request) -> Reply:
        return Reply(404, {"message": "Not found"})

    def respond(self, req: Request) -> Reply:
        """The whole answer; by default a queued fault wins over :meth:`handle`. A provider
        whose faults come after other checks (a rate limit, the token) overrides this."""
        fault = self.take_fault(req.target)
        if fault is None:
            return self.handle(req)
        reply = self.fault_reply(fault, req)
        return self.handle(req) if reply is None else reply

    def fault_reply(self, fault: Fault, req: Request) -> Reply | None:
        """The answer to a fault; None: answer normally. Subclasses add their kinds."""
        if fault.kind == "drop":
            return DROP
        if fault.kind == "drop_after":
            self.handle(req)
            return DROP
        if fault.kind == "slow":
            time.sleep(fault.delay)
            return None
        if fault.kind == "hang":
            self._stopping.wait(fault.delay or None)
            return DROP
        if fault.kind == "echo":
            return Reply(fault.status or 400, self.echo_body(fault.status or 400, req))
        if isinstance(fault.kind, int):
            return Reply(fault.kind, b"" if fault.body is None else fault.body,
                         {**fault.headers, **fault.retry_header()})
        raise ValueError(f"unknown fault {fault.kind!r}")

    def echo_body(self, status: int, req: Request) -> Any:
        """The ``"echo"`` fault's body: the request quoted back, its credential header included,
        in the provider's error shape (``{"errors": ...}`` unless a subclass says)."""
        quoted = "; ".join(f"{k}: {v}" for k, v in req.headers.items())
        return {"errors": f"request refused ({status}); it was {req.method} {req.path} with {quoted}"}

    # -- faults -------------------------------------------------------------------------------
    def fail(self, kind: int | str, times: int = 1, *, on: str | None = None,
             after_pages: int = 0, retry_after: float | str | None = None, body: Any = None,
             headers: dict[str, str] | None = None, delay: float = 0.0,
             status: int | None = None) -> None:
        """Answer the next ``times`` requests (whose target is ``on``, or any; once that target
        served ``after_pages`` pages) with fault ``kind`` (see the module docstring)."""
        with self.lock:
            self.faults.append(Fault(kind, times, on, after_pages, retry_after, body,
                                     dict(headers or {}), delay, status))

    def take_fault(self, target: str | None) -> Fault | None:
        with self.lock:
            for f in self.faults:
                if (f.on is None or f.on == target) and (
                        self.page_requests.get(target or "", 0) >= f.after_pages):
                    f.times -= 1
                    if f.times <= 0:
                        self.faults.remove(f)
                    return f
        return None

    # -- gates and pages ----------------------------------------------------------------------
    def gate(self, *key: Hashable) -> Gate:
        """A gate for requests reaching ``at_gate(*key)``; ``gate()`` holds every request."""
        g = Gate()
        with self.lock:
            self.gates[key] = g
        return g

    def at_gate(self, *key: Hashable, timeout: float | None = None) -> None:
        with self.lock:
            g = self.gates.get(key)
        if g is not None:
            g.hold(timeout)

    def count_page(self, target: str) -> int:
        """One more page served for ``target``; the count (for ``after_pages`` and gates)."""
        with self.lock:
            self.page_requests[target] = self.page_requests.get(target, 0) + 1
            return self.page_requests[target]

    def next_page(self, target: str) -> int:
        with self.lock:
            return self.page_requests.get(target, 0) + 1

    # -- life cycle ---------------------------------------------------------------------------
    def start(self):
        server = self
        self._stopping.clear()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: with Nagle on, each reply then waits for the
            # client's delayed ACK (about 40 ms), capping a keep-alive connection near 22 req/s.
            disable_nagle_algorithm = True

            def log_message(self, *a: Any) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                n = int(self.headers.get("Content-Length") or 0)
                req = Request(self.command, parts.path,
                              parse_qs(parts.query, keep_blank_values=server.keep_blank_values),
                              Headers(self.headers.items()), self.rfile.read(n) if n else b"")
                server.at_gate()
                req.target = server.target(req)
                with server.lock:
                    server.requests.append(req)
                reply = server.respond(req)
                if reply.close:
                    req.status = "drop"
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                req.status = reply.status
                self._write(reply)

            def _write(self, reply: Reply) -> None:
                body, headers = reply.body, dict(reply.headers)
                chunks = None
                if isinstance(body, (dict, list)):
                    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
                    ctype = server.json_type
                elif isinstance(body, str):
                    data, ctype = body.encode("utf-8"), "text/plain; charset=utf-8"
                elif isinstance(body, (bytes, bytearray)):
                    data, ctype = bytes(body), "application/octet-stream"
                else:
                    data, ctype, chunks = b"", "application/octet-stream", body
                self.send_response(reply.status)
                self.send_header("Content-Type", headers.pop("Content-Type", ctype))
                self.send_header("Content-Length", headers.pop("Content-Length", str(len(data))))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if chunks is None:
                    self.wfile.write(data)
                    return
                try:
                    for chunk in chunks:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                except OSError:  # the client went away (killed mid-download)
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self.lock:
            gates = list(self.gates.values())
        for g in gates:
            g.open()
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


class ListApiServer(LocalHttpServer):
    """A REST list API over records kept by id (the Recharge and カラーミー servers): every
    request goes through a per-token :class:`LeakyBucket` (429 + ``Retry-After`` when full),
    then a queued fault, the token, the stream, the scope, the gate ``(stream, page)`` (page
    1-based, counting pages served since the server started), then :meth:`list_page`.

    A subclass gives ``STREAM_SCOPES``, :meth:`target` (the stream of a path),
    :meth:`authorized`, :meth:`error` (its error body), ``MESSAGES``, :meth:`list_page` and the
    bodies of the ``"malformed"`` / ``"wrong_shape"`` faults."""

    json_type = "application/json; charset=utf-8"
    keep_blank_values = True
    STREAM_SCOPES: dict[str, str] = {}
    MESSAGES: dict[int, str] = {}  # 401, 403 (with {scope}), 404, 429

    def __init__(self, data: dict[str, list[dict[str, Any]]], *, token: str,
                 scopes: set[str] | None, bucket_size: float, per_second: float,
                 retry_after: float, enforce_limit: bool) -> None:
        super().__init__()
        self.data = {name: {r["id"]: copy.deepcopy(r) for r in rows} for name, rows in data.items()}
        self.token = token
        self.scopes = set(self.STREAM_SCOPES.values()) if scopes is None else set(scopes)
        self.bucket = LeakyBucket(bucket_size, per_second)
        self.retry_after = retry_after
        self.enforce_limit = enforce_limit
        self.throttled = 0

    # -- provider protocol --------------------------------------------------------------------
    def authorized(self, req: Request) -> bool:
        raise NotImplementedError

    def error(self, status: int, message: str) -> Any:
        raise NotImplementedError

    def list_page(self, stream: str, params: dict[str, str]) -> tuple[int, Any]:
        raise NotImplementedError

    def malformed(self, stream: str) -> bytes:
        raise NotImplementedError

    def wrong_shape(self, stream: str) -> Any:
        raise NotImplementedError

    def echo_body(self, status: int, req: Request) -> Any:
        quoted = "; ".join(f"{k}: {v}" for k, v in req.headers.items())
        return self.error(status, f"request refused; it was {req.method} {req.path} with {quoted}")

    def headers_for(self, req: Request, level: float) -> dict[str, str]:
        """Headers every answer carries (after the bucket took the call)."""
        return {}

    def finish(self, req: Request, stream: str, body: Any) -> Any:
        """The body of a served page, last touches (e.g. another API version's shape)."""
        return body

    # -- records ------------------------------------------------------------------------------
    def records(self, stream: str) -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(r) for _, r in sorted(self.data[stream].items())]

    def delete(self, stream: str, record_id: int) -> None:
        with self.lock:
            del self.data[stream][record_id]

    # -- request flow -------------------------------------------------------------------------
    def respond(self, req: Request) -> Reply:
        stream = req.target or ""
        with self.lock:
            allowed = self.bucket.take(enforce=self.enforce_limit)
            if not allowed:
                self.throttled += 1
            hdr = self.headers_for(req, self.bucket.level)
        if not allowed:
            return Reply(429, self.error(429, self.MESSAGES[429]),
                         {**hdr, "Retry-After": f"{self.retry_after:g}"})
        fault = self.take_fault(stream)
        if fault is not None:
            if fault.kind == "malformed":
                return Reply(200, self.malformed(stream), {**hdr, "Content-Type": self.json_type})
            if fault.kind == "wrong_shape":
                return Reply(200, self.wrong_shape(stream), hdr)
            if isinstance(fault.kind, int):
                return Reply(fault.kind, self.error(fault.kind, f"simulated {fault.kind}"),
                             {**hdr, **fault.retry_header()})
            reply = self.fault_reply(fault, req)  # the base's: drop, slow, hang, echo
            if reply is not None:
                return reply
        if not self.authorized(req):
            return Reply(401, self.error(401, self.MESSAGES[401]), hdr)
        if stream not in self.STREAM_SCOPES:
            return Reply(404, self.error(404, self.MESSAGES[404]), hdr)
        scope = self.STREAM_SCOPES[stream]
        if scope not in self.scopes:
            return Reply(403, self.error(403, self.MESSAGES[403].format(scope=scope)), hdr)
        self.at_gate(stream, self.next_page(stream), timeout=30)
        status, body = self.list_page(stream, req.params)
        if status == 200:
            self.count_page(stream)
            body = self.finish(req, stream, body)
        return Reply(status, body, hdr)
