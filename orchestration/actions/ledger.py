"""The action ledger: who each campaign chose on each day, and whether they were held out.

One table for every campaign and channel, so effect marts can compare treatment with holdout
and the contact policy can see every earlier contact. A day's decisions for a campaign are
replaced whole in one transaction: re-running a day never records anybody twice, and readers see
either the old day or the new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import duckdb

LEDGER_TABLE = "actions.action_ledger"

_DDL = f"""
create schema if not exists actions;
create table if not exists {LEDGER_TABLE} (
    campaign        varchar   not null,
    action_date     date      not null,
    customer_key    varchar   not null,
    source          varchar,
    customer_id     varchar,
    subscription_id varchar,
    channel         varchar   not null,
    arm             varchar   not null check (arm in ('treatment', 'holdout')),
    reason          varchar,
    recorded_at     timestamp not null,
    run_id          varchar,
    primary key (campaign, action_date, customer_key)
)
"""


@dataclass(frozen=True)
class LedgerEntry:
    customer_key: str
    arm: str
    source: str | None = None
    customer_id: str | None = None
    subscription_id: str | None = None
    reason: str | None = None


def ensure_ledger(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_DDL)


def contacted_recently(
    con: duckdb.DuckDBPyConnection, campaign: str, action_date: date, days: int
) -> set[str]:
    """Customers this campaign chose (either arm) in the `days` days before `action_date`."""
    if not _ledger_exists(con):
        return set()
    rows = con.execute(
        f"""select distinct customer_key from {LEDGER_TABLE}
            where campaign = ? and action_date >= ? and action_date < ?""",
        [campaign, action_date - timedelta(days=days), action_date],
    ).fetchall()
    return {r[0] for r in rows}


def last_listed_dates(con: duckdb.DuckDBPyConnection, channel: str, action_date: date) -> dict[str, date]:
    """Customer -> the last day before `action_date` any campaign of this channel listed them
    (treatment arm: the ones actually contacted)."""
    if not _ledger_exists(con):
        return {}
    return dict(con.execute(
        f"""select customer_key, max(action_date) from {LEDGER_TABLE}
            where channel = ? and arm = 'treatment' and action_date < ?
            group by customer_key""",
        [channel, action_date],
    ).fetchall())


def _ledger_exists(con: duckdb.DuckDBPyConnection) -> bool:
    # No DDL here, so a read-only connection can ask too; no ledger yet means nobody contacted.
    return bool(con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'actions' and table_name = 'action_ledger'"
    ).fetchone()[0])


def record_day(
    con: duckdb.DuckDBPyConnection,
    campaign: str,
    channel: str,
    action_date: date,
    entries: Sequence[LedgerEntry],
    run_id: str | None = None,
) -> None:
    keys = [e.customer_key for e in entries]
    if len(keys) != len(set(keys)):
        dup = sorted({k for k in keys if keys.count(k) > 1})[:5]
        raise ValueError(f"ledger entries for {campaign} on {action_date} repeat customers: {dup}")
    ensure_ledger(con)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    con.execute("begin transaction")
    try:
        con.execute(
            f"delete from {LEDGER_TABLE} where campaign = ? and action_date = ?", [campaign, action_date]
        )
        if entries:
            con.executemany(
                f"insert into {LEDGER_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    [campaign, action_date, e.customer_key, e.source, e.customer_id,
                     e.subscription_id, channel, e.arm, e.reason, now, run_id]
                    for e in entries
                ],
            )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
