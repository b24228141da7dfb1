"""Time the Overview page in the real browser against a benchmark clinic.

The dashboard reads the clinic from its database (``DATABASE_URL``). The benchmark gives it an
SQLite file of its own under ``bench/data/home_N``, loads the benchmark clinic into it as the
sample (``store.ensure_sample``, timed: a first start does the same) and adds a director with a
known password. ``streamlit run server.py`` (as ``make run`` starts it) then serves on a free
port and Debian's Chromium (through Playwright) signs in and measures the time from pressing
"Sign in" to the first headline metric (``[data-testid="stMetricValue"]``) being visible.

Four visits are timed: *cold* (a new server, empty Streamlit caches: the clinic is read from
the database and the summary computed), *warm* (a second visit to the same server: Streamlit's
caches answer), *restart* (a new server whose disk cache the cold visit filled) and *ready*
(a new server again, signed in once its start-up has read the clinic into memory: the server
prints ``Ready:`` then). The first three sign in as soon as the form is drawn, before the
start-up is over. ``HOME`` is a folder of the benchmark's own, so the app's disk cache starts
empty and is shared with no one.

:func:`outcomes_times` times the screens used most on the 250-patient sample clinic: the
sign-in form in a new tab, switching from the Overview to Outcomes, and a cohort filter change
on Outcomes. The server's part of each is the script run, read from the page's websocket
(:class:`ScriptRuns`): from the browser's request to rerun to the server's "script finished".
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from bench.generate import DATA_DIR, clinic_dir
from bench.processes import home_database_url, store_env

__all__ = [
    "CHROMIUM",
    "FILTER_FLOOR_S",
    "METRIC",
    "SWITCH_FLOOR_S",
    "ScriptRuns",
    "free_port",
    "load_store",
    "outcomes_times",
    "overview_render_times",
    "page_render_times",
    "serve",
    "stop_server",
    "summarise_outcomes_times",
    "wait_for_health",
]

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
# Floors of the server's part (the script run) on the sample clinic, from the issue.
SWITCH_FLOOR_S = 1.0  # switching to Outcomes
FILTER_FLOOR_S = 0.5  # a cohort filter change on Outcomes
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


def load_store(folder: Path, home: Path) -> float:
    """Load ``folder``'s clinic into a new database under ``home`` with a director who can sign
    in; the seconds the load took."""
    from store.db import open_store
    from store.sample import ensure_sample
    from store.users import add_user

    engine = open_store(home_database_url(home))
    try:
        start = time.perf_counter()
        ensure_sample(folder, engine=engine)
        seconds = time.perf_counter() - start
        add_user(USER, PASSWORD, "director", actor="bench", engine=engine)
    finally:
        engine.dispose()
    return seconds


@contextmanager
def serve(
    folder: Path,
    home: Path,
    *,
    start_timeout: float = 120,
    started: list | None = None,
    database_url: str | None = None,
    ready: threading.Event | None = None,
):
    """A Streamlit server of the dashboard on ``home``'s database (or ``database_url``); yields
    its URL (and appends its process to ``started`` when given, for its CPU seconds). ``ready``
    is set once the server prints that its start-up has read the clinic into memory."""
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    env = {**store_env(home, database_url), "DASHBOARD_SAMPLE_DIR": str(folder)}
    process = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", "server.py",
            "--server.port", str(port), "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
        ],
        cwd=ROOT, env=env, stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL if ready is None else subprocess.PIPE,
    )  # fmt: skip
    if ready is not None:
        threading.Thread(target=_watch_ready, args=(process.stdout, ready), daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    if started is not None:
        started.append(process)
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


def _watch_ready(stream, ready: threading.Event) -> None:
    """Read a server's output to its end (so that it never blocks on a full pipe), setting
    ``ready`` at the start-up's ``Ready:`` line (:mod:`ui.startup`)."""
    for line in stream:
        if line.strip().startswith(b"Ready:"):
            ready.set()


def _wait_ready(ready: threading.Event | None, timeout_s: float) -> None:
    """Wait for ``ready`` (nothing to wait for when None); TimeoutError past ``timeout_s``."""
    if ready is not None and not ready.wait(timeout_s):
        raise TimeoutError(f"the server was not ready within {timeout_s:g} s")


