"""How long improvement lasts: sustained response, loss of response, relapse, time to response.

Time-to-event figures use the Kaplan-Meier estimator (scipy's :func:`scipy.stats.ecdf` on
right-censored data), censored at each patient's last assessment, with the median and its 95%
confidence interval read off the pointwise band. Everything is vectorised over patients.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analytics.core.contract import ClinicData
from analytics.core.definitions import OutcomeDefinitions
from analytics.core.ids import factorize_ids
from analytics.core.stats import Rate, rate
from analytics.metrics.outcomes import is_responder
from analytics.metrics.timepoints import (
    _baseline_coded,
    _itt_by_code,
    _timepoints_coded,
    _valid_coded,
    shared_intermediates,
)

__all__ = [
    "CURVE_COLUMNS",
    "EVENT_COLUMNS",
    "KM_CI_METHODS",
    "KaplanMeier",
    "durability_summary",
    "kaplan_meier",
    "loss_of_response_times",
    "relapse_after_remission_times",
    "sustained_response",
    "time_to_response_times",
]

KM_CI_METHODS = ("log-log", "linear")

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

# Survival values within this of 0.5 count as reaching it (products of fractions are inexact).
_HALF_TOL = 1e-9


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
        First time S(t) <= 0.5; None when the curve never gets there ("not reached").
    median_ci_low, median_ci_high : float or None
        First times the lower and the upper band are <= 0.5; None when the band never gets there.
    ci_method : str
        The pointwise band: "log-log" or "linear" (Greenwood variance in both).
    """

    curve: pd.DataFrame
    n: int
    events: int
    median: float | None
    median_ci_low: float | None
    median_ci_high: float | None
    ci_method: str

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
        }


def _first_time_at_or_below_half(time: np.ndarray, values: np.ndarray) -> float | None:
    hit = np.flatnonzero(values <= 0.5 + _HALF_TOL)
    return float(time[hit[0]]) if hit.size else None


