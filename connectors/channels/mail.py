"""Mail over SMTP: smtplib with STARTTLS (or implicit TLS) and AUTH, Japanese MIME done properly.

Rendering (the same bytes go to the outbox in dry-run and to the server when live):

- ``iso-2022-jp``: 7bit ISO-2022-JP body, Subject and From display name as ``=?iso-2022-jp?b?``
  encoded words: the traditional form every Japanese client, キャリアメール included, reads.
  A character ISO-2022-JP lacks (①, 髙, emoji, half-width katakana) rejects the message, naming
  the character: nothing is sent garbled. ``utf-8``: base64 UTF-8 body, UTF-8 encoded words.
- text/plain, or multipart/alternative with ``body_html``.
- ``Date`` in the merchant's time zone (+0900), ``Message-ID`` derived from the idempotency key,
  ``List-Unsubscribe`` (the message's one-click URL in ``extra["unsubscribe_url"]`` and/or the
  mailto address) and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` when an https URL is
  there (RFC 8058; the large mailbox providers require one-click unsubscribe from bulk senders).

What "exactly once" means over SMTP
-----------------------------------
SMTP has no idempotency key: a server that answered ``250`` to the end of DATA has taken
responsibility for the message, and nothing tells it a second copy is a retry. So:

1. The Message-ID is a pure function of the idempotency key (:func:`message_id_for`): every
   attempt at one message carries the same Message-ID, and mailbox providers that collapse
   duplicates by Message-ID (Gmail does) show a re-sent copy once. A test checks it.
2. Within a send, the channel retries a message only when the server has certainly not taken
   it: a 4xx reply to MAIL, RCPT or the end of DATA, or a connection lost before the message
   content was transmitted. After the content went out and the reply did not come back
   (RFC 1047's duplicate window) it never retries: the result is ``failed`` with "outcome
   unknown", so a retry is the caller's informed decision, not a silent duplicate.
3. Each result is yielded the moment the server's reply arrives, so the ledger records it before
   the next message is sent: the only window for a duplicate is between the server's ``250`` and
   the ledger's commit of that one message, and a message re-sent from there has the same
   Message-ID (point 1).

5xx replies are permanent: ``rejected`` with the server's own text (the recipient address is
never echoed in results or logs).
"""

from __future__ import annotations

import hashlib
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.charset import BASE64, Charset
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

from connectors.channels.base import OutboundMessage, SendResult
from connectors.channels.outbox import ChannelConfigError, MessageError, Outbox, OutboxChannel
from connectors.channels.settings import MailSettings
from connectors.http.throttle import MinInterval, Throttle

__all__ = ["MailChannel", "SmtpCredentials", "message_id_for", "smtp_credentials_from_env"]

_CRLF_POLICY = compat32.clone(linesep="\r\n")
_LEADING_DOT = re.compile(rb"(?m)^\.")
_MAX_TRANSIENT_RETRIES = 3


@dataclass(frozen=True)
class SmtpCredentials:
    host: str
    port: int = 587
    user: str | None = None
    password: str | None = None
    security: str = "starttls"  # starttls | ssl | none

    def __repr__(self) -> str:  # never the password
        return f"SmtpCredentials(host={self.host!r}, port={self.port}, user={'***' if self.user else None}, security={self.security!r})"


def smtp_credentials_from_env(env: Mapping[str, str]) -> SmtpCredentials | None:
    """The SMTP relay from TEIKI_SMTP_*; None (dry-run) when TEIKI_SMTP_HOST is unset."""
    host = (env.get("TEIKI_SMTP_HOST") or "").strip()
    if not host:
        return None
    raw_port = (env.get("TEIKI_SMTP_PORT") or "").strip()
    security = (env.get("TEIKI_SMTP_SECURITY") or "starttls").strip().lower()
    if security not in ("starttls", "ssl", "none"):
        raise ChannelConfigError(f"TEIKI_SMTP_SECURITY must be starttls, ssl or none, not {security!r}")
    try:
        port = int(raw_port) if raw_port else (465 if security == "ssl" else 587)
    except ValueError:
        raise ChannelConfigError(f"TEIKI_SMTP_PORT must be a port number, not {raw_port!r}") from None
    user = env.get("TEIKI_SMTP_USER") or None
    password = env.get("TEIKI_SMTP_PASSWORD") or None
    if bool(user) != bool(password):
        raise ChannelConfigError("set both TEIKI_SMTP_USER and TEIKI_SMTP_PASSWORD, or neither")
    return SmtpCredentials(host, port, user, password, security)


