"""The playbook on the demo merchant, through the real daily_refresh job: every campaign is an
asset downstream of its audience, decides under the policy, renders into the outbox (no
credentials: dry run), and records every decision in the ledger."""

from __future__ import annotations

import email
import email.policy
import json

import dagster as dg
import duckdb
import pytest

from orchestration.actions.campaign_assets import CONSENT_CHECK, campaign_key
from orchestration.actions.campaigns import load_campaigns
from orchestration.actions.contact_policy import DECISIONS


@pytest.fixture(scope="module")
def run(demo_run):
    return demo_run(1500, 11)


@pytest.fixture(scope="module")
def ledger_rows(run):
    con = duckdb.connect(str(run.settings.warehouse), read_only=True)
    try:
        cur = con.execute("select * from actions.action_ledger where campaign <> 'call_center_churn_risk'")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]
    finally:
        con.close()


def test_each_campaign_is_an_asset_downstream_of_its_audience_with_counts_and_a_masked_sample(run):
    graph = run.job.asset_layer.asset_graph
    materialized = {e.asset_key: e.event_specific_data.materialization
                    for e in run.result.get_asset_materialization_events()}
    for campaign in load_campaigns():
        key = campaign_key(campaign.name)
        assert graph.get(key).parent_keys == {dg.AssetKey(["marts", campaign.audience]),
                                              dg.AssetKey(["actions", "call_center_list"])}
        meta = materialized[key].metadata
        for field in ("chosen", "held_out", "capped", "no_consent", "sent_dry", "sample_message"):
            assert field in meta, (campaign.name, field)
        sample = meta["sample_message"].value
        assert "@" not in sample                              # never an address
        if campaign.channels != ["webhook"]:                  # customer-facing: the name is masked
            assert "＊＊＊様" in sample or "(no audience row)" in sample, (campaign.name, sample)
    checks = {(e.event_specific_data.asset_key, e.event_specific_data.check_name)
              for e in run.result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert (campaign_key("winback"), CONSENT_CHECK) in checks


def test_every_decision_is_recorded_with_a_reason_and_sends_are_dry_runs(ledger_rows):
    assert ledger_rows
    assert {r["decision"] for r in ledger_rows} <= set(DECISIONS)
    assert all(r["reason"] for r in ledger_rows)
    sends = [r for r in ledger_rows if r["decision"] == "send"]
    assert sends and {r["status"] for r in sends} <= {"dry_run", "rejected", "dropped"}
    assert all(r["status"] is None for r in ledger_rows if r["decision"] != "send")
    campaigns_with_sends = {r["campaign"] for r in sends}
    assert len(campaigns_with_sends) >= 6, campaigns_with_sends
    # one campaign per customer a day, the call list first
    chosen = [r["customer_key"] for r in ledger_rows if r["arm"] is not None
              and r["campaign"] != "churn_risk_call_alert"]
    assert len(chosen) == len(set(chosen))
    assert any("call_center_churn_risk" in r["reason"] for r in ledger_rows
               if r["decision"] == "excluded_by_priority")
    # monetary offers are flagged for spacing
    assert any(r["monetary_offer"] for r in ledger_rows if r["campaign"] == "winback" and r["arm"])


def test_the_outbox_holds_the_rendered_mail_line_and_dm(run, ledger_rows):
    outbox = run.settings.outbox_dir
    mails = sorted((outbox / "mail").rglob("*.eml"))
    lines = sorted((outbox / "line").rglob("*.json"))
    assert mails and lines
    message = email.message_from_bytes(mails[0].read_bytes(), policy=email.policy.default)
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "様" in body and message["Message-ID"] and message["List-Unsubscribe"]
    doc = json.loads(lines[0].read_text("utf-8"))
    assert "様" in json.dumps(doc, ensure_ascii=False)
    dm = [r for r in ledger_rows if r["campaign"] == "postal_dm_rescue" and r["decision"] == "send"]
    if dm:
        files = sorted((outbox / "postal_dm").rglob("*.csv"))
        assert files
        text = files[0].read_bytes().decode("cp932")
        assert text.startswith("郵便番号") and "様" in text
    for f in mails + lines:
        assert f.stat().st_mode & 0o777 == 0o600
    webhook = sorted((outbox / "webhook").rglob("*.json"))
    alerts = [r for r in ledger_rows if r["campaign"] == "churn_risk_call_alert" and r["decision"] == "send"]
    assert bool(webhook) == bool(alerts)
