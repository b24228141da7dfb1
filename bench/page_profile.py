"""Where a dashboard page's script run goes, call by call, on the sample clinic.

``python -m bench.page_profile [PAGE] [ROUNDS]`` runs the real page (Streamlit's AppTest, a
throwaway database with the sample clinic, signed in as a director) and times every public
function of ``charts.figures``, ``ui.components`` and ``ui.results`` and Streamlit's chart, table
and download calls it makes, in CPU seconds of the script's thread (steady on a busy machine;
a call's time includes the calls it makes). Each round switches from the Overview to the page
(``switch``), then sets the Site filter to one site (``filter``) and clears it (``filter_clear``).
Prints the median per call and round kind, largest first.
"""

from __future__ import annotations

import functools
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

__all__ = ["profile_page"]

ROOT = Path(__file__).resolve().parents[1]
_STREAMLIT_CALLS = ("plotly_chart", "dataframe", "download_button")
SCRIPT = "whole script run"


def _timed(name: str, fn, times: dict):
    @functools.wraps(fn)
    def timed(*args, **kwargs):
        start = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            times[name] += time.thread_time() - start

    return timed


def _wrap_all(times: dict) -> list[tuple[object, str, object]]:
    """Time the UI helpers and Streamlit's heavy calls; what to put back afterwards."""
    import streamlit as st

    from charts import figures
    from ui import components, results

    undo = []
    for module in (figures, components, results):
        for name in dir(module):
            fn = getattr(module, name)
            if (
                name.startswith("_")
                or isinstance(fn, type)
                or not callable(fn)
                or getattr(fn, "__module__", None) != module.__name__
            ):
                continue
            undo.append((module, name, fn))
            setattr(module, name, _timed(f"{module.__name__}.{name}", fn, times))
    for name in _STREAMLIT_CALLS:
        undo.append((st, name, getattr(st, name)))
        setattr(st, name, _timed(f"st.{name}", getattr(st, name), times))
    return undo


def profile_page(page: str = "outcomes", rounds: int = 5) -> dict[str, dict[str, float]]:
    """Median CPU seconds per call for each round kind (see the module); ``SCRIPT`` is the
    whole run."""
    from streamlit.runtime.scriptrunner import script_runner

    from bench.page_calls import signed_in_dashboard

    runs: dict[str, list[dict]] = defaultdict(list)
    times: dict[str, float] = defaultdict(float)
    original = script_runner.exec_func_with_error_handling

    def whole_run(func, ctx):
        start = time.thread_time()
        try:
            return original(func, ctx)
        finally:
            times[SCRIPT] = time.thread_time() - start

    undo = _wrap_all(times)
    script_runner.exec_func_with_error_handling = whole_run
    try:
        with signed_in_dashboard() as at:

            def run(kind: str) -> None:
                times.clear()
                at.run()
                if at.exception:
                    raise RuntimeError(f"the {page} page failed: {at.exception[0].message}")
                runs[kind].append(dict(times))

            for i in range(rounds):
                at.switch_page("app_pages/overview.py")
                at.run()
                at.switch_page(f"app_pages/{page}.py")
                run("first switch" if i == 0 else "switch")
                sites = at.multiselect(key="filter_sites")
                sites.set_value([sites.options[i % len(sites.options)]])
                run("filter")
                at.multiselect(key="filter_sites").set_value([])
                run("filter_clear")
    finally:
        script_runner.exec_func_with_error_handling = original
        for module, name, fn in undo:
            setattr(module, name, fn)
    return {
        kind: {
            name: statistics.median(r.get(name, 0.0) for r in rows)
            for name in {n for r in rows for n in r}
        }
        for kind, rows in runs.items()
    }


if __name__ == "__main__":
    page = sys.argv[1] if len(sys.argv) > 1 else "outcomes"
    found = profile_page(page, int(sys.argv[2]) if len(sys.argv) > 2 else 5)
    for kind, calls in found.items():
        print(f"{page}: {kind} (median CPU ms of the script's thread)")
        for name, seconds in sorted(calls.items(), key=lambda kv: -kv[1])[:20]:
            print(f"  {name:45s} {seconds * 1000:8.1f}")
