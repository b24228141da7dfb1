"""The cohort a page shows: the sidebar's filters, the patients they keep, and the page context."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from analytics.core.contract import ClinicData
from analytics.report.cohort import (
    BAND_EDGES,
    BAND_HELP,
    BAND_LABELS,
    CohortFilters,
    cohort_ids,
    column_words,
    describe_filters,
    filter_options,
    filters_slug,
    route_words,
    session_members,
)
from analytics.report.cohort import baseline_bands as cohort_bands
from ui.clinic import Loaded, active_clinic
from ui.settings import settings_key

__all__ = [
    "BAND_EDGES",
    "BAND_HELP",
    "BAND_LABELS",
    "active_filters",
    "CohortFilters",
    "PageContext",
    "baseline_bands",
    "build_context",
    "clear_filters",
    "describe_filters",
    "filter_line",
    "filters_slug",
    "get_context",
    "render_sidebar",
    "session_members",
]

_CONTEXT_KEY = "clinic_context"


@st.cache_data(max_entries=8, show_spinner=False)
def _filter_options(version: str, _data: ClinicData) -> dict[str, list]:
    return filter_options(_data)


@st.cache_data(max_entries=8, show_spinner=False)
def baseline_bands(version: str, _data: ClinicData) -> pd.Series:
    """Baseline PCL-5 display band per patient id (:func:`analytics.report.cohort.baseline_bands`),
    kept per data version."""
    return cohort_bands(_data)


# cache_resource: ids and cohorts are only read, and copying a cohort of millions of rows on
# every run would cost more than the page.
@st.cache_resource(max_entries=32, show_spinner=False)
def _cohort_ids(version: str, filters_key: str, _data: ClinicData, _filters: CohortFilters):
    """The ids the filters keep, or None when no filter is on (every patient)."""
    return cohort_ids(
        _data,
        _filters,
        members=lambda column: _session_members(version, column, _data),
        bands=baseline_bands(version, _data) if _filters.bands else None,
    )


@st.cache_resource(max_entries=8, show_spinner=False)
def _session_members(version: str, column: str, _data: ClinicData) -> pd.DataFrame:
    return session_members(_data, column)


@st.cache_resource(max_entries=4, show_spinner=False)
def _filtered(version: str, filters_key: str, _data: ClinicData, _filters: CohortFilters):
    ids = _cohort_ids(version, filters_key, _data, _filters)
    return _data if ids is None else _data.with_patients(ids)


def render_sidebar(loaded: Loaded) -> CohortFilters:
    """Draw the cohort filters in the sidebar and return what they ask for."""
    options = _filter_options(loaded.version, loaded.data)
    sb = st.sidebar
    sb.subheader("Cohort")
    chosen: dict[str, tuple] = {}
    for key, label, help_text in (
        ("years", "First-session year", "Patients whose first treatment was in these years."),
        ("routes", "Route", "Patients by how their first treatment was given."),
        ("sites", "Site", "Patients seen at least once at these sites."),
        ("clinicians", "Clinician", "Patients seen at least once by these clinicians."),
    ):
        if options.get(key):
            chosen[key] = tuple(
                sb.multiselect(
                    label,
                    options[key],
                    key=f"filter_{key}",
                    placeholder="All",
                    help=help_text,
                    format_func=_route_label if key == "routes" else str,
                )
            )
    extra = []
    for key, values in options.items():
        if key.startswith("extra:"):
            column = key.removeprefix("extra:")
            picked = sb.multiselect(
                column_words(column),
                values,
                key=f"filter_{key}",
                placeholder="All",
                help=f"Patients whose {column_words(column).lower()} is one of those chosen, "
                "as written in the clinic's patient file.",
            )
            if picked:
                extra.append((column, tuple(picked)))
    bands = sb.multiselect(
        "Baseline PCL-5 (display bands)",
        list(BAND_LABELS),
        key="filter_bands",
        placeholder="All",
        help=BAND_HELP,
    )
    return CohortFilters(
        years=chosen.get("years", ()),
        routes=chosen.get("routes", ()),
        sites=chosen.get("sites", ()),
        clinicians=chosen.get("clinicians", ()),
        bands=tuple(bands),
        extra=tuple(extra),
    )


def filter_line(filters: CohortFilters, kept: int, total: int) -> str:
    """The compact line naming the cohort on screen.

    Examples
    --------
    >>> filter_line(CohortFilters(routes=("iv_ketamine",), sites=("North",)), 40, 250)
    'IV ketamine · North · 40 of 250 patients'
    """
    return " · ".join([*describe_filters(filters), f"{kept:,} of {total:,} patients"])


def clear_filters() -> None:
    """Empty every cohort filter of the sidebar (a button's callback, so it runs before the
    widgets are drawn again)."""
    for key in list(st.session_state.keys()):
        if str(key).startswith("filter_"):
            st.session_state[key] = []


def _route_label(code: str) -> str:
    return route_words(code)


@dataclass(frozen=True)
class PageContext:
    """Everything a page needs: the loaded clinic, the cohort and the cache key.

    ``ids`` are the patients the filters keep (None: every patient); ``data``, the clinic cut
    down to them, is made on first use, so a page that only adds up per-patient rows never
    copies the cohort's tables.
    """

    loaded: Loaded
    filters: CohortFilters
    ids: pd.Index | None
    key: str

    @property
    def data(self) -> ClinicData:
        return _filtered(self.loaded.version, self.filters.key(), self.loaded.data, self.filters)

    @property
    def n_patients(self) -> int:
        if self.ids is None:
            return int(self.loaded.data.patients["patient_id"].nunique())
        return len(self.ids)

    @property
    def empty(self) -> bool:
        return self.n_patients == 0

    def keep(self, table) -> np.ndarray:
        """The cohort as a boolean mask over the rows of a per-patient table."""
        return _keep(self.loaded.version, self.filters.key(), table, self.ids)


@st.cache_resource(max_entries=32, show_spinner=False)
def _keep(version: str, filters_key: str, _table, _ids) -> np.ndarray:
    # every table of one clinic has the same patient index, whatever its definitions
    return _table.keep(_ids)


def build_context(loaded: Loaded, filters: CohortFilters) -> PageContext:
    ids = _cohort_ids(loaded.version, filters.key(), loaded.data, filters)
    key = f"{loaded.version}|{filters.key()}|{settings_key()}"
    context = PageContext(loaded, filters, ids, key)
    st.session_state[_CONTEXT_KEY] = context
    return context


def active_filters() -> CohortFilters | None:
    """The cohort filters of this run, or None when none is on (or no page has run yet)."""
    context = st.session_state.get(_CONTEXT_KEY)
    filters = getattr(context, "filters", None)
    return filters if filters is not None and filters.active else None


def get_context() -> PageContext:
    """The context the router built for this run (rebuilt if a page runs on its own)."""
    context = st.session_state.get(_CONTEXT_KEY)
    if context is None:
        context = build_context(active_clinic(), CohortFilters())
    return context
