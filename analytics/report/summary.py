"""The headless contract: every headline number of a clinic as one JSON-serialisable dict.

The dashboard, the command line (``python -m analytics summary``) and the report all read this
dict, so a number has one source. Nothing is rounded; missing values are None, never NaN.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from analytics.core.contract import ClinicData
from analytics.core.definitions import OutcomeDefinitions
from analytics.core.ids import factorize_ids
from analytics.metrics.outcomes import baseline_stats, timepoint_outcomes
from analytics.metrics.timepoints import shared_intermediates

__all__ = ["MAX_GROUPS", "SMALL_GROUP", "build_summary", "jsonable"]

# CMS small-cell policy: no published cell from 1 to 10.
SMALL_GROUP = 11
# A split into more groups than this is not a summary any more.
MAX_GROUPS = 50
SAFETY_KEYS = (
    "exposure",
    "side_effects",
    "blood_pressure",
    "dissociation",
    "serious_events",
    "label_reference",
)


def jsonable(value):
    """``value`` with numpy scalars, NA/NaN, dataclasses, tuples and frames made plain JSON."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return jsonable(value.to_dict(orient="records"))
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _distinct_sessions(sessions: pd.DataFrame) -> int:
    """Distinct (patient_id, day) pairs: ``len(drop_duplicates())`` on integer codes."""
    codes, _ = factorize_ids(sessions["patient_id"])
    day = sessions["day"].to_numpy(dtype="int64")
    if not len(day):
        return 0
    span = int(day.max()) - int(day.min()) + 1
    keys = (codes.astype("int64") + 1) * span + (day - day.min())  # a missing id is code -1
    if np.all(keys[1:] >= keys[:-1]):  # sorted by patient then day, as the contract has it
        return int(1 + np.count_nonzero(np.diff(keys)))
    return int(len(np.unique(keys)))


def _outcome_block(data: ClinicData, definitions: OutcomeDefinitions) -> dict:
    return {
        "baseline": baseline_stats(data, definitions),
        "timepoints": [t.to_dict() for t in timepoint_outcomes(data, definitions)],
    }


def _group_values(data: ClinicData, by: str) -> pd.Series:
    if by not in data.patients.columns or by == "patient_id":
        usable = [c for c in data.patients.columns if c != "patient_id"]
        raise ValueError(f"cannot group by {by!r}; patients columns are {usable}")
    from analytics.metrics.groups import MISSING_GROUP  # the label the cohort screens use

    values = data.patients[by].astype("string").fillna(MISSING_GROUP)
    distinct = values.nunique()
    if distinct > MAX_GROUPS:
        raise ValueError(
            f"cannot group by {by!r}: {distinct} distinct values, at most {MAX_GROUPS}"
        )
    return values


def _cohorts(data: ClinicData, values: pd.Series) -> dict:
    """Each group's clinic, filtered once for its outcomes and its side effects."""
    ids = data.patients["patient_id"].astype("string")
    return {value: data.with_patients(ids[values == value]) for value in sorted(pd.unique(values))}


def _groups(
    data: ClinicData, definitions: OutcomeDefinitions, values: pd.Series, cohorts: dict
) -> dict:
    ids = data.patients["patient_id"].astype("string")
    distinct = pd.unique(values)
    # One reliable-change threshold for every group, from the whole cohort's baseline SD.
    if definitions.reliability_sd is None:
        sd = baseline_stats(data, definitions)["sd"]
        if sd is not None and sd > 0:
            definitions = dataclasses.replace(definitions, reliability_sd=sd)
    out = {}
    for value in sorted(distinct):
        members = ids[values == value]
        n_patients = int(members.nunique())
        out[str(value)] = {
            "n_patients": n_patients,
            "small": n_patients < SMALL_GROUP,
            **_outcome_block(cohorts[value], definitions),
        }
    return out


