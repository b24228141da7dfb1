"""The canonical tables every analysis reads.

The importer (:mod:`analytics.ingest.importer`) is the only producer of these frames; every other module
in :mod:`analytics` consumes them and may rely on what is written here without re-checking it.
The CSV contract a clinic uploads is documented in ``docs/data-contract.md``; this module is the
shape the data has *after* import: dates turned into days, vocabularies normalised, instruments
scored.

Time is always ``day``: whole days since the patient's first treatment session (day 0). Calendar
dates are never kept; only the year (and, when the clinic allows it, the month) of the first
session survives in ``patients``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "ASSESSMENT_COLUMNS",
    "ClinicData",
    "MAX_ITEMS",
    "FOLLOW_UP_COLUMN",
    "PATIENT_BASE_COLUMNS",
    "PATIENT_COLUMNS",
    "SESSION_COLUMNS",
    "SIDE_EFFECT_COLUMNS",
    "clinic_from_frames",
    "empty_clinic",
    "item_columns",
]

# Most items of any instrument in the registry (BDI-II has 21).
MAX_ITEMS = 21


def item_columns(n: int = MAX_ITEMS) -> list[str]:
    """Names of the canonical item columns ``item_1`` .. ``item_n``."""
    return [f"item_{i}" for i in range(1, n + 1)]


# patients: one row per patient id seen in *any* table.
#   patient_id           string   pseudonymous id, as the clinic wrote it
#   first_session_year   Int64    year of day 0; NA when unknown (day-only exports, no sessions)
#   first_session_month  Int64    1-12 only when the import kept months; otherwise NA
#   route                string   canonical route of the first session; NA without sessions
#   follow_up_days       Int64    days from day 0 to the data cutoff (the latest date anywhere in
#                                 the import, or the extract date given): how long the patient
#                                 could have been followed; NA when unknown (day-only exports
#                                 without a follow_up_days column)
# then every extra column of patients.csv, as string, in upload order (cohort filters).
PATIENT_BASE_COLUMNS = ["patient_id", "first_session_year", "first_session_month", "route"]
# Not stored with the patient's row: each export has a later cutoff (see store.models).
FOLLOW_UP_COLUMN = "follow_up_days"

# sessions: one row per treatment session; (patient_id, day) is unique.
#   day              int64    days since first session (the first session is day 0)
#   session_number   int64    1 for the first session, counting up by day
#   route            string   canonical route code (see analytics.ingest.vocabularies.ROUTES)
#   dose_mg .. dissociation_cadss   float64 (NaN when not recorded)
#   sedation, dissociation          boolean (nullable; NA when not recorded)
#   clinician, site                 string
#   phase                           string  "induction" | "maintenance" | NA
SESSION_COLUMNS = [
    "patient_id",
    "day",
    "session_number",
    "route",
    "dose_mg",
    "dose_mg_per_kg",
    "bp_systolic_pre",
    "bp_diastolic_pre",
    "bp_systolic_peak",
    "bp_diastolic_peak",
    "dissociation_cadss",
    "sedation",
    "dissociation",
    "clinician",
    "site",
    "phase",
]

# assessments: one row per completed questionnaire; (patient_id, day, instrument) is unique.
#   instrument      string   canonical name: "PCL-5", "PHQ-9", "GAD-7", "BDI-II", "MADRS"
#   total           float64  NaN when the form is not scoreable (missing items, no proration)
#   prorated        bool     total was prorated from at most 2 missing items
#   item_1..item_21 float64  NaN when unanswered or beyond the instrument's item count
#   cluster_b..e    float64  PCL-5 only (NaN otherwise, or when a cluster item is missing)
#   provisional_dx  boolean  PCL-5 DSM-5 provisional diagnosis; NA unless every item answered
# A form with every item blank and no total is not a row: it is missing, not 0.
ASSESSMENT_COLUMNS = [
    "patient_id",
    "day",
    "instrument",
    "total",
    "prorated",
    *item_columns(),
    "cluster_b",
    "cluster_c",
    "cluster_d",
    "cluster_e",
    "provisional_dx",
]

# side_effects: one row per effect observed at a session; each row matches a session.
#   day             int64    the session's day
#   session_number  int64    the session's number
#   effect          string   canonical effect code (see analytics.ingest.vocabularies.EFFECTS)
#   severity        string   "mild" | "moderate" | "severe" | NA
#   serious         boolean  NA when not recorded
SIDE_EFFECT_COLUMNS = ["patient_id", "day", "session_number", "effect", "severity", "serious"]


@dataclass(frozen=True)
class ClinicData:
    """The four canonical tables of one clinic, validated and time-aligned.

    Attributes
    ----------
    patients, sessions, assessments, side_effects : pandas.DataFrame
        Frames with the columns listed in this module, sorted by ``patient_id`` then ``day``.
        ``sessions`` and ``side_effects`` may be empty (zero rows, all columns present).
    has_sessions : bool
        False when the upload had no sessions table; assessment days are then taken as already
        relative to the first treatment, and intention-to-treat counts every patient with a
        baseline.
    months_kept : bool
        True when ``first_session_month`` was kept (a limited data set); False under Safe Harbor.
    """

    patients: pd.DataFrame
    sessions: pd.DataFrame
    assessments: pd.DataFrame
    side_effects: pd.DataFrame
    has_sessions: bool = True
    months_kept: bool = False
    extra_patient_columns: tuple[str, ...] = field(default=())

    def with_patients(self, patient_ids) -> ClinicData:
        """The same clinic restricted to ``patient_ids`` (a cohort filter)."""
        from analytics.core.ids import isin_ids  # integer-code isin; Arrow string isin is slow

        keep = pd.Index(patient_ids)

        def rows(frame: pd.DataFrame) -> pd.DataFrame:
            return frame[isin_ids(frame["patient_id"], keep)].reset_index(drop=True)

        return ClinicData(
            patients=rows(self.patients),
            sessions=rows(self.sessions),
            assessments=rows(self.assessments),
            side_effects=rows(self.side_effects),
            has_sessions=self.has_sessions,
            months_kept=self.months_kept,
            extra_patient_columns=self.extra_patient_columns,
        )


def _empty(columns: list[str], dtypes: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=dtypes.get(c, "float64")) for c in columns})


SESSION_DTYPES = {
    "patient_id": "string",
    "day": "int64",
    "session_number": "int64",
    "route": "string",
    "sedation": "boolean",
    "dissociation": "boolean",
    "clinician": "string",
    "site": "string",
    "phase": "string",
}
ASSESSMENT_DTYPES = {
    "patient_id": "string",
    "day": "int64",
    "instrument": "string",
    "prorated": "bool",
    "provisional_dx": "boolean",
}
SIDE_EFFECT_DTYPES = {
    "patient_id": "string",
    "day": "int64",
    "session_number": "int64",
    "effect": "string",
    "severity": "string",
    "serious": "boolean",
}
PATIENT_DTYPES = {
    "patient_id": "string",
    "first_session_year": "Int64",
    "first_session_month": "Int64",
    "route": "string",
    "follow_up_days": "Int64",
}
# The typed columns every patients frame has, before the extra ones.
PATIENT_COLUMNS = [*PATIENT_BASE_COLUMNS, FOLLOW_UP_COLUMN]


def empty_clinic() -> ClinicData:
    """A clinic with no rows, every column present: the dashboard's empty state."""
    return ClinicData(
        patients=_empty(PATIENT_COLUMNS, PATIENT_DTYPES),
        sessions=_empty(SESSION_COLUMNS, SESSION_DTYPES),
        assessments=_empty(ASSESSMENT_COLUMNS, ASSESSMENT_DTYPES),
        side_effects=_empty(SIDE_EFFECT_COLUMNS, SIDE_EFFECT_DTYPES),
    )


