"""HttpClient: one ``requests`` session with timeouts, retries, throttling, auth and redaction.

    from connectors.http import HttpClient, HeaderTokenAuth, CostBasedThrottle

    client = HttpClient(
        "https://example.myshopify.com/admin/api/2025-10",
        auth=HeaderTokenAuth("X-Shopify-Access-Token", token),
        throttle=CostBasedThrottle(1000, 50),
        log=print,                       # retries and waits are reported here (redacted)
    )
    data = client.post_json("graphql.json", json={"query": q, "variables": v})
    resp = client.request("GET", "https://other.host/full/url", params={"page": 2})

Behaviour
- ``path_or_url``: a path is joined to ``base_url``; an absolute URL (a ``Link: rel=next`` URL,
  a bulk-operation download) is used as is — auth headers are only sent to ``base_url``'s host.
- Timeouts: ``timeout=(connect, read)`` seconds per attempt, (5, 30) by default: the read
  timeout is the longest silence between two bytes of the answer, not the whole download.
- Retries (up to ``max_retries`` after the first attempt) on 429, 5xx, connection errors and
  timeouts. The wait is ``Retry-After`` when the response has one (seconds or an HTTP date,
  capped at ``retry_after_max``; longer raises RateLimitError at once), else exponential
  backoff ``min(backoff_max, backoff_base * 2**n)`` with equal jitter. ``retry=False`` on a call
  disables retries (non-idempotent POSTs of outbound channels).
- Retry budget: one request (all its attempts, timeouts and waits) takes at most
  ``retry_budget`` seconds of wall clock (90 by default; None: no limit). A wait that would end
  past it is not started: the last error is raised at once, saying so; each attempt's timeouts
  are cut to what is left. So a provider that accepts connections and never answers fails in
  about the budget, not in ``(max_retries + 1) * read timeout`` plus the backoff.
- ``provider`` (e.g. "Recharge") starts every error message, so a failed run says whose API
  failed.
- 401/403 raise :class:`AuthError` at once, with the provider's message (often the missing scope).
- Other 4xx raise :class:`HttpError`; exhausted retries raise RateLimitError / ServerError /
  TransportError; a non-JSON body in ``get_json``/``post_json`` raises ResponseFormatError.
- Secrets (the auth strategy's token, sensitive query parameters, sensitive headers) never appear
  in exceptions, log lines or ``repr(client)``.
- ``sleep`` (backoff waits), ``clock`` (the budget's) and ``rng`` (jitter) are injectable so
  tests run fast against a real local server.
"""

from __future__ import annotations

import email.utils
import json as jsonlib
import logging
import os
import random
import re
import time
from datetime import datetime, timezone
from typing import Any, Callable, Mapping
from urllib.parse import urljoin, urlsplit

import requests

from .auth import Auth, Redactor
from .errors import (
    AuthError,
    HttpError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    TransportError,
)
from .throttle import Throttle

__all__ = ["HttpClient", "parse_retry_after", "DEFAULT_USER_AGENT"]

DEFAULT_USER_AGENT = "teiki-connectors/0.1 (+https://github.com/teiki)"
REQUEST_ID_HEADERS = ("X-Request-Id", "X-Request-ID", "Request-Id", "X-Amzn-Requestid", "X-Trace-Id")
BODY_EXCERPT_CHARS = 300

_logger = logging.getLogger("connectors.http")


