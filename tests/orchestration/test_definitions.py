from pathlib import Path

import yaml

import dagster as dg

from orchestration.definitions import defs
from orchestration.resources import WAREHOUSE_POOL

ROOT = Path(__file__).resolve().parents[2]


def test_definitions_load_and_validate():
    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    for expected in [
        "csv_exports/orders", "raw_csv/orders", "staging/stg_csv__orders",
        "marts/subscriptions", "marts/cancel_signal_subscribers",
        "actions/call_center_list", "bi/snapshot",
    ]:
        assert expected in keys, expected
    dg.Definitions.validate_loadable(defs)


def test_lineage_is_one_connected_graph_from_files_to_actions():
    graph = defs.get_repository_def().asset_graph
    key = dg.AssetKey(["actions", "call_center_list"])
    seen, todo = set(), [key]
    while todo:
        k = todo.pop()
        if k in seen:
            continue
        seen.add(k)
        todo.extend(graph.get(k).parent_keys)
    names = {k.to_user_string() for k in seen}
    for stream in ["customers", "subscriptions", "web_events", "inquiries", "products"]:
        assert f"csv_exports/{stream}" in names
        assert f"raw_csv/{stream}" in names


def test_dbt_tests_are_asset_checks():
    checks = list(defs.get_repository_def().asset_graph.asset_check_keys)
    assert len(checks) > 20
    assert any(c.asset_key == dg.AssetKey(["marts", "subscriptions"]) for c in checks)


def test_every_singular_test_with_several_parents_names_its_asset():
    """Otherwise dagster-dbt logs it as an observation, not a check, and it gates nothing."""
    import json

    manifest = json.loads((ROOT / "dbt_project" / "target" / "manifest.json").read_text())
    unattached = [
        uid for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "test" and not node.get("attached_node")
        and len(set(node["depends_on"]["nodes"])) > 1
        and "dagster" not in (node.get("config", {}).get("meta") or node.get("meta") or {})
    ]
    assert unattached == []


def test_every_warehouse_writer_shares_one_pool_of_one_slot():
    graph = defs.get_repository_def().asset_graph
    writers = [
        dg.AssetKey(["raw_csv", "orders"]), dg.AssetKey(["marts", "subscriptions"]),
        dg.AssetKey(["actions", "call_center_list"]), dg.AssetKey(["actions", "campaigns", "winback"]),
        dg.AssetKey(["bi", "snapshot"]),
    ]
    for key in writers:
        assert graph.get(key).pools == {WAREHOUSE_POOL}, key
    instance_cfg = yaml.safe_load((ROOT / "dagster_home" / "dagster.yaml").read_text())
    assert instance_cfg["concurrency"]["pools"]["default_limit"] == 1


def test_every_asset_of_the_warehouse_pool_holds_the_run_lock():
    """The pool's slot holds only for queued runs; the run lock (the `warehouse` resource's set-up,
    orchestration/warehouse_lock.py) holds for every run, so each asset of the pool, dbt's
    included, must require it."""
    in_pool = [a for a in defs.get_repository_def().assets_defs_by_key.values()
               if WAREHOUSE_POOL in (a.op.pools if a.is_executable else set())]
    assert len({id(a) for a in in_pool}) >= 8
    missing = sorted({a.op.name for a in in_pool if "warehouse" not in a.required_resource_keys})
    assert missing == []


def test_daily_schedule_runs_everything_at_six_in_tokyo():
    schedules = {s.name: s for s in defs.get_repository_def().schedule_defs}
    assert set(schedules) == {"daily_refresh_schedule", "campaign_send_schedule", "freshness_checks_schedule"}, schedules
    s = schedules["daily_refresh_schedule"]
    assert (s.cron_schedule, s.execution_timezone) == ("0 6 * * *", "Asia/Tokyo")
    job = defs.resolve_job_def(s.job_name)
    all_keys = set(defs.get_repository_def().asset_graph.materializable_asset_keys)
    assert set(job.asset_layer.selected_asset_keys) == all_keys


