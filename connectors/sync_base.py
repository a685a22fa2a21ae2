"""What every API connector does the same way, so a connector's ``sync.py`` holds only what its
provider does differently (protocol, record shape, wording of its credentials).

    from connectors import sync_base as base   # base.record_stream(...), base.env_number(...)

- :func:`record_stream`: the raw table of one stream: ``id`` BIGINT (primary key),
  ``updated_at`` TIMESTAMP (cursor), ``deleted_at`` TIMESTAMP, ``_record`` JSON;
  :func:`record_row` one row of it.
- :class:`ConnectorSettings`: the frozen settings every connector extends (token hidden from
  ``repr``; the HTTP timeouts and retry budget); ``from_env`` reads them with :func:`common_env`
  (token, base URL, lookback, reconcile period, and :func:`http_env`: ``<PREFIX>_CONNECT_TIMEOUT``,
  ``<PREFIX>_READ_TIMEOUT``, ``<PREFIX>_RETRY_BUDGET``) and :func:`env_number`, :func:`env_text`,
  :func:`env_token`, :func:`env_days`.
- :class:`AuthHelp` / :func:`explain_auth`: turns a 401/403 into a message naming the
  variable or the scope.
- :func:`reconcile_due` / :func:`mark_reconciled`: is a deletion pass due, kept in the stream
  state (``reconciled_at``; ``reconcile`` while a resumable pass is under way).
- :func:`run_stream`: opens the :class:`~connectors.raw.RawWriter`, runs the connector's pass,
  rewords auth errors, closes a client it made; :func:`http_client` makes that client;
  :func:`require_int_ids` checks the records a page returned.
- :func:`entry_point`: every connector's ``sync_stream(warehouse, stream, env, log)`` (the
  ``ApiSource.sync`` orchestration calls) = ``sync(warehouse, stream, Settings.from_env(env),
  log=log)``; :func:`api_source` builds the connector's ``SOURCE`` around it.

Deletions are marked by the writer itself (:meth:`connectors.raw.RawWriter.mark_deleted`).
Plain Python: no dagster import.

A new connector ``connectors/<name>/`` is its README (the protocol, the authority) and a
``sync.py`` of provider code only (``connectors/colorme/sync.py`` is the model)::

    STREAMS = {"orders": ("v2/orders", "orders", "read_orders")}   # path, list key, scope
    AUTH_HELP = base.AuthHelp(provider=..., credential=f"token in {TOKEN_ENV}",
                              forbidden="... {scope} ...", unauthorized="... set X_TOKEN.")
    def raw_stream(stream, source=SOURCE_NAME):
        return base.record_stream(source, stream, STREAMS, "X")
    @dataclass(frozen=True)
    class XSettings(base.ConnectorSettings):            # base_url, max_retries, source, ...
        @classmethod
        def from_env(cls, env): return cls(token=base.env_token(env, TOKEN_ENV), ...)
    def make_client(settings, *, sleep, log):
        return base.http_client(settings, provider=AUTH_HELP.provider, auth=..., ...)
    def sync(warehouse, stream, settings, *, client=None, log=None, sleep=time.sleep):
        return base.run_stream(warehouse, raw_stream(stream, settings.source),
                               lambda writer, http: ...pages -> writer.write_batch(...),
                               client=client, make_client=lambda: make_client(settings, ...),
                               explain=lambda err: AUTH_HELP.explain(err, stream, path, scope))
    sync_stream = base.entry_point(XSettings, sync)
    SOURCE = base.api_source("x", STREAMS, (TOKEN_ENV,), "X API v2", sync_stream)

with ``from .sync import *`` in its ``__init__.py`` and its module name in
``connectors.api_source.API_SOURCE_MODULES``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Mapping, TypeVar

from connectors.api_source import ApiSource, SyncFn
from connectors.http import AuthError, HttpClient, ResponseFormatError
from connectors.raw import RawColumn, RawStream, RawWriter, SyncResult, WarehouseLike

__all__ = [
    "RECONCILED_AT",
    "RECONCILE_IN_PROGRESS",
    "AuthHelp",
    "ConnectorSettings",
    "api_source",
    "env_days",
    "env_number",
    "env_text",
    "env_token",
    "entry_point",
    "explain_auth",
    "http_client",
    "http_env",
    "http_options",
    "mark_reconciled",
    "reconcile_due",
    "record_row",
    "record_stream",
    "require_int_ids",
    "run_stream",
]

Log = Callable[[str], None]
S = TypeVar("S", bound="ConnectorSettings")
C = TypeVar("C")

#: stream state keys: when the last deletion pass finished; a resumable pass under way
RECONCILED_AT = "reconciled_at"
RECONCILE_IN_PROGRESS = "reconcile"


# ------------------------------------------------------------------------------------------------
# the raw table


def record_stream(source: str, stream: str, known: Iterable[str], provider: str) -> RawStream:
    """The raw table of ``stream`` (one of ``known``; ``provider`` names it in the error)."""
    known = tuple(known)
    if stream not in known:
        raise ValueError(f"unknown {provider} stream {stream!r}; known: {', '.join(known)}")
    return RawStream(
        source=source,
        name=stream,
        columns=(RawColumn("id", "BIGINT"), RawColumn("updated_at", "TIMESTAMP"),
                 RawColumn("deleted_at", "TIMESTAMP"), RawColumn("_record", "JSON")),
        primary_key=("id",),
        cursor_field="updated_at",
        # a page or a replayed sync older than the stored record never overwrites it
        version_field="updated_at",
    )


def record_row(record: Mapping[str, Any], updated_at: datetime | None) -> tuple[Any, ...]:
    """A :func:`record_stream` row of a live record (its whole JSON kept in ``_record``)."""
    return (record["id"], updated_at, None, record)


# ------------------------------------------------------------------------------------------------
# settings


def env_number(env: Mapping[str, str], name: str, default: float) -> float:
    """A numeric setting from the environment; unset or blank means `default`."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None


