"""How busy the clinic is: new patients starting treatment, and the sessions they were given.

Calendar dates are not kept (only the year, or with a limited data set the month, of each
patient's first session), so sessions are counted by the period in which their patient
*started*: a start cohort, not a calendar of visits. The label on screen says so.

Each patient's start period and sessions are worked out once (:func:`activity_facts`) and a
cohort's table is counted from those rows (:func:`activity_by_period_from`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.core.contract import ClinicData
from analytics.core.definitions import OutcomeDefinitions
from analytics.core.ids import PatientIndex
from analytics.core.patient_table import Facts, PatientTable

__all__ = ["ACTIVITY_COLUMNS", "activity_by_period", "activity_by_period_from", "activity_facts"]

# year, month (NA unless months were kept), new_starts, sessions (given to that start cohort)
ACTIVITY_COLUMNS = ["year", "month", "new_starts", "sessions"]


def activity_facts(data: ClinicData, definitions: OutcomeDefinitions, index: PatientIndex) -> Facts:
    """Each patient's start period (columns ``activity_*``; the sessions are the table's
    ``count_session_rows``).

    Parameters
    ----------
    data : ClinicData
        The whole clinic.
    definitions : OutcomeDefinitions
        Not used: activity does not depend on the outcome definitions.
    index : PatientIndex
        The patients: row ``i`` of the facts is code ``i``.

    Returns
    -------
    Facts
        ``patients``: ``activity_period`` (int64, the patient's start period as a position in
        ``meta["activity_periods"]``; -1 when the start year, or with months kept the month, is
        unknown). ``meta["activity_periods"]``: the start periods of the
        clinic in time order, each ``[year, month]`` (month None unless months are kept);
        ``meta["activity_months_kept"]``.
    """
    size = len(index)
    people = data.patients.drop_duplicates("patient_id")
    at = index.positions(people["patient_id"])
    year = np.full(size, -1, dtype="int64")
    month = np.full(size, -1, dtype="int64")
    found = at >= 0
    # -1 stands for unknown: a year or month is never negative
    for target, column in ((year, "first_session_year"), (month, "first_session_month")):
        values = people[column].astype("Int64").to_numpy("int64", na_value=-1)
        target[at[found]] = values[found]
    months_kept = bool(data.months_kept)
    if not months_kept:
        month[:] = -1
    known = (year >= 0) & ((month >= 0) | (not months_kept))
    keys = year * 100 + np.maximum(month, 0)
    periods, codes = np.unique(keys[known], return_inverse=True)
    period = np.full(size, -1, dtype="int64")
    period[known] = codes
    return Facts(
        patients=pd.DataFrame({"activity_period": period}),
        meta={
            "activity_periods": [
                [int(key // 100), int(key % 100) if months_kept else None] for key in periods
            ],
            "activity_months_kept": months_kept,
        },
    )


def activity_by_period_from(
    table: PatientTable, keep: np.ndarray, definitions: OutcomeDefinitions
) -> pd.DataFrame:
    """New starts and their sessions per start period, for the cohort ``keep``.

    Parameters
    ----------
    table : PatientTable
        The clinic's per-patient table (with :func:`activity_facts`).
    keep : numpy.ndarray of bool
        The cohort.
    definitions : OutcomeDefinitions
        Not used (activity does not depend on them); taken like every aggregation.

    Returns
    -------
    pandas.DataFrame
        One row per period with at least one start in the cohort, in time order: ``year``
        (int64), ``month`` (Int64; NA per year), ``new_starts`` (patients whose first session
        fell in the period) and ``sessions`` (every session of those patients, whenever it was
        given). Patients whose start is unknown (day-only exports), or with a start year but no
        session, are left out.
    """
    p = table.patients
    period = p["activity_period"].to_numpy("int64")
    sessions = p["count_session_rows"].to_numpy("int64")  # every table has the counts
    # a patient with a start year but no session (a year from patients.csv) did not start
    use = np.asarray(keep, dtype=bool) & (period >= 0) & (sessions > 0)
    periods = table.meta["activity_periods"]
    size = len(periods)
    starts = np.bincount(period[use], minlength=size)
    given = np.bincount(period[use], weights=sessions[use], minlength=size)
    shown = np.flatnonzero(starts > 0)
    months = [periods[i][1] for i in shown]
    return pd.DataFrame(
        {
            "year": np.array([periods[i][0] for i in shown], dtype="int64"),
            "month": pd.array([pd.NA if m is None else m for m in months], dtype="Int64"),
            "new_starts": starts[shown].astype("int64"),
            "sessions": given[shown].astype("int64"),
        }
    )[ACTIVITY_COLUMNS]


def activity_by_period(data: ClinicData) -> pd.DataFrame:
    """New starts and their sessions per first-session year, or per month when months are kept:
    :func:`activity_by_period_from` every patient of ``data``.

    Parameters
    ----------
    data : ClinicData
        The clinic or a cohort of it.

    Returns
    -------
    pandas.DataFrame
        As :func:`activity_by_period_from`.

    Examples
    --------
    >>> from analytics.core.contract import clinic_from_frames
    >>> import pandas as pd
    >>> clinic = clinic_from_frames(
    ...     sessions=pd.DataFrame({"patient_id": ["a", "a", "b"], "day": [0, 2, 0],
    ...                            "route": "iv_ketamine"}),
    ...     patients=pd.DataFrame({"patient_id": ["a", "b"], "first_session_year": [2024, 2025]}))
    >>> activity_by_period(clinic)[["year", "new_starts", "sessions"]].values.tolist()
    [[2024, 1, 2], [2025, 1, 1]]
    """
    definitions = OutcomeDefinitions()  # activity does not depend on the definitions
    table = PatientTable.of(data, definitions, activity_facts)
    return activity_by_period_from(table, table.keep(), definitions)
