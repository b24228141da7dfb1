"""The clinic's per-patient table: every metric module's facts about each patient, side by side.

Every number the dashboard, the command line and the exports show is an aggregation of this one
table (:class:`analytics.core.patient_table.PatientTable`), worked out once per data version and
definitions: the patients' own columns, counts of their rows, and each metric module's facts
(``docs/patient-table.md`` lists every column and long table).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.core.contract import ClinicData
from analytics.core.definitions import OutcomeDefinitions
from analytics.core.ids import PatientIndex
from analytics.core.patient_table import Facts, PatientTable, attribute_facts, patient_index

__all__ = ["count_facts", "patient_table"]


def _per_patient(codes: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(codes[codes >= 0], minlength=size).astype("int64")


def count_facts(data: ClinicData, definitions: OutcomeDefinitions, index: PatientIndex) -> Facts:
    """Each patient's rows: sessions (one per patient and day), assessments of any instrument
    and of the definitions' instrument.

    Examples
    --------
    >>> from analytics.core.contract import clinic_from_frames
    >>> clinic = clinic_from_frames(sessions=pd.DataFrame({"patient_id": ["a", "a", "b"],
    ...     "day": [0, 3, 0], "route": "iv_ketamine"}))
    >>> index = patient_index(clinic)
    >>> count_facts(clinic, OutcomeDefinitions(), index).patients["count_sessions"].tolist()
    [2, 1]
    """
    size = len(index)
    s = data.sessions
    codes = index.positions(s["patient_id"])
    days = s["day"].to_numpy("int64")
    # one session per patient and day: distinct (code, day) pairs
    keys = codes.astype("int64") * (1 << 32) + (days + (1 << 31))
    first = np.ones(len(keys), dtype=bool)
    if len(keys) and np.all(keys[1:] >= keys[:-1]):  # the contract's order
        first[1:] = keys[1:] != keys[:-1]
    else:
        first = ~pd.Series(keys).duplicated().to_numpy()
    a = data.assessments
    a_codes = index.positions(a["patient_id"])
    own = (a["instrument"] == definitions.instrument).fillna(False).to_numpy(bool)
    return Facts(
        patients=pd.DataFrame(
            {
                "count_session_rows": _per_patient(codes, size),
                "count_sessions": _per_patient(codes[first], size),
                "count_assessments": _per_patient(a_codes, size),
                "count_instrument_assessments": _per_patient(a_codes[own], size),
            }
        ),
        meta={"instrument": definitions.instrument, "months_kept": bool(data.months_kept)},
    )


def patient_table(data: ClinicData, definitions: OutcomeDefinitions) -> PatientTable:
    """Every patient's facts for ``definitions``: the one table every number adds up.

    Parameters
    ----------
    data : ClinicData
        The whole clinic: cohorts are rows of the table (:meth:`PatientTable.keep`).
    definitions : OutcomeDefinitions
        Instrument, windows and rules; a table holds one set of definitions.

    Returns
    -------
    PatientTable
    """
    from analytics.metrics.activity import activity_facts
    from analytics.metrics.attrition import attrition_facts
    from analytics.metrics.claims import claims_facts
    from analytics.metrics.durability import durability_facts
    from analytics.metrics.not_on_track import not_on_track_facts
    from analytics.metrics.outcomes import outcome_facts
    from analytics.metrics.pcl5_depth import pcl5_depth_facts
    from analytics.metrics.safety import safety_facts
    from analytics.metrics.timepoints import shared_intermediates
    from analytics.metrics.trajectories import trajectory_facts

    builders = (
        count_facts,
        outcome_facts,
        trajectory_facts,
        pcl5_depth_facts,
        durability_facts,
        attrition_facts,
        activity_facts,
        not_on_track_facts,
        claims_facts,
        safety_facts,
    )
    index = patient_index(data)
    with shared_intermediates():  # baselines and timepoint scores are chosen once
        facts = [attribute_facts(data, index)]
        facts += [build(data, definitions, index) for build in builders]
    return PatientTable.from_facts(index, facts)
