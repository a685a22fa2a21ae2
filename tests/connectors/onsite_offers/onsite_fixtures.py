"""Helpers: an eligibility file, the real service as a subprocess on a free port, signed calls."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from connectors.onsite_offers.eligibility import write_eligibility
from connectors.onsite_offers.service import request_signature

REPO = Path(__file__).resolve().parents[3]
SECRET = "test-secret-0123456789abcdef"
TODAY = date(2026, 12, 2)


def offer_row(customer_id: str, start: date, end: date, *, holdout: bool = False,
              offer_id: str = "gift", text: str = "4回目のお届けにプレゼントを同梱します", window: str | None = None) -> dict:
    return {"customer_id": customer_id, "source": "csv", "window_id": window or f"csv:S{customer_id}:4",
            "window_start": start, "window_end": end, "offer_id": offer_id, "offer_text": text,
            "offer_image_url": None, "offer_expires_on": end, "holdout": holdout}


def standard_rows() -> list[dict]:
    d = timedelta
    return [
        offer_row("starts-today", TODAY, TODAY + d(3)),
        offer_row("ends-today", TODAY - d(3), TODAY),
        offer_row("ended-yesterday", TODAY - d(4), TODAY - d(1)),
        offer_row("starts-tomorrow", TODAY + d(1), TODAY + d(4)),
        offer_row("held-out", TODAY - d(1), TODAY + d(2), holdout=True),
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Service:
    port: int
    eligibility: Path
    events: Path
    proc: subprocess.Popen | None = None
    today: date = TODAY

    def start(self) -> "Service":
        env = {**os.environ, "TEIKI_ONSITE_SECRET": SECRET}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "connectors.onsite_offers.service", "--eligibility", str(self.eligibility),
             "--events", str(self.events), "--port", str(self.port), "--today", self.today.isoformat(),
             "--reload-interval", "0.05"],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"service exited: {self.proc.stderr.read().decode()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("service did not start")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def get_offer(self, customer_id: str, page: str = "cancel", *, ts: int | None = None,
                  secret: str = SECRET, signature: str | None = None, headers: dict | None = None,
                  conn: http.client.HTTPConnection | None = None) -> tuple[int, dict | None]:
        ts = int(time.time()) if ts is None else ts
        sig = signature if signature is not None else request_signature(secret.encode(), customer_id, page, str(ts))
        h = {"X-Teiki-Signature": sig, "X-Teiki-Timestamp": str(ts)} if headers is None else headers
        return self.request("GET", f"/v1/offer?customer_id={customer_id}&page={page}", headers=h, conn=conn)

    def accept(self, token: str, conn: http.client.HTTPConnection | None = None) -> tuple[int, dict | None]:
        return self.request("POST", "/v1/accept", body=json.dumps({"token": token}).encode(),
                            headers={"Content-Type": "application/json"}, conn=conn)

    def accept_by_call_center(self, customer_id: str, *, secret: str = SECRET) -> tuple[int, dict | None]:
        ts = str(int(time.time()))
        return self.request("POST", "/v1/accept",
                            body=json.dumps({"customer_id": customer_id, "by": "call_center"}).encode(),
                            headers={"Content-Type": "application/json", "X-Teiki-Timestamp": ts,
                                     "X-Teiki-Signature": request_signature(secret.encode(), customer_id,
                                                                            "call_center", ts)})

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                conn: http.client.HTTPConnection | None = None) -> tuple[int, dict | None]:
        own = conn is None
        conn = conn or self.connection()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, (json.loads(data) if data else None)
        finally:
            if own:
                conn.close()


def start_service(tmp_path: Path, rows: list[dict] | None = None) -> Service:
    eligibility = tmp_path / "onsite" / "eligibility.jsonl"
    write_eligibility(eligibility, standard_rows() if rows is None else rows, TODAY)
    return Service(free_port(), eligibility, tmp_path / "onsite" / "events.sqlite").start()