def env_text(env: Mapping[str, str], name: str, default: Any = None) -> Any:
    """A text setting, stripped; unset or blank means `default`."""
    return (env.get(name) or "").strip() or default


def env_token(env: Mapping[str, str], name: str, how_to_get_one: str = "") -> str:
    """A required credential; unset or blank raises a ValueError saying how to get one."""
    token = env_text(env, name, "")
    if not token:
        raise ValueError(f"{name} is not set" + (f": {how_to_get_one}" if how_to_get_one else ""))
    return token


def env_days(env: Mapping[str, str], name: str, default: float) -> timedelta | None:
    """A period in days; a negative number means never (None)."""
    days = env_number(env, name, default)
    return None if days < 0 else timedelta(days=days)


#: per attempt: seconds to connect, seconds of silence while waiting for the answer; and the
#: wall-clock seconds one request may take across all its attempts and backoff waits. A hung
#: provider fails in about RETRY_BUDGET seconds (three read timeouts fit), not in max_retries + 1
#: read timeouts plus the backoff (about 7.75 minutes with 60 s and 6 retries).
CONNECT_TIMEOUT, READ_TIMEOUT, RETRY_BUDGET = 5.0, 30.0, 90.0


def http_env(env: Mapping[str, str], prefix: str) -> dict[str, float]:
    """``connect_timeout``, ``read_timeout`` and ``retry_budget`` (seconds) from
    ``<prefix>_CONNECT_TIMEOUT``, ``<prefix>_READ_TIMEOUT`` and ``<prefix>_RETRY_BUDGET``, each a
    positive number, as keywords for the settings class."""
    out = {}
    for key, name, default in (("connect_timeout", "CONNECT_TIMEOUT", CONNECT_TIMEOUT),
                               ("read_timeout", "READ_TIMEOUT", READ_TIMEOUT),
                               ("retry_budget", "RETRY_BUDGET", RETRY_BUDGET)):
        value = env_number(env, f"{prefix}_{name}", default)
        if not value > 0:
            raise ValueError(f"{prefix}_{name}={value:g}: a number of seconds above 0")
        out[key] = value
    return out


