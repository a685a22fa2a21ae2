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
  as the provider answered; ``send_batch`` names the one request several messages go out in (LINE
  multicast), recorded before it is made;
- ``accepted_at``: when the customer took the offer (an on-site offer's 受け取る:
  orchestration/actions/onsite_ledger.py, which also records the on-site decisions themselves).

A re-run sends ``planned`` rows again with the same idempotency key, and ``in_doubt`` rows only
through channels whose provider deduplicates by that key (LINE's X-Line-Retry-Key); an
``in_doubt`` mail is left for a person to check, never sent twice.

Decisions are written once: a re-run of a day keeps the recorded ones and decides only
customers without a row. The call-center list is the exception (its day's list is a file
rewritten whole), through :func:`record_day`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import NamedTuple

import duckdb
import numpy as np

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
    send_batch          varchar,
    accepted_at         timestamp
"""
# One row per (campaign, action_date, customer_key, step), kept by the one writer (this module:
# a batch is checked for repeats, and an anti-join in the insert's own transaction keeps rows
# already recorded) rather than by a primary key: DuckDB's index on four text columns made a
# day's commit of 200,000 decisions take seconds (its index is rebuilt at every checkpoint).
_KEY = ("campaign", "action_date", "customer_key", "step")
_DECLARED = tuple(line.split()[0] for line in _COLUMNS.strip().splitlines())
_INSERT_COLUMNS = ("campaign", "action_date", "customer_key", "step", "source", "customer_id",
                   "subscription_id", "channel", "arm", "decision", "reason", "offer_code",
                   "monetary_offer", "idempotency_key", "status", "recorded_at", "run_id")


class LedgerEntry(NamedTuple):  # a tuple, not a dataclass: a day makes hundreds of thousands
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
    elif set(_DECLARED) - columns or con.execute(
            "select count(*) from duckdb_constraints() where schema_name = 'actions' "
            "and table_name = 'action_ledger' and constraint_type = 'PRIMARY KEY'").fetchone()[0]:
        kept = ", ".join(sorted(columns))
        _rebuild(con, f"select {kept} from {LEDGER_TABLE}", f"({kept})")


def _rebuild(con: duckdb.DuckDBPyConnection, select: str, columns: str = "") -> None:
    """Re-create the ledger in today's layout from `select` over the old one, in one transaction."""
    con.execute("begin transaction")
    try:
        con.execute(f"create table actions.action_ledger_v2 ({_COLUMNS})")
        con.execute(f"insert into actions.action_ledger_v2 {columns} {select}")
        con.execute(f"drop table {LEDGER_TABLE}")
        con.execute("alter table actions.action_ledger_v2 rename to action_ledger")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _migrate_from_first_layout(con: duckdb.DuckDBPyConnection) -> None:
    """The first ledger had one row per chosen customer (arm, reason): carried over whole, as
    send/holdout decisions, in one transaction, so no earlier contact is forgotten."""
    _rebuild(con, f"""
        select campaign, action_date, customer_key, '', source, customer_id, subscription_id,
            channel, arm, case arm when 'holdout' then 'holdout' else 'send' end, reason,
            case arm when 'holdout' then null else 'sent' end, recorded_at, run_id
        from {LEDGER_TABLE}""", """(campaign, action_date, customer_key, step, source, customer_id,
            subscription_id, channel, arm, decision, reason, status, recorded_at, run_id)""")


def _ledger_exists(con: duckdb.DuckDBPyConnection) -> bool:
    # No DDL here, so a read-only connection can ask too; no ledger yet means nobody contacted.
    # fetchall, not fetchone: DuckDB 2 leaves a catalog query's result open after fetchone, and
    # the next register() on the connection fails ("unfinished result").
    return bool(con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'actions' and table_name = 'action_ledger'"
    ).fetchall()[0][0])


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
    """(customer_key, campaign, action_date, monetary_offer, channel) of every chosen decision
    (either arm) in [since, until]: what caps, offer spacing and priority look at."""
    if not _ledger_exists(con):
        return []
    return con.execute(
        f"""select customer_key, campaign, action_date, monetary_offer, channel from {LEDGER_TABLE}
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
    """Insert one campaign's new decisions of a day (sends as ``planned``): :func:`record_day_decisions`."""
    record_day_decisions(con, action_date, {campaign: (channel, entries)}, run_id)


def record_day_decisions(con: duckdb.DuckDBPyConnection, action_date: date,
                         by_campaign: Mapping[str, tuple[str | None, Sequence[LedgerEntry]]],
                         run_id: str | None = None) -> None:
    """Insert a day's new decisions of every campaign (campaign -> (default channel, entries))
    in one transaction, sends as ``planned``; rows already recorded for the same (campaign, day,
    customer, step) are kept as they are."""
    ensure_ledger(con)
    for campaign, (_, entries) in by_campaign.items():
        _check_unique(campaign, action_date, entries)
    batches = [_columns(campaign, channel, action_date, entries, run_id)
               for campaign, (channel, entries) in by_campaign.items() if entries]
    if not batches:
        return
    con.execute("begin transaction")
    try:
        for columns in batches:
            _insert(con, columns, keep_existing=True)
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


def record_batches(con: duckdb.DuckDBPyConnection, batch_of: Mapping[str, str]) -> None:
    """Record the request each message goes out in (idempotency key -> batch id, LINE multicast),
    in one transaction, before the channel is called: a re-run repeats the same request."""
    if not batch_of:
        return
    con.register("_ledger_batches", {"key": np.array(list(batch_of), dtype=object),
                                     "batch": np.array(list(batch_of.values()), dtype=object)})
    try:
        con.execute(f"""update {LEDGER_TABLE} set send_batch = b.batch from _ledger_batches as b
                        where {LEDGER_TABLE}.idempotency_key = b.key""")
    finally:
        con.unregister("_ledger_batches")


def record_acceptances(con: duckdb.DuckDBPyConnection, campaign: str,
                       accepted: Sequence[tuple[str, str, datetime]]) -> int:
    """Set ``accepted_at`` of a campaign's treatment rows from (customer_id, step, accepted at),
    in one statement; a row keeps the first acceptance recorded. Returns the rows updated."""
    if not accepted or not _ledger_exists(con):
        return 0
    con.register("_ledger_accepted", {
        "customer_id": np.array([a[0] for a in accepted], dtype=object),
        "step": np.array([a[1] for a in accepted], dtype=object),
        "accepted_at": np.array([a[2] for a in accepted], dtype="datetime64[us]")})
    try:
        return con.execute(
            f"""update {LEDGER_TABLE} set accepted_at = a.accepted_at from _ledger_accepted as a
                where {LEDGER_TABLE}.campaign = ? and {LEDGER_TABLE}.arm = 'treatment'
                    and {LEDGER_TABLE}.customer_id = a.customer_id and {LEDGER_TABLE}.step = a.step
                    and {LEDGER_TABLE}.accepted_at is null""", [campaign]).fetchone()[0]
    finally:
        con.unregister("_ledger_accepted")


def mark_status(con: duckdb.DuckDBPyConnection, campaign: str, action_date: date, key: str, status: str,
                provider_message_id: str | None = None, error: str | None = None) -> None:
    """Record one message's status, committed at once (autocommit): the next message is sent
    only after this one's outcome is on disk. The campaign and day narrow the update to the
    day's row groups (the ledger grows by appended days, so DuckDB's min/max per row group
    skips the rest); by the key alone it scanned the whole ledger (benchmarks/ledger_status.py)."""
    if status not in STATUSES:
        raise ValueError(f"unknown send status {status!r}")
    outcome_at = None if status in ("planned", "in_doubt") else _now()
    updated = con.execute(
        f"""update {LEDGER_TABLE} set status = ?, provider_message_id = coalesce(?, provider_message_id),
                error = ?, outcome_at = ?
            where action_date = ? and campaign = ? and idempotency_key = ?""",
        [status, provider_message_id, error, outcome_at, action_date, campaign, key]).fetchall()[0][0]
    if updated != 1:  # an outcome recorded nowhere would let the message go out again
        raise LookupError(f"no ledger row {key!r} for campaign {campaign!r} on {action_date}")


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
    columns = _columns(campaign, channel, action_date, entries, run_id, listed=True)
    con.execute("begin transaction")
    try:
        con.execute(
            f"delete from {LEDGER_TABLE} where campaign = ? and action_date = ?", [campaign, action_date]
        )
        if entries:
            _insert(con, columns)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


_INSERT_TYPES = ("varchar", "date", "varchar", "varchar", "varchar", "varchar", "varchar", "varchar",
                 "varchar", "varchar", "varchar", "varchar", "boolean", "varchar", "varchar", "timestamp",
                 "varchar")


def _insert(con: duckdb.DuckDBPyConnection, columns: dict[str, object], keep_existing: bool = False) -> None:
    """One INSERT for any number of rows. A column with one value in every row (campaign, day,
    time, run) is passed once as a parameter; every other column is a NumPy array that DuckDB
    scans in place (a dict of arrays is a table to it): about 0.3 s for 200,000 decisions, where
    list parameters cost 1 µs a value and executemany one statement a row. `keep_existing`: a
    row whose key is already in the ledger is left out (insert-once)."""
    batch = {name: values for name, values in columns.items() if isinstance(values, np.ndarray)}
    parts, params = [], []
    for name, sql_type in zip(_INSERT_COLUMNS, _INSERT_TYPES):
        if name in batch:
            parts.append(f"_ledger_batch.{name}::{sql_type}")
        else:
            parts.append(f"?::{sql_type}")
            params.append(columns[name])
    con.register("_ledger_batch", batch)
    try:
        sql = (f"insert into {LEDGER_TABLE} ({', '.join(_INSERT_COLUMNS)}) "
               f"select * from (select {', '.join(f'{p} as {n}' for p, n in zip(parts, _INSERT_COLUMNS))} "
               f"from _ledger_batch) as b")
        if keep_existing:
            sql += (f" where not exists (select 1 from {LEDGER_TABLE} as l where "
                    + " and ".join(f"l.{k} = b.{k}" for k in _KEY) + ")")
        con.execute(sql, params)
    finally:
        con.unregister("_ledger_batch")


def _check_unique(campaign: str, action_date: date, entries: Sequence[LedgerEntry]) -> None:
    keys = [(e.customer_key, e.step) for e in entries]
    if len(keys) != len(set(keys)):
        seen: set = set()
        dup = sorted({k[0] for k in keys if k in seen or seen.add(k)})[:5]
        raise ValueError(f"ledger entries for {campaign} on {action_date} repeat customers: {dup}")


def _columns(campaign: str, channel: str | None, action_date: date, entries: Sequence[LedgerEntry],
             run_id: str | None, listed: bool = False) -> dict[str, object]:
    """The rows to insert, column by column (what :func:`_insert` takes)."""
    decisions = [e.decision or ("holdout" if e.arm == "holdout" else "send") for e in entries]
    sent = "sent" if listed else "planned"
    status = [e.status if e.status is not None or d != "send" else sent for e, d in zip(entries, decisions)]
    keys = [e.idempotency_key or (idempotency_key(campaign, e.customer_key, action_date, e.step)
                                  if d == "send" else None) for e, d in zip(entries, decisions)]

    def column(values: list) -> np.ndarray:
        return np.array(values, dtype=bool if values and isinstance(values[0], bool) else object)

    return {
        "campaign": campaign, "action_date": action_date,
        "customer_key": column([e.customer_key for e in entries]), "step": column([e.step for e in entries]),
        # Audience ids as text whatever the cart's type (a DuckDB column of Python objects takes one type).
        "source": column([_text(e.source) for e in entries]),
        "customer_id": column([_text(e.customer_id) for e in entries]),
        "subscription_id": column([_text(e.subscription_id) for e in entries]),
        "channel": column([e.channel or channel for e in entries]), "arm": column([e.arm for e in entries]),
        "decision": column(decisions), "reason": column([e.reason for e in entries]),
        "offer_code": column([e.offer_code for e in entries]),
        "monetary_offer": np.array([bool(e.monetary_offer) for e in entries], dtype=bool),
        "idempotency_key": column(keys), "status": column(status), "recorded_at": _now(), "run_id": run_id,
    }


def _text(value: object) -> str | None:
    return value if value is None or isinstance(value, str) else str(value)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)
