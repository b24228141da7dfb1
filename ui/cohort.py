"""The cohort a page shows: the sidebar's filters, the patients they keep, and the page context."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from analytics.core.contract import ClinicData
from ui.clinic import Loaded, active_clinic
from ui.settings import settings_key

__all__ = [
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

# Display bands of baseline PCL-5. Ours, not validated: PCL-5 has no validated severity bands;
# 33 is the probable-PTSD cut-point (Bovin et al. 2016, doi:10.1037/pas0000254).
BAND_EDGES = (33, 50)
BAND_LABELS = ("PCL-5 < 33", "PCL-5 33-49", "PCL-5 >= 50")
BAND_HELP = (
    "Groups of the PCL-5 total before treatment, made for this dashboard: the PCL-5 has no "
    "official severity bands. 33 is the usual score for probable PTSD."
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
                _column_words(column),
                values,
                key=f"filter_{key}",
                placeholder="All",
                help=f"Patients whose {_column_words(column).lower()} is one of those chosen, "
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


def _column_words(column: str) -> str:
    """An extra patient column's name as a label: ``referral_source`` -> "Referral source"."""
    return column.replace("_", " ").strip().capitalize()


# The short slug of each baseline band in a file name.
_BAND_SLUGS = dict(zip(BAND_LABELS, ("pcl5-below-33", "pcl5-33-49", "pcl5-50-up"), strict=True))


def _either(values) -> str:
    words = [str(v) for v in values]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def describe_filters(filters: CohortFilters) -> list[str]:
    """Each active filter in words, in the sidebar's order; empty when none is on.

    Examples
    --------
    >>> describe_filters(CohortFilters(routes=("iv_ketamine",), sites=("North",), years=(2025,)))
    ['IV ketamine', 'North', 'first session 2025']
    """
    parts = []
    if filters.routes:
        parts.append(_either(_route_label(r) for r in filters.routes))
    if filters.sites:
        parts.append(_either(filters.sites))
    if filters.clinicians:
        parts.append(f"clinician {_either(filters.clinicians)}")
    if filters.years:
        parts.append(f"first session {_either(sorted(filters.years))}")
    if filters.bands:
        parts.append(f"baseline {_either(filters.bands)}")
    for column, values in filters.extra:
        parts.append(f"{_column_words(column).lower()} {_either(values)}")
    return parts


def filter_line(filters: CohortFilters, kept: int, total: int) -> str:
    """The compact line naming the cohort on screen.

    Examples
    --------
    >>> filter_line(CohortFilters(routes=("iv_ketamine",), sites=("North",)), 40, 250)
    'IV ketamine · North · 40 of 250 patients'
    """
    return " · ".join([*describe_filters(filters), f"{kept:,} of {total:,} patients"])


def _slug(value) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(value).lower()).strip("-")


def filters_slug(filters: CohortFilters, *, limit: int = 60) -> str:
    """The active filters as a short file-name part: ``iv-ketamine_north_2025`` ("" if none).

    Each filter is one part (its values joined by ``+``), in the order of
    :func:`describe_filters`. A slug longer than ``limit`` is cut and ends with a short hash
    of the whole, so two different cohorts never share a file name.

    Examples
    --------
    >>> filters_slug(CohortFilters(routes=("iv_ketamine",), sites=("North",), years=(2025,)))
    'iv-ketamine_north_2025'
    """
    if not filters.active:
        return ""
    parts = [
        "+".join(_slug(r) for r in filters.routes),
        "+".join(_slug(s) for s in filters.sites),
        "+".join(_slug(c) for c in filters.clinicians),
        "+".join(str(y) for y in sorted(filters.years)),
        "+".join(_BAND_SLUGS.get(b, _slug(b)) for b in filters.bands),
        *(f"{_slug(c)}-" + "+".join(_slug(v) for v in values) for c, values in filters.extra),
    ]
    slug = "_".join(p for p in parts if p)
    if len(slug) > limit:
        digest = hashlib.sha256(slug.encode()).hexdigest()[:6]
        slug = f"{slug[: limit - 7].rstrip('_+-')}-{digest}"
    return slug


def clear_filters() -> None:
    """Empty every cohort filter of the sidebar (a button's callback, so it runs before the
    widgets are drawn again)."""
    for key in list(st.session_state.keys()):
        if str(key).startswith("filter_"):
            st.session_state[key] = []


def _route_label(code: str) -> str:
    from charts.figures import route_label

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
