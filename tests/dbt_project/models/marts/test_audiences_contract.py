"""Every audience mart (dbt_project/models/marts/audiences) offers campaigns the same common
columns, with the same names, types and order, so one campaign runner reads any of them; and
each has a unit test of its selection rule. Checked on the parsed manifest (no warehouse)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

MANIFEST = Path(__file__).resolve().parents[4] / "dbt_project" / "target" / "manifest.json"
FOLDER = "marts/audiences/"

# The common contract (DECISIONLOG.md "Audiences: who each campaign may reach").
COMMON = [
    ("customer_key", "varchar"), ("source", "varchar"), ("customer_id", "varchar"),
    ("subscription_id", "varchar"), ("full_name", "varchar"), ("email", "varchar"),
    ("line_user_id", "varchar"), ("phone", "varchar"), ("postal_code", "varchar"),
    ("prefecture", "varchar"), ("email_opt_in", "boolean"), ("line_opt_in", "boolean"),
    ("dm_opt_in", "boolean"), ("phone_opt_in", "boolean"), ("priority_score", "double"),
    ("as_of_date", "date"),
]
NOT_NULL = {"customer_key", "source", "priority_score", "as_of_date"}


def _manifest() -> dict:
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def _audiences(manifest: dict) -> list[dict]:
    return sorted((n for n in manifest["nodes"].values()
                   if n["resource_type"] == "model" and n["path"].startswith(FOLDER)),
                  key=lambda n: n["name"])


def test_every_audience_is_read_by_a_playbook_campaign_and_every_campaign_has_one():
    from orchestration.actions.campaigns import PLAYBOOK_DIR, parse_campaign_file

    names = {n["name"] for n in _audiences(_manifest())}
    used = {parse_campaign_file(p).audience for p in PLAYBOOK_DIR.glob("*.yaml")}
    assert len(names) >= 9
    assert names == used


@pytest.mark.parametrize("model", _audiences(_manifest()), ids=lambda n: n["name"])
def test_audience_starts_with_the_common_columns(model):
    columns = list(model["columns"].values())
    assert [(c["name"], c["data_type"]) for c in columns[:len(COMMON)]] == COMMON
    not_null = {c["name"] for c in columns if any(k["type"] == "not_null" for k in c.get("constraints", []))}
    assert NOT_NULL <= not_null
    # The clocks: at least one integer column after the common ones.
    assert any(c["data_type"] == "integer" for c in columns[len(COMMON):])


@pytest.mark.parametrize("model", _audiences(_manifest()), ids=lambda n: n["name"])
def test_audience_is_one_row_per_customer_and_has_a_unit_test(model):
    manifest = _manifest()
    tests = [n for n in manifest["nodes"].values()
             if n["resource_type"] == "test" and model["unique_id"] in n["depends_on"]["nodes"]]
    assert any(t["test_metadata"]["name"] == "unique" and t.get("column_name") == "customer_key"
               for t in tests if t.get("test_metadata"))
    assert "one row per customer" in model["description"].lower().split(". ")[0] or \
        "one row per subscriber" in model["description"].lower().split(". ")[0]
    unit_tests = [u for u in manifest.get("unit_tests", {}).values() if u["model"] == model["name"]]
    assert unit_tests, "no dbt unit test of the selection rule"
