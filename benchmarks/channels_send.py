"""Benchmark: live sends of the outbound channels against their local servers, at each channel's
configured rate limit: does the channel's throttle reach the limit, and does every message
arrive exactly once?

    .venv/bin/python benchmarks/channels_send.py [--only mail line line_low webhook]
        [--seconds 6] [--line-rate 2000] [--line-low-rate 200] [--mail-rate 10]
        [--line-concurrency 4] [--line-server process|thread]

- ``mail``: :class:`MailChannel` against the local SMTP server (aiosmtpd, STARTTLS, AUTH;
  ``connectors/testing/smtp_server.py``) at ``channels.mail.rate_per_second`` (default 10).
- ``line``: :class:`LineChannel` push against the local Messaging API server
  (``connectors/testing/line_server.py``) at LINE's documented push limit, 2,000 requests/s per
  channel (``channels.line.rate_per_second``), with the default 4 workers. The server enforces
  that limit (429 over it) and, by default, runs as its own process (``--line-server thread``:
  in this process, sharing the GIL with the channel) so the client's figure is the channel's.
- ``line_low``: the same at a limit the machine can surely carry (200/s), to show the throttle
  itself reaches the limit.
- ``line_mc``: LINE multicast: identical messages, batches of 500 recipients (as the action layer
  records them, ``assign_batches``), at LINE's multicast limit, 200 requests/s per channel
  (``channels.line.multicast_rate_per_second``): 100,000 messages/s at the limit.
- ``webhook``: :class:`WebhookChannel` (Slack format) at Slack's 1 message/s per webhook against
  the local webhook server enforcing it.

Each run sends enough messages for about ``--seconds`` at the configured limit. Printed per
run: configured limit, messages, seconds, achieved msgs/s, ratio, what the server received,
refusals (429 / 451; ``?`` when the server is another process), CPU milliseconds per message
of this process (the channel, and the server when it runs in a thread), result statuses, and
``os.getloadavg()`` before and after. ``achieved`` is
``(n - 1) / seconds`` (the first message goes at once, so n messages need at least ``(n - 1) /
limit`` s); ``ratio`` = achieved / limit, target >= 0.9. ``received`` counts deliveries at the
server (LINE: one per user and accepted request; SMTP: accepted messages; webhook: posts) and
must equal the messages sent: exactly once. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import json
import os
import socketserver
import subprocess
import sys
import tempfile
import time
import logging
import urllib.request
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.channels.base import OutboundMessage  # noqa: E402
from connectors.channels.line import LineChannel  # noqa: E402
from connectors.channels.mail import MailChannel  # noqa: E402
from connectors.channels.settings import LineSettings, MailSettings, WebhookSettings  # noqa: E402
from connectors.channels.webhook import WebhookChannel, WebhookTargets  # noqa: E402
from connectors.testing.line_server import INSPECT, TOKEN, LineServer, user_id_for  # noqa: E402
from connectors.testing.smtp_server import SmtpServer  # noqa: E402
from connectors.testing.webhook_server import WebhookServer  # noqa: E402

# The local HTTP servers (connectors/testing/http_base.py) write a reply's headers and body in two
# send() calls without TCP_NODELAY: on a kept-alive connection Nagle holds the body back until the
# client's delayed ACK (about 40 ms), capping one connection at about 22 requests/s, an artefact
# of the test server that no real provider has. The benchmark's servers turn Nagle off.
_NODELAY = "import socketserver; socketserver.StreamRequestHandler.disable_nagle_algorithm = True"
socketserver.StreamRequestHandler.disable_nagle_algorithm = True
logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's "Session.login_data is deprecated"


@dataclass
class Run:
    channel: str
    limit: float
    n: int
    seconds: float
    received: int
    refused: int
    statuses: Counter
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    cpu_seconds: float  # CPU time of this process (the channel; the server too when in a thread)
    note: str = ""
    per_request: int = 1  # recipients per request (LINE multicast: 500); the limit counts requests

    @property
    def achieved(self) -> float:
        """Requests per second (messages, but for multicast)."""
        return (self.n // self.per_request - 1) / self.seconds if self.seconds > 0 else float("inf")

    @property
    def ratio(self) -> float:
        return self.achieved / self.limit


def _load() -> tuple[float, float, float]:
    return tuple(round(x, 2) for x in os.getloadavg())  # type: ignore[return-value]


def _timed(channel, messages) -> tuple[float, Counter, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    statuses = Counter(r.status for r in channel.send(messages))
    return time.perf_counter() - t0, statuses, time.process_time() - c0


def bench_mail(rate: float, seconds: float) -> Run:
    n = max(2, round(rate * seconds) + 1)
    messages = [OutboundMessage(f"bench_mail:-:20261202:c{i}", "bench_mail", f"c{i}", f"c{i}@example.jp",
                                f"山田 花子{i} 様\n\nいつもご愛用ありがとうございます。\n",
                                subject="【定期便ショップ】次回お届けのご案内",
                                extra={"unsubscribe_url": f"https://shop.example.jp/u?t={i}"})
                for i in range(n)]
    with SmtpServer() as srv, tempfile.TemporaryDirectory() as tmp:
        settings = MailSettings(from_address="info@shop.example.jp", rate_per_second=rate)
        ch = MailChannel(settings, srv.credentials(), outbox=Path(tmp), ssl_context=srv.client_ssl_context())
        before = _load()
        elapsed, statuses, cpu = _timed(ch, messages)
        received = len(srv.received)
        if len(srv.mailbox()) != received:
            raise SystemExit("mail: two accepted messages share a Message-ID")
        return Run("mail", rate, n, elapsed, received, srv.rate_limited, statuses, before, _load(), cpu,
                   "STARTTLS + AUTH, one connection, server in a thread")


class _LineProcess:
    """The local LINE server as its own process (``python -m connectors.testing.line_server``)."""

    def __enter__(self) -> "_LineProcess":
        code = f"{_NODELAY}; from connectors.testing.line_server import main; main()"
        self.proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http"):
            raise SystemExit(f"the LINE server did not start (printed {self.url!r})")
        return self

    def delivered(self) -> list[dict]:
        with urllib.request.urlopen(self.url + INSPECT, timeout=60) as resp:
            return json.load(resp)

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def bench_line(rate: float, seconds: float, concurrency: int, server: str, label: str) -> Run:
    n = max(2, round(rate * seconds) + 1)
    messages = [OutboundMessage(f"{label}:-:20261202:c{i}", label, f"c{i}", user_id_for(f"c{i}"),
                                f"山田 花子{i} 様、2回目のお届けの前に使い方のコツをお送りします。")
                for i in range(n)]
    settings = LineSettings(rate_per_second=rate, concurrency=concurrency)
    with tempfile.TemporaryDirectory() as tmp:
        if server == "process":
            with _LineProcess() as srv:
                ch = LineChannel(settings, TOKEN, outbox=Path(tmp), api_base=srv.url)
                before = _load()
                elapsed, statuses, cpu = _timed(ch, messages)
                after = _load()
                delivered = srv.delivered()
            refused = -1  # not visible across the process boundary; a 429 would show as a wait
        else:
            with LineServer() as srv:
                ch = LineChannel(settings, TOKEN, outbox=Path(tmp), api_base=srv.url)
                before = _load()
                elapsed, statuses, cpu = _timed(ch, messages)
                after = _load()
                delivered = [{"user_id": d.user_id, "retry_key": d.retry_key} for d in srv.delivered]
                refused = srv.rate_limited
    keys = Counter(d["retry_key"] for d in delivered)
    if keys and max(keys.values()) > 1:
        raise SystemExit(f"{label}: a retry key was delivered twice")
    return Run(label, rate, n, elapsed, len(delivered), refused, statuses, before, after, cpu,
               f"push, {concurrency} workers, server in a {server}")


def bench_line_multicast(rate: float, seconds: float, concurrency: int) -> Run:
    """Identical messages, 500 recipients a request, at LINE's multicast limit (200 requests/s)."""
    requests_n = max(2, round(rate * seconds) + 1)
    n = requests_n * 500
    messages = [OutboundMessage(f"line_mc:-:20261202:c{i}", "line_mc", f"c{i}", user_id_for(f"c{i}"),
                                "年末年始の配送スケジュールのお知らせです。")
                for i in range(n)]
    settings = LineSettings(multicast_rate_per_second=rate, concurrency=concurrency)
    with tempfile.TemporaryDirectory() as tmp, _LineProcess() as srv:
        ch = LineChannel(settings, TOKEN, outbox=Path(tmp), api_base=srv.url)
        batch_of = ch.assign_batches(messages)  # what the action layer records before sending
        messages = [replace(m, send_batch=batch_of[m.idempotency_key]) for m in messages]
        before = _load()
        elapsed, statuses, cpu = _timed(ch, messages)
        after = _load()
        delivered = srv.delivered()
    pairs = Counter((d["user_id"], d["retry_key"]) for d in delivered)
    if pairs and max(pairs.values()) > 1:
        raise SystemExit("line_mc: a user received one multicast twice")
    return Run("line_mc", rate, n, elapsed, len(delivered), -1, statuses, before, after, cpu,
               f"multicast, 500 recipients a request, {concurrency} workers, server in a process", per_request=500)


