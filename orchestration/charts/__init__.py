"""Charts rendered into Dagster materialization metadata (PNG, markdown data URI)."""
