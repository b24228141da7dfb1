"""Outcomes at each timepoint: change, effect sizes, response, remission, reliable change.

Two populations are reported side by side. *Observed*: patients with a baseline and a score at
the timepoint. *Intention to treat* (ITT): every patient with a baseline who started treatment
(a session on day 0 or later; every patient with a baseline when there is no sessions table)
and who was due at the timepoint, where a patient without a score there counts as not
responding. A patient is due when scored in the window or followed to its last day (the
patient's ``follow_up_days``, from day 0 to the data cutoff); the others are *not yet due*,
counted beside the rate and never as non-responders. Without follow-up times every ITT
patient counts as due.

:func:`patient_outcomes` gives the per-patient flags behind every rate, so a spreadsheet can
reproduce each number patient by patient.

Every number is added up from each patient's facts (:func:`outcome_facts`: the baseline and one
row per patient and timepoint), worked out once per clinic and definitions; the ``*_from``
functions aggregate a cohort's rows of the :class:`~analytics.core.patient_table.PatientTable`.
What depends on the cohort (the reliable-change threshold from its baseline SD, intervals) is
computed there. The clinic-wide functions are those aggregations over every patient.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd
import pyarrow as pa

from analytics.core.contract import ClinicData
from analytics.core.definitions import OutcomeDefinitions, ResponseRule
from analytics.core.ids import PatientIndex, id_text, text_of
from analytics.core.patient_table import Facts, PatientTable, kept_rows, patient_index
from analytics.core.stats import MIN_N_FOR_INTERVAL, Rate, mean_ci, proportion_ci
from analytics.metrics.timepoints import (
    baseline_coded,
    follow_up_by_code,
    index_codes,
    is_due,
    itt_by_code,
    remembered,
    shared_intermediates,
    timepoints_coded,
)

__all__ = [
    "OUTCOME_COLUMNS",
    "PATIENT_OUTCOME_COLUMNS",
    "TIMEPOINT_ROW_COLUMNS",
    "TIMEPOINT_TABLE",
    "ReliableChange",
    "TimepointOutcome",
    "baseline_stats",
    "baseline_stats_from",
    "d_av",
    "d_z",
    "is_deteriorated",
    "is_responder",
    "mean_change_ci",
    "outcome_facts",
    "outcome_table",
    "patient_outcomes",
    "patient_outcomes_from",
    "reliable_change_threshold",
    "timepoint_outcomes",
    "timepoint_outcomes_from",
]

# Float error must not turn an exact 30% (50 -> 35) into a non-response.
TOLERANCE = 1e-9
Z_RCI = 1.96

# patient_outcomes: one row per (patient, timepoint) that is observed or in the ITT population.
#   patient_id, timepoint, target_day
#   day, score               float64  NaN when not observed (ITT row without a score)
#   baseline                 float64
#   change, pct_change       float64  score - baseline; 100 * change / baseline (NaN if 0)
#   observed                 bool     a score in the window (the observed population)
#   itt                      bool     in the timepoint's intention-to-treat population (an ITT
#                                     patient who was due there)
#   not_yet_due              bool     an ITT patient not scored there whose follow-up ends before
#                                     the window's last day
#   responder                bool     meets the response rule (False when not observed)
#   remission_eligible       bool     baseline at or above the remission floor
#   remitter                 bool     eligible and score below the cut (False when not observed)
#   meaningful               bool     change at least the meaningful drop
#   deteriorated             bool     worse by the response rule turned round (False when not
#                                     observed)
#   meaningfully_worse       bool     score up by at least the meaningful change
#   rci                      float64  Jacobson-Truax index (change / S_diff)
#   reliable_improved, reliable_deteriorated  bool
PATIENT_OUTCOME_COLUMNS = [
    "patient_id",
    "timepoint",
    "target_day",
    "day",
    "score",
    "baseline",
    "change",
    "pct_change",
    "observed",
    "itt",
    "not_yet_due",
    "responder",
    "remission_eligible",
    "remitter",
    "meaningful",
    "deteriorated",
    "meaningfully_worse",
    "rci",
    "reliable_improved",
    "reliable_deteriorated",
]


# outcome_facts, per patient (one row per patient of the table's index):
#   outcome_baseline            float64  the baseline total; NaN without a baseline
#   outcome_baseline_day        Int64    the baseline's day (-lookback..0); NA without one
#   outcome_itt                 bool     in the intention-to-treat population (a baseline and
#                                        a session on day 0 or later; no sessions table: a
#                                        baseline)
#   outcome_remission_eligible  bool     baseline at or above the remission floor (False
#                                        without a baseline)
#   outcome_follow_up_days      float64  days from day 0 to the data cutoff; NaN when unknown
OUTCOME_COLUMNS = [
    "outcome_baseline",
    "outcome_baseline_day",
    "outcome_itt",
    "outcome_remission_eligible",
    "outcome_follow_up_days",
]

# outcome_facts' long table "timepoints": one row per (timepoint, patient) that is observed or
# in the ITT population (the rows of patient_outcomes), sorted by window then code.
#   code                int64    the patient
#   window              int64    position in definitions.windows (meta "outcome_timepoints"
#                                holds each window's label and target_day)
#   day, score          float64  the chosen score and its day; NaN when not observed
#   change, pct_change  float64  score - baseline; 100 * change / baseline (NaN when the
#                                baseline is 0); NaN when not observed
#   observed, itt, responder, remission_eligible, remitter, meaningful, deteriorated,
#   meaningfully_worse          bool, as in patient_outcomes (False when not observed, except
#                                itt and remission_eligible, which are the patient's)
#   due                 bool     scored in the window or followed to its last day (True when
#                                the follow-up is unknown)
TIMEPOINT_TABLE = "timepoints"
TIMEPOINT_ROW_COLUMNS = [
    "code",
    "window",
    "day",
    "score",
    "change",
    "pct_change",
    "observed",
    "itt",
    "responder",
    "remission_eligible",
    "remitter",
    "meaningful",
    "deteriorated",
    "meaningfully_worse",
    "due",
]


def _float(value) -> float | None:
    value = float(value)
    return None if not np.isfinite(value) else value


def is_responder(change, baseline, rule: ResponseRule) -> np.ndarray:
    """Whether each change from baseline meets ``rule`` (vectorised).

    A reduction exactly at the threshold counts (with a 1e-9 tolerance for float error). Under
    a percentage rule a baseline of 0 cannot respond.

    Examples
    --------
    >>> is_responder([-15.0], [50.0], ResponseRule("pct", 30)).tolist()
    [True]
    """
    change = np.asarray(change, dtype=float)
    baseline = np.asarray(baseline, dtype=float)
    if rule.kind == "points":
        return -change >= rule.threshold - TOLERANCE
    with np.errstate(divide="ignore", invalid="ignore"):
        reduction = -100.0 * change / baseline
    return (baseline > 0) & (reduction >= rule.threshold - TOLERANCE)


def is_deteriorated(change, baseline, rule: ResponseRule) -> np.ndarray:
    """Whether each change is a worsening by at least ``rule``: the response rule turned round.

    Under a points rule the score rose by at least the threshold; under a percentage rule it
    rose by at least that share of the baseline (a baseline of 0 cannot worsen by a share). An
    increase exactly at the threshold counts, as for :func:`is_responder`.

    Examples
    --------
    >>> is_deteriorated([15.0, 14.0], [50.0, 50.0], ResponseRule("pct", 30)).tolist()
    [True, False]
    """
    change = np.asarray(change, dtype=float)
    baseline = np.asarray(baseline, dtype=float)
    if rule.kind == "points":
        return change >= rule.threshold - TOLERANCE
    with np.errstate(divide="ignore", invalid="ignore"):
        increase = 100.0 * change / baseline
    return (baseline > 0) & (increase >= rule.threshold - TOLERANCE)


def reliable_change_threshold(sd: float, r: float) -> float:
    """Smallest change (points) that is reliable at the 95% level.

    Notes
    -----
    ``SE = SD * sqrt(1 - r)``, ``S_diff = sqrt(2) * SE``, threshold ``= 1.96 * S_diff``
    (Jacobson & Truax 1991, p. 14).

    References
    ----------
    .. [1] Jacobson NS, Truax P (1991). Clinical significance: a statistical approach to
       defining meaningful change in psychotherapy research. J Consult Clin Psychol 59:12-19.
       doi:10.1037/0022-006X.59.1.12

    Examples
    --------
    >>> round(reliable_change_threshold(14, 0.94), 1), round(reliable_change_threshold(14, 0.82), 1)
    (9.5, 16.5)
    """
    return float(Z_RCI * np.sqrt(2.0) * sd * np.sqrt(1.0 - r))


def d_z(changes) -> float | None:
    """Cohen's d_z for paired scores: mean change / SD of the changes (ddof 1).

    Signed like the change: negative when scores fell. None with fewer than 2 changes or no
    spread.

    References
    ----------
    .. [1] Lakens D (2013). Calculating and reporting effect sizes to facilitate cumulative
       science. Front Psychol 4:863. doi:10.3389/fpsyg.2013.00863 (eq. 8)

    Examples
    --------
    >>> d_z([-10.0, -20.0, -30.0])
    -2.0
    """
    changes = np.asarray(changes, dtype=float)
    if changes.size < 2:
        return None
    sd = changes.std(ddof=1)
    return _float(changes.mean() / sd) if sd > 0 else None


def d_av(mean_change: float, sd_pre: float, sd_post: float) -> float | None:
    """Cohen's d_av: mean change over the arithmetic mean of the two SDs.

    Notes
    -----
    ``d_av = mean_change / ((sd_pre + sd_post) / 2)``, Lakens' eq. 10 exactly; signed like the
    change. (Dividing by the root mean square of the SDs instead, as R's effectsize does for
    its "av" option, is a different measure and gives 1.60 rather than 1.62 on the check value
    below; it is not computed here.) None when both SDs are 0 or one is not finite.

    References
    ----------
    .. [1] Lakens D (2013). Calculating and reporting effect sizes to facilitate cumulative
       science. Front Psychol 4:863. doi:10.3389/fpsyg.2013.00863 (eq. 10)
    .. [2] Cumming G (2012). Understanding the New Statistics. New York: Routledge.

    Examples
    --------
    52.39 (SD 11.90) -> 29.42 (SD 16.52): -22.97 / 14.21.

    >>> round(d_av(29.42 - 52.39, 11.90, 16.52), 2)
    -1.62
    """
    denom = (float(sd_pre) + float(sd_post)) / 2.0
    if not np.isfinite(denom) or denom == 0:
        return None
    return _float(mean_change / denom)


def mean_change_ci(changes, *, confidence: float = 0.95) -> tuple[float | None, float | None]:
    """t-based confidence interval of the mean change: ``mean ± t(n-1) * SD / sqrt(n)``.

    None bounds with fewer than :data:`analytics.core.stats.MIN_N_FOR_INTERVAL` (3) changes.
    """
    changes = np.asarray(changes, dtype=float)
    n = changes.size
    if n < MIN_N_FOR_INTERVAL:
        return None, None
    low, high = mean_ci(changes.mean(), changes.std(ddof=1), n, confidence=confidence)
    return _float(low), _float(high)


@dataclass(frozen=True)
class ReliableChange:
    """Jacobson-Truax classification of the observed patients at one timepoint.

    Counts are None when the SD is unknown (fewer than 2 baselines and no ``reliability_sd``).
    """

    n: int
    improved: int | None
    unchanged: int | None
    deteriorated: int | None
    threshold_points: float | None
    r: float
    sd: float | None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TimepointOutcome:
    """Everything reported at one timepoint.

    Attributes
    ----------
    label, target_day : str, int
        The window.
    n : int
        Observed patients (baseline and a score in the window).
    not_yet_due : int
        Intention-to-treat patients not scored there whose follow-up ends before the window's
        last day: outside the ITT denominators, reported beside them.
    mean, sd : float
        Mean (SD) score at the timepoint.
    mean_baseline, sd_baseline : float
        Mean (SD) baseline of the same patients.
    mean_change, sd_change : float
        Mean (SD) of score - baseline (negative = better).
    change_ci_low, change_ci_high : float or None
        t-based 95% CI of the mean change.
    d_z, d_av : float or None
        Effect sizes (Lakens 2013), signed like the change.
    response, remission, meaningful : Rate
        Observed population (remission among those with baseline at or above the floor).
    response_itt, remission_itt, meaningful_itt : Rate
        Intention-to-treat population; no score = no event.
    deterioration, meaningful_worsening : Rate
        Observed patients worse by the response rule turned round (a rise of 30% of the
        baseline under the default), and by at least the meaningful change in points.
    reliable_change : ReliableChange
    """

    label: str
    target_day: int
    n: int
    not_yet_due: int
    mean: float | None
    sd: float | None
    mean_baseline: float | None
    sd_baseline: float | None
    mean_change: float | None
    sd_change: float | None
    change_ci_low: float | None
    change_ci_high: float | None
    d_z: float | None
    d_av: float | None
    response: Rate
    response_itt: Rate
    remission: Rate
    remission_itt: Rate
    meaningful: Rate
    meaningful_itt: Rate
    deterioration: Rate
    meaningful_worsening: Rate
    reliable_change: ReliableChange

    def to_dict(self) -> dict:
        """JSON-ready: rates and reliable change as nested dicts, no NaN."""
        return asdict(self)


def _sd(values) -> float | None:
    values = np.asarray(values, dtype=float)
    return _float(values.std(ddof=1)) if values.size >= 2 else None


def _count(mask) -> int:
    return int(np.count_nonzero(mask))


# ---------------------------------------------------------------------------------------------
# Each patient's facts (analytics.core.patient_table.Facts), worked out once per clinic


def outcome_facts(data: ClinicData, definitions: OutcomeDefinitions, index: PatientIndex) -> Facts:
    """Each patient's baseline and, per timepoint, score, change and the flags behind the rates.

    Parameters
    ----------
    data : ClinicData
        The whole clinic.
    definitions : OutcomeDefinitions
        Instrument, baseline look-back, windows, response, remission and meaningful-change
        rules. ``reliability_sd`` and ``ci_method`` are not used here: reliable change and
        intervals depend on the cohort and are worked out when aggregating.
    index : PatientIndex
        The patients; row ``i`` of the facts is code ``i``.

    Returns
    -------
    Facts
        Columns :data:`OUTCOME_COLUMNS`, the long table ``"timepoints"``
        (:data:`TIMEPOINT_ROW_COLUMNS`) and the meta key ``"outcome_timepoints"``.
    """
    tp, _, _, tp_codes, tp_windows = timepoints_coded(data, definitions)
    base, _, base_codes = baseline_coded(data, definitions)
    # The valid scores' patient codes as codes of the index (-1: not a patient of the index).
    to_index = index_codes(data, definitions.instrument, index)
    size = len(index)

    at = to_index[base_codes]
    known = at >= 0
    baseline = np.full(size, np.nan)
    baseline[at[known]] = base["baseline"].to_numpy(float)[known]
    has_day = np.zeros(size, dtype=bool)
    has_day[at[known]] = True
    day_values = np.zeros(size, dtype="int64")
    day_values[at[known]] = base["baseline_day"].to_numpy("int64")[known]
    baseline_day = pd.arrays.IntegerArray(day_values, ~has_day)
    itt_valid = np.flatnonzero(itt_by_code(data, definitions))
    itt = np.zeros(size, dtype=bool)
    itt_at = to_index[itt_valid]
    itt[itt_at[itt_at >= 0]] = True
    floor = definitions.remission_requires_baseline_at_or_above
    follow_up = follow_up_by_code(data, index)
    patients = pd.DataFrame(
        {
            "outcome_baseline": baseline,
            "outcome_baseline_day": baseline_day,
            "outcome_itt": itt,
            "outcome_remission_eligible": baseline >= floor,
            "outcome_follow_up_days": follow_up,
        }
    )

    # One row per observed (window, patient), plus one per ITT patient without a score there;
    # sorted by window, then code (codes sort like the ids, as timepoint_scores does).
    tp_at = to_index[tp_codes]
    seen = tp_at >= 0
    seen_codes, seen_windows = tp_at[seen], tp_windows[seen]
    n_windows = len(definitions.windows)
    width = size + 1
    seen_keys = seen_windows * width + seen_codes
    itt_codes = np.flatnonzero(itt)
    grid_windows = np.repeat(np.arange(n_windows, dtype="int64"), len(itt_codes))
    grid_codes = np.tile(itt_codes, n_windows)
    taken = np.zeros(n_windows * width, dtype=bool)
    taken[seen_keys] = True
    missing = ~taken[grid_windows * width + grid_codes]
    grid_windows, grid_codes = grid_windows[missing], grid_codes[missing]
    keys = np.concatenate([seen_keys, grid_windows * width + grid_codes])
    order = np.argsort(keys, kind="stable")
    codes = np.concatenate([seen_codes, grid_codes])[order]
    windows = np.concatenate([seen_windows, grid_windows])[order]
    observed_row = order < len(seen_codes)
    from_tp = np.flatnonzero(seen)[order[observed_row]]

    def observed_values(column: str) -> np.ndarray:
        values = np.full(len(order), np.nan)
        values[observed_row] = tp[column].to_numpy(dtype=float)[from_tp]
        return values

    score = observed_values("score")
    change = observed_values("change")
    base_row = baseline[codes]
    window_end = np.array([w.high for w in definitions.windows], dtype="int64")
    observed = ~np.isnan(score)
    due = is_due(follow_up[codes], window_end[windows], observed)
    eligible = base_row >= floor
    rows = pd.DataFrame(
        {
            "code": codes.astype("int64"),
            "window": windows.astype("int64"),
            "day": observed_values("day"),
            "score": score,
            "change": change,
            "pct_change": observed_values("pct_change"),
            "observed": observed,
            "itt": itt[codes],
            "responder": is_responder(change, base_row, definitions.response),
            "remission_eligible": eligible,
            "remitter": eligible & (score < definitions.remission_below),
            "meaningful": -change >= definitions.meaningful_points - TOLERANCE,
            "deteriorated": is_deteriorated(change, base_row, definitions.response),
            "meaningfully_worse": change >= definitions.meaningful_points - TOLERANCE,
            "due": due,
        }
    )
    timepoints = [{"label": w.label, "target_day": int(w.target_day)} for w in definitions.windows]
    return Facts(
        patients=patients,
        long={TIMEPOINT_TABLE: rows},
        meta={"outcome_timepoints": timepoints},
    )


def _windows_of(table: PatientTable) -> tuple[list[str], np.ndarray]:
    """The table's timepoint labels and target days, in window order."""
    timepoints = table.meta["outcome_timepoints"]
    labels = [str(t["label"]) for t in timepoints]
    return labels, np.array([int(t["target_day"]) for t in timepoints], dtype="int64")


