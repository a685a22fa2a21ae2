"""The decision service, run for real as a subprocess: windows, holdout, signatures, bad input."""

from __future__ import annotations

import http.client
import json
import sqlite3
import time

from onsite_fixtures import SECRET, TODAY, offer_row
from connectors.onsite_offers.eligibility import write_eligibility


def _events(service) -> list[tuple]:
    con = sqlite3.connect(service.events)
    try:
        return con.execute("select event_type, reason, customer_id, page, offer_id from offer_events "
                           "order by event_id").fetchall()
    finally:
        con.close()


def test_window_edges_and_holdout(service):
    status, body = service.get_offer("starts-today", "faq")
    assert status == 200
    assert body["offer_id"] == "gift" and body["expires_on"] == "2026-12-05"
    assert body["text"] == "4回目のお届けにプレゼントを同梱します" and body["image_url"] is None
    assert body["token"]
    assert service.get_offer("ends-today", "contact")[0] == 200
    assert service.get_offer("ended-yesterday")[0] == 204
    assert service.get_offer("starts-tomorrow")[0] == 204
    for page in ("faq", "contact", "cancel"):
        assert service.get_offer("held-out", page) == (204, None)
    assert service.get_offer("unknown-customer")[0] == 204
    events = _events(service)
    assert events == [
        ("shown", None, "starts-today", "faq", "gift"),
        ("shown", None, "ends-today", "contact", "gift"),
        ("not_shown", "outside_window", "ended-yesterday", "cancel", "gift"),
        ("not_shown", "outside_window", "starts-tomorrow", "cancel", "gift"),
        ("not_shown", "holdout", "held-out", "faq", "gift"),
        ("not_shown", "holdout", "held-out", "contact", "gift"),
        ("not_shown", "holdout", "held-out", "cancel", "gift"),
        ("not_shown", "not_eligible", "unknown-customer", "cancel", None),
    ]


def test_signature_missing_bad_expired(service):
    now = int(time.time())
    assert service.get_offer("starts-today", headers={})[0] == 401
    assert service.get_offer("starts-today", headers={"X-Teiki-Timestamp": str(now)})[0] == 401
    assert service.get_offer("starts-today", secret="another-secret-0123456789")[0] == 401
    assert service.get_offer("starts-today", signature="00" * 32)[0] == 401
    status, body = service.get_offer("starts-today", ts=now - 301)
    assert status == 401 and body == {"error": "timestamp out of range"}
    assert service.get_offer("starts-today", ts=now + 301)[0] == 401
    assert service.get_offer("starts-today", ts=now - 290)[0] == 200
    # Signed for another page or customer: rejected.
    from connectors.onsite_offers.service import request_signature
    sig = request_signature(SECRET.encode(), "starts-today", "faq", str(now))
    assert service.get_offer("starts-today", "cancel", ts=now, signature=sig)[0] == 401
    assert service.get_offer("ends-today", "faq", ts=now, signature=sig)[0] == 401
    assert service.get_offer("starts-today", headers={"X-Teiki-Signature": sig, "X-Teiki-Timestamp": "12ab"})[0] == 401
    # Nothing was decided on an unauthenticated request but the one that passed.
    assert [e[0] for e in _events(service)] == ["shown"]


def test_bad_input_is_4xx_with_short_json(service):
    cases = [
        ("GET", "/v1/offer?page=faq", None, 400),
        ("GET", "/v1/offer?customer_id=a&page=home", None, 400),
        ("GET", "/v1/offer?customer_id=a&customer_id=b&page=faq", None, 400),
        ("GET", "/v1/offer?customer_id=%00bad&page=faq", None, 400),
        ("GET", "/v1/offer?customer_id=" + "x" * 200 + "&page=faq", None, 400),
        ("GET", "/v2/offer", None, 404),
        ("GET", "/", None, 404),
        ("POST", "/v1/nothing", b"{}", 404),
        ("POST", "/v1/accept", b"not json", 400),
        ("POST", "/v1/accept", b"[1, 2]", 400),
        ("POST", "/v1/accept", b'{"token": 5}', 400),
        ("POST", "/v1/accept", b'{"token": "abc"}', 400),
        ("POST", "/v1/accept", b'{"token": "abc.def"}', 401),
        ("POST", "/v1/accept", b"x" * 5000, 413),
    ]
    for method, path, body, expected in cases:
        status, answer = service.request(method, path, body=body)
        assert status == expected, (method, path[:40], status)
        assert set(answer) == {"error"} and len(answer["error"]) < 60
        assert "Traceback" not in answer["error"]
    # A body announced far larger than the limit is refused before it is read.
    conn = service.connection()
    conn.putrequest("POST", "/v1/accept")
    conn.putheader("Content-Length", str(10 ** 9))
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 413 and json.loads(resp.read()) == {"error": "body too large"}
    conn.close()
    # The service still answers.
    assert service.get_offer("starts-today")[0] == 200