class _RedactingFilter(logging.Filter):
    """Scrubs every live client's secrets (and sensitive query parameters) from log records of
    the loggers that see URLs: urllib3 logs full request URLs at DEBUG level."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets and "?" not in str(record.msg):
            return True
        try:
            text = record.getMessage()
        except Exception:
            return True
        clean = Redactor(self.secrets).text(text) or ""
        clean = _QUERY_SECRET.sub(lambda m: m.group(1) + "***", clean)
        if clean != text:
            record.msg, record.args = clean, None
        return True


_QUERY_SECRET = re.compile(
    r"([?&](?:access_token|token|api_key|apikey|key|secret|client_secret|password|signature|"
    r"sig|code|refresh_token)=)[^&\s\"']*", re.IGNORECASE)
_FILTER = _RedactingFilter()
for _name in ("urllib3.connectionpool", "urllib3", "connectors.http"):
    logging.getLogger(_name).addFilter(_FILTER)


def parse_retry_after(value: str | None, *, now: Callable[[], datetime] | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP date. None if absent
    or unparseable; never negative."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = now() if now else datetime.now(timezone.utc)
    return max(0.0, (when - current).total_seconds())


class HttpClient:
    """See the module docstring. Thread-compatible, not thread-safe (one per sync)."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: Auth | None = None,
        throttle: Throttle | None = None,
        timeout: float | tuple[float, float] = (5, 30),
        max_retries: int = 5,
        retry_budget: float | None = 90.0,
        provider: str | None = None,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        retry_after_max: float = 300.0,
        retry_statuses: frozenset[int] | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        default_headers: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        log: Callable[[str], None] | None = None,
        error_message: Callable[[requests.Response], str | None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.auth = auth or Auth()
        self.throttle = throttle
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry_budget = retry_budget
        self.provider = provider
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.retry_after_max = retry_after_max
        self.retry_statuses = retry_statuses
        self.user_agent = user_agent
        self.default_headers = dict(default_headers or {})
        if session is None:
            # requests reads the environment (proxy variables, no_proxy, the CA bundle, ~/.netrc)
            # again on every request when trust_env is on (about 0.45 ms of CPU a LINE push). Read once
            # per host instead (:meth:`_environment_for`); ~/.netrc is never read: every
            # provider's credentials come from Teiki's own settings.
            session = requests.Session()
            session.trust_env = False
            self._env_settings: dict[str, dict[str, Any]] | None = {}
        else:
            self._env_settings = None  # a caller's session keeps its own settings
        self.session = session
        self.sleep = sleep
        self.clock = clock
        self.rng = rng or random.Random()
        self.log = log
        self.error_message = error_message
        self.redactor = Redactor(self.auth.secrets())
        _FILTER.secrets.update(s for s in self.auth.secrets() if s and len(s) >= 4)
        self._host = urlsplit(self.base_url).netloc
        # counters, handy for benchmarks and tests
        self.requests_sent = 0
        self.retries = 0
        self.slept = 0.0

    def __repr__(self) -> str:
        return f"HttpClient({self.redactor.url(self.base_url)!r}, auth={self.auth!r})"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "HttpClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- public API ----------------------------------------------------------------------------
    def url_for(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return urljoin(self.base_url, path_or_url.lstrip("/"))

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        cost: float = 1.0,
        retry: bool = True,
        stream: bool = False,
        ok_statuses: frozenset[int] | None = None,
    ) -> requests.Response:
        """Send one request (with retries) and return the 2xx response (or a status listed in
        ``ok_statuses``). ``cost`` is what the throttle charges before each attempt."""
        method = method.upper()
        url = self.url_for(path_or_url)
        send_headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
        send_headers.update(self.default_headers)
        if urlsplit(url).netloc == self._host:
            self.auth.apply(send_headers)
        if headers:
            send_headers.update(headers)
        shown_url = self.redactor.url(_with_params(url, params))
        attempts = 0
        started = self.clock()
        while True:
            attempts += 1
            if self.throttle is not None:
                self.throttle.acquire(cost)
            self.requests_sent += 1
            timeout = self._attempt_timeout(started)
            try:
                resp = self.session.request(
                    method, url, params=params, json=json, data=data, headers=send_headers,
                    timeout=timeout, stream=stream, **self._environment_for(url),
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                # the configured timeouts, not this attempt's cut to the budget: that is in the note
                kind, what = _transport_failure(exc, self.timeout)
                if retry and attempts <= self.max_retries:
                    wait = self._backoff(attempts)
                    if self._fits_budget(started, wait):
                        self._wait(wait, f"{kind} on {method} {shown_url}", attempts)
                        continue
                    what += f" ({self._budget_note(started, attempts)})"
                raise TransportError(
                    self._named(_short(self._scrub(what), 400)), method=method, url=shown_url,
                    attempts=attempts,
                ) from None
            except requests.RequestException as exc:
                raise HttpError(
                    self._named(f"{type(exc).__name__}: {_short(self._scrub(str(exc)))}"),
                    method=method, url=shown_url, attempts=attempts,
                ) from None
            if self.throttle is not None:
                self.throttle.observe(resp)
            status = resp.status_code
            if 200 <= status < 300 or (ok_statuses and status in ok_statuses):
                return resp
            retryable = status == 429 or status >= 500
            if self.retry_statuses is not None:
                retryable = status in self.retry_statuses
            retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            if retryable and retry and attempts <= self.max_retries:
                if retry_after is not None and retry_after > self.retry_after_max:
                    raise self.error_for(resp, method, shown_url, attempts,
                                         note=f"Retry-After {retry_after:.0f}s exceeds "
                                              f"retry_after_max {self.retry_after_max:.0f}s")
                wait = retry_after if retry_after is not None else self._backoff(attempts)
                if not self._fits_budget(started, wait):
                    raise self.error_for(resp, method, shown_url, attempts,
                                         note=self._budget_note(started, attempts, wait))
                resp.close()
                self._wait(wait, f"HTTP {status} on {method} {shown_url}", attempts)
                continue
            raise self.error_for(resp, method, shown_url, attempts)

    def _attempt_timeout(self, started: float) -> float | tuple[float, float]:
        """This attempt's (connect, read) timeouts, cut to what is left of the retry budget."""
        if self.retry_budget is None:
            return self.timeout
        left = max(0.05, self.retry_budget - (self.clock() - started))
        connect, read = self.timeout if isinstance(self.timeout, tuple) else (self.timeout, self.timeout)
        return (min(connect, left), min(read, left))

    def _fits_budget(self, started: float, wait: float) -> bool:
        """Whether waiting ``wait`` more seconds still ends inside the retry budget."""
        return self.retry_budget is None or self.clock() - started + wait < self.retry_budget

    def _budget_note(self, started: float, attempts: int, wait: float | None = None) -> str:
        spent = self.clock() - started
        asked = f"; the next wait of {wait:.1f} s would pass it" if wait is not None else ""
        return (f"gave up after {attempts} attempt{'s' if attempts > 1 else ''} in {spent:.1f} s: "
                f"the retry budget is {self.retry_budget:g} s{asked}")

    def _scrub(self, text: str) -> str:
        """``text`` without this client's secrets; always before any shortening (see error_for)."""
        return self.redactor.text(text) or ""

    def _named(self, message: str) -> str:
        return f"{self.provider}: {message}" if self.provider else message

    def _environment_for(self, url: str) -> dict[str, Any]:
        """What requests would take from the environment for this URL's host: its proxies
        (honouring no_proxy) and the CA bundle of REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE."""
        if self._env_settings is None:
            return {}
        host = urlsplit(url).netloc
        found = self._env_settings.get(host)
        if found is None:
            found = {"proxies": requests.utils.get_environ_proxies(url),
                     "verify": os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True}
            self._env_settings[host] = found
        return found

    def get_json(self, path_or_url: str, *, params: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None, **kw: Any) -> Any:
        resp = self.request("GET", path_or_url, params=params, headers=headers, **kw)
        return self.decode_json(resp, "GET", path_or_url, params)

    def post_json(self, path_or_url: str, *, json: Any = None,
                  params: Mapping[str, Any] | None = None,
                  headers: Mapping[str, str] | None = None, **kw: Any) -> Any:
        resp = self.request("POST", path_or_url, params=params, json=json, headers=headers, **kw)
        return self.decode_json(resp, "POST", path_or_url, params)

    def decode_json(self, resp: requests.Response, method: str, path_or_url: str,
                    params: Mapping[str, Any] | None = None) -> Any:
        try:
            return jsonlib.loads(resp.content.decode(resp.encoding or "utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ResponseFormatError(
                self._named(f"malformed JSON in the response ({type(exc).__name__}: "
                            f"{_short(self._scrub(str(exc)), 120)})"),
                method=method,
                url=self.redactor.url(_with_params(self.url_for(path_or_url), params)),
                status=resp.status_code,
                body_excerpt=self._excerpt(resp),
                request_id=_request_id(resp),
            ) from None

    def redact(self, text: str | None) -> str | None:
        """Scrub this client's secrets from a text (for connectors' own messages)."""
        return self.redactor.text(text)

    # -- helpers -------------------------------------------------------------------------------
    def error_for(self, resp: requests.Response, method: str, shown_url: str, attempts: int,
                  note: str | None = None) -> HttpError:
        status = resp.status_code
        provider = None
        if self.error_message is not None:
            try:
                provider = self.error_message(resp)
            except Exception:  # a hook must never mask the real error
                provider = None
        if provider is None:
            provider = _generic_error_message(resp)
        # Scrubbed whole, then shortened: cut first, a token at the cut would survive in part.
        provider = _short(self._scrub(provider), 200) if provider else provider
        if status in (401, 403):
            cls: type[HttpError] = AuthError
            what = ("unauthorized (401): the access token is missing, wrong or revoked"
                    if status == 401 else
                    "forbidden (403): the token lacks a permission (scope) this request needs")
        elif status == 429:
            cls, what = RateLimitError, "rate limited (429)"
        elif status >= 500:
            cls, what = ServerError, f"server error ({status})"
        else:
            cls, what = HttpError, f"HTTP {status}"
        message = what + (f": {provider}" if provider else "")
        if note:
            message += f" ({note})"
        return cls(
            self._named(message),
            method=method,
            url=shown_url,
            status=status,
            body_excerpt=self._excerpt(resp),
            request_id=_request_id(resp),
            retry_after=parse_retry_after(resp.headers.get("Retry-After")),
            attempts=attempts,
            provider_message=provider or None,
        )

    def _excerpt(self, resp: requests.Response) -> str | None:
        try:
            # A wide window, scrubbed, then shortened: whitespace collapses, so a narrow cut
            # could leave a piece of a token inside the excerpt.
            text = resp.content[:65536].decode(resp.encoding or "utf-8", "replace")
        except Exception:
            return None
        return _short(self._scrub(text), BODY_EXCERPT_CHARS) or None

    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return delay / 2 + self.rng.uniform(0, delay / 2)

    def _wait(self, seconds: float, why: str, attempt: int) -> None:
        self.retries += 1
        self.slept += seconds
        msg = f"retry {attempt}/{self.max_retries} in {seconds:.2f}s after {why}"
        if self.log is not None:
            self.log(msg)
        else:
            _logger.info(msg)
        self.sleep(seconds)


def _transport_failure(exc: Exception, timeout: float | tuple[float, float]) -> tuple[str, str]:
    """(a few words for the retry log line, the error's text) when no answer came; a timeout
    says which one and how long it was."""
    connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    if isinstance(exc, requests.ConnectTimeout):
        return "connect timeout", f"timed out: no connection within the connect timeout of {connect:g} s"
    # a read timeout while the body arrives surfaces as a ConnectionError
    if isinstance(exc, requests.Timeout) or "Read timed out" in str(exc):
        return "read timeout", f"timed out: no answer within the read timeout of {read:g} s"
    return type(exc).__name__, f"{type(exc).__name__}: {exc}"


def _with_params(url: str, params: Mapping[str, Any] | None) -> str:
    if not params:
        return url
    prepared = requests.Request("GET", url, params=params).prepare()
    return prepared.url or url


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _request_id(resp: requests.Response) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = resp.headers.get(name)
        if value:
            return value[:100]
    return None


def _generic_error_message(resp: requests.Response) -> str | None:
    """The provider's error text from common JSON shapes: errors / error / message / detail."""
    try:
        body = resp.json()
    except ValueError:
        return None
    return _find_message(body)


def _find_message(body: Any) -> str | None:
    """The provider's text, whole: the caller scrubs secrets from it, then shortens it."""
    if isinstance(body, str):
        return body
    if isinstance(body, list):
        msgs = [m for m in (_find_message(b) for b in body[:3]) if m]
        return "; ".join(msgs) or None
    if isinstance(body, dict):
        for key in ("errors", "error", "message", "error_description", "detail", "description"):
            if key in body:
                found = _find_message(body[key])
                if found:
                    return found
    return None
