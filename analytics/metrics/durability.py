"""How long improvement lasts: sustained response, loss of response, relapse, time to response.

Time-to-event figures use the Kaplan-Meier estimator (:func:`kaplan_meier`), censored at each
patient's last assessment, with the median and its 95% confidence interval read off the curve
and its pointwise band as R survival's ``print.survfit`` reads them; the band is
``definitions.km_band`` (log-log by default; R's default is log).

Each patient's share is worked out once (:func:`durability_facts`: the time and event of each
analysis, and the sustained-response flags) and a cohort's figures are added up from those rows
(:func:`durability_summary_from`, :func:`sustained_response_from`, :func:`event_times_from`);
the curves, which depend on who is in the cohort, are estimated from the cohort's rows. The
functions taking a clinic (:func:`durability_summary`, ...) do the same over every patient.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from analytics.core.contract import ClinicData
from analytics.core.definitions import KM_BANDS, OutcomeDefinitions
from analytics.core.ids import PatientIndex
from analytics.core.patient_table import Facts, PatientTable
from analytics.core.stats import Rate, rate
from analytics.metrics.outcomes import is_responder
from analytics.metrics.timepoints import (
    baseline_scores,
    follow_up_by_code,
    is_due,
    itt_patients,
    shared_intermediates,
    timepoint_scores,
    valid_scores,
)

__all__ = [
    "ANALYSES",
    "CURVE_COLUMNS",
    "EVENT_COLUMNS",
    "KM_BANDS",
    "KaplanMeier",
    "durability_facts",
    "durability_summary",
    "durability_summary_from",
    "event_curves_from",
    "event_times_from",
    "kaplan_meier",
    "loss_of_response_times",
    "relapse_after_remission_times",
    "sustained_response",
    "sustained_response_from",
    "survival_median",
    "time_to_response_times",
]

# Kaplan-Meier curve, one row per distinct time (plus time 0), ready for a step plot.
#   time      float64  days from the origin
#   survival  float64  S(t) just after t
#   ci_low, ci_high  float64  pointwise band at t (1 before the first event, 0 once S is 0)
#   at_risk   int64    patients still followed just before t
#   events    int64    events at t
#   censored  int64    patients censored at t (for tick marks)
CURVE_COLUMNS = ["time", "survival", "ci_low", "ci_high", "at_risk", "events", "censored"]

# Event times per patient.
#   start_day  int64    the origin (day of first response / remission; 0 for time to response)
#   end_day    int64    day of the event or of the last assessment (censoring)
#   time       int64    end_day - start_day
#   event      bool     True for the event, False when censored
EVENT_COLUMNS = ["patient_id", "start_day", "end_day", "time", "event"]

# A survival value within this of 0.5 counts as 0.5 (products of fractions are inexact): R's
# print.survfit uses .Machine$double.eps^.5, "same as used in all.equal()".
_HALF_TOL = float(np.sqrt(np.finfo(float).eps))


@dataclass(frozen=True)
class KaplanMeier:
    """A Kaplan-Meier estimate with its median.

    Attributes
    ----------
    curve : pandas.DataFrame
        Columns :data:`CURVE_COLUMNS`; the first row is time 0, survival 1.
    n : int
        Patients in the analysis.
    events : int
        Patients with the event (the rest are censored).
    median : float or None
        The median as R's ``print.survfit`` reports it (see :func:`kaplan_meier`); None when
        the curve never gets to 0.5 ("not reached").
    median_ci_low, median_ci_high : float or None
        The same reading of the lower and the upper band; None when the band never gets there.
    band : str
        The pointwise band the interval was read from: one of :data:`KM_BANDS` (R survival's
        ``conf.type`` names), all from Greenwood's variance.
    """

    curve: pd.DataFrame
    n: int
    events: int
    median: float | None
    median_ci_low: float | None
    median_ci_high: float | None
    band: str

    @property
    def median_reached(self) -> bool:
        return self.median is not None

    def to_dict(self) -> dict:
        """The summary numbers (not the curve), JSON-able."""
        return {
            "n": self.n,
            "events": self.events,
            "median_days": self.median,
            "median_ci_low": self.median_ci_low,
            "median_ci_high": self.median_ci_high,
            "median_reached": self.median_reached,
            "band": self.band,
        }


def _check_band(band: str) -> None:
    if band not in KM_BANDS:
        raise ValueError(f"band must be one of {KM_BANDS}, got {band!r}")


def _pointwise_band(
    survival: np.ndarray, se_log: np.ndarray, band: str, z: float
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper limits of S(t) at each time, as R survival's ``survfit_confint``.

    ``se_log`` is Greenwood's standard error of log S (infinite once S is 0). Where S is 0 the
    limits are NaN, as R's NA; where the standard error is 0 (before the first event) they
    are S itself.
    """
    s = survival
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if band == "plain":
            # S -/+ z·S·se(log S) = S -/+ z·se(S), clipped to [0, 1] (Klein & Moeschberger 4.3.1)
            half = z * se_log * s
            low, high = np.maximum(s - half, 0.0), np.minimum(s + half, 1.0)
        elif band == "log":
            # exp(log S -/+ z·se(log S)), the upper limit capped at 1
            log_s = np.log(np.where(s == 0, np.nan, s))
            low = np.exp(log_s - z * se_log)
            high = np.minimum(np.exp(log_s + z * se_log), 1.0)
        else:  # log-log: exp(-exp(log(-log S) -/+ z·se(log S) / log S))
            inside = np.where((s == 0) | (s == 1), np.nan, s)
            step = z * se_log / np.log(inside)
            loglog = np.log(-np.log(inside))
            low = np.exp(-np.exp(loglog - step))
            high = np.exp(-np.exp(loglog + step))
    undefined = s == 0  # R: NA (Greenwood's variance is infinite there)
    low = np.where(se_log == 0, s, np.where(undefined, np.nan, low))
    high = np.where(se_log == 0, s, np.where(undefined, np.nan, high))
    return low, high


