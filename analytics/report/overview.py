"""The Overview's numbers for any cohort, re-added from per-patient parts instead of recomputed.

Every number on the Overview is a sum, a mean or a Kaplan-Meier estimate over patients: how many
patients and sessions, the baseline mean, week-4 response and remission (observed and intention
to treat), the time to response, completed induction and data completeness, the side effects per
patient and per session, new starts per period and the mean score by week. Each patient's share
of those numbers does not depend on who else is in the cohort, so :func:`overview_parts` works it
out once per clinic (one row per patient, plus one row per patient and week and per patient and
effect), and :func:`overview_numbers` adds up the rows of the patients a cohort filter keeps. A
filter change then costs a few array sums over 100,000 patients instead of a new summary.

The result has the layout of :func:`analytics.report.summary.build_summary` for the parts the Overview
shows, and the tests check that the two agree exactly on every cohort they try.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.core.contract import ClinicData
from analytics.core.definitions import OutcomeDefinitions
from analytics.core.ids import PatientIndex, isin_ids
from analytics.core.stats import mean_ci, proportion_ci, rate

__all__ = ["OverviewParts", "overview_numbers", "overview_parts", "session_members"]

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
        ``scored_timepoint``, and ``period`` (the start period: a row of ``periods``, -1 when
        unknown).
    ids : pandas.Index
        The patient ids, aligned with ``patients``.
    weekly : pandas.DataFrame
        One row per patient and week bin (:func:`analytics.metrics.trajectories.patient_trajectories`
        on the week axis): ``code`` (the patient's position in ``ids``), ``bin`` (a row of
        ``bins``), ``score``.
    effects : pandas.DataFrame
        One row per patient and reported effect: ``code``, ``effect`` (a position in
        ``effect_names``), ``sessions`` (sessions of that patient with the effect).
    timepoint : str or None
        The headline timepoint's label; None when the windows have no such timepoint.
    ci_method : str
        Interval method of the rates.
    months_kept : bool
        Whether the activity is counted per month rather than per year.
    bins : pandas.DataFrame
        The week bins in order: ``x``, ``label``.
    periods : pandas.DataFrame
        The start periods in order: ``year``, ``month``; ``patients["period"]`` points here
        (-1: unknown start).
    effect_names : tuple of str
        The reported effects' canonical names.
    """

    patients: pd.DataFrame
    ids: pd.Index
    weekly: pd.DataFrame
    effects: pd.DataFrame
    timepoint: str | None
    ci_method: str
    months_kept: bool
    bins: pd.DataFrame
    periods: pd.DataFrame
    effect_names: tuple[str, ...]


def session_members(data: ClinicData, column: str) -> pd.DataFrame:
    """Each distinct (``column`` value, patient) pair of the sessions, e.g. who was seen where.

    A site or clinician filter then looks through these pairs (tens of thousands) instead of
    every session (millions).

    Examples
    --------
    >>> from analytics.core.contract import clinic_from_frames
    >>> clinic = clinic_from_frames(sessions=pd.DataFrame({"patient_id": ["a", "a", "b"],
    ...     "day": [0, 2, 0], "route": "iv_ketamine", "site": ["north", "north", "south"]}))
    >>> session_members(clinic, "site").values.tolist()
    [['north', 'a'], ['south', 'b']]
    """
    s = data.sessions
    pairs = pd.DataFrame(
        {column: s[column].astype("string"), "patient_id": s["patient_id"].astype("string")}
    )
    return pairs.dropna(subset=[column]).drop_duplicates().reset_index(drop=True)


def _sorted_distinct(keys: np.ndarray) -> np.ndarray | None:
    """First occurrences of ``keys`` when they are already in order (the usual case), else None."""
    if len(keys) and not np.all(keys[1:] >= keys[:-1]):
        return None
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    return first


