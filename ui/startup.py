"""The first start, off the critical path: the database is prepared while the sign-in form shows.

Preparing the database (migrations, the sample clinic on a first start, the first director) and
importing pandas, SQLAlchemy and the analytics take seconds that the sign-in form does not need.
:func:`begin` runs them on a background thread, once per process and database; the form is
drawn with Streamlit alone, and :func:`wait` blocks only where the store is first needed (the
sign-in button, a signed-in run). The same thread then reads the stored clinic and its
per-patient table (default definitions) into the app's caches, so that the first page after
sign-in only adds up rows; a run that needs them sooner waits for that read rather than
repeating it (Streamlit computes a cached value once per key). Nothing here imports more than
the standard library.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "SAMPLE_DIR",
    "begin",
    "first_start",
    "prepare_database",
    "sample_dir",
    "wait",
    "warmed",
]

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "sample"

# Imported on the thread so a signed-in run finds them loaded (the sign-in form needs none).
WARM_MODULES = (
    "pandas",
    "plotly.graph_objects",
    "store.db",
    "store.users",
    "store.audit",
    "store.clinic",
    "store.history",
    "store.sample",
    "ui.clinic",
    "ui.cohort",
    "ui.results",
    "ui.components",
    "ui.glossary",  # the glossary's links read the contract (pandera): about a second
    "charts.figures",
    "analytics.core.definitions",
    "analytics.report.patients",
    "analytics.report.overview",
    "documents.board_report",
    "store.patient_tables",
    "analytics.metrics.safety",
)


@dataclass
class _Job:
    done: threading.Event = field(default_factory=threading.Event)
    ready: threading.Event = field(default_factory=threading.Event)  # the warm-up is over too
    first_start: bool = False
    error: BaseException | None = None


_LOCK = threading.Lock()
_JOBS: dict[tuple[str, str], _Job] = {}


def sample_dir() -> Path:
    """The sample clinic's folder; ``DASHBOARD_SAMPLE_DIR`` points elsewhere (tests, demos)."""
    return Path(os.environ.get("DASHBOARD_SAMPLE_DIR") or SAMPLE_DIR)


def _target(url: str | None, sample_folder: str | None) -> tuple[str, str]:
    if url is None:
        from store.config import database_url

        url = database_url()
    return url, str(sample_folder or sample_dir())


def prepare_database(url: str, sample_folder: str) -> bool:
    """Migrate, load the sample into a database that never held data, create the first director.

    Returns True when the director was just created; its one-time password is then printed to
    the terminal that started the app (as Jupyter shows its token) and never stored in clear.
    """
    from store.db import has_batches, open_store
    from store.users import ensure_first_director

    engine = open_store(url)
    try:
        # only a database that never held a batch needs the sample (and the importer behind it)
        if not has_batches(engine) and any(Path(sample_folder).glob("*.csv")):
            from store import ensure_sample

            ensure_sample(Path(sample_folder), engine=engine)
        password = ensure_first_director(engine=engine)
    finally:
        engine.dispose()
    if password is None:
        return False
    print(
        "\n"
        "  First start: the dashboard created its director account.\n"
        "    user name: director\n"
        f"    password:  {password}\n"
        "  This password is shown only now. Sign in and add the clinic's users on the Users "
        "page.\n",
        flush=True,
    )
    return True


def _run(job: _Job, url: str, sample_folder: str) -> None:
    try:
        job.first_start = prepare_database(url, sample_folder)
    except BaseException as error:  # re-raised in the run that waits, where the user sees it
        job.error = error
    finally:
        job.done.set()
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # a warm-up only: the page that needs it reports the failure
            pass
    try:
        _warm_figures()
    except Exception:  # a warm-up only
        pass
    if job.error is None:
        try:
            _preload_clinic(url)
        except Exception:  # a warm-up only: the first page reads the clinic itself
            pass
    job.ready.set()


def _preload_clinic(url: str) -> None:
    """Read the stored clinic and its per-patient table for the default definitions (what the
    first signed-in page shows) into the caches of :mod:`ui.results`; say so on the terminal.

    Only for the database the pages read (the configured one): the caches are keyed by it.
    """
    from analytics.core.definitions import OutcomeDefinitions
    from store.config import database_url
    from ui.clinic import active_clinic
    from ui.results import prepare_table

    if url != database_url():
        return
    # Streamlit's caches warn on a thread with no script run; this one has none by design
    logging.getLogger(_NO_RUN_WARNING).addFilter(_from_other_threads)
    prepare_table(OutcomeDefinitions.for_instrument("PCL-5"))
    patients = len(active_clinic().data.patients)
    print(f"  Ready: the clinic ({patients:,} patients) is loaded.", flush=True)


_NO_RUN_WARNING = "streamlit.runtime.scriptrunner_utils.script_run_context"
_THREAD = "prepare-database"


def _from_other_threads(record: logging.LogRecord) -> bool:
    return record.threadName != _THREAD


def _warm_figures() -> None:
    """Draw the Overview's two kinds of figure once: Plotly loads each property's validator on
    its first use, which would otherwise fall on the first signed-in page."""
    import pandas as pd

    from charts import figures

    figures.counts_by_period_figure(
        pd.DataFrame({"period": ["2025"], "new_starts": [1], "sessions": [1]}), period="period"
    )
    figures.mean_score_figure(
        pd.DataFrame(
            {"x": [0.0, 1.0], "label": ["baseline", "week 1"], "n": [10, 10], "mean": [50.0, 40.0],
             "ci_low": [45.0, 35.0], "ci_high": [55.0, 45.0], "group": ["All patients"] * 2}
        ),
        x="x", y_title="Mean", x_title="Weeks",
    )  # fmt: skip


def begin(url: str | None = None, sample_folder: str | None = None) -> None:
    """Start preparing the database on a background thread, unless this process already did.

    ``url`` defaults to the configured database, ``sample_folder`` to :func:`sample_dir`.
    """
    key = _target(url, sample_folder)
    with _LOCK:
        if key in _JOBS:
            return
        job = _JOBS[key] = _Job()
    threading.Thread(target=_run, args=(job, *key), name=_THREAD, daemon=True).start()


def first_start(url: str | None = None, sample_folder: str | None = None) -> bool:
    """True once the preparation has finished and created the first director."""
    job = _JOBS.get(_target(url, sample_folder))
    return bool(job and job.done.is_set() and job.first_start)


def warmed(
    url: str | None = None, sample_folder: str | None = None, timeout: float | None = None
) -> bool:
    """Wait up to ``timeout`` seconds for the warm-up that follows the preparation (imports,
    figures, the clinic read into memory); True once it is over, False when it was not begun."""
    job = _JOBS.get(_target(url, sample_folder))
    return bool(job and job.ready.wait(timeout))


def wait(url: str | None = None, sample_folder: str | None = None) -> bool:
    """Block until the database is prepared (starting it if needed); True on a first start.

    Raises the preparation's own exception (e.g. an unreachable database); the next call then
    tries again.
    """
    key = _target(url, sample_folder)
    begin(*key)
    job = _JOBS[key]
    job.done.wait()
    if job.error is not None:
        with _LOCK:
            if _JOBS.get(key) is job:
                del _JOBS[key]
        raise job.error
    return job.first_start
