"""Publication of the on-site offer eligibility for the decision service (connectors/onsite_offers).

Reads ``marts.onsite_offer_eligibility`` (who may see which offer on which days; the policy is in
the mart) and writes the eligible customers and the held-out ones to a standalone file,
``<data_dir>/onsite/eligibility.jsonl`` (connectors/onsite_offers/eligibility.py: temporary file,
fsync, rename, mode 0600). The service reads that file, never the warehouse, and reloads it when
it changes. Re-running replaces the file whole. ``build_onsite_offer_assets`` also returns the
asset loading the service's events into raw (orchestration/ingestion/onsite_offers.py).
"""


from pathlib import Path

import dagster as dg

from connectors.onsite_offers.eligibility import write_eligibility
from orchestration.ingestion.onsite_offers import build_onsite_event_assets
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from orchestration.settings import Settings

SOURCE_MART = dg.AssetKey(["marts", "onsite_offer_eligibility"])
ASSET_KEY = ["actions", "onsite_offer_eligibility"]

_QUERY = """
select customer_id, source, window_id, window_start, window_end, offer_id, offer_text,
       offer_image_url, offer_expires_on, ineligible_reason = 'holdout' as holdout
from marts.onsite_offer_eligibility
where eligible or ineligible_reason = 'holdout'
"""


def eligibility_path(settings: Settings) -> Path:
    return settings.data_dir / "onsite" / "eligibility.jsonl"


def build_onsite_offer_assets(settings: Settings) -> list:
    @dg.asset(
        key=ASSET_KEY,
        deps=[SOURCE_MART],
        group_name="actions",
        kinds={"json"},
        pool=WAREHOUSE_POOL,
        description="The on-site offer eligibility (eligible and held-out customers, their window "
                    "and offer) as a standalone file for the decision service.",
    )
    def onsite_offer_eligibility(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        with warehouse.connect() as con:
            cur = con.execute(_QUERY)
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r)) for r in cur.fetchall()]
        path = eligibility_path(settings)
        published = write_eligibility(path, rows, settings.business_date())
        holdout = sum(1 for r in rows if r["holdout"])
        context.log.info(f"on-site offers: {published} customers published -> {path}")
        return dg.MaterializeResult(metadata={
            "customers": published, "eligible": len(rows) - holdout, "holdout": holdout,
            "path": dg.MetadataValue.path(str(path)),
        })

    # The service's events come back through the same builder, so the code location adds one line.
    return [onsite_offer_eligibility, *build_onsite_event_assets(settings)]
