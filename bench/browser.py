"""Time the Overview page in the real browser against a benchmark clinic.

The dashboard reads the clinic from its database (``DATABASE_URL``). The benchmark gives it an
SQLite file of its own under ``bench/data/home_N``, loads the benchmark clinic into it as the
sample (``store.ensure_sample``, timed: a first start does the same) and adds a director with a
known password. ``streamlit run dashboard.py`` then starts on a free port and Debian's Chromium
(through Playwright) signs in and measures the time from pressing "Sign in" to the first
headline metric (``[data-testid="stMetricValue"]``) being visible.

Three visits are timed: *cold* (a new server, empty Streamlit caches: the clinic is read from
the database and the summary computed), *warm* (a second visit to the same server: Streamlit's
caches answer) and *restart* (a new server whose disk cache the cold visit filled). ``HOME`` is
a folder of the benchmark's own, so the app's disk cache starts empty and is shared with no one.
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

__all__ = [
    "CHROMIUM",
    "METRIC",
    "free_port",
    "load_store",
    "overview_render_times",
    "serve",
    "stop_server",
    "wait_for_health",
]

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
METRIC = '[data-testid="stMetricValue"]'
USER = "bench"
# Only for the benchmark's throw-away database.
PASSWORD = "bench-only-password-1"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    """A TCP port on the loopback address that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url(home: Path) -> str:
    return f"sqlite:///{home / 'clinic.sqlite'}"


def load_store(folder: Path, home: Path) -> float:
    """Load ``folder``'s clinic into a new database under ``home`` with a director who can sign
    in; the seconds the load took."""
    from store.db import open_store
    from store.sample import ensure_sample
    from store.users import add_user

    engine = open_store(_database_url(home))
    try:
        start = time.perf_counter()
        ensure_sample(folder, engine=engine)
        seconds = time.perf_counter() - start
        add_user(USER, PASSWORD, "director", actor="bench", engine=engine)
    finally:
        engine.dispose()
    return seconds


@contextmanager
def serve(folder: Path, home: Path, *, start_timeout: float = 120):
    """A Streamlit server of the dashboard on ``home``'s database; yields its URL."""
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DASHBOARD_SAMPLE_DIR": str(folder),
        "DATABASE_URL": _database_url(home),
        "HOME": str(home),
        "DASHBOARD_CACHE_DIR": str(home / "cache"),
    }
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
        wait_for_health(
            process,
            url,
            timeout=start_timeout,
            poll=0.3,
            output=lambda: process.stderr.read().decode() if process.stderr else "",
        )
        yield url
    finally:
        stop_server(process)


def wait_for_health(
    process: subprocess.Popen, url: str, *, timeout: float, poll: float, output
) -> None:
    """Return once the server at ``url`` answers its health check; raise if it exits first or
    ``timeout`` seconds pass (with the tail of ``output()``, its printed output)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"streamlit did not start at {url}: {output()[-2000:]}")
        time.sleep(poll)


def stop_server(process: subprocess.Popen) -> None:
    """Stop a server started here, killing it if it does not stop within 20 s."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _visit(browser, url: str, timeout_s: float) -> tuple[float, float]:
    """Seconds to the first headline metric being visible: from pressing "Sign in", and from
    navigating to the app (sign-in form and typing included)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        opened = time.perf_counter()
        page.goto(url, wait_until="commit")
        page.get_by_label("User name").fill(USER, timeout=timeout_s * 1000)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        start = time.perf_counter()
        page.get_by_role("button", name="Sign in").click()
        page.locator(METRIC).first.wait_for(state="visible", timeout=timeout_s * 1000)
        end = time.perf_counter()
        return end - start, end - opened
    finally:
        context.close()


def overview_render_times(n_patients: int, *, timeout_s: float = 900) -> dict:
    """Seconds: ``store_load`` (the clinic into the database), and ``cold``, ``warm`` and
    ``restart`` from "Sign in" to the Overview's first headline metric (``..._from_navigation``:
    from opening the app, sign-in form included).

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
    home.mkdir(parents=True)
    times = {"store_load": load_store(folder, home)}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            with serve(folder, home) as url:
                times["cold"], times["cold_from_navigation"] = _visit(browser, url, timeout_s)
                times["warm"], times["warm_from_navigation"] = _visit(browser, url, timeout_s)
            with serve(folder, home) as url:
                times["restart"], times["restart_from_navigation"] = _visit(browser, url, timeout_s)
        finally:
            browser.close()
    return times
