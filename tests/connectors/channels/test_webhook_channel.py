"""Webhook alerts (Slack, Teams, Chatwork) against the local webhook server."""

from __future__ import annotations

import json
import time

import pytest

from connectors.channels.base import OutboundMessage
from connectors.channels.outbox import ChannelConfigError
from connectors.channels.settings import WebhookSettings
from connectors.channels.webhook import WebhookChannel, WebhookTargets, webhook_targets_from_env
from connectors.testing.webhook_server import CHATWORK_ROOM, CHATWORK_TOKEN, SLACK_PATH, WebhookServer


def alert(i=1, recipient="callcenter"):
    return OutboundMessage(f"risk_alert:c{i}:2026-12-02:1", "risk_alert", f"c{i}", recipient,
                           f"解約予兆: 顧客 c{i} (定期3回目) を本日のコールリストに追加しました。",
                           subject="【至急】解約予兆アラート")


@pytest.fixture
def srv():
    with WebhookServer(per_second=50, burst=50) as server:
        yield server


def slack(srv, tmp_path, **kw):
    return WebhookChannel(WebhookSettings(rate_per_second=1000), WebhookTargets({"": srv.slack_url}),
                          outbox=tmp_path, sleep=kw.get("sleep", lambda s: None))


def test_slack_alert_is_posted_once_as_incoming_webhook_json(srv, tmp_path):
    results = list(slack(srv, tmp_path).send([alert(1), alert(2)]))
    assert [r.status for r in results] == ["sent", "sent"]
    assert [p.text for p in srv.posted][0] == "*【至急】解約予兆アラート*\n解約予兆: 顧客 c1 (定期3回目) を本日のコールリストに追加しました。"
    assert srv.requests[0].headers["content-type"] == "application/json"


def test_slack_429_is_waited_out_by_retry_after(tmp_path):
    with WebhookServer(per_second=1, burst=1) as srv:
        waits = []
        ch = WebhookChannel(WebhookSettings(rate_per_second=1000), WebhookTargets({"": srv.slack_url}),
                            outbox=tmp_path, sleep=lambda s: (waits.append(s), time.sleep(s)))
        results = list(ch.send([alert(1), alert(2)]))
        assert [r.status for r in results] == ["sent", "sent"]
        assert waits == [1.0] and len(srv.posted) == 2


def test_slack_errors_are_rejected_with_the_code_and_without_the_secret_url(srv, tmp_path):
    srv.archive()
    [r] = slack(srv, tmp_path).send([alert()])
    assert r.status == "rejected" and "channel_is_archived" in r.error
    assert SLACK_PATH not in r.error and "teikiWebhookSecret" not in r.error


def test_lost_answer_is_failed_not_reposted(srv, tmp_path):
    srv.fail("drop_after")
    results = list(slack(srv, tmp_path).send([alert(1), alert(2)]))
    assert [r.status for r in results] == ["failed", "sent"]
    assert "outcome unknown" in results[0].error
    assert len(srv.posted) == 2  # the dropped one reached the channel once; never re-posted


def test_named_webhook_and_a_missing_one(srv, tmp_path):
    ch = WebhookChannel(WebhookSettings(rate_per_second=1000), WebhookTargets({"CALLCENTER": srv.slack_url}),
                        outbox=tmp_path)
    results = list(ch.send([alert(1), alert(2, recipient="marketing")]))
    assert [r.status for r in results] == ["sent", "rejected"]
    assert "TEIKI_WEBHOOK_URL_MARKETING" in results[1].error


def test_teams_gets_an_adaptive_card(srv, tmp_path):
    ch = WebhookChannel(WebhookSettings(format="teams", rate_per_second=1000),
                        WebhookTargets({"": srv.teams_url}), outbox=tmp_path)
    [r] = ch.send([alert()])
    assert r.status == "sent"
    assert srv.posted[0].format == "teams" and srv.posted[0].text.startswith("【至急】解約予兆アラート\n")


def test_chatwork_posts_to_the_room_with_its_token(srv, tmp_path):
    targets = WebhookTargets(chatwork_token=CHATWORK_TOKEN, chatwork_room_id=CHATWORK_ROOM, chatwork_api_base=srv.url)
    [r] = WebhookChannel(WebhookSettings(format="chatwork", rate_per_second=1000), targets, outbox=tmp_path).send([alert()])
    assert r.status == "sent" and r.provider_message_id == "1001"
    assert srv.posted[0].text.startswith("[info][title]【至急】解約予兆アラート[/title]")
    bad = WebhookTargets(chatwork_token="wrong-token-xyz", chatwork_room_id=CHATWORK_ROOM, chatwork_api_base=srv.url)
    with pytest.raises(ChannelConfigError, match="TEIKI_CHATWORK_TOKEN") as err:
        list(WebhookChannel(WebhookSettings(format="chatwork"), bad, outbox=tmp_path).send([alert(2)]))
    assert "wrong-token" not in str(err.value)


def test_dry_run_writes_the_payload_but_never_the_url(tmp_path):
    ch = WebhookChannel(WebhookSettings(), None, outbox=tmp_path)
    [r] = ch.send([alert()])
    assert r.status == "dry_run"
    doc = json.loads(ch.outbox.files("webhook")[0].read_text(encoding="utf-8"))
    assert doc["payload"]["text"].startswith("*【至急】")


def test_targets_from_the_environment():
    assert webhook_targets_from_env({}) is None
    t = webhook_targets_from_env({"TEIKI_WEBHOOK_URL": "https://hooks.example/x/y/zzzzzz",
                                  "TEIKI_WEBHOOK_URL_CALLCENTER": "https://hooks.example/a/b/cccccc"})
    assert t.url_for("callcenter").endswith("cccccc") and t.url_for("other").endswith("zzzzzz")
    assert "zzzzzz" not in repr(t)
    with pytest.raises(ChannelConfigError):
        webhook_targets_from_env({"TEIKI_CHATWORK_TOKEN": "t"})
