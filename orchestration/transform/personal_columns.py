"""The mart columns that hold personal data, as the mart contracts tag them (`pii: true`).

One list for everything that must not show a person: the masked sample message in a campaign's
asset metadata (`actions/runner.py`) and the BI snapshot published without contact columns
(`publish/bi_snapshot.py`, setting `bi_snapshot.include_contact_columns`). A column is tagged in
its mart's YAML, `config: {meta: {pii: true}}`: names, kana, e-mail, phone, LINE user id, postal
code and address lines, birthday. `tests/dbt_project/test_mart_conventions.py` holds a name tagged in one
mart tagged in every mart that has it, so a new audience cannot carry an untagged copy.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from orchestration.transform.prepare import MANIFEST


def personal_columns(manifest: Path = MANIFEST) -> frozenset[str]:
    """Names of the mart columns tagged `pii: true` in dbt's manifest (read again once re-parsed)."""
    return _tagged_in(manifest, manifest.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _tagged_in(manifest: Path, modified_ns: int) -> frozenset[str]:
    # The manifest is megabytes of JSON; every campaign's sample asks.
    nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"]
    return frozenset(
        name
        for node in nodes.values()
        if node.get("resource_type") == "model" and node.get("schema") == "marts"
        for name, column in node.get("columns", {}).items()
        if is_tagged_personal(column)
    )


def is_tagged_personal(column: dict) -> bool:
    return ((column.get("config") or {}).get("meta") or column.get("meta") or {}).get("pii") is True
