"""Several app processes on one PostgreSQL database, several users at once: page times.

``python -m bench.multi_user [N_PATIENTS]`` needs a PostgreSQL server. ``BENCH_DATABASE_URL``
names a database the benchmark may empty; without it, a database ``clinic_bench`` is created
(owned by ``clinic_test``, the test suite's role) through ``runuser -u postgres``, as
``.ci/run`` creates the tests' database. Then:

1. the benchmark clinic is imported into it with ``python -m analytics import DIR`` (timed, a
   process of its own) and a director is added;
2. two Streamlit servers (``server.py``, as ``make run``) start on two ports, sharing nothing
   but that database;
3. five users in one headless Chromium (Playwright's async API, one context each) sign in, user
   ``i`` on server ``i % 2``, and for a few rounds open each page with numbers and set and clear
   the Site filter. Each action is timed from the click to the script run's end, read from the
   page's websocket (as :class:`bench.browser.ScriptRuns` does);
4. 7 new patients are imported into the shared database with ``python -m analytics import``
   (a third process), and each server's next sign-in must show the new patient count: a
   server notices a new data version on its next page load. (``tests/app/test_two_servers.py``
   checks the same for an import through one server's Data page.)

Everything runs on localhost and is bounded: each wait has a timeout, and the whole run stops
after ``budget_s`` seconds with the actions done so far.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from bench.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    METRIC,
    PASSWORD,
    RENDERED_PAGES,
    USER,
    ScriptRuns,
    serve,
)
from bench.generate import DATA_DIR, clinic_dir
from bench.processes import run_command, store_env

__all__ = ["bench_database_url", "first_site", "multi_user_times", "percentile"]

PROCESSES = 2
USERS = 5
ROUNDS = 2


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values`` by linear interpolation between order
    statistics (numpy's default, R's type 7)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def bench_database_url() -> str:
    """``BENCH_DATABASE_URL``, or a new ``clinic_bench`` database made through ``runuser``.

    Raises
    ------
    RuntimeError
        When neither is possible (no PostgreSQL server here).
    """
    url = os.environ.get("BENCH_DATABASE_URL", "").strip()
    if url:
        return url
    for argv in (
        ["runuser", "-u", "postgres", "--", "dropdb", "--if-exists", "--force", "clinic_bench"],
        ["runuser", "-u", "postgres", "--", "createdb", "-O", "clinic_test", "clinic_bench"],
    ):
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"no PostgreSQL for the benchmark (set BENCH_DATABASE_URL): {done.stderr[-300:]}"
            )
    return "postgresql+psycopg://clinic_test:clinic_test@localhost/clinic_bench"


def _empty(url: str) -> None:
    """Drop every table of the benchmark's database (a database it may empty)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        meta = sa.MetaData()
        meta.reflect(engine)
        meta.drop_all(engine)
    finally:
        engine.dispose()


class _Runs(ScriptRuns):
    """:class:`bench.browser.ScriptRuns` for a tab of Playwright's async API."""

    async def timed(self, action, timeout_s: float) -> float:
        """Seconds from ``action`` (a coroutine function) to the end of the run it started."""
        requested, finished = len(self.requests), len(self.finished)
        start = time.perf_counter()
        await action()
        while True:
            if len(self.requests) > requested:
                first = self.requests[requested]
                ends = [t for t in self.finished[finished:] if t > first]
                if ends:
                    return ends[0] - start
            if time.perf_counter() - start > timeout_s:
                raise TimeoutError(f"no script run finished within {timeout_s:g} s")
            await asyncio.sleep(0.005)


def first_site(folder: Path) -> str:
    """The first site name (sorted) of ``folder``'s patients: the filter every user sets."""
    import pandas as pd

    sites = pd.read_csv(folder / "patients.csv", usecols=["site"], dtype="string")["site"]
    return sorted(sites.dropna().unique())[0]


