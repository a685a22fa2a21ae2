"""Authentication strategies and secret redaction for :class:`connectors.http.HttpClient`.

An auth strategy adds its headers to every request and lists its secrets, which the client then
scrubs from every URL, body excerpt, log line and exception it produces::

    HeaderTokenAuth("X-Shopify-Access-Token", token)   # Shopify Admin API
    HeaderTokenAuth("X-Recharge-Access-Token", token)  # Recharge
    BearerAuth(token)                                   # OAuth 2 bearer (カラーミーショップ)
    Auth()                                              # no credentials (the client's default)

``repr()`` of a strategy never shows the token.
"""

from __future__ import annotations

import re
from typing import Iterable, MutableMapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "Auth",
    "BearerAuth",
    "HeaderTokenAuth",
    "REDACTED",
    "SENSITIVE_HEADERS",
    "SENSITIVE_PARAMS",
    "Redactor",
]

REDACTED = "***"

#: Header names whose values are always redacted (lower case).
SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-shopify-access-token",
        "x-recharge-access-token",
        "x-api-key",
        "api-key",
    }
)

#: Query parameter names whose values are always redacted (lower case).
SENSITIVE_PARAMS = frozenset(
    {
        "access_token",
        "token",
        "api_key",
        "apikey",
        "key",
        "secret",
        "client_secret",
        "password",
        "signature",
        "sig",
        "code",
        "refresh_token",
    }
)


class Auth:
    """Base strategy: no headers, no secrets."""

    def apply(self, headers: MutableMapping[str, str]) -> None:
        """Add this strategy's headers to an outgoing request."""

    def secrets(self) -> tuple[str, ...]:
        """Values to scrub from anything the client reports."""
        return ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class HeaderTokenAuth(Auth):
    """A static token in a named header, e.g. ``X-Shopify-Access-Token: shpat_...``."""

    def __init__(self, header: str, token: str) -> None:
        if not token:
            raise ValueError(f"{header}: empty token")
        self.header = header
        self._token = token

    def apply(self, headers: MutableMapping[str, str]) -> None:
        headers[self.header] = self._token

    def secrets(self) -> tuple[str, ...]:
        return (self._token,)

    def __repr__(self) -> str:
        return f"HeaderTokenAuth(header={self.header!r}, token={REDACTED!r})"


class BearerAuth(Auth):
    """``Authorization: Bearer <token>`` (OAuth 2 access token)."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("BearerAuth: empty token")
        self._token = token

    def apply(self, headers: MutableMapping[str, str]) -> None:
        headers["Authorization"] = f"Bearer {self._token}"

    def secrets(self) -> tuple[str, ...]:
        return (self._token,)

    def __repr__(self) -> str:
        return f"BearerAuth(token={REDACTED!r})"


class Redactor:
    """Scrubs known secret values and sensitive query parameters / headers from text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Short values (< 4 chars) would shred ordinary text; tokens are never that short.
        vals = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in vals)) if vals else None

    def text(self, value: str | None) -> str | None:
        if value is None or self._pattern is None:
            return value
        return self._pattern.sub(REDACTED, value)

    def url(self, url: str) -> str:
        try:
            parts = urlsplit(url)
        except ValueError:
            return self.text(url) or ""
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode(
                [(k, REDACTED if k.lower() in SENSITIVE_PARAMS else v) for k, v in pairs],
                safe="*:/,",
            )
        netloc = parts.netloc
        if "@" in netloc:  # user:password@host
            netloc = REDACTED + "@" + netloc.rsplit("@", 1)[1]
        return self.text(urlunsplit((parts.scheme, netloc, parts.path, query, ""))) or ""

    def headers(self, headers: MutableMapping[str, str] | dict) -> dict[str, str]:
        return {
            k: (REDACTED if k.lower() in SENSITIVE_HEADERS else (self.text(str(v)) or ""))
            for k, v in headers.items()
        }