def _day_keys(codes: np.ndarray, days: np.ndarray) -> np.ndarray:
    """One int64 per (patient code, day): days lie within +-2**31 of day 0."""
    return codes.astype("int64") * (1 << 32) + (days.astype("int64") + (1 << 31))


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
    from analytics.metrics.durability import time_to_response_times
    from analytics.metrics.outcomes import patient_outcomes
    from analytics.metrics.timepoints import (
        baseline_scores,
        shared_intermediates,
        timepoint_scores,
        valid_scores,
    )

    if timepoint not in [w.label for w in definitions.windows]:
        timepoint = None  # custom windows without it: no headline timepoint
    people = data.patients.drop_duplicates("patient_id")
    ids = pd.Index(people["patient_id"].astype("string"))
    size = len(ids)
    out = pd.DataFrame(index=pd.RangeIndex(size))
    locate = PatientIndex(ids).positions

    s = data.sessions
    s_codes = locate(s["patient_id"])
    out["sessions"] = _per_patient(s_codes, size).astype("int64")
    keys = _day_keys(s_codes, s["day"].to_numpy("int64"))
    distinct = _sorted_distinct(keys)
    if distinct is None:
        distinct = ~pd.Series(keys).duplicated().to_numpy()
    out["session_days"] = _per_patient(s_codes[distinct], size).astype("int64")
    out["assessments"] = _per_patient(locate(data.assessments["patient_id"]), size).astype("int64")

    with shared_intermediates():
        base = baseline_scores(data, definitions)
        out["baseline"] = np.nan
        b_codes = locate(base["patient_id"])
        out.loc[b_codes[b_codes >= 0], "baseline"] = base["baseline"].to_numpy(float)[b_codes >= 0]

        rows = patient_outcomes(data, definitions)
        rows = rows[rows["timepoint"] == timepoint]  # none when timepoint is None
        r_codes = locate(rows["patient_id"])
        for flag in _TIMEPOINT_FLAGS:
            values = rows[flag].fillna(False).to_numpy(bool)
            out[f"tp_{flag}"] = _per_patient(r_codes, size, values) > 0

        ttr = time_to_response_times(data, definitions)
        t_codes = locate(ttr["patient_id"])
        out["ttr_time"] = np.nan
        out["ttr_event"] = False
        known = t_codes >= 0
        out.loc[t_codes[known], "ttr_time"] = ttr["time"].to_numpy(float)[known]
        out.loc[t_codes[known], "ttr_event"] = ttr["event"].to_numpy(bool)[known]

        # Attrition's flags (analytics.metrics.attrition.attrition_patients), on integer codes: the
        # route of the first session sets the induction length; "scored" is a score in the
        # headline window.
        out["completed_induction"] = _completed_induction(s, s_codes, size, definitions)
        out["scored_timepoint"] = False
        if timepoint is not None:
            scored = timepoint_scores(data, definitions)
            scored = scored.loc[scored["timepoint"] == timepoint, "patient_id"]
            sc_codes = locate(scored)
            out["scored_timepoint"] = (_per_patient(sc_codes, size) > 0) & (out["sessions"] > 0)

        valid = valid_scores(data, definitions.instrument)
    weekly, bins = _weekly_points(valid, out["baseline"].to_numpy(float), locate)

    # start periods: the year, or the year and month when months are kept
    keys = ["year", "month"] if data.months_kept else ["year"]
    start = pd.DataFrame(
        {
            "year": people["first_session_year"].astype("Int64").to_numpy(),
            "month": people["first_session_month"].astype("Int64").to_numpy(),
        }
    )
    known = start[keys].notna().all(axis=1).to_numpy()
    period_codes, periods = _factorize_rows(start[keys], known)
    out["period"] = period_codes

    effects, effect_names = _effect_parts(data, locate, s_codes)
    return OverviewParts(
        patients=out,
        ids=ids,
        weekly=weekly,
        effects=effects,
        timepoint=timepoint,
        ci_method=definitions.ci_method,
        months_kept=bool(data.months_kept),
        bins=bins,
        periods=periods,
        effect_names=effect_names,
    )


