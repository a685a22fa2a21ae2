"""Every dbt var a model, macro or test reads is declared once, with its default, in
dbt_project.yml: the one place a data team looks for a threshold, and the list the settings
file's dbt_vars is validated against."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

DBT = Path(__file__).resolve().parents[2] / "dbt_project"
VAR_CALL = re.compile(r"""\bvar\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*(,)?""")


def _calls():
    for path in sorted(DBT.rglob("*.sql")):
        if "target" in path.parts:
            continue
        for match in VAR_CALL.finditer(path.read_text(encoding="utf-8")):
            yield path.relative_to(DBT), match.group(1), bool(match.group(2))


def test_every_var_read_is_declared_with_its_default():
    declared = yaml.safe_load((DBT / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]
    calls = list(_calls())
    assert len(calls) > 20  # the scan sees the project
    undeclared = sorted({f"{path}: {name}" for path, name, _ in calls if name not in declared})
    assert not undeclared, f"vars read but not declared in dbt_project.yml: {undeclared}"


def test_no_var_call_carries_a_second_default():
    inline = sorted({f"{path}: {name}" for path, name, has_default in _calls() if has_default})
    assert not inline, f"defaults belong in dbt_project.yml, not in the call: {inline}"