def _baselines(table: PatientTable, keep: np.ndarray) -> np.ndarray:
    base = table.patients["outcome_baseline"].to_numpy(float)[keep]
    return base[~np.isnan(base)]


def baseline_stats_from(
    table: PatientTable, keep: np.ndarray, definitions: OutcomeDefinitions
) -> dict:
    """:func:`baseline_stats` of the cohort ``keep`` (a boolean mask over the table's patients).

    Parameters
    ----------
    table : PatientTable
        Holding :func:`outcome_facts`.
    keep : numpy.ndarray of bool
        The cohort (:meth:`PatientTable.keep`).
    definitions : OutcomeDefinitions
        The definitions the table was built with.

    Returns
    -------
    dict
        ``{"n", "mean", "sd"}`` of the baselines (SD ddof 1; None with too few).
    """
    base = _baselines(table, keep)
    return {
        "n": int(base.size),
        "mean": _float(base.mean()) if base.size else None,
        "sd": _sd(base),
    }


def _rci_sd_from(
    table: PatientTable, keep: np.ndarray, definitions: OutcomeDefinitions
) -> float | None:
    # The cohort's own baseline SD unless the definitions fix one (the summary's groups share
    # the whole cohort's).
    if definitions.reliability_sd is not None:
        return float(definitions.reliability_sd)
    return _sd(_baselines(table, keep))