async def _user(
    browser, url: str, site: str, rounds: int, deadline: float, timeout_s: float
) -> list[dict]:
    """One signed-in user's actions on ``url``: ``[{"action", "seconds"}]``."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    wait_ms = timeout_s * 1000
    runs = _Runs(page)
    done: list[dict] = []
    try:
        await page.goto(url, wait_until="commit")
        await page.get_by_label("User name").fill(USER, timeout=wait_ms)
        await page.get_by_label("Password", exact=True).fill(PASSWORD)
        start = time.perf_counter()
        await page.get_by_role("button", name="Sign in").click()
        await page.locator(METRIC).first.wait_for(state="visible", timeout=wait_ms)
        done.append({"action": "sign in", "seconds": time.perf_counter() - start})
        nav = page.get_by_test_id("stSidebarNav")
        sidebar = page.get_by_test_id("stSidebar")
        for _ in range(rounds):
            for name in (*RENDERED_PAGES, "Overview"):
                if time.monotonic() > deadline:
                    return done
                link = nav.get_by_role("link", name=name)
                seconds = await runs.timed(link.click, timeout_s)
                done.append({"action": name, "seconds": seconds})
            box = sidebar.get_by_role("combobox", name="Site")

            async def pick():
                await box.click()
                await box.press_sequentially(site)
                await page.get_by_role("option", name=site).first.wait_for(timeout=wait_ms)
                await box.press("Enter")

            async def clear():
                await page.keyboard.press("Escape")
                await sidebar.get_by_role("button", name="Clear all").first.click()

            done.append({"action": "set site", "seconds": await runs.timed(pick, timeout_s)})
            done.append({"action": "clear site", "seconds": await runs.timed(clear, timeout_s)})
    finally:
        await context.close()
    return done


async def _users(
    urls: list[str], site: str, users: int, rounds: int, budget_s: float, timeout_s: float
):
    from playwright.async_api import async_playwright

    deadline = time.monotonic() + budget_s
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            return await asyncio.gather(
                *(
                    _user(browser, urls[i % len(urls)], site, rounds, deadline, timeout_s)
                    for i in range(users)
                )
            )
        finally:
            await browser.close()


async def _patients_shown(url: str, timeout_s: float) -> str:
    """The Overview's "Patients treated" on a new sign-in to ``url``."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page()
            await page.goto(url, wait_until="commit")
            await page.get_by_label("User name").fill(USER, timeout=timeout_s * 1000)
            await page.get_by_label("Password", exact=True).fill(PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            metric = page.get_by_test_id("stMetric").filter(has_text="Patients treated")
            value = metric.get_by_test_id("stMetricValue")
            await value.wait_for(timeout=timeout_s * 1000)
            return (await value.inner_text()).strip()
        finally:
            await browser.close()


def multi_user_times(
    n_patients: int,
    *,
    users: int = USERS,
    rounds: int = ROUNDS,
    budget_s: float = 900,
    timeout_s: float = 300,
) -> dict:
    """The page times of the module docstring at ``n_patients``; medians and 95th percentiles.

    Raises
    ------
    FileNotFoundError
        When Chromium is not installed.
    RuntimeError
        When there is no PostgreSQL server, or the import fails.
    """
    from store.db import open_store
    from store.users import add_user

    if not CHROMIUM.exists():
        raise FileNotFoundError(f"{CHROMIUM} is not installed")
    url = bench_database_url()
    _empty(url)
    folder = clinic_dir(n_patients)
    homes = [DATA_DIR / f"multi_{i}" for i in range(PROCESSES)]
    imported = run_command(
        [sys.executable, "-m", "analytics", "import", str(folder), "--user", "bench"],
        store_env(homes[0], url),
    )
    engine = open_store(url)
    try:
        add_user(USER, PASSWORD, "director", actor="bench", engine=engine)
    finally:
        engine.dispose()
    with ExitStack() as stack:
        # each process keeps its own disk cache: they share only the database
        urls = [stack.enter_context(serve(folder, home, database_url=url)) for home in homes]
        found = asyncio.run(_users(urls, first_site(folder), users, rounds, budget_s, timeout_s))
        seconds = [a["seconds"] for user in found for a in user if a["action"] != "sign in"]
        seen = _import_seen_by_the_other(url, urls, homes, timeout_s)
    return {
        "processes": PROCESSES,
        "users": users,
        "rounds": rounds,
        "patients": n_patients,
        "import_s": imported["wall"],
        "import_cpu_s": imported["cpu"],
        "import_peak_mb": imported["peak_mb"],
        "actions": len(seconds),
        "median": statistics.median(seconds) if seconds else None,
        "p95": percentile(seconds, 95) if seconds else None,
        "max": max(seconds) if seconds else None,
        "sign_in": [a["seconds"] for user in found for a in user if a["action"] == "sign in"],
        "by_user": found,
        "seen_by_other": seen,
    }


def _import_seen_by_the_other(url: str, urls: list[str], homes: list[Path], timeout_s: float):
    """Import 7 more patients into the shared store through the command line (the store both
    servers read), then count the patients on each server's next sign-in."""
    import tempfile

    from analytics.sample import generate_clinic, write_clinic

    with tempfile.TemporaryDirectory() as extra:
        tables = generate_clinic(7, seed=11)
        for table in tables.values():
            table["patient_id"] = "X" + table["patient_id"].astype("string")
        write_clinic(Path(extra), tables)
        run_command(
            [sys.executable, "-m", "analytics", "import", extra, "--user", "bench"],
            store_env(homes[0], url),
        )
    shown = [asyncio.run(_patients_shown(u, timeout_s)) for u in urls]
    after = _count(url)
    ok = all(value.replace(",", "") == str(after) for value in shown)
    return {"shown": shown, "ok": ok, "patients_after": after}


def _count(url: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text("SELECT COUNT(*) FROM patients WHERE state = 'current'")
                ).scalar_one()
            )
    finally:
        engine.dispose()


if __name__ == "__main__":
    import json

    size = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    result = multi_user_times(size)
    result.pop("by_user")
    print(json.dumps(result, indent=1))