def common_env(env: Mapping[str, str], prefix: str, token_env: str, how_to_get_one: str,
               default_base_url: str) -> dict[str, Any]:
    """The settings every connector with a deletion pass reads the same way: ``token`` from
    ``token_env``, ``base_url`` from ``<prefix>_BASE_URL``, ``lookback`` from
    ``<prefix>_LOOKBACK_HOURS`` (24), ``reconcile_every`` from ``<prefix>_RECONCILE_DAYS``
    (7; negative: never) and the timeouts and retry budget (:func:`http_env`), as keywords for
    the settings class."""
    return {
        "token": env_token(env, token_env, how_to_get_one),
        "base_url": env_text(env, f"{prefix}_BASE_URL", default_base_url),
        "lookback": timedelta(hours=env_number(env, f"{prefix}_LOOKBACK_HOURS", 24)),
        "reconcile_every": env_days(env, f"{prefix}_RECONCILE_DAYS", 7),
        **http_env(env, prefix),
    }


@dataclass(frozen=True)
class ConnectorSettings:
    """Frozen settings of one connector; subclasses add their own fields (all with defaults) and
    a ``from_env(env)`` classmethod built from the ``env_*`` readers. ``repr`` never shows a
    field named in ``SECRET_FIELDS``."""

    token: str
    connect_timeout: float = CONNECT_TIMEOUT
    read_timeout: float = READ_TIMEOUT
    retry_budget: float = RETRY_BUDGET

    SECRET_FIELDS = ("token",)

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        # set before @dataclass runs on the subclass, which then keeps it
        cls.__repr__ = ConnectorSettings.__repr__  # type: ignore[method-assign]

    @classmethod
    def from_env(cls: type[S], env: Mapping[str, str]) -> S:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)
                          if f.name not in self.SECRET_FIELDS)
        return f"{type(self).__name__}({shown})"


# ------------------------------------------------------------------------------------------------
# auth errors


@dataclass(frozen=True)
class AuthHelp:
    """How a provider's 401/403 is explained: ``forbidden`` (which scope, how to grant it) and
    ``unauthorized`` (which variable, how to get a new credential) are format strings over the
    stream's facts (``{stream}``, ``{path}``, ``{scope}``)."""

    provider: str     # "Recharge"
    credential: str   # "API token in RECHARGE_API_TOKEN"
    forbidden: str
    unauthorized: str

    def explain(self, err: AuthError, stream: str, path: str, scope: str) -> AuthError:
        """``err`` (refused ``GET /<path>`` of ``stream``, which needs ``scope``) reworded."""
        facts = {"stream": stream, "path": path, "scope": scope}
        return explain_auth(err, provider=self.provider, request=f"GET /{path}",
                            credential=self.credential, forbidden=self.forbidden.format(**facts),
                            unauthorized=self.unauthorized.format(**facts))


def explain_auth(err: AuthError, *, provider: str, request: str, credential: str,
                 forbidden: str, unauthorized: str) -> AuthError:
    """``err`` reworded: a 403 says ``forbidden`` (which scope, how to grant it), anything else
    ``unauthorized`` (which variable, how to get a new one); the provider's own message follows.

    ``provider refused <request> (403 Forbidden): <forbidden>`` or
    ``provider refused the <credential> (401 Unauthorized): <unauthorized>``."""
    if err.status == 403:
        msg = f"{provider} refused {request} (403 Forbidden): {forbidden}"
    else:
        msg = (f"{provider} refused the {credential} ({err.status or 401} Unauthorized): "
               f"{unauthorized}")
    if err.provider_message:
        msg += f" {provider} said: {err.provider_message}"
    return err.reworded(msg)


# ------------------------------------------------------------------------------------------------
# deletion passes