def message_id_for(idempotency_key: str, domain: str) -> str:
    """The Message-ID of every attempt at one message: a pure function of its idempotency key."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return f"<teiki.{digest}@{domain}>"


class MailChannel(OutboxChannel):
    name = "mail"
    outbox_suffix = "eml"

    def __init__(
        self,
        settings: MailSettings | None = None,
        credentials: SmtpCredentials | None = None,
        *,
        outbox: Outbox | Path | None = None,
        timezone: str = "Asia/Tokyo",
        ssl_context: ssl.SSLContext | None = None,
        throttle: Throttle | None = None,
        now: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(dry_run=credentials is None, outbox=outbox)
        self.settings = settings or MailSettings()
        self.credentials = credentials
        self.tz = ZoneInfo(timezone)
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.throttle = throttle or MinInterval(1.0 / self.settings.rate_per_second)
        self.now = now or (lambda: datetime.now(self.tz))
        self.sleep = sleep
        self.domain = self.settings.message_id_domain or self.settings.from_address.rsplit("@", 1)[1]
        self._charset = Charset(self.settings.encoding)
        if self.settings.encoding == "utf-8":
            self._charset.header_encoding = BASE64  # one predictable form for Subject and From
        self._smtp: smtplib.SMTP | None = None
        # Called with the idempotency key right before a message's content is transmitted, the
        # point after which the server may take it without our knowing: the action layer records
        # the message `in_doubt` there, so a re-run after a crash never sends it twice.
        self.before_transmit: Callable[[str], None] | None = None

    # -- rendering ----------------------------------------------------------------------------
    def message_id(self, message: OutboundMessage) -> str:
        return message_id_for(message.idempotency_key, self.domain)

    def render(self, message: OutboundMessage) -> bytes:
        s = self.settings
        if not message.subject:
            raise MessageError(f"{message.idempotency_key}: a mail needs a subject")
        if "@" not in message.recipient or any(c in message.recipient for c in " <>\r\n,"):
            raise MessageError(f"{message.idempotency_key}: the recipient is not a plain e-mail address")
        self._check_encodable(message, "body_text", message.body_text)
        self._check_encodable(message, "subject", message.subject)
        self._check_encodable(message, "from_name", s.from_name)
        text = MIMEText(message.body_text, "plain", self._charset)
        if message.body_html:
            self._check_encodable(message, "body_html", message.body_html)
            mime = MIMEMultipart("alternative")
            mime.attach(text)
            mime.attach(MIMEText(message.body_html, "html", self._charset))
        else:
            mime = text
        mime["From"] = formataddr((s.from_name, s.from_address), charset=self._charset) if s.from_name else s.from_address
        mime["To"] = message.recipient
        mime["Subject"] = Header(message.subject, self._charset).encode()
        mime["Date"] = format_datetime(self.now().astimezone(self.tz))
        mime["Message-ID"] = self.message_id(message)
        if s.reply_to:
            mime["Reply-To"] = s.reply_to
        unsubscribe = []
        url = message.extra.get("unsubscribe_url")
        if url is not None:
            url = str(url)
            if not url.startswith(("https://", "http://")) or any(c in url for c in " <>\r\n"):
                raise MessageError(f"{message.idempotency_key}: unsubscribe_url must be an http(s) URL")
            unsubscribe.append(f"<{url}>")
        mailto = s.unsubscribe_mailto or s.from_address
        unsubscribe.append(f"<mailto:{mailto}?subject=unsubscribe>")
        mime["List-Unsubscribe"] = ", ".join(unsubscribe)
        if url is not None and url.startswith("https://"):
            mime["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        mime["X-Teiki-Campaign"] = message.campaign
        return mime.as_bytes(policy=_CRLF_POLICY)

    def _check_encodable(self, message: OutboundMessage, part: str, text: str) -> None:
        try:
            text.encode(self.settings.encoding)
        except UnicodeEncodeError as exc:
            raise MessageError(
                f"{message.idempotency_key}: the {part} has {text[exc.start:exc.end]!r}, which "
                f"{self.settings.encoding} cannot represent (use encoding utf-8, or change the text)"
            ) from None

    # -- live sending -------------------------------------------------------------------------
    def deliver(self, messages: Sequence[OutboundMessage]) -> Iterator[SendResult]:
        try:
            for message in messages:
                yield self._deliver_one(message)
        finally:
            self.close()

    def _deliver_one(self, message: OutboundMessage) -> SendResult:
        key = message.idempotency_key
        mid = self.message_id(message)
        try:
            data = self.render(message)
        except MessageError as exc:
            return SendResult(key, "rejected", error=str(exc))
        payload = _LEADING_DOT.sub(b"..", data)
        if not payload.endswith(b"\r\n"):
            payload += b"\r\n"
        payload += b".\r\n"
        attempt = 0
        while True:
            attempt += 1
            content_sent = False
            try:
                smtp = self._connection()
                self.throttle.acquire()
                code, reply = smtp.mail(self.settings.from_address)
                if code == 250:
                    code, reply = smtp.rcpt(message.recipient)
                if code in (250, 251):
                    code, reply = smtp.docmd("DATA")
                    if code == 354:
                        if self.before_transmit is not None:
                            self.before_transmit(key)
                        content_sent = True
                        smtp.send(payload)
                        code, reply = smtp.getreply()
                        if code == 250:
                            return SendResult(key, "sent", provider_message_id=mid)
                # Not taken: reset the transaction before the next message or retry.
                self._rset()
                what = _reply_text(code, reply)
                if 400 <= code < 500 and attempt <= _MAX_TRANSIENT_RETRIES:
                    self.sleep(min(30.0, 2.0 ** (attempt - 1)))
                    continue
                status = "rejected" if code >= 500 else "failed"
                return SendResult(key, status, provider_message_id=mid, error=f"{key}: SMTP {what}")
            except (smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException, OSError) as exc:
                self._drop()
                if isinstance(exc, smtplib.SMTPResponseException) and not content_sent:
                    what = _reply_text(exc.smtp_code, exc.smtp_error)
                    if exc.smtp_code >= 500:
                        return SendResult(key, "rejected", provider_message_id=mid, error=f"{key}: SMTP {what}")
                else:
                    what = f"{type(exc).__name__}: {_short(str(exc))}"
                if content_sent:
                    return SendResult(
                        key, "failed", provider_message_id=mid,
                        error=f"{key}: outcome unknown: the connection broke after the message was "
                              f"transmitted ({what}); the server may have accepted it, so it is not "
                              f"re-sent automatically (a re-send would carry the same Message-ID)")
                if attempt <= _MAX_TRANSIENT_RETRIES:
                    self.sleep(min(30.0, 2.0 ** (attempt - 1)))
                    continue
                return SendResult(key, "failed", provider_message_id=mid, error=f"{key}: SMTP {what}")

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        c = self.credentials
        assert c is not None
        timeout = self.settings.timeout_seconds
        if c.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(c.host, c.port, timeout=timeout, context=self.ssl_context)
        else:
            smtp = smtplib.SMTP(c.host, c.port, timeout=timeout)
        try:
            smtp.ehlo()
            if c.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise ChannelConfigError(f"{c.host}:{c.port} does not offer STARTTLS; refusing to send credentials or mail in clear text (TEIKI_SMTP_SECURITY)")
                smtp.starttls(context=self.ssl_context)
                smtp.ehlo()
            if c.user:
                try:
                    smtp.login(c.user, c.password or "")
                except smtplib.SMTPAuthenticationError as exc:
                    raise ChannelConfigError(
                        f"{c.host}:{c.port}: SMTP authentication failed ({_reply_text(exc.smtp_code, exc.smtp_error)}); check TEIKI_SMTP_USER / TEIKI_SMTP_PASSWORD") from None
        except BaseException:
            try:
                smtp.close()
            except Exception:
                pass
            raise
        self._smtp = smtp
        return smtp

    def _rset(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.rset()
            except (smtplib.SMTPException, OSError):
                self._drop()

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            except Exception:
                pass
            self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError, socket.error):
                pass
            self._drop()


def _reply_text(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    # A server may echo the address it refuses ("<someone@x>: mailbox unavailable"): drop it.
    text = re.sub(r"<[^>]*@[^>]*>", "<recipient>", text)
    text = re.sub(r"\S+@\S+", "<address>", text)
    return f"{code} {_short(text)}"


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
