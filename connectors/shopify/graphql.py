"""ShopifyGraphQL: the Admin GraphQL endpoint over the shared HTTP core, with cost throttling.

    gql = ShopifyGraphQL(shop="example", token=token)          # or base_url= for a local server
    data = gql.execute(PAGE_QUERIES["orders"], {"first": 25, "query": q}, operation="Orders")

- Endpoint ``https://{shop}.myshopify.com/admin/api/{API_VERSION}/graphql.json``, header
  ``X-Shopify-Access-Token`` (https://shopify.dev/docs/api/admin-graphql#authentication).
- Cost: every response's ``extensions.cost.throttleStatus`` (``maximumAvailable``,
  ``currentlyAvailable``, ``restoreRate``) feeds a :class:`CostBasedThrottle`; before each call
  the throttle waits until the budget covers that operation's last ``requestedQueryCost``.
  A ``THROTTLED`` error (HTTP 200, ``errors[].extensions.code``) is retried after the wait the
  reported status implies; HTTP 429/5xx are retried by the HTTP core (Retry-After honoured).
  https://shopify.dev/docs/api/usage/limits , https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits
- ``ACCESS_DENIED`` errors and HTTP 401/403 raise :class:`AuthError` naming the scope Shopify
  asks for; other GraphQL errors raise :class:`ShopifyGraphQLError`.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping

import requests

from connectors.http import (
    AuthError,
    CostBasedThrottle,
    HeaderTokenAuth,
    HttpClient,
    HttpError,
    RateLimitError,
    ResponseFormatError,
)

__all__ = ["API_VERSION", "ShopifyGraphQL", "ShopifyGraphQLError", "shop_base_url"]

#: Pinned Admin API version (released 2026-10-01, supported for 12 months).
API_VERSION = "2026-10"


class ShopifyGraphQLError(HttpError):
    """The GraphQL response carried ``errors`` (other than THROTTLED / ACCESS_DENIED)."""


def shop_base_url(shop: str, api_version: str = API_VERSION) -> str:
    """'example' or 'example.myshopify.com' -> https://example.myshopify.com/admin/api/<v>/"""
    host = shop.strip().removeprefix("https://").removeprefix("http://").rstrip("/")
    if "." not in host:
        host = f"{host}.myshopify.com"
    return f"https://{host}/admin/api/{api_version}/"


def _shopify_error_message(resp: requests.Response) -> str | None:
    """Shopify REST-style errors: {"errors": "..."} or {"errors": {"field": [...]}}."""
    try:
        body = resp.json()
    except ValueError:
        return None
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, str):
        return errors
    if isinstance(errors, list):
        return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e)
                         for e in errors[:3])
    if isinstance(errors, dict):
        return "; ".join(f"{k}: {v}" for k, v in list(errors.items())[:3])
    return None


