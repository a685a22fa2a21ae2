"""Cart APIs (Shopify, Recharge, カラーミーショップ): one multi-asset per *configured* ApiSource.

A source is configured when every variable in its ``required_env`` is set (see
``connectors/api_source.py``); an unconfigured source adds no asset, so ``make demo`` and a
CSV-only merchant see nothing new. Each configured source ``<name>`` gets assets
``["raw_<name>", <stream>]`` (group ``raw``, warehouse pool of size 1), which dbt's
``raw_<name>`` sources attach to. A stream's sync runs ``source.sync(warehouse, stream, env,
log)`` — page by page, resumable — and its row count and sync counters become asset metadata
(never the environment: tokens stay out of metadata).

The marts read a configured source without further set-up: the same configuration decides
``Settings.sources`` (orchestration/settings.py), which reaches dbt as TEIKI_SOURCES and enables
the source's staging models; the manifest is re-parsed when it was parsed for other sources
(transform/prepare.py). With only API sources configured, the demo merchant is not generated.
"""

import os
from typing import Mapping

import dagster as dg

from connectors.api_source import ApiSource, configured_sources
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from orchestration.settings import Settings

__all__ = ["build_api_source_assets", "configured_api_source_names", "raw_key"]


def raw_key(source: str, stream: str) -> dg.AssetKey:
    return dg.AssetKey([f"raw_{source}", stream])


def configured_api_source_names(env: Mapping[str, str] | None = None) -> list[str]:
    return [s.name for s in configured_sources(os.environ if env is None else env)]


def build_api_source_assets(settings: Settings, env: Mapping[str, str] | None = None) -> list:
    env = os.environ if env is None else env
    return [_source_asset(source, env) for source in configured_sources(env)]


def _source_asset(source: ApiSource, env: Mapping[str, str]) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name=f"raw_{source.name}_tables",
        specs=[
            dg.AssetSpec(
                raw_key(source.name, stream),
                group_name="raw",
                kinds={"duckdb", source.name},
                description=f"`{stream}` from {source.description}.",
            )
            for stream in source.streams
        ],
        can_subset=True,
        pool=WAREHOUSE_POOL,
    )
    def _sync(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        selected = [k.path[-1] for k in context.selected_asset_keys]
        # Read the environment at run time (a rotated token needs no code-location reload).
        run_env = dict(os.environ) if env is os.environ else {**os.environ, **env}
        with warehouse.connect() as con:
            for stream in source.streams:
                if stream not in selected:
                    continue
                result = source.sync(con, stream, run_env, context.log.info)
                rows = con.execute(
                    f'select count(*) from "raw_{source.name}"."{stream}"').fetchone()[0]
                yield dg.MaterializeResult(
                    asset_key=raw_key(source.name, stream),
                    metadata={
                        "dagster/row_count": rows,
                        "sync_id": result.sync_id,
                        "rows_read": result.rows_read,
                        "rows_inserted": result.rows_inserted,
                        "rows_updated": result.rows_updated,
                        "cursor": result.cursor_value or "",
                    },
                )

    return _sync
