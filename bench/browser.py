"""Time the Overview page in the real browser against a benchmark clinic.

``streamlit run dashboard.py`` is started on a free port with ``DASHBOARD_SAMPLE_DIR`` pointing
at the benchmark clinic's folder, and Debian's Chromium (through Playwright) measures the time
from navigation to the first headline metric (``[data-testid="stMetricValue"]``) being visible.

Three visits are timed: *cold* (a new server with an empty Streamlit disk cache: the import and
the summary run), *warm* (a second visit to the same server: Streamlit's caches answer) and
*restart* (a new server whose disk cache the cold visit filled). ``HOME`` is a folder of the
benchmark's own, so the app's disk cache starts empty and is not shared with anyone's.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from bench.generate import DATA_DIR, clinic_dir

__all__ = ["CHROMIUM", "METRIC", "overview_render_times", "serve"]

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
METRIC = '[data-testid="stMetricValue"]'
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(folder: Path, home: Path, *, start_timeout: float = 120):
    """A Streamlit server of the dashboard on ``folder``'s clinic; yields its URL."""
    port = _free_port()
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DASHBOARD_SAMPLE_DIR": str(folder), "HOME": str(home)}
    process = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", "dashboard.py",
            "--server.port", str(port), "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
        ],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                err = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"streamlit did not start on port {port}: {err[-2000:]}")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _visit(browser, url: str, timeout_s: float) -> float:
    """Seconds from navigation to the first headline metric being visible (new context)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        start = time.perf_counter()
        page.goto(url, wait_until="commit")
        page.locator(METRIC).first.wait_for(state="visible", timeout=timeout_s * 1000)
        return time.perf_counter() - start
    finally:
        context.close()


def overview_render_times(n_patients: int, *, timeout_s: float = 900) -> dict:
    """``{"cold", "warm", "restart"}`` seconds to the Overview's first headline metric.

    Raises
    ------
    FileNotFoundError
        When Chromium is not installed.
    """
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise FileNotFoundError(f"{CHROMIUM} is not installed")
    folder = clinic_dir(n_patients)
    home = DATA_DIR / f"home_{n_patients}"
    shutil.rmtree(home, ignore_errors=True)
    times = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            with serve(folder, home) as url:
                times["cold"] = _visit(browser, url, timeout_s)
                times["warm"] = _visit(browser, url, timeout_s)
            with serve(folder, home) as url:
                times["restart"] = _visit(browser, url, timeout_s)
        finally:
            browser.close()
    return times
