"""Every safety number of a cohort as one JSON-serialisable dict (the headless contract's part)."""

from __future__ import annotations

import json

import numpy as np

from analytics.core.contract import ClinicData
from analytics.core.patient_table import PatientTable
from analytics.metrics.safety.blood_pressure import (
    blood_pressure_rates_from,
    bp_rise_distribution_from,
)
from analytics.metrics.safety.dissociation import (
    cadss_by_session_band_from,
    cadss_distribution_from,
    cadss_trend_from,
)
from analytics.metrics.safety.effects import effect_rates_from, side_effect_entries
from analytics.metrics.safety.facts import safety_table, settings_of
from analytics.metrics.safety.grouping import first_rates
from analytics.metrics.safety.serious import serious_events_from
from analytics.metrics.safety.settings import (
    BP_MEASURES,
    PATIENT,
    SESSION,
    SafetySettings,
    json_value,
)

__all__ = ["exposure_from", "safety_summary", "safety_summary_from"]


def exposure_from(table: PatientTable, keep: np.ndarray, definitions=None) -> dict:
    """The side-effect denominators of the cohort: ``patients`` with a session, ``sessions``
    (rows of sessions.csv), from each patient's count alone."""
    sessions = table.patients["count_session_rows"].to_numpy()
    return {
        "patients": int(np.count_nonzero(keep & (sessions > 0))),
        "sessions": int(sessions[keep].sum()),
    }


def safety_summary_from(table: PatientTable, keep: np.ndarray, definitions=None) -> dict:
    """Every safety number of the cohort ``keep`` as a JSON-serialisable dict (None for missing).

    Parameters
    ----------
    table : PatientTable
        The clinic's per-patient table (with :func:`~analytics.metrics.safety.safety_facts`).
    keep : numpy.ndarray of bool
        The cohort (:meth:`PatientTable.keep`).
    definitions : OutcomeDefinitions, optional
        Not used (safety's settings are the table's); accepted for one signature.

    Returns
    -------
    dict
        ``settings``: the thresholds and bands used.
        ``exposure``: ``{"patients", "sessions"}``, the side-effect denominators (reported even
        when no effect was): patients with a session, and session rows.
        ``side_effects``: one entry per effect seen, most patients first, then the session
        flags: ``{"effect", "label", "basis", "patients": RATE, "sessions": RATE}``, ``basis``
        being ``"report"`` or ``"session flag"`` (rate among sessions where recorded). The
        reported ``dissociation`` ("Dissociation (reported side effect)") and the session
        field ``dissociation_flag`` ("Dissociation at the session (REMS yes/no)") are two
        entries with different denominators; likewise sedation.
        ``blood_pressure``: ``{"thresholds", "pre_dose_above", "rise", "systolic_rise",
        "diastolic_rise"`` (each ``{"sessions": RATE, "patients": RATE}``),
        ``"rise_distribution"`` (``{"systolic": {...}, "diastolic": {...}}``),
        ``"label_reference"``}.
        ``dissociation``: CADSS ``n_sessions``, ``n_patients``, ``mean``, ``sd``, ``median``,
        ``p90``, ``by_session_band`` (list), ``trend``, and ``session_flag``: the REMS yes/no
        field's rates (the same numbers as the ``dissociation_flag`` entry of
        ``side_effects``), not the reported side effect.
        ``serious_events``: list of ``{"patient_id", "day", "session_number", "route",
        "effect", "severity"}``.
        ``label_reference``: the SPRAVATO label table as a list of dicts.
        RATE is ``{"k", "n", "rate", "ci_low", "ci_high"}``.

    Notes
    -----
    Counts here are not suppressed for small cells; a published export must apply its own
    small-cell rule.
    """
    from analytics.reference.spravato_label import LABEL_BP_RISE, label_reference

    settings = settings_of(table)
    method = settings.ci_method
    rates = effect_rates_from(table, keep, definitions)
    rate_of = first_rates(rates, "effect", method)

    bp_rates = blood_pressure_rates_from(table, keep, definitions)
    rise = bp_rise_distribution_from(table, keep, definitions).set_index("measure")
    bp_rate_of = first_rates(bp_rates, "measure", method)
    blood_pressure = {
        "thresholds": settings.bp.to_dict(),
        **{
            measure: {
                "sessions": bp_rate_of(measure, SESSION),
                "patients": bp_rate_of(measure, PATIENT),
            }
            for measure in BP_MEASURES
        },
        "rise_distribution": {
            "systolic": json_value(rise.loc["systolic_rise"].to_dict()),
            "diastolic": json_value(rise.loc["diastolic_rise"].to_dict()),
        },
        "label_reference": json_value(dict(LABEL_BP_RISE)),
    }
    for part in blood_pressure["rise_distribution"].values():
        part["n"] = int(part["n"])

    bands = cadss_by_session_band_from(table, keep, definitions)
    flag = "dissociation_flag"
    dissociation = {
        **json_value(cadss_distribution_from(table, keep, definitions)),
        "by_session_band": json_value(bands.to_dict(orient="records")),
        "trend": cadss_trend_from(table, keep, definitions).to_dict(),
        "session_flag": {
            "sessions": rate_of(flag, SESSION),
            "patients": rate_of(flag, PATIENT),
        },
    }

    serious = serious_events_from(table, keep, definitions).astype(object)
    serious = serious.where(serious.notna(), None)
    summary = {
        "settings": settings.to_dict(),
        "exposure": exposure_from(table, keep, definitions),
        "side_effects": side_effect_entries(rates, method),
        "blood_pressure": blood_pressure,
        "dissociation": dissociation,
        "serious_events": json_value(serious.to_dict(orient="records")),
        "label_reference": json_value(label_reference().to_dict(orient="records")),
    }
    json.dumps(summary, allow_nan=False)  # fail here, not in the caller, if anything slipped
    return summary


def safety_summary(data: ClinicData, settings: SafetySettings | None = None) -> dict:
    """:func:`safety_summary_from` for every patient of ``data``."""
    table = safety_table(data, settings)
    return safety_summary_from(table, table.keep(), None)
