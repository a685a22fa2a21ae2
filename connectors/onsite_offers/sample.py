"""A sample decision of the on-site offer service, for an eligible and a held-out demo customer.

    .venv/bin/python -m connectors.onsite_offers.sample --eligibility data/onsite/eligibility.jsonl
    .venv/bin/python -m connectors.onsite_offers.sample --eligibility ... --url http://127.0.0.1:8787

Without ``--url`` it starts the service itself, the real one (its HTTP server on an ephemeral
127.0.0.1 port, a random secret, a throwaway events file, the business date of the file's
``as_of_date``), asks it, and stops it: nothing lands in the shop's events. With ``--url`` it asks
the service already running there, signing with ``TEIKI_ONSITE_SECRET``; that service logs the
decision like any visit, so use it on a rehearsal, not on a live shop's customers.

It picks from the file the first customer whose window includes the date (and, if any, the first
held-out one), asks ``GET /v1/offer`` for the cancel page as the shop's server would, and prints
the status and the answer. Customer ids are masked (first and last two characters).
`make demo` ends with it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from urllib.parse import quote, urlsplit

from connectors.onsite_offers.eligibility import EligibilityFileError, Offer, load_eligibility
from connectors.onsite_offers.service import (MIN_SECRET_LENGTH, SECRET_ENV, OfferService,
                                              request_signature, serve)

PAGE = "cancel"


def file_date(path: Path) -> date | None:
    with open(path, encoding="utf-8") as fh:
        header = json.loads(fh.readline())
    return date.fromisoformat(header["as_of_date"]) if header.get("as_of_date") else None


def pick(offers: dict[str, Offer], today: date) -> tuple[Offer | None, Offer | None]:
    """(first eligible customer in the window today, first held-out one in it), by customer id."""
    in_window = [o for _, o in sorted(offers.items()) if o.in_window(today)]
    return (next((o for o in in_window if not o.holdout), None), next((o for o in in_window if o.holdout), None))


def ask(host: str, port: int, secret: bytes, customer_id: str, page: str = PAGE) -> tuple[int, dict | None]:
    """One signed GET /v1/offer, as the shop's server sends it: (status, JSON answer or None)."""
    stamp = str(int(time.time()))
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", f"/v1/offer?customer_id={quote(customer_id, safe='')}&page={page}",
                     headers={"X-Teiki-Timestamp": stamp,
                              "X-Teiki-Signature": request_signature(secret, customer_id, page, stamp)})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, json.loads(body) if body else None
    finally:
        conn.close()


def masked(customer_id: str) -> str:
    return customer_id if len(customer_id) <= 4 else f"{customer_id[:2]}***{customer_id[-2:]}"


def describe(label: str, offer: Offer, status: int, answer: dict | None) -> str:
    head = f"  {label}: customer {masked(offer.customer_id)}, window {offer.window_start} .. {offer.window_end}"
    if answer is None:
        return f"{head}\n    GET /v1/offer (page={PAGE}) -> {status}, nothing shown"
    shown = {k: answer[k] for k in ("offer_id", "text", "image_url", "expires_on") if k in answer}
    return (f"{head}\n    GET /v1/offer (page={PAGE}) -> {status}\n    "
            + json.dumps(shown, ensure_ascii=False) + "\n    (+ a signed token for POST /v1/accept)")


def sample(eligibility: Path, url: str | None = None) -> str:
    """The printed sample (raises EligibilityFileError for an unreadable file)."""
    offers = load_eligibility(eligibility)
    today = file_date(eligibility) or date.today()
    eligible, held_out = pick(offers, today)
    if eligible is None and held_out is None:
        return f"On-site offers: nobody in {eligibility} has a window on {today}; no sample decision."
    if url:
        secret = os.environ.get(SECRET_ENV, "").encode()
        if len(secret) < MIN_SECRET_LENGTH:
            raise SystemExit(f"error: set {SECRET_ENV} (the running service's secret)")
        parts = urlsplit(url)
        return _report(eligibility, today, eligible, held_out, parts.hostname or "127.0.0.1", parts.port or 80,
                       secret, f"the service at {url}")
    secret = secrets.token_hex(16).encode()
    with tempfile.TemporaryDirectory(prefix="teiki-onsite-sample-") as tmp:
        service = OfferService(eligibility, Path(tmp) / "events.sqlite", secret, today=today,
                               log=lambda msg: None)
        server = serve(service, "127.0.0.1", 0)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        thread.start()
        try:
            host, port = server.server_address[:2]
            return _report(eligibility, today, eligible, held_out, host, port, secret,
                           f"the decision service started on 127.0.0.1:{port} for this sample")
        finally:
            server.shutdown()
            server.server_close()
            service.stop()


def _report(eligibility: Path, today: date, eligible: Offer | None, held_out: Offer | None,
            host: str, port: int, secret: bytes, where: str) -> str:
    lines = [f"On-site offers: a sample decision from {where}, {today} ({eligibility}):"]
    for label, offer in (("eligible", eligible), ("held out", held_out)):
        if offer is not None:
            lines.append(describe(label, offer, *ask(host, port, secret, offer.customer_id)))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m connectors.onsite_offers.sample",
                                description="Show a sample decision of the on-site offer service.")
    p.add_argument("--eligibility", required=True, type=Path, help="published eligibility file")
    p.add_argument("--url", default=None, help="a running service (default: start one for the sample)")
    args = p.parse_args(argv)
    try:
        print(sample(args.eligibility, args.url))
    except (EligibilityFileError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
