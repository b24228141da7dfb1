"""Blood pressure: pre-dose readings above the hold limit, and rises from pre-dose to peak.

Each session's flags are facts of the per-patient table (``safety_sessions``: NA when a
reading the flag needs is missing), worked out with the table's
:class:`~analytics.metrics.safety.settings.BPSettings`; a cohort's rates count them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from analytics.core.contract import ClinicData
from analytics.core.ids import text_of
from analytics.core.patient_table import PatientTable, kept_rows
from analytics.metrics.safety.facts import patient_ids_of, safety_table, settings_of
from analytics.metrics.safety.grouping import (
    distinct_per_group,
    grouping_of,
    level_rows,
    rate_frame,
)
from analytics.metrics.safety.settings import (
    BP_MEASURES,
    EFFECT_LEVEL_GROUPS,
    BPSettings,
    SafetySettings,
    order_groups,
)

__all__ = [
    "BP_MEASURES",
    "blood_pressure_rates",
    "blood_pressure_rates_from",
    "blood_pressure_sessions",
    "blood_pressure_sessions_from",
    "bp_rise_distribution",
    "bp_rise_distribution_from",
    "describe",
    "systolic_rises_from",
]

READINGS = ["bp_systolic_pre", "bp_diastolic_pre", "bp_systolic_peak", "bp_diastolic_peak"]


def blood_pressure_sessions_from(
    table: PatientTable, keep: np.ndarray, definitions=None
) -> pd.DataFrame:
    """One row per session of the cohort with its blood-pressure flags and rises.

    Parameters
    ----------
    table : PatientTable
        The clinic's per-patient table (with :func:`~analytics.metrics.safety.safety_facts`).
    keep : numpy.ndarray of bool
        The cohort (:meth:`PatientTable.keep`).
    definitions : OutcomeDefinitions, optional
        Not used; accepted for one signature.

    Returns
    -------
    pandas.DataFrame
        ``patient_id``, ``day``, ``session_number``, ``route``, the four readings,
        ``older`` (patient known to be ``older_age``+), ``systolic_limit`` (the pre-dose limit
        applied), ``pre_dose_above``, ``systolic_rise``, ``diastolic_rise`` (peak minus
        pre-dose, mmHg), ``systolic_rise_flag``, ``diastolic_rise_flag``, ``rise_flag``.
        Flags are nullable booleans, NA when a reading they need is missing.

    Notes
    -----
    * ``pre_dose_above``: systolic > limit or diastolic > ``diastolic_pre_max``; needs both
      pre-dose readings. Requiring the pair keeps the rate unbiased: otherwise a lone high
      systolic would count while a lone normal one could not.
    * ``systolic_rise_flag``: peak - pre >= ``rise_systolic`` (needs both systolic readings);
      ``diastolic_rise_flag`` likewise; ``rise_flag`` (either) needs all four readings.
    """
    bp = settings_of(table).bp
    sessions = table.long["safety_sessions"]
    rows = kept_rows(table.long["safety_sessions"], keep)
    codes = sessions["code"].to_numpy()[rows]
    routes = table.meta["safety_session_text"].get("route", [])
    route_codes = sessions["route_code"].to_numpy()[rows].astype("int64")
    route_text = pa.array([*routes, None], type=pa.large_string())
    readings = {column: sessions[column].to_numpy("float64")[rows] for column in READINGS}
    older = table.patients["safety_bp_older"].to_numpy(bool)[codes]
    flags = {
        column: sessions[column].array[rows]
        for column in ("pre_dose_above", "systolic_rise_flag", "diastolic_rise_flag", "rise_flag")
    }
    # one constructor call: adding columns one by one copies the frame's blocks each time
    return pd.DataFrame(
        {
            "patient_id": patient_ids_of(table, codes),
            "day": sessions["day"].to_numpy()[rows].astype("int64"),
            "session_number": sessions["session_number"].to_numpy()[rows].astype("int64"),
            "route": text_of(route_text, np.where(route_codes < 0, len(routes), route_codes)),
            **readings,
            "older": older,
            "systolic_limit": np.where(older, bp.systolic_pre_max_older, bp.systolic_pre_max),
            "pre_dose_above": flags["pre_dose_above"],
            "systolic_rise": readings["bp_systolic_peak"] - readings["bp_systolic_pre"],
            "diastolic_rise": readings["bp_diastolic_peak"] - readings["bp_diastolic_pre"],
            "systolic_rise_flag": flags["systolic_rise_flag"],
            "diastolic_rise_flag": flags["diastolic_rise_flag"],
            "rise_flag": flags["rise_flag"],
        }
    )


def blood_pressure_sessions(data: ClinicData, settings: BPSettings | None = None) -> pd.DataFrame:
    """:func:`blood_pressure_sessions_from` for every patient of ``data``."""
    table = safety_table(data, SafetySettings(bp=settings or BPSettings()))
    return blood_pressure_sessions_from(table, table.keep(), None)


def blood_pressure_rates_from(
    table: PatientTable, keep: np.ndarray, definitions=None, *, by: str | None = None
) -> pd.DataFrame:
    """Per-session and per-patient rates of the blood-pressure flags for the cohort ``keep``.

    Parameters
    ----------
    table : PatientTable
        The clinic's per-patient table (with :func:`~analytics.metrics.safety.safety_facts`).
    keep : numpy.ndarray of bool
        The cohort (:meth:`PatientTable.keep`).
    definitions : OutcomeDefinitions, optional
        Not used; accepted for one signature.
    by : str, optional
        A session or patient grouping as for
        :func:`~analytics.metrics.safety.effect_rates_from` (not ``severity``/``serious``).

    Returns
    -------
    pandas.DataFrame
        ``measure`` (``pre_dose_above``, ``rise``, ``systolic_rise``, ``diastolic_rise``),
        ``group`` (only with ``by``), ``level``, ``k``, ``n``, ``rate``, ``ci_low``, ``ci_high``.
        Sessions missing a reading the measure needs are left out of its denominator; a patient
        is in the per-patient denominator when at least one of their sessions is.
    """
    if by in EFFECT_LEVEL_GROUPS:
        raise ValueError(f"blood pressure cannot be grouped by {by!r}")
    method = settings_of(table).ci_method
    grouping = grouping_of(table, by)
    rows: list[tuple] = []
    n_groups, size = len(grouping.labels), len(table)
    if grouping.kind in ("none", "patient"):
        # one group, or the patient's own: each patient's counts, no session rows to read
        p = table.patients
        codes = np.flatnonzero(keep)
        group = (
            np.zeros(len(codes), dtype="int64")
            if grouping.kind == "none"
            else grouping.patient_codes[codes]
        )
        sessions = np.bincount(
            group, weights=p["count_session_rows"].to_numpy()[codes], minlength=n_groups
        )
        present = [grouping.labels[g] for g in np.flatnonzero(sessions)]
        groups = order_groups(present, grouping.preferred)
        at_group = [grouping.labels.index(g) for g in groups]
        for measure in BP_MEASURES:
            yes = p[f"safety_bp_{measure}_sessions"].to_numpy()[codes]
            known = p[f"safety_bp_{measure}_recorded"].to_numpy()[codes]
            rows += level_rows(
                measure,
                groups,
                *(
                    np.bincount(group, weights=w, minlength=n_groups)[at_group]
                    for w in (yes > 0, yes, known > 0, known)
                ),
            )
        return rate_frame("measure", rows, method, grouped=by is not None)
    sessions = table.long["safety_sessions"]
    in_cohort = kept_rows(table.long["safety_sessions"], keep)
    group = grouping.session_codes(table)[in_cohort]
    codes = sessions["code"].to_numpy()[in_cohort]
    present = np.flatnonzero(np.bincount(group, minlength=n_groups))
    groups = order_groups([grouping.labels[g] for g in present], grouping.preferred)
    at_group = [grouping.labels.index(g) for g in groups]
    for measure, column in BP_MEASURES.items():
        flag = sessions[column].array[in_cohort]
        known = ~np.asarray(flag.isna(), dtype=bool)
        yes = known & flag.to_numpy(dtype=bool, na_value=False)
        yes_p, yes_s = distinct_per_group(group[yes], codes[yes], n_groups, size)
        known_p, known_s = distinct_per_group(group[known], codes[known], n_groups, size)
        rows += level_rows(
            measure, groups, yes_p[at_group], yes_s[at_group], known_p[at_group], known_s[at_group]
        )
    return rate_frame("measure", rows, method, grouped=True)


def blood_pressure_rates(
    data: ClinicData, settings: SafetySettings | None = None, *, by: str | None = None
) -> pd.DataFrame:
    """:func:`blood_pressure_rates_from` for every patient of ``data``."""
    if by in EFFECT_LEVEL_GROUPS:
        raise ValueError(f"blood pressure cannot be grouped by {by!r}")
    table = safety_table(data, settings)
    return blood_pressure_rates_from(table, table.keep(), None, by=by)


def describe(values) -> dict:
    """``n``, ``mean``, ``sd`` (n - 1), ``median``, ``p90`` (linear), ``min``, ``max`` of the
    values that are not NaN; NaN statistics when there are none (``sd`` needs two)."""
    v = pd.Series(values, copy=False).to_numpy(dtype=float, na_value=np.nan)
    v = v[~np.isnan(v)]  # dropna, in numpy
    n = len(v)
    return {
        "n": n,
        "mean": float(v.mean()) if n else np.nan,
        "sd": float(v.std(ddof=1)) if n > 1 else np.nan,
        "median": float(np.median(v)) if n else np.nan,
        "p90": float(np.quantile(v, 0.9)) if n else np.nan,
        "min": float(v.min()) if n else np.nan,
        "max": float(v.max()) if n else np.nan,
    }


def bp_rise_distribution(bp_sessions: pd.DataFrame) -> pd.DataFrame:
    """Distribution of peak minus pre-dose blood pressure over sessions.

    Parameters
    ----------
    bp_sessions : pandas.DataFrame
        The output of :func:`blood_pressure_sessions` (or its ``_from``).

    Returns
    -------
    pandas.DataFrame
        One row per ``measure`` (``systolic_rise``, ``diastolic_rise``): ``n`` (sessions with
        both readings), ``mean``, ``sd`` (n - 1), ``median``, ``p90`` (linear interpolation,
        numpy's default), ``min``, ``max``; mmHg.
    """
    rows = [{"measure": m, **describe(bp_sessions[m])} for m in ("systolic_rise", "diastolic_rise")]
    return pd.DataFrame(rows)


def bp_rise_distribution_from(
    table: PatientTable, keep: np.ndarray, definitions=None
) -> pd.DataFrame:
    """:func:`bp_rise_distribution` of the cohort's sessions, from the readings alone."""
    sessions = table.long["safety_sessions"]
    rows = kept_rows(table.long["safety_sessions"], keep)

    def reading(column: str) -> np.ndarray:
        return sessions[column].to_numpy("float64")[rows]

    rises = {
        "systolic_rise": reading("bp_systolic_peak") - reading("bp_systolic_pre"),
        "diastolic_rise": reading("bp_diastolic_peak") - reading("bp_diastolic_pre"),
    }
    return pd.DataFrame([{"measure": m, **describe(v)} for m, v in rises.items()])


def systolic_rises_from(table: PatientTable, keep: np.ndarray, definitions=None) -> pd.DataFrame:
    """The systolic rise (peak minus pre-dose, mmHg) of each of the cohort's sessions with both
    systolic readings, and the session's route: what a histogram of rises by route draws.

    Returns
    -------
    pandas.DataFrame
        ``route`` (categorical; NaN when not recorded) and ``systolic_rise``, in session order:
        the rows of :func:`blood_pressure_sessions_from` with a ``systolic_rise``, without
        building its other columns.
    """
    sessions = table.long["safety_sessions"]
    rows = kept_rows(table.long["safety_sessions"], keep)
    rise = (
        sessions["bp_systolic_peak"].to_numpy("float64")[rows]
        - sessions["bp_systolic_pre"].to_numpy("float64")[rows]
    )
    known = ~np.isnan(rise)
    routes = table.meta["safety_session_text"].get("route", [])
    route_codes = sessions["route_code"].to_numpy()[rows].astype("int64")[known]
    return pd.DataFrame(
        {
            "route": pd.Categorical.from_codes(route_codes, categories=routes),
            "systolic_rise": rise[known],
        }
    )
