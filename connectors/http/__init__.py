"""The one shared HTTP core for every API connector (Shopify, Recharge, カラーミーショップ) and,
later, every outbound channel. Built on ``requests`` only; never imports dagster.

    from connectors.http import (HttpClient, HeaderTokenAuth, BearerAuth, LeakyBucket,
                                 MinInterval, CostBasedThrottle, cursor_param_pages, ...)

    client = HttpClient("https://api.rechargeapps.com",
                        auth=HeaderTokenAuth("X-Recharge-Access-Token", token),
                        throttle=LeakyBucket(capacity=40, leak_per_second=2),
                        default_headers={"X-Recharge-Version": "2021-11"})
    for page in cursor_param_pages(client, "customers", params={"limit": 250},
                                   next_cursor=lambda b: b.get("next_cursor")):
        ...

Pieces (each module has its own docstring):
- client.py      HttpClient (session, timeouts, retries + backoff + Retry-After), parse_retry_after
- auth.py        HeaderTokenAuth, BearerAuth, Auth (none), Redactor (secrets never leak)
- throttle.py    LeakyBucket, MinInterval, CostBasedThrottle
- pagination.py  cursor_param_pages, offset_pages (OffsetShifted), graphql_connection
- errors.py      HttpError > AuthError, RateLimitError, ServerError, TransportError,
                 ResponseFormatError
"""

from .auth import REDACTED, Auth, BearerAuth, HeaderTokenAuth, Redactor
from .client import DEFAULT_USER_AGENT, HttpClient, parse_retry_after
from .errors import (
    AuthError,
    HttpError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    TransportError,
)
from .pagination import OffsetShifted, Page, cursor_param_pages, graphql_connection, offset_pages
from .throttle import CostBasedThrottle, LeakyBucket, MinInterval, Throttle

__all__ = [
    "Auth",
    "AuthError",
    "BearerAuth",
    "CostBasedThrottle",
    "DEFAULT_USER_AGENT",
    "HeaderTokenAuth",
    "HttpClient",
    "HttpError",
    "LeakyBucket",
    "MinInterval",
    "OffsetShifted",
    "Page",
    "REDACTED",
    "RateLimitError",
    "Redactor",
    "ResponseFormatError",
    "ServerError",
    "Throttle",
    "TransportError",
    "cursor_param_pages",
    "graphql_connection",
    "offset_pages",
    "parse_retry_after",
]
