"""The action ledger: every decision of every campaign on every day, and what became of each send.

One table for every campaign and channel, so the contact policy sees every earlier contact,
effect marts compare treatment with holdout, and "why did (or didn't) this customer get it" is
one query. One row per (campaign, action_date, customer_key, step):

- ``decision`` and ``reason``: what the contact policy decided and why
  (orchestration/actions/contact_policy.py: send, holdout, global_control, no_consent,
  excluded_by_priority, capped, offer_spacing, over_capacity); ``arm`` is treatment / holdout
  for the chosen ones, NULL for the others;
- ``status``: what became of a send. The exactly-once protocol (connectors/channels/base.py):
  ``planned`` is committed with the decision, *before* any channel is called; ``in_doubt`` is
  committed the moment a channel starts transmitting a message it cannot take back (SMTP after
  DATA); the outcome (sent, already_sent, dry_run, failed, rejected, dropped) replaces it as soon
  as the provider answered. A re-run sends ``planned`` rows again with the same idempotency key,
  and ``in_doubt`` rows only through channels whose provider deduplicates by that key (LINE's
  X-Line-Retry-Key); an ``in_doubt`` mail is left for a person to check, never sent twice.

Decisions are written once: a re-run of a day keeps the recorded ones and decides only
customers without a row. The call-center list is the exception (its day's list is a file
rewritten whole), through :func:`record_day`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import duckdb

LEDGER_TABLE = "actions.action_ledger"
OUTCOMES = ("sent", "already_sent", "dry_run", "failed", "rejected", "dropped")
STATUSES = ("planned", "in_doubt") + OUTCOMES

_COLUMNS = """
    campaign            varchar   not null,
    action_date         date      not null,
    customer_key        varchar   not null,
    step                varchar   not null default '',
    source              varchar,
    customer_id         varchar,
    subscription_id     varchar,
    channel             varchar,
    arm                 varchar   check (arm in ('treatment', 'holdout')),
    decision            varchar   not null,
    reason              varchar,
    offer_code          varchar,
    monetary_offer      boolean   not null default false,
    idempotency_key     varchar,
    status              varchar,
    provider_message_id varchar,
    error               varchar,
    recorded_at         timestamp not null,
    outcome_at          timestamp,
    run_id              varchar,
    primary key (campaign, action_date, customer_key, step)
"""
_INSERT_COLUMNS = ("campaign", "action_date", "customer_key", "step", "source", "customer_id",
                   "subscription_id", "channel", "arm", "decision", "reason", "offer_code",
                   "monetary_offer", "idempotency_key", "status", "recorded_at", "run_id")


@dataclass(frozen=True)
class LedgerEntry:
    customer_key: str
    arm: str | None
    source: str | None = None
    customer_id: str | None = None
    subscription_id: str | None = None
    reason: str | None = None
    step: str = ""
    decision: str | None = None          # default: from the arm (send / holdout)
    channel: str | None = None           # default: the campaign's channel
    offer_code: str | None = None
    monetary_offer: bool = False
    idempotency_key: str | None = None
    status: str | None = None


def idempotency_key(campaign: str, customer_key: str, action_date: date, step: str = "") -> str:
    """(campaign, customer, day, step): the same message on every attempt, never another's."""
    return f"{campaign}:{step or '-'}:{action_date.isoformat().replace('-', '')}:{customer_key}"


