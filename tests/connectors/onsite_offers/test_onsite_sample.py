"""The sample decision `make demo` prints: the real service asked for an eligible and a held-out
customer, on its own throwaway service or on one already running."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

from onsite_fixtures import REPO, SECRET, TODAY, offer_row, standard_rows, start_service

from connectors.onsite_offers.eligibility import write_eligibility


def _sample(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "connectors.onsite_offers.sample", *args], cwd=REPO,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=60)


def test_sample_starts_its_own_service_and_records_nothing(tmp_path):
    path = tmp_path / "eligibility.jsonl"
    write_eligibility(path, standard_rows(), TODAY)
    out = _sample("--eligibility", str(path))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    # the first customer (by id) whose window includes the file's date, and the held-out one
    assert lines[1].startswith("  eligible: customer en***ay, window 2026-11-29 .. 2026-12-02")
    assert lines[2].endswith("-> 200")
    assert '"offer_id": "gift"' in lines[3] and "4回目のお届けにプレゼントを同梱します" in lines[3]
    assert lines[5].startswith("  held out: customer he***ut")
    assert lines[6].endswith("-> 204, nothing shown")
    assert "ends-today" not in out.stdout  # ids are masked
    assert not (tmp_path / "events.sqlite").exists()


def test_sample_asks_a_running_service_which_logs_the_decision(tmp_path):
    svc = start_service(tmp_path, [offer_row("C0001", TODAY, TODAY)])
    try:
        out = _sample("--eligibility", str(svc.eligibility), "--url", f"http://127.0.0.1:{svc.port}",
                      env={"TEIKI_ONSITE_SECRET": SECRET})
        assert out.returncode == 0, out.stderr
        assert "-> 200" in out.stdout and "held out" not in out.stdout
    finally:
        svc.stop()
    with sqlite3.connect(svc.events) as con:
        assert con.execute("select event_type, customer_id, page from offer_events").fetchall() == [
            ("shown", "C0001", "cancel")]
    wrong = _sample("--eligibility", str(svc.eligibility), "--url", "http://127.0.0.1:1",
                    env={"TEIKI_ONSITE_SECRET": ""})
    assert wrong.returncode != 0 and "TEIKI_ONSITE_SECRET" in wrong.stderr


def test_sample_says_when_nobody_is_in_a_window(tmp_path):
    path = tmp_path / "eligibility.jsonl"
    write_eligibility(path, [offer_row("later", TODAY.replace(day=20), TODAY.replace(day=23))], TODAY)
    out = _sample("--eligibility", str(path))
    assert out.returncode == 0 and "nobody" in out.stdout and "no sample decision" in out.stdout
