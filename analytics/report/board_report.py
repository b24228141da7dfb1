"""What a board report says about a cohort: its numbers and tidy tables, before any layout.

:func:`board_report_of` adds up the clinic's per-patient table for a cohort, as the dashboard
and ``python -m analytics summary --json`` do (every headline number *is* the summary's), and
applies small-cell suppression when the report is to leave the clinic. Drawing the charts and
laying out the pages is :mod:`documents.board_report`'s work.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.core.definitions import OutcomeDefinitions
from analytics.core.patient_table import PatientTable
from analytics.core.stats import rate
from analytics.report.overview import HEADLINE_TIMEPOINT, overview_of
from analytics.report.summary import jsonable, summary_of
from analytics.report.suppression import (
    SMALL_CELL_MAX,
    SUPPRESSED,
    is_small,
    suppress_rate,
    suppress_rate_frame,
    suppress_summary,
    suppression_note,
)

__all__ = ["BoardReport", "board_report_of", "headline_rows", "report_period"]

# The durability analysis a board asks about first: how long a response lasts.
DURABILITY_ANALYSIS = "loss_of_response"


@dataclass(frozen=True)
class BoardReport:
    """Everything a board report shows, as plain data.

    ``summary`` is :func:`analytics.report.summary.summary_of` of the cohort (suppressed when
    ``suppression["applied"]``), so every number in the report is the summary's; ``frames``
    are the tidy tables the charts are drawn from (already suppressed: a suppressed cell is
    not drawn).
    """

    clinic_name: str
    cohort: str
    period: str
    data_version: str
    made_on: str
    made_by: str
    instrument: str
    summary: dict
    headline: list[dict]
    frames: dict[str, pd.DataFrame]
    claims: list[dict]
    caveats: list[str]
    suppression: dict
    min_n: int = 10
    routes: list[str] = field(default_factory=list)
    by: str | None = None

    @property
    def n_patients(self):
        return self.summary["counts"]["patients"]


def report_period(summary: dict) -> str:
    """The period the cohort's first sessions span, in words, from the summary's activity.

    Examples
    --------
    >>> report_period({"activity": [{"year": 2024, "month": None}, {"year": 2025, "month": None}]})
    'first sessions from 2024 to 2025'
    >>> report_period({"activity": []})
    'first-session dates not recorded'
    """
    periods = [
        (row["year"], row.get("month"))
        for row in summary.get("activity") or []
        if row.get("year") is not None
    ]
    if not periods:
        return "first-session dates not recorded"
    first, last = min(periods, key=_period_key), max(periods, key=_period_key)

    def words(period) -> str:
        year, month = period
        return f"{year}-{int(month):02d}" if month is not None else str(year)

    if first == last:
        return f"first sessions in {words(first)}"
    return f"first sessions from {words(first)} to {words(last)}"


def _period_key(period) -> tuple:
    year, month = period
    return (year, month or 0)


def _rate_row(measure: str, population: str, value: dict | None, note: str = "") -> dict:
    return {"measure": measure, "population": population, "rate": value, "note": note}


def headline_rows(summary: dict, overview: dict, definitions: OutcomeDefinitions) -> list[dict]:
    """The report's headline table: one row per number, each rate with its k, n and 95% CI.

    Every rate is the summary's (or, for completed induction and scoring, the Overview's
    attrition steps), so the report, the dashboard and ``summary --json`` agree.

    Returns
    -------
    list of dict
        ``measure``, ``population`` (who is counted), ``rate`` (a rate dict ``{"k", "n",
        "rate", "ci_low", "ci_high"}``, or None), ``count`` (a plain count instead of a rate)
        and ``median`` (a Kaplan-Meier block instead), ``note``.
    """
    rows: list[dict] = [
        {
            "measure": "Patients",
            "population": "in the cohort",
            "count": summary["counts"]["patients"],
        },
        {
            "measure": "Sessions",
            "population": "given to them (one per patient and day)",
            "count": summary["counts"]["sessions"],
        },
    ]
    week4 = next((t for t in summary["timepoints"] if t["label"] == HEADLINE_TIMEPOINT), None)
    scored = "patients with a baseline and a score at week 4"
    due = "patients with a baseline who started and were due at week 4, scored or not"
    if week4 is not None:
        rows += [
            _rate_row("Response at week 4, observed", scored, week4["response"]),
            _rate_row("Response at week 4, intention to treat", due, week4["response_itt"]),
            _rate_row(
                "Remission at week 4, observed",
                f"{scored}, baseline at or above {definitions.remission_below:g}",
                week4["remission"],
            ),
            _rate_row(
                "Remission at week 4, intention to treat",
                f"{due}, baseline at or above {definitions.remission_below:g}",
                week4["remission_itt"],
            ),
        ]
    rows.append(
        {
            "measure": "Median time to response",
            "population": "patients with a baseline and a later score (Kaplan-Meier)",
            "median": summary["durability"]["time_to_response"],
        }
    )
    flow = overview["flow"]
    rows.append(
        _rate_row(
            "Completed induction",
            "patients who started: sessions reaching their route's induction count",
            flow["completed_induction"],
        )
    )
    if flow.get("scored_timepoint") is not None:
        rows.append(
            _rate_row(
                "Data completeness: scored at week 4",
                "patients who started and were due at week 4",
                flow["scored_timepoint"],
            )
        )
    patients = summary["counts"]["patients"]
    baseline_n = summary["baseline"]["n"]
    if isinstance(patients, int) and isinstance(baseline_n, int):
        rows.append(
            _rate_row(
                "Data completeness: baseline recorded",
                f"patients with a baseline {definitions.instrument} score",
                rate(baseline_n, patients, method=definitions.ci_method).to_dict(),
            )
        )
    return rows


def _suppressed_rows(rows: list[dict], summary: dict) -> list[dict]:
    """The headline rows with small cells suppressed; ``summary`` is the suppressed summary,
    whose Kaplan-Meier block replaces the raw one."""
    out = []
    for row in rows:
        row = dict(row)
        if row.get("rate") is not None:
            row["rate"] = suppress_rate(row["rate"])
        if "count" in row and is_small(row["count"]):
            row["count"] = SUPPRESSED
        if "median" in row:
            row["median"] = summary["durability"]["time_to_response"]
        out.append(row)
    return out


def _rates_by_timepoint(summary: dict) -> pd.DataFrame:
    """Response and remission, observed and intention to treat, at every timepoint."""
    rows = []
    for tp in summary["timepoints"]:
        for measure, key in (("Response", "response"), ("Remission", "remission")):
            for population, suffix in (("observed", ""), ("itt", "_itt")):
                value = tp.get(key + suffix)
                if value:
                    rows.append(
                        {"timepoint": tp["label"], "measure": measure, "population": population}
                        | value
                    )
    return pd.DataFrame(
        rows, columns=["timepoint", "measure", "population", "k", "n", "rate", "ci_low", "ci_high"]
    )


def _means_by_group(table, keep, definitions, by: str, suppress: bool) -> pd.DataFrame:
    from analytics.metrics.trajectories import mean_trajectory_from

    means = mean_trajectory_from(
        table, keep, definitions, axis="week", by=by, include_overall=False
    )
    if suppress and not means.empty:
        # a mean of fewer than 11 patients is a small cell: not drawn
        means = means[means["n"] > SMALL_CELL_MAX]
    return means.reset_index(drop=True)


def _durability_curve(table, keep, definitions, suppress: bool):
    from analytics.metrics.durability import event_curves_from

    curve, medians = event_curves_from(table, keep, definitions, DURABILITY_ANALYSIS)
    if suppress and not curve.empty:
        # the tail where fewer than 11 are at risk would let a reader count single patients
        curve = curve[curve["at_risk"] > SMALL_CELL_MAX]
    return curve.reset_index(drop=True), medians


def _funnel(table, keep, definitions, suppress: bool) -> pd.DataFrame:
    from analytics.metrics.attrition import ALL_ROUTES, attrition_flow_from

    if HEADLINE_TIMEPOINT not in [w.label for w in definitions.windows]:
        return pd.DataFrame(columns=["step", "label", "k", "n", "rate", "ci_low", "ci_high"])
    flow = attrition_flow_from(table, keep, definitions, week4=HEADLINE_TIMEPOINT)
    overall = flow[flow["route"] == ALL_ROUTES]
    overall = overall[overall["step"] != "stopped_after_first"]
    columns = ["step", "label", "k", "n", "rate", "ci_low", "ci_high"]
    overall = overall[columns].reset_index(drop=True)
    return suppress_rate_frame(overall) if suppress else overall


def _side_effects(table, keep, definitions, suppress: bool) -> pd.DataFrame:
    """Reported side effects per patient and per session, beside the label's trial rates."""
    from analytics.metrics.safety import effect_label, effect_rates_from
    from analytics.reference.spravato_label import label_reference

    rates = effect_rates_from(table, keep, definitions)
    columns = ["effect", "label", "level", "k", "n", "rate", "ci_low", "ci_high"]
    if rates.empty:
        return pd.DataFrame(columns=[*columns, "label_pct", "placebo_pct"])
    # the session form's yes/no fields are another measure (REMS monitoring), shown on Safety
    rates = rates[~rates["effect"].astype(str).str.endswith("_flag")]
    rates = rates.assign(label=rates["effect"].map(effect_label))[columns]
    reference = label_reference().set_index("effect")
    rates = rates.assign(
        label_pct=rates["effect"].map(reference["esketamine_pct"]),
        placebo_pct=rates["effect"].map(reference["placebo_pct"]),
    )
    rates = rates.reset_index(drop=True)
    return suppress_rate_frame(rates) if suppress else rates


