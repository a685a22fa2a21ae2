"""The on-site offer assets: the eligibility file published from the mart, the events loaded back."""

from __future__ import annotations

import json
import stat
from datetime import date, datetime, timezone
from pathlib import Path

import dagster as dg
import duckdb

from connectors.onsite_offers.eligibility import load_eligibility
from connectors.onsite_offers.events import Decision, EventLog
from orchestration.actions.onsite_offers import build_onsite_offer_assets, eligibility_path
from orchestration.resources import WarehouseResource
from orchestration.settings import load_settings

MART = """
create schema marts;
create table marts.onsite_offer_eligibility as select * from (values
  ('csv:1', 'csv', '1', 'csv:S1:4', date '2026-12-01', date '2026-12-04', 'gift', '4回目に同梱', null, date '2026-12-04', true, null),
  ('csv:2', 'csv', '2', 'csv:S2:4', date '2026-12-01', date '2026-12-04', 'gift', '4回目に同梱', null, date '2026-12-04', false, 'holdout'),
  ('csv:3', 'csv', '3', 'csv:S3:4', date '2026-12-01', date '2026-12-04', 'gift', '4回目に同梱', null, date '2026-12-04', false, 'payment_failure')
) t(customer_key, source, customer_id, window_id, window_start, window_end, offer_id, offer_text,
    offer_image_url, offer_expires_on, eligible, ineligible_reason)
"""


def _run(tmp_path: Path, selection: list[str]):
    wh = tmp_path / "warehouse.duckdb"
    settings = load_settings({"TEIKI_DATA_DIR": str(tmp_path), "TEIKI_AS_OF_DATE": "2026-12-01"})
    assets = build_onsite_offer_assets(settings)
    result = dg.materialize(assets, resources={"warehouse": WarehouseResource(path=str(wh))},
                            selection=selection)
    assert result.success
    return settings, result


def test_publishes_eligible_and_holdout_rows_privately(tmp_path):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        con.execute(MART)
    settings, result = _run(tmp_path, ["actions/onsite_offer_eligibility"])
    path = eligibility_path(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert doc["as_of_date"] == "2026-12-01" and doc["rows"] == 2
    offers = load_eligibility(path)
    assert sorted(offers) == ["1", "2"]  # the payment failure is not published
    assert offers["2"].holdout and not offers["1"].holdout
    assert offers["1"].offer_text == "4回目に同梱" and offers["1"].window_end == date(2026, 12, 4)


def test_events_asset_without_file_loads_nothing_then_loads_incrementally(tmp_path):
    _run(tmp_path, ["raw_onsite/offer_events"])  # no events file: a no-op, not a failure
    log = EventLog(tmp_path / "onsite" / "events.sqlite")
    now = datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)
    for i in range(3):
        log.record(Decision(now, date(2026, 12, 1), "not_shown", "not_eligible", str(i), "faq", None, None))
    _run(tmp_path, ["raw_onsite/offer_events"])
    log.accept(Decision(now, date(2026, 12, 1), "accepted", None, "9", None, "gift", "csv:S9:4"), "t1")
    log.close()
    _run(tmp_path, ["raw_onsite/offer_events"])
    _run(tmp_path, ["raw_onsite/offer_events"])  # nothing new: nothing duplicated
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute("select event_id, event_type, customer_id, occurred_at from raw_onsite.offer_events "
                           "order by event_id").fetchall()
        cursor = con.execute("select cursor_value from raw_meta.sync_state where source = 'onsite'").fetchone()[0]
    assert [r[1] for r in rows] == ["not_shown"] * 3 + ["accepted"]
    assert rows[0][3] == datetime(2026, 12, 1, 3, 0)
    assert cursor == "4"


def test_events_go_into_the_action_ledger_once_per_window_with_acceptances(tmp_path):
    wh = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(wh)) as con:  # the identity table of the last dbt build
        con.execute("create schema intermediate; create table intermediate.int_customers__identity as "
                    "select * from (values ('csv', '7', 'csv:1'), ('csv', '1', 'csv:1')) "
                    "t(source, customer_id, customer_key)")
    log = EventLog(tmp_path / "onsite" / "events.sqlite")
    at = datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)
    day, next_day = date(2026, 12, 1), date(2026, 12, 2)
    log.record(Decision(at, day, "not_shown", "not_eligible", "5", "faq", None, None))
    log.record(Decision(at, day, "not_shown", "outside_window", "7", "faq", "gift", "csv:S7:4"))
    log.record(Decision(at, next_day, "shown", None, "7", "cancel", "gift", "csv:S7:4"))
    log.record(Decision(at, next_day, "shown", None, "7", "faq", "gift", "csv:S7:4"))   # same window again
    log.record(Decision(at, day, "not_shown", "holdout", "8", "contact", "gift", "csv:S8:4"))
    log.record(Decision(at, next_day, "not_shown", "holdout", "8", "faq", "gift", "csv:S8:4"))
    _run(tmp_path, ["raw_onsite/offer_events"])
    log.accept(Decision(at, next_day, "accepted", None, "7", None, "gift", "csv:S7:4"), "t7")
    log.record(Decision(at, next_day, "shown", None, "9", "faq", "gift", "csv:S9:4"))
    log.accept(Decision(at, next_day, "accepted", None, "6", "call_center", "gift", "csv:S6:4"), "call_center:1")
    log.close()
    _run(tmp_path, ["raw_onsite/offer_events"])
    _run(tmp_path, ["raw_onsite/offer_events"])  # nothing new: nothing recorded twice
    with duckdb.connect(str(wh), read_only=True) as con:
        rows = con.execute(
            "select campaign, action_date, customer_key, customer_id, subscription_id, step, channel, arm, "
            "decision, status, offer_code, monetary_offer, accepted_at is not null "
            "from actions.action_ledger order by customer_id").fetchall()
        reasons = dict(con.execute("select customer_id, reason from actions.action_ledger").fetchall())
    assert reasons == {"6": "accepted through the call center", "7": "shown on the cancel page",
                       "8": "held out at random: shown nothing", "9": "shown on the faq page"}
    assert rows == [
        ("onsite_pinpoint_offer", next_day, "csv:6", "6", "S6", "csv:S6:4", "onsite", "treatment", "send",
         "sent", "gift", True, True),
        ("onsite_pinpoint_offer", next_day, "csv:1", "7", "S7", "csv:S7:4", "onsite", "treatment", "send",
         "sent", "gift", True, True),
        ("onsite_pinpoint_offer", day, "csv:8", "8", "S8", "csv:S8:4", "onsite", "holdout", "holdout",
         None, "gift", True, False),
        ("onsite_pinpoint_offer", next_day, "csv:9", "9", "S9", "csv:S9:4", "onsite", "treatment", "send",
         "sent", "gift", True, False),
    ]
