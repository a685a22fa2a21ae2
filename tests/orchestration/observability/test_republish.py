"""A refresh of one mart (a UI subset without the snapshot) is followed by a republish."""

from __future__ import annotations

import dagster as dg

from demo_pipeline import teiki_env

SNAPSHOT = dg.AssetKey(["bi", "snapshot"])
MART = dg.AssetKey(["marts", "subscriptions"])


class _Ticks:
    """Successive evaluations of the snapshot's automation condition, as the sensor ticks."""

    def __init__(self, defs, instance):
        self.defs, self.instance, self.cursor = defs, instance, None

    def requested(self) -> bool:
        result = dg.evaluate_automation_conditions(
            defs=self.defs, instance=self.instance, cursor=self.cursor,
            asset_selection=dg.AssetSelection.assets(SNAPSHOT))
        self.cursor = result.cursor
        return result.get_num_requested(SNAPSHOT) > 0


def test_a_partial_refresh_requests_a_new_snapshot_and_a_full_one_does_not(tmp_path):
    from orchestration.definitions import build_definitions
    from orchestration.settings import load_settings

    with teiki_env(tmp_path):
        defs = build_definitions(load_settings())
    with dg.DagsterInstance.ephemeral() as instance:
        # A full refresh: every mart, then the snapshot, as the daily job does.
        marts = [k for k in defs.resolve_all_asset_keys() if k.path[0] == "marts"]
        for key in marts:
            instance.report_runless_asset_event(dg.AssetMaterialization(key))
        instance.report_runless_asset_event(dg.AssetMaterialization(SNAPSHOT))
        ticks = _Ticks(defs, instance)
        ticks.requested()  # first tick: establishes the cursor
        assert not ticks.requested()
        # One mart refreshed from the UI, the snapshot not selected.
        instance.report_runless_asset_event(dg.AssetMaterialization(MART))
        assert ticks.requested()
        # The publish run happens: nothing more is requested.
        instance.report_runless_asset_event(dg.AssetMaterialization(SNAPSHOT))
        assert not ticks.requested()
        assert "republish_after_refresh" in [s.name for s in defs.sensors]
