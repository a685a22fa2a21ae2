"""The daily call-center list: the 解約予兆 list, called before the customers go.

Who qualifies, why, what to offer and in which order is a dbt mart (`marts.high_risk_customers`,
from the churn hazard model and the repeat-buyer model); this asset applies the contact policy
(orchestration/actions/contact_policy.py, the same `decide()` as every campaign, first in priority):
phone consent, the global control group, the cap on contacts per customer across campaigns, the
day's capacity and the random holdout, after leaving out whom this list had in its suppression
window. It records every decision with its reason in the action ledger and writes the day's
file, adding when each customer was last on a call list (the ledger; the mart only knows the
customer's own inquiries).
"""

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb

from connectors.channels.call_center_csv import write_call_list
from orchestration.actions.ledger import (
    LedgerEntry, chosen_history, contacted_recently, last_listed_dates, record_day,
)
from orchestration.actions.contact_policy import (
    CALL_CENTER_CHURN_RISK, NO_CONSENT, Candidate, CampaignRules, ContactHistory, ContactPolicySettings, decide,
)
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from orchestration.settings import Settings

POLICY = CALL_CENTER_CHURN_RISK
SOURCE_MART = dg.AssetKey(["marts", "high_risk_customers"])

# (row key, header the agents read)
CALL_LIST_COLUMNS = [
    ("call_order", "優先順位"),
    ("customer_id", "顧客ID"),
    ("full_name", "氏名"),
    ("full_name_kana", "フリガナ"),
    ("phone", "電話番号"),
    ("segment_ja", "区分"),
    ("subscription_id", "定期受注番号"),
    ("product_name", "商品名"),
    ("delivery_number", "定期回数"),
    ("next_delivery_date", "次回お届け予定日"),
    ("next_notice_date", "次回お届け案内日"),
    ("risk_percent", "解約予兆スコア(%)"),
    ("risk_band_ja", "リスク"),
    ("reasons_ja", "掲載理由"),
    ("suggested_actions_ja", "おすすめ対応"),
    ("last_inquiry", "最終問い合わせ"),
    ("last_listed_on", "前回リスト掲載日"),
]
SEGMENT_JA = {"subscriber": "定期", "repeat_buyer": "単品リピート"}


class CallCenterListConfig(dg.Config):
    suppress_days: int = POLICY.suppress_days
    holdout_share: float = POLICY.holdout_share
    # 0 = no cap
    daily_capacity: int = POLICY.daily_capacity or 0
    encoding: str = "utf-8-sig"  # or cp932, for older Excel set-ups


def call_list_path(settings: Settings, day: date) -> Path:
    return settings.outbox_dir / "call_center" / f"call_center_list_{day:%Y%m%d}.csv"


def select_call_list(
    con: duckdb.DuckDBPyConnection, day: date, suppress_days: int, holdout_share: float,
    daily_capacity: int = 0, policy: ContactPolicySettings | None = None,
) -> tuple[list[dict], list[LedgerEntry], dict[str, int]]:
    """Apply the contact policy to the day's candidates: (rows to call, ledger entries of every
    decision, counts).

    Candidates are taken in the mart's priority order and each eligible one is assigned an arm
    until `daily_capacity` are in treatment (0 = no cap): the held-out customers come from the
    same priority range as the called ones, so the two arms stay comparable. The list is decided
    before the day's campaigns (they depend on it), so today's earlier decisions of other
    campaigns do not count against it; this list's own day is rewritten whole.
    """
    policy = policy or ContactPolicySettings()
    cur = con.execute("select * from marts.high_risk_customers order by priority_rank")
    names = [d[0] for d in cur.description]
    rows_by_priority = [dict(zip(names, r)) for r in cur.fetchall()]
    recent = contacted_recently(con, POLICY.campaign, day, suppress_days)
    last_listed = last_listed_dates(con, POLICY.channel, day)
    counts = {"candidates": len(rows_by_priority), "no_phone_or_opted_out": 0, "suppressed": 0,
              "global_control": 0, "capped": 0, "holdout": 0, "listed": 0, "over_capacity": 0}
    candidates = []
    for c in rows_by_priority:
        if c["customer_key"] in recent:
            counts["suppressed"] += 1
        else:
            candidates.append(Candidate(POLICY.campaign, "", c["customer_key"], c, -float(c["priority_rank"])))
    since = day - timedelta(days=max(policy.cap_window_days, 1))
    history = ContactHistory.from_rows([h for h in chosen_history(con, since, day) if h[2] != day], day)
    rules = CampaignRules(POLICY.campaign, (POLICY.channel,), priority=1000, holdout_share=holdout_share,
                          daily_capacity=daily_capacity or None)
    count_as = {NO_CONSENT: "no_phone_or_opted_out", "send": "listed"}
    rows: list[dict] = []
    entries: list[LedgerEntry] = []
    for d in decide([rules], {POLICY.campaign: candidates}, history, day, policy):
        c = d.candidate.row
        counts[count_as.get(d.decision, d.decision)] += 1
        entries.append(LedgerEntry(
            customer_key=c["customer_key"], arm=d.arm, source=c.get("source"),
            customer_id=c.get("customer_id"), subscription_id=c.get("subscription_id"),
            # the chosen: why they are on the list (what the agent reads); the others: why not
            reason=c.get("reasons_ja") if d.arm else d.reason, decision=d.decision, channel=POLICY.channel,
        ))
        if d.arm == "treatment":
            rows.append(_call_list_row(c, len(rows) + 1, last_listed.get(c["customer_key"])))
    return rows, entries, counts


