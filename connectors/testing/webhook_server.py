"""Local incoming-webhook endpoints on 127.0.0.1: Slack, Microsoft Teams (Workflows) and Chatwork.

- Slack: ``POST /services/<T>/<B>/<secret>`` with JSON ``{"text"}`` or ``{"blocks"}`` -> 200
  ``ok`` (text/plain); a bad payload -> 400 ``invalid_payload``, an unknown hook -> 404
  ``no_service``, an archived channel (:meth:`archive`) -> 410 ``channel_is_archived``. Slack
  allows about one message per second per webhook with short bursts: a token bucket of
  ``burst`` messages refilled at ``per_second``; over it -> 429 with ``Retry-After``.
- Teams: ``POST /teams/<id>`` with ``{"type": "message", "attachments": [{"contentType":
  "application/vnd.microsoft.card.adaptive", "content": {...AdaptiveCard}}]}`` -> 202.
- Chatwork: ``POST /v2/rooms/<room_id>/messages`` with ``X-ChatWorkToken`` and form field
  ``body`` -> 200 ``{"message_id"}``; wrong token -> 401 ``{"errors": ["Invalid API Token"]}``.

:attr:`WebhookServer.posted` lists what reached the channel: (format, hook, text).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from connectors.testing.http_base import LocalHttpServer, Reply, Request

SLACK_PATH = "/services/T0TEIKI01/B0TEIKI01/teikiWebhookSecret0123"
TEAMS_PATH = "/teams/teiki-alerts"
CHATWORK_TOKEN = "chatwork-test-token-5e6f7a8b"
CHATWORK_ROOM = "123456"


@dataclass(frozen=True)
class Posted:
    format: str
    hook: str
    text: str


class WebhookServer(LocalHttpServer):
    def __init__(self, *, per_second: float = 1.0, burst: int = 3) -> None:
        super().__init__()
        self.per_second, self.burst = per_second, burst
        self.posted: list[Posted] = []
        self.rate_limited = 0
        self.archived: set[str] = set()
        self._buckets: dict[str, tuple[float, float]] = {}
        self._state = threading.Lock()
        self._next_id = 1000

    @property
    def slack_url(self) -> str:
        return self.url + SLACK_PATH

    @property
    def teams_url(self) -> str:
        return self.url + TEAMS_PATH

    def archive(self, path: str = SLACK_PATH) -> None:
        self.archived.add(path)

    def _allow(self, hook: str) -> bool:
        now = time.monotonic()
        with self._state:
            tokens, t = self._buckets.get(hook, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - t) * self.per_second)
            if tokens < 1.0:
                self._buckets[hook] = (tokens, now)
                self.rate_limited += 1
                return False
            self._buckets[hook] = (tokens - 1.0, now)
            return True

    def handle(self, req: Request) -> Reply:
        if req.method != "POST":
            return Reply(405, "method_not_allowed")
        if req.path.startswith("/services/"):
            return self._slack(req)
        if req.path.startswith("/teams/"):
            return self._teams(req)
        if req.path.startswith("/v2/rooms/"):
            return self._chatwork(req)
        return Reply(404, "no_service")

    def _slack(self, req: Request) -> Reply:
        if req.path != SLACK_PATH:
            return Reply(404, "no_service")
        if req.path in self.archived:
            return Reply(410, "channel_is_archived")
        try:
            body = req.json()
        except ValueError:
            return Reply(400, "invalid_payload")
        if not isinstance(body, dict) or not (isinstance(body.get("text"), str) and body["text"]) and not body.get("blocks"):
            return Reply(400, "invalid_payload")
        if not self._allow(req.path):
            return Reply(429, "rate_limited", {"Retry-After": "1"})
        with self._state:
            self.posted.append(Posted("slack", req.path, body.get("text") or ""))
        return Reply(200, "ok")

    def _teams(self, req: Request) -> Reply:
        try:
            body = req.json()
            att = body["attachments"][0]
            ok = (body.get("type") == "message" and att["contentType"] == "application/vnd.microsoft.card.adaptive"
                  and att["content"]["type"] == "AdaptiveCard")
            text = "\n".join(b.get("text", "") for b in att["content"]["body"])
        except (ValueError, KeyError, IndexError, TypeError):
            ok = False
        if not ok:
            return Reply(400, "Bad payload: expected a message with an Adaptive Card attachment")
        if not self._allow(req.path):
            return Reply(429, "Too many requests", {"Retry-After": "1"})
        with self._state:
            self.posted.append(Posted("teams", req.path, text))
        return Reply(202, b"")

    def _chatwork(self, req: Request) -> Reply:
        if req.headers.get("x-chatworktoken") != CHATWORK_TOKEN:
            return Reply(401, {"errors": ["Invalid API Token"]})
        parts = req.path.strip("/").split("/")
        if len(parts) != 4 or parts[3] != "messages" or parts[2] != CHATWORK_ROOM:
            return Reply(404, {"errors": ["Resource Not Found"]})
        form = parse_qs(req.body.decode("utf-8"))
        text = (form.get("body") or [""])[0]
        if not text:
            return Reply(400, {"errors": ["Parameter body is required"]})
        if not self._allow(req.path):
            return Reply(429, {"errors": ["Rate limit exceeded"]}, {"Retry-After": "1"})
        with self._state:
            self.posted.append(Posted("chatwork", req.path, text))
            self._next_id += 1
            mid = str(self._next_id)
        return Reply(200, {"message_id": mid})
