"""Serious events: every side-effect report marked serious, listed one by one."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.core.contract import ClinicData
from analytics.core.patient_table import PatientTable
from analytics.metrics.safety.facts import patient_ids_of, safety_table

__all__ = ["serious_events", "serious_events_from"]


def serious_events_from(table: PatientTable, keep: np.ndarray, definitions=None) -> pd.DataFrame:
    """Every side-effect report of the cohort marked serious, one row each.

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
        ``patient_id``, ``day``, ``session_number``, ``route`` (the session's; NA when the
        report matches no session), ``effect``, ``severity``; sorted by patient, day and effect.
        Reports with ``serious`` not recorded are not listed.
    """
    serious = table.long["safety_serious"]
    rows = serious[keep[serious["code"].to_numpy()]]
    out = pd.DataFrame({"patient_id": patient_ids_of(table, rows["code"].to_numpy())})
    for column in ("day", "session_number", "route", "effect", "severity"):
        out[column] = rows[column].array
    return out


def serious_events(data: ClinicData) -> pd.DataFrame:
    """:func:`serious_events_from` for every patient of ``data``."""
    table = safety_table(data)
    return serious_events_from(table, table.keep(), None)
