"""Structured HTTP errors: which request failed, how, and what the provider said — never a secret.

Every error carries ``method``, ``url`` (redacted: tokens in the query string replaced by
``***``), ``status`` (None when no response arrived), ``body_excerpt`` (the first 300 characters
of the response body, redacted) and ``request_id`` (the provider's request id header, if any),
so a failed Dagster run says which call failed and why. Exceptions do not keep the
``requests.Response`` (its ``request.headers`` would hold the token).

    HttpError                 any failure of a request (other 4xx, or a final failure)
    ├── AuthError             401 / 403: bad token, or a missing scope (named when the provider says)
    ├── RateLimitError        429 still returned after the last retry, or Retry-After too long
    ├── ServerError           5xx still returned after the last retry
    ├── TransportError        no response: connection refused/reset, timeout
    └── ResponseFormatError   a 2xx whose body is not the JSON expected (malformed, wrong shape)
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "HttpError",
    "RateLimitError",
    "ResponseFormatError",
    "ServerError",
    "TransportError",
]


class HttpError(Exception):
    """A request failed. ``str(err)`` is one line: what, the request, status, request id, body."""

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        status: int | None = None,
        body_excerpt: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        attempts: int | None = None,
        provider_message: str | None = None,
    ) -> None:
        self.message = message
        # What the provider itself said (redacted), for connectors that reword the error.
        self.provider_message = provider_message
        self.method = method
        self.url = url
        self.status = status
        self.body_excerpt = body_excerpt
        self.request_id = request_id
        self.retry_after = retry_after
        self.attempts = attempts
        super().__init__(self._render())

    def _render(self) -> str:
        parts = [self.message]
        if self.method or self.url:
            parts.append(f"request: {self.method or '?'} {self.url or '?'}")
        if self.status is not None:
            parts.append(f"status: {self.status}")
        if self.attempts and self.attempts > 1:
            parts.append(f"attempts: {self.attempts}")
        if self.request_id:
            parts.append(f"request id: {self.request_id}")
        if self.body_excerpt:
            parts.append(f"body: {self.body_excerpt}")
        return " | ".join(parts)

    def __reduce__(self):  # picklable across processes (Dagster step failures)
        return (
            _rebuild,
            (
                type(self),
                self.message,
                dict(
                    method=self.method,
                    url=self.url,
                    status=self.status,
                    body_excerpt=self.body_excerpt,
                    request_id=self.request_id,
                    retry_after=self.retry_after,
                    attempts=self.attempts,
                    provider_message=self.provider_message,
                ),
            ),
        )

    def reworded(self, message: str) -> HttpError:
        """The same failure (same class and request details) with a connector's own explanation,
        e.g. which scope or token setting to fix."""
        return type(self)(
            message, method=self.method, url=self.url, status=self.status,
            body_excerpt=self.body_excerpt, request_id=self.request_id,
            retry_after=self.retry_after, attempts=self.attempts,
            provider_message=self.provider_message,
        )


def _rebuild(cls, message, kwargs):
    return cls(message, **kwargs)


class AuthError(HttpError):
    """401 or 403: the token is wrong/revoked, or the app lacks a scope. Not retried."""


class RateLimitError(HttpError):
    """Rate limited (429, or a provider's throttle error) after the retries ran out."""


class ServerError(HttpError):
    """5xx after the retries ran out."""


class TransportError(HttpError):
    """No HTTP response: connection error or timeout, after the retries ran out."""


class ResponseFormatError(HttpError):
    """The response is not the JSON (or shape) expected: malformed JSON, missing keys."""