def survival_median(time: np.ndarray, values: np.ndarray) -> float | None:
    """The median of a survival curve (or of a band's limit) as R's ``print.survfit`` reads it
    (``minmin``): the first time ``values`` is at or below 0.5.

    Missing values are skipped. When the first value at or below 0.5 is 0.5 itself (within
    :data:`_HALF_TOL`) and a later value is lower, the answer is the midpoint of its time and
    the time of that lower value; a stretch at 0.5 that the curve never leaves gives its start.
    """
    keep = ~np.isnan(values) & (values < 0.5 + _HALF_TOL)
    if not keep.any():
        return None
    x, y = time[keep], values[keep]
    if abs(y[0] - 0.5) < _HALF_TOL:
        lower = np.flatnonzero(y < y[0])
        if lower.size:
            return float((x[0] + x[lower[0]]) / 2)
    return float(x[0])


def kaplan_meier(time, event, *, band: str = "log-log", confidence: float = 0.95) -> KaplanMeier:
    """Kaplan-Meier survival curve, median and median confidence interval, as R survival.

    Parameters
    ----------
    time : array_like of float
        Follow-up time of each patient (>= 0).
    event : array_like of bool
        True when the event was observed at ``time``, False when censored there.
    band : {"log-log", "log", "plain"}
        Pointwise band for S(t), R survival's ``conf.type`` names, all from Greenwood's
        variance. "log-log" (our default, as Stata's ``sts list`` and SAS's ``PROC LIFETEST``)
        stays inside [0, 1]; "log" (R's ``survfit`` default) is ``S·exp(±z·se(log S))`` with
        the upper limit capped at 1; "plain" is ``S ± z·se(S)`` clipped to [0, 1]. The
        median's interval is read off this band, so it depends on the choice.
    confidence : float
        Band coverage.

    Returns
    -------
    KaplanMeier

    Raises
    ------
    ValueError
        When the inputs differ in length, a time is negative or missing, or ``band`` is not
        one of :data:`KM_BANDS`.

    Notes
    -----
    ``S(t) = prod_{t_i <= t} (1 - d_i / n_i)`` with ``d_i`` events among ``n_i`` at risk at
    ``t_i``; Greenwood's ``se(log S(t)) = sqrt(sum_{t_i <= t} d_i / (n_i (n_i - d_i)))``. The
    bands follow ``survfit_confint`` in R survival's ``R/survfit.R``: before the first event
    the band is S = 1; where S is 0 R's band is NA (the variance is infinite), which the
    ``curve`` shows as 0 and the median's interval skips.

    The median and its limits are read as R's ``print.survfit`` reads them (its ``minmin``,
    ``R/print.survfit.R``), from the curve and from the lower and upper band (Brookmeyer &
    Crowley's inversion of the band at 0.5): the first time the value is below
    ``0.5 + tol`` (``tol = sqrt(machine epsilon)``, as ``all.equal``); when that value is 0.5
    within ``tol`` and the curve later drops below it, the midpoint of that time and the time
    of the drop (a curve at 0.5 from day 77 until an event on day 80 has median 78.5). A
    value never at or below 0.5 is None ("not reached"). ``quantile.survfit`` uses the same
    midpoint rule, except for a stretch at 0.5 that runs to the end of the curve: ``print``
    (and this function) gives its start, ``quantile`` the midpoint of its start and the last
    follow-up time.

    References
    ----------
    .. [1] Kaplan EL, Meier P (1958). Nonparametric estimation from incomplete observations.
       J Am Stat Assoc 53:457-481. doi:10.1080/01621459.1958.10501452
    .. [2] Brookmeyer R, Crowley J (1982). A confidence interval for the median survival time.
       Biometrics 38:29-41. doi:10.2307/2530286
    .. [3] Therneau TM. survival: Survival Analysis, R package (github.com/therneau/survival):
       ``R/survfit.R`` (``survfit_confint``), ``R/print.survfit.R`` (``minmin``),
       ``R/quantile.survfit.R`` (``findq``).
    .. [4] Klein JP, Moeschberger ML (2003). Survival Analysis: Techniques for Censored and
       Truncated Data, 2nd ed., Springer, section 4.3 (the three bands).
       doi:10.1007/b97377
    .. [5] Kleinbaum DG, Klein M (2012). Survival Analysis: A Self-Learning Text, 3rd ed.,
       Springer, chapter 2 (the Freireich leukaemia data). doi:10.1007/978-1-4419-6646-9

    Examples
    --------
    >>> km = kaplan_meier([6, 6, 6, 7, 10], [True, True, False, True, False])
    >>> km.median
    7.0
    >>> kaplan_meier([1, 2, 4, 5], [True, True, True, True]).median  # 0.5 from 2 until 4
    3.0
    """
    _check_band(band)
    t = np.asarray(time, dtype=float).ravel()
    e = np.asarray(event, dtype=bool).ravel()
    if t.shape != e.shape:
        raise ValueError("time and event must have the same length")
    if np.isnan(t).any() or (t < 0).any():
        raise ValueError("times must be non-negative numbers")
    n = int(t.size)
    if n == 0:
        empty = pd.DataFrame({c: pd.Series([], dtype="float64") for c in CURVE_COLUMNS})
        empty = empty.astype({"at_risk": "int64", "events": "int64", "censored": "int64"})
        return KaplanMeier(empty, 0, 0, None, None, None, band)

    times, inverse = np.unique(t, return_inverse=True)
    events = np.bincount(inverse, weights=e, minlength=times.size).astype("int64")
    leaving = np.bincount(inverse, minlength=times.size).astype("int64")
    at_risk = n - np.concatenate([[0], np.cumsum(leaving)[:-1]])

    survival = np.cumprod(1 - events / at_risk)
    with np.errstate(divide="ignore"):  # n_i = d_i: the curve reaches 0, variance infinite
        increments = np.where(events > 0, events / (at_risk * (at_risk - events)), 0.0)
    se_log = np.sqrt(np.cumsum(increments))
    z = float(special.ndtri(0.5 + confidence / 2))  # stats.norm.ppf's own function
    low, high = _pointwise_band(survival, se_log, band, z)

    curve = pd.DataFrame(
        {
            "time": np.concatenate([[0.0], times]),
            "survival": np.concatenate([[1.0], survival]),
            "ci_low": np.concatenate([[1.0], np.nan_to_num(low, nan=0.0)]),
            "ci_high": np.concatenate([[1.0], np.nan_to_num(high, nan=0.0)]),
            "at_risk": np.concatenate([[n], at_risk]).astype("int64"),
            "events": np.concatenate([[0], events]).astype("int64"),
            "censored": np.concatenate([[0], leaving - events]).astype("int64"),
        }
    )
    if times[0] == 0:
        # Time 0 already has its own row (events or censoring on day 0).
        curve = curve.iloc[1:].reset_index(drop=True)
    return KaplanMeier(
        curve=curve,
        n=n,
        events=int(events.sum()),
        median=survival_median(times, survival),
        median_ci_low=survival_median(times, low),
        median_ci_high=survival_median(times, high),
        band=band,
    )


