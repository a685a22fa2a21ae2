"""Chat webhooks: alerts to the data team or the call center's channel, Slack-compatible JSON.

Protocol (Slack incoming webhooks, https://api.slack.com/messaging/webhooks): one HTTPS POST of
`{"text": ...}` (mrkdwn) to the webhook URL; `200` with body `ok` on success; `400`
`invalid_payload`/`no_text`, `403` `action_prohibited`, `404` `no_service`, `410`
`channel_is_archived` are permanent errors; `429` with `Retry-After` when posting faster than
about one message per second per webhook. Mattermost and Rocket.Chat accept the same payload.

The URL is the secret (whoever holds it can post): it comes from the environment only and is
redacted from every error and log line by the shared HTTP core. No URL: dry run to the outbox.
Webhooks have no idempotency key, so a retry after a lost answer may post twice; alerts say the
run id, so a duplicate is recognisable and harmless.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from urllib.parse import urlsplit

from connectors.http import HttpClient
from connectors.http.auth import Auth
from connectors.http.errors import HttpError

from .base import OutboundMessage, SendResult
from .outbox import Outbox


class _UrlIsSecret(Auth):
    """Nothing to add to headers; the whole URL path is the credential to redact."""

    def __init__(self, url: str) -> None:
        self._secret = urlsplit(url).path

    def apply(self, headers) -> None:  # noqa: D401 - no header
        return None

    def secrets(self) -> tuple[str, ...]:
        return (self._secret,) if len(self._secret) > 1 else ()


class WebhookChannel:
    name = "webhook"

    def __init__(self, url: str | None, outbox: Outbox, *, client: HttpClient | None = None) -> None:
        self.url = (url or "").strip() or None
        self.outbox = outbox
        self.dry_run = self.url is None
        self._client = client
        if self.url and client is None:
            # Alerts are not worth a long wait: a few retries on 429/5xx, short timeouts.
            self._client = HttpClient(self.url, auth=_UrlIsSecret(self.url), timeout=(5, 15),
                                      max_retries=3, backoff_max=10.0)

    @staticmethod
    def payload(message: OutboundMessage) -> dict:
        text = message.body_text if not message.subject or message.body_text.startswith(message.subject) \
            else f"*{message.subject}*\n{message.body_text}"
        return {"text": text}

    def send(self, messages: Sequence[OutboundMessage]) -> Iterator[SendResult]:
        for message in messages:
            if self.dry_run:
                self.outbox.write(self.name, message)
                yield SendResult(message.idempotency_key, "dry_run")
                continue
            try:
                self._client.request("POST", self.url, json=self.payload(message))
            except HttpError as exc:
                yield SendResult(message.idempotency_key, "failed", error=str(exc))
                continue
            yield SendResult(message.idempotency_key, "sent")
