"""The action ledger: the first layout migrates without losing a contact; decisions are written
once; an outcome replaces planned; one query answers why a customer was or wasn't contacted."""

from datetime import date, datetime, timedelta

import duckdb
import pytest

from orchestration.actions import ledger

DAY = date(2026, 12, 1)


def test_a_first_layout_ledger_is_carried_over_whole(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema actions")
    con.execute("""create table actions.action_ledger (campaign varchar not null, action_date date not null,
        customer_key varchar not null, source varchar, customer_id varchar, subscription_id varchar,
        channel varchar not null, arm varchar not null, reason varchar, recorded_at timestamp not null,
        run_id varchar, primary key (campaign, action_date, customer_key))""")
    con.execute("insert into actions.action_ledger values "
                "('call_center_churn_risk', '2026-11-01', 'k1', 'csv', 'C1', 'S1', 'call_center', 'treatment', 'r', ?, 'run'),"
                "('call_center_churn_risk', '2026-11-01', 'k2', 'csv', 'C2', 'S2', 'call_center', 'holdout', 'r', ?, 'run')",
                [datetime(2026, 11, 1), datetime(2026, 11, 1)])
    ledger.ensure_ledger(con)
    rows = con.execute("select customer_key, step, arm, decision, status from actions.action_ledger "
                       "order by 1").fetchall()
    assert rows == [("k1", "", "treatment", "send", "sent"), ("k2", "", "holdout", "holdout", None)]
    assert ledger.contacted_recently(con, "call_center_churn_risk", date(2026, 11, 5), 14) == {"k1", "k2"}
    ledger.ensure_ledger(con)  # idempotent
    assert con.execute("select count(*) from actions.action_ledger").fetchone()[0] == 2


def test_a_ledger_keyed_by_an_index_is_rebuilt_without_it_and_keeps_every_row(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema actions")
    before_batches = ledger._COLUMNS.replace(",\n    send_batch          varchar", "")
    assert "send_batch" not in before_batches
    con.execute(f"create table {ledger.LEDGER_TABLE} ({before_batches}, "
                "primary key (campaign, action_date, customer_key, step))")
    con.execute(f"insert into {ledger.LEDGER_TABLE} (campaign, action_date, customer_key, step, decision, "
                "idempotency_key, status, recorded_at) values ('c', ?, 'k1', 'a', 'send', 'c:a:k1', 'sent', ?)",
                [DAY, datetime(2026, 12, 1)])
    ledger.ensure_ledger(con)
    assert not con.execute("select count(*) from duckdb_constraints() where table_name = 'action_ledger' "
                           "and constraint_type = 'PRIMARY KEY'").fetchone()[0]
    assert con.execute(f"select customer_key, status, send_batch from {ledger.LEDGER_TABLE}").fetchall() == [
        ("k1", "sent", None)]
    ledger.record_decisions(con, "c", "mail", DAY, [ledger.LedgerEntry("k1", "holdout", step="a")])
    assert con.execute(f"select count(*), min(decision) from {ledger.LEDGER_TABLE}").fetchone() == (1, "send")


def test_a_repeated_customer_in_any_campaign_writes_nothing_of_the_day(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    good = [ledger.LedgerEntry("k1", "treatment")]
    repeated = [ledger.LedgerEntry("k2", "treatment"), ledger.LedgerEntry("k2", "holdout")]
    with pytest.raises(ValueError, match="repeat customers"):
        ledger.record_day_decisions(con, DAY, {"a": ("mail", good), "b": ("line", repeated)})
    assert con.execute(f"select count(*) from {ledger.LEDGER_TABLE}").fetchone()[0] == 0
    ledger.record_day_decisions(con, DAY, {"a": ("mail", good), "b": ("line", repeated[:1])})
    assert sorted(con.execute(f"select campaign, channel from {ledger.LEDGER_TABLE}").fetchall()) == [
        ("a", "mail"), ("b", "line")]


def test_decisions_are_written_once_and_outcomes_replace_planned(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    first = [ledger.LedgerEntry("k1", "treatment", step="a"), ledger.LedgerEntry("k2", None, decision="no_consent",
                                                                                  reason="no consent", step="a")]
    ledger.record_decisions(con, "c", "mail", DAY, first)
    again = [ledger.LedgerEntry("k1", "holdout", step="a"), ledger.LedgerEntry("k3", "treatment", step="a")]
    ledger.record_decisions(con, "c", "mail", DAY, again)
    rows = dict(con.execute("select customer_key, decision from actions.action_ledger").fetchall())
    assert rows == {"k1": "send", "k2": "no_consent", "k3": "send"}     # k1 kept as first decided
    key = ledger.idempotency_key("c", "k1", DAY, "a")
    assert [p["idempotency_key"] for p in ledger.pending_sends(con, "c", DAY, False)][0] == key
    ledger.mark_status(con, "c", DAY, key, "in_doubt")
    assert key not in {p["idempotency_key"] for p in ledger.pending_sends(con, "c", DAY, False)}
    assert key in {p["idempotency_key"] for p in ledger.pending_sends(con, "c", DAY, True)}
    ledger.mark_status(con, "c", DAY, key, "sent", provider_message_id="m1")
    status, mid, outcome_at = con.execute("select status, provider_message_id, outcome_at from actions.action_ledger "
                                          "where idempotency_key = ?", [key]).fetchone()
    assert (status, mid) == ("sent", "m1") and outcome_at is not None
    with pytest.raises(ValueError):
        ledger.mark_status(con, "c", DAY, key, "delivered")
    with pytest.raises(LookupError):  # the day narrows the update: another day's row is not this one
        ledger.mark_status(con, "c", DAY + timedelta(1), key, "sent")
    assert ledger.decided_steps(con, "c", None, date(2026, 12, 5)) == {("k1", "a"), ("k3", "a")}
    counts = ledger.day_counts(con, DAY)
    assert counts[0][:2] == ("c", 2) and counts[0][5] == 1            # chosen, no consent
