"""A description for every dbt test's Dagster check: what it checks, why, and what failing does.

dagster-dbt shows a test's `description`, and almost no test has one (a generic test applied to
a column in YAML rarely does). A check named `is_non_negative_churn_kpis_churned` tells the data
team little at 06:00. So each check says, in one paragraph: the rule on its model and column
(from the test's kind and arguments), the why (a generic test's own leading comment in
`dbt_project/tests/generic/`, a singular test's leading comment), and the severity's effect.
The why is read from the test files, where it is written once; only dbt's built-in tests
(not_null, unique, accepted_values, relationships) have their rule worded here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from orchestration.settings import DBT_PROJECT_DIR

SEVERITY_EFFECT = {
    "error": "Error severity: a failure blocks everything downstream (outbound actions, the BI snapshot).",
    "warn": "Warning: a failure is reported (and in the warnings digest) but blocks nothing.",
}
_LEADING_COMMENT = re.compile(r"^\s*\{#-?(.*?)-?#\}", re.S)
_REF = re.compile(r"ref\(\s*['\"]([^'\"]+)['\"]\s*\)")


def describe_test(node: Mapping[str, Any], manifest: Mapping[str, Any]) -> str:
    """One paragraph for a dbt test node of `manifest` (a dict of manifest.json)."""
    model = _attached_name(node, manifest)
    meta = node.get("test_metadata") or {}
    kind, kwargs = meta.get("name"), meta.get("kwargs") or {}
    column = kwargs.get("column_name") or node.get("column_name")
    target = f"{model}.{column}" if column else model
    if node.get("description"):
        rule = node["description"].strip()
    elif kind:
        rule = f"{_rule(kind, kwargs, target)}. {_why_of_generic(kind)}".strip()
    else:
        rule = _why_of_file(node.get("original_file_path") or "") or f"Singular test on {model}."
    severity = str((node.get("config") or {}).get("severity", "error")).lower()
    return f"{rule} {SEVERITY_EFFECT.get(severity, '')}".strip()


def _attached_name(node: Mapping[str, Any], manifest: Mapping[str, Any]) -> str:
    attached = node.get("attached_node") or next(iter(node.get("depends_on", {}).get("nodes", [])), "")
    parent = manifest.get("nodes", {}).get(attached) or manifest.get("sources", {}).get(attached)
    if not parent:
        return attached.rsplit(".", 1)[-1] or "(model)"
    return f"{parent.get('schema')}.{parent.get('name')}"


def _rule(kind: str, kwargs: Mapping[str, Any], target: str) -> str:
    if kind == "not_null":
        return f"{target} is never empty"
    if kind == "unique":
        return f"{target} is unique"
    if kind == "accepted_values":
        values = kwargs.get("values") or []
        shown = ", ".join(map(str, values[:12])) + (", ..." if len(values) > 12 else "")
        return f"{target} is one of: {shown}"
    if kind in ("relationships", "relationships_within_source"):
        to = _REF.search(str(kwargs.get("to", "")))
        where = f"{to.group(1) if to else kwargs.get('to')}.{kwargs.get('field')}"
        scope = " of the same source" if kind == "relationships_within_source" else ""
        return f"every {target} exists in {where}{scope}"
    if kind == "is_ratio":
        return f"{target} lies between 0 and 1"
    if kind == "is_non_negative":
        return f"{target} is not negative"
    if kind == "is_not_in_future":
        return f"{target} is not dated in the future"
    if kind == "label_is_known":
        return f"every label of {target} is mapped to a code"
    if kind == "unique_combination_of_columns":
        return f"({', '.join(kwargs.get('combination_of_columns') or [])}) is unique in {target}"
    return f"{kind} on {target}"


@lru_cache(maxsize=None)
def _why_of_generic(kind: str) -> str:
    return _why_of_file(f"tests/generic/{kind}.sql")


@lru_cache(maxsize=None)
def _why_of_file(relative: str) -> str:
    """The leading `{#- ... -#}` comment of a test file, as one line; '' when there is none."""
    path = DBT_PROJECT_DIR / relative
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""
    found = _LEADING_COMMENT.match(text)
    return " ".join(found.group(1).split()) if found else ""
