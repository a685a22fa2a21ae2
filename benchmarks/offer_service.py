"""Benchmark: the on-site offer decision service with 100,000 eligible customers.

Not collected by pytest. Run: .venv/bin/python benchmarks/offer_service.py [--rate 500] [--seconds 10]
Starts the real service (subprocess), then: (1) a paced run at --rate requests/s from client
processes over keep-alive connections (70% eligible customers in their window, 30% unknown; every
request signed and logged to SQLite), printing p50/p99/max latency; (2) a closed-loop run as fast as
the clients go, printing requests/s; (3) eligibility load time and reload under the same load.
Latency is measured from each request's scheduled time, so a stalled service is not hidden by
the client waiting (coordinated omission). Targets: p99 < 5 ms at 500 req/s.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.onsite_offers.eligibility import load_eligibility, write_eligibility  # noqa: E402
from connectors.onsite_offers.service import request_signature  # noqa: E402

SECRET = "benchmark-secret-0123456789"
TODAY = date(2026, 12, 2)
N = 100_000


def rows(n: int) -> list[dict]:
    return [{"customer_id": f"C{i:07d}", "source": "csv", "window_id": f"csv:S{i:07d}:4",
             "window_start": TODAY - timedelta(i % 3), "window_end": TODAY + timedelta(3 - i % 3),
             "offer_id": "doukon_gift_delivery_4",
             "offer_text": "いつもご愛用ありがとうございます。次回4回目のお届けに、感謝の気持ちを込めてささやかな"
                           "プレゼントを同梱いたします。12月5日までに下のボタンからお受け取りをお申し込みください。",
             "offer_image_url": None, "offer_expires_on": TODAY + timedelta(3 - i % 3), "holdout": False}
            for i in range(n)]


def _client(port: int, rate: float, seconds: float, seed: int, out) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    latencies, errors, i = [], 0, seed
    start = time.perf_counter() + 0.2
    n = int(rate * seconds) if rate else 10 ** 9
    deadline = start + seconds
    for k in range(n):
        scheduled = start + k / rate if rate else time.perf_counter()
        now = time.perf_counter()
        if now >= deadline and not rate:
            break
        if scheduled > now:
            time.sleep(scheduled - now)
        i = (i * 1103515245 + 12345) % 2**31
        cid = f"C{i % N:07d}" if i % 10 < 7 else f"X{i % N:07d}"
        ts = str(int(time.time()))
        sig = request_signature(SECRET.encode(), cid, "cancel", ts)
        try:
            conn.request("GET", f"/v1/offer?customer_id={cid}&page=cancel",
                         headers={"X-Teiki-Signature": sig, "X-Teiki-Timestamp": ts})
            resp = conn.getresponse()
            resp.read()
            if resp.status not in (200, 204):
                errors += 1
        except Exception:
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        latencies.append(time.perf_counter() - scheduled)
    conn.close()
    out.put((latencies, errors))


def run(port: int, clients: int, rate: float, seconds: float) -> tuple[list[float], int, float]:
    q: mp.Queue = mp.Queue()
    procs = [mp.Process(target=_client, args=(port, rate / clients if rate else 0, seconds, 7919 * k + 1, q))
             for k in range(clients)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    results = [q.get() for _ in procs]
    for p in procs:
        p.join()
    wall = time.perf_counter() - t0 - 0.2
    lat = sorted(x for r in results for x in r[0])
    return lat, sum(r[1] for r in results), wall


def pct(lat: list[float], p: float) -> float:
    return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=500)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        elig = Path(tmp) / "eligibility.jsonl"
        t = time.perf_counter()
        write_eligibility(elig, rows(N), TODAY)
        print(f"eligibility file: {N:,} rows, {elig.stat().st_size / 1e6:.1f} MB, written in {time.perf_counter() - t:.2f} s")
        t = time.perf_counter()
        load_eligibility(elig)
        print(f"eligibility load (parse + dict): {time.perf_counter() - t:.2f} s")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen(
            [sys.executable, "-m", "connectors.onsite_offers.service", "--eligibility", str(elig),
             "--events", str(Path(tmp) / "events.sqlite"), "--port", str(port), "--today", TODAY.isoformat()],
            cwd=ROOT, env={**os.environ, "TEIKI_ONSITE_SECRET": SECRET}, stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            time.sleep(1.0)
            run(port, args.clients, 200, 1.0)  # warm-up
            lat, errors, wall = run(port, args.clients, args.rate, args.seconds)
            print(f"paced {args.rate:.0f} req/s for {args.seconds:.0f} s ({len(lat):,} requests, {errors} errors): "
                  f"p50 {pct(lat, .5):.2f} ms, p99 {pct(lat, .99):.2f} ms, max {lat[-1] * 1000:.1f} ms")
            lat, errors, wall = run(port, args.clients, 0, 5.0)
            print(f"closed loop, {args.clients} clients: {len(lat) / wall:,.0f} req/s "
                  f"(p50 {pct(lat, .5):.2f} ms, p99 {pct(lat, .99):.2f} ms, {errors} errors)")
            # Reload under load: rewrite the file while the paced run is going.
            q: mp.Queue = mp.Queue()
            procs = [mp.Process(target=_client, args=(port, args.rate / args.clients, 6.0, 31 * k + 3, q))
                     for k in range(args.clients)]
            for p in procs:
                p.start()
            time.sleep(2.0)
            write_eligibility(elig, rows(N), TODAY)
            results = [q.get() for _ in procs]
            for p in procs:
                p.join()
            lat = sorted(x for r in results for x in r[0])
            print(f"paced {args.rate:.0f} req/s with one 100k-row reload: p50 {pct(lat, .5):.2f} ms, "
                  f"p99 {pct(lat, .99):.2f} ms, max {lat[-1] * 1000:.1f} ms, {sum(r[1] for r in results)} errors")
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