def _conform(
    frame: pd.DataFrame | None, columns: list[str], dtypes: dict[str, str]
) -> pd.DataFrame:
    if frame is None:
        return _empty(columns, dtypes)
    # A shallow copy: pandas copies a column on write, so the caller's frame is never changed.
    out = frame.copy(deep=False)
    for column in columns:
        if column not in out:
            dtype = dtypes.get(column, "float64")
            fill = {"float64": float("nan"), "bool": False}.get(dtype, pd.NA)
            out[column] = pd.Series(fill, index=out.index, dtype=dtype)
        elif column in dtypes:
            out[column] = out[column].astype(dtypes[column])
        else:
            out[column] = out[column].astype("float64")
    extra = [c for c in out.columns if c not in columns]
    return out[columns + extra].reset_index(drop=True)


def clinic_from_frames(
    *,
    sessions: pd.DataFrame | None = None,
    assessments: pd.DataFrame | None = None,
    side_effects: pd.DataFrame | None = None,
    patients: pd.DataFrame | None = None,
    months_kept: bool = False,
) -> ClinicData:
    """Build a :class:`ClinicData` from partial canonical frames.

    For tests and generators that already hold canonical values (days, canonical codes): missing
    columns are added as NA with the contract's dtypes, ``session_number`` is derived when absent,
    side effects get their session number from ``sessions``, and ``patients`` gets a row for every
    id seen anywhere with the route of the first session. It does **not** validate: uploads go
    through :func:`analytics.ingest.importer.import_files`.
    """
    sessions_in = sessions if sessions is not None else None
    if sessions_in is not None and "session_number" not in sessions_in:
        sessions_in = sessions_in.sort_values(["patient_id", "day"], kind="stable")
        sessions_in = sessions_in.assign(
            session_number=sessions_in.groupby("patient_id").cumcount() + 1
        )
    s = _conform(sessions_in, SESSION_COLUMNS, SESSION_DTYPES)
    if side_effects is not None and "session_number" not in side_effects:
        side_effects = side_effects.merge(
            s[["patient_id", "day", "session_number"]].astype({"patient_id": object}),
            on=["patient_id", "day"],
            how="left",
        )
    a = _conform(assessments, ASSESSMENT_COLUMNS, ASSESSMENT_DTYPES | {"prorated": "bool"})
    if assessments is not None and "prorated" not in assessments:
        a["prorated"] = False
    e = _conform(side_effects, SIDE_EFFECT_COLUMNS, SIDE_EFFECT_DTYPES)
    ids = pd.unique(
        pd.concat(
            [s["patient_id"], a["patient_id"], e["patient_id"]]
            + ([patients["patient_id"].astype("string")] if patients is not None else [])
        )
    )
    s = sorted_by_patient_day(s)
    first = s.loc[first_of_patient(s["patient_id"]), ["patient_id", "route"]]
    base = pd.DataFrame({"patient_id": pd.array(ids, dtype="string")})
    base = base.merge(first, on="patient_id", how="left")
    extra_cols: tuple[str, ...] = ()
    if patients is not None:
        p = patients.copy()
        p["patient_id"] = p["patient_id"].astype("string")
        extra_cols = tuple(c for c in p.columns if c not in PATIENT_COLUMNS)
        given = ("first_session_year", "first_session_month", FOLLOW_UP_COLUMN)
        keep = ["patient_id", *[c for c in p.columns if c in given], *extra_cols]
        base = base.merge(p[keep], on="patient_id", how="left")
    pt = _conform(base, PATIENT_COLUMNS, PATIENT_DTYPES)
    for column in extra_cols:
        pt[column] = pt[column].astype("string")
    return ClinicData(
        patients=sorted_by_patient(pt),
        sessions=s,
        assessments=sorted_by_patient_day(a),
        side_effects=sorted_by_patient_day(e),
        has_sessions=sessions is not None,
        months_kept=months_kept,
        extra_patient_columns=extra_cols,
    )


