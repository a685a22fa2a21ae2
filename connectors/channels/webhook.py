"""Webhook alerts to the team's chat: Slack-compatible incoming webhooks, Microsoft Teams
(Workflows incoming webhook, Adaptive Card) or Chatwork (REST API, room message).

    slack     POST <TEIKI_WEBHOOK_URL>  {"text": "*subject*\\nbody"}  -> 200 "ok"
              errors are short codes in the body (invalid_payload, no_service,
              channel_is_archived, action_prohibited, ...); 1 message per second per webhook
              (https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks ,
              https://api.slack.com/docs/rate-limits : "Incoming webhooks: 1 per second").
    teams     POST <TEIKI_WEBHOOK_URL>  {"type": "message", "attachments": [Adaptive Card]}
              -> 202 Accepted.
    chatwork  POST <TEIKI_CHATWORK_API_BASE>/v2/rooms/<TEIKI_CHATWORK_ROOM_ID>/messages with
              X-ChatWorkToken, form field ``body`` ([info][title]..[/title]..[/info])
              -> 200 {"message_id"}; errors {"errors": [...]}; 300 requests per 5 minutes.

``recipient`` names the webhook: ``TEIKI_WEBHOOK_URL_<NAME>`` when set (e.g. recipient
``callcenter`` -> ``TEIKI_WEBHOOK_URL_CALLCENTER``), else ``TEIKI_WEBHOOK_URL``. The URL holds
the webhook's secret, so it is an environment variable, scrubbed from every error, and never
written to the outbox.

Webhooks have no idempotency key. An alert is re-posted only when the service certainly did not
take it (429: Slack and Chatwork process nothing on a 429; the wait is the ``Retry-After``); a
timeout, a lost connection or a 5xx is ``failed`` with "outcome unknown", never blindly re-posted.
Paced by the HTTP core's :class:`~connectors.http.MinInterval` at ``channels.webhook.rate_per_second``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import requests

from connectors.channels.base import OutboundMessage, SendResult
from connectors.channels.outbox import ChannelConfigError, MessageError, Outbox, OutboxChannel
from connectors.channels.settings import WebhookSettings
from connectors.http import Auth, HeaderTokenAuth, HttpClient, HttpError, MinInterval, TransportError
from connectors.http.throttle import Throttle

__all__ = ["CHATWORK_API_BASE", "WebhookChannel", "WebhookTargets", "webhook_targets_from_env"]

CHATWORK_API_BASE = "https://api.chatwork.com"
_MAX_429_WAITS = 5


class _SecretUrl(Auth):
    """No header; the webhook URL itself is the secret the client must scrub."""

    def __init__(self, urls: Sequence[str]) -> None:
        self._secrets = tuple(s for u in urls for s in (u, urlsplit(u).path) if len(s) > 8)

    def secrets(self) -> tuple[str, ...]:
        return self._secrets


class WebhookTargets:
    """Where alerts go: webhook URLs by name (Slack, Teams) or a Chatwork room and token."""

    def __init__(self, urls: Mapping[str, str] | None = None, *, chatwork_token: str | None = None,
                 chatwork_room_id: str | None = None, chatwork_api_base: str = CHATWORK_API_BASE) -> None:
        self.urls = dict(urls or {})
        self.chatwork_token = chatwork_token
        self.chatwork_room_id = chatwork_room_id
        self.chatwork_api_base = chatwork_api_base

    def __repr__(self) -> str:
        return f"WebhookTargets(names={sorted(self.urls)}, chatwork={'***' if self.chatwork_token else None})"

    def url_for(self, recipient: str) -> str | None:
        return self.urls.get(recipient.upper()) or self.urls.get("")


def webhook_targets_from_env(env: Mapping[str, str]) -> WebhookTargets | None:
    """TEIKI_WEBHOOK_URL[_<NAME>] and TEIKI_CHATWORK_*; None (dry-run) when none is set."""
    urls = {}
    for name, value in env.items():
        if (name == "TEIKI_WEBHOOK_URL" or name.startswith("TEIKI_WEBHOOK_URL_")) and value.strip():
            if not value.strip().startswith(("https://", "http://")):
                raise ChannelConfigError(f"{name} must be an http(s) URL")
            urls[name.removeprefix("TEIKI_WEBHOOK_URL").lstrip("_")] = value.strip()
    token = (env.get("TEIKI_CHATWORK_TOKEN") or "").strip() or None
    room = (env.get("TEIKI_CHATWORK_ROOM_ID") or "").strip() or None
    if bool(token) != bool(room):
        raise ChannelConfigError("set both TEIKI_CHATWORK_TOKEN and TEIKI_CHATWORK_ROOM_ID, or neither")
    if not urls and not token:
        return None
    return WebhookTargets(urls, chatwork_token=token, chatwork_room_id=room,
                          chatwork_api_base=(env.get("TEIKI_CHATWORK_API_BASE") or CHATWORK_API_BASE).strip())


def slack_payload(message: OutboundMessage) -> dict[str, Any]:
    text = f"*{message.subject}*\n{message.body_text}" if message.subject else message.body_text
    return {"text": text}


def teams_payload(message: OutboundMessage) -> dict[str, Any]:
    body: list[dict[str, Any]] = []
    if message.subject:
        body.append({"type": "TextBlock", "text": message.subject, "weight": "Bolder", "size": "Medium", "wrap": True})
    body.append({"type": "TextBlock", "text": message.body_text, "wrap": True})
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": "1.4", "body": body}
    return {"type": "message",
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}


def chatwork_body(message: OutboundMessage) -> str:
    if message.subject:
        return f"[info][title]{message.subject}[/title]{message.body_text}[/info]"
    return message.body_text


class WebhookChannel(OutboxChannel):
    name = "webhook"
    outbox_suffix = "json"

    def __init__(
        self,
        settings: WebhookSettings | None = None,
        targets: WebhookTargets | None = None,
        *,
        outbox: Outbox | Path | None = None,
        throttle: Throttle | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 15.0,
    ) -> None:
        super().__init__(dry_run=targets is None, outbox=outbox)
        self.settings = settings or WebhookSettings()
        self.targets = targets
        self.throttle = throttle or MinInterval(1.0 / self.settings.rate_per_second)
        self.sleep = sleep
        self.timeout = timeout
        self._client: HttpClient | None = None
        if targets is not None and self.settings.format == "chatwork" and not targets.chatwork_token:
            raise ChannelConfigError("channels.webhook.format is chatwork: set TEIKI_CHATWORK_TOKEN and TEIKI_CHATWORK_ROOM_ID")

    def payload(self, message: OutboundMessage) -> Any:
        if not message.body_text:
            raise MessageError(f"{message.idempotency_key}: an alert needs a text")
        fmt = self.settings.format
        if fmt == "slack":
            return slack_payload(message)
        if fmt == "teams":
            return teams_payload(message)
        return {"body": chatwork_body(message)}

    def render(self, message: OutboundMessage) -> bytes:
        doc = {"format": self.settings.format, "webhook": message.recipient, "payload": self.payload(message)}
        return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")

    # -- live sending -------------------------------------------------------------------------
    def _http(self) -> HttpClient:
        if self._client is None:
            t = self.targets
            assert t is not None
            if self.settings.format == "chatwork":
                auth: Auth = HeaderTokenAuth("X-ChatWorkToken", t.chatwork_token or "")
                base = t.chatwork_api_base
            else:
                auth, base = _SecretUrl(list(t.urls.values())), "http://webhook.invalid"
            self._client = HttpClient(base, auth=auth, throttle=self.throttle, timeout=(5, self.timeout),
                                      max_retries=0, sleep=self.sleep, error_message=_webhook_error)
        return self._client

    def deliver(self, messages: Sequence[OutboundMessage]) -> Iterator[SendResult]:
        try:
            for message in messages:
                yield self._deliver_one(message)
        finally:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _deliver_one(self, message: OutboundMessage) -> SendResult:
        key = message.idempotency_key
        try:
            payload = self.payload(message)
        except MessageError as exc:
            return SendResult(key, "rejected", error=str(exc))
        client = self._http()
        assert self.targets is not None
        if self.settings.format == "chatwork":
            url = f"v2/rooms/{self.targets.chatwork_room_id}/messages"
            kwargs: dict[str, Any] = {"data": payload}
        else:
            target = self.targets.url_for(message.recipient)
            if target is None:
                return SendResult(key, "rejected", error=f"{key}: no webhook URL for {message.recipient!r} "
                                  f"(set TEIKI_WEBHOOK_URL_{message.recipient.upper()} or TEIKI_WEBHOOK_URL)")
            url, kwargs = target, {"json": payload}
        for _ in range(_MAX_429_WAITS + 1):
            try:
                resp = client.request("POST", url, retry=False, ok_statuses=frozenset({429}), **kwargs)
            except TransportError as exc:
                return SendResult(key, "failed", error=f"{key}: outcome unknown, not re-posted ({exc.message})")
            except HttpError as exc:
                if self.settings.format == "chatwork" and exc.status == 401:
                    raise ChannelConfigError(f"Chatwork refused the API token ({exc.provider_message}); check TEIKI_CHATWORK_TOKEN") from None
                status = "rejected" if exc.status is not None and exc.status < 500 else "failed"
                note = "" if status == "rejected" else "; outcome unknown, not re-posted"
                return SendResult(key, status, error=f"{key}: {exc.message}{note}")
            if resp.status_code == 429:
                wait = _retry_after(resp)
                self.sleep(wait)
                continue
            return SendResult(key, "sent", provider_message_id=_message_id(resp))
        return SendResult(key, "failed", error=f"{key}: still rate limited (429) after {_MAX_429_WAITS} waits")


def _retry_after(resp: requests.Response) -> float:
    for name in ("Retry-After", "x-ratelimit-reset"):
        value = resp.headers.get(name)
        if value:
            try:
                v = float(value)
            except ValueError:
                continue
            if name == "x-ratelimit-reset" and v > 1e9:  # Chatwork: a Unix time
                v = v - time.time()
            return max(0.0, min(v, 60.0))
    return 1.0


def _message_id(resp: requests.Response) -> str | None:
    if "json" in resp.headers.get("Content-Type", ""):
        try:
            body = resp.json()
        except ValueError:
            return None
        if isinstance(body, dict) and body.get("message_id"):
            return str(body["message_id"])
    return None


def _webhook_error(resp: requests.Response) -> str | None:
    """Slack answers a bare code (invalid_payload); Chatwork {"errors": [...]}; Teams text."""
    try:
        body = resp.json()
    except ValueError:
        text = resp.text.strip()
        return text[:200] or None
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        return "; ".join(str(e) for e in body["errors"])
    return None
