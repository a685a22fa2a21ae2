"""The snippet in headless Chromium: the offer appears for an eligible customer and is accepted;
nothing appears (and the page is intact) for a held-out customer or when the service is down."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from onsite_fixtures import REPO, SECRET, free_port

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="make browser installs chromium")


@pytest.fixture
def shop(service):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "connectors.onsite_offers.example_shop", "--service",
         f"http://127.0.0.1:{service.port}", "--port", str(port)],
        cwd=REPO, env={**os.environ, "TEIKI_ONSITE_SECRET": SECRET}, stderr=subprocess.DEVNULL)
    import socket
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


def _page(browser, shop, customer_id):
    context = browser.new_context()
    context.add_cookies([{"name": "customer_id", "value": customer_id, "url": shop}])
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(shop + "/")
    return page, errors


def test_offer_shown_and_accepted(browser, shop, service):
    page, errors = _page(browser, shop, "starts-today")
    card = page.locator(".teiki-offer-card")
    card.wait_for(timeout=10_000)
    assert "プレゼントを同梱" in page.locator(".teiki-offer-text").inner_text()
    assert page.locator(".teiki-offer-expires").inner_text() == "お申し込み期限: 12月5日"
    page.locator(".teiki-offer-accept").click()
    page.locator("[data-accepted=true]").wait_for(timeout=10_000)
    assert "受け付けました" in page.locator(".teiki-offer-status").inner_text()
    assert errors == []
    con = sqlite3.connect(service.events)
    assert con.execute("select customer_id from acceptances").fetchall() == [("starts-today",)]
    con.close()
    # Reloading the page: accepted, so no offer any more.
    page.reload()
    page.locator("#teiki-offer[data-state=none]").wait_for(state="attached", timeout=10_000)
    assert page.locator(".teiki-offer-card").count() == 0


def test_holdout_and_service_down_show_nothing(browser, shop, service):
    page, errors = _page(browser, shop, "held-out")
    page.locator("#teiki-offer[data-state=none]").wait_for(state="attached", timeout=10_000)
    assert page.locator(".teiki-offer-card").count() == 0
    assert "解約は" in page.locator("body").inner_text()
    service.stop()
    page, errors2 = _page(browser, shop, "starts-today")
    page.locator("#teiki-offer[data-state=none]").wait_for(state="attached", timeout=10_000)
    assert page.locator(".teiki-offer-card").count() == 0
    assert errors == [] and errors2 == []
