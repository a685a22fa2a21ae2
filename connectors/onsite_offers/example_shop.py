"""A reference shop side for the on-site offer snippet: what a shop's server does, in 80 lines.

    TEIKI_ONSITE_SECRET=... python -m connectors.onsite_offers.example_shop \\
        --service http://127.0.0.1:8787 --port 8080 --customer-id C0000001

Serves snippet/example.html and snippet/teiki-offer.js, and the two endpoints the snippet calls:
``GET /teiki/offer?page=...`` adds the logged-in customer (here fixed by --customer-id or the
``customer_id`` cookie, a stand-in for the shop's session), signs the call and forwards it to the
service; ``POST /teiki/accept`` forwards the token. The secret stays on the server. Used by the
browser test; not meant for production as it is.
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys
import time
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from connectors.onsite_offers.service import SECRET_ENV, request_signature

SNIPPET = Path(__file__).parent / "snippet"
STATIC = {"/": ("example.html", "text/html; charset=utf-8"),
          "/teiki-offer.js": ("teiki-offer.js", "application/javascript; charset=utf-8")}


def make_handler(service_host: str, service_port: int, secret: bytes, default_customer: str | None):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):
            pass

        def _reply(self, status: int, body: bytes = b"", content_type: str = "application/json") -> None:
            self.send_response(status)
            if body:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _customer(self) -> str | None:
            cookie = SimpleCookie(self.headers.get("Cookie", ""))
            return cookie["customer_id"].value if "customer_id" in cookie else default_customer

        def _forward(self, method: str, path: str, headers: dict, body: bytes | None = None) -> None:
            conn = http.client.HTTPConnection(service_host, service_port, timeout=2)
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                self._reply(resp.status, resp.read())
            except OSError:
                self._reply(204)  # service down: the page shows no offer
            finally:
                conn.close()

        def do_GET(self):
            url = urlsplit(self.path)
            if url.path in STATIC:
                name, ctype = STATIC[url.path]
                return self._reply(200, (SNIPPET / name).read_bytes(), ctype)
            if url.path != "/teiki/offer":
                return self._reply(404, b'{"error": "not found"}')
            customer = self._customer()
            page = parse_qs(url.query).get("page", [""])[0]
            if not customer:
                return self._reply(204)  # not logged in: no offer
            ts = str(int(time.time()))
            self._forward("GET", f"/v1/offer?customer_id={quote(customer)}&page={quote(page)}", {
                "X-Teiki-Signature": request_signature(secret, customer, page, ts), "X-Teiki-Timestamp": ts})

        def do_POST(self):
            if urlsplit(self.path).path != "/teiki/accept":
                return self._reply(404, b'{"error": "not found"}')
            length = int(self.headers.get("Content-Length") or 0)
            if length > 4096:
                return self._reply(413, b'{"error": "body too large"}')
            self._forward("POST", "/v1/accept", {"Content-Type": "application/json"}, self.rfile.read(length))

    return Handler


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m connectors.onsite_offers.example_shop")
    p.add_argument("--service", default="http://127.0.0.1:8787")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--customer-id", default=None)
    args = p.parse_args(argv)
    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        print(f"error: set {SECRET_ENV}", file=sys.stderr)
        return 2
    target = urlsplit(args.service)
    server = ThreadingHTTPServer(("127.0.0.1", args.port),
                                 make_handler(target.hostname, target.port or 80, secret.encode(), args.customer_id))
    server.daemon_threads = True
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
