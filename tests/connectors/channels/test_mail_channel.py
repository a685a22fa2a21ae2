"""Mail over SMTP against a real local SMTP server (aiosmtpd, STARTTLS with a test CA, AUTH)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from connectors.channels.base import OutboundMessage
from connectors.channels.mail import MailChannel, message_id_for, smtp_credentials_from_env
from connectors.channels.outbox import ChannelConfigError
from connectors.channels.settings import MailSettings
from connectors.testing.smtp_server import Received, SmtpServer

FIXED = datetime(2026, 12, 2, 10, 30, tzinfo=ZoneInfo("Asia/Tokyo"))


def msg(key="step:c1:2026-12-02:1", to="hanako@example.jp", **kw):
    base = dict(
        idempotency_key=key, campaign="step_mail", customer_key="c1", recipient=to,
        subject="【定期便ショップ】2回目のお届け前のご案内",
        body_text="山田 花子 様\n\nいつもご愛用ありがとうございます。\n.先頭のドットも正しく届きます。\n",
        extra={"unsubscribe_url": "https://shop.example.jp/unsubscribe?t=abc123"},
    )
    base.update(kw)
    return OutboundMessage(**base)


def channel(srv, tmp_path, **settings):
    s = MailSettings(from_address="info@shop.example.jp", from_name="定期便ショップ", rate_per_second=1000, **settings)
    return MailChannel(s, srv.credentials(), outbox=tmp_path / "outbox",
                       ssl_context=srv.client_ssl_context(), now=lambda: FIXED, sleep=lambda s: None)


@pytest.fixture
def srv():
    with SmtpServer() as server:
        yield server


@pytest.mark.parametrize("encoding", ["iso-2022-jp", "utf-8"])
def test_japanese_mail_arrives_over_starttls_with_auth_and_decodes(srv, tmp_path, encoding):
    ch = channel(srv, tmp_path, encoding=encoding)
    assert not ch.dry_run
    [result] = ch.send([msg()])
    assert result.status == "sent"
    [rec] = srv.received
    assert srv.auth_attempts and all(ok for _, ok in srv.auth_attempts)
    assert rec.rcpt_tos == ("hanako@example.jp",)
    m = rec.message
    # Headers on the wire are ASCII; the Japanese is in encoded words of the chosen charset.
    assert rec.data.split(b"\r\n\r\n", 1)[0].isascii()
    assert f"=?{encoding}?b?".lower() in m["Subject"].lower()
    assert rec.header("Subject") == "【定期便ショップ】2回目のお届け前のご案内"
    assert rec.header("From") == "定期便ショップ <info@shop.example.jp>"
    assert m.get_content_charset() == encoding
    assert m["Content-Transfer-Encoding"] == ("7bit" if encoding == "iso-2022-jp" else "base64")
    assert rec.text().splitlines()[0] == "山田 花子 様"
    assert ".先頭のドット" in rec.text()  # dot-stuffing undone by the server
    assert m["Date"] == "Wed, 02 Dec 2026 10:30:00 +0900"
    assert m["Message-ID"] == result.provider_message_id == message_id_for(msg().idempotency_key, "shop.example.jp")
    assert " ".join(m["List-Unsubscribe"].split()) == ("<https://shop.example.jp/unsubscribe?t=abc123>, "
                                     "<mailto:info@shop.example.jp?subject=unsubscribe>")
    assert m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_html_alternative_and_mailto_only_unsubscribe(srv, tmp_path):
    ch = channel(srv, tmp_path, unsubscribe_mailto="stop@shop.example.jp")
    [r] = ch.send([msg(body_html="<p>山田 花子 様</p>", extra={})])
    assert r.status == "sent"
    m = srv.received[0].message
    assert m.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in m.get_payload()] == ["text/plain", "text/html"]
    assert " ".join(m["List-Unsubscribe"].split()) == "<mailto:stop@shop.example.jp?subject=unsubscribe>"
    assert m["List-Unsubscribe-Post"] is None  # one-click needs an https URL (RFC 8058)


def test_iso2022jp_rejects_a_character_it_cannot_hold_and_sends_the_rest(srv, tmp_path):
    ch = channel(srv, tmp_path, encoding="iso-2022-jp")
    results = list(ch.send([msg("a", body_text="髙橋 様 ①"), msg("b")]))
    assert [r.status for r in results] == ["rejected", "sent"]
    assert "'髙'" in results[0].error and "utf-8" in results[0].error
    assert len(srv.received) == 1


def test_transient_replies_are_retried_and_the_message_arrives_once(srv, tmp_path):
    srv.fail_next("rcpt", "451 4.3.0 Temporary failure")
    srv.fail_next("data", "452 4.3.1 Insufficient storage")
    [r] = channel(srv, tmp_path).send([msg()])
    assert r.status == "sent"
    assert len(srv.received) == 1


def test_permanent_reply_is_rejected_with_the_servers_text_but_no_address(srv, tmp_path):
    srv.fail_next("rcpt", "550 5.1.1 <hanako@example.jp>: Recipient address rejected")
    results = list(channel(srv, tmp_path).send([msg("a"), msg("b", to="taro@example.jp")]))
    assert [r.status for r in results] == ["rejected", "sent"]
    assert "550 5.1.1" in results[0].error and "hanako" not in results[0].error
    assert [r.rcpt_tos for r in srv.received] == [("taro@example.jp",)]


def test_connection_lost_after_the_content_is_not_resent(srv, tmp_path):
    """RFC 1047's window: the server took the message, the 250 never came. No blind retry."""
    srv.drop_after_data = 1
    results = list(channel(srv, tmp_path).send([msg("a"), msg("b", to="taro@example.jp")]))
    assert [r.status for r in results] == ["failed", "sent"]
    assert "outcome unknown" in results[0].error
    assert len(srv.received) == 2  # a once, b once: the next message used a new connection


