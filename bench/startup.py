"""How long ``make run`` takes to open the dashboard on the sample clinic, in a real browser.

``python -m bench.startup [RUNS]`` starts the server as ``make run`` does (``streamlit run
server.py``, headless) on a free port, with its own database under ``bench/data/startup``, and
times in Debian's Chromium, from the moment the process is started:

- ``sign_in_form``: the sign-in form is on screen (what ``make run`` opens);
- ``first_metric``: after signing in as a director, the Overview's first headline number.

The first run is a first start (an empty database: the sample clinic is loaded and the director
created); the later runs reuse that database, as every later ``make run`` does. For comparison,
``floor`` is the same measure for a two-line Streamlit script: the time Streamlit itself needs
to start and Chromium to draw its page on this machine. The browser is started beforehand, so
its own start-up is not counted. Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time

from bench.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    METRIC,
    ROOT,
    free_port,
    stop_server,
    wait_for_health,
)
from bench.generate import DATA_DIR

__all__ = ["startup_times"]

FLOOR_SCRIPT = 'import streamlit as st\nst.title("Sign in")\nst.button("Sign in")\n'


def _collect(process: subprocess.Popen, lines: list[str]) -> None:
    for line in process.stdout:
        lines.append(line.decode(errors="replace"))


def _start(script: str, env: dict) -> tuple[subprocess.Popen, str, float, list[str]]:
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", script,
            "--server.port", str(port), "--server.headless", "true",
            "--browser.gatherUsageStats", "false",
        ],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    lines: list[str] = []
    threading.Thread(target=_collect, args=(process, lines), daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    # fine polling: the start-up time is what is measured
    wait_for_health(process, url, timeout=120, poll=0.02, output=lambda: "".join(lines))
    return process, url, started, lines


def startup_times(runs: int = 3) -> dict:
    """Seconds from process start to the sign-in form and to the first metric; see the module."""
    from playwright.sync_api import sync_playwright

    home = DATA_DIR / "startup"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    floor_script = home / "floor.py"
    floor_script.write_text(FLOOR_SCRIPT)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{home / 'clinic.sqlite'}",
        "DASHBOARD_CACHE_DIR": str(home / "cache"),
        "HOME": str(home),
    }
    env.pop("DASHBOARD_SAMPLE_DIR", None)
    result: dict = {"form": [], "first_metric": [], "floor": []}
    password = None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for run in range(runs):
                process, url, started, lines = _start("server.py", env)
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                page.set_default_timeout(120_000)
                try:
                    page.goto(url)
                    page.get_by_role("button", name="Sign in").wait_for()
                    form = time.perf_counter() - started
                    deadline = time.monotonic() + 120
                    while password is None:  # printed by the first start, beside the form
                        found = re.search(r"password:\s+(\S+)", "".join(lines))
                        if found:
                            password = found.group(1)
                        elif time.monotonic() > deadline:
                            raise RuntimeError("the first start printed no password")
                        else:
                            time.sleep(0.1)
                    page.get_by_label("User name").fill("director")
                    page.get_by_label("Password", exact=True).fill(password)
                    page.get_by_role("button", name="Sign in").click()
                    page.locator(METRIC).first.wait_for(state="visible")
                    metric = time.perf_counter() - started
                finally:
                    context.close()
                    stop_server(process)
                key = "first_start" if run == 0 else "later"
                result.setdefault(key, []).append({"form": form, "first_metric": metric})
                if run:
                    result["form"].append(form)
                    result["first_metric"].append(metric)
                process, url, started, _ = _start(str(floor_script), env)
                page = browser.new_page()
                try:
                    page.goto(url)
                    page.get_by_role("button", name="Sign in").wait_for(timeout=120_000)
                    result["floor"].append(time.perf_counter() - started)
                finally:
                    page.close()
                    stop_server(process)
        finally:
            browser.close()
    for key in ("form", "first_metric", "floor"):
        values = result.pop(key)
        result[f"median_{key}"] = statistics.median(values) if values else None
    return result


if __name__ == "__main__":
    print(json.dumps(startup_times(int(sys.argv[1]) if len(sys.argv) > 1 else 3), indent=2))
