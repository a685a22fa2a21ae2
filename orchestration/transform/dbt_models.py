"""dbt models as Dagster assets; dbt tests become asset checks."""

import os
import time
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from orchestration.charts.marts import CHARTS
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from orchestration.run_progress import PROGRESS_PREFIX
from orchestration.settings import DBT_PROJECT_DIR, Settings
from orchestration.transform.check_descriptions import describe_test
from orchestration.transform.failing_rows import row_keys_of, with_failing_rows
from orchestration.transform.prepare import dbt_environment, dbt_vars_args

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# Under `dagster dev` this parses the project; the Makefile and the tests run `dbt parse` first.
dbt_project.prepare_if_dev()


class TeikiDbtTranslator(DagsterDbtTranslator):
    """Keys mirror warehouse names, so a Dagster asset and the table it is are found by one name.

    A source table `raw_csv.orders` becomes ["raw_csv", "orders"], the key of the Python asset that
    loads it: that is what joins the connector assets to the dbt graph. A model becomes
    [schema, name], e.g. ["marts", "subscriptions"].
    """

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return dbt_resource_props.get("schema")

    def get_asset_check_spec(self, asset_spec: dg.AssetSpec, manifest: Mapping[str, Any], unique_id: str,
                             project: Any) -> dg.AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        # What the check checks, why and what its failing does (transform/check_descriptions.py).
        return spec._replace(description=describe_test(manifest["nodes"][unique_id], manifest))

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Any) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if not _has_no_upstream_asset(manifest, unique_id):
            return spec
        # A seed has no upstream, so Dagster would give it a dbt step of its own, ahead of the raw
        # load: ~10 s of dbt start-up for a 0.2 s load. Placing it after the raw tables (which
        # it is only ever used with) keeps it in the main dbt step. The same holds for the
        # staging model of the action ledger, whose writers (the campaigns) run after dbt, and
        # for the on-site offer events' staging model.
        read = {dep for node in manifest["nodes"].values() for dep in node["depends_on"].get("nodes", [])}
        raw_tables = [
            dg.AssetKey([source["source_name"], source["name"]])
            for uid, source in manifest["sources"].items()
            # raw tables some model reads; not model_params, which is downstream of the models
            if uid in read and source["source_name"].startswith("raw_")
        ]
        already = {dep.asset_key for dep in spec.deps}
        return spec.merge_attributes(deps=[key for key in raw_tables if key not in already])


# Sources written by Teiki downstream of the dbt models: no asset materializes them before dbt.
WRITTEN_AFTER_DBT = ("actions",)
# Teiki's own raw table, loaded beside the carts' but independent of them: a model reading only
# it would get a dbt step of its own, ahead of the cart loads.
LOADED_BESIDE_THE_CARTS = ("raw_onsite",)


def _has_no_upstream_asset(manifest: Mapping[str, Any], unique_id: str) -> bool:
    node = manifest["nodes"].get(unique_id, {})
    if node.get("resource_type") == "seed":
        return True
    if node.get("resource_type") != "model":
        return False
    deps = node["depends_on"].get("nodes", [])
    return bool(deps) and all(
        dep in manifest["sources"]
        and manifest["sources"][dep]["source_name"] in WRITTEN_AFTER_DBT + LOADED_BESIDE_THE_CARTS
        for dep in deps)


