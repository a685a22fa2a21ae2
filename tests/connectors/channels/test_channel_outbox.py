"""The dry-run outbox: every channel renders to it, privately, atomically, once per key."""

from __future__ import annotations

import os
import stat

import pytest

from connectors.channels.base import Channel, OutboundMessage
from connectors.channels.outbox import ChannelConfigError, MessageError, Outbox, OutboxChannel, safe_file_stem


class TextChannel(OutboxChannel):
    name = "text"
    outbox_suffix = "txt"

    def __init__(self, **kw):
        super().__init__(**kw)
        self.delivered = []

    def render(self, message):
        if not message.body_text:
            raise MessageError(f"{message.idempotency_key}: empty body")
        return message.body_text.encode("utf-8")

    def deliver(self, messages):
        from connectors.channels.base import SendResult

        for m in messages:
            self.delivered.append(m.idempotency_key)
            yield SendResult(m.idempotency_key, "sent")


def msg(key, body="山田 花子 様、いつもありがとうございます。", campaign="winback"):
    return OutboundMessage(key, campaign, "c1", "someone@example.jp", body)


def test_dry_run_writes_each_message_privately_and_answers_dry_run(tmp_path):
    ch = TextChannel(dry_run=True, outbox=tmp_path / "outbox")
    assert isinstance(ch, Channel)
    results = list(ch.send([msg("winback:c1:2026-12-02:1"), msg("winback:c2:2026-12-02:1", body="二通目")]))
    assert [r.status for r in results] == ["dry_run", "dry_run"]
    files = ch.outbox.files("text")
    assert len(files) == 2 and ch.delivered == []
    assert files[0].read_text(encoding="utf-8").startswith("山田 花子 様")
    for f in files:
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "outbox").st_mode) == 0o700
    assert results[0].provider_message_id == "outbox:" + files[0].relative_to(tmp_path / "outbox").as_posix()


def test_rerun_of_a_planned_message_rewrites_the_same_file(tmp_path):
    ch = TextChannel(dry_run=True, outbox=tmp_path)
    list(ch.send([msg("k:1", body="first")]))
    list(ch.send([msg("k:1", body="second")]))
    files = Outbox(tmp_path).files()
    assert len(files) == 1 and files[0].read_text() == "second"
    assert not [p for p in tmp_path.rglob(".*")]  # no temporary file left behind


def test_a_message_that_cannot_render_is_rejected_and_the_batch_goes_on(tmp_path):
    ch = TextChannel(dry_run=True, outbox=tmp_path)
    results = list(ch.send([msg("a", body=""), msg("b")]))
    assert [(r.idempotency_key, r.status) for r in results] == [("a", "rejected"), ("b", "dry_run")]
    assert "empty body" in results[0].error


def test_live_channel_delivers_and_writes_nothing(tmp_path):
    ch = TextChannel(dry_run=False, outbox=tmp_path)
    assert [r.status for r in ch.send([msg("a")])] == ["sent"]
    assert ch.delivered == ["a"] and Outbox(tmp_path).files() == []


def test_duplicate_keys_in_a_batch_and_missing_outbox_are_errors(tmp_path):
    ch = TextChannel(dry_run=True, outbox=tmp_path)
    with pytest.raises(ValueError, match="appears twice"):
        list(ch.send([msg("a"), msg("a")]))
    with pytest.raises(ChannelConfigError, match="outbox"):
        TextChannel(dry_run=True)


def test_unsafe_keys_get_distinct_safe_file_names():
    assert safe_file_stem("winback_c1_20261202_1") == "winback_c1_20261202_1"
    a, b = safe_file_stem("a/b:c"), safe_file_stem("a:b/c")
    assert a != b and "/" not in a and ":" not in a
