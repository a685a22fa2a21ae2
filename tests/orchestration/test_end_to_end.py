"""The whole pipeline, materialized for real into a temporary directory.

Mart figures are checked against values computed here, independently, in plain Python from the
generated export files (never from the warehouse).
"""

from __future__ import annotations

import csv
import stat
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import datetime, timedelta

import dagster as dg
import duckdb
import pytest

from demo_pipeline import DEMO_AS_OF, DEMO_PROFILE
from orchestration.actions.call_center import select_call_list

AS_OF = DEMO_AS_OF


@pytest.fixture(scope="module")
def pipeline(demo_run):
    run = demo_run(1500, 11)
    return {"settings": run.settings, "result": run.result, "run": run}


@pytest.fixture(scope="module")
def wh(pipeline):
    con = duckdb.connect(str(pipeline["settings"].warehouse), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def exports(pipeline):
    return {s: pipeline["run"].read_export(s) for s in DEMO_PROFILE["streams"]}


def jst_datetime(text: str) -> datetime:
    return datetime.strptime(text, "%Y/%m/%d %H:%M:%S")


def test_every_asset_materialized_and_every_check_passed(pipeline):
    result = pipeline["result"]
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"csv_exports/orders", "raw_csv/orders", "marts/customers", "marts/orders",
            "marts/subscriptions", "actions/call_center_list", "bi/snapshot"} <= materialized
    evaluations = [e.event_specific_data
                   for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert len(evaluations) > 20
    failed = [(str(ev.asset_key.path), ev.check_name) for ev in evaluations
              if not ev.passed and ev.severity == dg.AssetCheckSeverity.ERROR]
    assert failed == []


def test_every_model_says_its_row_count_and_the_charted_marts_show_their_chart(pipeline, wh):
    from orchestration.charts.marts import CHARTS

    metadata = {e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
                for e in pipeline["result"].get_asset_materialization_events()}
    models = [k for k in metadata if k.split("/")[0] in ("staging", "intermediate", "marts", "seeds")]
    assert len(models) > 40
    for key in models:
        schema, name = key.split("/")
        (count,) = wh.execute(f'select count(*) from "{schema}"."{name}"').fetchone()
        assert metadata[key]["dagster/row_count"].value == count, key
    for path, (chart_name, _) in CHARTS.items():
        assert "![" in metadata["/".join(path)][chart_name].value, path


def test_raw_tables_hold_every_exported_row(wh, exports):
    for stream, rows in exports.items():
        assert wh.execute(f"select count(*) from raw_csv.{stream}").fetchone()[0] == len(rows), stream


def test_subscriptions_that_reached_delivery_two(wh, exports):
    reached = {o["subscription_id"] for o in exports["orders"]
               if o["subscription_id"] and o["status"] != "キャンセル" and int(o["delivery_number"]) >= 2}
    assert len(reached) > 100
    assert wh.execute("select count(*) from marts.subscriptions where delivery_count >= 2").fetchone()[0] == len(reached)


def test_active_subscriptions(wh, exports):
    active = sum(s["status"] == "継続中" for s in exports["subscriptions"])
    assert active > 50
    assert wh.execute("select count(*) from marts.subscriptions where status = 'active'").fetchone()[0] == active


def test_customers_per_prefecture(wh, exports):
    expected = Counter(c["prefecture"] for c in exports["customers"])
    got = dict(wh.execute("select prefecture, count(*) from marts.customers group by 1").fetchall())
    assert got == dict(expected)
    assert len(expected) >= 30


def test_cancel_signal_subscribers_match_an_independent_count(wh, exports):
    window_start = AS_OF - timedelta(days=6)  # the last 7 days, as-of day included (var default 7)
    active_customers = {s["customer_id"] for s in exports["subscriptions"] if s["status"] == "継続中"}

    def in_window(ts: str) -> bool:
        return window_start <= jst_datetime(ts).date() <= AS_OF

    signalled = {w["customer_id"] for w in exports["web_events"]
                 if w["customer_id"] and "/mypage/teiki/cancel" in w["url"] and in_window(w["visited_at"])}
    signalled |= {i["customer_id"] for i in exports["inquiries"]
                  if i["customer_id"] and i["category"] == "解約相談" and in_window(i["created_at"])}
    expected = signalled & active_customers
    assert len(expected) >= 5
    got = {r[0] for r in wh.execute("select customer_id from marts.cancel_signal_subscribers").fetchall()}
    assert got == expected


def test_call_center_list_and_ledger(pipeline, wh):
    """The call list is marts.high_risk_customers in priority order, after the contact policy."""
    settings = pipeline["settings"]
    path = settings.outbox_dir / "call_center" / f"call_center_list_{AS_OF:%Y%m%d}.csv"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with open(path, encoding="utf-8-sig", newline="") as fh:
        listed = list(csv.DictReader(fh))
    assert listed and set(listed[0]) >= {"優先順位", "氏名", "電話番号", "商品名", "定期回数", "次回お届け予定日",
                                         "解約予兆スコア(%)", "掲載理由", "おすすめ対応"}
    assert all(r["電話番号"] for r in listed)
    assert [int(r["優先順位"]) for r in listed] == list(range(1, len(listed) + 1))
    assert all(r["掲載理由"] for r in listed)

    ledger = wh.execute(
        "select customer_key, customer_id, arm from actions.action_ledger "
        "where action_date = ? and campaign = 'call_center_churn_risk'", [AS_OF]
    ).fetchall()
    arms = Counter(arm for _, _, arm in ledger)
    assert arms["treatment"] == len(listed)
    # Everyone reachable by phone, in priority order, until the day's capacity is in treatment.
    eligible = [r[0] for r in wh.execute(
        """select customer_key from marts.high_risk_customers
           where phone is not null and phone_opt_in order by priority_rank""").fetchall()]
    chosen = {key for key, _, arm in ledger if arm}
    assert chosen == set(eligible[:len(chosen)])
    assert arms["treatment"] == min(150, len(eligible) - arms["holdout"])
    treated_ids = [customer_id for _, customer_id, arm in ledger if arm == "treatment"]
    assert sorted(r["顧客ID"] for r in listed) == sorted(treated_ids)


def test_tomorrows_list_leaves_out_who_was_listed_today(wh):
    rows, entries, counts = select_call_list(wh, AS_OF + timedelta(days=1), 14, 0.1)
    assert [e for e in entries if e.arm] == [] and counts["suppressed"] > 0
    # outside the suppression window they would be chosen again
    rows, entries, counts = select_call_list(wh, AS_OF + timedelta(days=20), 14, 0.1)
    assert counts["suppressed"] == 0 and any(e.arm for e in entries)


def test_bi_snapshot_has_every_mart(pipeline, wh):
    snap = duckdb.connect(str(pipeline["settings"].bi_snapshot), read_only=True)
    marts = wh.execute(
        "select table_name from information_schema.tables where table_schema = 'marts' order by 1").fetchall()
    assert marts == snap.execute(
        "select table_name from information_schema.tables where table_schema = 'marts' order by 1").fetchall()
    for (t,) in marts:
        assert snap.execute(f"select count(*) from marts.{t}").fetchone() == wh.execute(
            f"select count(*) from marts.{t}").fetchone()


@pytest.mark.slow  # a second full run of the pipeline
def test_rerun_same_day_with_a_bi_reader_attached_changes_nothing(pipeline, wh):
    """A second refresh while a BI client holds the snapshot: not blocked, nobody recorded twice."""
    settings = pipeline["settings"]
    before_ledger = wh.execute("select campaign, action_date, customer_key, arm from actions.action_ledger order by all").fetchall()
    before_raw = wh.execute("select count(*), max(_loaded_at) from raw_csv.orders").fetchone()
    list_file = settings.outbox_dir / "call_center" / f"call_center_list_{AS_OF:%Y%m%d}.csv"
    before_list = list_file.read_bytes()
    wh.close()  # the test's own read-only handle would block the pipeline's writes

    reader = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys
            c = duckdb.connect({str(settings.bi_snapshot)!r}, read_only=True)
            print(c.execute("select count(*) from marts.subscriptions").fetchone()[0], flush=True)
            sys.stdin.readline()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert int(reader.stdout.readline()) > 0
        result = pipeline["run"].rerun()
        assert result.success
    finally:
        reader.kill()

    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        assert con.execute("select campaign, action_date, customer_key, arm from actions.action_ledger order by all").fetchall() == before_ledger
        assert con.execute("select count(*), max(_loaded_at) from raw_csv.orders").fetchone() == before_raw
    finally:
        con.close()
    assert list_file.read_bytes() == before_list
