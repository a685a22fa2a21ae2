"""Which rows failed a dbt test, by their keys, in the failed Dagster check's metadata.

dagster-dbt gives a failed check the number of failing rows (`dagster_dbt/failed_row_count`);
to fix the data the team needs to know which rows. A test names its key columns in its meta,
`failing_row_keys` (the generic tests `is_not_in_future`, `label_is_known` and
`relationships_within_source` set it from their `row_keys` argument; a singular test sets it in
its `config()`). For each failed check whose test names keys, the test's compiled SQL (from this
invocation's run_results.json) is run again, read-only, once dbt has finished, selecting only
those columns and the first FAILING_ROWS_SHOWN rows in key order: the metadata carries keys
(`source`, `order_id`, ...) and never a personal value that a test may select beside them.

Why not dbt's `store_failures`: it writes an audit table per test into the warehouse on every
build, for a list that is read once; and the table would hold every column the test selects.
Why after the stream: dbt holds DuckDB's single write lock while it runs
(`transform/dbt_models.py` holds the charted marts back for the same reason).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliInvocation

from orchestration.resources import WarehouseResource

META_KEY = "failing_row_keys"
METADATA_KEY = "failing_rows"
FAILING_ROWS_SHOWN = 20


def row_keys_of(event: Any, manifest: Mapping[str, Any]) -> list[str] | None:
    """The key columns of the test behind a failed check result; None for anything else."""
    if not isinstance(event, dg.AssetCheckResult) or event.passed:
        return None
    unique_id = _text(event.metadata.get("unique_id"))
    node = manifest.get("nodes", {}).get(unique_id or "", {})
    keys = (node.get("config", {}).get("meta") or {}).get(META_KEY)
    return list(keys) if keys else None


def with_failing_rows(
    events: Iterable[dg.AssetCheckResult],
    invocation: DbtCliInvocation,
    warehouse_path: str,
    log: Any,
) -> Iterator[dg.AssetCheckResult]:
    """Each failed check result of a finished dbt invocation, with its failing rows' keys added
    to its metadata.

    A listing that cannot be made (no run results, the warehouse cannot be opened) is logged and
    the check goes out as dbt reported it: the check has failed either way.
    """
    events = list(events)
    if not events:
        return
    manifest = invocation.manifest
    try:
        run_results = invocation.get_artifact("run_results.json")
    except Exception as exc:  # noqa: BLE001 - e.g. dbt stopped before writing it
        log.warning(f"failing rows not listed: no run results ({exc})")
        run_results = {}
    compiled = {r["unique_id"]: r.get("compiled_code") for r in run_results.get("results", [])}
    try:
        with WarehouseResource(path=warehouse_path).connect(read_only=True) as con:
            results = [_listed(event, manifest, compiled, con, log) for event in events]
    except Exception as exc:  # noqa: BLE001 - the listing is a help, the failed check is the news
        log.warning(f"failing rows not listed: {exc}")
        results = events
    yield from results


def _listed(event, manifest, compiled, con, log) -> dg.AssetCheckResult:
    keys = row_keys_of(event, manifest) or []
    unique_id = _text(event.metadata.get("unique_id")) or ""
    sql = compiled.get(unique_id)
    if not keys or not sql:
        log.warning(f"{event.check_name}: failing rows not listed (no compiled SQL)")
        return event
    columns = ", ".join(_quote(k) for k in keys)
    try:
        rows = con.execute(
            f"select distinct {columns} from (\n{sql}\n) as failing order by {columns} limit {FAILING_ROWS_SHOWN}"
        ).fetchall()
    except Exception as exc:  # noqa: BLE001 - see with_failing_rows
        log.warning(f"{event.check_name}: failing rows not listed: {exc}")
        return event
    listed = [{k: _plain(v) for k, v in zip(keys, row)} for row in rows]
    log.error(f"{event.check_name} on {event.asset_key.to_user_string()}: failing rows "
              f"(first {FAILING_ROWS_SHOWN}, keys only): {listed}")
    return event.with_metadata({**event.metadata, METADATA_KEY: dg.MetadataValue.json(listed)})


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _plain(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
