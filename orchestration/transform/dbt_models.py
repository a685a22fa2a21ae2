"""dbt models as Dagster assets; dbt tests become asset checks."""

import os
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from orchestration.charts.marts import CHARTS
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource
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
        # dbt holds DuckDB's single write lock while it runs, so the charted marts' outputs (and
        # their checks, which must follow them) are held back until the stream ends, then sent
        # with the chart rendered from the finished tables (orchestration/charts/).
        # A failed test that names its key columns is held back too, and goes out with its
        # failing rows' keys in its metadata, read once dbt has let go of the warehouse
        # (transform/failing_rows.py).
        held: list[Any] = []
        failed_checks: list[Any] = []
        for event in invocation.stream():
            if row_keys_of(event, invocation.manifest):
                failed_checks.append(event)
            elif _event_asset_key(context, event) in CHARTED_KEYS:
                held.append(event)
            else:
                yield event
        yield from with_charts(context, settings, held)
        if failed_checks:
            yield from with_failing_rows(failed_checks, invocation, str(settings.warehouse), context.log)
        if not invocation.is_successful():
            raise invocation.get_error() or dg.Failure("dbt build failed")

    return teiki_dbt_models


CHARTED_KEYS = {dg.AssetKey(list(path)) for path in CHARTS}


def _event_asset_key(context: dg.AssetExecutionContext, event: Any) -> dg.AssetKey | None:
    if isinstance(event, dg.Output):
        return context.asset_key_for_output(event.output_name)
    return getattr(event, "asset_key", None)


def with_charts(context: dg.AssetExecutionContext, settings: Settings, held: list[Any]) -> Iterator[Any]:
    """Held-back events, each charted mart's Output first with its chart added to its metadata.

    A chart that fails to render is logged and left out; it never fails the materialization.
    """
    outputs = [e for e in held if isinstance(e, dg.Output)]
    if outputs:
        warehouse = WarehouseResource(path=str(settings.warehouse))
        try:
            with warehouse.connect(read_only=True) as con:
                charted = []
                for event in outputs:
                    key = context.asset_key_for_output(event.output_name)
                    name, chart = CHARTS[tuple(key.path)]
                    try:
                        markdown = chart(con)
                    except Exception as exc:  # noqa: BLE001 - a chart is never worth a failed run
                        context.log.warning(f"chart {name} for {key.to_user_string()} not rendered: {exc}")
                        charted.append(event)
                        continue
                    charted.append(event.with_metadata({**event.metadata, name: dg.MetadataValue.md(markdown)}))
        except Exception as exc:  # noqa: BLE001 - e.g. the warehouse could not be opened
            context.log.warning(f"charts not rendered: {exc}")
            charted = outputs
        yield from charted
    yield from (e for e in held if not isinstance(e, dg.Output))


def mart_keys(dbt_models: dg.AssetsDefinition) -> list[dg.AssetKey]:
    return sorted((k for k in dbt_models.keys if k.path[0] == "marts"), key=lambda k: k.path)
