"""Campaigns through real channels: a real SMTP server (aiosmtpd) and the local LINE Messaging
API server receive each chosen customer's message exactly once, also when the sending process
is SIGKILLed after planning, mid-batch, or after the provider accepted a message but before its
outcome was recorded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from connectors.testing.line_server import TOKEN, LineServer
from connectors.testing.smtp_server import SmtpServer

sys.path.insert(0, str(Path(__file__).parent))
from campaign_world import CUSTOMERS, DAY, build, run_day  # noqa: E402

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def servers():
    with SmtpServer(starttls=False) as smtp, LineServer() as line:
        yield smtp, line


def live_env(smtp: SmtpServer, line: LineServer) -> dict[str, str]:
    return {"TEIKI_SMTP_HOST": smtp.host, "TEIKI_SMTP_PORT": str(smtp.port), "TEIKI_SMTP_USER": smtp.user,
            "TEIKI_SMTP_PASSWORD": smtp.password, "TEIKI_SMTP_SECURITY": "none",
            "TEIKI_LINE_CHANNEL_TOKEN": TOKEN, "TEIKI_LINE_API_BASE": line.url}


def ledger(paths) -> list[dict]:
    con = duckdb.connect(str(paths["warehouse"]), read_only=True)
    try:
        cur = con.execute("select * from actions.action_ledger order by campaign, customer_key")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]
    finally:
        con.close()


def received(smtp: SmtpServer, line: LineServer) -> Counter:
    """Messages per recipient, as the servers recorded them."""
    got = Counter()
    for rec in smtp.received:
        for to in rec.rcpt_tos:
            got[to] += 1
    for d in line.delivered:
        got[d.user_id] += 1
    return got


def expected_recipients(rows: list[dict]) -> set[str]:
    out = set()
    for r in rows:
        if r["decision"] == "send":
            i = int(r["customer_key"][1:])
            out.add(f"c{i}@example.jp" if r["channel"] == "mail" else f"U{i:032x}")
    return out


def test_chosen_customers_receive_one_rendered_message_and_a_rerun_sends_nothing(servers, tmp_path):
    smtp, line = servers
    paths = build(tmp_path)
    reports = run_day(paths, live_env(smtp, line), live=True)
    rows = ledger(paths)
    sends = [r for r in rows if r["decision"] == "send"]
    held = [r for r in rows if r["decision"] == "holdout"]
    assert sends and held                                   # 25% holdout of 12 per campaign
    assert {r["status"] for r in sends} == {"sent"}
    assert all(r["status"] is None and r["arm"] == "holdout" for r in held)
    # mail_test reaches the mail-consent half, line_test the LINE half: nobody by both
    assert {r["channel"] for r in rows if r["campaign"] == "mail_test" and r["decision"] == "send"} == {"mail"}
    got = received(smtp, line)
    assert set(got) == expected_recipients(rows) and set(got.values()) == {1}
    mail = smtp.received[0]
    assert mail.header("Subject") == "【定期便ショップ】青汁定期便のお届け"
    assert "様\n次回のお届けは2026年12月10日です。" in mail.text().replace("\r\n", "\n")
    assert line.delivered[0].messages[0]["text"].endswith("様、次回は2026年12月10日です。")
    assert reports["mail_test"].summary()["sent"] == len([r for r in sends if r["campaign"] == "mail_test"])
    # consent: the LINE half has no mail consent, so mail_test records them as no_consent
    assert sum(r["decision"] == "no_consent" for r in rows if r["campaign"] == "mail_test") == CUSTOMERS // 2 - sum(
        r["decision"] == "excluded_by_priority" for r in rows if r["campaign"] == "mail_test")

    again = run_day(paths, live_env(smtp, line), live=True)
    assert received(smtp, line) == got                      # nothing sent twice
    assert ledger(paths) == rows                            # nothing decided twice
    assert sum(again["mail_test"].decisions.values()) == 0


def test_not_live_renders_into_the_outbox_and_contacts_nobody(servers, tmp_path):
    smtp, line = servers
    paths = build(tmp_path)
    run_day(paths, live_env(smtp, line), live=False)        # credentials set, campaigns not live
    assert smtp.received == [] and line.delivered == []
    rows = ledger(paths)
    assert {r["status"] for r in rows if r["decision"] == "send"} == {"dry_run"}
    files = sorted((paths["outbox"]).rglob("*.*"))
    assert len(files) == sum(r["decision"] == "send" for r in rows)
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in files)


def test_quiet_hours_keep_live_messages_planned_until_they_end(servers, tmp_path):
    from datetime import datetime

    smtp, line = servers
    paths = build(tmp_path)
    night = run_day(paths, live_env(smtp, line), live=True, now=datetime(2026, 12, 1, 22, 30))
    assert received(smtp, line) == Counter()
    assert night["mail_test"].deferred_quiet_hours > 0
    assert {r["status"] for r in ledger(paths) if r["decision"] == "send"} == {"planned"}
    run_day(paths, live_env(smtp, line), live=True)         # the morning run
    assert set(received(smtp, line).values()) == {1}


KILL_POINTS = ["after_planning", "mid_batch", "after_accept"]


def _kill_when_reached(gate, script: str, root: Path, env: dict) -> None:
    """Run a live day in its own process and SIGKILL it the moment it reaches the server's gate."""
    proc = subprocess.Popen([sys.executable, script, str(root), "live"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert gate.reached.wait(60), proc.communicate(timeout=5)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)


@pytest.mark.parametrize("channel", ["mail", "line"])
@pytest.mark.parametrize("point", KILL_POINTS)
def test_killed_at_every_step_each_message_arrives_exactly_once(servers, tmp_path, channel, point):
    smtp, line = servers
    paths = build(tmp_path)
    env = {**os.environ, **live_env(smtp, line), "PYTHONPATH": str(REPO)}
    script = str(Path(__file__).parent / "campaign_world.py")
    # mail_test (priority 60) sends first, then line_test; kill inside the chosen channel's batch
    if point == "after_planning":
        subprocess.run([sys.executable, script, str(tmp_path), "plan"], env=env, check=True, timeout=120)
    else:
        nth = 2 if point == "mid_batch" else 1
        server = smtp if channel == "mail" else line
        if channel == "mail":
            gate = smtp.gate("mail" if point == "mid_batch" else "accepted", nth)
        else:
            gate = line.gate("request" if point == "mid_batch" else "accepted", nth)
        _kill_when_reached(gate, script, tmp_path, env)
        gate.drop() if point == "mid_batch" else gate.open()
        assert server is not None
    before = ledger(paths)
    assert before and any(r["status"] == "planned" for r in before)

    subprocess.run([sys.executable, script, str(tmp_path), "live"], env=env, check=True, timeout=120)
    rows = ledger(paths)
    got = received(smtp, line)
    assert set(got) == expected_recipients(rows)
    assert set(got.values()) == {1}, got                    # exactly once, every one
    statuses = Counter(r["status"] for r in rows if r["decision"] == "send")
    if point == "after_accept" and channel == "mail":
        # SMTP cannot tell a retry from a new message: the one in flight is left in doubt for a
        # person, never re-sent
        assert statuses["in_doubt"] == 1
    elif point == "after_accept":
        assert statuses["already_sent"] == 1                # LINE answered 409 to the same retry key
    assert statuses["planned"] == 0 and statuses["failed"] == 0


NOTICE = "年末年始の配送スケジュールのお知らせです。"


@pytest.mark.parametrize("point", ["request_held", "after_accept"])
def test_a_multicast_killed_before_or_after_acceptance_arrives_exactly_once(servers, tmp_path, point):
    smtp, line = servers
    paths = build(tmp_path, line_text=NOTICE)
    env = {**os.environ, **live_env(smtp, line), "PYTHONPATH": str(REPO)}
    script = str(Path(__file__).parent / "campaign_world.py")
    gate = line.gate("request" if point == "request_held" else "accepted", 1)
    _kill_when_reached(gate, script, tmp_path, env)
    gate.drop() if point == "request_held" else gate.open()
    line_rows = [r for r in ledger(paths) if r["channel"] == "line" and r["decision"] == "send"]
    assert len(line_rows) >= 2 and len({r["send_batch"] for r in line_rows}) == 1   # recorded before the request
    assert {r["status"] for r in line_rows} == {"planned"}

    subprocess.run([sys.executable, script, str(tmp_path), "live"], env=env, check=True, timeout=120)
    rows = ledger(paths)
    got = received(smtp, line)
    assert set(got) == expected_recipients(rows) and set(got.values()) == {1}, got
    assert [q.path for q in line.requests if q.path.startswith("/v2")].count("/v2/bot/message/multicast") == 2
    statuses = Counter(r["status"] for r in rows if r["channel"] == "line" and r["decision"] == "send")
    assert statuses == Counter({"already_sent" if point == "after_accept" else "sent": len(line_rows)})


def test_a_multicast_whose_outcomes_were_recorded_in_part_is_not_sent_again(servers, tmp_path):
    import duckdb as _duckdb

    smtp, line = servers
    paths = build(tmp_path, line_text=NOTICE)
    run_day(paths, live_env(smtp, line), live=True)
    first = received(smtp, line)
    assert [d.messages[0]["text"] for d in line.delivered] == [NOTICE] * len(line.delivered)
    # as if the process died after recording some of the multicast's outcomes: two are planned again
    con = _duckdb.connect(str(paths["warehouse"]))
    keys = [r[0] for r in con.execute("select idempotency_key from actions.action_ledger where channel = 'line' "
                                      "and decision = 'send' order by 1 limit 2").fetchall()]
    con.execute("update actions.action_ledger set status = 'planned' where idempotency_key in (select unnest(?))", [keys])
    con.close()
    run_day(paths, live_env(smtp, line), live=True)
    assert received(smtp, line) == first                    # nobody twice: the batch's retry key got 409
    statuses = {r["idempotency_key"]: r["status"] for r in ledger(paths) if r["idempotency_key"] in keys}
    assert statuses == dict.fromkeys(keys, "already_sent")


def test_a_campaign_whose_whole_window_lacks_consent_says_so(servers, tmp_path):
    import duckdb as _duckdb

    smtp, line = servers
    paths = build(tmp_path)
    con = _duckdb.connect(str(paths["warehouse"]))
    con.execute("update marts.audience_send_test set email_opt_in = null, line_opt_in = null")
    con.close()
    reports = run_day(paths, live_env(smtp, line), live=True)
    note = reports["mail_test"].consent_note(["mail"])
    assert note.startswith("all ") and "unknown consent is no" in note
    assert received(smtp, line) == Counter()
    assert {r["decision"] for r in ledger(paths)} == {"no_consent"}
    # with some consent the note is empty
    other = build(tmp_path / "b")
    assert run_day(other, live_env(smtp, line), live=False)["mail_test"].consent_note(["mail"]) == ""
