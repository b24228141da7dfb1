"""The per-patient export: one row per patient, from which a spreadsheet recomputes every
headline rate of the summary.

Each row is the patient's facts from the per-patient table (:mod:`analytics.report.patients`)
under headers a clinician reads. Flags are the numbers 1 and 0, so that ``SUM`` counts them,
``COUNTIFS(...; 1)`` selects them and ``AVERAGE`` of a column is the rate among the patients it
applies to; a flag is blank where it does not apply (a timepoint's responder flag when the
patient was not scored there). Every rate of :func:`analytics.report.summary.summary_of` is a sum
of one flag over the sum of its denominator flag, as the Definitions sheet says column by
column. The reliable-change flags use the cohort's own threshold, the one the summary of the same
cohort prints, so the export and the summary agree to the patient.

The rows are patient-level pseudonymous data: small-cell suppression applies to the summary
sheet, never to them (:func:`patient_export_sheets`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.core.definitions import OutcomeDefinitions
from analytics.core.patient_table import PatientTable
from analytics.report.cohort import column_words, route_words
from analytics.report.summary import definition_name

__all__ = [
    "FLAG_WORDS",
    "PATIENT",
    "PatientExport",
    "TIMEPOINT_COLUMNS",
    "effect_header",
    "export_definitions",
    "patient_export_of",
    "patient_export_sheets",
    "reliable_change_threshold_of",
    "summary_rows",
    "timepoint_header",
]

PATIENT = "Patient"
FLAG_WORDS = (
    "Flags are 1 (yes) or 0 (no), blank where they do not apply: SUM of a flag column counts "
    "the patients, COUNTIFS(column, 1, ...) selects them, and AVERAGE of a column is the rate "
    "among the patients it applies to."
)
# Each timepoint's columns: (header after "T: ", column of patient_outcomes_from, meaning).
# Outcome flags apply to the patients scored at the timepoint; remitter only to those also
# eligible for remission, as the remission rates count them.
TIMEPOINT_COLUMNS = (
    ("Score", "score", "the score chosen in the timepoint's window; blank when not scored there"),
    ("Day", "day", "the day of that score, counted from the first session (day 0)"),
    ("Change", "change", "score minus baseline, in points (below 0 is better)"),
    (
        "Change (%)",
        "pct_change",
        "100 × change / baseline, to one decimal (the response flag uses the exact value)",
    ),
    ("Scored", "observed", "1: a baseline and a score in the window (the observed population)"),
    (
        "Due",
        "itt",
        "1: in the timepoint's intention-to-treat population: a baseline, treatment started, "
        "and scored in the window or followed to its last day (no score counts as no response)",
    ),
    ("Responder", "responder", "1: met the response rule at this timepoint; blank when not scored"),
    (
        "Remission eligible",
        "remission_eligible",
        "1: baseline at or above the remission cut (only they count in the remission rates); "
        "blank without a baseline",
    ),
    (
        "Remitter",
        "remitter",
        "1: below the remission cut at this timepoint; blank when not scored or not eligible",
    ),
    (
        "Meaningful improvement",
        "meaningful",
        "1: improved by at least the clinically meaningful change; blank when not scored",
    ),
    (
        "Reliable improvement",
        "reliable_improved",
        "1: change beyond minus the reliable-change threshold of this cohort (Jacobson-Truax "
        "index below -1.96; the threshold is in the Definitions sheet); blank when not scored",
    ),
    (
        "Reliable deterioration",
        "reliable_deteriorated",
        "1: change beyond plus the reliable-change threshold (index above +1.96); blank when "
        "not scored",
    ),
    (
        "Deterioration",
        "deteriorated",
        "1: worse by the response rule turned round (a rise of 30% of the baseline by "
        "default); blank when not scored",
    ),
    (
        "Meaningful worsening",
        "meaningfully_worse",
        "1: worse by at least the clinically meaningful change; blank when not scored",
    ),
)
# Flags that apply to every patient (0 when the patient has no row at the timepoint).
_MEMBERSHIP = ("observed", "itt")
_TIMEPOINT_FLAGS = {source for _, source, _ in TIMEPOINT_COLUMNS} - {
    "score",
    "day",
    "change",
    "pct_change",
}
# Per-patient columns: (header, column of the per-patient table, meaning, kind), by where they
# stand in the row: before the timepoints, after them, after the side effects.
_ENTRY_COLUMNS = (
    ("Baseline day", "outcome_baseline_day", "the baseline's day (from minus the look-back to 0); blank without a baseline", "number"),
    ("In intention-to-treat population", "outcome_itt", "1: a baseline and a session on day 0 or later (the timepoints' ITT populations are those of them due there)", "flag"),
    ("Remission eligible", "outcome_remission_eligible", "1: baseline at or above the remission cut", "flag"),
)  # fmt: skip
_COURSE_COLUMNS = (
    ("Time to response (days)", "durability_ttr_days", "days from the first session to the first responding score, or to the last score when censored; blank when not in this analysis", "number"),
    ("Time to response: responded", "durability_ttr_event", "1: responded; 0: censored at the last score; blank when not in this analysis", "event"),
    ("Loss of response (days)", "durability_lor_days", "days from the first responding score to the first later score that no longer responds, or to the last score (censored); blank when never responded", "number"),
    ("Loss of response: lost", "durability_lor_event", "1: lost the response; 0: censored; blank when never responded", "event"),
    ("Relapse after remission (days)", "durability_relapse_days", "days from the first score below the remission cut to the first later score at or above it, or to the last score (censored); blank when never remitted", "number"),
    ("Relapse after remission: relapsed", "durability_relapse_event", "1: relapsed; 0: censored; blank when never remitted", "event"),
    ("Week-4 responder", "durability_week_4_responder", "1: responded at week 4 (the patients whose response can be sustained)", "flag"),
    ("Sustained at week 8: scored", "durability_sustained_week_8_observed", "1: a week-4 responder scored at week 8 (the observed population)", "flag"),
    ("Sustained at week 8: still responding", "durability_sustained_week_8", "1: a week-4 responder still responding at week 8", "flag"),
    ("Sustained at week 8: due", "durability_sustained_week_8_due", "1: a week-4 responder due at week 8: scored, or followed to the window's last day (the intention-to-treat population)", "flag"),
    ("Sustained at week 12: scored", "durability_sustained_week_12_observed", "1: a week-4 responder scored at week 12 (the observed population)", "flag"),
    ("Sustained at week 12: still responding", "durability_sustained_week_12", "1: a week-4 responder still responding at week 12", "flag"),
    ("Sustained at week 12: due", "durability_sustained_week_12_due", "1: a week-4 responder due at week 12 (the intention-to-treat population)", "flag"),
    ("Started treatment", "attrition_started", "1: at least one session", "flag"),
    ("Completed induction", "attrition_completed_induction", "1: reached the induction session count of the first session's route (Settings)", "flag"),
    ("Entered maintenance", "attrition_entered_maintenance", "1: a session in the maintenance phase, or numbered beyond the induction count", "flag"),
    ("Stopped after session 1", "attrition_stopped_after_first", "1: exactly one session", "flag"),
    ("Sessions (one per day)", "count_sessions", "sessions, one per patient and day (the summary's session count)", "count"),
    ("Session rows", "count_session_rows", "sessions given (rows of sessions.csv): the denominator of side effects per session; above 0 puts the patient in the per-patient side-effect denominator", "count"),
)  # fmt: skip
_SAFETY_COLUMNS = (
    ("BP: sessions above pre-dose threshold", "safety_bp_pre_dose_above_sessions", "sessions with pre-dose blood pressure above the threshold (higher from age 65)", "count"),
    ("BP: sessions with pre-dose reading", "safety_bp_pre_dose_above_recorded", "sessions where that could be told (the readings present): its per-session denominator; above 0 puts the patient in its per-patient denominator", "count"),
    ("BP: sessions with a rise", "safety_bp_rise_sessions", "sessions with a systolic or diastolic rise at or above the thresholds", "count"),
    ("BP: sessions with rise readings", "safety_bp_rise_recorded", "sessions with the readings a rise needs", "count"),
    ("BP: sessions with a systolic rise", "safety_bp_systolic_rise_sessions", "sessions with a systolic rise at or above its threshold", "count"),
    ("BP: sessions with systolic readings", "safety_bp_systolic_rise_recorded", "sessions with both systolic readings", "count"),
    ("BP: sessions with a diastolic rise", "safety_bp_diastolic_rise_sessions", "sessions with a diastolic rise at or above its threshold", "count"),
    ("BP: sessions with diastolic readings", "safety_bp_diastolic_rise_recorded", "sessions with both diastolic readings", "count"),
    ("Dissociation flag: sessions yes", "safety_dissociation_flag_sessions", "sessions whose yes/no dissociation field (REMS monitoring) is yes: not the reported side effect", "count"),
    ("Dissociation flag: sessions recorded", "safety_dissociation_flag_recorded", "sessions where that field was recorded", "count"),
    ("Sedation flag: sessions yes", "safety_sedation_flag_sessions", "sessions whose yes/no sedation field (REMS monitoring) is yes: not the reported side effect", "count"),
    ("Sedation flag: sessions recorded", "safety_sedation_flag_recorded", "sessions where that field was recorded", "count"),
)  # fmt: skip
PATIENT_COLUMNS = _ENTRY_COLUMNS + _COURSE_COLUMNS + _SAFETY_COLUMNS
# Patient columns whose name alone does not read as words.
ATTRIBUTE_WORDS = {"follow_up_days": "Follow-up (days)"}
# Columns of patients.csv given their own headers.
_OWN_HEADERS = {"route", "first_session_year", "first_session_month"}
BP_THRESHOLD_WORDS = {
    "systolic_pre_max": "pre-dose systolic above (mmHg)",
    "diastolic_pre_max": "pre-dose diastolic above (mmHg)",
    "systolic_pre_max_older": "pre-dose systolic above, from the older age (mmHg)",
    "older_age": "older age (years)",
    "rise_systolic": "systolic rise of at least (mmHg)",
    "rise_diastolic": "diastolic rise of at least (mmHg)",
}
PERCENT_DECIMALS = 1
# Two reliable-change thresholds closer than this are the same threshold.
_SAME_THRESHOLD = 1e-9


def timepoint_header(label: str, part: str) -> str:
    """The header of one timepoint's column.

    Examples
    --------
    >>> timepoint_header("week 4", "Responder")
    'week 4: Responder'
    """
    return f"{label}: {part}"


def effect_header(effect: str) -> str:
    """The header of a side effect's column: the patient's sessions with it reported.

    Examples
    --------
    >>> effect_header("feeling_drunk")
    'Side effect: Feeling drunk (sessions)'
    """
    return f"Side effect: {effect.replace('_', ' ').capitalize()} (sessions)"


def _flags(values, applies=None) -> np.ndarray:
    """1/0 as a nullable integer array, blank (NA) where ``applies`` is False."""
    out = pd.array(np.asarray(values, dtype=bool).astype("int64"), dtype="Int64")
    if applies is not None:
        out[~np.asarray(applies, dtype=bool)] = pd.NA
    return out


def reliable_change_threshold_of(summary: dict) -> float | None:
    """The reliable-change threshold (points) a summary used, None when it gives none.

    Parameters
    ----------
    summary : dict
        As :func:`analytics.report.summary.summary_of` returns it (suppressed or not).

    Returns
    -------
    float or None
        The first timepoint's ``reliable_change.threshold_points``: one threshold serves every
        timepoint of a cohort.

    Examples
    --------
    >>> reliable_change_threshold_of({"timepoints": [{"reliable_change": {"threshold_points": 12.5}}]})
    12.5
    >>> reliable_change_threshold_of({"timepoints": []}) is None
    True
    """
    for timepoint in summary.get("timepoints") or []:
        threshold = (timepoint.get("reliable_change") or {}).get("threshold_points")
        if isinstance(threshold, (int, float)) and not isinstance(threshold, bool):
            return float(threshold)
    return None


def _timepoint_rows(table, keep, definitions, summary) -> pd.DataFrame:
    """The cohort's rows of :func:`patient_outcomes_from`, the summary's threshold checked."""
    from analytics.metrics.outcomes import (
        baseline_stats_from,
        patient_outcomes_from,
        reliable_change_threshold,
    )

    if summary is not None:
        expected = reliable_change_threshold_of(summary)
        sd = definitions.reliability_sd
        if sd is None:
            sd = baseline_stats_from(table, keep, definitions)["sd"]
        own = reliable_change_threshold(sd, definitions.reliability_r) if sd else None
        if expected is not None and (own is None or abs(own - expected) > _SAME_THRESHOLD):
            raise ValueError(
                f"the summary's reliable-change threshold ({expected:.4f} points) is not this "
                f"cohort's ({'none' if own is None else f'{own:.4f} points'}): the summary is "
                "of another cohort or other definitions"
            )
    return patient_outcomes_from(table, keep, definitions)


def _timepoint_columns(table, keep, definitions, ids: np.ndarray, summary) -> dict:
    rows = _timepoint_rows(table, keep, definitions, summary)
    position = pd.Index(ids).get_indexer(rows["patient_id"].astype(str))
    timepoint = rows["timepoint"].astype(str).to_numpy()
    has_baseline = ~np.isnan(table.patients["outcome_baseline"].to_numpy(float)[keep])
    eligible = table.patients["outcome_remission_eligible"].to_numpy(bool)[keep]
    out: dict[str, object] = {}
    for entry in table.meta["outcome_timepoints"]:
        label = str(entry["label"])
        at = timepoint == label
        where = position[at]
        part = rows[at]
        values = {}
        for source in ("score", "day", "change", "pct_change"):
            column = np.full(len(ids), np.nan)
            column[where] = part[source].to_numpy(float)
            values[source] = column
        # a percentage to one decimal, as the screens show it: 33.333333 is not a reading
        values["pct_change"] = np.round(values["pct_change"], PERCENT_DECIMALS)
        for source in _TIMEPOINT_FLAGS:
            column = np.zeros(len(ids), dtype=bool)
            column[where] = part[source].to_numpy(bool)
            values[source] = column
        scored = values["observed"]
        for words, source, _ in TIMEPOINT_COLUMNS:
            header = timepoint_header(label, words)
            if source in values and source not in _TIMEPOINT_FLAGS:
                out[header] = values[source]
            elif source in _MEMBERSHIP:
                out[header] = _flags(values[source])
            elif source == "remission_eligible":
                out[header] = _flags(eligible, has_baseline)
            elif source == "remitter":
                out[header] = _flags(values[source], scored & eligible)
            else:
                out[header] = _flags(values[source], scored)
    return out


def _effect_columns(table: PatientTable, keep: np.ndarray) -> dict[str, np.ndarray]:
    effects = table.long.get("safety_effects")
    names = list(table.meta.get("safety_effect_names", ()))
    if effects is None or not names:
        return {}
    counts = np.zeros((len(table.patients), len(names)), dtype=np.int64)
    np.add.at(
        counts,
        (effects["code"].to_numpy(), effects["effect"].to_numpy("int64")),
        effects["sessions"].to_numpy("int64"),
    )
    out: dict[str, np.ndarray] = {}
    for i, name in enumerate(names):
        header = effect_header(name)
        if header in out:  # two codes that read alike keep apart
            header = f"Side effect: {name} (sessions)"
        out[header] = counts[keep, i]
    return out


def _patient_columns(p: pd.DataFrame, specs) -> dict[str, object]:
    out: dict[str, object] = {}
    for header, column, _, kind in specs:
        if column not in p:
            continue
        values = p[column]
        if kind == "flag":
            out[header] = _flags(values.to_numpy(bool))
        elif kind == "event":
            # the event applies where the patient is in the analysis (its days are given)
            days = p[column.removesuffix("_event") + "_days"].to_numpy(float)
            out[header] = _flags(values.to_numpy(bool), ~np.isnan(days))
        elif kind == "count":
            out[header] = values.to_numpy("int64")
        else:
            out[header] = values.astype("float64").to_numpy()
    return out


def _attribute_header(column: str, taken) -> str:
    header = ATTRIBUTE_WORDS.get(column, column_words(column))
    return header if header not in taken else f"{header} (patients.csv)"


def patient_export_of(
    table: PatientTable,
    keep: np.ndarray,
    definitions: OutcomeDefinitions,
    *,
    summary: dict | None = None,
) -> pd.DataFrame:
    """One row per patient of the cohort ``keep``: everything the headline rates are made of.

    Parameters
    ----------
    table : PatientTable
        The clinic's per-patient table for ``definitions``
        (:func:`analytics.report.patients.patient_table`).
    keep : numpy.ndarray of bool
        The cohort: one flag per row of ``table`` (:meth:`PatientTable.keep`).
    definitions : OutcomeDefinitions
        The definitions the table was built with.
    summary : dict, optional
        The summary of the same cohort (:func:`analytics.report.summary.summary_of`): its
        reliable-change threshold is checked against the one the flags use.

    Returns
    -------
    pandas.DataFrame
        In order: ``Patient`` (the pseudonymous id as imported), ``Route (first session)`` in
        words, ``First-session year`` (and month when kept), each descriptive patient column in
        words, ``Baseline <instrument>``, the baseline's day, intention-to-treat membership and
        remission eligibility; for each timepoint of the definitions,
        :data:`TIMEPOINT_COLUMNS` (``"week 4: Responder"`` ...); durability, induction and
        sessions; each side effect's sessions (:func:`effect_header`); blood pressure and the
        REMS yes/no fields per session. Flags are 1/0 (nullable integers), blank where they do
        not apply; patients in the order of the table (by id).

    Raises
    ------
    ValueError
        When ``summary`` used another reliable-change threshold than this cohort's.

    Examples
    --------
    >>> from analytics.core.contract import clinic_from_frames
    >>> from analytics.report.patients import patient_table
    >>> clinic = clinic_from_frames(
    ...     sessions=pd.DataFrame({"patient_id": ["a", "b"], "day": [0, 0],
    ...                            "route": "iv_ketamine"}),
    ...     assessments=pd.DataFrame({"patient_id": ["a", "a", "b"], "day": [0, 28, 0],
    ...                               "instrument": "PCL-5", "total": [50.0, 30.0, 40.0]}))
    >>> table = patient_table(clinic, OutcomeDefinitions())
    >>> rows = patient_export_of(table, table.keep(), OutcomeDefinitions())
    >>> rows[["Patient", "week 4: Scored", "week 4: Responder"]]
      Patient  week 4: Scored  week 4: Responder
    0       a               1                  1
    1       b               0               <NA>
    """
    keep = np.asarray(keep, dtype=bool)
    p = table.patients[keep]
    ids = p["patient_id"].astype(str).to_numpy()
    routes = p["route"].astype("string")
    out: dict[str, object] = {
        PATIENT: ids,
        "Route (first session)": routes.map(route_words, na_action="ignore").to_numpy(),
        "First-session year": p["first_session_year"].astype("Int64").to_numpy(),
    }
    if "first_session_month" in p and p["first_session_month"].notna().any():
        out["First-session month"] = p["first_session_month"].astype("Int64").to_numpy()
    for column in table.meta.get("attributes", ()):
        if column not in _OWN_HEADERS and column in p:
            out[_attribute_header(column, out)] = p[column].to_numpy()
    out[f"Baseline {definitions.instrument}"] = p["outcome_baseline"].to_numpy(float)
    out |= _patient_columns(p, _ENTRY_COLUMNS)
    out |= _timepoint_columns(table, keep, definitions, ids, summary)
    out |= _patient_columns(p, _COURSE_COLUMNS)
    out |= _effect_columns(table, keep)
    out |= _patient_columns(p, _SAFETY_COLUMNS)
    return pd.DataFrame(out)


def _meaning_of(header: str, instrument: str, meanings: dict, effects: dict) -> str:
    if header in meanings:
        return meanings[header]
    if header == f"Baseline {instrument}":
        return (
            f"the baseline {instrument} total: the latest score from the look-back to day 0; "
            "blank without a baseline"
        )
    if header in effects:
        return (
            f"sessions of the patient with {effects[header]} reported (0: none). Per session: "
            "SUM of the column over SUM of 'Session rows'; per patient: COUNTIF(column, \">0\") "
            "over COUNTIF('Session rows', \">0\")"
        )
    if ": " in header:
        part = header.split(": ", 1)[1]
        for words, _, meaning in TIMEPOINT_COLUMNS:
            if words == part:
                return meaning
    return "a column of patients.csv, as uploaded"


def _text(value) -> str:
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def export_definitions(
    rows: pd.DataFrame, summary: dict, *, cohort: str | None = None
) -> pd.DataFrame:
    """What every column of the export means, then the definitions in force and how to count.

    Parameters
    ----------
    rows : pandas.DataFrame
        The export's rows (:func:`patient_export_of`); each of its headers is explained.
    summary : dict
        The summary of the same cohort, suppressed or not: its ``definitions``, reliable-change
        threshold, blood-pressure thresholds and ``suppression`` (absent: not suppressed) are
        written out.
    cohort : str, optional
        The cohort in words (:func:`analytics.report.cohort.describe_cohort`).

    Returns
    -------
    pandas.DataFrame
        ``Column or definition``, ``Meaning``: one row per header, in order, then the cohort,
        the definitions in force, the reliable-change threshold, the blood-pressure thresholds,
        how flags and rates are counted, and what suppression covers (the summary sheet, never
        the patients' rows).
    """
    from analytics.metrics.safety import effect_label
    from analytics.report.suppression import suppression_note

    instrument = summary.get("instrument", "")
    meanings = {
        PATIENT: "the pseudonymous patient id as uploaded (never a name or a record number)",
        "Route (first session)": "how the patient's first treatment was given",
        "First-session year": "the year of the first session (the only calendar date kept)",
        "First-session month": "the month of the first session (kept only when asked at import)",
        "Follow-up (days)": "days from the first session to the data cutoff: a patient is due at "
        "a timepoint once followed to the window's last day",
    }
    meanings |= {header: meaning for header, _, meaning, _ in PATIENT_COLUMNS}
    effects = {}
    for header in rows.columns:
        if header.startswith("Side effect: "):
            name = header.removeprefix("Side effect: ").removesuffix(" (sessions)")
            effects[header] = effect_label(name.lower().replace(" ", "_")).lower()
    out = [
        {"Column or definition": header, "Meaning": _meaning_of(header, instrument, meanings, effects)}
        for header in rows.columns
    ]  # fmt: skip

    def add(name: str, meaning) -> None:
        out.append({"Column or definition": name, "Meaning": _text(meaning)})

    add("", "")
    if cohort is not None:
        add("Cohort", cohort)
    add("Flags", FLAG_WORDS)
    for key, value in (summary.get("definitions") or {}).items():
        if key == "induction_sessions" and isinstance(value, dict):
            value = {route_words(route): f"{count} sessions" for route, count in value.items()}
        add(definition_name(key), value)
    threshold = reliable_change_threshold_of(summary)
    if threshold is not None:
        add(
            "Reliable change threshold (this cohort)",
            f"{threshold:.4f} points (the summary's, from this cohort's baseline SD): a change "
            "at least this far below 0 is a reliable improvement, above 0 a reliable "
            "deterioration",
        )
    thresholds = (summary.get("blood_pressure") or {}).get("thresholds")
    if thresholds:
        add(
            "Blood pressure thresholds",
            {
                BP_THRESHOLD_WORDS.get(k, k.replace("_", " ")): f"{v:g}"
                if isinstance(v, (int, float))
                else str(v)
                for k, v in thresholds.items()
            },
        )
    add(
        "How to count",
        "A rate is the count of a flag over the count of its denominator. Response at week 4, "
        "observed: COUNTIFS('week 4: Scored', 1, 'week 4: Responder', 1) over "
        "COUNTIF('week 4: Scored', 1); intention to treat: the same over "
        "COUNTIF('week 4: Due', 1) (a patient due but not scored is no responder). Remission "
        "counts only the patients with 'Remission eligible' 1. Sustained response: 'still "
        "responding' over 'scored' (observed) or 'due' (intention to treat). Kaplan-Meier "
        "analyses: the patients with days given, the events among them.",
    )
    suppression = summary.get("suppression") or suppression_note(False)
    add(
        "Small-cell suppression",
        (
            "Applied to the Summary sheet: " + suppression["rule"]
            if suppression.get("applied")
            else "Not applied: the Summary sheet shows counts from 1 to 10."
        )
        + " The Patients rows are patient-level pseudonymous data, which cell suppression "
        "cannot apply to: keep them inside the clinic, or share them only under a data use "
        "agreement.",
    )
    return pd.DataFrame(out, columns=["Column or definition", "Meaning"])


SUMMARY_COLUMNS = ["Measure", "Timepoint", "Population", "k", "n", "Rate", "95% CI low", "95% CI high"]  # fmt: skip
_TIMEPOINT_RATES = (
    ("Response", "response", "response_itt"),
    ("Remission", "remission", "remission_itt"),
    ("Meaningful improvement", "meaningful", "meaningful_itt"),
    ("Deterioration", "deterioration", None),
    ("Meaningful worsening", "meaningful_worsening", None),
)
_BLOOD_PRESSURE = {
    "pre_dose_above": "Blood pressure above the pre-dose threshold",
    "rise": "Blood pressure rise (systolic or diastolic)",
    "systolic_rise": "Systolic rise",
    "diastolic_rise": "Diastolic rise",
}
_EVENT_TIMES = {
    "time_to_response": "Time to response: responded (Kaplan-Meier patients, events)",
    "loss_of_response": "Loss of response: lost (Kaplan-Meier patients, events)",
    "relapse_after_remission": "Relapse after remission (Kaplan-Meier patients, events)",
}


def _row(measure, timepoint="", population="", k=None, n=None, rate=None, low=None, high=None):
    return dict(zip(SUMMARY_COLUMNS, (measure, timepoint, population, k, n, rate, low, high)))


def _rate_row(measure: str, timepoint: str, population: str, rate: dict | None) -> dict:
    rate = rate or {}
    return _row(
        measure,
        timepoint,
        population,
        rate.get("k"),
        rate.get("n"),
        rate.get("rate"),
        rate.get("ci_low"),
        rate.get("ci_high"),
    )


def _share(k, n) -> float | None:
    """k / n when both are counts (not "<11"), else None."""
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (k, n))
    if not numbers or not n or math.isnan(float(n)):
        return None
    return k / n


def summary_rows(summary: dict) -> pd.DataFrame:
    """The summary's headline measures as one table a spreadsheet reads.

    Parameters
    ----------
    summary : dict
        As :func:`analytics.report.summary.summary_of` returns it, or suppressed
        (:func:`analytics.report.suppression.suppress_summary`): a k or n may then be "<11"
        and a rate None, written as they are.

    Returns
    -------
    pandas.DataFrame
        :data:`SUMMARY_COLUMNS`: the patients and sessions; the baseline n; per timepoint,
        response, remission and meaningful improvement (observed and intention to treat),
        deterioration, meaningful worsening and reliable change; sustained response; the
        Kaplan-Meier analyses' patients and events; every side effect and session flag per
        patient and per session; blood pressure per patient and per session. Reliable change
        has no interval in the summary; its rate is k / n.

    Examples
    --------
    >>> summary_rows({"counts": {"patients": "<11", "sessions": 40}})["n"].tolist()
    ['<11', 40]
    """
    rows = []
    counts = summary.get("counts") or {}
    if "patients" in counts:
        rows.append(_row("Patients", n=counts["patients"]))
    if "sessions" in counts:
        rows.append(_row("Sessions (one per patient and day)", n=counts["sessions"]))
    baseline = summary.get("baseline") or {}
    if "n" in baseline:
        rows.append(_row("Patients with a baseline", n=baseline["n"]))
    for tp in summary.get("timepoints") or []:
        label = tp["label"]
        for measure, observed, itt in _TIMEPOINT_RATES:
            if tp.get(observed):
                rows.append(_rate_row(measure, label, "observed", tp[observed]))
            if itt and tp.get(itt):
                rows.append(_rate_row(measure, label, "intention to treat", tp[itt]))
        reliable = tp.get("reliable_change") or {}
        for measure, key in (
            ("Reliable improvement", "improved"),
            ("Reliable deterioration", "deteriorated"),
        ):
            if reliable.get(key) is not None:
                k, n = reliable[key], reliable.get("n")
                rows.append(_row(measure, label, "observed", k, n, _share(k, n)))
    durability = summary.get("durability") or {}
    for key, population in (("sustained", "observed"), ("sustained_itt", "intention to treat")):
        for week, rate in (durability.get(key) or {}).items():
            rows.append(_rate_row("Still responding (week-4 responders)", week, population, rate))
    for key, measure in _EVENT_TIMES.items():
        block = durability.get(key)
        if block:
            rows.append(_row(measure, k=block.get("events"), n=block.get("n")))
    for effect in summary.get("side_effects") or []:
        measure = f"Side effect: {effect.get('label') or effect['effect']}"
        for level in ("patients", "sessions"):
            if effect.get(level):
                rows.append(_rate_row(measure, "", level, effect[level]))
    blood_pressure = summary.get("blood_pressure") or {}
    for key, measure in _BLOOD_PRESSURE.items():
        block = blood_pressure.get(key) or {}
        for level in ("patients", "sessions"):
            if block.get(level):
                rows.append(_rate_row(measure, "", level, block[level]))
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS).astype(
        {
            "k": object,
            "n": object,
            "Rate": "float64",
            "95% CI low": "float64",
            "95% CI high": "float64",
        }
    )


@dataclass(frozen=True)
class PatientExport:
    """The export of one cohort: its rows, its summary sheet and its definitions.

    Attributes
    ----------
    patients : pandas.DataFrame
        :func:`patient_export_of`, never suppressed.
    summary : pandas.DataFrame
        :func:`summary_rows` of the summary, suppressed when asked.
    definitions : pandas.DataFrame
        :func:`export_definitions`.
    suppression : dict
        ``{"applied", "rule", "cells_suppressed"}`` of the summary sheet.
    """

    patients: pd.DataFrame
    summary: pd.DataFrame
    definitions: pd.DataFrame
    suppression: dict

    def sheets(self) -> dict[str, pd.DataFrame]:
        """The workbook's sheets by name, in order: Patients, Summary, Definitions."""
        return {"Patients": self.patients, "Summary": self.summary, "Definitions": self.definitions}


def patient_export_sheets(
    table: PatientTable,
    keep: np.ndarray,
    definitions: OutcomeDefinitions,
    *,
    suppress: bool = True,
    cohort: str | None = None,
) -> PatientExport:
    """The per-patient export of the cohort ``keep`` with its summary and definitions.

    Parameters
    ----------
    table, keep, definitions
        As for :func:`patient_export_of`.
    suppress : bool
        Suppress small cells in the summary sheet (the default): counts from 1 to 10, and what
        would give them back, become "<11" (:func:`~analytics.report.suppression.suppress_summary`).
        The patients' rows are never suppressed: they are one patient each.
    cohort : str, optional
        The cohort in words, written in the definitions.

    Returns
    -------
    PatientExport
    """
    from analytics.report.summary import summary_of
    from analytics.report.suppression import suppress_summary, suppression_note

    summary = summary_of(table, keep, definitions)
    rows = patient_export_of(table, keep, definitions, summary=summary)
    if suppress:
        summary = suppress_summary(summary)
    else:
        summary = {**summary, "suppression": suppression_note(False)}
    return PatientExport(
        patients=rows,
        summary=summary_rows(summary),
        definitions=export_definitions(rows, summary, cohort=cohort),
        suppression=dict(summary["suppression"]),
    )
