"""The headless contract: every headline number of a clinic as one JSON-serialisable dict.

:func:`summary_of` adds up the rows of the clinic's per-patient table
(:mod:`analytics.report.patients`) for a cohort; the dashboard's pages call the same metric
aggregations on the same table, so a number has one source. Nothing is rounded; missing values
are None, never NaN.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from analytics.core.contract import ClinicData
from analytics.core.definitions import OutcomeDefinitions
from analytics.core.patient_table import PatientTable
from analytics.metrics.outcomes import baseline_stats_from, timepoint_outcomes_from

__all__ = [
    "DEFINITION_NAMES",
    "MAX_GROUPS",
    "SMALL_GROUP",
    "build_summary",
    "definition_name",
    "jsonable",
    "summary_of",
]

# CMS small-cell policy: no published cell from 1 to 10.
SMALL_GROUP = 11
# A split into more groups than this is not a summary any more.
MAX_GROUPS = 50
# The summary's definition keys in words, where the key alone would not read as words (the
# report and the export's definitions sheet name them so).
DEFINITION_NAMES = {
    "response_rule": "Response rule (as a setting)",
    "meaningful": "Meaningful change",
    "km_band": "Kaplan-Meier interval",
    "ci": "Confidence interval of a rate",
    "induction_sessions": "Induction (sessions)",
}
SAFETY_KEYS = (
    "exposure",
    "side_effects",
    "blood_pressure",
    "dissociation",
    "serious_events",
    "label_reference",
)


def definition_name(key: str) -> str:
    """A key of the summary's ``definitions`` in words.

    Examples
    --------
    >>> definition_name("km_band"), definition_name("data_cutoff")
    ('Kaplan-Meier interval', 'Data cutoff')
    """
    return DEFINITION_NAMES.get(key, key.replace("_", " ").capitalize())


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


def _group_values(table: PatientTable, by: str) -> pd.Series:
    from analytics.metrics.groups import MISSING_GROUP  # the label the cohort screens use

    if by not in table.meta.get("attributes", ()):
        usable = list(table.meta.get("attributes", ()))
        raise ValueError(f"cannot group by {by!r}; patients columns are {usable}")
    return table.patients[by].astype("string").fillna(MISSING_GROUP).rename(by)


def _outcome_block(table: PatientTable, keep: np.ndarray, definitions: OutcomeDefinitions):
    return {
        "baseline": baseline_stats_from(table, keep, definitions),
        "timepoints": [t.to_dict() for t in timepoint_outcomes_from(table, keep, definitions)],
    }


def _groups(
    table: PatientTable, keep: np.ndarray, definitions: OutcomeDefinitions, values: pd.Series
) -> dict:
    from analytics.metrics.safety import side_effect_summary_from

    present = values[keep]
    distinct = present.nunique()
    if distinct > MAX_GROUPS:
        raise ValueError(
            f"cannot group by {values.name!r}: {distinct} distinct values, at most {MAX_GROUPS}"
        )
    # One reliable-change threshold for every group, from the whole cohort's baseline SD.
    if definitions.reliability_sd is None:
        sd = baseline_stats_from(table, keep, definitions)["sd"]
        if sd is not None and sd > 0:
            definitions = dataclasses.replace(definitions, reliability_sd=sd)
    out = {}
    group_of = values.to_numpy(dtype=object)
    for value in sorted(pd.unique(present)):
        members = keep & (group_of == value)
        n_patients = int(members.sum())
        out[str(value)] = {
            "n_patients": n_patients,
            "small": n_patients < SMALL_GROUP,
            **_outcome_block(table, members, definitions),
            "side_effects": side_effect_summary_from(table, members, definitions),
        }
    return out


def summary_of(
    table: PatientTable,
    keep: np.ndarray,
    definitions: OutcomeDefinitions,
    *,
    by: str | None = None,
) -> dict:
    """Every headline outcome and safety number of the cohort ``keep``, JSON-serialisable.

    Parameters
    ----------
    table : PatientTable
        The clinic's per-patient table for ``definitions``
        (:func:`analytics.report.patients.patient_table`).
    keep : numpy.ndarray of bool
        The cohort: one flag per row of ``table`` (:meth:`PatientTable.keep`).
    definitions : OutcomeDefinitions
        The definitions the table was built with; printed in full under ``"definitions"``.
    by : str, optional
        A ``patients`` column (``"route"`` is the route of the patient's first session) to
        split the outcomes by, giving ``"groups"``.

    Returns
    -------
    dict
        ``counts``: ``patients`` (every patient of the cohort), ``sessions`` (one per patient
        and day), ``assessments`` (every assessment row, any instrument) and
        ``instrument_assessments`` (rows of this instrument, scoreable or not).
        ``instrument``, ``definitions`` (:meth:`OutcomeDefinitions.describe`),
        ``baseline`` (``{"n", "mean", "sd"}``),
        ``timepoints``: :meth:`TimepointOutcome.to_dict` for each timepoint with a score, in
        window order; each rate is ``{"k", "n", "rate", "ci_low", "ci_high"}``.
        ``durability``: :func:`analytics.metrics.durability.durability_summary_from`.
        ``activity``: new starts and their sessions per first-session year (or month).
        ``pcl5_depth`` (PCL-5 only): :func:`analytics.metrics.pcl5_depth.pcl5_depth_summary_from`.
        ``groups`` (only with ``by``): ``{value: {"n_patients", "small", "baseline",
        "timepoints", "side_effects"}}``, ``small`` when fewer than 11 patients; a missing
        value is the group ``"(not recorded)"`` (:data:`analytics.metrics.groups.MISSING_GROUP`).
        Every group uses the whole cohort's baseline SD for reliable change.
        ``exposure``, ``side_effects``, ``blood_pressure``, ``dissociation``: from
        :func:`analytics.metrics.safety.safety_summary_from`; also ``serious_events`` and
        ``label_reference`` (the Spravato label's trial frequencies, another population), and
        ``safety_settings`` (every threshold and band used).

    Raises
    ------
    ValueError
        When ``by`` is not a ``patients`` column, or splits into more than 50 groups.
    """
    from analytics.metrics.activity import activity_by_period_from
    from analytics.metrics.durability import durability_summary_from
    from analytics.metrics.pcl5_depth import pcl5_depth_summary_from
    from analytics.metrics.safety import safety_summary_from

    values = None if by is None else _group_values(table, by)
    p = table.patients

    def total(column: str) -> int:
        return int(p[column].to_numpy()[keep].sum())

    summary = {
        "counts": {
            "patients": int(keep.sum()),
            "sessions": total("count_sessions"),
            "assessments": total("count_assessments"),
            "instrument_assessments": total("count_instrument_assessments"),
        },
        "instrument": definitions.instrument,
        "definitions": {**definitions.describe(), "data_cutoff": data_cutoff(table, keep)},
        **_outcome_block(table, keep, definitions),
        "durability": durability_summary_from(table, keep, definitions),
        "activity": activity_by_period_from(table, keep, definitions),
    }
    if definitions.instrument == "PCL-5":
        summary["pcl5_depth"] = pcl5_depth_summary_from(table, keep, definitions)
    if values is not None:
        summary["groups"] = _groups(table, keep, definitions, values)
    safety = safety_summary_from(table, keep, definitions)
    summary.update({key: safety[key] for key in SAFETY_KEYS if key in safety})
    summary["safety_settings"] = safety.get("settings")
    return jsonable(summary)


def data_cutoff(table: PatientTable, keep: np.ndarray) -> str:
    """Which follow-up the intention-to-treat denominators used, in words.

    The cutoff's calendar date is never kept (with each patient's follow-up days it would give
    back every first-session date), so this says where follow-up came from and for how many.
    """
    follow_up = table.patients["outcome_follow_up_days"].to_numpy(float)[keep]
    known = int(np.count_nonzero(~np.isnan(follow_up)))
    if not known:
        return (
            "no follow-up times (a day-only export without follow_up_days): every patient with "
            "a baseline who started treatment counts as due at every timepoint"
        )
    return (
        f"follow-up from each patient's first session to the data cutoff (the extract date "
        f"given at import, or the latest date in the upload), known for {known} of "
        f"{len(follow_up)} patients; the others count as due"
    )


def build_summary(
    data: ClinicData, definitions: OutcomeDefinitions, *, by: str | None = None
) -> dict:
    """:func:`summary_of` every patient of ``data``: the table is worked out, then added up.

    Parameters
    ----------
    data : ClinicData
        The clinic (or a cohort of it, filtered with :meth:`ClinicData.with_patients`).
    definitions : OutcomeDefinitions
    by : str, optional
        A ``patients`` column to split the outcomes by.

    Returns
    -------
    dict
        As :func:`summary_of`.
    """
    from analytics.report.patients import patient_table

    table = patient_table(data, definitions)
    return summary_of(table, table.keep(), definitions, by=by)