def _completed_induction(
    s: pd.DataFrame, s_codes: np.ndarray, size: int, definitions: OutcomeDefinitions
) -> np.ndarray:
    """Patients with at least the induction sessions of the route of their first session."""
    known = np.flatnonzero(s_codes >= 0)
    codes = s_codes[known]
    days = s["day"].to_numpy("int64")[known]
    counts = np.bincount(codes, minlength=size)
    # the first session: the earliest day, the first row on a tie (as a stable sort)
    in_order = bool(np.all(np.diff(_day_keys(codes, days)) >= 0)) if len(codes) else True
    order = np.arange(len(codes)) if in_order else np.lexsort((days, codes))
    sorted_codes = codes[order]
    is_first = np.ones(len(order), dtype=bool)
    is_first[1:] = sorted_codes[1:] != sorted_codes[:-1]
    first_rows = known[order[is_first]]
    targets = {str(k): float(v) for k, v in definitions.induction_sessions.items()}
    routes = s["route"].astype("string").iloc[first_rows]
    target = np.full(size, np.nan)
    target[sorted_codes[is_first]] = routes.map(targets).astype("float64").to_numpy()
    with np.errstate(invalid="ignore"):
        return (counts >= target) & ~np.isnan(target)


def _weekly_points(
    valid: pd.DataFrame, baseline: np.ndarray, locate
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each patient's mean score per week bin, the baseline as week 0 (the points of
    :func:`analytics.metrics.trajectories.patient_trajectories` on the week axis), and the bins."""
    from analytics.metrics.trajectories import _labels, week_of_day

    codes = locate(valid["patient_id"])
    day = valid["day"].to_numpy("int64")
    score = valid["score"].to_numpy(float)
    with_base = codes >= 0
    with_base[with_base] = ~np.isnan(baseline[codes[with_base]])
    post = with_base & (day >= 1)
    has_base = np.flatnonzero(~np.isnan(baseline))
    point_codes = np.concatenate([has_base, codes[post]])
    point_x = np.concatenate([np.zeros(len(has_base)), week_of_day(day[post])])
    point_score = np.concatenate([baseline[has_base], score[post]])
    bin_codes, bin_x = pd.factorize(point_x, sort=True)
    bin_x = np.asarray(bin_x, dtype=float)
    key = point_codes.astype("int64") * max(len(bin_x), 1) + bin_codes
    keys, at = np.unique(key, return_inverse=True)
    mean = np.bincount(at, weights=point_score) / np.bincount(at)
    weekly = pd.DataFrame(
        {
            "code": keys // max(len(bin_x), 1),
            "bin": keys % max(len(bin_x), 1),
            "score": mean,
        }
    )
    bins = pd.DataFrame({"x": bin_x, "label": _labels(bin_x, "week").astype(object)})
    return weekly, bins


def _factorize_rows(keys: pd.DataFrame, known: np.ndarray) -> tuple[np.ndarray, pd.DataFrame]:
    """Integer code of each row's period (-1 when unknown) and the periods in time order."""
    periods = keys[known].drop_duplicates().sort_values(list(keys.columns)).reset_index(drop=True)
    codes = np.full(len(keys), -1, dtype="int64")
    if len(periods):
        found = pd.MultiIndex.from_frame(periods).get_indexer(pd.MultiIndex.from_frame(keys[known]))
        codes[known] = found
    periods = periods.astype("int64")
    if "month" not in periods:
        periods["month"] = pd.array([pd.NA] * len(periods), dtype="Int64")
    return codes, periods[["year", "month"]]


