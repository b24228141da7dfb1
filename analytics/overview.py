"""The Overview's numbers for any cohort, re-added from per-patient parts instead of recomputed.

Every number on the Overview is a sum, a mean or a Kaplan-Meier estimate over patients: how many
patients and sessions, the baseline mean, week-4 response and remission (observed and intention
to treat), the time to response, completed induction and data completeness, the side effects per
patient and per session, new starts per period and the mean score by week. Each patient's share
of those numbers does not depend on who else is in the cohort, so :func:`overview_parts` works it
out once per clinic (one row per patient, plus one row per patient and week and per patient and
effect), and :func:`overview_numbers` adds up the rows of the patients a cohort filter keeps. A
filter change then costs a few array sums over 100,000 patients instead of a new summary.

The result has the layout of :func:`analytics.summary.build_summary` for the parts the Overview
shows, and the tests check that the two agree exactly on every cohort they try.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.contract import ClinicData
from analytics.definitions import OutcomeDefinitions
from analytics.stats import mean_ci, rate

__all__ = ["OverviewParts", "overview_numbers", "overview_parts"]

# Per-patient flags of the timepoint the Overview headlines (``week 4`` by default).
_TIMEPOINT_FLAGS = ("observed", "itt", "responder", "remission_eligible", "remitter")


@dataclass(frozen=True)
class OverviewParts:
    """Each patient's share of the Overview's numbers, for one clinic and one set of definitions.

    Attributes
    ----------
    patients : pandas.DataFrame
        One row per patient, in the order of ``ids``: ``sessions`` (rows of sessions.csv),
        ``session_days`` (distinct session days), ``assessments`` (any instrument), ``baseline``
        (NaN without one), the timepoint flags ``tp_observed``, ``tp_itt``, ``tp_responder``,
        ``tp_remission_eligible``, ``tp_remitter``, the time to response ``ttr_time`` (NaN
        when the patient is not in that analysis) and ``ttr_event``, ``completed_induction``,
        ``scored_timepoint``, and the start ``year`` and ``month`` (NA when unknown).
    ids : pandas.Index
        The patient ids, aligned with ``patients``.
    weekly : pandas.DataFrame
        One row per patient and week bin (:func:`analytics.trajectories.patient_trajectories`
        on the week axis): ``code`` (the patient's position in ``ids``), ``x``, ``label``,
        ``score``.
    effects : pandas.DataFrame
        One row per patient and reported effect: ``code``, ``effect``, ``sessions`` (sessions
        of that patient with the effect).
    timepoint : str or None
        The headline timepoint's label; None when the windows have no such timepoint.
    ci_method : str
        Interval method of the rates.
    months_kept : bool
        Whether the activity is counted per month rather than per year.
    """

    patients: pd.DataFrame
    ids: pd.Index
    weekly: pd.DataFrame
    effects: pd.DataFrame
    timepoint: str
    ci_method: str
    months_kept: bool


def _positions(values, ids: pd.Index) -> np.ndarray:
    """Position of each of ``values`` in ``ids`` (unique), -1 when absent; by integer codes."""
    from analytics.timepoints import lookup_by_id

    found = lookup_by_id(values, ids, np.arange(len(ids), dtype="float64"))
    return np.where(np.isnan(found), -1, found).astype("int64")


def _per_patient(codes: np.ndarray, size: int, weights=None) -> np.ndarray:
    keep = codes >= 0
    w = None if weights is None else np.asarray(weights, dtype="float64")[keep]
    return np.bincount(codes[keep], weights=w, minlength=size)


def overview_parts(
    data: ClinicData, definitions: OutcomeDefinitions, *, timepoint: str = "week 4"
) -> OverviewParts:
    """Work out each patient's share of the Overview's numbers (see the module docstring).

    Parameters
    ----------
    data : ClinicData
        The whole clinic (filters are applied later, by :func:`overview_numbers`).
    definitions : OutcomeDefinitions
        Instrument, windows, response and remission rules, induction lengths, interval method.
    timepoint : str
        The window whose response and remission the Overview headlines.

    Returns
    -------
    OverviewParts

    Notes
    -----
    When ``timepoint`` is not one of the definitions' windows (custom windows), the headline
    timepoint of :func:`overview_numbers` is None.
    """
    from analytics.attrition import attrition_patients
    from analytics.durability import time_to_response_times
    from analytics.outcomes import patient_outcomes
    from analytics.timepoints import baseline_scores, shared_intermediates
    from analytics.trajectories import patient_trajectories

    if timepoint not in [w.label for w in definitions.windows]:
        timepoint = None  # custom windows without it: no headline timepoint
    people = data.patients.drop_duplicates("patient_id")
    ids = pd.Index(people["patient_id"].astype("string"))
    size = len(ids)
    out = pd.DataFrame(index=pd.RangeIndex(size))

    s = data.sessions
    s_codes = _positions(s["patient_id"], ids)
    out["sessions"] = _per_patient(s_codes, size).astype("int64")
    days = pd.DataFrame({"code": s_codes, "day": s["day"].to_numpy("int64")}).drop_duplicates()
    out["session_days"] = _per_patient(days["code"].to_numpy(), size).astype("int64")
    out["assessments"] = _per_patient(_positions(data.assessments["patient_id"], ids), size).astype(
        "int64"
    )

    with shared_intermediates():
        base = baseline_scores(data, definitions)
        out["baseline"] = np.nan
        b_codes = _positions(base["patient_id"], ids)
        out.loc[b_codes[b_codes >= 0], "baseline"] = base["baseline"].to_numpy(float)[b_codes >= 0]

        rows = patient_outcomes(data, definitions)
        rows = rows[rows["timepoint"] == timepoint]  # none when timepoint is None
        r_codes = _positions(rows["patient_id"], ids)
        for flag in _TIMEPOINT_FLAGS:
            values = rows[flag].fillna(False).to_numpy(bool)
            out[f"tp_{flag}"] = _per_patient(r_codes, size, values) > 0

        ttr = time_to_response_times(data, definitions)
        t_codes = _positions(ttr["patient_id"], ids)
        out["ttr_time"] = np.nan
        out["ttr_event"] = False
        known = t_codes >= 0
        out.loc[t_codes[known], "ttr_time"] = ttr["time"].to_numpy(float)[known]
        out.loc[t_codes[known], "ttr_event"] = ttr["event"].to_numpy(bool)[known]

        # attrition needs a timepoint for its "scored" step; induction does not depend on it
        flow = attrition_patients(
            data, definitions, week4=timepoint or definitions.windows[-1].label
        )
        f_codes = _positions(flow["patient_id"], ids)
        for column, name in (
            ("completed_induction", "completed_induction"),
            ("scored_week4", "scored_timepoint"),
        ):
            out[name] = _per_patient(f_codes, size, flow[column].to_numpy(bool)) > 0
        if timepoint is None:
            out["scored_timepoint"] = False

        points = patient_trajectories(data, definitions, axis="week")
    weekly = pd.DataFrame(
        {
            "code": _positions(points["patient_id"], ids),
            "x": points["x"].to_numpy(float),
            "label": points["label"].astype("string").to_numpy(),
            "score": points["score"].to_numpy(float),
        }
    )
    weekly = weekly[weekly["code"] >= 0].reset_index(drop=True)

    out["year"] = people["first_session_year"].astype("Int64").to_numpy()
    out["month"] = people["first_session_month"].astype("Int64").to_numpy()

    return OverviewParts(
        patients=out,
        ids=ids,
        weekly=weekly,
        effects=_effect_parts(data, ids, s_codes),
        timepoint=timepoint,
        ci_method=definitions.ci_method,
        months_kept=bool(data.months_kept),
    )


def _effect_parts(data: ClinicData, ids: pd.Index, s_codes: np.ndarray) -> pd.DataFrame:
    """Sessions with each reported effect, per patient (reports matched to a session only)."""
    e = data.side_effects
    e = e.loc[e["effect"].notna()]
    events = pd.DataFrame(
        {
            "code": _positions(e["patient_id"], ids),
            "day": e["day"].to_numpy("int64"),
            "effect": e["effect"].astype("string").to_numpy(dtype=object),
        }
    )
    given = pd.DataFrame(
        {"code": s_codes, "day": data.sessions["day"].to_numpy("int64")}
    ).drop_duplicates()
    events = events[events["code"] >= 0].merge(given, on=["code", "day"])
    events = events.drop_duplicates(["effect", "code", "day"])
    counts = events.groupby(["code", "effect"], sort=True).size().rename("sessions")
    return counts.reset_index().astype({"code": "int64", "sessions": "int64"})


def _rate(k, n, method: str) -> dict:
    return rate(int(k), int(n), method=method).to_dict()


def overview_numbers(parts: OverviewParts, patient_ids=None) -> dict:
    """The Overview's numbers for the cohort ``patient_ids`` (None: every patient).

    Parameters
    ----------
    parts : OverviewParts
        From :func:`overview_parts` on the whole clinic.
    patient_ids : array_like of str, optional
        The patients the cohort filters keep.

    Returns
    -------
    dict
        In the layout of :func:`analytics.summary.build_summary`: ``counts`` (``patients``,
        ``sessions``, ``assessments``), ``baseline`` (``n``, ``mean``), ``timepoint`` (the
        label, with ``response``, ``response_itt``, ``remission``, ``remission_itt`` as rate
        dicts; None without a headline timepoint), ``time_to_response`` (:meth:`analytics.durability.KaplanMeier.to_dict`),
        ``flow`` (``completed_induction`` and ``scored_timepoint`` among patients who started;
        the latter None without a headline timepoint),
        ``side_effects`` (reported effects, most patients first: ``effect``, ``label``,
        ``patients``, ``sessions``), ``activity`` (records as
        :func:`analytics.activity.activity_by_period`) and ``mean_by_week`` (a frame as
        :func:`analytics.trajectories.mean_trajectory` on the week axis, one group).
    """
    from analytics.durability import kaplan_meier
    from analytics.safety import effect_label

    p = parts.patients
    if patient_ids is None:
        keep = np.ones(len(p), dtype=bool)
    else:
        keep = np.zeros(len(p), dtype=bool)
        codes = _positions(pd.Series(patient_ids, dtype="string"), parts.ids)
        keep[codes[codes >= 0]] = True
    c = p[keep]
    method = parts.ci_method

    def flag(name: str) -> np.ndarray:
        return c[name].to_numpy(bool)

    baseline = c["baseline"].dropna().to_numpy(float)
    observed, itt = flag("tp_observed"), flag("tp_itt")
    responder, eligible, remitter = (
        flag("tp_responder"),
        flag("tp_remission_eligible"),
        flag("tp_remitter"),
    )
    in_ttr = c["ttr_time"].notna().to_numpy()
    km = kaplan_meier(
        c["ttr_time"].to_numpy(float)[in_ttr],
        c["ttr_event"].to_numpy(bool)[in_ttr],
        ci_method="log-log",
    )
    started = c["sessions"].to_numpy() > 0
    n_started = int(started.sum())

    patients_with_sessions = int(started.sum())
    sessions_given = int(c["sessions"].sum())
    e = parts.effects
    e = e[keep[e["code"].to_numpy()]]
    per_effect = e.groupby("effect", sort=True).agg(
        patients=("code", "size"), sessions=("sessions", "sum")
    )
    order = sorted(per_effect.index, key=lambda code: (-per_effect.at[code, "patients"], code))
    side_effects = [
        {
            "effect": code,
            "label": effect_label(code),
            "patients": _rate(per_effect.at[code, "patients"], patients_with_sessions, method),
            "sessions": _rate(per_effect.at[code, "sessions"], sessions_given, method),
        }
        for code in order
    ]

    return {
        "counts": {
            "patients": int(keep.sum()),
            "sessions": int(c["session_days"].sum()),
            "assessments": int(c["assessments"].sum()),
        },
        "baseline": {
            "n": int(baseline.size),
            "mean": float(baseline.mean()) if baseline.size else None,
        },
        "timepoint": None
        if parts.timepoint is None
        else {
            "label": parts.timepoint,
            "response": _rate((observed & responder).sum(), observed.sum(), method),
            "response_itt": _rate((itt & responder).sum(), itt.sum(), method),
            "remission": _rate(
                (observed & eligible & remitter).sum(), (observed & eligible).sum(), method
            ),
            "remission_itt": _rate(
                (itt & eligible & remitter).sum(), (itt & eligible).sum(), method
            ),
        },
        "time_to_response": km.to_dict(),
        "flow": {
            "completed_induction": _rate(
                (started & flag("completed_induction")).sum(), n_started, method
            ),
            "scored_timepoint": None
            if parts.timepoint is None
            else _rate((started & flag("scored_timepoint")).sum(), n_started, method),
        },
        "side_effects": side_effects,
        "activity": _activity(c, parts.months_kept),
        "mean_by_week": _mean_by_week(parts.weekly, keep),
    }


def _activity(c: pd.DataFrame, months_kept: bool) -> list[dict]:
    keys = ["year", "month"] if months_kept else ["year"]
    starts = c.loc[c["sessions"] > 0, ["year", "month", "sessions"]].dropna(subset=keys)
    table = (
        starts.groupby(keys, sort=True)
        .agg(new_starts=("sessions", "size"), sessions=("sessions", "sum"))
        .reset_index()
    )
    records = []
    for row in table.itertuples(index=False):  # one row per year or month
        records.append(
            {
                "year": int(row.year),
                "month": int(row.month) if months_kept else None,
                "new_starts": int(row.new_starts),
                "sessions": int(row.sessions),
            }
        )
    return records


def _mean_by_week(weekly: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    w = weekly[keep[weekly["code"].to_numpy()]]
    out = (
        w.groupby("x", sort=True)
        .agg(label=("label", "first"), n=("score", "size"), mean=("score", "mean"),
             sd=("score", "std"))
        .reset_index()
    )  # fmt: skip
    out["ci_low"], out["ci_high"] = mean_ci(
        out["mean"].to_numpy(float), out["sd"].to_numpy(float), out["n"].to_numpy(float)
    )
    out = out.astype({"label": "string", "n": "int64"})
    return out[["x", "label", "n", "mean", "sd", "ci_low", "ci_high"]]