def test_a_rerun_after_a_lost_outcome_carries_the_same_message_id(srv, tmp_path):
    """The documented guarantee: every attempt at one key has one Message-ID, so a copy re-sent
    from the ledger's unknown-outcome window collapses into one in the recipient's mailbox."""
    list(channel(srv, tmp_path).send([msg()]))
    list(channel(srv, tmp_path).send([msg()]))  # the re-run of a message still 'planned'
    assert len(srv.received) == 2
    assert srv.received[0].data == srv.received[1].data
    assert len(srv.mailbox()) == 1


def test_wrong_password_is_a_config_error_without_the_password(srv, tmp_path):
    from dataclasses import replace

    creds = replace(srv.credentials(), password="not-the-password-123")
    ch = MailChannel(MailSettings(), creds, outbox=tmp_path, ssl_context=srv.client_ssl_context(),
                     sleep=lambda s: None)
    with pytest.raises(ChannelConfigError, match="authentication failed") as err:
        list(ch.send([msg()]))
    assert "not-the-password" not in str(err.value) and "not-the-password" not in repr(creds)
    assert srv.received == []


def test_a_server_without_starttls_is_refused(tmp_path):
    with SmtpServer(starttls=False, user=None) as plain:
        from dataclasses import replace

        creds = replace(plain.credentials(), security="starttls")
        ch = MailChannel(MailSettings(), creds, outbox=tmp_path, sleep=lambda s: None)
        with pytest.raises(ChannelConfigError, match="STARTTLS"):
            list(ch.send([msg()]))
        assert plain.received == []


def test_dry_run_writes_the_same_bytes_to_the_outbox(srv, tmp_path):
    live = channel(srv, tmp_path)
    list(live.send([msg()]))
    dry = MailChannel(live.settings, None, outbox=tmp_path / "outbox", now=lambda: FIXED)
    assert dry.dry_run
    [r] = dry.send([msg()])
    assert r.status == "dry_run"
    [path] = dry.outbox.files("mail")
    assert path.suffix == ".eml"
    assert path.read_bytes() == srv.received[0].data
    assert Received("", (), path.read_bytes()).header("Subject").startswith("【定期便ショップ】")


def test_credentials_come_from_the_environment_only():
    assert smtp_credentials_from_env({}) is None
    c = smtp_credentials_from_env({"TEIKI_SMTP_HOST": "smtp.example.jp", "TEIKI_SMTP_USER": "u",
                                   "TEIKI_SMTP_PASSWORD": "secret-pw-1"})
    assert (c.host, c.port, c.security) == ("smtp.example.jp", 587, "starttls")
    assert "secret-pw-1" not in repr(c)
    with pytest.raises(ChannelConfigError, match="both"):
        smtp_credentials_from_env({"TEIKI_SMTP_HOST": "h", "TEIKI_SMTP_USER": "u"})