def kaplan_meier(
    time, event, *, ci_method: str = "log-log", confidence: float = 0.95
) -> KaplanMeier:
    """Kaplan-Meier survival curve, median and median confidence interval.

    Parameters
    ----------
    time : array_like of float
        Follow-up time of each patient (>= 0).
    event : array_like of bool
        True when the event was observed at ``time``, False when censored there.
    ci_method : {"log-log", "linear"}
        Pointwise band for S(t), both from Greenwood's variance (passed to
        ``scipy.stats.ecdf(...).sf.confidence_interval``). "log-log" (the default, as in Stata's
        ``sts list`` and Kalbfleisch & Prentice) stays inside [0, 1]; "linear" is the plain
        ``S ± z·SE`` band, clipped to [0, 1]. R's ``survfit`` defaults to a third band ("log"),
        so its median interval can differ slightly.
    confidence : float
        Band coverage.

    Returns
    -------
    KaplanMeier

    Raises
    ------
    ValueError
        When the inputs differ in length, a time is negative or missing, or ``ci_method`` is
        unknown.

    Notes
    -----
    ``S(t) = prod_{t_i <= t} (1 - d_i / n_i)`` with ``d_i`` events among ``n_i`` at risk at
    ``t_i``. The median is the first time ``S(t) <= 0.5``; its confidence limits are the first
    times the lower and the upper pointwise band are ``<= 0.5`` (Brookmeyer & Crowley's idea of
    inverting the band at 0.5, as R's ``print.survfit`` and ``quantile.survfit`` do). Where the
    curve sits exactly at 0.5 over an interval we take the start of the interval; R takes its
    midpoint. A limit the band never reaches is None ("not reached"). Before the first event
    the band is 1; once S is 0 it is 0 (Greenwood's formula is undefined there).

    References
    ----------
    .. [1] Kaplan EL, Meier P (1958). Nonparametric estimation from incomplete observations.
       J Am Stat Assoc 53:457-481. doi:10.1080/01621459.1958.10501452
    .. [2] Brookmeyer R, Crowley J (1982). A confidence interval for the median survival time.
       Biometrics 38:29-41. doi:10.2307/2530286
    .. [3] Kleinbaum DG, Klein M (2012). Survival Analysis: A Self-Learning Text, 3rd ed.,
       Springer, chapter 2 (the Freireich leukaemia data). doi:10.1007/978-1-4419-6646-9

    Examples
    --------
    >>> km = kaplan_meier([6, 6, 6, 7, 10], [True, True, False, True, False])
    >>> km.median
    7.0
    """
    if ci_method not in KM_CI_METHODS:
        raise ValueError(f"ci_method must be one of {KM_CI_METHODS}, got {ci_method!r}")
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
        return KaplanMeier(empty, 0, 0, None, None, None, ci_method)

    times, inverse = np.unique(t, return_inverse=True)
    events = np.bincount(inverse, weights=e, minlength=times.size).astype("int64")
    leaving = np.bincount(inverse, minlength=times.size).astype("int64")
    at_risk = n - np.concatenate([[0], np.cumsum(leaving)[:-1]])

    if events.sum() == 0:
        survival = np.ones(times.size)
        low = high = survival.copy()
    else:
        result = stats.ecdf(stats.CensoredData(uncensored=t[e], right=t[~e]))
        survival = result.sf.evaluate(times)
        with warnings.catch_warnings():
            # scipy warns where the band is undefined (S = 0 or 1); handled just below.
            warnings.simplefilter("ignore", RuntimeWarning)
            band = result.sf.confidence_interval(confidence_level=confidence, method=ci_method)
        low = band.low.evaluate(times)
        high = band.high.evaluate(times)
        before_first_event = np.cumsum(events) == 0
        low = np.where(before_first_event, 1.0, np.where(survival <= 0, 0.0, low))
        high = np.where(before_first_event, 1.0, np.where(survival <= 0, 0.0, high))

    curve = pd.DataFrame(
        {
            "time": np.concatenate([[0.0], times]),
            "survival": np.concatenate([[1.0], survival]),
            "ci_low": np.concatenate([[1.0], low]),
            "ci_high": np.concatenate([[1.0], high]),
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
        median=_first_time_at_or_below_half(times, survival),
        median_ci_low=_first_time_at_or_below_half(times, low),
        median_ci_high=_first_time_at_or_below_half(times, high),
        ci_method=ci_method,
    )


# ---------------------------------------------------------------------------------------------
# Event times from the clinic's scores


def _responds(definitions: OutcomeDefinitions, baseline, score) -> np.ndarray:
    """Whether each score meets ``definitions.response`` against its baseline (vectorised);
    the outcome pages' own rule, so a score counts the same everywhere."""
    change = np.asarray(score, dtype=float) - np.asarray(baseline, dtype=float)
    return is_responder(change, baseline, definitions.response)


def _followed_scores(data: ClinicData, definitions: OutcomeDefinitions) -> pd.DataFrame:
    """Post-baseline scores (day >= 1) of the intention-to-treat patients, with baseline;
    sorted by patient then day, as the valid scores are."""
    scores, _, codes, _ = _valid_coded(data, definitions.instrument)
    base, _, base_codes = _baseline_coded(data, definitions)
    baseline = np.full(len(_itt_by_code(data, definitions)), np.nan)
    baseline[base_codes] = base["baseline"].to_numpy(float)
    keep = (scores["day"].to_numpy() >= 1) & _itt_by_code(data, definitions)[codes]
    out = scores[keep].reset_index(drop=True)
    out["baseline"] = baseline[codes[keep]]
    return out


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


def _per_patient(scores: pd.DataFrame) -> tuple[np.ndarray, pd.Index, np.ndarray]:
    """Sorted patient codes of ``scores`` (a missing id is no patient, as in groupby), their
    ids, and the days."""
    codes, ids = factorize_ids(scores["patient_id"].astype("string"), sort=True)
    return codes, ids, scores["day"].to_numpy(dtype="int64")


def _first_day(codes: np.ndarray, day: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    """Each patient's earliest day among ``mask`` rows; -1 when none."""
    first = np.full(size, np.iinfo("int64").max, dtype="int64")
    keep = mask & (codes >= 0)
    np.minimum.at(first, codes[keep], day[keep])
    return np.where(first == np.iinfo("int64").max, -1, first)


def _last_day(codes: np.ndarray, day: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    """Each patient's latest day among ``mask`` rows; -1 when none."""
    last = np.full(size, -1, dtype="int64")
    keep = mask & (codes >= 0)
    np.maximum.at(last, codes[keep], day[keep])
    return last


def _events(ids: pd.Index, patients, start, end, event) -> pd.DataFrame:
    """Columns :data:`EVENT_COLUMNS` for ``patients`` (codes, sorted like the ids)."""
    return pd.DataFrame(
        {
            "patient_id": pd.array(ids.take(patients), dtype="string"),
            "start_day": np.asarray(start, dtype="int64"),
            "end_day": np.asarray(end, dtype="int64"),
            "time": np.asarray(end, dtype="int64") - np.asarray(start, dtype="int64"),
            "event": np.asarray(event, dtype=bool),
        }
    )[EVENT_COLUMNS]


def _episode_times(scores: pd.DataFrame, entered: np.ndarray, left: np.ndarray) -> pd.DataFrame:
    """Time from each patient's first ``entered`` score to the first later ``left`` score.

    Censored at the last score when no later score leaves the state. Patients never entering,
    or with no score after entering, are not counted (they add nothing to the curve).
    """
    if scores.empty:
        return _empty_events()
    codes, ids, day = _per_patient(scores)
    size = len(ids)
    entered, left = np.asarray(entered, dtype=bool), np.asarray(left, dtype=bool)
    start = _first_day(codes, day, entered, size)
    start_of_row = np.where(codes >= 0, start[codes], -1)
    later = (codes >= 0) & (start_of_row >= 0) & (day > start_of_row)
    last = _last_day(codes, day, later, size)
    patients = np.flatnonzero(last >= 0)  # entered, and scored after entering
    if not len(patients):
        return _empty_events()
    first_out = _first_day(codes, day, later & left, size)[patients]
    event = first_out >= 0
    end = np.where(event, first_out, last[patients])
    return _events(ids, patients, start[patients], end, event)


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
    return _loss_of_response(_followed_scores(data, definitions), definitions)


def _loss_of_response(scores: pd.DataFrame, definitions: OutcomeDefinitions) -> pd.DataFrame:
    meets = _responds(definitions, scores["baseline"], scores["score"])
    return _episode_times(scores, meets, ~meets)


def relapse_after_remission_times(
    data: ClinicData, definitions: OutcomeDefinitions
) -> pd.DataFrame:
    """Days from first remission to relapse, per remitter.

    Remission is a score below ``definitions.remission_below`` in a patient whose baseline was at
    least ``definitions.remission_requires_baseline_at_or_above``; relapse is the first later
    score back at or above the cut. Censored at the last score. Only remitters with at least one
    later score are counted.
    """
    return _relapse(_followed_scores(data, definitions), definitions)


def _relapse(scores: pd.DataFrame, definitions: OutcomeDefinitions) -> pd.DataFrame:
    floor = definitions.remission_requires_baseline_at_or_above
    scores = scores[scores["baseline"] >= floor].reset_index(drop=True)
    below = scores["score"].to_numpy(float) < definitions.remission_below
    return _episode_times(scores, below, ~below)


def time_to_response_times(data: ClinicData, definitions: OutcomeDefinitions) -> pd.DataFrame:
    """Days from the first session (day 0) to the first score meeting the response rule.

    Every intention-to-treat patient with at least one post-baseline score is counted; one who
    never responds is censored at the last score.
    """
    return _time_to_response(_followed_scores(data, definitions), definitions)


def _time_to_response(scores: pd.DataFrame, definitions: OutcomeDefinitions) -> pd.DataFrame:
    if scores.empty:
        return _empty_events()
    meets = _responds(definitions, scores["baseline"], scores["score"])
    codes, ids, day = _per_patient(scores)
    size = len(ids)
    last = _last_day(codes, day, np.ones(len(day), dtype=bool), size)
    patients = np.flatnonzero(last >= 0)  # every patient with a score
    last = last[patients]
    first = _first_day(codes, day, np.asarray(meets, dtype=bool), size)[patients]
    event = first >= 0
    end = np.where(event, first, last)
    return _events(ids, patients, np.zeros(len(patients), dtype="int64"), end, event)


def _km_of(events: pd.DataFrame, ci_method: str) -> KaplanMeier:
    return kaplan_meier(
        events["time"].to_numpy(float), events["event"].to_numpy(bool), ci_method=ci_method
    )


# ---------------------------------------------------------------------------------------------
# Sustained response at later timepoints

SUSTAINED_COLUMNS = ["timepoint", "population", "k", "n", "rate", "ci_low", "ci_high"]


def sustained_response(
    data: ClinicData,
    definitions: OutcomeDefinitions,
    *,
    anchor: str = "week 4",
    later: tuple[str, ...] = ("week 8", "week 12"),
) -> pd.DataFrame:
    """Among responders at ``anchor``, the share still responding at each ``later`` timepoint.

    Two populations, labelled in ``population``:

    - ``"observed"``: the anchor responders scored at the later timepoint;
    - ``"intention to treat"``: every anchor responder; no score there = not sustained.

    Returns
    -------
    pandas.DataFrame
        Columns ``timepoint, population, k, n, rate, ci_low, ci_high`` (Wilson or
        Clopper-Pearson per ``definitions.ci_method``), two rows per later timepoint.

    Raises
    ------
    ValueError
        When ``anchor`` or a ``later`` label is not one of the definitions' windows.
    """
    labels = [w.label for w in definitions.windows]
    for label in (anchor, *later):
        if label not in labels:
            raise ValueError(f"timepoint {label!r} is not one of the windows {labels}")
    tp, _, _, codes, window = _timepoints_coded(data, definitions)
    responds = _responds(definitions, tp["baseline"], tp["score"])
    # Patient codes: one row per patient and window, so counting rows counts patients.
    is_anchor = np.zeros(int(codes.max(initial=-1)) + 1, dtype=bool)
    is_anchor[codes[(window == labels.index(anchor)) & responds]] = True
    n_anchors = int(np.count_nonzero(is_anchor))
    rows = []
    for label in later:  # a handful of timepoints, not patients
        at = (window == labels.index(label)) & is_anchor[codes]
        k = int(np.count_nonzero(responds & at))
        for population, n in (
            ("observed", int(np.count_nonzero(at))),
            ("intention to treat", n_anchors),
        ):
            r = rate(k, n, method=definitions.ci_method)
            rows.append({"timepoint": label, "population": population, **r.to_dict()})
    return pd.DataFrame(rows, columns=SUSTAINED_COLUMNS)


def _rate_dict(row: pd.Series) -> dict:
    return Rate(
        k=int(row["k"]),
        n=int(row["n"]),
        rate=None if pd.isna(row["rate"]) else float(row["rate"]),
        ci_low=None if pd.isna(row["ci_low"]) else float(row["ci_low"]),
        ci_high=None if pd.isna(row["ci_high"]) else float(row["ci_high"]),
    ).to_dict()


def durability_summary(
    data: ClinicData, definitions: OutcomeDefinitions, *, ci_method: str = "log-log"
) -> dict:
    """Every durability figure of the clinic, JSON-able (None, never NaN).

    Returns
    -------
    dict
        ``definition`` (plain text), ``sustained`` and ``sustained_itt`` ({"week 8": rate,
        "week 12": rate} as :meth:`Rate.to_dict`, when those windows exist),
        ``loss_of_response``, ``relapse_after_remission`` and ``time_to_response`` (each
        :meth:`KaplanMeier.to_dict`: n, events, median_days, median_ci_low, median_ci_high,
        median_reached).
    """
    with shared_intermediates():  # baselines and timepoint scores are computed once
        return _durability_summary(data, definitions, ci_method=ci_method)


def _durability_summary(data: ClinicData, definitions: OutcomeDefinitions, *, ci_method) -> dict:
    rule = definitions.response.describe()
    labels = [w.label for w in definitions.windows]
    later = tuple(label for label in ("week 8", "week 12") if label in labels)
    sustained: dict = {}
    sustained_itt: dict = {}
    if "week 4" in labels and later:
        table = sustained_response(data, definitions, later=later)
        for _, row in table.iterrows():  # at most four rows
            target = sustained if row["population"] == "observed" else sustained_itt
            target[row["timepoint"]] = _rate_dict(row)
    definition = (
        f"Response: {rule}. Sustained: week-4 responders still responding at weeks 8 and 12, "
        "among those scored then (observed) and among all week-4 responders with no score "
        "counted as not sustained (intention to treat). Loss of response: days from the first "
        "responding score to the first later score that no longer responds. Relapse after "
        f"remission: days from the first score below {definitions.remission_below:g} to the "
        "first later score at or above it. Time to response: days from the first session to the "
        "first responding score. Kaplan-Meier estimates censored at the last assessment; median "
        f"with 95% CI ({ci_method} band), or not reached."
    )
    scores = _followed_scores(data, definitions)
    return {
        "definition": definition,
        "sustained": sustained,
        "sustained_itt": sustained_itt,
        "loss_of_response": _km_of(_loss_of_response(scores, definitions), ci_method).to_dict(),
        "relapse_after_remission": _km_of(_relapse(scores, definitions), ci_method).to_dict(),
        "time_to_response": _km_of(_time_to_response(scores, definitions), ci_method).to_dict(),
    }