class ShopifyGraphQL:
    def __init__(
        self,
        *,
        token: str,
        shop: str | None = None,
        base_url: str | None = None,
        api_version: str = API_VERSION,
        throttle: CostBasedThrottle | None = None,
        max_throttled_retries: int = 20,
        log: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        **http_options: Any,
    ) -> None:
        if base_url is None:
            if not shop:
                raise ValueError("ShopifyGraphQL needs shop= or base_url=")
            base_url = shop_base_url(shop, api_version)
        else:
            base_url = base_url.rstrip("/") + f"/admin/api/{api_version}/" \
                if "/admin/api/" not in base_url else base_url
        self.api_version = api_version
        # Standard plan figures until the first response reports the real ones.
        self.throttle = throttle or CostBasedThrottle(1000, 100, sleep=sleep, clock=clock)
        self.http = HttpClient(
            base_url,
            auth=HeaderTokenAuth("X-Shopify-Access-Token", token),
            throttle=self.throttle,
            sleep=sleep,
            log=log,
            error_message=_shopify_error_message,
            provider="Shopify",
            **http_options,
        )
        self.max_throttled_retries = max_throttled_retries
        self.log = log or (lambda _m: None)
        self._requested: dict[str, float] = {}
        self.throttled = 0          # THROTTLED responses seen
        self.points_used = 0.0      # sum of actualQueryCost

    def __repr__(self) -> str:
        return f"ShopifyGraphQL({self.http!r})"

    def close(self) -> None:
        self.http.close()

    def execute(self, query: str, variables: Mapping[str, Any] | None = None, *,
                operation: str | None = None) -> dict[str, Any]:
        """POST one operation; return its ``data``. Handles THROTTLED by waiting and retrying."""
        op = operation or "anonymous"
        payload: dict[str, Any] = {"query": query, "variables": dict(variables or {})}
        if operation:
            payload["operationName"] = operation
        for attempt in range(self.max_throttled_retries + 1):
            cost = self._requested.get(op, 1.0)
            body = self.http.post_json("graphql.json", json=payload, cost=cost)
            if not isinstance(body, dict):
                raise ResponseFormatError(
                    f"GraphQL {op}: response is not a JSON object", method="POST",
                    url=self.http.redactor.url(self.http.url_for("graphql.json")))
            self._observe_cost(op, body)
            errors = body.get("errors") or []
            if errors:
                codes = {(e.get("extensions") or {}).get("code") for e in errors
                         if isinstance(e, dict)}
                if "THROTTLED" in codes:
                    self.throttled += 1
                    if attempt < self.max_throttled_retries:
                        self.log(f"shopify {op}: THROTTLED (attempt {attempt + 1}); waiting for "
                                 f"the cost budget to restore")
                        continue
                    raise RateLimitError(f"GraphQL {op}: still THROTTLED after {attempt + 1} "
                                         f"attempts", method="POST",
                                         url=self.http.redactor.url(self.http.url_for("graphql.json")),
                                         status=200)
                raise self._error(op, errors)
            data = body.get("data")
            if not isinstance(data, dict):
                raise ResponseFormatError(f"GraphQL {op}: response has no data object",
                                          method="POST",
                                          url=self.http.redactor.url(self.http.url_for("graphql.json")),
                                          status=200)
            return data
        raise AssertionError("unreachable")

    def _observe_cost(self, op: str, body: Mapping[str, Any]) -> None:
        cost = ((body.get("extensions") or {}).get("cost")) if isinstance(body, Mapping) else None
        if not isinstance(cost, Mapping):
            return
        requested = cost.get("requestedQueryCost")
        if isinstance(requested, (int, float)):
            self._requested[op] = float(requested)
        actual = cost.get("actualQueryCost")
        if isinstance(actual, (int, float)):
            self.points_used += float(actual)
        status = cost.get("throttleStatus")
        if isinstance(status, Mapping) and isinstance(status.get("currentlyAvailable"), (int, float)):
            self.throttle.update(
                status["currentlyAvailable"],
                status.get("maximumAvailable"),
                status.get("restoreRate"),
            )

    def _error(self, op: str, errors: list[Any]) -> HttpError:
        messages = []
        denied = False
        for e in errors[:5]:
            if not isinstance(e, dict):
                messages.append(str(e))
                continue
            code = (e.get("extensions") or {}).get("code")
            if code == "ACCESS_DENIED":
                denied = True
            path = ".".join(str(p) for p in e.get("path") or [])
            messages.append(f"{e.get('message', '?')}" + (f" [{code}]" if code else "")
                            + (f" at {path}" if path else ""))
        text = self.http.redact("; ".join(messages)) or "unknown error"
        url = self.http.redactor.url(self.http.url_for("graphql.json"))
        if denied:
            return AuthError(f"GraphQL {op}: access denied — the app lacks a scope: {text}",
                             method="POST", url=url, status=200)
        return ShopifyGraphQLError(f"GraphQL {op}: {text}", method="POST", url=url, status=200)