def patient_outcomes_from(
    table: PatientTable, keep: np.ndarray, definitions: OutcomeDefinitions
) -> pd.DataFrame:
    """:func:`patient_outcomes` of the cohort ``keep``: the rows of its patients, with the
    reliable change index from the cohort's baseline SD (or ``definitions.reliability_sd``).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PATIENT_OUTCOME_COLUMNS`, sorted by window order then patient.
    """
    frame = table.long[TIMEPOINT_TABLE]
    rows = frame.take(kept_rows(frame, keep))
    codes = rows["code"].to_numpy()
    windows = rows["window"].to_numpy()
    labels, targets = _windows_of(table)
    baseline = table.patients["outcome_baseline"].to_numpy(float)[codes]
    out = pd.DataFrame(
        {
            "patient_id": text_of(id_text(table.index.ids), codes),
            "timepoint": text_of(pa.array(labels, type=pa.large_string()), windows),
            "target_day": targets[windows],
            "day": rows["day"].to_numpy(float),
            "score": rows["score"].to_numpy(float),
            "baseline": baseline,
            "change": rows["change"].to_numpy(float),
            "pct_change": rows["pct_change"].to_numpy(float),
        }
    )
    for flag in _FLAGS:
        out[flag] = rows[flag].to_numpy(bool)
    due = rows["due"].to_numpy(bool)
    out["not_yet_due"] = out["itt"].to_numpy() & ~due
    out["itt"] = out["itt"].to_numpy() & due
    rci = _rci(out["change"].to_numpy(float), _rci_sd_from(table, keep, definitions), definitions)
    out["rci"] = rci
    out["reliable_improved"] = rci < -Z_RCI
    out["reliable_deteriorated"] = rci > Z_RCI
    return out[PATIENT_OUTCOME_COLUMNS]