def _responds(definitions: OutcomeDefinitions, baseline, score) -> np.ndarray:
    """Whether each score meets ``definitions.response`` against its baseline (vectorised);
    the outcome pages' own rule, so a score counts the same everywhere."""
    change = np.asarray(score, dtype=float) - np.asarray(baseline, dtype=float)
    return is_responder(change, baseline, definitions.response)


# ---------------------------------------------------------------------------------------------
# Each patient's facts: event times and sustained-response flags

# The three time-to-event analyses: name -> column prefix in the per-patient table.
ANALYSES = {
    "time_to_response": "durability_ttr",
    "loss_of_response": "durability_lor",
    "relapse_after_remission": "durability_relapse",
}

# Default anchor and later timepoints of the sustained response.
ANCHOR = "week 4"
LATER = ("week 8", "week 12")


def _slug(label: str) -> str:
    """A window label as part of a column name: ``"week 8"`` -> ``"week_8"``."""
    return re.sub(r"[^0-9a-z]+", "_", label.lower()).strip("_") or "window"


def _first_day(codes: np.ndarray, day: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    """Each patient's earliest day among ``mask`` rows; -1 when none."""
    first = np.full(size, np.iinfo("int64").max, dtype="int64")
    np.minimum.at(first, codes[mask], day[mask])
    return np.where(first == np.iinfo("int64").max, -1, first)


def _last_day(codes: np.ndarray, day: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    """Each patient's latest day among ``mask`` rows; -1 when none."""
    last = np.full(size, -1, dtype="int64")
    np.maximum.at(last, codes[mask], day[mask])
    return last


def _episodes(
    codes: np.ndarray, day: np.ndarray, entered: np.ndarray, left: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per patient: the day of the first ``entered`` score, the days from it to the first later
    ``left`` score (or to the last score: censored), and whether that later score was seen.

    Start and time are NaN for a patient who never entered, or has no score after entering:
    they add nothing to the curve.
    """
    start = _first_day(codes, day, entered, size)
    start_of_row = start[codes]
    later = (start_of_row >= 0) & (day > start_of_row)
    last = _last_day(codes, day, later, size)
    inside = last >= 0  # entered, and scored after entering
    first_out = _first_day(codes, day, later & left, size)
    event = inside & (first_out >= 0)
    end = np.where(event, first_out, last)
    return (
        np.where(inside, start, np.nan),
        np.where(inside, end - start, np.nan),
        event,
    )


def durability_facts(
    data: ClinicData,
    definitions: OutcomeDefinitions,
    index: PatientIndex,
    *,
    anchor: str = ANCHOR,
    later: tuple[str, ...] = LATER,
) -> Facts:
    """Each patient's event times and sustained-response flags (columns ``durability_*``).

    The scores followed are the post-baseline scores (day 1 on) of the intention-to-treat
    patients (:func:`analytics.metrics.timepoints.itt_patients`); a score responds when it meets
    ``definitions.response`` against the patient's baseline
    (:func:`analytics.metrics.outcomes.is_responder`, the outcome pages' own rule).

    Parameters
    ----------
    data : ClinicData
        The whole clinic.
    definitions : OutcomeDefinitions
        Instrument, baseline, windows, response rule and remission cut.
    index : PatientIndex
        The patients: row ``i`` of the facts is code ``i``.
    anchor : str
        Window whose responders the sustained response follows.
    later : tuple of str
        Windows at which the anchor responders are looked at again.

    Returns
    -------
    Facts
        ``patients``: ``durability_ttr_days``, ``durability_ttr_event``,
        ``durability_lor_start_day``, ``durability_lor_days``, ``durability_lor_event``,
        ``durability_relapse_start_day``, ``durability_relapse_days``,
        ``durability_relapse_event`` (days float64, NaN when the patient is not in that
        analysis; events bool, False then), and for the sustained response
        ``durability_<anchor>_responder`` and, per later window,
        ``durability_sustained_<later>_observed`` and ``durability_sustained_<later>``.
        ``meta["durability_sustained"]``: the anchor and later labels found in the windows and
        the column of each. Labels that are not windows are left out.
    """
    size = len(index)
    valid = valid_scores(data, definitions.instrument)
    base = baseline_scores(data, definitions)
    baseline = np.full(size, np.nan)
    at = index.positions(base["patient_id"])
    baseline[at[at >= 0]] = base["baseline"].to_numpy(float)[at >= 0]
    in_itt = index.mask(itt_patients(data, definitions))

    # The followed scores: post-baseline scores of intention-to-treat patients.
    codes = index.positions(valid["patient_id"])
    day = valid["day"].to_numpy("int64")
    score = valid["score"].to_numpy(float)
    followed = (day >= 1) & (codes >= 0)
    followed[followed] = in_itt[codes[followed]]
    codes, day, score = codes[followed], day[followed], score[followed]
    base_of_row = baseline[codes]
    meets = _responds(definitions, base_of_row, score)

    columns: dict[str, np.ndarray] = {}
    # Time to response: every followed patient, from day 0 to the first responding score.
    last = _last_day(codes, day, np.ones(len(day), dtype=bool), size)
    first = _first_day(codes, day, meets, size)
    scored = last >= 0
    columns["durability_ttr_days"] = np.where(
        scored, np.where(first >= 0, first, last), np.nan
    ).astype(float)
    columns["durability_ttr_event"] = scored & (first >= 0)

    start, time, event = _episodes(codes, day, meets, ~meets, size)
    columns["durability_lor_start_day"] = start
    columns["durability_lor_days"] = time
    columns["durability_lor_event"] = event

    # Relapse: only patients whose baseline allows a remission.
    eligible = base_of_row >= definitions.remission_requires_baseline_at_or_above
    below = score < definitions.remission_below
    start, time, event = _episodes(
        codes[eligible], day[eligible], below[eligible], ~below[eligible], size
    )
    columns["durability_relapse_start_day"] = start
    columns["durability_relapse_days"] = time
    columns["durability_relapse_event"] = event

    sustained, sustained_columns = _sustained_facts(data, definitions, index, anchor, later)
    columns.update(sustained)
    return Facts(
        patients=pd.DataFrame(columns),
        meta={"durability_sustained": sustained_columns},
    )


def _sustained_facts(
    data: ClinicData,
    definitions: OutcomeDefinitions,
    index: PatientIndex,
    anchor: str,
    later: tuple[str, ...],
) -> tuple[dict, dict]:
    labels = [w.label for w in definitions.windows]
    later = [label for label in dict.fromkeys(later) if label in labels]
    if anchor not in labels:
        return {}, {"anchor": None, "anchor_column": None, "later": []}
    size = len(index)
    tp = timepoint_scores(data, definitions)
    codes = index.positions(tp["patient_id"])
    responds = _responds(definitions, tp["baseline"], tp["score"]) & (codes >= 0)
    window = tp["timepoint"].to_numpy(dtype=object)
    anchor_responder = np.zeros(size, dtype=bool)
    anchor_responder[codes[(window == anchor) & responds]] = True
    anchor_column = f"durability_{_slug(anchor)}_responder"
    out = {anchor_column: anchor_responder}
    meta = {"anchor": anchor, "anchor_column": anchor_column, "later": []}
    follow_up = follow_up_by_code(data, index)
    window_end = {w.label: int(w.high) for w in definitions.windows}
    for label in later:  # a handful of timepoints, not patients
        at = (window == label) & (codes >= 0)
        observed = np.zeros(size, dtype=bool)
        observed[codes[at]] = True
        still = np.zeros(size, dtype=bool)
        still[codes[at & responds]] = True
        name = f"durability_sustained_{_slug(label)}"
        while name in out or name == anchor_column:  # two labels with one slug
            name += "_"
        out[f"{name}_observed"] = observed & anchor_responder
        out[name] = still & anchor_responder
        # Due there: scored, or followed to the window's last day (the Outcomes page's rule).
        due = is_due(follow_up, window_end[label], observed)
        out[f"{name}_due"] = due & anchor_responder
        meta["later"].append(
            {
                "label": label,
                "observed": f"{name}_observed",
                "sustained": name,
                "due": f"{name}_due",
            }
        )
    return out, meta


def _table(data: ClinicData, definitions: OutcomeDefinitions, **options) -> PatientTable:
    """The per-patient table of ``data`` holding this module's facts only."""

    def build(data, definitions, index):
        return durability_facts(data, definitions, index, **options)

    with shared_intermediates():  # baselines and timepoint scores are chosen once
        return PatientTable.of(data, definitions, build)


# ---------------------------------------------------------------------------------------------
# Aggregating the rows of a cohort


def _empty_events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": pd.Series([], dtype="string"),
            "start_day": pd.Series([], dtype="int64"),
            "end_day": pd.Series([], dtype="int64"),
            "time": pd.Series([], dtype="int64"),
            "event": pd.Series([], dtype="bool"),
        }
    )


def _analysis_rows(table: PatientTable, keep: np.ndarray, analysis: str):
    """Row positions of the cohort's patients in ``analysis``, their times and events."""
    if analysis not in ANALYSES:
        raise ValueError(f"analysis must be one of {sorted(ANALYSES)}, got {analysis!r}")
    prefix = ANALYSES[analysis]
    p = table.patients
    time = p[f"{prefix}_days"].to_numpy(float)
    rows = np.flatnonzero(np.asarray(keep, dtype=bool) & ~np.isnan(time))
    return rows, time[rows], p[f"{prefix}_event"].to_numpy(bool)[rows]


def event_times_from(
    table: PatientTable, keep: np.ndarray, definitions: OutcomeDefinitions, analysis: str
) -> pd.DataFrame:
    """Each patient's event time in one analysis, for the cohort ``keep``.

    Parameters
    ----------
    table : PatientTable
        The clinic's per-patient table for ``definitions`` (with :func:`durability_facts`).
    keep : numpy.ndarray of bool
        The cohort: one flag per row of ``table``.
    definitions : OutcomeDefinitions
    analysis : {"time_to_response", "loss_of_response", "relapse_after_remission"}

    Returns
    -------
    pandas.DataFrame
        Columns :data:`EVENT_COLUMNS`, one row per patient in the analysis, by patient id.

    Raises
    ------
    ValueError
        When ``analysis`` is unknown.
    """
    rows, time, event = _analysis_rows(table, keep, analysis)
    if not len(rows):
        return _empty_events()
    if analysis == "time_to_response":
        start = np.zeros(len(rows), dtype="int64")
    else:
        start = table.patients[f"{ANALYSES[analysis]}_start_day"].to_numpy(float)[rows]
    start = start.astype("int64")
    time = time.astype("int64")
    return pd.DataFrame(
        {
            "patient_id": pd.array(table.index.ids.take(rows), dtype="string"),
            "start_day": start,
            "end_day": start + time,
            "time": time,
            "event": event,
        }
    )[EVENT_COLUMNS]


def loss_of_response_times(data: ClinicData, definitions: OutcomeDefinitions) -> pd.DataFrame:
    """Days from first response to loss of response, per responder.

    The origin is the first post-baseline score meeting ``definitions.response``; the event is
    the first later score that does not meet it; otherwise censored at the last score. Only
    responders with at least one later score are counted.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`EVENT_COLUMNS`, one row per patient.
    """
    table = _table(data, definitions)
    return event_times_from(table, table.keep(), definitions, "loss_of_response")


def relapse_after_remission_times(
    data: ClinicData, definitions: OutcomeDefinitions
) -> pd.DataFrame:
    """Days from first remission to relapse, per remitter.

    Remission is a score below ``definitions.remission_below`` in a patient whose baseline was at
    least ``definitions.remission_requires_baseline_at_or_above``; relapse is the first later
    score back at or above the cut. Censored at the last score. Only remitters with at least one
    later score are counted.
    """
    table = _table(data, definitions)
    return event_times_from(table, table.keep(), definitions, "relapse_after_remission")


def time_to_response_times(data: ClinicData, definitions: OutcomeDefinitions) -> pd.DataFrame:
    """Days from the first session (day 0) to the first score meeting the response rule.

    Every intention-to-treat patient with at least one post-baseline score is counted; one who
    never responds is censored at the last score.
    """
    table = _table(data, definitions)
    return event_times_from(table, table.keep(), definitions, "time_to_response")


def _km_from(table: PatientTable, keep: np.ndarray, analysis: str, band: str) -> KaplanMeier:
    _, time, event = _analysis_rows(table, keep, analysis)
    return kaplan_meier(time, event, band=band)


def _band_in_force(definitions: OutcomeDefinitions, band: str | None) -> str:
    """``band`` when given, else the definitions' ``km_band``; checked either way."""
    chosen = definitions.km_band if band is None else band
    _check_band(chosen)
    return chosen


# ---------------------------------------------------------------------------------------------
# Sustained response at later timepoints

SUSTAINED_COLUMNS = [
    "timepoint",
    "population",
    "k",
    "n",
    "rate",
    "ci_low",
    "ci_high",
    "not_yet_due",
]


def _check_windows(definitions: OutcomeDefinitions, *labels: str) -> None:
    known = [w.label for w in definitions.windows]
    for label in labels:
        if label not in known:
            raise ValueError(f"timepoint {label!r} is not one of the windows {known}")


def sustained_response_from(
    table: PatientTable,
    keep: np.ndarray,
    definitions: OutcomeDefinitions,
    *,
    anchor: str = ANCHOR,
    later: tuple[str, ...] = LATER,
) -> pd.DataFrame:
    """Among responders at ``anchor``, the share still responding at each ``later`` timepoint.

    Two populations, labelled in ``population``:

    - ``"observed"``: the anchor responders of the cohort scored at the later timepoint;
    - ``"intention to treat"``: every anchor responder of the cohort who was due at the later
      timepoint (scored there, or followed to its window's last day); no score = not
      sustained. ``not_yet_due`` counts the anchor responders left out as not yet due.

    Parameters
    ----------
    table : PatientTable
        The clinic's per-patient table for ``definitions``, built with the same ``anchor`` and
        ``later`` (:func:`durability_facts`' defaults are this function's).
    keep : numpy.ndarray of bool
        The cohort.
    definitions : OutcomeDefinitions
    anchor, later : str, tuple of str
        Window labels.

    Returns
    -------
    pandas.DataFrame
        Columns ``timepoint, population, k, n, rate, ci_low, ci_high`` (Wilson or
        Clopper-Pearson per ``definitions.ci_method``) and ``not_yet_due``, two rows per later
        timepoint.

    Raises
    ------
    ValueError
        When ``anchor`` or a ``later`` label is not one of the definitions' windows, or the
        table holds no sustained-response facts for them.
    """
    _check_windows(definitions, anchor, *later)
    meta = table.meta["durability_sustained"]
    found = {entry["label"]: entry for entry in meta["later"]}
    missing = [label for label in later if label not in found]
    if meta["anchor"] != anchor or missing:
        raise ValueError(
            f"the table holds the sustained response from {meta['anchor']!r} to "
            f"{sorted(found)}, not from {anchor!r} to {list(later)}"
        )
    p = table.patients
    keep = np.asarray(keep, dtype=bool)
    n_anchors = int(np.count_nonzero(p[meta["anchor_column"]].to_numpy(bool) & keep))
    rows = []
    for label in later:
        entry = found[label]
        k = int(np.count_nonzero(p[entry["sustained"]].to_numpy(bool) & keep))
        n_observed = int(np.count_nonzero(p[entry["observed"]].to_numpy(bool) & keep))
        n_due = int(np.count_nonzero(p[entry["due"]].to_numpy(bool) & keep))
        for population, n in (("observed", n_observed), ("intention to treat", n_due)):
            r = rate(k, n, method=definitions.ci_method)
            rows.append(
                {
                    "timepoint": label,
                    "population": population,
                    **r.to_dict(),
                    # only intention to treat leaves anyone out (as on the Outcomes page)
                    "not_yet_due": n_anchors - n_due if population != "observed" else 0,
                }
            )
    return pd.DataFrame(rows, columns=SUSTAINED_COLUMNS)


def sustained_response(
    data: ClinicData,
    definitions: OutcomeDefinitions,
    *,
    anchor: str = ANCHOR,
    later: tuple[str, ...] = LATER,
) -> pd.DataFrame:
    """:func:`sustained_response_from` every patient of ``data``.

    Raises
    ------
    ValueError
        When ``anchor`` or a ``later`` label is not one of the definitions' windows.
    """
    _check_windows(definitions, anchor, *later)
    table = _table(data, definitions, anchor=anchor, later=tuple(later))
    return sustained_response_from(table, table.keep(), definitions, anchor=anchor, later=later)


def _rate_dict(row: pd.Series) -> dict:
    return Rate(
        k=int(row["k"]),
        n=int(row["n"]),
        rate=None if pd.isna(row["rate"]) else float(row["rate"]),
        ci_low=None if pd.isna(row["ci_low"]) else float(row["ci_low"]),
        ci_high=None if pd.isna(row["ci_high"]) else float(row["ci_high"]),
    ).to_dict()


def durability_summary_from(
    table: PatientTable,
    keep: np.ndarray,
    definitions: OutcomeDefinitions,
    *,
    band: str | None = None,
) -> dict:
    """Every durability figure of the cohort ``keep``, JSON-able (None, never NaN).

    Parameters
    ----------
    table : PatientTable
        The clinic's per-patient table for ``definitions`` (with :func:`durability_facts`).
    keep : numpy.ndarray of bool
        The cohort.
    definitions : OutcomeDefinitions
    band : {"log-log", "log", "plain"}, optional
        Pointwise band of the Kaplan-Meier curves, and so of the medians' intervals (see
        :func:`kaplan_meier`); by default ``definitions.km_band``.

    Returns
    -------
    dict
        ``definition`` (plain text), ``sustained`` and ``sustained_itt`` ({"week 8": rate,
        "week 12": rate} as :meth:`Rate.to_dict`, when those windows exist),
        ``loss_of_response``, ``relapse_after_remission`` and ``time_to_response`` (each
        :meth:`KaplanMeier.to_dict`: n, events, median_days, median_ci_low, median_ci_high,
        median_reached, band).

    Raises
    ------
    ValueError
        When ``band`` is not one of :data:`KM_BANDS`.
    """
    band = _band_in_force(definitions, band)
    rule = definitions.response.describe()
    labels = [w.label for w in definitions.windows]
    later = tuple(label for label in LATER if label in labels)
    sustained: dict = {}
    sustained_itt: dict = {}
    if ANCHOR in labels and later:
        rates = sustained_response_from(table, keep, definitions, later=later)
        for _, row in rates.iterrows():  # at most four rows
            target = sustained if row["population"] == "observed" else sustained_itt
            target[row["timepoint"]] = _rate_dict(row)
            if target is sustained_itt:
                target[row["timepoint"]]["not_yet_due"] = int(row["not_yet_due"])
    definition = (
        f"Response: {rule}. Sustained: week-4 responders still responding at weeks 8 and 12, "
        "among those scored then (observed) and among the week-4 responders due then (scored, "
        "or followed to the end of the window) with no score counted as not sustained "
        "(intention to treat; those not yet due are counted beside it). Loss of response: days "
        "from the first responding score to the first later score that no longer responds. "
        "Relapse after "
        f"remission: days from the first score below {definitions.remission_below:g} to the "
        "first later score at or above it. Time to response: days from the first session to the "
        "first responding score. Kaplan-Meier estimates censored at the last assessment; median "
        f"with 95% CI from the {band} band (R survival's default is the log band), or not "
        "reached."
    )
    return {
        "definition": definition,
        "sustained": sustained,
        "sustained_itt": sustained_itt,
        **{
            analysis: _km_from(table, keep, analysis, band).to_dict()
            for analysis in ("loss_of_response", "relapse_after_remission", "time_to_response")
        },
    }


def durability_summary(
    data: ClinicData, definitions: OutcomeDefinitions, *, band: str | None = None
) -> dict:
    """:func:`durability_summary_from` every patient of ``data``."""
    table = _table(data, definitions)
    return durability_summary_from(table, table.keep(), definitions, band=band)


def event_curves_from(
    table: PatientTable,
    keep: np.ndarray,
    definitions: OutcomeDefinitions,
    analysis: str,
    *,
    by: str | None = None,
    band: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The Kaplan-Meier curve of one analysis for the cohort ``keep``, or one per group.

    Parameters
    ----------
    table : PatientTable
        The clinic's per-patient table for ``definitions`` (with :func:`durability_facts`).
    keep : numpy.ndarray of bool
        The cohort.
    definitions : OutcomeDefinitions
    analysis : {"time_to_response", "loss_of_response", "relapse_after_remission"}
    by : str, optional
        A column of ``table.patients`` (e.g. ``"route"``, the route of the first session) to
        estimate one curve per value of; a patient without a value is a group of its own,
        ``None``, last.
    band : {"log-log", "log", "plain"}, optional
        Pointwise band (see :func:`kaplan_meier`); by default ``definitions.km_band``.

    Returns
    -------
    curves : pandas.DataFrame
        :data:`CURVE_COLUMNS` of each curve, plus ``group`` with ``by``; empty when no patient
        of the cohort is in the analysis.
    medians : pandas.DataFrame
        One row per curve: ``group`` (None without ``by``), ``median`` and
        :meth:`KaplanMeier.to_dict`'s fields.

    Raises
    ------
    ValueError
        When ``analysis`` is unknown, ``by`` is not a column of the table or ``band`` is not
        one of :data:`KM_BANDS`.
    """
    band = _band_in_force(definitions, band)
    rows, time, event = _analysis_rows(table, keep, analysis)
    if not len(rows):
        return pd.DataFrame(), pd.DataFrame()
    if by is None:
        parts = [(None, np.ones(len(rows), dtype=bool))]
    else:
        if by not in table.patients.columns or by == "patient_id":
            raise ValueError(f"cannot group by {by!r}: not a column of the per-patient table")
        codes, values = pd.factorize(table.patients[by].array.take(rows), sort=True)
        # sorted values, then the patients without one (as groupby with dropna=False)
        parts = [(values[i], codes == i) for i in range(len(values))]
        if (codes < 0).any():
            parts.append((None, codes < 0))
    curves, medians = [], []
    for group, members in parts:  # a handful of groups
        km = kaplan_meier(time[members], event[members], band=band)
        curves.append(km.curve.assign(group=group) if by is not None else km.curve)
        medians.append({"group": group, "median": km.median, **km.to_dict()})
    return pd.concat(curves, ignore_index=True), pd.DataFrame(medians)
