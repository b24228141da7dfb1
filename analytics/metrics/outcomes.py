"""Outcomes at each timepoint: change, effect sizes, response, remission, reliable change.

Two populations are reported side by side. *Observed*: patients with a baseline and a score at
the timepoint. *Intention to treat* (ITT): every patient with a baseline who started treatment
(a session on day 0 or later; every patient with a baseline when there is no sessions table),
where a patient without a score at the timepoint counts as not responding.

:func:`patient_outcomes` gives the per-patient flags behind every rate, so a spreadsheet can
reproduce each number patient by patient.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from analytics.core.contract import ClinicData
from analytics.core.definitions import OutcomeDefinitions, ResponseRule
from analytics.core.ids import factorize_ids, text_of
from analytics.core.stats import Rate, mean_ci, rate
from analytics.metrics.timepoints import (
    _baseline_coded,
    _itt_by_code,
    _timepoints_coded,
    _valid_coded,
    baseline_scores,
    remembered,
    shared_intermediates,
)

__all__ = [
    "PATIENT_OUTCOME_COLUMNS",
    "ReliableChange",
    "TimepointOutcome",
    "baseline_stats",
    "d_av",
    "d_z",
    "is_responder",
    "mean_change_ci",
    "patient_outcomes",
    "reliable_change_threshold",
    "timepoint_outcomes",
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
#   itt                      bool     in the intention-to-treat population
#   responder                bool     meets the response rule (False when not observed)
#   remission_eligible       bool     baseline at or above the remission floor
#   remitter                 bool     eligible and score below the cut (False when not observed)
#   meaningful               bool     change at least the meaningful drop
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
    "responder",
    "remission_eligible",
    "remitter",
    "meaningful",
    "rci",
    "reliable_improved",
    "reliable_deteriorated",
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
       science. Front Psychol 4:863. doi:10.3389/fpsyg.2013.00863 (eq. 6)
    """
    changes = np.asarray(changes, dtype=float)
    if changes.size < 2:
        return None
    sd = changes.std(ddof=1)
    return _float(changes.mean() / sd) if sd > 0 else None


def d_av(mean_change: float, sd_pre: float, sd_post: float) -> float | None:
    """Cohen's d_av: mean change over the root mean square of the two SDs.

    Notes
    -----
    ``d_av = mean_change / sqrt((sd_pre**2 + sd_post**2) / 2)``. Signed like the change.
    Check: 52.39 (SD 11.90) -> 29.42 (SD 16.52) gives -22.97 / 14.40 = -1.60.

    References
    ----------
    .. [1] Lakens D (2013). Calculating and reporting effect sizes to facilitate cumulative
       science. Front Psychol 4:863. doi:10.3389/fpsyg.2013.00863 (eq. 10)
    """
    denom = np.sqrt((float(sd_pre) ** 2 + float(sd_post) ** 2) / 2.0)
    if not np.isfinite(denom) or denom == 0:
        return None
    return _float(mean_change / denom)