def test_accept_and_the_same_offer_all_window(service, tmp_path):
    status, first = service.get_offer("starts-today", "faq")
    assert status == 200
    # The next file changes the offer: the customer keeps seeing the first one in this window.
    write_eligibility(service.eligibility, [
        offer_row("starts-today", TODAY, TODAY + __import__("datetime").timedelta(3), offer_id="discount",
                  text="次回10%オフ"),
        offer_row("new-customer", TODAY, TODAY, offer_id="discount", text="次回10%オフ"),
    ], TODAY)
    deadline = time.monotonic() + 5
    while service.get_offer("new-customer")[0] != 200:
        assert time.monotonic() < deadline, "eligibility not reloaded"
        time.sleep(0.05)
    status, again = service.get_offer("starts-today", "cancel")
    assert status == 200 and again["offer_id"] == "gift" and again["text"] == first["text"]
    assert again["token"] != first["token"]
    assert service.accept(first["token"]) == (200, {"accepted": True, "offer_id": "gift", "already_accepted": False})
    assert service.accept(again["token"])[1]["already_accepted"] is True
    # Accepted: not offered again in the window.
    assert service.get_offer("starts-today", "faq")[0] == 204
    tampered = first["token"][:-1] + ("0" if first["token"][-1] != "0" else "1")
    assert service.accept(tampered)[0] == 401
    con = sqlite3.connect(service.events)
    assert con.execute("select customer_id, window_id, offer_id from acceptances").fetchall() == [
        ("starts-today", "csv:Sstarts-today:4", "gift")]
    assert con.execute("select reason from offer_events order by event_id desc limit 1").fetchone() == (
        "already_accepted",)
    assert con.execute("pragma journal_mode").fetchone() == ("wal",)
    con.close()


def test_the_call_center_records_an_acceptance_for_a_caller(service):
    # A caller who never opened the page takes the offer on the phone: recorded, and the page
    # then shows nothing more in this window.
    assert service.accept_by_call_center("starts-today") == (
        200, {"accepted": True, "offer_id": "gift", "already_accepted": False})
    assert service.accept_by_call_center("starts-today")[1]["already_accepted"] is True
    assert service.get_offer("starts-today", "faq")[0] == 204
    # Held out, outside the window, no offer: refused, and logged like a visit (the held-out arm
    # counts callers as the treated one does); a bad signature is not a decision.
    assert service.accept_by_call_center("held-out") == (
        409, {"error": "held out: the offer is not given to this customer"})
    assert service.accept_by_call_center("starts-tomorrow")[0] == 409
    assert service.accept_by_call_center("nobody")[0] == 404
    assert service.accept_by_call_center("starts-today", secret="another-secret-0123456789")[0] == 401
    assert _events(service) == [
        ("accepted", None, "starts-today", "call_center", "gift"),
        ("not_shown", "already_accepted", "starts-today", "faq", "gift"),
        ("not_shown", "holdout", "held-out", "call_center", "gift"),
        ("not_shown", "outside_window", "starts-tomorrow", "call_center", "gift"),
        ("not_shown", "not_eligible", "nobody", "call_center", None),
    ]


def test_keep_alive_connection_serves_many_requests(service):
    conn = service.connection()
    for _ in range(50):
        assert service.get_offer("starts-today", conn=conn)[0] == 200
        assert service.get_offer("held-out", conn=conn)[0] == 204
    conn.close()


def test_refuses_to_start_without_a_secret(tmp_path):
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k != "TEIKI_ONSITE_SECRET"}
    proc = subprocess.run([sys.executable, "-m", "connectors.onsite_offers.service", "--eligibility",
                           str(tmp_path / "e.json"), "--events", str(tmp_path / "e.sqlite"), "--port", "0"],
                          env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "TEIKI_ONSITE_SECRET" in proc.stderr


def test_a_broken_or_truncated_file_keeps_the_previous_eligibility(service):
    assert service.get_offer("starts-today")[0] == 200
    good = service.eligibility.read_bytes()
    lines = good.splitlines(keepends=True)
    for broken in (b"".join(lines[:-2]), b"{not json\n", lines[0] + b'{"customer_id": 1}\n', b"\xff\xfe\n"):
        service.eligibility.write_bytes(broken)
        time.sleep(0.3)  # several reload intervals
        assert service.get_offer("starts-today")[0] == 200
        assert service.get_offer("ends-today")[0] == 200
    service.stop()
    assert service.proc.stderr.read().decode().count("keeping the previous eligibility") == 4
