import csv
import os
import stat
from datetime import date

import duckdb
import pytest

from connectors.channels.call_center_csv import CallListEncodingError, write_call_list
from orchestration.actions.ledger import LedgerEntry, contacted_recently, record_day
from orchestration.actions.call_center import select_call_list
from orchestration.actions.contact_policy import assign_arm


@pytest.fixture
def con(tmp_path):
    c = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield c
    c.close()


def test_rerunning_a_day_replaces_it_instead_of_adding(con):
    day = date(2026, 11, 23)
    record_day(con, "c", "call_center", day, [LedgerEntry("k1", "treatment"), LedgerEntry("k2", "holdout")])
    record_day(con, "c", "call_center", day, [LedgerEntry("k1", "treatment")])
    rows = con.execute("select customer_key, arm from actions.action_ledger order by 1").fetchall()
    assert rows == [("k1", "treatment")]


def test_other_days_and_campaigns_are_untouched(con):
    record_day(con, "c", "ch", date(2026, 11, 22), [LedgerEntry("k1", "treatment")])
    record_day(con, "other", "ch", date(2026, 11, 23), [LedgerEntry("k1", "treatment")])
    record_day(con, "c", "ch", date(2026, 11, 23), [])
    assert con.execute("select count(*) from actions.action_ledger").fetchone()[0] == 2


def test_duplicate_customer_in_one_day_is_refused_and_changes_nothing(con):
    day = date(2026, 11, 23)
    record_day(con, "c", "ch", day, [LedgerEntry("k1", "treatment")])
    with pytest.raises(ValueError, match="repeat customers"):
        record_day(con, "c", "ch", day, [LedgerEntry("k2", "treatment"), LedgerEntry("k2", "holdout")])
    assert con.execute("select customer_key from actions.action_ledger").fetchall() == [("k1",)]


def test_suppression_window_covers_the_days_before_today_only(con):
    for d, k in [(10, "old"), (16, "in_window"), (22, "yesterday"), (23, "today")]:
        record_day(con, "c", "ch", date(2026, 11, d), [LedgerEntry(k, "holdout")])
    recent = contacted_recently(con, "c", date(2026, 11, 23), days=7)
    assert recent == {"in_window", "yesterday"}


def test_holdout_assignment_is_stable_and_near_the_share():
    keys = [f"cust-{i}" for i in range(20_000)]
    arms = [assign_arm("camp", k, 0.1) for k in keys]
    assert arms == [assign_arm("camp", k, 0.1) for k in keys]
    share = arms.count("holdout") / len(arms)
    assert 0.09 < share < 0.11
    # another campaign draws independently
    other = [assign_arm("other", k, 0.1) for k in keys]
    both = sum(a == b == "holdout" for a, b in zip(arms, other)) / len(keys)
    assert both < 0.02
    assert all(assign_arm("camp", k, 0.0) == "treatment" for k in keys[:100])
    with pytest.raises(ValueError):
        assign_arm("camp", "k", 1.0)


COLUMNS = [("name", "氏名"), ("phone", "電話番号"), ("n", "定期回数")]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp932"])
def test_call_list_opens_in_excel_encodings_and_is_private(tmp_path, encoding):
    path = tmp_path / "out" / "list.csv"
    write_call_list(path, [{"name": "山田 花子", "phone": "090-1234-5678", "n": 3}], COLUMNS, encoding)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    assert b"\r\n" in raw and raw.count(b"\n") == raw.count(b"\r\n") == 2
    rows = list(csv.reader(raw.decode(encoding).splitlines()))
    assert rows == [["氏名", "電話番号", "定期回数"], ["山田 花子", "090-1234-5678", "3"]]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_call_list_rewrite_replaces_the_file_whole(tmp_path):
    path = tmp_path / "list.csv"
    write_call_list(path, [{"name": f"n{i}"} for i in range(50)], COLUMNS)
    write_call_list(path, [{"name": "only"}], COLUMNS)
    assert path.read_bytes().count(b"\r\n") == 2
    assert [p.name for p in tmp_path.iterdir()] == ["list.csv"]


def test_cp932_list_names_the_line_it_cannot_encode(tmp_path):
    path = tmp_path / "list.csv"
    with pytest.raises(CallListEncodingError, match="line 3"):
        write_call_list(path, [{"name": "ok"}, {"name": "🙂"}], COLUMNS, "cp932")
    assert not path.exists()


def _high_risk_mart(con, n):
    """A marts.high_risk_customers with n candidates c00.. in priority order; every 5th has no
    phone consent."""
    con.execute("create schema marts")
    con.execute("""create table marts.high_risk_customers as
        select i + 1 as priority_rank, 'c' || lpad(i::varchar, 2, '0') as customer_key, 'csv' as source,
               'id' || i as customer_id, '090' || i as phone, i % 5 <> 4 as phone_opt_in,
               'subscriber' as customer_segment, 0.5 as probability, 'x' as reasons_ja,
               null::date as last_inquiry_date
        from range(?) t(i)""", [n])