def reconcile_due(state: Mapping[str, Any], every: timedelta | None, started: datetime, *,
                  first_sync: bool = False) -> bool:
    """Whether this sync runs a deletion pass: always to finish an interrupted one; never on a
    first full sync (it saw everything: it counts as a pass, see :func:`mark_reconciled`) or when
    ``every`` is None; otherwise when ``every`` has passed since the last one."""
    if RECONCILE_IN_PROGRESS in state:
        return True
    if first_sync or every is None:
        return False
    last = state.get(RECONCILED_AT)
    if not last:
        return True
    try:
        return started - datetime.fromisoformat(last) >= every
    except ValueError:
        return True


def mark_reconciled(state: dict[str, Any], started: datetime) -> None:
    """Record a finished deletion pass (or a first full sync) in the stream state."""
    state.pop(RECONCILE_IN_PROGRESS, None)
    state[RECONCILED_AT] = started.isoformat()


# ------------------------------------------------------------------------------------------------
# one sync


def run_stream(warehouse: WarehouseLike, raw: RawStream,
               run: Callable[[RawWriter, C], SyncResult], *, client: C | None,
               make_client: Callable[[], C], explain: Callable[[AuthError], AuthError] | None = None
               ) -> SyncResult:
    """``run(writer, client)`` inside a :class:`RawWriter` of ``raw``, with ``client`` or, when
    None, one from ``make_client()`` that is closed afterwards whatever happens. An AuthError is
    reworded by ``explain`` before the writer records the failed sync."""
    own = client is None
    active = make_client() if client is None else client
    try:
        with RawWriter(warehouse, raw) as writer:
            try:
                return run(writer, active)
            except AuthError as err:
                if explain is None:
                    raise
                raise explain(err) from None
    finally:
        if own:
            active.close()  # type: ignore[attr-defined]


def http_client(settings: ConnectorSettings, *, provider: str, auth: Any, throttle: Any,
                log: Log | None, sleep: Callable[[float], None], **options: Any) -> HttpClient:
    """The connector's HTTP client on ``settings.base_url`` with ``settings.max_retries``, its
    timeouts and retry budget; its errors start with ``provider``."""
    base_url, retries = settings.base_url, settings.max_retries  # type: ignore[attr-defined]
    return HttpClient(base_url, auth=auth, throttle=throttle, max_retries=retries, sleep=sleep,
                      log=log, provider=provider, **http_options(settings), **options)


def http_options(settings: ConnectorSettings) -> dict[str, Any]:
    """The HttpClient keywords of ``settings``' timeouts and retry budget."""
    return {"timeout": (settings.connect_timeout, settings.read_timeout),
            "retry_budget": settings.retry_budget}


def require_int_ids(records: Iterable[Any], what: str, request: str) -> None:
    """Every record is an object with an integer ``id`` (the raw table's key)."""
    for rec in records:
        if not isinstance(rec, dict) or not isinstance(rec.get("id"), int) or isinstance(
                rec.get("id"), bool):
            raise ResponseFormatError(f"{request}: a {what} record has no integer id")


def entry_point(settings: type[ConnectorSettings], sync: Callable[..., SyncResult]) -> SyncFn:
    """The connector's ``sync_stream(warehouse, stream, env, log)``, the one entry point
    orchestration calls (``ApiSource.sync``): ``sync(warehouse, stream,
    settings.from_env(env), log=log)``. ``config`` gives ready settings instead of ``env``;
    other keywords (``client``, ``sleep``, ``now``) go to ``sync``."""

    def sync_stream(warehouse: WarehouseLike, stream: str, env: Mapping[str, str],
                    log: Log | None = None, *, config: ConnectorSettings | None = None,
                    **options: Any) -> SyncResult:
        return sync(warehouse, stream, config or settings.from_env(env), log=log, **options)

    sync_stream.__doc__ = entry_point.__doc__
    return sync_stream


def api_source(name: str, streams: Iterable[str], required_env: Iterable[str], description: str,
               sync: SyncFn) -> ApiSource:
    """The connector's :class:`~connectors.api_source.ApiSource` (``SOURCE``)."""
    return ApiSource(name=name, streams=tuple(streams), required_env=tuple(required_env),
                     description=description, sync=sync)
