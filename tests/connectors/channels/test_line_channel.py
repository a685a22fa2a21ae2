"""The LINE channel against the local Messaging API server (push, multicast, retry key, limits)."""

from __future__ import annotations

import json
import uuid

from dataclasses import replace

import pytest

from connectors.channels.base import OutboundMessage
from connectors.channels.line import LineChannel, line_credentials_from_env, retry_key_for
from connectors.channels.outbox import ChannelConfigError
from connectors.channels.settings import LineSettings
from connectors.testing.line_server import MULTICAST, PUSH, TOKEN, LineServer, user_id_for


def msg(i, text=None, campaign="step_line", **extra):
    return OutboundMessage(f"{campaign}:c{i}:2026-12-02:1", campaign, f"c{i}", user_id_for(f"c{i}"),
                           text or f"山田 花子{i} 様、2回目のお届けの前に使い方のコツをお送りします。",
                           extra=extra)


def channel(srv, tmp_path, **settings):
    return LineChannel(LineSettings(**settings), TOKEN, outbox=tmp_path, api_base=srv.url,
                       sleep=lambda s: None)


@pytest.fixture
def srv():
    with LineServer() as server:
        yield server


def test_push_sends_each_message_once_with_bearer_and_retry_key(srv, tmp_path):
    results = list(channel(srv, tmp_path).send([msg(i) for i in range(6)]))
    assert [r.status for r in results] == ["sent"] * 6
    assert [r.idempotency_key for r in results] == [msg(i).idempotency_key for i in range(6)]  # in order
    assert all(r.provider_message_id and r.provider_message_id.isdigit() for r in results)
    assert len(srv.delivered) == 6
    for req in srv.requests:
        assert req.path == PUSH and req.headers["authorization"] == f"Bearer {TOKEN}"
        key = req.headers["x-line-retry-key"]
        assert str(uuid.UUID(key)) == key
    sent_to = {r.json()["to"]: r.headers["x-line-retry-key"] for r in srv.requests}
    assert sent_to[user_id_for("c3")] == retry_key_for(msg(3).idempotency_key)
    assert srv.received_by(user_id_for("c0"))[0].messages[0]["text"].startswith("山田 花子0 様")


def test_rerun_of_an_accepted_message_is_already_sent_and_delivers_nothing(srv, tmp_path):
    first = list(channel(srv, tmp_path).send([msg(1)]))
    again = list(channel(srv, tmp_path).send([msg(1), msg(2)]))
    assert [r.status for r in again] == ["already_sent", "sent"]
    assert again[0].provider_message_id == first[0].provider_message_id  # the accepted sentMessages id
    assert len(srv.received_by(user_id_for("c1"))) == 1
    # Requests run concurrently: find the two that went to c1, in whichever order they arrived.
    to_c1 = [r.headers["x-line-retry-key"] for r in srv.requests if r.json()["to"] == user_id_for("c1")]
    assert len(to_c1) == 2 and to_c1[0] == to_c1[1]


def test_answer_lost_after_acceptance_is_retried_by_key_and_delivered_once(srv, tmp_path):
    srv.fail("drop_after", on=PUSH)  # LINE accepted it; the answer never arrived
    srv.fail(503, on=PUSH, body={"message": "Service unavailable"})
    [r] = channel(srv, tmp_path).send([msg(1)])
    assert r.status == "already_sent"  # the retry with the same key got 409
    assert len(srv.received_by(user_id_for("c1"))) == 1
    assert len({q.headers["x-line-retry-key"] for q in srv.requests}) == 1 and len(srv.requests) == 3


def test_rate_limit_429_is_waited_out_and_nothing_is_lost(tmp_path):
    with LineServer(rate_limits={PUSH: 3}) as srv:
        waits = []
        ch = LineChannel(LineSettings(rate_per_second=1000, concurrency=1), TOKEN, outbox=tmp_path,
                         api_base=srv.url, sleep=lambda s: (waits.append(s), __import__("time").sleep(s)))
        results = list(ch.send([msg(i) for i in range(8)]))
        assert [r.status for r in results] == ["sent"] * 8
        assert srv.rate_limited > 0 and waits
        assert len(srv.delivered) == 8


def test_monthly_limit_fails_the_rest_without_retrying(tmp_path):
    with LineServer(monthly_quota=2) as srv:
        results = list(channel(srv, tmp_path, concurrency=1).send([msg(i) for i in range(5)]))
        assert [r.status for r in results] == ["sent", "sent", "failed", "failed", "failed"]
        assert "monthly limit" in results[2].error
        assert len(srv.requests) == 3  # the 4th and 5th were never attempted


def test_bad_message_is_rejected_with_lines_own_details(srv, tmp_path):
    bad = msg(1, line_messages=[{"type": "flex", "contents": {}}])  # no altText
    results = list(channel(srv, tmp_path).send([bad, msg(2), msg(3, text="x" * 5001)]))
    assert [r.status for r in results] == ["rejected", "sent", "rejected"]
    assert "messages[0].altText" in results[0].error and "HTTP 400" in results[0].error
    assert "5000" in results[2].error  # refused before sending
    assert user_id_for("c1") not in results[0].error


def test_wrong_token_stops_the_batch_and_never_shows_the_token(srv, tmp_path):
    ch = LineChannel(LineSettings(), "wrong-token-abcdef", outbox=tmp_path, api_base=srv.url)
    with pytest.raises(ChannelConfigError, match="TEIKI_LINE_CHANNEL_TOKEN") as err:
        list(ch.send([msg(i) for i in range(3)]))
    assert "wrong-token" not in str(err.value)
    assert srv.delivered == []


def test_multicast_groups_identical_messages_once_per_user(srv, tmp_path):
    same = [msg(i, text="年末年始の配送スケジュールのお知らせ", campaign="notice") for i in range(7)]
    ch = channel(srv, tmp_path)
    batch_of = ch.assign_batches(same + [msg(99)])
    assert set(batch_of) == {m.idempotency_key for m in same}       # the personal one stays a push
    batched = [replace(m, send_batch=batch_of.get(m.idempotency_key)) for m in same + [msg(99)]]
    results = list(ch.send(batched))
    assert [r.status for r in results] == ["sent"] * 8
    assert sorted(q.path for q in srv.requests) == [MULTICAST, PUSH]
    assert sorted(d.user_id for d in srv.delivered) == sorted(m.recipient for m in same + [msg(99)])
    # A re-run after a crash that recorded only some outcomes: the rest of the recorded batch
    # goes again under the batch's retry key, whatever its members now, and LINE says 409.
    again = list(channel(srv, tmp_path).send(batched[2:5]))
    assert {r.status for r in again} == {"already_sent"} and len(srv.delivered) == 8
    assert channel(srv, tmp_path, multicast=False).assign_batches(same) == {}


def test_dry_run_writes_the_request_to_the_outbox(tmp_path):
    ch = LineChannel(LineSettings(), None, outbox=tmp_path)
    assert ch.dry_run
    [r] = ch.send([msg(1)])
    assert r.status == "dry_run"
    [path] = ch.outbox.files("line")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["path"] == "/v2/bot/message/push"
    assert doc["headers"]["X-Line-Retry-Key"] == retry_key_for(msg(1).idempotency_key)
    assert doc["body"]["messages"][0]["text"].startswith("山田 花子1 様")


def test_credentials_from_the_environment():
    assert line_credentials_from_env({}) == (None, "https://api.line.me")
    assert line_credentials_from_env({"TEIKI_LINE_CHANNEL_TOKEN": "t0k3n"})[0] == "t0k3n"
