"""Layers read downwards only, names say the layer, and a model holds one idea (ARCHITECTURE.md
"Layers and who may read whom"): checked on the parsed manifest, so a new model that reads a
mart from the intermediate layer, or grows past 300 lines, fails here rather than in review."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

DBT = Path(__file__).resolve().parents[2] / "dbt_project"
MANIFEST = DBT / "target" / "manifest.json"
MAX_SQL_LINES = 300

# What each layer may read: another model's layer, or a source by its name. Reference seeds
# (label codes, reason codes) are lookups any layer may read.
# The fitted models' tables (model_params) are a source like the raw layer, read by staging only
# (the run in force, or every run where the scoring chooses among them). The action ledger
# (source actions) is read by its staging model only, like a raw table.
MAY_READ = {
    "staging": {"source:raw_*", "source:model_params", "source:actions", "seed:reference"},
    "intermediate": {"model:staging", "model:intermediate", "seed:reference"},
    "marts": {"model:staging", "model:intermediate", "model:marts", "seed:reference"},
}
NAME = {
    "staging": re.compile(r"^stg_[a-z0-9_]+?__[a-z0-9_]+$"),
    "intermediate": re.compile(r"^int_[a-z0-9_]+?__[a-z0-9_]+$"),
    "marts": re.compile(r"^(?!stg_|int_)[a-z0-9_]+$"),
}


def _manifest() -> dict:
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def _models(manifest: dict) -> list[dict]:
    return [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]


def _kind(node: dict) -> str:
    if node["resource_type"] == "source":
        name = node["source_name"]
        return "source:raw_*" if name.startswith("raw_") else f"source:{name}"
    return f"{node['resource_type']}:{node['schema']}"


def test_every_model_is_in_a_known_layer():
    layers = {n["name"]: n["schema"] for n in _models(_manifest())}
    assert len(layers) > 40
    assert {name: schema for name, schema in layers.items() if schema not in MAY_READ} == {}


def test_layers_read_downwards_only():
    manifest = _manifest()
    nodes = {**manifest["nodes"], **manifest["sources"]}
    upward = sorted(
        f"{model['schema']}.{model['name']} reads {_kind(nodes[dep])} {nodes[dep]['name']}"
        for model in _models(manifest)
        for dep in model["depends_on"]["nodes"]
        if _kind(nodes[dep]) not in MAY_READ[model["schema"]]
    )
    assert upward == []


def test_model_names_say_their_layer():
    wrong = sorted(f"{n['schema']}: {n['name']}" for n in _models(_manifest())
                   if not NAME[n["schema"]].match(n["name"]))
    assert wrong == []


@pytest.mark.parametrize("path", sorted((DBT / "models").rglob("*.sql")),
                         ids=lambda p: p.name)
def test_a_sql_model_holds_one_idea(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines < MAX_SQL_LINES, f"{path.relative_to(DBT)}: {lines} lines; split it by grain"


def test_the_layer_rules_catch_an_upward_read():
    """The rule table is not vacuous: an intermediate model reading a mart is refused."""
    mart = {"resource_type": "model", "schema": "marts", "name": "orders"}
    assert _kind(mart) not in MAY_READ["intermediate"]
    assert _kind({"resource_type": "model", "schema": "intermediate", "name": "x"}) not in MAY_READ["staging"]
