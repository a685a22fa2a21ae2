"""Publishing assets."""

import dagster as dg

from orchestration.merchant_settings import load_merchant_settings
from orchestration.observability.republish import REPUBLISH_CONDITION
from orchestration.publish.bi_snapshot import PARQUET_DIR, STORAGE_VERSION, publish_snapshot
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from orchestration.settings import Settings
from orchestration.transform.dbt_models import mart_keys
from orchestration.transform.personal_columns import personal_columns


def build_publish_assets(settings: Settings, dbt_models: dg.AssetsDefinition) -> list:
    @dg.asset(
        key=["bi", "snapshot"],
        deps=mart_keys(dbt_models),
        group_name="publish",
        kinds={"duckdb"},
        pool=WAREHOUSE_POOL,
        # Republished after any refresh that updated a mart, not only by the daily job.
        automation_condition=REPUBLISH_CONDITION,
        description=(
            f"Every mart copied into {settings.bi_snapshot} (DuckDB's v1.0.0 storage format, "
            "which DuckDB 1.x clients read) and as Parquet into the parquet/ folder beside it, "
            "replaced after each refresh. BI tools open these read-only, never the live warehouse."
        ),
    )
    def bi_snapshot(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        # The settings file is read at each publish, like the dbt vars at each refresh.
        leave_out = (() if load_merchant_settings().bi_snapshot.include_contact_columns
                     else sorted(personal_columns()))
        # Read-only: the pool guarantees no writer right now, and read-only cannot damage anything.
        with warehouse.connect(read_only=True) as con:
            counts = publish_snapshot(con, settings.bi_snapshot, settings.business_date().isoformat(),
                                      leave_out=leave_out)
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(settings.bi_snapshot)),
                "parquet": dg.MetadataValue.path(str(settings.bi_snapshot.parent / PARQUET_DIR)),
                "storage_version": STORAGE_VERSION,
                "tables": dg.MetadataValue.json(counts),
                "as_of_date": settings.business_date().isoformat(),
                "personal_columns_left_out": dg.MetadataValue.json(list(leave_out)),
            }
        )

    return [bi_snapshot]
