"""Every mart keeps the promises BI users rely on (README "Marts", ARCHITECTURE.md conventions)."""

import json
from pathlib import Path

import pytest

from orchestration.transform.personal_columns import is_tagged_personal, personal_columns

MANIFEST = Path(__file__).resolve().parents[2] / "dbt_project" / "target" / "manifest.json"


def _marts():
    manifest = json.loads(MANIFEST.read_text())
    return [n for n in manifest["nodes"].values()
            if n["resource_type"] == "model" and n["schema"] == "marts"]


def test_there_are_marts():
    assert len(_marts()) >= 20


@pytest.mark.parametrize("mart", _marts(), ids=lambda n: n["name"])
def test_mart_is_a_table_with_an_enforced_contract_and_documented_columns(mart):
    assert mart["config"]["materialized"] == "table"
    assert mart["config"]["contract"]["enforced"] is True
    description = mart["description"].strip()
    first_sentence = description.split(". ")[0].lower()
    assert "one row" in first_sentence or "grain" in first_sentence, description[:120]
    assert mart["columns"], "no columns documented"
    undocumented = [c for c, spec in mart["columns"].items() if not spec.get("description", "").strip()]
    assert undocumented == []
    untyped = [c for c, spec in mart["columns"].items() if not spec.get("data_type")]
    assert untyped == []


def test_readme_lists_every_mart():
    readme = (MANIFEST.parents[2] / "README.md").read_text()
    missing = [m["name"] for m in _marts() if f"| `{m['name']}` |" not in readme]
    assert missing == []


def test_personal_columns_are_tagged_in_every_mart_that_has_them():
    """The one list of personal columns (the BI snapshot without contact columns, masked campaign
    samples) is the `pii: true` tags: a contact column copied into a new mart must carry it too."""
    tagged = personal_columns(MANIFEST)
    assert {"full_name", "full_name_kana", "email", "phone", "line_user_id", "postal_code",
            "address1", "address2", "birthday"} <= tagged
    untagged = [(m["name"], c) for m in _marts() for c, spec in m["columns"].items()
                if c in tagged and not is_tagged_personal(spec)]
    assert untagged == []
