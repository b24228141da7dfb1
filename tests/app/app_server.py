"""The running app for the browser tests: ``streamlit run server.py`` on a database of its own,
and the waits every browser test shares (a script run over, a page opened, a metric read).
"""

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """``streamlit run server.py`` (as ``make run``) on a free port and a database of its own.

    ``server.py`` serves ``dashboard.py`` with the route that sets the sign-in cookie. Restartable.
    """

    def __init__(self, database_url: str, sample_dir: Path):
        self.env = {
            **os.environ,
            "DASHBOARD_SAMPLE_DIR": str(sample_dir),
            "DATABASE_URL": database_url,
        }
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.output: list[str] = []
        self.started_at = 0.0

    def start(self) -> None:
        self.output = []
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", "server.py",
                "--server.port", str(self.port), "--server.headless", "true",
                "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            ],
            cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        # read the output as it comes, so a full pipe never blocks the server
        threading.Thread(target=self._drain, args=(self.process,), daemon=True).start()
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start on port {self.port}: {self.text()[-2000:]}")
            time.sleep(0.2)

    def _drain(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.output.append(line)

    def text(self) -> str:
        return "".join(self.output)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


def settle(page, *, charts: bool = False) -> None:
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


def rerun_started(page) -> None:
    """After an interaction: give the rerun a moment to start, then wait for it to end."""
    try:
        page.wait_for_selector(
            '[data-testid="stApp"][data-test-script-state="running"]', timeout=3_000
        )
    except Exception:  # a fast rerun may be over before we look
        pass
    settle(page)


def goto(page, label: str, *, charts: bool = False) -> None:
    """Open a page from the sidebar (a new URL would start a new, signed-out session)."""
    page.locator('[data-testid="stSidebarNav"] a', has_text=label).first.click()
    page.wait_for_function(
        f"() => [...document.querySelectorAll('h1')].some(h => h.innerText.includes({label!r}))"
    )
    settle(page, charts=charts)


def metric(page, label: str) -> str:
    """The value shown by the metric labelled ``label``."""
    box = page.locator('[data-testid="stMetric"]', has=page.get_by_text(label, exact=True))
    return box.locator('[data-testid="stMetricValue"]').first.inner_text().strip()