def bench_webhook(rate: float, seconds: float) -> Run:
    n = max(2, round(rate * seconds) + 1)
    messages = [OutboundMessage(f"bench_alert:-:20261202:c{i}", "bench_alert", f"c{i}", "callcenter",
                                f"解約予兆: 顧客 c{i} を本日のコールリストに追加しました。", subject="解約予兆アラート")
                for i in range(n)]
    with WebhookServer(per_second=1.0, burst=3) as srv, tempfile.TemporaryDirectory() as tmp:
        ch = WebhookChannel(WebhookSettings(rate_per_second=rate), WebhookTargets({"": srv.slack_url}),
                            outbox=Path(tmp))
        before = _load()
        elapsed, statuses, cpu = _timed(ch, messages)
        refused = sum(1 for r in srv.requests if r.status == 429)
        return Run("webhook", rate, n, elapsed, len(srv.posted), refused, statuses, before, _load(), cpu,
                   "Slack format; server: 1/s, burst 3, in a thread")


def report(run: Run) -> None:
    refused = "?" if run.refused < 0 else str(run.refused)
    ok = run.statuses.get("sent", 0)
    once = "yes" if run.received == ok == run.n else "NO"
    print(f"{run.channel:<9} {run.limit:>7g} {run.n:>6} {run.seconds:>8.2f} {run.achieved:>9.1f} "
          f"{run.achieved * run.per_request:>10.0f} "
          f"{run.ratio:>6.3f} {run.received:>9} {once:>5} {refused:>8} {1000 * run.cpu_seconds / run.n:>7.2f}  "
          f"{dict(run.statuses)}  load {run.load_before} -> {run.load_after}  ({run.note})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="+", choices=["mail", "line", "line_low", "line_mc", "webhook"],
                    default=["mail", "line", "line_low", "line_mc", "webhook"])
    ap.add_argument("--seconds", type=float, default=6.0, help="length of each run at the limit")
    ap.add_argument("--mail-rate", type=float, default=MailSettings().rate_per_second)
    ap.add_argument("--line-rate", type=float, default=LineSettings().rate_per_second)
    ap.add_argument("--line-low-rate", type=float, default=200.0)
    ap.add_argument("--line-mc-rate", type=float, default=LineSettings().multicast_rate_per_second)
    ap.add_argument("--line-concurrency", type=int, default=LineSettings().concurrency)
    ap.add_argument("--line-server", choices=["process", "thread"], default="process")
    ap.add_argument("--webhook-rate", type=float, default=WebhookSettings().rate_per_second)
    args = ap.parse_args()
    print(f"{os.cpu_count()} CPUs, load {_load()}, Python {sys.version.split()[0]}")
    print(f"{'channel':<9} {'limit/s':>7} {'msgs':>6} {'seconds':>8} {'req/s':>9} {'msgs/s':>10} {'ratio':>6} "
          f"{'received':>9} {'once':>5} {'refused':>8} {'cpu ms':>7}  statuses")
    for name in args.only:
        if name == "mail":
            report(bench_mail(args.mail_rate, args.seconds))
        elif name == "line":
            report(bench_line(args.line_rate, args.seconds, args.line_concurrency, args.line_server, "line"))
        elif name == "line_mc":
            report(bench_line_multicast(args.line_mc_rate, args.seconds, args.line_concurrency))
        elif name == "line_low":
            report(bench_line(args.line_low_rate, args.seconds, args.line_concurrency, args.line_server, "line_low"))
        else:
            report(bench_webhook(args.webhook_rate, args.seconds))


if __name__ == "__main__":
    main()