def build_summary(
    data: ClinicData, definitions: OutcomeDefinitions, *, by: str | None = None
) -> dict:
    """Every headline outcome and safety number of ``data``, JSON-serialisable.

    Parameters
    ----------
    data : ClinicData
        The clinic (or a cohort of it: filter first with :meth:`ClinicData.with_patients`).
    definitions : OutcomeDefinitions
        The outcome definitions; printed in full under ``"definitions"``.
    by : str, optional
        A ``patients`` column (``"route"`` is the route of the patient's first session) to split
        the outcomes by, giving ``"groups"``.

    Returns
    -------
    dict
        ``counts``: ``patients`` (rows of ``data.patients``, every id seen in any table),
        ``sessions`` (rows of ``sessions``; one per patient and day), ``assessments`` (every
        assessment row, any instrument) and ``instrument_assessments`` (rows of this
        instrument, scoreable or not).
        ``instrument``, ``definitions`` (:meth:`OutcomeDefinitions.describe`),
        ``baseline`` (``{"n", "mean", "sd"}``),
        ``timepoints``: :meth:`TimepointOutcome.to_dict` for each timepoint with a score, in
        window order; each rate is ``{"k", "n", "rate", "ci_low", "ci_high"}``.
        ``durability``: :func:`analytics.metrics.durability.durability_summary`.
        ``activity``: new starts and their sessions per first-session year (or month), from
        :func:`analytics.metrics.activity.activity_by_period`.
        ``pcl5_depth`` (PCL-5 only): :func:`analytics.metrics.pcl5_depth.pcl5_depth_summary`.
        ``groups`` (only with ``by``): ``{value: {"n_patients", "small", "baseline",
        "timepoints"}}``, ``small`` when fewer than 11 patients; a missing value is the group
        ``"(not recorded)"`` (:data:`analytics.metrics.groups.MISSING_GROUP`). Every group uses the
        whole cohort's baseline SD for reliable change.
        ``exposure``, ``side_effects``, ``blood_pressure``, ``dissociation``: from
        :func:`analytics.metrics.safety.safety_summary`; also ``serious_events`` and
        ``label_reference`` (the Spravato label's trial frequencies, another population), and
        ``safety_settings`` (every threshold and band used). With ``by``, each group also gets
        its own ``side_effects`` so a route's per-patient rates can be set beside the label.

    Raises
    ------
    ValueError
        When ``by`` is not a ``patients`` column, or splits into more than 50 groups.
    """
    with shared_intermediates():  # baselines and timepoint scores are computed once
        return _build_summary(data, definitions, by=by)


def _build_summary(data: ClinicData, definitions: OutcomeDefinitions, *, by: str | None) -> dict:
    from analytics.metrics.activity import activity_by_period
    from analytics.metrics.durability import durability_summary
    from analytics.metrics.pcl5_depth import pcl5_depth_summary
    from analytics.metrics.safety import safety_summary, side_effect_summary

    values = None if by is None else _group_values(data, by)
    assessments = data.assessments
    counts = {
        "patients": int(data.patients["patient_id"].nunique()),
        "sessions": _distinct_sessions(data.sessions),
        "assessments": int(len(assessments)),
        "instrument_assessments": int(
            (assessments["instrument"] == definitions.instrument).fillna(False).sum()
        ),
    }
    summary = {
        "counts": counts,
        "instrument": definitions.instrument,
        "definitions": definitions.describe(),
        **_outcome_block(data, definitions),
        "durability": durability_summary(data, definitions),
        "activity": activity_by_period(data),
    }
    if definitions.instrument == "PCL-5":
        summary["pcl5_depth"] = pcl5_depth_summary(data, definitions)
    cohorts = None if values is None else _cohorts(data, values)
    if values is not None:
        summary["groups"] = _groups(data, definitions, values, cohorts)
    safety = safety_summary(data)
    summary.update({key: safety[key] for key in SAFETY_KEYS if key in safety})
    summary["safety_settings"] = safety.get("settings")
    if values is not None:
        for value, cohort in cohorts.items():
            summary["groups"][str(value)]["side_effects"] = side_effect_summary(cohort)
    return jsonable(summary)
