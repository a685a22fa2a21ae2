"""dbt models as Dagster assets; dbt tests become asset checks."""

import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from orchestration.resources import WAREHOUSE_POOL
from orchestration.settings import DBT_PROJECT_DIR, Settings
from orchestration.transform.prepare import dbt_environment

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


translator = TeikiDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def build_dbt_assets(settings: Settings) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        dagster_dbt_translator=translator,
        pool=WAREHOUSE_POOL,
    )
    def teiki_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        # dbt reads the warehouse path and business date from its environment (profiles.yml,
        # dbt_project.yml); dagster-dbt hands it a copy of this process's environment, taken now.
        os.environ.update(dbt_environment(settings))
        # `build` runs each model's tests right after it, so a failing error-severity test stops
        # everything downstream of it, including the outbound actions.
        yield from dbt.cli(["build"], context=context).stream()

    return teiki_dbt_models


def mart_keys(dbt_models: dg.AssetsDefinition) -> list[dg.AssetKey]:
    return sorted((k for k in dbt_models.keys if k.path[0] == "marts"), key=lambda k: k.path)