def stop_server(process: subprocess.Popen) -> None:
    """Stop a server started here, killing it if it does not stop within 20 s."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _visit(
    browser, url: str, timeout_s: float, ready: threading.Event | None = None
) -> tuple[float, float]:
    """Seconds to the first headline metric being visible: from pressing "Sign in", and from
    navigating to the app (sign-in form and typing included). With ``ready``, *Sign in* is
    pressed once it is set (the server's start-up is over), not as soon as the form is drawn.
    """
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        opened = time.perf_counter()
        page.goto(url, wait_until="commit")
        page.get_by_label("User name").fill(USER, timeout=timeout_s * 1000)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        _wait_ready(ready, timeout_s)
        start = time.perf_counter()
        page.get_by_role("button", name="Sign in").click()
        page.locator(METRIC).first.wait_for(state="visible", timeout=timeout_s * 1000)
        end = time.perf_counter()
        return end - start, end - opened
    finally:
        context.close()


def overview_render_times(n_patients: int, *, timeout_s: float = 900) -> dict:
    """Seconds: ``store_load`` (the clinic into the database), and ``cold``, ``warm``,
    ``restart`` and ``ready`` from "Sign in" to the Overview's first headline metric
    (``..._from_navigation``: from opening the app, sign-in form included); ``pages``, each
    page's first render on a ready server (:func:`page_render_times`).

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
            ready = threading.Event()
            with serve(folder, home, ready=ready) as url:
                times["ready"], times["ready_from_navigation"] = _visit(
                    browser, url, timeout_s, ready
                )
            # each page once more on a new server, signed in once it is ready
            started: list = []
            ready = threading.Event()
            with serve(folder, home, started=started, ready=ready) as url:
                times["pages"] = page_render_times(
                    browser, url, started[0].pid, timeout_s, ready=ready
                )
        finally:
            browser.close()
    return times


# The pages a director opens for numbers, in the sidebar's order (the Overview comes first).
RENDERED_PAGES = ("Outcomes", "Durability", "Safety", "Cohorts & patients", "Claims check")


def page_render_times(
    browser, url: str, pid: int, timeout_s: float, *, ready: threading.Event | None = None
) -> dict:
    """Each page's first render on a server that has shown nothing yet: ``{page: {"server",
    "on_screen"}}`` in seconds. The Overview is timed from pressing *Sign in* (once ``ready``
    is set, when given) to its first number and every chart drawn; every other page from the
    click on its link, once.
    """
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    wait_ms = timeout_s * 1000
    try:
        script = ScriptRuns(page, pid)
        page.goto(url, wait_until="commit")
        page.get_by_label("User name").fill(USER, timeout=wait_ms)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        _wait_ready(ready, timeout_s)

        def sign_in():
            page.get_by_role("button", name="Sign in").click()

        start = time.perf_counter()
        run = script.wait(sign_in, timeout_s)
        page.locator(METRIC).first.wait_for(state="visible", timeout=wait_ms)
        page.wait_for_function(_CHARTS_DRAWN, timeout=wait_ms)
        out = {"Overview": {"server": run["server"], "on_screen": time.perf_counter() - start}}
        nav = page.get_by_test_id("stSidebarNav")
        for name in RENDERED_PAGES:
            link = nav.get_by_role("link", name=name)
            start = time.perf_counter()
            run = script.wait(link.click, timeout_s)
            page.wait_for_function(_CHARTS_DRAWN, timeout=wait_ms)
            out[name] = {
                "server": run["server"],
                "server_cpu": run["server_cpu"],
                "on_screen": time.perf_counter() - start,
            }
        return out
    finally:
        context.close()


def cpu_seconds(pid: int) -> float | None:
    """CPU seconds (user and system, every thread) a process has used so far; None where
    ``/proc`` is not there."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ScriptRuns:
    """The script runs of one browser tab, timed from its websocket.

    A run starts when the tab sends a rerun request (``BackMsg.rerun_script``: a click on a
    page link, a widget change) and ends when the server sends ``script_finished``. The
    frames are read as Playwright hands them over, so a time is within a few milliseconds of
    the frame's arrival when the caller waits with :meth:`wait` (which lets Playwright deliver
    events every 5 ms).
    """

    def __init__(self, page, pid: int | None = None) -> None:
        self.page = page
        self.pid = pid  # the server's process, for its CPU seconds per run
        self.requests: list[float] = []  # perf_counter of each rerun request sent
        self.finished: list[float] = []  # perf_counter of each successful script end
        page.on("websocket", self._attach)

    def _attach(self, ws) -> None:
        ws.on("framesent", self._sent)
        ws.on("framereceived", self._received)

    def _sent(self, payload) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        if isinstance(payload, bytes):
            msg = BackMsg()
            msg.ParseFromString(payload)
            if msg.WhichOneof("type") == "rerun_script":
                self.requests.append(time.perf_counter())

    def _received(self, payload) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        if isinstance(payload, bytes):
            msg = ForwardMsg()
            msg.ParseFromString(payload)
            # a run cut short by a newer request is not the end of what the user asked for
            if (
                msg.WhichOneof("type") == "script_finished"
                and msg.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY
            ):
                self.finished.append(time.perf_counter())

    def wait(self, action, timeout_s: float) -> dict:
        """Do ``action()`` and wait for the script run it starts to finish.

        Returns ``server`` (seconds from the rerun request to the script's end: the server's
        part), ``browser`` (from ``action`` to the script's end) and ``server_cpu`` (the
        server process's CPU seconds meanwhile, every thread: steadier than wall time on a
        busy machine; None without ``pid``).

        Raises
        ------
        TimeoutError
            When no run finishes within ``timeout_s``.
        """
        requested, finished = len(self.requests), len(self.finished)
        cpu = cpu_seconds(self.pid) if self.pid else None
        start = time.perf_counter()
        action()
        deadline = start + timeout_s
        # the first run that ends after the first request this action sent
        while True:
            if len(self.requests) > requested:
                first = self.requests[requested]
                ends = [t for t in self.finished[finished:] if t > first]
                if ends:
                    break
            if time.perf_counter() > deadline:
                raise TimeoutError(f"no script run finished within {timeout_s:g} s")
            self.page.wait_for_timeout(5)
        end = ends[0]
        cpu_after = cpu_seconds(self.pid) if self.pid else None
        return {
            "server": end - first,
            "browser": end - start,
            "server_cpu": None if cpu is None or cpu_after is None else cpu_after - cpu,
        }


# Every chart on screen has been drawn by Plotly (a chart in a closed expander is not waited for).
_CHARTS_DRAWN = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
    .filter((el) => el.offsetParent !== null)
    .every((el) => el.querySelector('.main-svg') !== null)"""