def _group_rows(summary: dict) -> pd.DataFrame:
    """Each group's patients and week-4 outcomes (the summary's ``groups``, when split)."""
    rows = []
    for name, group in (summary.get("groups") or {}).items():
        week4 = next((t for t in group["timepoints"] if t["label"] == HEADLINE_TIMEPOINT), {})
        rows.append(
            {
                "group": name,
                "patients": group["n_patients"],
                "small": group["small"],
                **{key: week4.get(key) for key in ("response", "response_itt", "remission")},
            }
        )
    return pd.DataFrame(
        rows, columns=["group", "patients", "small", "response", "response_itt", "remission"]
    )


def _blood_pressure(summary: dict) -> pd.DataFrame:
    bp = summary.get("blood_pressure") or {}
    names = {
        "pre_dose_above": "Pre-dose reading above the threshold",
        "rise": "Rise after dosing at or above the thresholds",
        "systolic_rise": "Systolic rise",
        "diastolic_rise": "Diastolic rise",
    }
    rows = []
    for key, words in names.items():
        if key in bp:
            for level in ("sessions", "patients"):
                rows.append({"flag": words, "level": level, **(bp[key].get(level) or {})})
    return pd.DataFrame(rows, columns=["flag", "level", "k", "n", "rate", "ci_low", "ci_high"])


