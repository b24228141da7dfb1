"""A cohort of the clinic: the filters the dashboard's sidebar offers, headless.

The sidebar (:mod:`ui.cohort`), the board report and the per-patient export take the same
filters (:class:`CohortFilters`) and keep the same patients (:func:`cohort_ids`), so a report
made from the command line with ``--route iv_ketamine --year 2025`` is the report of the
cohort the sidebar shows for those choices.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from analytics.core.contract import ClinicData

__all__ = [
    "BAND_EDGES",
    "BAND_HELP",
    "BAND_LABELS",
    "BAND_SLUGS",
    "CohortFilters",
    "baseline_bands",
    "cohort_ids",
    "column_words",
    "describe_cohort",
    "describe_filters",
    "filter_options",
    "filters_slug",
    "route_words",
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
# The short slug of each baseline band in a file name and on the command line.
BAND_SLUGS = dict(zip(BAND_LABELS, ("pcl5-below-33", "pcl5-33-49", "pcl5-50-up"), strict=True))
# Patient columns offered as filters of their own: a free-text column (one value a patient)
# makes a poor filter.
MAX_FILTER_VALUES = 30


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


def filter_options(data: ClinicData) -> dict[str, list]:
    """The values each filter can take in ``data``: ``years``, ``routes``, ``sites``,
    ``clinicians`` and ``extra:COLUMN`` for each extra patient column of 2 to 30 values."""
    p, s = data.patients, data.sessions
    options = {
        "years": [int(y) for y in _options(p["first_session_year"])],
        "routes": _options(p["route"]),
        "sites": _options(s["site"]),
        "clinicians": _options(s["clinician"]),
    }
    for column in data.extra_patient_columns:
        if column in ("site", "clinician", "route"):
            continue  # already offered from the sessions table
        values = _options(p[column])
        if 1 < len(values) <= MAX_FILTER_VALUES:
            options[f"extra:{column}"] = values
    return options


def baseline_bands(data: ClinicData) -> pd.Series:
    """Baseline PCL-5 display band per patient id (index).

    Bands use the PCL-5's default baseline look-back, so changing a setting does not move a
    patient from one band to another.
    """
    from analytics.core.definitions import OutcomeDefinitions
    from analytics.metrics.timepoints import baseline_scores

    frame = baseline_scores(data, OutcomeDefinitions.for_instrument("PCL-5"))
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


def cohort_ids(
    data: ClinicData,
    filters: CohortFilters,
    *,
    members: Callable[[str], pd.DataFrame] | None = None,
    bands: pd.Series | None = None,
) -> pd.Index | None:
    """The ids of the patients the filters keep, or None when no filter is on (every patient).

    Parameters
    ----------
    data : ClinicData
    filters : CohortFilters
    members : callable, optional
        ``column -> session_members(data, column)``; the dashboard passes its cached one.
    bands : pandas.Series, optional
        :func:`baseline_bands` of ``data``, likewise.
    """
    from analytics.core.ids import isin_ids

    if not filters.active:
        return None
    p = data.patients
    keep = pd.Series(True, index=p.index)
    if filters.years:
        keep &= p["first_session_year"].isin(filters.years)
    if filters.routes:
        keep &= p["route"].isin(filters.routes)
    for column, values in filters.extra:
        keep &= p[column].isin(values)
    ids = p.loc[keep, "patient_id"]
    for column, values in (("site", filters.sites), ("clinician", filters.clinicians)):
        if values:
            pairs = members(column) if members is not None else session_members(data, column)
            ids = ids[isin_ids(ids, pairs.loc[pairs[column].isin(values), "patient_id"])]
    if filters.bands:
        bands = baseline_bands(data) if bands is None else bands
        ids = ids[isin_ids(ids, bands.index[bands.isin(filters.bands)])]
    return pd.Index(ids.drop_duplicates())


def route_words(code: str) -> str:
    """A route code in words: ``"iv_ketamine"`` -> ``"IV ketamine"``.

    Examples
    --------
    >>> route_words("esketamine_nasal"), route_words("some_new_route")
    ('Esketamine nasal spray (Spravato)', 'some new route')
    """
    from analytics.ingest.vocabularies import ROUTES

    return ROUTES.get(code) or str(code).replace("_", " ")


def column_words(column: str) -> str:
    """An extra patient column's name as a label: ``referral_source`` -> "Referral source"."""
    return column.replace("_", " ").strip().capitalize()


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
        parts.append(_either(route_words(r) for r in filters.routes))
    if filters.sites:
        parts.append(_either(filters.sites))
    if filters.clinicians:
        parts.append(f"clinician {_either(filters.clinicians)}")
    if filters.years:
        parts.append(f"first session {_either(sorted(filters.years))}")
    if filters.bands:
        parts.append(f"baseline {_either(filters.bands)}")
    for column, values in filters.extra:
        parts.append(f"{column_words(column).lower()} {_either(values)}")
    return parts


def describe_cohort(filters: CohortFilters) -> str:
    """The cohort in one line, for a report's cover and the audit log.

    Examples
    --------
    >>> describe_cohort(CohortFilters())
    'All patients'
    >>> describe_cohort(CohortFilters(routes=("iv_ketamine",), years=(2024, 2025)))
    'IV ketamine; first session 2024 or 2025'
    """
    return "; ".join(describe_filters(filters)) or "All patients"


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
        "+".join(BAND_SLUGS.get(b, _slug(b)) for b in filters.bands),
        *(f"{_slug(c)}-" + "+".join(_slug(v) for v in values) for c, values in filters.extra),
    ]
    slug = "_".join(p for p in parts if p)
    if len(slug) > limit:
        digest = hashlib.sha256(slug.encode()).hexdigest()[:6]
        slug = f"{slug[: limit - 7].rstrip('_+-')}-{digest}"
    return slug