def ensure_ledger(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists actions")
    if not _ledger_exists(con):
        con.execute(f"create table {LEDGER_TABLE} ({_COLUMNS})")
        return
    columns = {r[0] for r in con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = 'actions' and table_name = 'action_ledger'").fetchall()}
    if "step" not in columns:
        _migrate_from_first_layout(con)


def _migrate_from_first_layout(con: duckdb.DuckDBPyConnection) -> None:
    """The first ledger had one row per chosen customer (arm, reason): carried over whole, as
    send/holdout decisions, in one transaction, so no earlier contact is forgotten."""
    con.execute("begin transaction")
    try:
        con.execute(f"create table actions.action_ledger_v2 ({_COLUMNS})")
        con.execute(f"""
            insert into actions.action_ledger_v2 (campaign, action_date, customer_key, step, source,
                customer_id, subscription_id, channel, arm, decision, reason, status, recorded_at, run_id)
            select campaign, action_date, customer_key, '', source, customer_id, subscription_id,
                channel, arm, case arm when 'holdout' then 'holdout' else 'send' end, reason,
                case arm when 'holdout' then null else 'sent' end, recorded_at, run_id
            from {LEDGER_TABLE}""")
        con.execute(f"drop table {LEDGER_TABLE}")
        con.execute("alter table actions.action_ledger_v2 rename to action_ledger")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _ledger_exists(con: duckdb.DuckDBPyConnection) -> bool:
    # No DDL here, so a read-only connection can ask too; no ledger yet means nobody contacted.
    return bool(con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'actions' and table_name = 'action_ledger'"
    ).fetchone()[0])


def contacted_recently(
    con: duckdb.DuckDBPyConnection, campaign: str, action_date: date, days: int
) -> set[str]:
    """Customers this campaign chose (either arm) in the `days` days before `action_date`."""
    if not _ledger_exists(con):
        return set()
    rows = con.execute(
        f"""select distinct customer_key from {LEDGER_TABLE}
            where campaign = ? and arm is not null and action_date >= ? and action_date < ?""",
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


def chosen_history(con: duckdb.DuckDBPyConnection, since: date, until: date) -> list[tuple]:
    """(customer_key, campaign, action_date, monetary_offer) of every chosen decision (either
    arm) in [since, until]: what caps, offer spacing and priority look at."""
    if not _ledger_exists(con):
        return []
    return con.execute(
        f"""select customer_key, campaign, action_date, monetary_offer from {LEDGER_TABLE}
            where arm is not null and action_date between ? and ?
            order by action_date, recorded_at""", [since, until]).fetchall()


def decided_steps(con: duckdb.DuckDBPyConnection, campaign: str, since: date | None,
                  until: date) -> set[tuple[str, str]]:
    """(customer_key, step) this campaign already decided: chosen since `since` (None: ever), or
    any decision on `until` itself (a re-run of the day never decides a customer twice)."""
    if not _ledger_exists(con):
        return set()
    window, params = ("", []) if since is None else (" and action_date >= ?", [since])
    rows = con.execute(
        f"""select customer_key, step from {LEDGER_TABLE}
            where campaign = ? and (action_date = ?
                  or (arm is not null and action_date <= ?{window}))""",
        [campaign, until, until, *params]).fetchall()
    return {(r[0], r[1]) for r in rows}


def record_decisions(con: duckdb.DuckDBPyConnection, campaign: str, channel: str | None,
                     action_date: date, entries: Sequence[LedgerEntry], run_id: str | None = None) -> None:
    """Insert a day's new decisions in one transaction (sends as ``planned``); rows already
    recorded for the same (campaign, day, customer, step) are kept as they are."""
    ensure_ledger(con)
    _check_unique(campaign, action_date, entries)
    rows = _rows(campaign, channel, action_date, entries, run_id)
    if not rows:
        return
    con.execute("begin transaction")
    try:
        _insert(con, rows, "on conflict do nothing")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def pending_sends(con: duckdb.DuckDBPyConnection, campaign: str, action_date: date,
                  include_in_doubt: bool) -> list[dict]:
    """The day's sends of a campaign still without an outcome, in decision order."""
    if not _ledger_exists(con):
        return []
    statuses = ["planned", "in_doubt"] if include_in_doubt else ["planned"]
    cur = con.execute(
        f"""select * from {LEDGER_TABLE}
            where campaign = ? and action_date = ? and decision = 'send' and status in (select unnest(?))
            order by recorded_at, customer_key, step""", [campaign, action_date, statuses])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def day_counts(con: duckdb.DuckDBPyConnection, action_date: date) -> list[tuple]:
    """Per campaign on `action_date`: (campaign, chosen, held out, capped, excluded by priority,
    no consent, global control, sent, sent dry, failed, in doubt, planned): what `make demo`
    prints and an operator checks first."""
    if not _ledger_exists(con):
        return []
    return con.execute(
        f"""select campaign,
                count(*) filter (where arm is not null),
                count(*) filter (where decision = 'holdout'),
                count(*) filter (where decision in ('capped', 'offer_spacing', 'over_capacity')),
                count(*) filter (where decision = 'excluded_by_priority'),
                count(*) filter (where decision = 'no_consent'),
                count(*) filter (where decision = 'global_control'),
                count(*) filter (where status in ('sent', 'already_sent')),
                count(*) filter (where status = 'dry_run'),
                count(*) filter (where status in ('failed', 'rejected', 'dropped')),
                count(*) filter (where status = 'in_doubt'),
                count(*) filter (where status = 'planned')
            from {LEDGER_TABLE} where action_date = ? group by campaign order by campaign""",
        [action_date]).fetchall()


def mark_status(con: duckdb.DuckDBPyConnection, key: str, status: str,
                provider_message_id: str | None = None, error: str | None = None) -> None:
    """Record one message's status, committed at once (autocommit): the next message is sent
    only after this one's outcome is on disk."""
    if status not in STATUSES:
        raise ValueError(f"unknown send status {status!r}")
    outcome_at = None if status in ("planned", "in_doubt") else _now()
    con.execute(
        f"""update {LEDGER_TABLE} set status = ?, provider_message_id = coalesce(?, provider_message_id),
                error = ?, outcome_at = ? where idempotency_key = ?""",
        [status, provider_message_id, error, outcome_at, key])


def record_day(
    con: duckdb.DuckDBPyConnection,
    campaign: str,
    channel: str,
    action_date: date,
    entries: Sequence[LedgerEntry],
    run_id: str | None = None,
) -> None:
    """Replace a campaign's whole day (the call-center list, a file rewritten whole)."""
    _check_unique(campaign, action_date, entries)
    ensure_ledger(con)
    rows = _rows(campaign, channel, action_date, entries, run_id, listed=True)
    con.execute("begin transaction")
    try:
        con.execute(
            f"delete from {LEDGER_TABLE} where campaign = ? and action_date = ?", [campaign, action_date]
        )
        if rows:
            _insert(con, rows)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


_INSERT_TYPES = ("varchar", "date", "varchar", "varchar", "varchar", "varchar", "varchar", "varchar",
                 "varchar", "varchar", "varchar", "varchar", "boolean", "varchar", "varchar", "timestamp",
                 "varchar")


def _insert(con: duckdb.DuckDBPyConnection, rows: list[list], conflict: str = "") -> None:
    """One INSERT for any number of rows: each column passed as one typed list and unnested
    (executemany runs one statement per row: minutes at 100,000 decisions); a column with one
    value in every row (campaign, day, time, run) is passed once."""
    columns = list(zip(*rows))
    parts, params = [], []
    for name, sql_type, values in zip(_INSERT_COLUMNS, _INSERT_TYPES, columns):
        if values.count(values[0]) == len(values):
            parts.append(f"?::{sql_type} as {name}")
            params.append(values[0])
        else:
            parts.append(f"unnest(?::{sql_type}[]) as {name}")
            params.append(list(values))
    con.execute(f"insert into {LEDGER_TABLE} ({', '.join(_INSERT_COLUMNS)}) select {', '.join(parts)} {conflict}",
                params)


def _check_unique(campaign: str, action_date: date, entries: Sequence[LedgerEntry]) -> None:
    keys = [(e.customer_key, e.step) for e in entries]
    if len(keys) != len(set(keys)):
        seen: set = set()
        dup = sorted({k[0] for k in keys if k in seen or seen.add(k)})[:5]
        raise ValueError(f"ledger entries for {campaign} on {action_date} repeat customers: {dup}")


def _rows(campaign: str, channel: str | None, action_date: date, entries: Iterable[LedgerEntry],
          run_id: str | None, listed: bool = False) -> list[list]:
    now = _now()
    rows = []
    for e in entries:
        decision = e.decision or ("holdout" if e.arm == "holdout" else "send")
        status = e.status
        if status is None and decision == "send":
            status = "sent" if listed else "planned"
        key = e.idempotency_key or (idempotency_key(campaign, e.customer_key, action_date, e.step)
                                    if decision == "send" else None)
        rows.append([campaign, action_date, e.customer_key, e.step, e.source, e.customer_id,
                     e.subscription_id, e.channel or channel, e.arm, decision, e.reason, e.offer_code,
                     e.monetary_offer, key, status, now, run_id])
    return rows


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)