def mean_change_ci(changes, *, confidence: float = 0.95) -> tuple[float | None, float | None]:
    """t-based confidence interval of the mean change: ``mean ± t(n-1) * SD / sqrt(n)``.

    None bounds with fewer than 2 changes.
    """
    changes = np.asarray(changes, dtype=float)
    n = changes.size
    if n < 2:
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
    reliable_change : ReliableChange
    """

    label: str
    target_day: int
    n: int
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
    reliable_change: ReliableChange

    def to_dict(self) -> dict:
        """JSON-ready: rates and reliable change as nested dicts, no NaN."""
        return asdict(self)


def _sd(values) -> float | None:
    values = np.asarray(values, dtype=float)
    return _float(values.std(ddof=1)) if values.size >= 2 else None


def baseline_stats(data: ClinicData, definitions: OutcomeDefinitions) -> dict:
    """``{"n", "mean", "sd"}`` of the baseline over every patient who has one (SD ddof 1)."""
    base = baseline_scores(data, definitions)["baseline"].to_numpy(float)
    return {
        "n": int(base.size),
        "mean": _float(base.mean()) if base.size else None,
        "sd": _sd(base),
    }


def _rci_sd(data: ClinicData, definitions: OutcomeDefinitions) -> float | None:
    if definitions.reliability_sd is not None:
        return float(definitions.reliability_sd)
    return baseline_stats(data, definitions)["sd"]


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
    frames = (data.assessments, data.patients, data.sessions)
    key = (repr(definitions), data.has_sessions)
    return remembered("patient_outcomes", frames, key, lambda: _patient_outcomes(data, definitions))


def _patient_outcomes(data: ClinicData, definitions: OutcomeDefinitions) -> pd.DataFrame:
    tp, _, _, tp_codes, tp_windows = _timepoints_coded(data, definitions)
    text = _valid_coded(data, definitions.instrument)[3]
    base, _, base_codes = _baseline_coded(data, definitions)
    itt_by_code = _itt_by_code(data, definitions)
    n_windows = len(definitions.windows)
    # Rows are keyed by (window order, patient code); codes sort like the ids.
    size = len(text) + 1
    seen_keys = tp_windows * size + tp_codes
    itt_codes = np.flatnonzero(itt_by_code)
    # ITT patients missing at a timepoint get a row of their own.
    grid_order = np.repeat(np.arange(n_windows, dtype="int64"), len(itt_codes))
    grid_codes = np.tile(itt_codes, n_windows)
    missing = ~np.isin(grid_order * size + grid_codes, seen_keys)
    grid_order, grid_codes = grid_order[missing], grid_codes[missing]
    order = np.argsort(np.concatenate([seen_keys, grid_order * size + grid_codes]), kind="stable")
    codes = np.concatenate([tp_codes, grid_codes])[order]
    windows = np.concatenate([tp_windows, grid_order])[order]
    # Observed rows take their values from the timepoint scores, ITT-only rows are blank.
    observed_row = order < len(tp)
    from_tp = order[observed_row]

    def observed_values(column: str) -> np.ndarray:
        values = np.full(len(order), np.nan)
        values[observed_row] = tp[column].to_numpy(dtype=float)[from_tp]
        return values

    labels = pa.array([w.label for w in definitions.windows], type=pa.large_string())
    targets = np.array([w.target_day for w in definitions.windows], dtype="int64")
    out = pd.DataFrame(
        {
            "patient_id": text_of(text, codes),
            "timepoint": text_of(labels, windows),
            "target_day": targets[windows],
            "day": observed_values("day"),
            "score": observed_values("score"),
            "change": observed_values("change"),
            "pct_change": observed_values("pct_change"),
        }
    )
    baseline_by_code = np.full(size, np.nan)
    baseline_by_code[base_codes] = base["baseline"].to_numpy(float)
    out["baseline"] = baseline_by_code[codes]
    out["observed"] = out["score"].notna().to_numpy(bool)
    out["itt"] = itt_by_code[codes]
    change = out["change"].to_numpy(float)
    baseline = out["baseline"].to_numpy(float)
    score = out["score"].to_numpy(float)
    out["responder"] = is_responder(change, baseline, definitions.response)
    out["remission_eligible"] = baseline >= definitions.remission_requires_baseline_at_or_above
    out["remitter"] = out["remission_eligible"].to_numpy() & (score < definitions.remission_below)
    out["meaningful"] = -change >= definitions.meaningful_points - TOLERANCE
    sd = _rci_sd(data, definitions)
    if sd is not None and sd > 0:
        s_diff = np.sqrt(2.0) * sd * np.sqrt(1.0 - definitions.reliability_r)
        rci = change / s_diff
    else:
        rci = np.full(len(out), np.nan)
    out["rci"] = rci
    out["reliable_improved"] = rci < -Z_RCI
    out["reliable_deteriorated"] = rci > Z_RCI
    return out[PATIENT_OUTCOME_COLUMNS].reset_index(drop=True)


# The columns of patient_outcomes that timepoint_outcomes reads.
_WINDOW_COLUMNS = (
    "observed",
    "itt",
    "change",
    "score",
    "baseline",
    "remission_eligible",
    "reliable_improved",
    "reliable_deteriorated",
    "responder",
    "remitter",
    "meaningful",
)


def _count(mask) -> int:
    return int(np.count_nonzero(mask))


def timepoint_outcomes(data: ClinicData, definitions: OutcomeDefinitions) -> list[TimepointOutcome]:
    """Outcomes at each timepoint that has at least one observed score, in window order.

    See :class:`TimepointOutcome` for the fields and the module docstring for the populations.
    """
    with shared_intermediates():  # baselines and the ITT population are computed once
        return _timepoint_outcomes(data, definitions)


def _timepoint_outcomes(data: ClinicData, definitions: OutcomeDefinitions) -> list:
    rows = patient_outcomes(data, definitions)
    sd = _rci_sd(data, definitions)
    method = definitions.ci_method
    r = definitions.reliability_r
    threshold = _float(reliable_change_threshold(sd, r)) if sd is not None and sd > 0 else None
    results = []
    # Rows are sorted by window: one factorisation of the labels (a run each), then numpy.
    window_codes, labels = factorize_ids(rows["timepoint"])
    number = {label: i for i, label in enumerate(labels)}
    column = {name: rows[name].to_numpy() for name in _WINDOW_COLUMNS}
    for window in definitions.windows:
        at = window_codes == number.get(window.label, -2)
        seen = at & column["observed"]
        n = _count(seen)
        if n == 0:
            continue
        itt = at & column["itt"]
        change = column["change"][seen].astype(float)
        score = column["score"][seen].astype(float)
        baseline = column["baseline"][seen].astype(float)
        ci_low, ci_high = mean_change_ci(change)
        eligible = seen & column["remission_eligible"]
        itt_eligible = itt & column["remission_eligible"]
        if threshold is None:
            improved = unchanged = deteriorated = None
        else:
            improved = _count(seen & column["reliable_improved"])
            deteriorated = _count(seen & column["reliable_deteriorated"])
            unchanged = n - improved - deteriorated
        results.append(
            TimepointOutcome(
                label=window.label,
                target_day=window.target_day,
                n=n,
                mean=_float(score.mean()),
                sd=_sd(score),
                mean_baseline=_float(baseline.mean()),
                sd_baseline=_sd(baseline),
                mean_change=_float(change.mean()),
                sd_change=_sd(change),
                change_ci_low=ci_low,
                change_ci_high=ci_high,
                d_z=d_z(change),
                d_av=(
                    d_av(change.mean(), baseline.std(ddof=1), score.std(ddof=1)) if n >= 2 else None
                ),
                response=rate(_count(seen & column["responder"]), n, method=method),
                response_itt=rate(_count(itt & column["responder"]), _count(itt), method=method),
                remission=rate(
                    _count(eligible & column["remitter"]), _count(eligible), method=method
                ),
                remission_itt=rate(
                    _count(itt_eligible & column["remitter"]), _count(itt_eligible), method=method
                ),
                meaningful=rate(_count(seen & column["meaningful"]), n, method=method),
                meaningful_itt=rate(_count(itt & column["meaningful"]), _count(itt), method=method),
                reliable_change=ReliableChange(
                    n=n,
                    improved=improved,
                    unchanged=unchanged,
                    deteriorated=deteriorated,
                    threshold_points=threshold,
                    r=r,
                    sd=sd,
                ),
            )
        )
    return results