def test_campaign_send_runs_only_the_campaigns_at_nine_after_the_quiet_hours():
    s = {s.name: s for s in defs.get_repository_def().schedule_defs}["campaign_send_schedule"]
    assert (s.cron_schedule, s.execution_timezone) == ("0 9 * * *", "Asia/Tokyo")
    keys = defs.resolve_job_def(s.job_name).asset_layer.selected_asset_keys
    assert keys and all(k.path[:2] == ["actions", "campaigns"] for k in keys)
    assert dg.AssetKey(["actions", "campaigns", "winback"]) in keys


def test_daily_job_runs_dbt_in_two_steps_only():
    """Each dbt step pays ~10 s of dbt start-up: one before the sBG fit, one after, no more."""
    from dagster._core.execution.api import create_execution_plan

    plan = create_execution_plan(defs.resolve_job_def("daily_refresh"))
    steps = [s.key for s in plan.get_steps_to_execute_in_topo_order()]
    assert [s for s in steps if s.startswith("teiki_dbt_models")] == ["teiki_dbt_models", "teiki_dbt_models_2"]
    assert steps.index("raw_csv_tables") < steps.index("teiki_dbt_models")


def test_readme_launchpad_examples_are_accepted_by_the_daily_job():
    """A run-config example a reader pastes into the launchpad must be valid config."""
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", readme, flags=re.S) if b.startswith("ops:")]
    assert blocks, "README has no launchpad example"
    job = defs.resolve_job_def("daily_refresh")
    for block in blocks:
        dg.validate_run_config(job, yaml.safe_load(block))


def test_every_asset_has_owners_and_a_domain_and_every_check_says_what_it_checks():
    """What the data team reads in the UI at 06:00: who to ask, and what a failed check means."""
    graph = defs.resolve_asset_graph()
    unowned = [k.to_user_string() for k in graph.get_all_asset_keys() if not graph.get(k).owners]
    untagged = [k.to_user_string() for k in graph.get_all_asset_keys()
                if graph.get(k).tags.get("teiki/domain") in (None, "other")]
    assert not unowned and not untagged, (unowned, untagged)
    assert graph.get(dg.AssetKey(["actions", "call_center_list"])).owners == ["team:crm"]
    assert graph.get(dg.AssetKey(["marts", "orders"])).owners == ["team:data"]
    specs = {key: graph.get_check_spec(key) for key in graph.asset_check_keys}
    assert not [k.name for k, spec in specs.items() if not (spec.description or "").strip()]
    by_name = {k.name: spec.description for k, spec in specs.items()}
    # a generic test: the rule on its column, the why from the test file, the severity's effect
    ratio = next(d for n, d in by_name.items() if n.startswith("is_ratio_"))
    assert "share must lie between 0 and 1" in ratio and "severity" in ratio.lower()
    gate = by_name["orders_have_a_known_customer"]
    assert "blocks everything downstream" in gate
    warn = by_name["assert_subscription_delivery_count_matches_export"]
    assert "compared with the" in warn and "blocks nothing" in warn


def test_owners_come_from_the_settings_file(tmp_path, monkeypatch):
    from orchestration.ownership import OwnerSettings, with_ownership

    @dg.asset(group_name="campaigns")
    def winback():
        return None

    @dg.asset(group_name="marts", owners=["ana@example.jp"])
    def orders():
        return None

    owned = with_ownership([winback, orders], OwnerSettings(crm_team=["crm@example.jp"]))
    specs = {s.key.to_user_string(): s for a in owned for s in a.specs}
    assert specs["winback"].owners == ["crm@example.jp"] and specs["winback"].tags["teiki/domain"] == "actions"
    assert specs["orders"].owners == ["ana@example.jp"]  # an asset's own owners are kept
