"""The cohort a page shows: the sidebar's filters, the patients they keep, and the page context."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from analytics.core.contract import ClinicData
from ui.clinic import Loaded, active_clinic
from ui.settings import settings_key

__all__ = [
    "BAND_LABELS",
    "CohortFilters",
    "PageContext",
    "baseline_bands",
    "build_context",
    "get_context",
    "render_sidebar",
    "session_members",
]

# Display bands of baseline PCL-5. Ours, not validated: PCL-5 has no validated severity bands;
# 33 is the probable-PTSD cut-point (Bovin et al. 2016, doi:10.1037/pas0000254).
BAND_EDGES = (33, 50)
BAND_LABELS = ("PCL-5 < 33", "PCL-5 33-49", "PCL-5 >= 50")
BAND_HELP = (
    "Our display bands of the baseline PCL-5 total. PCL-5 has no validated severity bands; "
    "33 is the probable-PTSD cut-point (Bovin et al. 2016)."
)

_CONTEXT_KEY = "clinic_context"


@dataclass(frozen=True)
class CohortFilters:
    """What the sidebar asked for; an empty tuple means "no restriction".

    ``extra`` holds ``(column, values)`` pairs for extra ``patients`` columns.
    """

    years: tuple = ()
    routes: tuple = ()
    sites: tuple = ()
    clinicians: tuple = ()
    bands: tuple = ()
    extra: tuple = ()

    @property
    def active(self) -> bool:
        return any((self.years, self.routes, self.sites, self.clinicians, self.bands, self.extra))

    def key(self) -> str:
        return json.dumps(
            [self.years, self.routes, self.sites, self.clinicians, self.bands, self.extra],
            default=str,
        )


def _options(series: pd.Series) -> list:
    return sorted(series.dropna().unique().tolist())


@st.cache_data(max_entries=8, show_spinner=False)
def _filter_options(version: str, _data: ClinicData) -> dict[str, list]:
    p, s = _data.patients, _data.sessions
    options = {
        "years": [int(y) for y in _options(p["first_session_year"])],
        "routes": _options(p["route"]),
        "sites": _options(s["site"]),
        "clinicians": _options(s["clinician"]),
    }
    for column in _data.extra_patient_columns:
        if column in ("site", "clinician", "route"):
            continue  # already offered from the sessions table
        values = _options(p[column])
        # free-text columns (one value per patient) make poor filters
        if 1 < len(values) <= 30:
            options[f"extra:{column}"] = values
    return options


@st.cache_data(max_entries=8, show_spinner=False)
def baseline_bands(version: str, _data: ClinicData) -> pd.Series:
    """Baseline PCL-5 display band per patient id (index).

    Bands use the PCL-5's default baseline look-back, so changing a setting does not move a
    patient from one band to another.
    """
    from analytics.core.definitions import OutcomeDefinitions
    from analytics.metrics.timepoints import baseline_scores

    frame = baseline_scores(_data, OutcomeDefinitions.for_instrument("PCL-5"))
    baselines = frame.set_index("patient_id")["baseline"].dropna()
    if baselines.empty:
        return pd.Series(dtype="string")
    bands = pd.cut(
        baselines,
        bins=[-float("inf"), *BAND_EDGES, float("inf")],
        right=False,
        labels=list(BAND_LABELS),
    )
    return bands.astype("string")


# cache_resource: ids and cohorts are only read, and copying a cohort of millions of rows on
# every run would cost more than the page.
@st.cache_resource(max_entries=32, show_spinner=False)
def _cohort_ids(version: str, filters_key: str, _data: ClinicData, _filters: CohortFilters):
    """The ids the filters keep, or None when no filter is on (every patient)."""
    from analytics.core.ids import isin_ids

    if not _filters.active:
        return None
    p = _data.patients
    keep = pd.Series(True, index=p.index)
    if _filters.years:
        keep &= p["first_session_year"].isin(_filters.years)
    if _filters.routes:
        keep &= p["route"].isin(_filters.routes)
    for column, values in _filters.extra:
        keep &= p[column].isin(values)
    ids = p.loc[keep, "patient_id"]
    for column, values in (("site", _filters.sites), ("clinician", _filters.clinicians)):
        if values:
            members = _session_members(version, column, _data)
            ids = ids[isin_ids(ids, members.loc[members[column].isin(values), "patient_id"])]
    if _filters.bands:
        bands = baseline_bands(version, _data)
        ids = ids[isin_ids(ids, bands.index[bands.isin(_filters.bands)])]
    return pd.Index(ids.drop_duplicates())


@st.cache_resource(max_entries=8, show_spinner=False)
def _session_members(version: str, column: str, _data: ClinicData) -> pd.DataFrame:
    return session_members(_data, column)


def session_members(data: ClinicData, column: str) -> pd.DataFrame:
    """Each distinct (``column`` value, patient) pair of the sessions, e.g. who was seen where.

    A site or clinician filter then looks through these pairs (tens of thousands) instead of
    every session (millions).
    """
    s = data.sessions
    pairs = pd.DataFrame(
        {column: s[column].astype("string"), "patient_id": s["patient_id"].astype("string")}
    )
    return pairs.dropna(subset=[column]).drop_duplicates().reset_index(drop=True)


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
        ("years", "First-session year", "Year of each patient's first treatment session."),
        ("routes", "Route", "Route of the patient's first session."),
        ("sites", "Site", "Patients with at least one session at the chosen sites."),
        ("clinicians", "Clinician", "Patients with at least one session with the clinicians."),
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
                column.replace("_", " ").capitalize(),
                values,
                key=f"filter_{key}",
                placeholder="All",
                help=f"Column '{column}' of patients.csv.",
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


def _route_label(code: str) -> str:
    from ui.figures import route_label

    return route_label(code)


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


def get_context() -> PageContext:
    """The context the router built for this run (rebuilt if a page runs on its own)."""
    context = st.session_state.get(_CONTEXT_KEY)
    if context is None:
        context = build_context(active_clinic(), CohortFilters())
    return context
