"""The on-site offer decision service: which offer, if any, a customer sees on the FAQ, contact or
cancel page today. Protocol: connectors/onsite_offers/README.md.

    TEIKI_ONSITE_SECRET=... python -m connectors.onsite_offers.service \\
        --eligibility data/onsite/eligibility.jsonl --events data/onsite/events.sqlite --port 8787

Standard library only (http.server.ThreadingHTTPServer): two endpoints on 127.0.0.1 behind the
shop's own server need no framework, and the service then has no dependency to keep up to date.
It reads the published eligibility file (never the warehouse) and swaps in a new copy when the
file changes; every decision and acceptance is appended to SQLite (events.py).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import threading
import time
from contextlib import nullcontext
from datetime import date, datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from connectors.gc_pause import cycle_collector_paused
from connectors.onsite_offers.eligibility import EligibilityFileError, Offer, load_eligibility
from connectors.onsite_offers.events import Decision, EventLog

BUSINESS_TZ = ZoneInfo("Asia/Tokyo")
PAGES = frozenset({"faq", "contact", "cancel"})
CALL_CENTER = "call_center"  # the "page" of an acceptance the call center records
MAX_SKEW_SECONDS = 300
MAX_BODY_BYTES = 4096
MIN_SECRET_LENGTH = 16
SECRET_ENV = "TEIKI_ONSITE_SECRET"
_CUSTOMER_ID = re.compile(r"^[A-Za-z0-9._:@+\-]{1,128}$")


class RequestError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def request_signature(secret: bytes, customer_id: str, page: str, timestamp: str) -> str:
    """hex(hmac_sha256(secret, customer_id + "\\n" + page + "\\n" + timestamp)): what the shop sends."""
    msg = f"{customer_id}\n{page}\n{timestamp}".encode()
    return hmac.new(secret, msg, hashlib.sha256).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class OfferService:
    """The decisions, independent of HTTP (the handler below only parses and answers)."""

    def __init__(self, eligibility_path: Path, events_path: Path, secret: bytes,
                 clock: Callable[[], datetime] | None = None, today: date | None = None,
                 reload_interval: float = 1.0, log: Callable[[str], None] | None = None) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"{SECRET_ENV} must be at least {MIN_SECRET_LENGTH} characters")
        self.eligibility_path = Path(eligibility_path)
        self.secret = secret
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.fixed_today = today
        self.reload_interval = reload_interval
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.events = EventLog(events_path)
        self.offers: dict[str, Offer] = {}
        self._file_id: tuple | None = None
        self._stop = threading.Event()
        # The service is the events file's only writer: what was shown and accepted is held in
        # memory, loaded at start, so a request reads no SQLite.
        self._shown_cache, self._accepted_cache = self.events.load_state()
        self.reload_count = 0
        self._watcher: threading.Thread | None = None
        self.reload_if_changed()

    # -- eligibility -------------------------------------------------------------------------
    def _stat(self) -> tuple | None:
        try:
            st = os.stat(self.eligibility_path)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_ino, st.st_size)

    def reload_if_changed(self) -> bool:
        """Build a new dict from the file when it changed, then swap the reference: requests in
        flight keep the dict they started with. A bad file keeps the current one (logged)."""
        file_id = self._stat()
        if file_id is None or file_id == self._file_id:
            return False
        in_watcher = threading.current_thread() is self._watcher
        try:
            # From the watcher thread, pause often: requests keep their latency during a reload;
            # and keep the cycle collector out of it (a request's p99 during a reload went to 97 ms),
            # freezing the loaded offers out of later collections.
            with cycle_collector_paused(freeze=True) if in_watcher else nullcontext():
                offers = load_eligibility(self.eligibility_path,
                                          pause=(lambda: time.sleep(0.002)) if in_watcher else None)
        except EligibilityFileError as exc:
            self.log(f"onsite offers: keeping the previous eligibility: {exc}")
            self._file_id = file_id
            return False
        previous, self.offers = self.offers, offers
        self._file_id = file_id
        self.reload_count += 1
        self.log(f"onsite offers: eligibility loaded, {len(offers)} customers")
        if in_watcher:
            _release_gradually(previous)
        return True

    def _watch(self) -> None:
        last_checkpoint = time.monotonic()
        while not self._stop.wait(self.reload_interval):
            try:
                self.reload_if_changed()
                if time.monotonic() - last_checkpoint >= 1.0:
                    self.events.checkpoint()
                    last_checkpoint = time.monotonic()
            except Exception as exc:  # never let the watcher die
                self.log(f"onsite offers: background task failed: {type(exc).__name__}")

    def start(self) -> None:
        self._watcher = threading.Thread(target=self._watch, name="eligibility-reload", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        self._stop.set()
        self.events.close()

    # -- clocks ------------------------------------------------------------------------------
    def today(self) -> date:
        return self.fixed_today or self.clock().astimezone(BUSINESS_TZ).date()

    # -- signatures --------------------------------------------------------------------------
    def verify_request(self, customer_id: str, page: str, signature: str | None,
                       timestamp: str | None) -> None:
        if not signature or not timestamp:
            raise RequestError(401, "missing signature")
        if not re.fullmatch(r"\d{1,12}", timestamp):
            raise RequestError(401, "bad timestamp")
        if abs(self.clock().timestamp() - int(timestamp)) > MAX_SKEW_SECONDS:
            raise RequestError(401, "timestamp out of range")
        expected = request_signature(self.secret, customer_id, page, timestamp)
        if not hmac.compare_digest(expected, signature.strip().lower()):
            raise RequestError(401, "bad signature")

    def make_token(self, offer: Offer, expires_on: str) -> str:
        body = _b64(json.dumps({"c": offer.customer_id, "w": offer.window_id, "o": offer.offer_id,
                                "e": expires_on, "n": secrets.token_hex(8)},
                               separators=(",", ":")).encode())
        mac = hmac.new(self.secret, b"accept\n" + body.encode(), hashlib.sha256).hexdigest()
        return f"{body}.{mac}"

    def read_token(self, token: object) -> dict:
        if not isinstance(token, str) or len(token) > 1024 or token.count(".") != 1:
            raise RequestError(400, "bad token")
        body, mac = token.split(".")
        expected = hmac.new(self.secret, b"accept\n" + body.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, mac):
            raise RequestError(401, "bad token signature")
        try:
            claims = json.loads(_unb64(body))
            date.fromisoformat(claims["e"])
            for k in ("c", "w", "o", "n"):
                if not isinstance(claims[k], str):
                    raise ValueError(k)
        except (ValueError, KeyError, TypeError):
            raise RequestError(400, "bad token") from None
        return claims

    # -- decisions ---------------------------------------------------------------------------
    def _decision(self, event_type: str, reason: str | None, customer_id: str, page: str | None,
                  offer: Offer | None, window_id: str | None = None) -> Decision:
        return Decision(self.clock(), self.today(), event_type, reason, customer_id, page,
                        offer.offer_id if offer else None,
                        window_id or (offer.window_id if offer else None))

    def decide(self, customer_id: str, page: str) -> dict | None:
        """The offer to show (the JSON answer) or None; the decision is recorded either way."""
        offers = self.offers  # one snapshot for the whole request
        offer = offers.get(customer_id)
        today = self.today()
        reason = None
        if offer is None:
            reason = "not_eligible"
        elif not offer.in_window(today):
            reason = "outside_window"
        elif offer.holdout:
            # Only in the window, as a shown offer is: the held-out arm is the same visitors.
            reason = "holdout"
        elif self._is_accepted(customer_id, offer.window_id):
            reason = "already_accepted"
        if reason:
            self.events.record(self._decision("not_shown", reason, customer_id, page, offer))
            return None
        key = (customer_id, offer.window_id)
        payload = self._shown_cache.get(key)
        if payload is not None and json.loads(payload)["expires_on"] < today.isoformat():
            # The window moved (a postponed box) past the offer first shown: nothing new is shown.
            self.events.record(self._decision("not_shown", "outside_window", customer_id, page, offer))
            return None
        if payload is None:
            candidate = json.dumps({"offer_id": offer.offer_id, "text": offer.offer_text,
                                    "image_url": offer.offer_image_url,
                                    "expires_on": offer.offer_expires_on.isoformat()},
                                   ensure_ascii=False)
            # The first offer shown in a window stays the window's offer, whatever later files say.
            payload = self.events.record(self._decision("shown", None, customer_id, page, offer),
                                         first_shown_payload=candidate)
        else:
            shown_id = json.loads(payload)["offer_id"]
            self.events.record(Decision(self.clock(), today, "shown", None, customer_id, page,
                                        shown_id, offer.window_id))
        self._shown_cache[key] = payload
        shown = json.loads(payload)
        shown["token"] = self.make_token(
            Offer(customer_id, offer.source, offer.window_id, offer.window_start, offer.window_end,
                  shown["offer_id"], shown["text"], shown["image_url"],
                  date.fromisoformat(shown["expires_on"]), False),
            shown["expires_on"])
        return shown

    def _is_accepted(self, customer_id: str, window_id: str) -> bool:
        return (customer_id, window_id) in self._accepted_cache

    def accept_for_customer(self, customer_id: str) -> dict:
        """The call center records that a caller took the offer of their window (a request the
        shop's or call center's server signed for page ``call_center``). Held out, outside the
        window or without an offer: refused, and logged like a page visit, so the held-out arm
        counts callers as the treated one does."""
        offer = self.offers.get(customer_id)
        today = self.today()
        reason = ("not_eligible" if offer is None else "outside_window" if not offer.in_window(today)
                  else "holdout" if offer.holdout else None)
        if reason:
            self.events.record(self._decision("not_shown", reason, customer_id, CALL_CENTER, offer))
            raise RequestError(404 if offer is None else 409, {
                "not_eligible": "no offer for this customer", "outside_window": "outside the offer's window",
                "holdout": "held out: the offer is not given to this customer"}[reason])
        d = Decision(self.clock(), today, "accepted", None, customer_id, CALL_CENTER, offer.offer_id,
                     offer.window_id)
        new = self.events.accept(d, f"{CALL_CENTER}:{secrets.token_hex(8)}")
        self._accepted_cache.add((customer_id, offer.window_id))
        return {"accepted": True, "offer_id": offer.offer_id, "already_accepted": not new}

    def accept(self, token: object) -> dict:
        claims = self.read_token(token)
        if claims["e"] < self.today().isoformat():
            raise RequestError(400, "offer expired")
        d = Decision(self.clock(), self.today(), "accepted", None, claims["c"], None, claims["o"], claims["w"])
        token_id = hashlib.sha256(token.encode()).hexdigest()[:32]
        new = self.events.accept(d, token_id)
        self._accepted_cache.add((claims["c"], claims["w"]))
        return {"accepted": True, "offer_id": claims["o"], "already_accepted": not new}


# -- HTTP ----------------------------------------------------------------------------------------
def make_handler(service: OfferService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in one write, and without Nagle: otherwise the client's delayed
        # ACK holds every keep-alive answer for ~40 ms.
        disable_nagle_algorithm = True
        # An idle or trickling connection is dropped after this many seconds (one thread each).
        timeout = 30
        server_version = "teiki-onsite"
        sys_version = ""

        def log_message(self, format, *args):  # no access log: URLs carry customer ids
            pass

        def _send(self, status: int, body: dict | None = None, close: bool = False) -> None:
            data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            if body is not None:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            if self.request_version != "HTTP/0.9":
                self._headers_buffer.append(b"\r\n" + data)
                self.flush_headers()
            elif data:
                self.wfile.write(data)

        def _guard(self, fn) -> None:
            try:
                fn()
            except RequestError as exc:
                self._send(exc.status, {"error": exc.message}, close=exc.status == 413)
            except Exception as exc:
                service.log(f"onsite offers: internal error {type(exc).__name__}")
                self._send(500, {"error": "internal error"}, close=True)

        def send_error(self, code, message=None, explain=None):  # malformed requests: short JSON
            self._send(code, {"error": "bad request" if code == 400 else (message or "error")}, close=True)

        def do_GET(self):
            self._guard(self._get)

        def do_POST(self):
            self._guard(self._post)

        def _get(self):
            url = urlsplit(self.path)
            if url.path != "/v1/offer":
                raise RequestError(404, "not found")
            try:
                q = parse_qs(url.query, keep_blank_values=True, strict_parsing=False, max_num_fields=10)
            except ValueError:
                raise RequestError(400, "bad query") from None
            customer_id = q.get("customer_id", [""])
            page = q.get("page", [""])
            if len(customer_id) != 1 or not _CUSTOMER_ID.match(customer_id[0]):
                raise RequestError(400, "customer_id missing or invalid")
            if len(page) != 1 or page[0] not in PAGES:
                raise RequestError(400, "page must be faq, contact or cancel")
            service.verify_request(customer_id[0], page[0], self.headers.get("X-Teiki-Signature"),
                                   self.headers.get("X-Teiki-Timestamp"))
            answer = service.decide(customer_id[0], page[0])
            if answer is None:
                self._send(204)
            else:
                self._send(200, answer)

        def _post(self):
            if urlsplit(self.path).path != "/v1/accept":
                raise RequestError(404, "not found")
            length = self.headers.get("Content-Length")
            if self.headers.get("Transfer-Encoding"):
                raise RequestError(413, "chunked bodies are not accepted")
            if length is None or not length.isdigit():
                raise RequestError(400, "Content-Length required")
            if int(length) > MAX_BODY_BYTES:
                raise RequestError(413, "body too large")
            raw = self.rfile.read(int(length))
            try:
                body = json.loads(raw)
            except ValueError:
                raise RequestError(400, "body must be JSON") from None
            if isinstance(body, dict) and body.get("by") == CALL_CENTER and "token" not in body:
                customer_id = body.get("customer_id")
                if not isinstance(customer_id, str) or not _CUSTOMER_ID.match(customer_id):
                    raise RequestError(400, "customer_id missing or invalid")
                service.verify_request(customer_id, CALL_CENTER, self.headers.get("X-Teiki-Signature"),
                                       self.headers.get("X-Teiki-Timestamp"))
                self._send(200, service.accept_for_customer(customer_id))
                return
            if not isinstance(body, dict) or "token" not in body:
                raise RequestError(400, "token missing")
            self._send(200, service.accept(body["token"]))

    return Handler


def _release_gradually(previous: dict, grace_seconds: float = 1.0, chunk: int = 2000) -> None:
    """Free the replaced offers a chunk at a time (100,000 objects freed at once hold the lock
    for tens of milliseconds), after a grace period in which requests that read the old dict
    before the swap finish with it."""
    time.sleep(grace_seconds)
    while previous:
        for _ in range(min(chunk, len(previous))):
            previous.popitem()
        time.sleep(0.001)


def serve(service: OfferService, host: str, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), make_handler(service))
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m connectors.onsite_offers.service",
                                description="Teiki on-site offer decision service (binds 127.0.0.1).")
    p.add_argument("--eligibility", required=True, type=Path, help="published eligibility JSON")
    p.add_argument("--events", required=True, type=Path, help="SQLite events file (created)")
    p.add_argument("--port", type=int, default=8787)
    p.add_argument("--reload-interval", type=float, default=1.0, help="seconds between file checks")
    p.add_argument("--today", type=date.fromisoformat, default=None,
                   help="pin the business date (YYYY-MM-DD), for tests and rehearsals")
    args = p.parse_args(argv)
    secret = os.environ.get(SECRET_ENV, "")
    if len(secret) < MIN_SECRET_LENGTH:
        print(f"error: set {SECRET_ENV} (at least {MIN_SECRET_LENGTH} characters)", file=sys.stderr)
        return 2
    # Hand the interpreter lock over every 1 ms (default 5): a reload thread parsing a file
    # delays a request by at most that.
    sys.setswitchinterval(0.001)
    service = OfferService(args.eligibility, args.events, secret.encode(), today=args.today,
                           reload_interval=args.reload_interval)
    server = serve(service, "127.0.0.1", args.port)
    service.start()
    print(f"onsite offers: listening on 127.0.0.1:{server.server_address[1]}", file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