def _claims(table, keep, definitions, suppress: bool) -> list[dict]:
    from analytics.metrics.claims import claims_summary_from

    checks = []
    for check in jsonable(claims_summary_from(table, keep, definitions)).values():
        if not isinstance(check, dict) or "verdict" not in check:
            continue
        entry = {
            key: check.get(key)
            for key in ("claim", "verdict", "verdict_reason", "rule", "sentence", "n")
        }
        rates = [v for v in check.values() if isinstance(v, dict) and "k" in v and "n" in v]
        small = is_small(entry["n"]) or any(suppress_rate(r)["suppressed"] for r in rates)
        if suppress and small:
            # the reason quotes counts from 1 to 10: the verdict stands, its numbers do not
            entry["verdict_reason"] = (
                "The numbers behind this verdict include counts from 1 to 10, suppressed in "
                "this report; the dashboard shows them inside the clinic."
            )
            entry["sentence"] = None
            if is_small(entry["n"]):
                entry["n"] = SUPPRESSED
        checks.append(entry)
    return checks


def _caveats(summary: dict, definitions: OutcomeDefinitions, suppression: dict) -> list[str]:
    text = [
        "Observed rates count only the patients scored at a timepoint; intention-to-treat "
        "rates count every patient with a baseline who started and was due, and a patient "
        "with no score counts as not responding. The truth for the clinic lies between them: "
        "patients who stop coming may do worse than those who keep coming.",
        "Missing data: " + summary["definitions"]["data_cutoff"] + ".",
        f"Small groups: a rate of fewer than {definitions.min_patients} patients is too few "
        "to read as a rate and is greyed in the charts; intervals are wide when n is small.",
        "The Spravato label's frequencies come from short-term trials of esketamine with an "
        "oral antidepressant in treatment-resistant depression: another population and "
        "design, shown for orientation, not as a benchmark the clinic should match.",
        "This is a clinic's own record, not a trial: there is no control group, and change "
        "over time includes regression to the mean and the effect of other care.",
    ]
    if suppression["applied"]:
        text.append(
            f"Small-cell suppression was applied: {suppression['rule']} "
            f"{suppression['cells_suppressed']} values were suppressed."
        )
    else:
        text.append(
            "Small-cell suppression was NOT applied: counts from 1 to 10 are shown. Do not "
            "share this report outside the clinic."
        )
    return text


