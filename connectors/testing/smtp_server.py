"""A real SMTP server on 127.0.0.1 for the mail channel's tests and benchmark (aiosmtpd).

It speaks ESMTP with STARTTLS (a certificate issued at start by a throw-away CA, ``trustme``;
:meth:`SmtpServer.client_ssl_context` trusts it) and AUTH PLAIN/LOGIN required after TLS, like a
submission relay on port 587, and records every message it accepted::

    with SmtpServer(user="teiki", password="pw") as srv:
        creds = srv.credentials()                 # SmtpCredentials for the channel
        ... MailChannel(settings, creds, ssl_context=srv.client_ssl_context()) ...
        srv.received                              # [Received(mail_from, rcpt_tos, data)]
        srv.mailbox()                             # what a recipient sees: one per Message-ID

Faults, for the retry and exactly-once tests: :meth:`fail_next` (an SMTP reply to MAIL, RCPT or
the end of DATA, e.g. ``("rcpt", "451 4.3.0 try again")``), ``drop_after_data`` (accept the
message, then close the connection before the 250: RFC 1047's duplicate window), and a per-second
limit (``max_per_second``) answered ``451 4.7.1`` like a relay's sending limit.

``spool`` writes each accepted message to a folder as well (one file each, 0600), so a server run
as its own process (``python -m connectors.testing.smtp_server``, which prints its port) can be
read by a test that kills the sending process.
"""

from __future__ import annotations

import argparse
import email
import socket
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from connectors.channels.files import write_private_file
from connectors.testing.http_base import Gate
from connectors.channels.mail import SmtpCredentials


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes  # the message as transmitted (CRLF line ends)

    @property
    def message(self) -> email.message.Message:
        return email.message_from_bytes(self.data)

    @property
    def message_id(self) -> str | None:
        return self.message.get("Message-ID")

    def header(self, name: str) -> str | None:
        """A header decoded to text (encoded words resolved), e.g. the Japanese Subject."""
        raw = self.message.get(name)
        return None if raw is None else str(make_header(decode_header(raw)))

    def text(self) -> str:
        """The text/plain body, decoded with its declared charset."""
        for part in self.message.walk():
            if part.get_content_type() == "text/plain":
                return part.get_payload(decode=True).decode(part.get_content_charset() or "ascii")
        raise LookupError("no text/plain part")


class _Handler:
    def __init__(self, server: "SmtpServer") -> None:
        self.server = server

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        srv = self.server
        fault = srv._take_fault("mail")
        if fault:
            return fault
        if srv.max_per_second is not None:
            now = time.monotonic()
            with srv.lock:
                while srv._recent and srv._recent[0] <= now - 1.0:
                    srv._recent.popleft()
                if len(srv._recent) >= srv.max_per_second:
                    srv.rate_limited += 1
                    return "451 4.7.1 Sending rate limit exceeded, try again later"
                srv._recent.append(now)
        with srv.lock:
            srv.mail_commands += 1
            gate = srv.gates.get(("mail", srv.mail_commands))
        if gate is not None:  # the kill tests: hold this transaction's MAIL (drop(): never answer)
            gate.hold()
            if gate.dropped:
                server.transport.close()
                return "421 4.3.2 client gone"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        fault = self.server._take_fault("rcpt")
        if fault:
            return fault
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        srv = self.server
        fault = srv._take_fault("data")
        if fault:
            return fault
        data = envelope.original_content or envelope.content
        rec = Received(envelope.mail_from, tuple(envelope.rcpt_tos), bytes(data))
        with srv.lock:
            srv.received.append(rec)
            n = len(srv.received)
            drop = srv.drop_after_data > 0
            if drop:
                srv.drop_after_data -= 1
        if srv.spool is not None:
            write_private_file(srv.spool / f"{n:06d}.eml", rec.data)
        gate = srv.gates.get(("accepted", n))
        if gate is not None:  # the kill tests: accepted and stored, the 250 held back
            gate.hold()
        if drop:
            server.transport.close()  # accepted, but the client never hears the 250
        return "250 2.0.0 OK queued"


class SmtpServer:
    def __init__(
        self,
        *,
        user: str | None = "teiki-test",
        password: str | None = "smtp-test-password-7c1d",
        starttls: bool = True,
        max_per_second: int | None = None,
        spool: Path | None = None,
        port: int = 0,
    ) -> None:
        self.user, self.password = user, password
        self.starttls = starttls
        self.max_per_second = max_per_second
        self.spool = Path(spool) if spool else None
        self.received: list[Received] = []
        self.auth_attempts: list[tuple[str, bool]] = []
        self.rate_limited = 0
        self.drop_after_data = 0
        self.lock = threading.Lock()
        self._faults: dict[str, deque[str]] = {"mail": deque(), "rcpt": deque(), "data": deque()}
        self.gates: dict[tuple[str, int], Gate] = {}
        self.mail_commands = 0
        self._recent: deque[float] = deque()
        self._ca = trustme.CA()
        self._port = port
        self._controller: Controller | None = None

    # -- faults -------------------------------------------------------------------------------
    def fail_next(self, stage: str, reply: str, times: int = 1) -> None:
        """Answer the next ``times`` MAIL / RCPT / end-of-DATA with ``reply`` (e.g. "451 ...")."""
        with self.lock:
            self._faults[stage].extend([reply] * times)

    def gate(self, stage: str, n: int) -> Gate:
        """Hold the n-th MAIL command (``"mail"``) or the 250 of the n-th accepted message
        (``"accepted"``) until the gate opens: a test SIGKILLs the sender at a known point."""
        g = Gate()
        with self.lock:
            self.gates[(stage, n)] = g
        return g

    def _take_fault(self, stage: str) -> str | None:
        with self.lock:
            q = self._faults[stage]
            return q.popleft() if q else None

    # -- reading ------------------------------------------------------------------------------
    def mailbox(self) -> dict[str, Received]:
        """What recipients see when their provider collapses copies with one Message-ID."""
        with self.lock:
            out: dict[str, Received] = {}
            for rec in self.received:
                out.setdefault(rec.message_id or f"(none {id(rec)})", rec)
            return out

    def client_ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        self._ca.configure_trust(ctx)
        return ctx

    def credentials(self) -> SmtpCredentials:
        return SmtpCredentials(self.host, self.port, self.user, self.password,
                               "starttls" if self.starttls else "none")

    # -- life cycle ---------------------------------------------------------------------------
    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == self.user
              and auth_data.password.decode() == self.password)
        self.auth_attempts.append((mechanism, ok))
        return AuthResult(success=ok, handled=False)

    def start(self) -> "SmtpServer":
        port = self._port or _free_port()
        kwargs: dict[str, Any] = {}
        if self.starttls:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
            kwargs.update(tls_context=ctx, require_starttls=True)
        if self.user is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=self.starttls)
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=port,
                                      ident="teiki-test-smtp", **kwargs)
        self._controller.start()
        self._port = port
        return self

    def stop(self) -> None:
        for g in list(self.gates.values()):
            g.open()
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> "SmtpServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return self._port


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> None:
    """Run as its own process: prints ``port`` and the CA's PEM path, then serves until killed."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--spool", type=Path, required=True)
    p.add_argument("--max-per-second", type=int, default=None)
    p.add_argument("--no-tls", action="store_true")
    args = p.parse_args(argv)
    srv = SmtpServer(spool=args.spool, max_per_second=args.max_per_second, starttls=not args.no_tls)
    srv.start()
    ca = args.spool / "ca.pem"
    write_private_file(ca, srv._ca.cert_pem.bytes())
    print(srv.port, ca, flush=True)
    try:
        threading.Event().wait()
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
