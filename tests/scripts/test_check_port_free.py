"""`make dev` on a taken port stops at once instead of leaving Dagster's daemon running without a UI."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "check_port_free.py"


def _listening_socket() -> socket.socket:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    return taken


def test_make_dev_on_a_taken_port_fails_fast_and_starts_nothing():
    with _listening_socket() as taken:
        port = taken.getsockname()[1]
        # A session of its own, so a make that did start Dagster can be stopped whole.
        make = subprocess.Popen(
            ["make", "--no-print-directory", "dev", f"DEV_PORT={port}"], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            out, _ = make.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            make.communicate()
            pytest.fail("make dev kept running on a taken port")
    assert make.returncode != 0
    assert f"cannot serve the Dagster UI on 127.0.0.1:{port}" in out
    assert "nothing was started" in out
    assert "dagster dev" not in out  # the recipe stopped before starting it


def test_a_free_port_passes_and_a_taken_one_is_named():
    with _listening_socket() as taken:
        port = taken.getsockname()[1]
        busy = subprocess.run([sys.executable, str(SCRIPT), "127.0.0.1", str(port)],
                              capture_output=True, text=True, timeout=30)
    assert busy.returncode == 1
    assert f"127.0.0.1:{port}" in busy.stderr
    # closed now: the same port is free again, even with the closed socket's state lingering
    free = subprocess.run([sys.executable, str(SCRIPT), "127.0.0.1", str(port)],
                          capture_output=True, text=True, timeout=30)
    assert free.returncode == 0, free.stderr
