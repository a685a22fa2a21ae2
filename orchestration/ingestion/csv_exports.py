"""Cart CSV exports: the export files (generated for the demo merchant) and their raw tables.

One asset per export file stream (["csv_exports", stream]) and one per raw table
(["raw_csv", stream]); dbt's `raw_csv` sources attach to the latter, so lineage runs from each
file to every mart.
"""

from datetime import date, timedelta

import dagster as dg

from connectors.csv_export import create_tables, load_export_dir, load_profile
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from orchestration.settings import Settings

CSV_SOURCE = "csv"  # source instance name: raw schema raw_csv, dbt source raw_csv


class DemoMerchantConfig(dg.Config):
    customers: int = 10_000
    seed: int = 42
    # A named set of behaviour parameters (demo_merchant.params.WORLDS): "default", or
    # "alternate" to check that models are not tuned to one world.
    world: str = "default"
    # No as-of here on purpose: the cart is seen on the pipeline's business date
    # (TEIKI_AS_OF_DATE or today in Japan), the same date dbt measures at.
    # The world's first day (YYYY-MM-DD). Empty: the world the last materialization generated
    # (same customers, seed and world), seen a day or more later, so each morning loads the
    # same cart one day older; a new world whose history ends at the business date when there
    # is none, or when the business date is past what that world can show.
    history_start: str = ""


def export_key(stream: str) -> dg.AssetKey:
    return dg.AssetKey(["csv_exports", stream])


def raw_key(stream: str) -> dg.AssetKey:
    return dg.AssetKey([f"raw_{CSV_SOURCE}", stream])


def build_csv_export_assets(settings: Settings) -> list:
    profile = load_profile(settings.csv_profile)
    streams = list(profile.streams)

    export_specs = [
        dg.AssetSpec(
            export_key(s),
            group_name="csv_exports",
            kinds={"csv"},
            description=f"The cart's `{profile.streams[s].file}` export in {settings.csv_export_dir}.",
        )
        for s in streams
    ]
    if settings.demo:
        export_defs: list = [_demo_merchant_exports(export_specs, streams, settings)]
    else:
        # The merchant's cart (or an export job) drops the files: Dagster observes, never writes them.
        export_defs = export_specs

    @dg.multi_asset(
        name=f"raw_{CSV_SOURCE}_tables",
        specs=[
            dg.AssetSpec(
                raw_key(s),
                deps=[export_key(s)],
                group_name="raw",
                kinds={"duckdb"},
                description=f"`{s}` rows from the cart export, mapped by profile `{profile.name}`.",
            )
            for s in streams
        ],
        can_subset=True,
        pool=WAREHOUSE_POOL,
    )
    def raw_csv_tables(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        selected = [k.path[-1] for k in context.selected_asset_keys]
        with warehouse.connect() as con:
            # A stream with no file yet, or one this cart does not export at all, still gets its
            # (empty) table, so dbt and counts work and the marts see the fact is missing.
            create_tables(con, profile, source=CSV_SOURCE)
            results = load_export_dir(
                con, settings.csv_export_dir, profile, source=CSV_SOURCE, streams=selected
            )
            counts = {
                s: con.execute(f'select count(*) from raw_{CSV_SOURCE}."{s}"').fetchone()[0]
                for s in selected
            }
        by_stream: dict[str, list] = {s: [] for s in selected}
        for r in results:
            by_stream[r.stream].append(r)
        for s in selected:
            loads = by_stream[s]
            yield dg.MaterializeResult(
                asset_key=raw_key(s),
                metadata={
                    "dagster/row_count": counts[s],
                    "files": dg.MetadataValue.json(
                        [{"file": r.file, "status": r.status, "inserted": r.rows_inserted,
                          "updated": r.rows_updated, "unchanged": r.rows_unchanged,
                          # stored rows newer than the file's (left as they were), rows a full
                          # export no longer holds (marked deleted), and the why (which files)
                          "kept_newer": r.rows_kept_newer, "deleted": r.rows_deleted,
                          "note": r.note} for r in loads]
                    ),
                    "rows_inserted": sum(r.rows_inserted for r in loads),
                    "rows_updated": sum(r.rows_updated for r in loads),
                    "rows_kept_newer": sum(r.rows_kept_newer for r in loads),
                    "rows_deleted": sum(r.rows_deleted for r in loads),
                },
            )

    return [*export_defs, raw_csv_tables]


def _demo_merchant_exports(specs: list[dg.AssetSpec], streams: list[str], settings: Settings):
    @dg.multi_asset(name="demo_merchant_exports", specs=specs)
    def demo_merchant_exports(context: dg.AssetExecutionContext, config: DemoMerchantConfig):
        """Generates the demo merchant's cart exports (deterministic for a seed and as-of date)."""
        from demo_merchant.generate import FILE_NAMES, generate
        from demo_merchant.params import WORLDS

        if config.world not in WORLDS:
            raise ValueError(f"unknown demo world {config.world!r}; known: {', '.join(WORLDS)}")
        as_of = settings.business_date()
        start = (date.fromisoformat(config.history_start) if config.history_start
                 else _continued_world(context, streams[0], config, as_of))
        summary = generate(
            settings.csv_export_dir, customers=config.customers, seed=config.seed, as_of=as_of,
            params=WORLDS[config.world], history_start=start,
        )
        context.log.info(f"demo merchant: {config.customers} customers, seed {config.seed}, "
                         f"world {config.world} from {summary.history_start}, as of {as_of}")
        for s in streams:
            yield dg.MaterializeResult(
                asset_key=export_key(s),
                metadata={
                    "dagster/row_count": summary.row_counts[FILE_NAMES[s]],
                    "path": dg.MetadataValue.path(str(settings.csv_export_dir / FILE_NAMES[s])),
                    "as_of": as_of.isoformat(),
                    "seed": config.seed,
                    "world": config.world,
                    "customers": config.customers,
                    "history_start": summary.history_start.isoformat(),
                },
            )

    return demo_merchant_exports


def _continued_world(context: dg.AssetExecutionContext, stream: str, config: DemoMerchantConfig,
                     as_of: date) -> date | None:
    """The first day of the world the last materialization generated, if it is the same world
    (customers, seed, world) and can be seen on ``as_of``; None for a new world."""
    from demo_merchant.generate import MAX_CONTINUED_DAYS, world_end
    from demo_merchant.params import WORLDS

    event = context.instance.get_latest_materialization_event(export_key(stream))
    meta = event.asset_materialization.metadata if event and event.asset_materialization else {}
    value = lambda key: getattr(meta.get(key), "value", None)  # noqa: E731
    if (value("history_start") is None or value("seed") != config.seed
            or value("customers") != config.customers or value("world") != config.world):
        return None
    start = date.fromisoformat(value("history_start"))
    last = world_end(start, WORLDS[config.world]) + timedelta(days=MAX_CONTINUED_DAYS)
    return start if start <= as_of <= last else None
