"""`make dashboard` end to end: Evidence builds the site from a demo BI snapshot, the build is
served on 127.0.0.1, and every page shows the snapshot's own figures in headless Chromium, with
its queries answered by the duckdb-wasm shipped in the build (nothing fetched from elsewhere)."""

from __future__ import annotations

import importlib.util
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.slow


def _load_dashboard_script():
    spec = importlib.util.spec_from_file_location("teiki_dashboard_script", REPO / "scripts" / "dashboard.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def built(demo_run):
    run = demo_run(300, 11)
    build = _load_dashboard_script().build(run.settings.data_dir, run.settings.bi_snapshot)
    return run, build


@pytest.fixture(scope="module")
def site(built):
    _, build = built
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port),
                             "-d", str(build)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
    assert Path(CHROMIUM).exists(), "make browser installs chromium"
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def expected(built):
    run, _ = built
    con = duckdb.connect(str(run.settings.bi_snapshot), read_only=True)
    one = lambda sql: con.execute(sql).fetchone()  # noqa: E731
    kpi = one("select customers, subscribers from marts.headline_kpis")
    top_state = one("select any_value(cpm_state_label), count(*) from marts.customer_cpm "
                    "group by cpm_state order by 2 desc, 1 limit 1")
    ltv30 = one("select sum(customers) from marts.ltv where horizon_days = 30")
    first_month = one("select strftime(min(period_start), '%Y-%m') from marts.churn_kpis where period_grain = 'month'")
    first_risk = one("select customer_id, full_name, phone from marts.high_risk_customers order by priority_rank limit 1")
    con.close()
    return {
        # page: (title, texts it shows, charts it draws)
        "/": ("毎朝のKPI", [f"{kpi[0]:,}人", f"{kpi[1]:,}人"], 0),
        "/subscription-flow": ("定期フロー", ["全商品", "初回比"], 1),
        "/churn": ("解約率と解約理由", [first_month[0], "解約件数"], 2),
        "/cpm": ("CPM（顧客ポートフォリオ）", [top_state[0], f"{top_state[1]:,}"], 1),
        "/ltv": ("LTV", [f"{ltv30[0]:,}", "定期の見込みLTV"], 0),
        "/risk": ("本日の解約予兆リスト", [first_risk[0]], 0),
        "_private": [first_risk[1], first_risk[2]],
    }


def test_the_build_stays_private(built):
    run, build = built
    work = run.settings.data_dir / "dashboard"
    # Evidence chmods its copies of the query results 0644: only the 0700 folder keeps them private.
    assert stat.S_IMODE(work.stat().st_mode) == 0o700
    assert build.is_relative_to(work)
    assert list(build.rglob("*.parquet"))


@pytest.mark.parametrize("path", ["/", "/subscription-flow", "/churn", "/cpm", "/ltv", "/risk"])
def test_every_page_shows_the_snapshot(browser, site, expected, path):
    title, texts, charts = expected[path]
    page = browser.new_page()
    errors, foreign = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("request", lambda r: foreign.append(r.url) if not r.url.startswith(site) else None)
    page.goto(site + path)
    page.locator("h1", has_text=title).first.wait_for(timeout=30_000)
    # The figures come from duckdb-wasm reading the build's Parquet files in the page.
    deadline = time.monotonic() + 30
    while True:
        body = page.locator("body").inner_text()
        missing = [text for text in texts if text not in body]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert missing == [], body[:2000]
    if charts:
        # ECharts draws each chart on a canvas once its query has answered.
        page.locator("canvas").nth(charts - 1).wait_for(timeout=30_000)
    for private in expected["_private"]:
        assert private not in body
    assert errors == []
    assert foreign == []
    page.close()
