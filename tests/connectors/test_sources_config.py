"""Which sources feed the warehouse: derived from the configuration, handed to dbt, checked
against the manifest; and union_staging's declarations checked against the staging files."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import duckdb
import pytest

from connectors.csv_export.profile import PROFILES_DIR
from orchestration.settings import load_settings
from orchestration.transform import prepare

ROOT = Path(__file__).resolve().parents[2]
MACRO = ROOT / "dbt_project" / "macros" / "union_staging.sql"
STAGING = ROOT / "dbt_project" / "models" / "staging"

SHOPIFY = {"SHOPIFY_SHOP": "demo", "SHOPIFY_ACCESS_TOKEN": "shpat_config_test"}
RECHARGE = {"RECHARGE_API_TOKEN": "rc_config_test"}
COLORME = {"COLORME_ACCESS_TOKEN": "cm_config_test"}


@pytest.mark.parametrize(
    ("env", "sources", "demo"),
    [
        ({}, ("csv",), True),
        ({"TEIKI_CSV_EXPORT_DIR": "/srv/exports"}, ("csv",), False),
        # an API source configured: the demo merchant steps aside
        ({**SHOPIFY, **RECHARGE}, ("shopify", "recharge"), False),
        (COLORME, ("colorme",), False),
        ({**RECHARGE, "TEIKI_CSV_EXPORT_DIR": "/srv/exports"}, ("csv", "recharge"), False),
        # half a configuration is no configuration
        ({"SHOPIFY_SHOP": "demo"}, ("csv",), True),
        ({"TEIKI_CSV_EXPORT_DIR": "  "}, ("csv",), True),
    ],
)
def test_sources_follow_the_configuration(tmp_path, env, sources, demo):
    settings = load_settings({"TEIKI_DATA_DIR": str(tmp_path), **env})
    assert settings.sources == sources
    assert settings.demo is demo
    assert prepare.dbt_environment(settings)["TEIKI_SOURCES"] == ",".join(sources)


def test_the_profile_s_authoritative_figures_reach_dbt_only_for_the_csv_path(tmp_path):
    text = (PROFILES_DIR / "demo_merchant.yaml").read_text(encoding="utf-8")
    line = "delivery_count:     {header: 定期回数, type: integer}"
    profile = tmp_path / "p.yaml"
    profile.write_text(text.replace(line, line[:-1] + ", authoritative: true}"), encoding="utf-8")
    env = {"TEIKI_DATA_DIR": str(tmp_path), "TEIKI_CSV_PROFILE": str(profile)}
    csv = load_settings({**env, "TEIKI_CSV_EXPORT_DIR": "/srv/exports"})
    assert prepare.dbt_environment(csv)["TEIKI_AUTHORITATIVE_FIGURES"] == "subscriptions.delivery_count"
    api = load_settings({**env, **SHOPIFY})
    assert prepare.dbt_environment(api)["TEIKI_AUTHORITATIVE_FIGURES"] == ""
    # a profile that does not load declares nothing (its load asset says why)
    broken = load_settings({**env, "TEIKI_CSV_EXPORT_DIR": "/srv/exports", "TEIKI_CSV_PROFILE": "nope"})
    assert prepare.dbt_environment(broken)["TEIKI_AUTHORITATIVE_FIGURES"] == ""


def _manifest(path: Path, models: list[str]) -> Path:
    nodes = {f"model.teiki.{m}": {"resource_type": "model", "name": m} for m in models}
    nodes["test.teiki.stg_csv_x"] = {"resource_type": "test", "name": "not_null_stg_x__y"}
    path.write_text(json.dumps({"nodes": nodes}))
    return path


def test_manifest_for_other_sources_is_detected_and_parsed_again(tmp_path, monkeypatch):
    manifest = _manifest(tmp_path / "manifest.json",
                         ["stg_csv__orders", "stg_csv__customers", "int_orders__unioned", "orders"])
    assert prepare.manifest_sources(manifest) == {"csv"}
    assert prepare.manifest_sources(tmp_path / "missing.json") is None
    api = load_settings({"TEIKI_DATA_DIR": str(tmp_path), **SHOPIFY, **RECHARGE})
    demo = load_settings({"TEIKI_DATA_DIR": str(tmp_path)})
    assert prepare.manifest_is_current(demo, manifest)
    assert not prepare.manifest_is_current(api, manifest)

    parsed_for: list[tuple[str, ...]] = []

    def fake_parse(settings):
        parsed_for.append(settings.sources)
        _manifest(manifest, ["stg_shopify__orders", "stg_recharge__subscriptions",
                             "stg_recharge__subscription_charges"])

    monkeypatch.setattr(prepare, "prepare_manifest", fake_parse)
    assert prepare.ensure_manifest(demo, manifest) is False and parsed_for == []
    assert prepare.ensure_manifest(api, manifest) is True
    assert parsed_for == [("shopify", "recharge")]
    assert prepare.ensure_manifest(api, manifest) is False  # now current: not parsed again

    # a parse that still leaves the wrong staging models is an error, not a silent fallback
    monkeypatch.setattr(prepare, "prepare_manifest", lambda settings: None)
    with pytest.raises(RuntimeError, match="colorme"):
        prepare.ensure_manifest(load_settings({"TEIKI_DATA_DIR": str(tmp_path), **COLORME}), manifest)


def _macro_literal(macro: str, start: str, end: str):
    body = MACRO.read_text(encoding="utf-8").split("{% macro " + macro, 1)[1]
    text = body.split(start, 1)[1].split(end, 1)[0]
    return ast.literal_eval("{" + text + "}")


def staging_models() -> dict[str, list[str]]:
    return _macro_literal("staging_models", "{{ return({", "}) }}")


def canonical_columns() -> dict[str, list[tuple[str, str]]]:
    return _macro_literal("canonical_columns", "{%- set shapes = {", "} -%}")


def test_declared_staging_models_are_the_files():
    entities = set(canonical_columns())
    on_disk: dict[str, set[str]] = {}
    for path in STAGING.glob("*/stg_*__*.sql"):
        source, entity = re.fullmatch(r"stg_(\w+?)__(\w+)", path.stem).groups()
        assert path.parent.name == source, path
        if entity in entities:  # others (stg_recharge__subscription_charges) are not unioned
            on_disk.setdefault(source, set()).add(entity)
    assert {s: set(e) for s, e in staging_models().items()} == on_disk
    # the reference shape has every entity
    assert on_disk["csv"] == entities


@pytest.mark.slow  # shares the API marts test's 300-customer run, in the slow tier
def test_canonical_shape_is_the_csv_staging_shape(demo_run):
    run = demo_run(300, 11)  # the API marts test's run: no extra pipeline
    con = duckdb.connect(str(run.settings.warehouse), read_only=True)
    try:
        for entity, columns in canonical_columns().items():
            actual = con.execute(
                "select column_name, lower(data_type) from duckdb_columns() "
                "where schema_name = 'staging' and table_name = ? order by column_index",
                [f"stg_csv__{entity}"]).fetchall()
            assert actual == [(name, type_) for name, type_ in columns], entity
    finally:
        con.close()