def test_capacity_fills_treatment_in_priority_order_and_holds_out_from_the_same_range(con):
    _high_risk_mart(con, 60)
    day = date(2026, 11, 23)
    record_day(con, "call_center_churn_risk", "call_center", day.replace(day=20), [LedgerEntry("c01", "treatment")])
    rows, entries, counts = select_call_list(con, day, 14, 0.3, daily_capacity=10)

    assert counts["listed"] == len(rows) == 10
    assert counts["suppressed"] == 1 and counts["no_phone_or_opted_out"] > 0
    chosen = [e.customer_key for e in entries if e.arm]
    assert {e.decision for e in entries if not e.arm} == {"no_consent", "over_capacity"}  # every decision recorded
    eligible = [f"c{i:02d}" for i in range(60) if i % 5 != 4 and i != 1]
    assert chosen == eligible[:len(chosen)]          # nobody skipped ahead, nobody left behind
    assert len(chosen) > 10                          # the holdout came from the same range
    assert [r["call_order"] for r in rows] == list(range(1, 11))
    assert all(r["customer_key"] != "c01" for r in rows)
    # no cap: every eligible customer gets an arm
    _, entries, counts = select_call_list(con, day, 14, 0.3)
    assert len([e for e in entries if e.arm]) == len(eligible) and counts["over_capacity"] == 0


def test_the_call_list_keeps_the_global_control_group_and_the_cap_across_campaigns(con):
    from orchestration.actions.contact_policy import ContactPolicySettings, in_global_control
    _high_risk_mart(con, 40)
    day = date(2026, 11, 23)
    control = {f"c{i:02d}" for i in range(40) if in_global_control(f"c{i:02d}", 0.2)}
    busy = next(f"c{i:02d}" for i in range(40) if i % 5 != 4 and f"c{i:02d}" not in control)
    # `busy` had two mails this week from other campaigns: at the cap of 2 a week
    for d, campaign in ((20, "winback"), (21, "birthday")):
        record_day(con, campaign, "mail", day.replace(day=d), [LedgerEntry(busy, "treatment")])
    policy = ContactPolicySettings(global_control_share=0.2)
    rows, entries, counts = select_call_list(con, day, 14, 0.0, policy=policy)
    decision = {e.customer_key: (e.decision, e.reason) for e in entries}
    assert decision[busy][0] == "capped" and "2 contacts in the last 7 days" in decision[busy][1]
    assert control and all(decision[k][0] == "global_control" for k in control)
    assert not control & {r["customer_key"] for r in rows}
    assert counts["global_control"] == len(control) and counts["capped"] == 1
    assert decision["c04"][0] in ("no_consent", "global_control")   # every 5th has no phone consent
    # the call list's own earlier run of the same day does not cap it (the day is rewritten whole)
    record_day(con, "call_center_churn_risk", "call_center", day, entries)
    again = select_call_list(con, day, 14, 0.0, policy=policy)[0]
    assert [r["customer_key"] for r in again] == [r["customer_key"] for r in rows]


def test_last_listed_date_comes_from_the_ledger_treatment_arm(con):
    _high_risk_mart(con, 3)
    record_day(con, "call_center_churn_risk", "call_center", date(2026, 10, 1),
               [LedgerEntry("c00", "treatment"), LedgerEntry("c01", "holdout")])
    rows, _, _ = select_call_list(con, date(2026, 11, 23), 14, 0.0)
    last = {r["customer_key"]: r["last_listed_on"] for r in rows}
    assert last == {"c00": date(2026, 10, 1), "c01": None, "c02": None}


def _unioned_customers(con, consents):
    con.execute("create schema if not exists intermediate")
    con.execute("create or replace table intermediate.int_customers__unioned (customer_id varchar, phone_opt_in boolean)")
    con.executemany("insert into intermediate.int_customers__unioned values (?, ?)",
                    [(str(i), v) for i, v in enumerate(consents)])


def _counts(**over):
    counts = {"candidates": 4, "no_phone_or_opted_out": 0, "suppressed": 0, "holdout": 0,
              "listed": 0, "over_capacity": 0}
    counts.update(over)
    return counts


def test_an_empty_list_says_phone_consent_is_unknown_when_the_export_lacks_it(con):
    from orchestration.actions.call_center import empty_list_reason
    _unioned_customers(con, [None, None, None])
    reason = empty_list_reason(con, _counts(no_phone_or_opted_out=4), 7)
    assert "phone consent is unknown for every customer record (3)" in reason
    assert "電話連絡" in reason and "4 customers qualify" in reason


def test_an_empty_list_tells_refusals_and_other_causes_apart(con):
    from orchestration.actions.call_center import empty_list_reason
    _unioned_customers(con, [None, False, True])
    assert "lack a phone number or refused" in empty_list_reason(con, _counts(no_phone_or_opted_out=4), 7)
    mixed = empty_list_reason(con, _counts(no_phone_or_opted_out=1, suppressed=2, holdout=1), 7)
    assert mixed == ("nobody to call among 4 qualifying customers: 1 without a phone number or "
                     "phone consent, 2 contacted in the last 7 days, 1 held out at random.")
    capped = empty_list_reason(con, _counts(global_control=1, capped=3), 7)
    assert capped == ("nobody to call among 4 qualifying customers: 1 in the global control group, "
                      "3 at the contact cap of every campaign together.")


def test_a_list_with_rows_or_no_candidates_needs_no_reason(con):
    from orchestration.actions.call_center import empty_list_reason
    assert empty_list_reason(con, _counts(listed=1, holdout=3), 7) is None
    assert empty_list_reason(con, _counts(candidates=0), 7) is None
