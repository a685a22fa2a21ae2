"""On-site offer decisions and acceptances into the action ledger.

The decision service (connectors/onsite_offers) decides in real time from its own eligibility
file; its events come back through ``raw_onsite.offer_events``. This module turns them into
ledger rows like any campaign's, so the contact policy's offer spacing, the effect marts and "why
did (or didn't) this customer get it" see on-site offers too:

- one row per customer and window (``step`` = the window id ``source:subscription_id:delivery``),
  on the day of the customer's first in-window visit: ``send`` / treatment / status ``sent`` when
  the offer was shown (or a caller took it through the call center, page ``call_center``),
  ``holdout`` / holdout when the customer is in the offer's random holdout (the service logs
  their visits and calls ``not_shown/holdout`` and shows nothing). Both arms are the window's
  visitors and callers, so the effect marts compare like with like. Visits outside the window or of customers
  without an offer are not decisions of the campaign (they stay in the raw events);
- channel ``onsite``, ``offer_code`` the offer shown, ``monetary_offer`` true (a gift in the next
  box costs the merchant; it counts for offer spacing, not for the contact cap:
  contact_policy.PULL_CHANNELS);
- ``accepted_at`` of the treatment row: the customer's 受け取る (the first one per window).

The campaign name is the dbt var ``onsite_offer_campaign`` (the one the eligibility mart draws the
holdout with). Recording is idempotent: a window already in the ledger is never recorded again,
so the asset may reload every event. Customer keys come from the identity table of the last dbt
build (``intermediate.int_customers__identity``); a customer it does not know yet keeps the
anchor form ``source:customer_id``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import duckdb

from connectors.onsite_offers.service import CALL_CENTER
from orchestration.actions import ledger
from orchestration.merchant_settings import effective_dbt_vars

CAMPAIGN_VAR = "onsite_offer_campaign"
CHANNEL = "onsite"
EVENTS_TABLE = "raw_onsite.offer_events"
IDENTITY_TABLE = "intermediate.int_customers__identity"


def onsite_campaign() -> str:
    return str(effective_dbt_vars()[CAMPAIGN_VAR])


def _table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, name = qualified.split(".")
    return bool(con.execute("select count(*) from information_schema.tables "
                            "where table_schema = ? and table_name = ?", [schema, name]).fetchall()[0][0])


def record_onsite_events(con: duckdb.DuckDBPyConnection, campaign: str | None = None,
                         run_id: str | None = None) -> dict[str, int]:
    """Record the windows not yet in the ledger and the acceptances not yet on their rows.
    Returns counts: shown, holdout (windows newly recorded), accepted (rows newly marked)."""
    campaign = campaign or onsite_campaign()
    counts = {"shown": 0, "holdout": 0, "accepted": 0}
    if not _table_exists(con, EVENTS_TABLE):
        return counts
    ledger.ensure_ledger(con)
    identity = (f"left join {IDENTITY_TABLE} as identity on identity.source = first_visit.source "
                "and identity.customer_id = first_visit.customer_id"
                if _table_exists(con, IDENTITY_TABLE) else "")
    key = "identity.customer_key" if identity else "null"
    rows = con.execute(f"""
        with visits as (
            select * from {EVENTS_TABLE}
            where window_id is not null
                and (event_type in ('shown', 'accepted') or (event_type = 'not_shown' and reason = 'holdout'))
        ),
        first_visit as (
            select customer_id, window_id, split_part(window_id, ':', 1) as source,
                split_part(window_id, ':', 2) as subscription_id,
                arg_min(business_date, event_id) as action_date,
                arg_min(event_type, event_id) as event_type,
                arg_min(offer_id, event_id) as offer_id,
                arg_min(page, event_id) as page
            from visits
            group by customer_id, window_id
        )
        select coalesce({key}, first_visit.source || ':' || first_visit.customer_id),
            first_visit.source, first_visit.customer_id, first_visit.subscription_id,
            first_visit.window_id, first_visit.action_date, first_visit.event_type,
            first_visit.offer_id, first_visit.page
        from first_visit {identity}
        where not exists (
            select 1 from {ledger.LEDGER_TABLE} as l
            where l.campaign = ? and l.step = first_visit.window_id and l.customer_id = first_visit.customer_id)
        order by first_visit.action_date, first_visit.window_id
    """, [campaign]).fetchall()
    by_day: dict[date, list[ledger.LedgerEntry]] = defaultdict(list)
    for customer_key, source, customer_id, subscription_id, window_id, day, event_type, offer_id, page in rows:
        shown = event_type in ("shown", "accepted")
        counts["shown" if shown else "holdout"] += 1
        reason = ("held out at random: shown nothing" if not shown
                  else "accepted through the call center" if page == CALL_CENTER else f"shown on the {page} page")
        by_day[day].append(ledger.LedgerEntry(
            customer_key, "treatment" if shown else "holdout", source=source, customer_id=customer_id,
            subscription_id=subscription_id or None, step=window_id, reason=reason,
            offer_code=offer_id, monetary_offer=True, status="sent" if shown else None))
    for day, entries in sorted(by_day.items()):
        ledger.record_day_decisions(con, day, {campaign: (CHANNEL, entries)}, run_id)
    accepted = con.execute(f"""
        select customer_id, window_id, min(occurred_at) from {EVENTS_TABLE}
        where event_type = 'accepted' and window_id is not null group by customer_id, window_id
    """).fetchall()
    counts["accepted"] = ledger.record_acceptances(con, campaign, accepted)
    return counts
