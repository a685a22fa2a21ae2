"""LINE Messaging API: push (and multicast for identical messages), exactly once by retry key.

Reference: https://developers.line.biz/en/reference/messaging-api/ (#send-push-message,
#send-multicast-message, #rate-limits, #error-responses) and
https://developers.line.biz/en/docs/messaging-api/retrying-api-request/ .

- ``POST /v2/bot/message/push`` ``{"to": userId, "messages": [1-5 objects]}`` with
  ``Authorization: Bearer <channel access token>``; the answer's ``sentMessages[0].id`` is the
  result's ``provider_message_id``. Multicast (``to``: up to 500 user ids) for messages that are
  identical (a template without a per-customer variable), unless ``channels.line.multicast`` is
  off: :meth:`LineChannel.assign_batches` proposes the groups, the action layer records them.
- ``X-Line-Retry-Key`` on every request: a UUID derived from the idempotency key
  (:func:`retry_key_for`; a multicast's from its recorded batch id), so the HTTP core may retry a
  timeout or a 5xx and a re-run may pass a still-``planned`` message again: LINE executes a key
  once and answers a repeat with 409 and ``x-line-accepted-request-id`` -> ``already_sent``.
  A retry key is remembered by LINE for 24 hours: re-run an interrupted send within a day.
- Rate limits: push 2,000 requests/s, multicast 200 requests/s per channel; the channel paces
  itself with the HTTP core's throttle (:class:`connectors.http.MinInterval`) shared by its
  ``concurrency`` workers. A 429 is told apart by its message: the rate limit is waited out and
  retried (a 429 delivers nothing), the monthly message limit fails the rest of the batch at once.
- Errors: 400 -> ``rejected`` with LINE's message and details (``messages[0].text: Length must
  be between 1 and 5000``); 401/403 stop the batch with a configuration error (the token);
  5xx or no answer after the retries -> ``failed`` (a re-run with the same key is safe).

Built on the shared HTTP core rather than the official ``line-bot-sdk``: the SDK does accept a
retry key and another host, but it brings its own generated HTTP client (urllib3) with its own
retry, timeout and error types, which would bypass the core's throttle, redaction of the token
and error text, and make two ways of doing HTTP in one code base.

Multicast and exactly once: a multicast's retry key comes from its batch id, recorded in the
ledger with every member before the request (connectors/channels/base.py), never from the members
still pending. A re-run after a crash that recorded only some members' outcomes sends the rest
under the same key, and LINE answers 409: nobody receives it twice.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import requests

from connectors.channels.base import OutboundMessage, SendResult
from connectors.channels.outbox import ChannelConfigError, MessageError, Outbox, OutboxChannel
from connectors.channels.settings import LineSettings
from connectors.http import AuthError, BearerAuth, HttpClient, HttpError, MinInterval
from connectors.http.throttle import Throttle

__all__ = ["LINE_API_BASE", "LineChannel", "line_credentials_from_env", "retry_key_for"]

LINE_API_BASE = "https://api.line.me"
PUSH, MULTICAST = "v2/bot/message/push", "v2/bot/message/multicast"
_NAMESPACE = uuid.UUID("6b1f4a52-3c0e-4d8e-9a57-1f2d0c7e5b31")  # Teiki's: keys never collide with others'
_USER_ID = re.compile(r"^U[0-9a-f]{32}$")
_RATE_LIMIT_WAITS = 5


def retry_key_for(idempotency_key: str) -> str:
    """The X-Line-Retry-Key of every attempt at one message (a UUID, as LINE requires)."""
    return str(uuid.uuid5(_NAMESPACE, idempotency_key))


def line_credentials_from_env(env: Mapping[str, str]) -> tuple[str | None, str]:
    """(channel access token or None for dry-run, API base URL)."""
    token = (env.get("TEIKI_LINE_CHANNEL_TOKEN") or "").strip() or None
    base = (env.get("TEIKI_LINE_API_BASE") or "").strip() or LINE_API_BASE
    return token, base


def _line_error(resp: requests.Response) -> str | None:
    try:
        body = resp.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    text = str(body.get("message") or "")
    details = [f"{d.get('property', '?')}: {d.get('message', '')}" for d in body.get("details") or []
               if isinstance(d, dict)]
    return text + (f" ({'; '.join(details)})" if details else "") or None


class LineChannel(OutboxChannel):
    name = "line"
    outbox_suffix = "json"
    resends_in_doubt = True  # a retry with the same X-Line-Retry-Key is answered 409, not re-sent

    def __init__(
        self,
        settings: LineSettings | None = None,
        token: str | None = None,
        *,
        outbox: Outbox | Path | None = None,
        api_base: str = LINE_API_BASE,
        throttle: Throttle | None = None,
        multicast_throttle: Throttle | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
    ) -> None:
        super().__init__(dry_run=token is None, outbox=outbox)
        self.settings = settings or LineSettings()
        self._token = token
        self.api_base = api_base
        self.throttle = throttle or MinInterval(1.0 / self.settings.rate_per_second)
        self.multicast_throttle = multicast_throttle or MinInterval(1.0 / self.settings.multicast_rate_per_second)
        self.sleep = sleep
        self.timeout = timeout
        self._local = threading.local()
        self._quota_error: str | None = None

    # -- rendering ----------------------------------------------------------------------------
    def line_messages(self, message: OutboundMessage) -> list[dict[str, Any]]:
        objs = message.extra.get("line_messages")
        if objs is None:
            objs = [{"type": "text", "text": message.body_text}]
        if not isinstance(objs, list) or not 1 <= len(objs) <= 5:
            raise MessageError(f"{message.idempotency_key}: LINE takes 1 to 5 message objects a request")
        for i, obj in enumerate(objs):
            if not isinstance(obj, dict) or "type" not in obj:
                raise MessageError(f"{message.idempotency_key}: messages[{i}] is not a LINE message object")
            if obj["type"] == "text" and not 1 <= len(str(obj.get("text") or "")) <= 5000:
                raise MessageError(f"{message.idempotency_key}: messages[{i}].text must be 1 to 5000 characters")
        return objs

    def push_request(self, message: OutboundMessage) -> dict[str, Any]:
        if not _USER_ID.match(message.recipient):
            raise MessageError(f"{message.idempotency_key}: the recipient is not a LINE user id (U + 32 hex)")
        body: dict[str, Any] = {"to": message.recipient, "messages": self.line_messages(message)}
        if self.settings.notification_disabled:
            body["notificationDisabled"] = True
        return body

    def render(self, message: OutboundMessage) -> bytes:
        doc = {"method": "POST", "path": "/" + PUSH,
               "headers": {"X-Line-Retry-Key": retry_key_for(message.idempotency_key)},
               "body": self.push_request(message)}
        return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")

    # -- live sending -------------------------------------------------------------------------
    def deliver(self, messages: Sequence[OutboundMessage]) -> Iterator[SendResult]:
        self._quota_error = None
        units: list[list[OutboundMessage]] = self._units(messages)
        workers = min(self.settings.concurrency, max(1, len(units)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="line") as pool:
            pending: deque[Future] = deque()
            it = iter(units)
            done = False
            try:
                while pending or not done:
                    while not done and len(pending) < workers * 2:
                        unit = next(it, None)
                        if unit is None:
                            done = True
                            break
                        pending.append(pool.submit(self._send_unit, unit))
                    if pending:
                        yield from pending.popleft().result()
            finally:
                # Stopped early (a token error, or the caller closed us): send nothing more. A
                # request already in flight may be accepted unrecorded; its re-run gets 409.
                for future in pending:
                    future.cancel()

    def assign_batches(self, messages: Sequence[OutboundMessage]) -> dict[str, str]:
        """Identical messages of one campaign (same LINE message objects) in groups of up to
        500, each group of two or more a multicast; the batch id names its members."""
        if not self.settings.multicast:
            return {}
        groups: dict[str, list[OutboundMessage]] = {}
        for m in messages:
            if m.send_batch or not _USER_ID.match(m.recipient):
                continue
            try:
                sig = json.dumps([m.campaign, self.line_messages(m)], sort_keys=True, ensure_ascii=False)
            except MessageError:
                continue
            groups.setdefault(sig, []).append(m)
        batches: dict[str, str] = {}
        for members in groups.values():
            for start in range(0, len(members), 500):
                chunk = members[start:start + 500]
                if len(chunk) < 2:
                    continue
                batch = "multicast:" + retry_key_for("\n".join(sorted(m.idempotency_key for m in chunk)))
                batches.update((m.idempotency_key, batch) for m in chunk)
        return batches

    def _units(self, messages: Sequence[OutboundMessage]) -> list[list[OutboundMessage]]:
        """Each message alone (push), or the members of a recorded batch together (multicast)."""
        batches: dict[str, list[OutboundMessage]] = {}
        order: list[list[OutboundMessage]] = []
        for m in messages:
            if m.send_batch is None:
                order.append([m])
            elif m.send_batch not in batches:
                batches[m.send_batch] = [m]
                order.append(batches[m.send_batch])
            else:
                batches[m.send_batch].append(m)
        return order

    def _client(self, multicast: bool) -> HttpClient:
        attr = "multicast" if multicast else "push"
        client = getattr(self._local, attr, None)
        if client is None:
            assert self._token is not None
            client = HttpClient(self.api_base, auth=BearerAuth(self._token),
                                throttle=self.multicast_throttle if multicast else self.throttle,
                                timeout=(5, self.timeout), max_retries=3, backoff_base=0.5,
                                sleep=self.sleep, error_message=_line_error)
            setattr(self._local, attr, client)
        return client

    def _send_unit(self, unit: list[OutboundMessage]) -> list[SendResult]:
        if self._quota_error:
            return [SendResult(m.idempotency_key, "failed", error=self._quota_error) for m in unit]
        try:
            if unit[0].send_batch is None:
                body, path = self.push_request(unit[0]), PUSH
                rkey = retry_key_for(unit[0].idempotency_key)
            else:
                body = {"to": [m.recipient for m in unit], "messages": self.line_messages(unit[0])}
                for m in unit:
                    if not _USER_ID.match(m.recipient):
                        raise MessageError(f"{m.idempotency_key}: the recipient is not a LINE user id (U + 32 hex)")
                if self.settings.notification_disabled:
                    body["notificationDisabled"] = True
                path = MULTICAST
                rkey = retry_key_for(unit[0].send_batch)
        except MessageError as exc:
            return [SendResult(m.idempotency_key, "rejected", error=str(exc)) for m in unit]
        status, ident, error = self._post(path, body, rkey, unit[0].idempotency_key)
        return [SendResult(m.idempotency_key, status, provider_message_id=ident, error=error) for m in unit]

    def _post(self, path: str, body: dict, rkey: str, key: str) -> tuple[str, str | None, str | None]:
        client = self._client(path == MULTICAST)
        for attempt in range(_RATE_LIMIT_WAITS + 1):
            try:
                resp = client.request("POST", path, json=body, headers={"X-Line-Retry-Key": rkey},
                                      ok_statuses=frozenset({409, 429}))
            except AuthError as exc:
                raise ChannelConfigError(
                    f"LINE refused the channel access token ({exc.provider_message or exc.status}); "
                    "check TEIKI_LINE_CHANNEL_TOKEN") from None
            except HttpError as exc:
                status = "rejected" if exc.status is not None and 400 <= exc.status < 500 else "failed"
                note = "" if status == "rejected" else " (a re-run with the same retry key is safe)"
                return status, None, f"{key}: {exc.message}{note}"
            request_id = resp.headers.get("x-line-request-id")
            if resp.status_code == 429:
                text = _line_error(resp) or ""
                if "monthly limit" in text:
                    self._quota_error = f"LINE: {text} (nothing sent; the rest of the batch is not attempted)"
                    return "failed", None, f"{key}: {self._quota_error}"
                wait = float(resp.headers.get("Retry-After") or 0) or min(8.0, 0.25 * 2 ** attempt)
                self.sleep(wait)
                continue
            data = client.decode_json(resp, "POST", path) if resp.content else {}
            sent = data.get("sentMessages") if isinstance(data, dict) else None
            first_id = sent[0].get("id") if sent and isinstance(sent[0], dict) else None
            if resp.status_code == 409:
                return "already_sent", first_id or resp.headers.get("x-line-accepted-request-id"), None
            return "sent", first_id or request_id, None
        return "failed", None, f"{key}: LINE rate limit (429) after {_RATE_LIMIT_WAITS} waits"
