"""A local LINE Messaging API server (push and multicast) on 127.0.0.1, for the LINE channel.

Follows the public reference (Messaging API reference, https://developers.line.biz/en/reference/messaging-api/):

- ``POST /v2/bot/message/push`` ``{"to": userId, "messages": [1-5 message objects],
  "notificationDisabled"?: bool}`` -> 200 ``{"sentMessages": [{"id", "quoteToken"}]}``
  (#send-push-message); ``POST /v2/bot/message/multicast`` ``{"to": [1-500 userIds],
  "messages": [...]}`` -> 200 ``{}`` (#send-multicast-message).
- ``Authorization: Bearer <channel access token>``; wrong or missing -> 401
  ``{"message": "Authentication failed. ..."}``.
- ``X-Line-Retry-Key``: a UUID in hexadecimal form; the request is executed once per key; a
  repeat gets 409 with ``x-line-accepted-request-id`` (the accepted request's id) and, for
  push, the accepted ``sentMessages`` (https://developers.line.biz/en/docs/messaging-api/retrying-api-request/).
  Not a UUID -> 400.
- Every response has ``x-line-request-id``. Error bodies are ``{"message", "details"?:
  [{"message", "property"}]}`` (#error-responses): e.g. 400 "The request body has 1 error(s)"
  with ``messages[0].text`` "Length must be between 1 and 5000".
- Rate limits per channel and endpoint: push 2,000 requests per second, multicast 200 per
  second (#rate-limits) -> 429 ``{"message": "The API rate limit has been exceeded. Try again
  later."}``. A monthly message quota (``monthly_quota``) -> 429 ``{"message": "You have reached
  your monthly limit."}``; a 429 delivers nothing (handling-http-429-errors).

What the users received is :attr:`LineServer.delivered`: one entry per (user, accepted request),
which is what the exactly-once tests count. Faults: :meth:`fail` from the base
(``"drop_after"`` = accepted, answer lost), :meth:`gate`. Run as its own process
(``python -m connectors.testing.line_server``, prints its URL), ``GET /_teiki/delivered`` lists
the deliveries.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

from connectors.testing.http_base import DROP, LocalHttpServer, Reply, Request

TOKEN = "line-test-channel-token-4f3e2d1c"
PUSH, MULTICAST = "/v2/bot/message/push", "/v2/bot/message/multicast"
# Not LINE's: what a test in another process reads to count deliveries.
INSPECT = "/_teiki/delivered"
RATE_LIMITS = {PUSH: 2000, MULTICAST: 200}
USER_ID = re.compile(r"^U[0-9a-f]{32}$")
UUID_HEX = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MESSAGE_TYPES = {"text", "sticker", "image", "video", "audio", "location", "imagemap", "template", "flex"}


@dataclass(frozen=True)
class Delivered:
    user_id: str
    messages: tuple  # the message objects, as sent
    request_id: str
    retry_key: str | None


def user_id_for(customer_key: str) -> str:
    """A well-formed LINE user id for a demo customer (U + 32 hex), stable per customer."""
    return "U" + uuid.uuid5(uuid.NAMESPACE_URL, f"teiki-demo-line:{customer_key}").hex


class LineServer(LocalHttpServer):
    def __init__(self, *, token: str = TOKEN, rate_limits: dict[str, int] | None = None,
                 monthly_quota: int | None = None) -> None:
        super().__init__()
        self.token = token
        self.rate_limits = dict(RATE_LIMITS if rate_limits is None else rate_limits)
        self.monthly_quota = monthly_quota
        self.delivered: list[Delivered] = []
        self.rate_limited = 0
        self._accepted: dict[str, tuple[str, Any]] = {}  # retry key -> (request id, response body)
        self._windows: dict[str, deque[float]] = {p: deque() for p in self.rate_limits}
        self._state = threading.Lock()
        self._handled = 0

    def handle(self, req: Request) -> Reply:
        # Gates for the kill tests: ("request", n) holds the n-th push/multicast before it is
        # handled (drop() abandons it), ("accepted", n) holds the reply after the n-th was accepted.
        with self._state:
            self._handled += 1
            n_request = self._handled
        gate = self.gates.get(("request", n_request))
        if gate is not None:
            gate.hold()
            if gate.dropped:
                return DROP
        reply = self._handle(req)
        if reply.status == 200:
            self.at_gate("accepted", n_request)
        return reply

    def _handle(self, req: Request) -> Reply:
        request_id = str(uuid.uuid4())
        rid = {"x-line-request-id": request_id}
        if req.method == "GET" and req.path == INSPECT:
            with self._state:
                return Reply(200, [{"user_id": d.user_id, "messages": list(d.messages),
                                    "request_id": d.request_id, "retry_key": d.retry_key}
                                   for d in self.delivered], rid)
        if req.method != "POST" or req.path not in (PUSH, MULTICAST):
            return Reply(404, {"message": "Not found"}, rid)
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(401, {"message": "Authentication failed. Confirm that the access token "
                                          "in the authorization header is valid."}, rid)
        if self._over_rate(req.path):
            return Reply(429, {"message": "The API rate limit has been exceeded. Try again later."}, rid)
        retry_key = req.headers.get("x-line-retry-key")
        if retry_key is not None and not UUID_HEX.match(retry_key):
            return Reply(400, {"message": "The value for the 'X-Line-Retry-Key' header is invalid"}, rid)
        if not req.headers.get("content-type", "").startswith("application/json"):
            return Reply(400, {"message": "The request body has 1 error(s)",
                               "details": [{"message": "must be application/json", "property": "Content-Type"}]}, rid)
        try:
            body = req.json()
        except ValueError:
            return Reply(400, {"message": "The request body is invalid JSON"}, rid)
        errors = _validate(req.path, body)
        if errors:
            return Reply(400, {"message": f"The request body has {len(errors)} error(s)",
                               "details": [{"message": m, "property": p} for p, m in errors]}, rid)
        recipients = [body["to"]] if req.path == PUSH else list(body["to"])
        with self._state:
            if retry_key is not None and retry_key in self._accepted:
                accepted_id, accepted_body = self._accepted[retry_key]
                conflict: dict[str, Any] = {"message": "The retry key is already accepted"}
                if req.path == PUSH:
                    conflict["sentMessages"] = accepted_body["sentMessages"]
                return Reply(409, conflict, {**rid, "x-line-accepted-request-id": accepted_id})
            if self.monthly_quota is not None and len(self.delivered) + len(recipients) > self.monthly_quota:
                return Reply(429, {"message": "You have reached your monthly limit."}, rid)
            messages = tuple(body["messages"])
            for user in recipients:
                self.delivered.append(Delivered(user, messages, request_id, retry_key))
            if req.path == PUSH:
                out: Any = {"sentMessages": [{"id": str(461230966842064897 + len(self.delivered) * 7 + i),
                                              "quoteToken": uuid.uuid4().hex}
                                             for i in range(len(messages))]}
            else:
                out = {}
            if retry_key is not None:
                self._accepted[retry_key] = (request_id, out)
        return Reply(200, out, rid)

    def _over_rate(self, path: str) -> bool:
        limit = self.rate_limits.get(path)
        if not limit:
            return False
        now = time.monotonic()
        with self._state:
            window = self._windows[path]
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= limit:
                self.rate_limited += 1
                return True
            window.append(now)
            return False

    def received_by(self, user_id: str) -> list[Delivered]:
        with self._state:
            return [d for d in self.delivered if d.user_id == user_id]


def _validate(path: str, body: Any) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    if not isinstance(body, dict):
        return [("", "The request body must be a JSON object")]
    to = body.get("to")
    if path == PUSH:
        if not isinstance(to, str) or not to:
            errors.append(("to", "May not be empty"))
        elif not USER_ID.match(to):
            errors.append(("to", "The property, 'to', in the request body is invalid"))
    else:
        if not isinstance(to, list) or not to:
            errors.append(("to", "Size must be between 1 and 500"))
        elif len(to) > 500:
            errors.append(("to", "Size must be between 1 and 500"))
        else:
            errors += [(f"to[{i}]", "invalid user id") for i, u in enumerate(to)
                       if not isinstance(u, str) or not USER_ID.match(u)]
    messages = body.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
        errors.append(("messages", "Size must be between 1 and 5"))
        return errors
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("type") not in MESSAGE_TYPES:
            errors.append((f"messages[{i}].type", "Must be one of the following values: " + ", ".join(sorted(MESSAGE_TYPES))))
        elif m["type"] == "text":
            text = m.get("text")
            if not isinstance(text, str) or not 1 <= len(text) <= 5000:
                errors.append((f"messages[{i}].text", "Length must be between 1 and 5000"))
        elif m["type"] in ("template", "flex") and not (isinstance(m.get("altText"), str) and 1 <= len(m["altText"]) <= 1500):
            errors.append((f"messages[{i}].altText", "Length must be between 1 and 1500"))
    if "notificationDisabled" in body and not isinstance(body["notificationDisabled"], bool):
        errors.append(("notificationDisabled", "must be a boolean"))
    return errors


def main() -> None:
    """Run as its own process (kill-and-resume tests): prints the URL, serves until killed."""
    srv = LineServer().start()
    print(srv.url, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
