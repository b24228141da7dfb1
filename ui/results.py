"""The numbers a page shows: aggregations of the clinic's per-patient table, cached here only.

:func:`patient_table` works out each patient's facts once per data version and definitions
(:func:`analytics.report.patients.patient_table`), keeps them in memory and on disk (Parquet
and JSON: data, never code; nothing here unpickles a file), and :func:`cohort_result` calls an
analytics function on the page's cohort of that table. A filter change therefore only adds up
rows. The SHA-256 of every kept file is recorded in the database
(:func:`store.record_content_hashes`), and a kept table is read back only when each of its
files still has its recorded digest. :func:`figure` keeps the charts drawn from those numbers,
so a page seen before with the same cohort and settings builds none again (a Plotly figure
takes longer to build than the numbers behind it).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import streamlit as st

from analytics.core.patient_table import PatientTable
from ui.clinic import active_clinic, code_version

__all__ = [
    "HASH_KIND",
    "KEEP_TABLES",
    "cache_dir",
    "cohort_result",
    "figure",
    "figure_key",
    "keep_on_disk",
    "patient_table",
    "prepare_table",
    "read_kept",
]

KEEP_TABLES = 4  # per-patient tables kept on disk (data versions x definitions)
# The kind of the kept tables' records in the database's content_hashes table.
HASH_KIND = "patient_table"
_PREFIX = "patients-"

logger = logging.getLogger(__name__)


def cache_dir() -> Path:
    """Where results kept across restarts live: ``DASHBOARD_CACHE_DIR``, else ``var/cache``."""
    default = Path(__file__).resolve().parents[1] / "var" / "cache"
    return Path(os.environ.get("DASHBOARD_CACHE_DIR") or default)


def read_kept(folder: Path) -> PatientTable | None:
    """The table kept in ``folder``, or None when it is missing, unverified or unreadable.

    Every file of the folder is read once and compared with the SHA-256 recorded for it in the
    database when it was kept; only those checked bytes are parsed (Parquet and JSON). A file
    without a record, a record without its file, or another digest is logged by file name and
    the table is recomputed.
    """
    from store import content_hashes

    try:
        files = {entry.name: entry.read_bytes() for entry in sorted(folder.iterdir())}
    except FileNotFoundError:
        return None  # never kept: nothing to say
    except OSError as error:
        logger.warning("ignoring the kept per-patient table %s: %s", folder.name, error)
        return None
    try:
        recorded = content_hashes(HASH_KIND, folder.name)
    except Exception as error:  # noqa: BLE001 - without the records nothing is trusted
        logger.warning("could not check the kept per-patient table %s: %s", folder.name, error)
        return None
    problem = _unverified(files, recorded)
    if problem:
        logger.warning("ignoring the kept per-patient table %s: %s", folder.name, problem)
        return None
    try:
        return PatientTable.from_files(files)
    except Exception as error:  # noqa: BLE001 - from older code, or damaged: recompute
        logger.warning("ignoring the kept per-patient table %s: %s", folder.name, error)
        return None


def _unverified(files: dict[str, bytes], recorded: dict[str, str]) -> str | None:
    """Why ``files`` are not the ones recorded (naming a file, never its content), or None."""
    if not recorded:
        return "no content hashes were recorded for it"
    for name in sorted(files.keys() | recorded.keys()):
        if name not in recorded:
            return f"{name} has no recorded content hash"
        if name not in files:
            return f"{name} is missing"
        if hashlib.sha256(files[name]).hexdigest() != recorded[name]:
            return f"{name} does not match the content hash recorded when it was kept"
    return None


def keep_on_disk(table: PatientTable, folder: Path, data_version: str) -> None:
    """Write ``table`` to ``folder`` whole or not at all, keeping the newest few tables.

    Once the folder is in place the SHA-256 of each of its files is recorded in the database
    with ``data_version`` (the clinic's); when that fails the folder is removed, since it would
    never be read back. Old tables pruned lose their records too.
    """
    from store import forget_content_hashes, record_content_hashes
    from store.content import file_sha256

    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        part = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".part-"))
        try:
            table.write(part)
            digests = {file.name: file_sha256(file) for file in part.iterdir()}
            if folder.exists():
                shutil.rmtree(folder)
            os.replace(part, folder)  # a reader sees no folder or the whole new one
        finally:
            shutil.rmtree(part, ignore_errors=True)
        kept = sorted(folder.parent.glob(f"{_PREFIX}*"), key=lambda p: p.stat().st_mtime)
        pruned = [old for old in kept[:-KEEP_TABLES] if old != folder]
        for old in pruned:
            shutil.rmtree(old, ignore_errors=True)
    except OSError:
        return  # a read-only or full disk only costs the next start a recomputation
    try:
        record_content_hashes(HASH_KIND, folder.name, digests, data_version)
    except Exception as error:  # noqa: BLE001 - an unrecorded table is only recomputed
        logger.warning(
            "could not record the kept per-patient table %s, so it is removed: %s",
            folder.name,
            error,
        )
        shutil.rmtree(folder, ignore_errors=True)
        return
    try:
        forget_content_hashes(HASH_KIND, [old.name for old in pruned])
    except Exception as error:  # noqa: BLE001 - the pruned tables are gone either way
        logger.warning("could not remove the records of old per-patient tables: %s", error)


def _folder(version: str, definitions_key: str) -> Path:
    digest = hashlib.sha1(f"{version}|{definitions_key}|{code_version()}".encode()).hexdigest()
    return cache_dir() / f"{_PREFIX}{digest[:20]}"


# cache_resource: the table is only read, never copied per run.
@st.cache_resource(max_entries=4, show_spinner="Preparing each patient's outcomes…")
def _table(version: str, definitions_key: str, _data, _definitions) -> PatientTable:
    from analytics.report.patients import patient_table as build

    folder = _folder(version, definitions_key)
    table = read_kept(folder)
    if table is None:
        table = build(_data, _definitions)
        keep_on_disk(table, folder, version)
    return table


def patient_table(context, definitions) -> PatientTable:
    """The per-patient table of the loaded clinic for ``definitions``."""
    loaded = context.loaded
    return _table(loaded.version, repr(definitions), loaded.data, definitions)


def prepare_table(definitions) -> None:
    """Work out the stored clinic's table now (after an import), not on a page's first visit."""
    loaded = active_clinic()
    if loaded.source != "none":
        _table(loaded.version, repr(definitions), loaded.data, definitions)


@st.cache_data(max_entries=256, show_spinner=False)
def _result(name: str, key: str, _fn, _table, _keep, _definitions, _args, _kwargs) -> Any:
    return _fn(_table, _keep, _definitions, *_args, **_kwargs)


def cohort_result(fn: Callable, context, definitions, *args, **kwargs) -> Any:
    """``fn(table, keep, definitions, *args, **kwargs)`` for the page's cohort.

    ``table`` is the clinic's per-patient table for ``definitions`` and ``keep`` the cohort's
    mask over its rows. The result is cached per function, data version, filters, settings,
    definitions and arguments, so a rerun that changes none of them computes nothing.
    """
    table = patient_table(context, definitions)
    keep = context.keep(table)
    name = f"{fn.__module__}.{fn.__qualname__}"
    key = f"{context.key}|{definitions!r}|{args!r}|{sorted(kwargs.items())!r}"
    return _result(name, key, fn, table, keep, definitions, args, kwargs)


def _token(value) -> Any:
    """What ``value`` contributes to a cache key: its content (a frame's repr is cut short,
    so frames and arrays are digested whole)."""
    if isinstance(value, pd.DataFrame | pd.Series | pd.Index):
        digest = hashlib.sha1(pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes())
        names = list(value.columns) if isinstance(value, pd.DataFrame) else [value.name]
        dtypes = list(value.dtypes) if isinstance(value, pd.DataFrame) else [value.dtype]
        index = value if isinstance(value, pd.Index) else value.index
        return (
            type(value).__name__,
            names,
            [str(d) for d in dtypes],
            index.names,
            digest.hexdigest(),
        )
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, hashlib.sha1(value.tobytes()).hexdigest())
    if isinstance(value, list | tuple):
        return (type(value).__name__, *(_token(v) for v in value))
    if isinstance(value, dict):
        return ("dict", *((repr(k), _token(v)) for k, v in sorted(value.items(), key=repr)))
    return repr(value)


def figure_key(fn: Callable, *args, **kwargs) -> str | None:
    """The cache key of ``fn(*args, **kwargs)``, or None when an argument cannot be digested
    (e.g. a frame holding lists); equal keys mean equal arguments, frames compared whole."""
    try:
        token = (f"{fn.__module__}.{fn.__qualname__}", _token(args), _token(kwargs))
    except TypeError:
        return None
    return hashlib.sha1(repr(token).encode()).hexdigest()


# cache_resource: a kept figure is never handed out itself, only a copy (see figure)
@st.cache_resource(max_entries=128, show_spinner=False)
def kept_figure(key: str, _fn, _args, _kwargs):
    return _fn(*_args, **_kwargs)


def figure(fn: Callable, *args, **kwargs):
    """``fn(*args, **kwargs)``, a Plotly figure, built once per distinct arguments.

    The key is the figure function and its arguments by content (frames digested whole), so
    a rerun that asks for the same chart (a page seen again, a filter set back) copies the
    kept figure instead of building it. The copy (not validated again: the kept figure was)
    is the caller's to change. Arguments that cannot be digested build the figure every time.
    """
    import plotly.graph_objects as go

    key = figure_key(fn, *args, **kwargs)
    if key is None:
        return fn(*args, **kwargs)
    kept = kept_figure(key, fn, args, kwargs)
    return go.Figure(kept.to_dict(), _validate=False)