def _rci(change: np.ndarray, sd: float | None, definitions: OutcomeDefinitions) -> np.ndarray:
    """Jacobson-Truax index ``change / S_diff`` (NaN without a positive SD)."""
    if sd is None or not sd > 0:
        return np.full(len(change), np.nan)
    s_diff = np.sqrt(2.0) * sd * np.sqrt(1.0 - definitions.reliability_r)
    return change / s_diff


def timepoint_outcomes_from(
    table: PatientTable, keep: np.ndarray, definitions: OutcomeDefinitions
) -> list[TimepointOutcome]:
    """:func:`timepoint_outcomes` of the cohort ``keep``, from the table's rows.

    Parameters
    ----------
    table : PatientTable
        Holding :func:`outcome_facts`.
    keep : numpy.ndarray of bool
        The cohort (:meth:`PatientTable.keep`).
    definitions : OutcomeDefinitions
        The definitions the table was built with; ``ci_method``, ``reliability_r`` and
        ``reliability_sd`` (None: the cohort's baseline SD) are read here.

    Returns
    -------
    list of TimepointOutcome
        One per timepoint with at least one observed score, in window order.
    """
    rows = table.long[TIMEPOINT_TABLE]
    use = kept_rows(rows, keep)
    every = len(use) == len(rows)  # everyone: read the columns as they are

    def taken(values: np.ndarray) -> np.ndarray:
        return values if every else values.take(use)

    window = taken(rows["window"].to_numpy())
    column = {name: taken(rows[name].to_numpy()) for name in _WINDOW_COLUMNS}
    baseline_of = table.patients["outcome_baseline"].to_numpy(float)
    column["baseline"] = baseline_of.take(taken(rows["code"].to_numpy()))
    sd = _rci_sd_from(table, keep, definitions)
    r = definitions.reliability_r
    threshold = _float(reliable_change_threshold(sd, r)) if sd is not None and sd > 0 else None
    labels, targets = _windows_of(table)
    # Rows are sorted by window: each window is one slice.
    bounds = np.searchsorted(window, np.arange(len(labels) + 1))
    found, counts = [], []
    for number, label in enumerate(labels):
        at = slice(bounds[number], bounds[number + 1])
        seen = column["observed"][at]
        n = _count(seen)
        if n == 0:
            continue
        due = column["due"][at]
        itt = column["itt"][at] & due
        not_yet_due = _count(column["itt"][at] & ~due)
        change = column["change"][at][seen]
        score = column["score"][at][seen]
        baseline = column["baseline"][at][seen]
        ci_low, ci_high = mean_change_ci(change)
        eligible_all = column["remission_eligible"][at]
        eligible = seen & eligible_all
        itt_eligible = itt & eligible_all
        responder = column["responder"][at]
        remitter = column["remitter"][at]
        meaningful = column["meaningful"][at]
        worse = column["deteriorated"][at]
        meaningfully_worse = column["meaningfully_worse"][at]
        if threshold is None:
            improved = unchanged = deteriorated = None
        else:
            rci = _rci(change, sd, definitions)
            improved = _count(rci < -Z_RCI)
            deteriorated = _count(rci > Z_RCI)
            unchanged = n - improved - deteriorated
        found.append(
            {
                "label": label,
                "target_day": int(targets[number]),
                "n": n,
                "not_yet_due": not_yet_due,
                "mean": _float(score.mean()),
                "sd": _sd(score),
                "mean_baseline": _float(baseline.mean()),
                "sd_baseline": _sd(baseline),
                "mean_change": _float(change.mean()),
                "sd_change": _sd(change),
                "change_ci_low": ci_low,
                "change_ci_high": ci_high,
                "d_z": d_z(change),
                "d_av": (
                    d_av(change.mean(), baseline.std(ddof=1), score.std(ddof=1)) if n >= 2 else None
                ),
                "reliable_change": ReliableChange(
                    n=n,
                    improved=improved,
                    unchanged=unchanged,
                    deteriorated=deteriorated,
                    threshold_points=threshold,
                    r=r,
                    sd=sd,
                ),
            }
        )
        counts += [
            (_count(seen & responder), n),
            (_count(itt & responder), _count(itt)),
            (_count(eligible & remitter), _count(eligible)),
            (_count(itt_eligible & remitter), _count(itt_eligible)),
            (_count(seen & meaningful), n),
            (_count(itt & meaningful), _count(itt)),
            (_count(seen & worse), n),
            (_count(seen & meaningfully_worse), n),
        ]
    rates = _rates(counts, definitions.ci_method)  # every interval of the table in one call
    names = ("response", "response_itt", "remission", "remission_itt", "meaningful")
    names += ("meaningful_itt", "deterioration", "meaningful_worsening")
    width = len(names)
    return [
        TimepointOutcome(**fields, **dict(zip(names, rates[width * i : width * (i + 1)])))
        for i, fields in enumerate(found)
    ]


