"""The real app in Debian's Chromium: every page renders, an upload works, filters act.

Screenshots of every page go to ``screenshots/`` (git-ignored) for a person to look at.
Without ``/usr/bin/chromium`` these tests skip, unless ``REQUIRE_BROWSER=1`` (CI) makes that a
failure.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "screenshots"
# (nav label, url path, has charts)
PAGES = [
    ("Overview", "", True),
    ("Outcomes", "outcomes", True),
    ("Durability", "durability", True),
    ("Safety", "safety", True),
    ("Cohorts & patients", "cohorts", True),
    ("Claims check", "claims", False),
    ("Data", "data", False),
    ("Settings", "settings", False),
]
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is not installed")
    return CHROMIUM


@pytest.fixture(scope="session")
def app_url(chromium_path, sample_dir):
    """``streamlit run dashboard.py`` on a free port, stopped at the end of the session."""
    port = _free_port()
    env = {**os.environ, "DASHBOARD_SAMPLE_DIR": str(sample_dir)}
    process = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", "dashboard.py",
            "--server.port", str(port), "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
        ],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                err = process.stderr.read().decode() if process.stderr else ""
                pytest.fail(f"streamlit did not start on port {port}: {err[-2000:]}")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(chromium_path),
            headless=True,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
            ],
        )  # fmt: skip
        yield browser
        browser.close()


@pytest.fixture()
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def _settle(page, *, charts: bool = False) -> None:
    """Wait until the script run is over and every element (and chart) has drawn."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stSkeleton"], [data-testid="stSpinner"]')
              && [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                   .every(c => c.querySelector('.main-svg'))""",
        timeout=90_000,
    )
    if charts:
        page.wait_for_selector(".js-plotly-plot .main-svg")
    page.wait_for_timeout(400)


def _rerun_started(page) -> None:
    """After an interaction: give the rerun a moment to start, then wait for it to end."""
    try:
        page.wait_for_selector(
            '[data-testid="stApp"][data-test-script-state="running"]', timeout=3_000
        )
    except Exception:  # a fast rerun may be over before we look
        pass
    _settle(page)


def _goto(page, app_url: str, path: str, *, charts: bool = False) -> None:
    page.goto(f"{app_url}/{path}")
    _settle(page, charts=charts)


def _navigate(page, label: str, *, charts: bool = False) -> None:
    """Click the sidebar link: the session (and an upload in it) survives."""
    page.locator('[data-testid="stSidebarNav"] a', has_text=label).first.click()
    page.wait_for_function(
        f"() => [...document.querySelectorAll('h1')].some(h => h.innerText.includes({label!r}))"
    )
    _settle(page, charts=charts)


def _metric(page, label: str) -> str:
    metric = page.locator('[data-testid="stMetric"]', has=page.get_by_text(label, exact=True))
    return metric.locator('[data-testid="stMetricValue"]').first.inner_text().strip()


def _screenshot(page, name: str) -> Path:
    """A full-page PNG: Streamlit scrolls inside its main block, so grow the viewport to fit."""
    height = page.evaluate(
        """() => Math.max(...[...document.querySelectorAll(
              '[data-testid="stMain"], [data-testid="stAppViewContainer"], section.main')]
              .map(e => e.scrollHeight), 900)"""
    )
    page.set_viewport_size({"width": 1400, "height": min(int(height) + 40, 12_000)})
    page.wait_for_timeout(800)
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 900})
    return path


@pytest.mark.parametrize("label, path, charts", PAGES)
def test_every_page_renders_without_errors(page, app_url, label, path, charts):
    _goto(page, app_url, path, charts=charts)
    assert page.locator("h1").first.inner_text().strip().startswith(label.split(" ")[0])
    errors = page.locator(ERRORS)
    assert errors.count() == 0, errors.all_inner_texts()
    if charts:
        assert page.locator(".js-plotly-plot").count() >= 1
    assert _screenshot(page, f"{PAGES.index((label, path, charts)) + 1:02d}-{path or 'overview'}")


def test_headline_matches_the_command_line(page, app_url, sample_dir):
    cli = subprocess.run(
        [sys.executable, "-m", "analytics", "summary", str(sample_dir), "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    summary = json.loads(cli.stdout)
    _goto(page, app_url, "")
    assert _metric(page, "Patients treated") == f"{summary['counts']['patients']:,}"
    assert _metric(page, "Sessions given") == f"{summary['counts']['sessions']:,}"
    week4 = next(tp for tp in summary["timepoints"] if tp["label"] == "week 4")
    assert _metric(page, "Response, observed") == f"{100 * week4['response']['rate']:.0f}%"


def test_a_route_filter_changes_the_patient_count(page, app_url):
    _goto(page, app_url, "")
    before = int(_metric(page, "Patients treated").replace(",", ""))
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.locator('[data-testid="stMultiSelect"]', has_text="Route").locator("input").click()
    # the first option may be "Select all"; pick one route
    page.get_by_role("option", name=re.compile("ketamine", re.I)).first.click()
    page.keyboard.press("Escape")
    _rerun_started(page)
    page.wait_for_function(
        """(before) => {
            const m = [...document.querySelectorAll('[data-testid="stMetric"]')]
              .find(e => e.innerText.includes('Patients treated'));
            const v = m && m.querySelector('[data-testid="stMetricValue"]').innerText;
            return v && parseInt(v.replace(/,/g, '')) !== before;
        }""",
        arg=before,
    )
    _settle(page)
    after = int(_metric(page, "Patients treated").replace(",", ""))
    assert 0 < after < before


def test_an_upload_replaces_the_sample(page, app_url, tmp_path):
    from analytics.sample import generate_clinic, write_clinic

    write_clinic(tmp_path, generate_clinic(7, seed=11))
    files = sorted(str(p) for p in tmp_path.glob("*.csv"))
    _goto(page, app_url, "data")
    page.locator('[data-testid="stFileUploader"] input[type=file]').set_input_files(files)
    _rerun_started(page)
    page.get_by_role("button", name=re.compile("Validate and import")).click()
    _rerun_started(page)
    page.wait_for_selector('[data-testid="stAlertContentSuccess"]', timeout=120_000)
    assert "7 patients" in page.locator('[data-testid="stAlertContentSuccess"]').first.inner_text()
    _settle(page)
    _navigate(page, "Overview")
    assert _metric(page, "Patients treated") == "7"
    assert page.get_by_text("Sample data — synthetic clinic").count() == 0
    _screenshot(page, "09-overview-after-upload")