def _effect_parts(
    data: ClinicData, locate, s_codes: np.ndarray
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Sessions with each reported effect, per patient (reports matched to a session only)."""
    e = data.side_effects
    e = e.loc[e["effect"].notna()]
    events = pd.DataFrame(
        {
            "code": locate(e["patient_id"]),
            "day": e["day"].to_numpy("int64"),
            "effect": e["effect"].astype("string").to_numpy(dtype=object),
        }
    )
    # a report counts when it matches a session of that patient on that day
    given = _day_keys(s_codes, data.sessions["day"].to_numpy("int64"))
    reported = _day_keys(events["code"].to_numpy(), events["day"].to_numpy())
    given = np.sort(given[s_codes >= 0])
    at = np.minimum(np.searchsorted(given, reported), max(len(given) - 1, 0))
    matched = (events["code"].to_numpy() >= 0) & (
        given[at] == reported if len(given) else np.zeros(len(reported), dtype=bool)
    )
    events = events[matched].drop_duplicates(["effect", "code", "day"])
    counts = events.groupby(["code", "effect"], sort=True).size().rename("sessions").reset_index()
    effect_codes, names = pd.factorize(counts["effect"], sort=True)
    counts["effect"] = effect_codes
    counts = counts.astype({"code": "int64", "effect": "int64", "sessions": "int64"})
    return counts, tuple(str(name) for name in names)


def _rates(k, n, method: str) -> list[dict]:
    """:meth:`analytics.core.stats.Rate.to_dict` of each ``k[i]`` of ``n[i]``, in one CI call."""
    k = np.asarray(k, dtype="int64")
    n = np.asarray(n, dtype="int64")
    low, high = proportion_ci(k, n, method=method)
    low, high = np.atleast_1d(low), np.atleast_1d(high)
    return [
        rate(0, 0).to_dict()
        if n[i] == 0
        else {
            "k": int(k[i]),
            "n": int(n[i]),
            "rate": int(k[i]) / int(n[i]),
            "ci_low": float(low[i]),
            "ci_high": float(high[i]),
        }
        for i in range(len(k))
    ]


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
        In the layout of :func:`analytics.report.summary.build_summary`: ``counts`` (``patients``,
        ``sessions``, ``assessments``), ``baseline`` (``n``, ``mean``), ``timepoint`` (the
        label, with ``response``, ``response_itt``, ``remission``, ``remission_itt`` as rate
        dicts; None without a headline timepoint), ``time_to_response`` (:meth:`analytics.metrics.durability.KaplanMeier.to_dict`),
        ``flow`` (``completed_induction`` and ``scored_timepoint`` among patients who started;
        the latter None without a headline timepoint),
        ``side_effects`` (reported effects, most patients first: ``effect``, ``label``,
        ``patients``, ``sessions``), ``activity`` (records as
        :func:`analytics.metrics.activity.activity_by_period`) and ``mean_by_week`` (a frame as
        :func:`analytics.metrics.trajectories.mean_trajectory` on the week axis, one group).
    """
    from analytics.metrics.durability import kaplan_meier
    from analytics.metrics.safety import effect_label

    p = parts.patients
    if patient_ids is None:
        keep = np.ones(len(p), dtype=bool)
    else:
        keep = isin_ids(parts.ids, pd.Series(patient_ids, dtype="string"))
    method = parts.ci_method

    def flag(name: str) -> np.ndarray:
        return p[name].to_numpy(bool) & keep

    sessions = p["sessions"].to_numpy()
    started = keep & (sessions > 0)
    baseline = p["baseline"].to_numpy(float)[keep]
    baseline = baseline[~np.isnan(baseline)]
    observed, itt = flag("tp_observed"), flag("tp_itt")
    responder, eligible, remitter = (
        flag("tp_responder"),
        flag("tp_remission_eligible"),
        flag("tp_remitter"),
    )
    ttr_time = p["ttr_time"].to_numpy(float)
    in_ttr = keep & ~np.isnan(ttr_time)
    km = kaplan_meier(ttr_time[in_ttr], p["ttr_event"].to_numpy(bool)[in_ttr], ci_method="log-log")

    # every rate of the page in one interval computation
    n_started = int(started.sum())
    sessions_given = int(sessions[keep].sum())
    e = parts.effects
    e_keep = keep[e["code"].to_numpy()]
    e_codes = e["effect"].to_numpy()[e_keep]
    n_names = len(parts.effect_names)
    effect_patients = np.bincount(e_codes, minlength=n_names)
    effect_sessions = np.bincount(
        e_codes, weights=e["sessions"].to_numpy()[e_keep], minlength=n_names
    ).astype("int64")
    seen = [i for i in range(n_names) if effect_patients[i] > 0]
    order = sorted(seen, key=lambda i: (-effect_patients[i], parts.effect_names[i]))
    headline = [
        ((observed & responder).sum(), observed.sum()),
        ((itt & responder).sum(), itt.sum()),
        ((observed & eligible & remitter).sum(), (observed & eligible).sum()),
        ((itt & eligible & remitter).sum(), (itt & eligible).sum()),
        ((started & flag("completed_induction")).sum(), n_started),
        ((started & flag("scored_timepoint")).sum(), n_started),
    ]
    ks = [k for k, _ in headline]
    ns = [n for _, n in headline]
    for i in order:
        ks += [effect_patients[i], effect_sessions[i]]
        ns += [n_started, sessions_given]
    rates = _rates(ks, ns, method)
    side_effects = [
        {
            "effect": parts.effect_names[i],
            "label": effect_label(parts.effect_names[i]),
            "patients": rates[6 + 2 * j],
            "sessions": rates[7 + 2 * j],
        }
        for j, i in enumerate(order)
    ]

    return {
        "counts": {
            "patients": int(keep.sum()),
            "sessions": int(p["session_days"].to_numpy()[keep].sum()),
            "assessments": int(p["assessments"].to_numpy()[keep].sum()),
        },
        "baseline": {
            "n": int(baseline.size),
            "mean": float(baseline.mean()) if baseline.size else None,
        },
        "timepoint": None
        if parts.timepoint is None
        else {
            "label": parts.timepoint,
            "response": rates[0],
            "response_itt": rates[1],
            "remission": rates[2],
            "remission_itt": rates[3],
        },
        "time_to_response": km.to_dict(),
        "flow": {
            "completed_induction": rates[4],
            "scored_timepoint": None if parts.timepoint is None else rates[5],
        },
        "side_effects": side_effects,
        "activity": _activity(parts, started, sessions),
        "mean_by_week": _mean_by_week(parts, keep),
    }


def _activity(parts: OverviewParts, started: np.ndarray, sessions: np.ndarray) -> list[dict]:
    codes = parts.patients["period"].to_numpy()
    use = started & (codes >= 0)
    size = len(parts.periods)
    starts = np.bincount(codes[use], minlength=size)
    given = np.bincount(codes[use], weights=sessions[use], minlength=size).astype("int64")
    return [
        {
            "year": int(parts.periods["year"].iat[i]),
            "month": int(parts.periods["month"].iat[i]) if parts.months_kept else None,
            "new_starts": int(starts[i]),
            "sessions": int(given[i]),
        }
        for i in range(size)  # one per year or month
        if starts[i] > 0
    ]


def _mean_by_week(parts: OverviewParts, keep: np.ndarray) -> pd.DataFrame:
    w = parts.weekly
    use = keep[w["code"].to_numpy()]
    bins = w["bin"].to_numpy()[use]
    score = w["score"].to_numpy(float)[use]
    size = len(parts.bins)
    n = np.bincount(bins, minlength=size)
    total = np.bincount(bins, weights=score, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
        # sample SD (ddof 1) from squared deviations around each bin's mean
        squares = np.bincount(bins, weights=(score - mean[bins]) ** 2, minlength=size)
        sd = np.where(n > 1, np.sqrt(squares / (n - 1)), np.nan)
    out = parts.bins.assign(n=n.astype("int64"), mean=mean, sd=sd)[n > 0].reset_index(drop=True)
    out["ci_low"], out["ci_high"] = mean_ci(
        out["mean"].to_numpy(float), out["sd"].to_numpy(float), out["n"].to_numpy(float)
    )
    out = out.astype({"label": "string", "n": "int64"})
    return out[["x", "label", "n", "mean", "sd", "ci_low", "ci_high"]]