def _rates(counts: list[tuple[int, int]], method: str) -> list[Rate]:
    """:func:`analytics.core.stats.rate` of each ``(k, n)``, the intervals in one call."""
    if not counts:
        return []
    k = np.array([c[0] for c in counts], dtype="int64")
    n = np.array([c[1] for c in counts], dtype="int64")
    low, high = proportion_ci(k, n, method=method)
    return [
        Rate(k=0, n=0, rate=None, ci_low=None, ci_high=None)
        if n[i] == 0
        else Rate(
            k=int(k[i]),
            n=int(n[i]),
            rate=int(k[i]) / int(n[i]),
            ci_low=float(low[i]),
            ci_high=float(high[i]),
        )
        for i in range(len(counts))
    ]


# The per-row flags of the "timepoints" rows, as patient_outcomes gives them.
_FLAGS = (
    "observed",
    "itt",
    "responder",
    "remission_eligible",
    "remitter",
    "meaningful",
    "deteriorated",
    "meaningfully_worse",
)
# The columns of the "timepoints" rows that timepoint_outcomes_from reads.
_WINDOW_COLUMNS = (*_FLAGS, "due", "change", "score")


# ---------------------------------------------------------------------------------------------
# The clinic-wide functions: the aggregations above over a table of this module's facts


