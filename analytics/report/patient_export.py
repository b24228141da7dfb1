"""The per-patient export: one row per patient, from which a spreadsheet recomputes every
headline rate of the summary.

Each row is the patient's facts from the per-patient table (:mod:`analytics.report.patients`),
under headers a clinician reads; flags are 1 or 0 (so ``SUM`` counts them and ``AVERAGEIFS``
gives a rate), blank where they do not apply (a timepoint the patient was not due at). The
reliable-change flags use the cohort's own threshold, as the summary does, so the export and
the summary of the same cohort agree to the patient.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.core.definitions import OutcomeDefinitions
from analytics.core.patient_table import PatientTable
from analytics.report.cohort import column_words, route_words

__all__ = [
    "PATIENT",
    "export_definitions",
    "patient_export_of",
    "summary_rows",
    "timepoint_header",
]

PATIENT = "Patient"
# Each timepoint's columns: (header after "T: ", column of patient_outcomes_from, meaning).
TIMEPOINT_COLUMNS = (
    ("score", "score", "the score chosen in the timepoint's window; blank when not scored"),
    ("day", "day", "days since the first session of that score"),
    ("change", "change", "score minus baseline (negative is better)"),
    ("% change", "pct_change", "100 × change / baseline"),
    ("scored", "observed", "1: scored in the window, with a baseline (the observed population)"),
    (
        "due",
        "itt",
        "1: in the intention-to-treat population at this timepoint: a baseline, treatment "
        "started, and scored or followed to the window's last day",
    ),
    ("responder", "responder", "1: met the response rule at this timepoint"),
    (
        "remission eligible",
        "remission_eligible",
        "1: baseline at or above the remission cut (the remission denominators count only them)",
    ),
    ("remitter", "remitter", "1: below the remission cut at this timepoint"),
    ("meaningful improvement", "meaningful", "1: improved by at least the meaningful change"),
    (
        "reliable improvement",
        "reliable_improved",
        "1: Jacobson-Truax index below -1.96 (the threshold of this cohort, in Definitions)",
    ),
    ("reliable deterioration", "reliable_deteriorated", "1: index above +1.96"),
    ("deterioration", "deteriorated", "1: worse by the response rule turned round"),
    (
        "meaningful worsening",
        "meaningfully_worse",
        "1: worse by at least the meaningful change",
    ),
)
_FLAG_SOURCES = {
    "observed",
    "itt",
    "responder",
    "remission_eligible",
    "remitter",
    "meaningful",
    "reliable_improved",
    "reliable_deteriorated",
    "deteriorated",
    "meaningfully_worse",
}
# Per-patient columns: (header, column of the per-patient table, meaning, kind).
PATIENT_COLUMNS = (
    ("In intention-to-treat population", "outcome_itt", "1: a baseline and a session on day 0 or later", "flag"),
    ("Remission eligible", "outcome_remission_eligible", "1: baseline at or above the remission cut", "flag"),
    ("Started treatment", "attrition_started", "1: at least one session", "flag"),
    ("Completed induction", "attrition_completed_induction", "1: reached the induction session count of the first route", "flag"),
    ("Entered maintenance", "attrition_entered_maintenance", "1: a session in the maintenance phase", "flag"),
    ("Stopped after session 1", "attrition_stopped_after_first", "1: exactly one session", "flag"),
    ("Sessions (one per day)", "count_sessions", "sessions, one per patient and day (the summary's session count)", "count"),
    ("Session rows", "count_session_rows", "rows of sessions.csv: the denominator of side effects per session", "count"),
    ("Time to response (days)", "durability_ttr_days", "days from the first session to the first responding score, or to the last score when censored", "number"),
    ("Time to response: responded", "durability_ttr_event", "1: responded; 0: censored at the last score", "flag"),
    ("Loss of response (days)", "durability_lor_days", "days from the first responding score to the first later score that no longer responds, or to the last score (censored)", "number"),
    ("Loss of response: lost", "durability_lor_event", "1: lost the response; 0: censored", "flag"),
    ("Relapse after remission (days)", "durability_relapse_days", "days from remission to the first later score at or above the cut, or to the last score (censored)", "number"),
    ("Relapse after remission: relapsed", "durability_relapse_event", "1: relapsed; 0: censored", "flag"),
    ("Week-4 responder", "durability_week_4_responder", "1: responded at week 4", "flag"),
    ("Sustained at week 8: scored", "durability_sustained_week_8_observed", "1: a week-4 responder scored at week 8", "flag"),
    ("Sustained at week 8: still responding", "durability_sustained_week_8", "1: a week-4 responder still responding at week 8", "flag"),
    ("Sustained at week 8: due", "durability_sustained_week_8_due", "1: a week-4 responder due at week 8 (the intention-to-treat population)", "flag"),
    ("Sustained at week 12: scored", "durability_sustained_week_12_observed", "1: a week-4 responder scored at week 12", "flag"),
    ("Sustained at week 12: still responding", "durability_sustained_week_12", "1: a week-4 responder still responding at week 12", "flag"),
    ("Sustained at week 12: due", "durability_sustained_week_12_due", "1: a week-4 responder due at week 12", "flag"),
    ("BP: sessions above pre-dose threshold", "safety_bp_pre_dose_above_sessions", "sessions with pre-dose blood pressure above the threshold", "count"),
    ("BP: sessions with pre-dose reading", "safety_bp_pre_dose_above_recorded", "sessions where that could be told", "count"),
    ("BP: sessions with a rise", "safety_bp_rise_sessions", "sessions with a systolic or diastolic rise at or above the thresholds", "count"),
    ("BP: sessions with rise readings", "safety_bp_rise_recorded", "sessions with the readings a rise needs", "count"),
    ("BP: sessions with a systolic rise", "safety_bp_systolic_rise_sessions", "sessions with a systolic rise at or above its threshold", "count"),
    ("BP: sessions with systolic readings", "safety_bp_systolic_rise_recorded", "sessions with both systolic readings", "count"),
    ("BP: sessions with a diastolic rise", "safety_bp_diastolic_rise_sessions", "sessions with a diastolic rise at or above its threshold", "count"),
    ("BP: sessions with diastolic readings", "safety_bp_diastolic_rise_recorded", "sessions with both diastolic readings", "count"),
    ("Dissociation flag: sessions yes", "safety_dissociation_flag_sessions", "sessions whose yes/no dissociation field (REMS monitoring) is yes", "count"),
    ("Dissociation flag: sessions recorded", "safety_dissociation_flag_recorded", "sessions where that field was recorded", "count"),
    ("Sedation flag: sessions yes", "safety_sedation_flag_sessions", "sessions whose yes/no sedation field (REMS monitoring) is yes", "count"),
    ("Sedation flag: sessions recorded", "safety_sedation_flag_recorded", "sessions where that field was recorded", "count"),
)  # fmt: skip
# Patient columns whose name alone does not read as words.
ATTRIBUTE_WORDS = {"follow_up_days": "Follow-up (days)"}
# Patient columns of patients.csv that are not descriptions of the patient.
_NOT_ATTRIBUTES = {"route", "first_session_year", "first_session_month"}


def timepoint_header(label: str, part: str) -> str:
    """The header of one timepoint's column: ``timepoint_header("week 4", "responder")`` is
    ``"week 4: responder"``."""
    return f"{label}: {part}"


def effect_header(name: str) -> str:
    """The header of a side effect's column: the patient's sessions with it reported."""
    return f"Side effect: {name.replace('_', ' ')} (sessions)"


def _flag(values) -> pd.Series:
    """1/0 as a nullable integer, blank where not applicable."""
    return pd.Series(values).astype("boolean").astype("Int64")


def _timepoint_columns(table, keep, definitions, index: pd.Index) -> dict[str, pd.Series]:
    from analytics.metrics.outcomes import patient_outcomes_from

    rows = patient_outcomes_from(table, keep, definitions)
    out: dict[str, pd.Series] = {}
    labels = list(dict.fromkeys(rows["timepoint"].astype(str)))
    rows = rows.assign(patient_id=rows["patient_id"].astype(str))
    for label in labels:
        part = rows[rows["timepoint"].astype(str) == label].set_index("patient_id")
        for words, source, _ in TIMEPOINT_COLUMNS:
            values = part[source].reindex(index)
            if source in _FLAG_SOURCES:
                # a patient without a row at this timepoint is neither scored nor due there
                out[timepoint_header(label, words)] = _flag(
                    values.where(values.notna(), False).astype(bool)
                    if source in ("observed", "itt")
                    else values
                ).set_axis(index)
            else:
                out[timepoint_header(label, words)] = values.astype(float)
    return out


def _effect_columns(table: PatientTable, keep: np.ndarray) -> dict[str, np.ndarray]:
    effects = table.long.get("safety_effects")
    names = list(table.meta.get("safety_effect_names", ()))
    if effects is None or not names:
        return {}
    counts = np.zeros((len(table.patients), len(names)), dtype=np.int64)
    np.add.at(
        counts,
        (effects["code"].to_numpy(), effects["effect"].to_numpy()),
        effects["sessions"].to_numpy(),
    )
    return {effect_header(name): counts[keep, i] for i, name in enumerate(names)}


def patient_export_of(
    table: PatientTable, keep: np.ndarray, definitions: OutcomeDefinitions
) -> pd.DataFrame:
    """One row per patient of the cohort ``keep``: everything the headline rates are made of.

    Parameters
    ----------
    table : PatientTable
        The clinic's per-patient table for ``definitions``.
    keep : numpy.ndarray of bool
        The cohort: one flag per row of ``table``.
    definitions : OutcomeDefinitions

    Returns
    -------
    pandas.DataFrame
        ``Patient`` (the pseudonymous id as imported), ``Route (first session)``,
        ``First-session year``, each descriptive patient column in words, ``Baseline
        <instrument>``, the per-patient columns of :data:`PATIENT_COLUMNS`, each timepoint's
        columns (:data:`TIMEPOINT_COLUMNS`) and each side effect's sessions. Flags are 1/0,
        blank where they do not apply.
    """
    p = table.patients[keep]
    ids = p["patient_id"].astype(str).to_numpy()
    index = pd.Index(ids, name=PATIENT)
    out: dict[str, object] = {
        PATIENT: ids,
        "Route (first session)": p["route"]
        .astype("string")
        .map(lambda code: route_words(code) if isinstance(code, str) else pd.NA)
        .to_numpy(),
        "First-session year": p["first_session_year"].astype("Int64").to_numpy(),
    }
    if "first_session_month" in p and p["first_session_month"].notna().any():
        out["First-session month"] = p["first_session_month"].astype("Int64").to_numpy()
    for column in table.meta.get("attributes", ()):
        if column not in _NOT_ATTRIBUTES and column in p:
            out[ATTRIBUTE_WORDS.get(column, column_words(column))] = p[column].to_numpy()
    out[f"Baseline {definitions.instrument}"] = p["outcome_baseline"].to_numpy(float)
    out["Baseline day"] = p["outcome_baseline_day"].astype("Int64").to_numpy()
    for header, column, _, kind in PATIENT_COLUMNS:
        if column not in p:
            continue
        values = p[column]
        if kind == "flag":
            out[header] = _flag(values.to_numpy()).to_numpy()
        elif kind == "count":
            out[header] = values.astype("int64").to_numpy()
        else:
            out[header] = values.astype(float).to_numpy()
    frame = pd.DataFrame(out)
    timepoints = _timepoint_columns(table, keep, definitions, index)
    effects = _effect_columns(table, keep)
    extra = pd.DataFrame(timepoints).set_axis(frame.index)
    for header, counts in effects.items():
        extra[header] = counts
    return pd.concat([frame, extra], axis=1)


def export_definitions(frame: pd.DataFrame, summary: dict, *, suppression: dict) -> pd.DataFrame:
    """What every column of the export means, then the definitions in force and how to count.

    Returns
    -------
    pandas.DataFrame
        ``Column or definition``, ``Meaning``.
    """
    meanings = {
        PATIENT: "the pseudonymous patient id as imported (never a name or record number)",
        "Route (first session)": "how the patient's first treatment was given",
        "First-session year": "the year of the first session (the only date kept)",
        "First-session month": "the month of the first session (kept only when asked at import)",
        "Baseline day": "the baseline's day (from minus the look-back to 0)",
    }
    meanings |= {header: meaning for header, _, meaning, _ in PATIENT_COLUMNS}
    rows = []
    for header in frame.columns:
        meaning = meanings.get(header)
        if meaning is None and header.startswith("Baseline "):
            meaning = "the baseline total; blank without a baseline"
        if meaning is None and header.startswith("Side effect: "):
            meaning = "sessions of the patient with this side effect reported (0: none)"
        if meaning is None and ": " in header:
            part = header.split(": ", 1)[1]
            meaning = next((m for w, _, m in TIMEPOINT_COLUMNS if w == part), None)
        rows.append({"Column or definition": header, "Meaning": meaning or "a patients.csv column"})
    rows.append({"Column or definition": "", "Meaning": ""})
    for key, value in summary["definitions"].items():
        if isinstance(value, list):
            value = "; ".join(str(v) for v in value)
        elif isinstance(value, dict):
            value = "; ".join(f"{k}: {v}" for k, v in value.items())
        rows.append(
            {"Column or definition": key.replace("_", " ").capitalize(), "Meaning": str(value)}
        )
    threshold = next(
        (
            t["reliable_change"].get("threshold_points")
            for t in summary.get("timepoints", [])
            if t.get("reliable_change", {}).get("threshold_points") is not None
        ),
        None,
    )
    if threshold is not None:
        rows.append(
            {
                "Column or definition": "Reliable change threshold (this cohort)",
                "Meaning": f"{threshold:.2f} points: the change beyond which the index passes 1.96",
            }
        )
    rows += [
        {
            "Column or definition": "How to count",
            "Meaning": "A rate is SUM of a flag over SUM of its denominator flag: response at "
            "week 4 (observed) is the sum of 'week 4: responder' where 'week 4: scored' is 1, "
            "over the sum of 'week 4: scored'; intention to treat divides by 'week 4: due'.",
        },
        {
            "Column or definition": "Small-cell suppression",
            "Meaning": (
                "Applied to the Summary sheet: " + suppression["rule"]
                if suppression.get("applied")
                else "Not applied: the Summary sheet shows counts from 1 to 10."
            )
            + " The Patients rows are patient-level pseudonymous data that cell suppression "
            "cannot apply to: keep them inside the clinic, or share them only under a data "
            "use agreement.",
        },
    ]
    return pd.DataFrame(rows)


def _rate_row(measure: str, timepoint: str, population: str, rate: dict | None) -> dict:
    rate = rate or {}
    return {
        "Measure": measure,
        "Timepoint": timepoint,
        "Population": population,
        "k": rate.get("k"),
        "n": rate.get("n"),
        "Rate": rate.get("rate"),
        "95% CI low": rate.get("ci_low"),
        "95% CI high": rate.get("ci_high"),
    }


def summary_rows(summary: dict) -> pd.DataFrame:
    """The summary's headline rates as a table: measure, timepoint, population, k, n, rate and
    95% CI. Works on a suppressed summary (k or n "<11", rate blank)."""
    rows = []
    populations = (("", "observed"), ("_itt", "intention to treat"))
    for tp in summary.get("timepoints", []):
        for measure, key in (
            ("Response", "response"),
            ("Remission", "remission"),
            ("Meaningful improvement", "meaningful"),
        ):
            for suffix, population in populations:
                if tp.get(key + suffix):
                    rows.append(_rate_row(measure, tp["label"], population, tp[key + suffix]))
        for measure, key in (
            ("Deterioration", "deterioration"),
            ("Meaningful worsening", "meaningful_worsening"),
        ):
            if tp.get(key):
                rows.append(_rate_row(measure, tp["label"], "observed", tp[key]))
    durability = summary.get("durability") or {}
    for key, population in (("sustained", "observed"), ("sustained_itt", "intention to treat")):
        for week, rate in (durability.get(key) or {}).items():
            rows.append(_rate_row("Still responding (week-4 responders)", week, population, rate))
    for effect in summary.get("side_effects") or []:
        label = effect.get("label") or effect["effect"]
        rows.append(_rate_row(f"Side effect: {label}", "", "patients", effect.get("patients")))
        rows.append(_rate_row(f"Side effect: {label}", "", "sessions", effect.get("sessions")))
    names = {
        "pre_dose_above": "Blood pressure above the pre-dose threshold",
        "rise": "Blood pressure rise",
        "systolic_rise": "Systolic rise",
        "diastolic_rise": "Diastolic rise",
    }
    for key, words in names.items():
        block = (summary.get("blood_pressure") or {}).get(key) or {}
        for level in ("patients", "sessions"):
            if block.get(level):
                rows.append(_rate_row(words, "", level, block[level]))
    return pd.DataFrame(rows)
