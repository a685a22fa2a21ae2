"""The contract between API connectors and orchestration: one :class:`ApiSource` per cart API.

Each connector package exposes ``SOURCE: ApiSource``; orchestration builds one multi-asset per
*configured* source (assets ``["raw_<name>", stream]``) and calls ``sync`` once per stream.
Connectors never import dagster; orchestration never knows a provider's protocol.

    # connectors/recharge/sync.py (re-exported by the package), on connectors/sync_base.py
    sync_stream = base.entry_point(RechargeSettings, sync)  # (warehouse, stream, env, log)
    SOURCE = base.api_source(
        "recharge",                                         # -> schema raw_recharge
        ("customers", "subscriptions", "charges"),
        ("RECHARGE_API_TOKEN",),                            # configured iff all are set
        "Recharge subscriptions API 2021-11",
        sync_stream,                                        # -> SyncResult
    )

    # orchestration / scripts
    from connectors.api_source import api_sources, configured_sources
    for source in configured_sources(os.environ):
        for stream in source.streams:
            result = source.sync("warehouse.duckdb", stream, os.environ, print)

``sync`` contract:
- lands the stream in ``raw_<name>.<stream>`` through :class:`connectors.raw.RawWriter`, page by
  page (``write_batch(final=False)``), so a killed sync resumes from its last committed page;
- reads only its own variables from ``env`` (a plain mapping: tests pass a dict, never rely on
  ``os.environ``); optional settings (base URL override, lookback) are env variables too;
- reports progress through ``log`` (a line of text; no secrets — tokens are redacted);
- returns the writer's final SyncResult, and raises (connectors.http.HttpError subclasses) on
  failure after the writer has recorded a ``failed`` sync_log row.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable, Mapping

from connectors.raw import SyncResult, WarehouseLike

__all__ = ["API_SOURCE_MODULES", "ApiSource", "SyncFn", "api_sources", "configured_sources"]

#: (warehouse, stream, env, log) -> SyncResult
SyncFn = Callable[[WarehouseLike, str, Mapping[str, str], Callable[[str], None]], SyncResult]

#: Connector modules that may expose ``SOURCE``; a module not written yet is skipped.
API_SOURCE_MODULES: tuple[str, ...] = (
    "connectors.shopify",
    "connectors.recharge",
    "connectors.colorme",
)


@dataclass(frozen=True)
class ApiSource:
    name: str                      # 'shopify' -> schema raw_shopify, assets ["raw_shopify", stream]
    streams: tuple[str, ...]
    required_env: tuple[str, ...]  # the source is configured iff every one is set (non-empty)
    description: str
    sync: SyncFn

    @property
    def schema(self) -> str:
        return f"raw_{self.name}"

    def is_configured(self, env: Mapping[str, str]) -> bool:
        return all((env.get(k) or "").strip() for k in self.required_env)

    def missing_env(self, env: Mapping[str, str]) -> list[str]:
        return [k for k in self.required_env if not (env.get(k) or "").strip()]


def api_sources(modules: tuple[str, ...] = API_SOURCE_MODULES) -> list[ApiSource]:
    """Every API source whose module exists, in ``modules`` order.

    A module that does not exist yet is skipped; an import error *inside* an existing module
    is raised (a broken connector should fail loudly, not vanish)."""
    found: list[ApiSource] = []
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and (exc.name == name or name.startswith(exc.name + ".")):
                continue
            raise
        source = getattr(module, "SOURCE", None)
        if isinstance(source, ApiSource):
            found.append(source)
    return found


def configured_sources(env: Mapping[str, str]) -> list[ApiSource]:
    """The API sources whose required environment variables are all set in ``env``."""
    return [s for s in api_sources() if s.is_configured(env)]