def board_report_of(
    table: PatientTable,
    keep: np.ndarray,
    definitions: OutcomeDefinitions,
    *,
    clinic_name: str,
    cohort: str,
    data_version: str,
    made_by: str,
    by: str | None = None,
    suppress: bool = True,
    made_on: datetime.date | None = None,
) -> BoardReport:
    """The board report of the cohort ``keep``: numbers, tables and words, ready to lay out.

    Parameters
    ----------
    table : PatientTable
        The clinic's per-patient table for ``definitions``.
    keep : numpy.ndarray of bool
        The cohort: one flag per row of ``table``.
    definitions : OutcomeDefinitions
    clinic_name, cohort, data_version, made_by : str
        For the cover: the clinic's name (a setting), the cohort's filters in words, the
        version of the data and who asked for the report.
    by : str, optional
        A ``patients`` column to compare groups by: the mean course is drawn per group
        (default: per route) and a table gives each group's week-4 outcomes.
    suppress : bool, default True
        Small-cell suppression (:mod:`analytics.report.suppression`): on for anything that
        leaves the clinic.
    made_on : datetime.date, optional
        The date on the cover (default: today).

    Returns
    -------
    BoardReport

    Raises
    ------
    ValueError
        When ``by`` is not a ``patients`` column, or splits into more than 50 groups.
    """
    summary = summary_of(table, keep, definitions, by=by)
    overview = overview_of(table, keep, definitions)
    headline = headline_rows(summary, overview, definitions)
    if suppress:
        summary = suppress_summary(summary)
        headline = _suppressed_rows(headline, summary)
    else:
        summary = {**summary, "suppression": suppression_note(False)}
    curve, medians = _durability_curve(table, keep, definitions, suppress)
    frames = {
        "means_by_group": _means_by_group(table, keep, definitions, by or "route", suppress),
        "groups": _group_rows(summary),
        "rates_by_timepoint": (
            suppress_rate_frame(_rates_by_timepoint(summary))
            if suppress
            else _rates_by_timepoint(summary)
        ),
        "durability_curve": curve,
        "durability_medians": medians,
        "funnel": _funnel(table, keep, definitions, suppress),
        "side_effects": _side_effects(table, keep, definitions, suppress),
        "blood_pressure": _blood_pressure(summary),
    }
    routes = sorted(pd.unique(table.patients["route"][keep].dropna().astype(str)))
    return BoardReport(
        clinic_name=clinic_name,
        cohort=cohort,
        period=report_period(summary),
        data_version=data_version,
        made_on=(made_on or datetime.date.today()).isoformat(),
        made_by=made_by,
        instrument=definitions.instrument,
        summary=summary,
        headline=headline,
        frames=frames,
        claims=_claims(table, keep, definitions, suppress),
        caveats=_caveats(summary, definitions, summary["suppression"]),
        suppression=summary["suppression"],
        min_n=definitions.min_patients,
        routes=[str(r) for r in routes],
        by=by,
    )
