"""Prepare dbt's manifest (`dbt parse`) for the CLI, `make` and tests, for the configured sources.

dagster-dbt loads manifest.json when definitions are built, and only `dagster dev` prepares it by
itself. Which staging models exist depends on the sources (TEIKI_SOURCES, derived in
orchestration/settings.py): a manifest parsed for other sources would give Dagster a graph
without the merchant's staging models, or with models whose raw tables nobody loads. So the
manifest's own staging models are compared with the configured sources (`manifest_sources`), and
a manifest parsed for other sources is parsed again (`ensure_manifest`, called by
`build_definitions`, `make manifest` and the test session), never used as it is.

Parsing with the same environment the pipeline gives dbt (warehouse path, business date,
sources) also keeps dbt's partial-parse cache valid, so a run does not re-parse everything.
Deliberately imports nothing that needs the manifest.

    python -m orchestration.transform.prepare             # parse now
    python -m orchestration.transform.prepare --if-stale  # only if missing or for other sources
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from connectors.csv_export.errors import ProfileError
from connectors.csv_export.profile import load_profile
from orchestration.merchant_settings import MerchantSettings, load_merchant_settings
from orchestration.settings import CSV_SOURCE, DBT_PROJECT_DIR, Settings, load_settings

MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"


def dbt_environment(settings: Settings) -> dict[str, str]:
    return {
        "TEIKI_WAREHOUSE": str(settings.warehouse),
        "TEIKI_AS_OF_DATE": settings.as_of_date.isoformat() if settings.as_of_date else "",
        # macros/union_staging.sql: which stg_<source>__* models and raw sources are enabled
        "TEIKI_SOURCES": ",".join(settings.sources),
        # int_subscriptions__as_of: export figures the CSV profile declares authoritative
        "TEIKI_AUTHORITATIVE_FIGURES": ",".join(authoritative_figures(settings)),
    }


def authoritative_figures(settings: Settings) -> tuple[str, ...]:
    """The CSV profile's `authoritative: true` figures ("stream.column"), when the CSV path is a
    source; none for a profile that does not load (its load asset reports why, by file and key)."""
    if CSV_SOURCE not in settings.sources:
        return ()
    try:
        return load_profile(settings.csv_profile).authoritative_figures
    except ProfileError:
        return ()


def dbt_vars_args(merchant: MerchantSettings | None = None) -> list[str]:
    """`--vars` for every dbt call: the settings file's dbt_vars (TEIKI_SETTINGS), read now.

    Read at each call, not when the code location loads, so a changed threshold applies on the
    next refresh without reloading Dagster. Only the overrides are passed: the defaults stay in
    dbt_project.yml, their one home. The same overrides at parse and at build keep dbt's
    partial-parse cache valid (a change of vars makes dbt parse everything again, once).
    """
    merchant = load_merchant_settings() if merchant is None else merchant
    if not merchant.dbt_vars:
        return []
    return ["--vars", json.dumps(merchant.dbt_vars, ensure_ascii=False, sort_keys=True)]


def prepare_manifest(settings: Settings | None = None) -> None:
    settings = settings or load_settings()
    dbt = Path(sys.executable).parent / "dbt"
    env = {**os.environ, **dbt_environment(settings)}
    subprocess.run(
        [str(dbt) if dbt.exists() else "dbt", "parse", "--quiet", "--profiles-dir", ".", *dbt_vars_args()],
        cwd=DBT_PROJECT_DIR, env=env, check=True,
    )


MODEL_PARAMS_SOURCE = "model_params"  # a dbt source written by Teiki itself, not a cart
ACTIONS_SOURCE = "actions"            # the action ledger (orchestration/actions/ledger.py), likewise
ONSITE_SOURCE = "onsite"              # the on-site offer service's events (connectors/onsite_offers/)
TEIKI_WRITTEN_SOURCES = (MODEL_PARAMS_SOURCE, ACTIONS_SOURCE, ONSITE_SOURCE)


def manifest_sources(manifest: Path = MANIFEST) -> set[str] | None:
    """The sources a manifest was parsed for, read from its enabled staging models
    (stg_<source>__<entity>; not stg_model_params__*, stg_actions__* nor stg_onsite__*, tables Teiki
    writes itself, always there);
    None when there is no readable manifest."""
    try:
        nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"]
    except (OSError, ValueError, KeyError):
        return None
    return {
        node["name"][len("stg_"):].split("__", 1)[0]
        for node in nodes.values()
        if node.get("resource_type") == "model" and node["name"].startswith("stg_")
        and "__" in node["name"]
        and not any(node["name"].startswith(f"stg_{name}__") for name in TEIKI_WRITTEN_SOURCES)
    }


def manifest_is_current(settings: Settings, manifest: Path = MANIFEST) -> bool:
    return manifest_sources(manifest) == set(settings.sources)


def ensure_manifest(settings: Settings, manifest: Path = MANIFEST) -> bool:
    """Parse again when the manifest is missing or was parsed for other sources; True if it did."""
    if manifest_is_current(settings, manifest):
        return False
    prepare_manifest(settings)
    if not manifest_is_current(settings, manifest):
        raise RuntimeError(
            f"dbt parse did not produce a manifest for the sources {', '.join(settings.sources)} "
            f"(it has {sorted(manifest_sources(manifest) or [])}); check TEIKI_SOURCES handling in "
            f"dbt_project/macros/union_staging.sql"
        )
    return True


if __name__ == "__main__":
    current = load_settings()
    if "--if-stale" in sys.argv[1:]:
        if ensure_manifest(current):
            print(f"dbt manifest prepared for sources: {', '.join(current.sources)}")
    else:
        prepare_manifest(current)
