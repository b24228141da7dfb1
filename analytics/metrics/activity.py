"""How busy the clinic is: new patients starting treatment, and the sessions they were given.

Calendar dates are not kept (only the year, or with a limited data set the month, of each
patient's first session), so sessions are counted by the period in which their patient
*started*: a start cohort, not a calendar of visits. The label on screen says so.
"""

from __future__ import annotations

import pandas as pd

from analytics.core.contract import ClinicData

__all__ = ["ACTIVITY_COLUMNS", "activity_by_period"]

# year, month (NA unless months were kept), new_starts, sessions (given to that start cohort)
ACTIVITY_COLUMNS = ["year", "month", "new_starts", "sessions"]


def activity_by_period(data: ClinicData) -> pd.DataFrame:
    """New starts and their sessions per first-session year, or per month when months are kept.

    Parameters
    ----------
    data : ClinicData
        The clinic or a cohort of it.

    Returns
    -------
    pandas.DataFrame
        One row per period with at least one start, in time order: ``year`` (int), ``month``
        (Int64; NA per year), ``new_starts`` (patients whose first session fell in the period)
        and ``sessions`` (every session of those patients, whenever it was given). Patients
        whose start year is unknown (day-only exports) are left out.

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
    patients = data.patients
    keys = ["year", "month"] if data.months_kept else ["year"]
    starts = pd.DataFrame(
        {
            "patient_id": patients["patient_id"],
            "year": patients["first_session_year"].astype("Int64"),
            "month": patients["first_session_month"].astype("Int64"),
        }
    ).dropna(subset=keys)
    if not data.months_kept:
        starts["month"] = pd.NA
    sessions_per_patient = data.sessions.groupby("patient_id", sort=False).size()
    starts["sessions"] = starts["patient_id"].map(sessions_per_patient).fillna(0).astype("int64")
    # a patient with a start year but no session (a year from patients.csv) did not start
    starts = starts[starts["sessions"] > 0]
    table = (
        starts.groupby(keys, sort=True)
        .agg(new_starts=("patient_id", "size"), sessions=("sessions", "sum"))
        .reset_index()
    )
    if "month" not in table:
        table["month"] = pd.array([pd.NA] * len(table), dtype="Int64")
    table["year"] = table["year"].astype("int64")
    return table[ACTIVITY_COLUMNS].reset_index(drop=True)
