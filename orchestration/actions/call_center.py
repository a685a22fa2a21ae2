"""The daily call-center list: subscribers showing cancellation signals, called before they go.

Who qualifies is a dbt mart (`marts.cancel_signal_subscribers`); this asset applies the contact
policy (orchestration/actions/policies.py): opt-outs, suppression of recent contacts, random
holdout. It records every chosen customer in the action ledger and writes the day's file.
"""

from datetime import date
from pathlib import Path

import dagster as dg
import duckdb

from connectors.channels.call_center_csv import write_call_list
from orchestration.actions.ledger import LedgerEntry, contacted_recently, record_day
from orchestration.actions.policies import CALL_CENTER_CANCEL_SIGNAL, assign_arm
from orchestration.resources import WAREHOUSE_POOL, WarehouseResource
from orchestration.settings import Settings

POLICY = CALL_CENTER_CANCEL_SIGNAL
SOURCE_MART = dg.AssetKey(["marts", "cancel_signal_subscribers"])

# (mart column, header the agents read)
CALL_LIST_COLUMNS = [
    ("customer_id", "顧客ID"),
    ("full_name", "氏名"),
    ("full_name_kana", "フリガナ"),
    ("phone", "電話番号"),
    ("subscription_id", "定期受注番号"),
    ("product_name", "商品名"),
    ("delivery_count", "定期回数"),
    ("next_delivery_date", "次回お届け予定日"),
    ("active_subscription_count", "継続中の定期数"),
    ("signal_reason", "掲載理由"),
    ("last_signal_jst", "最終シグナル日時"),
]


class CallCenterListConfig(dg.Config):
    suppress_days: int = POLICY.suppress_days
    holdout_share: float = POLICY.holdout_share
    encoding: str = "utf-8-sig"  # or cp932, for older Excel set-ups


def call_list_path(settings: Settings, day: date) -> Path:
    return settings.outbox_dir / "call_center" / f"call_center_list_{day:%Y%m%d}.csv"


def select_call_list(
    con: duckdb.DuckDBPyConnection, day: date, suppress_days: int, holdout_share: float
) -> tuple[list[dict], list[LedgerEntry], dict[str, int]]:
    """Apply the contact policy to the day's candidates: (rows to call, ledger entries, counts)."""
    cur = con.execute(
        """
        select *, strftime(last_signal_at + interval 9 hour, '%Y-%m-%d %H:%M') as last_signal_jst
        from marts.cancel_signal_subscribers
        order by next_delivery_date, last_signal_at desc, customer_key
        """
    )
    names = [d[0] for d in cur.description]
    candidates = [dict(zip(names, r)) for r in cur.fetchall()]
    recent = contacted_recently(con, POLICY.campaign, day, suppress_days)

    rows: list[dict] = []
    entries: list[LedgerEntry] = []
    counts = {"candidates": len(candidates), "no_phone_or_opted_out": 0, "suppressed": 0,
              "holdout": 0, "listed": 0}
    for c in candidates:
        if not c.get("phone") or c.get("phone_opt_in") is False:
            counts["no_phone_or_opted_out"] += 1
            continue
        if c["customer_key"] in recent:
            counts["suppressed"] += 1
            continue
        arm = assign_arm(POLICY.campaign, c["customer_key"], holdout_share)
        entries.append(LedgerEntry(
            customer_key=c["customer_key"], arm=arm, source=c.get("source"),
            customer_id=c.get("customer_id"), subscription_id=c.get("subscription_id"),
            reason=c.get("signal_reason"),
        ))
        if arm == "holdout":
            counts["holdout"] += 1
        else:
            counts["listed"] += 1
            rows.append(c)
    return rows, entries, counts


def build_action_assets(settings: Settings) -> list:
    @dg.asset(
        key=["actions", "call_center_list"],
        deps=[SOURCE_MART],
        group_name="actions",
        kinds={"csv"},
        pool=WAREHOUSE_POOL,
        description=POLICY.description,
    )
    def call_center_list(
        context: dg.AssetExecutionContext, config: CallCenterListConfig, warehouse: WarehouseResource
    ):
        day = settings.business_date()
        with warehouse.connect() as con:
            rows, entries, counts = select_call_list(con, day, config.suppress_days, config.holdout_share)
            # Ledger first: if the file write fails, a re-run rewrites the same day's entries.
            record_day(con, POLICY.campaign, POLICY.channel, day, entries, run_id=context.run.run_id)
        path = write_call_list(call_list_path(settings, day), rows, CALL_LIST_COLUMNS, config.encoding)
        context.log.info(f"call-center list for {day}: {counts['listed']} to call -> {path}")
        return dg.MaterializeResult(
            metadata={
                **counts,
                "action_date": day.isoformat(),
                "path": dg.MetadataValue.path(str(path)),
                "campaign": POLICY.campaign,
            }
        )

    return [call_center_list]
