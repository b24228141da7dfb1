"""The numbers a page shows: aggregations of the clinic's per-patient table, cached here only.

:func:`patient_table` is the clinic's per-patient table for a set of definitions, worked out
once per data version and kept on disk by :mod:`store.patient_tables` (Parquet and JSON, each
file's digest recorded in the database), and held in memory here; :func:`cohort_result` calls
an analytics function on the page's cohort of that table. A filter change therefore only adds
up rows. :func:`figure` keeps the charts drawn from those numbers, so a page seen before with
the same cohort and settings builds none again (a Plotly figure takes longer to build than the
numbers behind it).
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable

import numpy as np
import pandas as pd
import streamlit as st

from analytics.core.patient_table import PatientTable
from ui.clinic import active_clinic

__all__ = [
    "cohort_result",
    "figure",
    "figure_key",
    "patient_table",
    "prepare_table",
]


# cache_resource: the table is only read, never copied per run.
@st.cache_resource(max_entries=4, show_spinner="Preparing each patient's outcomes…")
def _table(version: str, definitions_key: str, _data, _definitions) -> PatientTable:
    from store.patient_tables import stored_patient_table

    return stored_patient_table(_definitions, version=version, data=_data)


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
