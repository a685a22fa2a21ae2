"""Publication follows every refresh, whichever subset was refreshed.

The daily job publishes the BI snapshot at its end. A data-team member who refreshes one mart
from the UI (or backfills a few models from the CLI) runs a subset without `bi/snapshot`; without
this, dashboards would keep showing the old figures and nothing would say so. The snapshot
carries Dagster's eager automation condition (publish when any mart it copies was updated since
it was last published, not while one is still being refreshed or missing), and this sensor,
on by default, evaluates it: a partial refresh is followed by a publish run within a minute.
"""

from __future__ import annotations

import dagster as dg

SNAPSHOT_KEY = dg.AssetKey(["bi", "snapshot"])

# Set on the snapshot asset (orchestration/publish/assets.py).
REPUBLISH_CONDITION = dg.AutomationCondition.eager()


def build_republish_sensor() -> dg.AutomationConditionSensorDefinition:
    return dg.AutomationConditionSensorDefinition(
        "republish_after_refresh",
        target=dg.AssetSelection.assets(SNAPSHOT_KEY),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=60,
        description="Republishes the BI snapshot after any refresh that updated a mart but not the snapshot.",
    )