EMPTY_LIST_CHECK = "call_list_is_not_empty_without_a_reason"


def empty_list_reason(con: duckdb.DuckDBPyConnection, counts: dict[str, int],
                      suppress_days: int) -> str | None:
    """Why a day with candidates lists nobody, in words an operator can act on; None when the
    list has rows or there was nobody to call. Unknown phone consent (an export without the
    column) is told apart from refused consent: the first is fixed in the profile."""
    if counts["listed"] or not counts["candidates"]:
        return None
    n = counts["candidates"]
    if counts["no_phone_or_opted_out"] == n:
        records, unknown = con.execute(
            "select count(*), count(*) filter (where phone_opt_in is null) "
            "from intermediate.int_customers__unioned").fetchone()
        if records and unknown == records:
            return (f"nobody to call: phone consent is unknown for every customer record "
                    f"({records:,}); the export has no phone-consent column (電話連絡), and unknown "
                    f"consent is not consent. Map the column in the profile to fill the list "
                    f"({n:,} customers qualify).")
        return (f"nobody to call: all {n:,} qualifying customers lack a phone number or refused "
                f"calls.")
    parts = [f"{counts[k]:,} {label}" for k, label in (
        ("no_phone_or_opted_out", "without a phone number or phone consent"),
        ("suppressed", f"contacted in the last {suppress_days} days"),
        ("global_control", "in the global control group"),
        ("capped", "at the contact cap of every campaign together"),
        ("holdout", "held out at random"),
        ("over_capacity", "over the day's capacity")) if counts.get(k)]
    return f"nobody to call among {n:,} qualifying customers: " + ", ".join(parts) + "."


def _call_list_row(c: dict, call_order: int, last_listed_on: date | None) -> dict:
    inquiry = None
    if c.get("last_inquiry_date"):
        inquiry = f"{c['last_inquiry_date']:%Y-%m-%d} {c.get('last_inquiry_category_label') or ''}".strip()
    probability = c.get("probability")
    return {
        **c,
        "call_order": call_order,
        "segment_ja": SEGMENT_JA.get(c.get("customer_segment"), c.get("customer_segment")),
        "risk_percent": None if probability is None else round(100 * probability),
        "last_inquiry": inquiry,
        "last_listed_on": last_listed_on,
    }


def build_action_assets(settings: Settings, policy: ContactPolicySettings | None = None) -> list:
    @dg.asset(
        key=["actions", "call_center_list"],
        deps=[SOURCE_MART],
        group_name="actions",
        kinds={"csv"},
        pool=WAREHOUSE_POOL,
        description=POLICY.description,
        check_specs=[dg.AssetCheckSpec(
            EMPTY_LIST_CHECK, asset=["actions", "call_center_list"], blocking=False,
            description="Warns when customers qualify but nobody is listed, saying why (e.g. "
                        "phone consent unknown because the export lacks the column).")],
    )
    def call_center_list(
        context: dg.AssetExecutionContext, config: CallCenterListConfig, warehouse: WarehouseResource
    ):
        day = settings.business_date()
        with warehouse.connect() as con:
            rows, entries, counts = select_call_list(
                con, day, config.suppress_days, config.holdout_share, config.daily_capacity, policy)
            # Ledger first: if the file write fails, a re-run rewrites the same day's entries.
            record_day(con, POLICY.campaign, POLICY.channel, day, entries, run_id=context.run.run_id)
            reason = empty_list_reason(con, counts, config.suppress_days)
        path = write_call_list(call_list_path(settings, day), rows, CALL_LIST_COLUMNS, config.encoding)
        context.log.info(f"call-center list for {day}: {counts['listed']} to call -> {path}")
        if reason:
            context.log.warning(f"call-center list for {day}: {reason}")
        return dg.MaterializeResult(
            check_results=[dg.AssetCheckResult(
                check_name=EMPTY_LIST_CHECK, passed=reason is None,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"reason": reason or "", **counts})],
            metadata={
                **counts,
                "action_date": day.isoformat(),
                "path": dg.MetadataValue.path(str(path)),
                "campaign": POLICY.campaign,
            }
        )

    return [call_center_list, LEDGER_SPEC]


# The action ledger as the dbt graph sees it (source `actions.action_ledger`, read by the effect
# marts): written by the call list and every campaign (orchestration/actions/ledger.py), declared
# here so it has a group, owners and a description like every other asset.
LEDGER_SPEC = dg.AssetSpec(
    key=["actions", "action_ledger"], group_name="actions", kinds={"duckdb"},
    description="Every contact decision (sent, held out, capped, no consent ...) with its reason: "
                "written by the call-center list and the campaigns, read by the effect marts.")
