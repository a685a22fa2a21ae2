"""The settings file (TEIKI_SETTINGS): a strict schema whose errors name the file and the key, and
dbt vars that reach every dbt call, so a merchant changes a threshold without touching the repository."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from demo_pipeline import teiki_env
from orchestration.merchant_settings import (
    MerchantSettings,
    SettingsFileError,
    declared_dbt_vars,
    effective_dbt_vars,
    load_merchant_settings,
    parse_settings_file,
)
from orchestration.transform.prepare import dbt_vars_args


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "teiki.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_means_every_default():
    assert load_merchant_settings({}) == MerchantSettings()
    assert dbt_vars_args(MerchantSettings()) == []
    assert effective_dbt_vars(MerchantSettings()) == declared_dbt_vars()


@pytest.mark.parametrize(("text", "message"), [
    ("busines:\n  timezone: Asia/Tokyo\n", "busines: unknown key"),
    ("business:\n  zone: Asia/Tokyo\n", "business.zone: unknown key"),
    ("business:\n  timezone: Mars/Olympus\n", "business.timezone: unknown time zone"),
    ("freshness:\n  export_max_age_hours: soon\n", "freshness.export_max_age_hours"),
    ("freshness:\n  severity: fatal\n", "freshness.severity"),
    ("dbt_vars:\n  cpm_spend_yn: 50000\n", "unknown dbt var 'cpm_spend_yn'"),
    ("dbt_vars:\n  cpm_spend_yen: lots\n", "dbt var 'cpm_spend_yen' must be a number"),
    ("dbt_vars:\n  high_risk_bands: high\n", "dbt var 'high_risk_bands' must be a list"),
    ("csv_export:\n  folder: /srv/exports\n", "csv_export.folder: unknown key"),
    ("csv_export:\n  dir: 42\n", "csv_export.dir"),
    ("csv_export:\n  profile: '  '\n", "csv_export.profile: must not be empty"),
    ("- just\n- a list\n", "the top level must be a mapping"),
    ("business: [unclosed\n", "not valid YAML"),
])
def test_a_wrong_setting_is_an_error_naming_the_file_and_the_key(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(SettingsFileError) as caught:
        parse_settings_file(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_the_export_folder_and_profile_come_from_the_settings_file(tmp_path):
    """The merchant's CSV source is chosen in the settings file; the environment overrides it for
    one process (a backfill from another folder)."""
    from orchestration.settings import load_settings

    path = _write(tmp_path, f"csv_export:\n  dir: {tmp_path / 'drop'}\n  profile: ecforce_teiki\n")
    env = {"TEIKI_DATA_DIR": str(tmp_path / "data"), "TEIKI_SETTINGS": str(path)}
    settings = load_settings(env)
    assert settings.sources == ("csv",) and not settings.demo
    assert settings.csv_export_dir == tmp_path / "drop"
    assert settings.csv_profile == "ecforce_teiki"
    once = load_settings({**env, "TEIKI_CSV_EXPORT_DIR": str(tmp_path / "old"), "TEIKI_CSV_PROFILE": "demo_merchant"})
    assert (once.csv_export_dir, once.csv_profile) == (tmp_path / "old", "demo_merchant")
    assert load_settings({"TEIKI_DATA_DIR": str(tmp_path / "data")}).demo


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(SettingsFileError, match="cannot read the settings file"):
        load_merchant_settings({"TEIKI_SETTINGS": str(tmp_path / "absent.yaml")})


def test_overrides_only_reach_dbt_and_defaults_stay_in_dbt_project_yml(tmp_path):
    settings = parse_settings_file(_write(tmp_path, "dbt_vars:\n  cpm_spend_yen: 5000\n  high_risk_bands: [high, medium]\n"))
    args = dbt_vars_args(settings)
    assert args[0] == "--vars"
    assert "cpm_spend_yen" in args[1] and "f2_window_days" not in args[1]
    effective = effective_dbt_vars(settings)
    assert effective["cpm_spend_yen"] == 5000
    assert effective["f2_window_days"] == declared_dbt_vars()["f2_window_days"]


def _cpm_and_ltv(warehouse: Path) -> tuple[dict, float]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        states = dict(con.execute("select cpm_state, count(*) from marts.customer_cpm group by 1").fetchall())
        rate = con.execute("select max(discount_rate_per_delivery) from marts.ltv_projected").fetchone()[0]
    return states, rate


# A dbt build of its own on top of the session world: in the slow tier CI runs after `make test`.
@pytest.mark.slow
def test_changing_cpm_cut_off_and_discount_rate_in_the_settings_file_changes_the_marts(demo_run, tmp_path):
    """The next refresh after an edit of the settings file builds the marts with the new values;
    no file of the repository is touched."""
    from orchestration.definitions import build_definitions
    from orchestration.settings import load_settings

    run = demo_run()
    before_states, before_rate = _cpm_and_ltv(run.settings.warehouse)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copy(run.settings.warehouse, data_dir / "warehouse.duckdb")
    settings_file = _write(tmp_path, "dbt_vars:\n  cpm_spend_yen: 1000\n  ltv_annual_discount_rate: 0.5\n")
    repo = Path(__file__).resolve().parents[2] / "dbt_project"
    project_yml = (repo / "dbt_project.yml").read_bytes()
    with teiki_env(data_dir):
        os.environ["TEIKI_SETTINGS"] = str(settings_file)
        defs = build_definitions(load_settings())
        # cpm_monthly too: a test checks it agrees with customer_cpm.
        wanted = {"customer_cpm", "cpm_monthly", "ltv_projected", "int_customers__cpm_states"}
        dbt_keys = [k for k in defs.resolve_all_asset_keys() if k.path[-1] in wanted]
        assert len(dbt_keys) == len(wanted), dbt_keys
        job = defs.resolve_implicit_global_asset_job_def()
        with dg.DagsterInstance.ephemeral() as instance:
            result = job.execute_in_process(instance=instance, asset_selection=dbt_keys, raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    after_states, after_rate = _cpm_and_ltv(data_dir / "warehouse.duckdb")
    assert sum(after_states.values()) == sum(before_states.values())
    # A 1,000-yen cut-off leaves (almost) no customer 'steady' (below the cut-off).
    def steady(states: dict) -> int:
        return sum(n for state, n in states.items() if state.startswith("steady"))
    assert steady(before_states) > 0
    assert steady(after_states) < steady(before_states)
    assert after_rate > before_rate * 3  # 50 % a year instead of 10 %
    assert (repo / "dbt_project.yml").read_bytes() == project_yml


def _leaf_keys(model, prefix: str = "") -> list[str]:
    from pydantic import BaseModel

    keys = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        keys += _leaf_keys(value, f"{prefix}{name}.") if isinstance(value, BaseModel) else [prefix + name]
    return keys


def test_readme_lists_every_setting():
    """A new setting is not done until the README's settings table names it."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    table = readme.split("### The settings file (`TEIKI_SETTINGS`)", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    missing = []
    for key in _leaf_keys(MerchantSettings()):
        section, _, leaf = key.rpartition(".")
        named = any(f"`{key}`" in row or (f"`{section}." in row and f"`{leaf}`" in row) for row in rows)
        if key == "dbt_vars":
            named = any("`dbt_vars.<name>`" in row for row in rows)
        if not named:
            missing.append(key)
    assert not missing, f"settings missing from the README table: {missing}"
