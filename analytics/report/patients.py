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
from analytics.core.patient_table import Facts, PatientTable

__all__ = ["instrument_count_facts", "patient_table"]


def instrument_count_facts(
    data: ClinicData, definitions: OutcomeDefinitions, index: PatientIndex
) -> Facts:
    """Each patient's assessment rows of the definitions' instrument, scoreable or not.

    Examples
    --------
    >>> from analytics.core.contract import clinic_from_frames
    >>> from analytics.core.patient_table import patient_index
    >>> clinic = clinic_from_frames(assessments=pd.DataFrame({"patient_id": ["a", "a", "b"],
    ...     "day": [0, 3, 0], "instrument": ["PCL-5", "PHQ-9", "PCL-5"], "total": 30.0}))
    >>> facts = instrument_count_facts(clinic, OutcomeDefinitions(), patient_index(clinic))
    >>> facts.patients["count_instrument_assessments"].tolist()
    [1, 1]
    """
    a = data.assessments
    codes = index.positions(a["patient_id"])
    own = (a["instrument"] == definitions.instrument).fillna(False).to_numpy(bool) & (codes >= 0)
    return Facts(
        patients=pd.DataFrame(
            {"count_instrument_assessments": np.bincount(codes[own], minlength=len(index))}
        ).astype("int64"),
        meta={"instrument": definitions.instrument},
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
        instrument_count_facts,
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
    with shared_intermediates():  # baselines and timepoint scores are chosen once
        return PatientTable.of(data, definitions, *builders)
