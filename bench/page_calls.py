"""What each dashboard page asks of the analytics, recorded from the page itself.

A page asks for its numbers through :func:`ui.results.cohort_result` only. Running the real page
(Streamlit's AppTest, on the sample clinic in a throwaway database) with that function wrapped
records each call: the analytics function, its definitions and its arguments. The benchmark then
replays exactly those calls on the large clinic's per-patient table for a new cohort, which is
the analytics' part of the server's work when a user changes a filter on that page; no list of
calls is written by hand, so the benchmark follows the pages as they change.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

__all__ = ["DASHBOARD_PAGES", "PageCall", "record_page_calls"]

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD_PAGES = ("overview", "outcomes", "durability", "cohorts", "safety", "claims")
_USER = ("bench-director", "bench-director-password")


@dataclass(frozen=True)
class PageCall:
    """One call a page made: ``fn(table, keep, definitions, *args, **kwargs)``."""

    fn: Callable
    definitions: Any
    args: tuple
    kwargs: dict

    def __call__(self, table, keep):
        return self.fn(table, keep, self.definitions, *self.args, **self.kwargs)

    @property
    def name(self) -> str:
        return f"{self.fn.__module__}.{self.fn.__qualname__}"


@contextlib.contextmanager
def signed_in_dashboard(sample: Path | None = None):
    """The dashboard in ``AppTest``, signed in as a director, on the sample clinic loaded into
    a database of its own (a temporary folder); the environment is put back afterwards."""
    from streamlit.testing.v1 import AppTest

    from store.db import open_store
    from store.sample import ensure_sample
    from store.users import add_user

    sample = sample or ROOT / "data" / "sample"
    saved = {k: os.environ.get(k) for k in ("DATABASE_URL", "DASHBOARD_CACHE_DIR")}
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/clinic.sqlite"
        os.environ["DATABASE_URL"] = url
        os.environ["DASHBOARD_CACHE_DIR"] = str(Path(folder) / "cache")
        try:
            engine = open_store(url)
            ensure_sample(sample, engine=engine)
            add_user(*_USER, "director", actor="bench", engine=engine)
            engine.dispose()
            at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=300)
            at.run()
            at.text_input(key="login_username").input(_USER[0])
            at.text_input(key="login_password").input(_USER[1])
            at.button(key="login_submit").click().run()
            yield at
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def record_page_calls(pages=DASHBOARD_PAGES, sample: Path | None = None) -> dict[str, list]:
    """Run each page once as a signed-in director; the :class:`PageCall` list of each.

    Raises
    ------
    RuntimeError
        When a page raised or drew an error (the benchmark would time a broken page).
    """
    from ui import results

    recorded: dict[str, list] = {}
    original = results.cohort_result
    calls: list = []

    def recording(fn, context, definitions, *args, **kwargs):
        calls.append(PageCall(fn, definitions, args, dict(kwargs)))
        return original(fn, context, definitions, *args, **kwargs)

    results.cohort_result = recording
    try:
        with signed_in_dashboard(sample) as at:
            for page in pages:
                calls.clear()
                at.switch_page(f"app_pages/{page}.py")
                at.run()
                if at.exception or at.error:
                    problems = [e.message for e in at.exception] + [e.value for e in at.error]
                    raise RuntimeError(f"the {page} page failed: {problems}")
                recorded[page] = list(calls)
    finally:
        results.cohort_result = original
    return recorded