def _sign_in(page, url: str, timeout_s: float) -> float:
    """Open ``url`` in ``page``, sign in as the benchmark's director and wait for the Overview's
    first number; the seconds from opening the address to the sign-in form being drawn."""
    opened = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.get_by_role("button", name="Sign in").wait_for(timeout=timeout_s * 1000)
    form = time.perf_counter() - opened
    page.get_by_label("User name").fill(USER)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator(METRIC).first.wait_for(state="visible", timeout=timeout_s * 1000)
    page.wait_for_function(_CHARTS_DRAWN, timeout=timeout_s * 1000)
    return form


def _pick_site(page, site: str | None) -> None:
    """Set the sidebar's Site filter to ``site`` alone (None: clear it)."""
    sidebar = page.get_by_test_id("stSidebar")
    box = sidebar.get_by_role("combobox", name="Site")
    if site is None:
        sidebar.get_by_role("button", name="Clear all").first.click()
        return
    box.click()
    box.press_sequentially(site)  # the one option whose name this is
    page.get_by_role("option", name=site).first.wait_for()
    box.press("Enter")
    page.keyboard.press("Escape")


def outcomes_times(runs: int = 5, *, timeout_s: float = 120, folder: Path = SAMPLE) -> dict:
    """Seconds of the screens used most, on ``folder``'s clinic (the sample: 250 patients).

    One server and one browser tab signed in as a director. Each round switches from the
    Overview to Outcomes (``switch``), sets the Site filter to one site (``filter``: a cohort
    no earlier round asked for while sites are left, ``new``) and clears it again
    (``filter_clear``: a cohort seen before). Each is a dict of :meth:`ScriptRuns.wait`; the
    first switch (``first``) also computes the page's numbers, the later ones find them cached.
    Then a new browser profile opens the address twice (``sign_in_form``): ``new_browser`` (its
    cache empty: Streamlit's scripts are downloaded) and ``new_tab`` (a second tab of that
    browser): seconds from opening the address to the sign-in form.

    Raises
    ------
    FileNotFoundError
        When Chromium is not installed.
    """
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise FileNotFoundError(f"{CHROMIUM} is not installed")
    home = DATA_DIR / "home_outcomes"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    load_store(folder, home)
    sites = _sites(folder)
    out: dict = {"switch": [], "filter": [], "filter_clear": [], "sign_in_form": []}
    wait_ms = timeout_s * 1000
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            started: list = []
            with serve(folder, home, started=started) as url:
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                script = ScriptRuns(page, started[0].pid)
                _sign_in(page, url, timeout_s)
                nav = page.get_by_test_id("stSidebarNav")

                def go(name):
                    return lambda: nav.get_by_role("link", name=name).click()

                for i in range(runs):
                    script.wait(go("Overview"), timeout_s)
                    page.wait_for_function(_CHARTS_DRAWN, timeout=wait_ms)
                    out["switch"].append(
                        {**script.wait(go("Outcomes"), timeout_s), "first": i == 0}
                    )
                    page.wait_for_function(_CHARTS_DRAWN, timeout=wait_ms)
                    site = sites[i % len(sites)]
                    picked = script.wait(lambda: _pick_site(page, site), timeout_s)
                    out["filter"].append({**picked, "new": i < len(sites)})
                    page.wait_for_function(_CHARTS_DRAWN, timeout=wait_ms)
                    out["filter_clear"].append(
                        script.wait(lambda: _pick_site(page, None), timeout_s)
                    )
                    page.wait_for_function(_CHARTS_DRAWN, timeout=wait_ms)
                context.close()
                for _ in range(runs):
                    fresh = browser.new_context(viewport={"width": 1400, "height": 1000})
                    try:
                        out["sign_in_form"].append(
                            {
                                key: _form_seconds(fresh, url, wait_ms)
                                for key in ("new_browser", "new_tab")
                            }
                        )
                    finally:
                        fresh.close()
        finally:
            browser.close()
    return out


