"""Test-session set-up: dagster-dbt needs dbt's manifest.json before any definitions import."""

from __future__ import annotations

from pathlib import Path

import pytest

from demo_pipeline import DemoRun, teiki_env

ROOT = Path(__file__).resolve().parent.parent
DBT_DIR = ROOT / "dbt_project"


def _manifest_is_stale() -> bool:
    from orchestration.settings import load_settings
    from orchestration.transform.prepare import manifest_is_current

    manifest = DBT_DIR / "target" / "manifest.json"
    # Missing, or parsed for other sources than this environment configures (TEIKI_SOURCES).
    if not manifest_is_current(load_settings(), manifest):
        return True
    built = manifest.stat().st_mtime
    return any(
        p.stat().st_mtime > built
        for p in DBT_DIR.rglob("*")
        if p.suffix in {".sql", ".yml", ".csv"} and "target" not in p.parts
    )


def pytest_configure(config):
    # `make test` prepares it already; this covers a bare `pytest` after editing a model.
    if _manifest_is_stale():
        from orchestration.transform.prepare import prepare_manifest

        prepare_manifest()


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """Factory: demo_run(customers, seed, world) materializes every asset once per session,
    size and world (demo_merchant.params.WORLDS)."""
    import dagster as dg

    from orchestration.definitions import build_definitions
    from orchestration.settings import load_settings

    runs: dict[tuple[int, int, str], DemoRun] = {}
    instance = dg.DagsterInstance.ephemeral()

    def get(customers: int = 1500, seed: int = 11, world: str = "default") -> DemoRun:
        if (customers, seed, world) not in runs:
            data_dir = tmp_path_factory.mktemp(f"teiki_{customers}_{seed}_{world}")
            run_config = {"ops": {"demo_merchant_exports": {"config": {
                "customers": customers, "seed": seed, "world": world}}}}
            with teiki_env(data_dir):
                settings = load_settings()
                job = build_definitions(settings).resolve_job_def("daily_refresh")
                result = job.execute_in_process(instance=instance, run_config=run_config, raise_on_error=False)
            assert result.success, [e.message for e in result.all_events if e.is_failure]
            runs[(customers, seed, world)] = DemoRun(settings, job, instance, result, run_config, customers, seed)
        return runs[(customers, seed, world)]

    yield get
    instance.dispose()