def factorize_sorted(values: pd.Series) -> tuple[np.ndarray, int]:
    """``pd.factorize(values, sort=True)``'s codes (-1 for a missing value) and count of distinct
    values; Arrow-backed text is encoded and sorted in Arrow (code point order, as Python
    compares str), without a trip through Python objects.

    Examples
    --------
    >>> codes, n = factorize_sorted(pd.Series(["b", None, "a", "b"], dtype="string"))
    >>> codes.tolist(), n
    ([1, -1, 0, 1], 2)
    """
    dtype = values.dtype
    if not (len(values) and isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"):
        codes, uniques = pd.factorize(values, sort=True)
        return np.asarray(codes), len(uniques)
    arrow = values.array.__arrow_array__()
    if isinstance(arrow, pa.ChunkedArray):
        arrow = arrow.combine_chunks()
    encoded = arrow.dictionary_encode()
    order = np.asarray(pc.array_sort_indices(encoded.dictionary), dtype=np.int64)
    rank = np.empty(len(order) + 1, dtype=np.int64)
    rank[order] = np.arange(len(order))
    rank[-1] = -1  # a missing value
    indices = encoded.indices.fill_null(-1) if encoded.indices.null_count else encoded.indices
    return rank[np.asarray(indices.to_numpy(zero_copy_only=False), dtype=np.int64)], len(order)


def _patient_codes(ids: pd.Series) -> np.ndarray:
    """Integer codes of ``ids`` in sorted order of the ids, missing ids last (sort_values' order)."""
    codes, n_ids = factorize_sorted(ids)
    return np.where(codes < 0, n_ids, codes)


def sorted_by_patient_day(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame.sort_values(["patient_id", "day"]).reset_index(drop=True)``, on integer codes.

    That sort is stable (pandas sorts several keys with ``np.lexsort``), so sorting the codes of
    the ids and the days with ``np.lexsort`` gives the same order; a frame already in order (the
    importer's sessions) is not copied.
    """
    codes = _patient_codes(frame["patient_id"])
    day = frame["day"].to_numpy(dtype=np.int64)
    step = np.diff(codes)
    if bool(np.all((step > 0) | ((step == 0) & (np.diff(day) >= 0)))):
        return frame.reset_index(drop=True)
    return frame.take(np.lexsort((day, codes))).reset_index(drop=True)


def sorted_by_patient(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame.sort_values("patient_id").reset_index(drop=True)``, on integer codes when the ids
    are unique and present (the order is then the ids' order, whatever the sort algorithm)."""
    ids = frame["patient_id"]
    codes, n_ids = factorize_sorted(ids)
    if n_ids != len(ids) or (codes < 0).any():
        return frame.sort_values("patient_id").reset_index(drop=True)
    if bool(np.all(np.diff(codes) > 0)):
        return frame.reset_index(drop=True)
    return frame.take(np.argsort(codes)).reset_index(drop=True)


def first_of_patient(ids: pd.Series) -> np.ndarray:
    """Mask of the first row of each patient in a frame sorted by patient (missing ids last):
    what ``drop_duplicates("patient_id")`` keeps there."""
    codes = _patient_codes(ids)
    first = np.ones(len(codes), dtype=bool)
    first[1:] = codes[1:] != codes[:-1]
    return first