def _form_seconds(context, url: str, wait_ms: float) -> float:
    """Seconds from opening ``url`` in a new tab of ``context`` to the sign-in button drawn."""
    page = context.new_page()
    try:
        opened = time.perf_counter()
        page.goto(url, wait_until="commit")
        page.get_by_role("button", name="Sign in").wait_for(timeout=wait_ms)
        return time.perf_counter() - opened
    finally:
        page.close()


def _sites(folder: Path) -> list[str]:
    """The clinic's site names, sorted (the Site filter's options)."""
    import csv

    with (folder / "sessions.csv").open(newline="", encoding="utf-8") as f:
        return sorted({row["site"] for row in csv.DictReader(f) if row.get("site")})


def summarise_outcomes_times(times: dict) -> dict:
    """Medians of :func:`outcomes_times` (seconds) and whether each floor is met.

    The switch floor holds for the first switch (the page's numbers computed) and the later
    ones (cached); the filter floor for every filter change, new cohorts and seen ones.
    """
    import statistics

    def median(rows, key="server"):
        values = [r[key] for r in rows if r.get(key) is not None]
        return statistics.median(values) if values else None

    switch = times["switch"]
    later = [r for r in switch if not r["first"]]
    changes = times["filter"] + times["filter_clear"]
    summary = {
        "runs": len(switch),
        "first_switch": switch[0]["server"] if switch else None,
        "first_switch_cpu": switch[0]["server_cpu"] if switch else None,
        "switch": median(later),
        "switch_cpu": median(later, "server_cpu"),
        "switch_browser": median(later, "browser"),
        "filter": median(changes),
        "filter_cpu": median(changes, "server_cpu"),
        "filter_browser": median(changes, "browser"),
        "filter_new": median([r for r in times["filter"] if r["new"]]),
        "sign_in_form_new_browser": median(times["sign_in_form"], "new_browser"),
        "sign_in_form_new_tab": median(times["sign_in_form"], "new_tab"),
    }
    worst_switch = max(x for x in (summary["first_switch"], summary["switch"], 0) if x is not None)
    summary["switch_met"] = worst_switch < SWITCH_FLOOR_S
    summary["filter_met"] = summary["filter"] is not None and summary["filter"] < FILTER_FLOOR_S
    return summary


if __name__ == "__main__":
    import json

    found = outcomes_times(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
    print(json.dumps({"summary": summarise_outcomes_times(found), "runs": found}, indent=1))
