"""On-site offer events (connectors/onsite_offers/events.py) into ``raw_onsite.offer_events``.

The decision service appends every decision and acceptance to its SQLite file; on each refresh
this asset lands the events after the stored cursor (event_id) through the raw writer, then
records the windows and acceptances not yet in the action ledger
(orchestration/actions/onsite_ledger.py), so the contact policy and the effect marts of the same
refresh see them. Without an events file (no service running yet) it records nothing and says so.
"""


import os
from pathlib import Path

import dagster as dg

from connectors.onsite_offers.events import load_events_into_raw
from orchestration.actions.onsite_ledger import record_onsite_events
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from orchestration.settings import Settings

ASSET_KEY = ["raw_onsite", "offer_events"]


def events_path(settings: Settings) -> Path:
    """TEIKI_ONSITE_EVENTS, else <data_dir>/onsite/events.sqlite (the service's --events)."""
    return Path(os.environ.get("TEIKI_ONSITE_EVENTS") or settings.data_dir / "onsite" / "events.sqlite")


def build_onsite_event_assets(settings: Settings) -> list:
    @dg.asset(
        key=ASSET_KEY,
        group_name="raw",
        kinds={"duckdb", "sqlite"},
        pool=WAREHOUSE_POOL,
        description="Every on-site offer decision (shown / not shown and why) and acceptance, "
                    "from the decision service's SQLite events file; the shown and held-out "
                    "windows and the acceptances also go into the action ledger.",
    )
    def onsite_offer_events(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        path = events_path(settings)
        if not path.exists():
            context.log.info(f"on-site offer events: no events file at {path}; nothing to load")
            return dg.MaterializeResult(metadata={"rows_read": 0, "events_file": "absent"})
        with warehouse.connect() as con:
            counts = load_events_into_raw(path, con, context.log.info)
            rows = con.execute('select count(*) from "raw_onsite"."offer_events"').fetchone()[0]
            recorded = record_onsite_events(con, run_id=context.run.run_id)
        context.log.info(f"on-site offers into the action ledger: {recorded['shown']} shown, "
                         f"{recorded['holdout']} held out (new windows), {recorded['accepted']} accepted")
        return dg.MaterializeResult(metadata={
            "dagster/row_count": rows, "rows_read": counts["rows_read"],
            "cursor": counts["cursor"] or "", "sync_id": counts["sync_id"],
            "ledger_shown": recorded["shown"], "ledger_held_out": recorded["holdout"],
            "ledger_accepted": recorded["accepted"],
        })

    return [onsite_offer_events]