translator = TeikiDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def build_dbt_assets(settings: Settings) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        dagster_dbt_translator=translator,
        pool=WAREHOUSE_POOL,
    )
    def teiki_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource,
                         warehouse: WarehouseResource):
        # `warehouse` is not opened here (dbt opens the file itself): requiring it makes the run
        # hold the warehouse's run lock, as every asset of the pool does (resources.py).
        del warehouse
        # dbt reads the warehouse path and business date from its environment (profiles.yml,
        # dbt_project.yml); dagster-dbt hands it a copy of this process's environment, taken now.
        os.environ.update(dbt_environment(settings))
        # `build` runs each model's tests right after it, so a failing error-severity test stops
        # everything downstream of it, including the outbound actions.
        # The settings file's dbt vars are read now: a threshold changed there applies to this run.
        invocation = dbt.cli(["build", *dbt_vars_args()], context=context, raise_on_error=False)
        # dbt holds DuckDB's single write lock while it runs, so every model's output (and its
        # checks, which must follow it) is held back until the stream ends, then sent with its
        # row count and, for the charted marts, the chart rendered from the finished tables
        # (orchestration/charts/). Nothing downstream runs before this step ends either way.
        # A failed test that names its key columns goes out with its failing rows' keys in its
        # metadata, read once dbt has let go of the warehouse (transform/failing_rows.py).
        held: list[Any] = []
        failed_checks: list[Any] = []
        progress = StreamProgress(context.log, total=len(context.selected_asset_keys))
        for event in invocation.stream():
            progress.saw(event)
            if row_keys_of(event, invocation.manifest):
                failed_checks.append(event)
            else:
                held.append(event)
        yield from with_row_counts_and_charts(context, settings, held)
        if failed_checks:
            yield from with_failing_rows(failed_checks, invocation, str(settings.warehouse), context.log)
        if not invocation.is_successful():
            raise invocation.get_error() or dg.Failure("dbt build failed")

    return teiki_dbt_models


class StreamProgress:
    """A log line every PROGRESS_SECONDS while dbt runs (`make demo` prints them: run_progress.py),
    since the models' events are held back until dbt ends."""

    PROGRESS_SECONDS = 5.0

    def __init__(self, log: Any, total: int):
        self.log, self.total, self.done = log, total, 0
        self.last = time.monotonic()

    def saw(self, event: Any) -> None:
        if not isinstance(event, dg.Output):
            return
        self.done += 1
        now = time.monotonic()
        if now - self.last >= self.PROGRESS_SECONDS:
            self.last = now
            self.log.info(f"{PROGRESS_PREFIX}{self.done} of {self.total} dbt models built")


def with_row_counts_and_charts(context: dg.AssetExecutionContext, settings: Settings,
                               held: list[Any]) -> Iterator[Any]:
    """The held-back events, each Output first with its row count (`dagster/row_count`) and, for
    a charted mart, its chart in its metadata, then the checks and the rest in their order.

    A chart that fails to render, or a count that cannot be read, is logged and left out; it
    never fails the materialization.
    """
    outputs = [e for e in held if isinstance(e, dg.Output)]
    if outputs:
        warehouse = WarehouseResource(path=str(settings.warehouse))
        try:
            with warehouse.connect(read_only=True) as con:
                enriched = [_with_row_count_and_chart(context, con, event) for event in outputs]
        except Exception as exc:  # noqa: BLE001 - e.g. the warehouse could not be opened
            context.log.warning(f"row counts and charts not added: {exc}")
            enriched = outputs
        yield from enriched
    yield from (e for e in held if not isinstance(e, dg.Output))


def _with_row_count_and_chart(context: dg.AssetExecutionContext, con: Any, event: dg.Output) -> dg.Output:
    key = context.asset_key_for_output(event.output_name)
    extra: dict[str, Any] = {}
    if len(key.path) == 2:
        schema, name = key.path
        try:
            extra["dagster/row_count"] = con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
        except Exception as exc:  # noqa: BLE001 - e.g. a model dbt skipped was never built
            context.log.warning(f"row count of {key.to_user_string()} not read: {exc}")
    if tuple(key.path) in CHARTS:
        chart_name, chart = CHARTS[tuple(key.path)]
        try:
            extra[chart_name] = dg.MetadataValue.md(chart(con))
        except Exception as exc:  # noqa: BLE001 - a chart is never worth a failed run
            context.log.warning(f"chart {chart_name} for {key.to_user_string()} not rendered: {exc}")
    return event.with_metadata({**event.metadata, **extra}) if extra else event


def mart_keys(dbt_models: dg.AssetsDefinition) -> list[dg.AssetKey]:
    return sorted((k for k in dbt_models.keys if k.path[0] == "marts"), key=lambda k: k.path)