def _facts_key(definitions: OutcomeDefinitions) -> str:
    # The facts do not depend on the reliable-change SD (read when aggregating).
    return repr(replace(definitions, reliability_sd=None))


def outcome_table(data: ClinicData, definitions: OutcomeDefinitions) -> PatientTable:
    """A table of :func:`outcome_facts` only, over every patient of ``data``.

    Remembered inside :func:`~analytics.metrics.timepoints.shared_intermediates`, so the
    clinic-wide functions below share one.
    """

    def build() -> PatientTable:
        index = patient_index(data)
        return PatientTable.from_facts(index, [outcome_facts(data, definitions, index)])

    frames = (data.assessments, data.patients, data.sessions)
    key = (_facts_key(definitions), data.has_sessions)
    with shared_intermediates():
        return remembered("outcome_table", frames, key, build)


def baseline_stats(data: ClinicData, definitions: OutcomeDefinitions) -> dict:
    """``{"n", "mean", "sd"}`` of the baseline over every patient who has one (SD ddof 1)."""
    table = outcome_table(data, definitions)
    return baseline_stats_from(table, table.keep(), definitions)


def patient_outcomes(data: ClinicData, definitions: OutcomeDefinitions) -> pd.DataFrame:
    """Per patient and timepoint, every flag behind the rates (for export).

    Rows: every observed (patient, timepoint) plus, for each timepoint, every ITT patient without
    a score there (``observed`` False, score NaN, all flags False). Observed rates count rows with
    ``observed``; ITT rates count rows with ``itt``; remission rates also need
    ``remission_eligible``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PATIENT_OUTCOME_COLUMNS`, sorted by window order then patient.
    """

    def compute() -> pd.DataFrame:
        table = outcome_table(data, definitions)
        return patient_outcomes_from(table, table.keep(), definitions)

    frames = (data.assessments, data.patients, data.sessions)
    key = (repr(definitions), data.has_sessions)
    return remembered("patient_outcomes", frames, key, compute)


def timepoint_outcomes(data: ClinicData, definitions: OutcomeDefinitions) -> list[TimepointOutcome]:
    """Outcomes at each timepoint that has at least one observed score, in window order.

    See :class:`TimepointOutcome` for the fields and the module docstring for the populations.
    """
    table = outcome_table(data, definitions)
    return timepoint_outcomes_from(table, table.keep(), definitions)
