"""Checking a published claim against the clinic's own data.

Clinic web pages say that symptoms "improved within 24 hours" and that "the improvement
persisted to week 4" (after Almeida et al. 2024, Clinical Neuropsychiatry 21:22, a meta-analysis
of PCL-5 change at 24 hours and at 1-4 weeks). This module asks the clinic's records the same
questions and answers each in plain words, with the numbers and the caveats behind the answer.

What "supported" means here (shown to the user as :data:`SUPPORT_RULE`):

- **not enough data**: fewer than :data:`MIN_PATIENTS` patients with a baseline and a score;
- **supported**: the 95% CI of the mean change lies entirely below 0 *and* the mean fall is at
  least ``definitions.meaningful_points`` (10 PCL-5 points: NCPTSD's clinically meaningful change);
- **partly supported**: the CI lies below 0 but the mean fall is smaller than that;
- **not supported**: otherwise (the CI reaches 0 or above).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analytics.core.contract import ClinicData
from analytics.core.definitions import OutcomeDefinitions
from analytics.core.ids import isin_ids
from analytics.core.stats import Rate, mean_ci, rate
from analytics.metrics.outcomes import is_responder
from analytics.metrics.timepoints import itt_patients, timepoint_scores

__all__ = [
    "MIN_PATIENTS",
    "SUPPORT_RULE",
    "ClaimCheck",
    "check_improvement",
    "check_persistence",
    "claim_verdict",
    "claims_summary",
]

MIN_PATIENTS = 10

SUPPORTED = "supported"
PARTLY = "partly supported"
NOT_SUPPORTED = "not supported"
NOT_ENOUGH = "not enough data"


def _support_rule(points: float) -> str:
    return (
        f"Supported: at least {MIN_PATIENTS} patients, the 95% CI of the mean change entirely "
        f"below 0, and a mean fall of at least {points:g} points (clinically meaningful). Partly "
        "supported: the CI is below 0 but the fall is smaller. Not supported: the CI reaches 0. "
        f"Not enough data: fewer than {MIN_PATIENTS} patients."
    )


SUPPORT_RULE = _support_rule(10)


@dataclass(frozen=True)
class ClaimCheck:
    """The clinic's own evidence on one claim.

    Attributes
    ----------
    claim : str
        The claim in words.
    timepoint : str
        Window label the change is measured at (for persistence: the late timepoint).
    population : str
        Who the mean change is computed over.
    n : int
        Patients in that population (baseline and score(s)).
    eligible : int
        Intention-to-treat patients with a baseline (the denominator of ``scored``).
    scored : Rate
        Share of ``eligible`` with a score at the timepoint (the rest are missing data).
    mean_change, change_ci_low, change_ci_high : float or None
        Mean score - baseline (negative = better) and its t-based 95% CI.
    t_statistic, p_value : float or None
        Paired t test of baseline against score (``scipy.stats.ttest_rel``), two-sided.
    wilcoxon_statistic, p_wilcoxon : float or None
        Wilcoxon signed-rank test of the same pairs (``scipy.stats.wilcoxon``), two-sided.
    response : Rate
        Responders among the ``n`` observed.
    response_itt : Rate
        Responders among ``eligible``; no score = not a responder.
    still_responding, still_responding_itt : Rate or None
        Persistence only: early responders still responding late, among those scored late and
        among all early responders.
    verdict : str
        "supported", "partly supported", "not supported" or "not enough data".
    rule : str
        The rule the verdict follows.
    sentence : str
        The plain-language answer with its numbers and caveats.
    """

    claim: str
    timepoint: str
    population: str
    n: int
    eligible: int
    scored: Rate
    mean_change: float | None
    change_ci_low: float | None
    change_ci_high: float | None
    t_statistic: float | None
    p_value: float | None
    wilcoxon_statistic: float | None
    p_wilcoxon: float | None
    response: Rate
    response_itt: Rate
    still_responding: Rate | None
    still_responding_itt: Rate | None
    verdict: str
    rule: str
    sentence: str

    def to_dict(self) -> dict:
        """JSON-ready: rates as nested dicts, None for anything not computable."""
        return asdict(self)


def _finite(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def claim_verdict(
    n: int, ci_high: float | None, mean_change: float | None, *, meaningful_points: float
) -> str:
    """The verdict of :data:`SUPPORT_RULE` for a mean change and the upper end of its CI.

    Examples
    --------
    >>> claim_verdict(40, -3.0, -11.0, meaningful_points=10)
    'supported'
    >>> claim_verdict(40, -1.0, -4.0, meaningful_points=10)
    'partly supported'
    """
    if n < MIN_PATIENTS or ci_high is None or mean_change is None:
        return NOT_ENOUGH
    if ci_high >= 0:
        return NOT_SUPPORTED
    if -mean_change >= meaningful_points:
        return SUPPORTED
    return PARTLY


def _paired_tests(baseline: np.ndarray, score: np.ndarray) -> dict:
    change = score - baseline
    n = change.size
    out = dict.fromkeys(
        (
            "mean_change",
            "change_ci_low",
            "change_ci_high",
            "t_statistic",
            "p_value",
            "wilcoxon_statistic",
            "p_wilcoxon",
        )
    )
    if n == 0:
        return out
    out["mean_change"] = _finite(change.mean())
    if n < 2:
        return out
    low, high = mean_ci(change.mean(), change.std(ddof=1), n)
    out["change_ci_low"], out["change_ci_high"] = _finite(low), _finite(high)
    with warnings.catch_warnings():
        # Identical changes give t = ±inf or NaN; reported as None.
        warnings.simplefilter("ignore", RuntimeWarning)
        t = stats.ttest_rel(score, baseline)
    out["t_statistic"], out["p_value"] = _finite(t.statistic), _finite(t.pvalue)
    if np.any(change != 0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            w = stats.wilcoxon(score, baseline)
        out["wilcoxon_statistic"], out["p_wilcoxon"] = _finite(w.statistic), _finite(w.pvalue)
    return out


def _patients(n: int) -> str:
    return "no patient" if n == 0 else f"only {n} patient{'s' if n != 1 else ''}"


def _when(label: str) -> str:
    return "at 24 hours" if label == "24h" else f"at {label}"


def _p_text(p: float | None) -> str:
    if p is None:
        return "p not computable"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _pct(r: Rate) -> str:
    return "no patients" if r.rate is None else f"{100 * r.rate:.0f}%"


def _change_text(instrument: str, tests: dict, when: str, n: int) -> str:
    mean = tests["mean_change"]
    if mean == 0:
        return f"{instrument} did not change on average {when} (n = {n})"
    direction = "fell" if mean < 0 else "rose"
    ci = (
        f"95% CI {-tests['change_ci_high']:.1f} to {-tests['change_ci_low']:.1f}"
        if mean < 0
        else f"95% CI {tests['change_ci_low']:.1f} to {tests['change_ci_high']:.1f}"
    )
    return (
        f"{instrument} {direction} by {abs(mean):.1f} points on average {when} "
        f"({ci}; n = {n}, {_p_text(tests['p_value'])})"
    )


_OPENERS = {
    SUPPORTED: "Yes, in the patients who were assessed",
    PARTLY: "Partly: scores fell, but by less than the {points:g} points counted as clinically "
    "meaningful",
    NOT_SUPPORTED: "Not shown by this clinic's data",
}


def _isin(values, ids) -> np.ndarray:
    """``values.isin(ids)`` by hashing: Arrow-backed string ``isin`` loops in Python."""
    return isin_ids(values, ids)


def _rates_for(tp: pd.DataFrame, itt: pd.Index, label: str, definitions: OutcomeDefinitions):
    at = tp[tp["timepoint"] == label]
    at_itt = at[_isin(at["patient_id"], itt)]
    responds = is_responder(at["change"], at["baseline"], definitions.response)
    responds_itt = is_responder(at_itt["change"], at_itt["baseline"], definitions.response)
    method = definitions.ci_method
    return (
        at,
        rate(len(at_itt), len(itt), method=method),
        rate(int(responds.sum()), len(at), method=method),
        rate(int(responds_itt.sum()), len(itt), method=method),
    )


def _require(definitions: OutcomeDefinitions, *labels: str) -> None:
    known = [w.label for w in definitions.windows]
    for label in labels:
        if label not in known:
            raise ValueError(f"timepoint {label!r} is not one of the windows {known}")


def check_improvement(
    data: ClinicData, definitions: OutcomeDefinitions, *, timepoint: str = "24h"
) -> ClaimCheck:
    """Does the clinic's data show that scores improved by ``timepoint`` (default 24 hours)?

    Parameters
    ----------
    data : ClinicData
    definitions : OutcomeDefinitions
        Instrument, response rule, meaningful change and windows.
    timepoint : str
        Window label.

    Returns
    -------
    ClaimCheck
        Observed patients (baseline and a score in the window) for the change and tests;
        coverage and intention-to-treat response over every patient with a baseline who started.

    Raises
    ------
    ValueError
        When ``timepoint`` is not one of the definitions' windows.
    """
    _require(definitions, timepoint)
    tp, itt = timepoint_scores(data, definitions), itt_patients(data, definitions)
    return _improvement(tp, itt, definitions, timepoint)


def _improvement(
    tp: pd.DataFrame, itt: pd.Index, definitions: OutcomeDefinitions, timepoint: str
) -> ClaimCheck:
    at, scored, response, response_itt = _rates_for(tp, itt, timepoint, definitions)
    tests = _paired_tests(at["baseline"].to_numpy(float), at["score"].to_numpy(float))
    n = len(at)
    verdict = claim_verdict(
        n, tests["change_ci_high"], tests["mean_change"],
        meaningful_points=definitions.meaningful_points,
    )  # fmt: skip
    when = _when(timepoint)
    if verdict == NOT_ENOUGH:
        sentence = (
            f"Not enough data: {_patients(n)} with a baseline had a "
            f"{definitions.instrument} score {when} (at least {MIN_PATIENTS} are needed)."
        )
    else:
        opener = _OPENERS[verdict].format(points=definitions.meaningful_points)
        sentence = (
            f"{opener}: {_change_text(definitions.instrument, tests, when, n)}. "
            f"{_pct(scored)} of patients with a baseline had a score {when}; counting the "
            f"others as non-responders, {_pct(response_itt)} responded "
            f"({definitions.response.describe()})."
        )
    return ClaimCheck(
        claim=f"{definitions.instrument} improved {when.replace('at ', 'within ', 1)}",
        timepoint=timepoint,
        population=f"patients with a baseline and a score {when}",
        n=n,
        eligible=len(itt),
        scored=scored,
        **tests,
        response=response,
        response_itt=response_itt,
        still_responding=None,
        still_responding_itt=None,
        verdict=verdict,
        rule=_support_rule(definitions.meaningful_points),
        sentence=sentence,
    )


def check_persistence(
    data: ClinicData,
    definitions: OutcomeDefinitions,
    *,
    early: tuple[str, ...] = ("24h", "week 1"),
    late: str = "week 4",
) -> ClaimCheck:
    """Did the early improvement persist to ``late`` (default week 4)?

    The early score is the first of ``early`` the patient has (24 hours, else week 1). Among
    patients scored both early and late, the change from baseline at ``late`` is tested as in
    :func:`check_improvement`; and among early responders, the share still responding late
    (observed: those scored late; intention to treat: all early responders, no late score =
    not responding).

    Raises
    ------
    ValueError
        When a label is not one of the definitions' windows.
    """
    _require(definitions, *early, late)
    tp, itt = timepoint_scores(data, definitions), itt_patients(data, definitions)
    return _persistence(tp, itt, definitions, early, late)


def _persistence(
    tp: pd.DataFrame,
    itt: pd.Index,
    definitions: OutcomeDefinitions,
    early: tuple[str, ...],
    late: str,
) -> ClaimCheck:
    method = definitions.ci_method
    early_rows = tp[tp["timepoint"].isin(list(early))]
    # First of the early windows each patient has, in the order given.
    rank = {label: i for i, label in enumerate(early)}
    early_rows = (
        early_rows.assign(_r=early_rows["timepoint"].map(rank))
        .sort_values(["patient_id", "_r"], kind="stable")
        .drop_duplicates("patient_id")
    )
    early_responders = early_rows.loc[
        is_responder(early_rows["change"], early_rows["baseline"], definitions.response),
        "patient_id",
    ]
    late_rows, scored, _, response_itt = _rates_for(tp, itt, late, definitions)
    both = late_rows[_isin(late_rows["patient_id"], early_rows["patient_id"])]
    late_responds = pd.Series(
        is_responder(both["change"], both["baseline"], definitions.response),
        index=both["patient_id"].to_numpy(),
    )
    response = rate(int(late_responds.sum()), len(both), method=method)
    kept = late_responds.reindex(pd.Index(early_responders), fill_value=False)
    seen_late = _isin(early_responders, both["patient_id"])
    still = rate(int(kept[seen_late].sum()), int(seen_late.sum()), method=method)
    still_itt = rate(int(kept.sum()), len(early_responders), method=method)
    tests = _paired_tests(both["baseline"].to_numpy(float), both["score"].to_numpy(float))
    n = len(both)
    verdict = claim_verdict(
        n, tests["change_ci_high"], tests["mean_change"],
        meaningful_points=definitions.meaningful_points,
    )  # fmt: skip
    early_words = " or ".join("24 hours" if e == "24h" else e for e in early)
    when = _when(late)
    if verdict == NOT_ENOUGH:
        sentence = (
            f"Not enough data: {_patients(n)} had a {definitions.instrument} score both early "
            f"({early_words}) and {when} (at least {MIN_PATIENTS} are needed)."
        )
    else:
        opener = _OPENERS[verdict].format(points=definitions.meaningful_points)
        if verdict == SUPPORTED:
            opener = f"Yes, in the {n} patients scored both early ({early_words}) and {when}"
        sentence = (
            f"{opener}: {_change_text(definitions.instrument, tests, when, n)}. "
            f"Of {still_itt.n} early responders, {still.k} still responded {when} "
            f"({_pct(still)} of the {still.n} scored then; {_pct(still_itt)} counting the "
            "unscored as not responding)."
        )
    return ClaimCheck(
        claim=f"the improvement persisted to {late}",
        timepoint=late,
        population=f"patients with a baseline, an early score ({early_words}) and a score {when}",
        n=n,
        eligible=len(itt),
        scored=scored,
        **tests,
        response=response,
        response_itt=response_itt,
        still_responding=still,
        still_responding_itt=still_itt,
        verdict=verdict,
        rule=_support_rule(definitions.meaningful_points),
        sentence=sentence,
    )


def claims_summary(data: ClinicData, definitions: OutcomeDefinitions) -> dict:
    """Both claims as JSON-ready dicts: ``{"within_24h": ..., "persisted_to_week_4": ...}``.

    A claim whose windows are not in the definitions is None.
    """
    labels = {w.label for w in definitions.windows}
    tp, itt = timepoint_scores(data, definitions), itt_patients(data, definitions)
    within = _improvement(tp, itt, definitions, "24h").to_dict() if "24h" in labels else None
    persisted = (
        _persistence(tp, itt, definitions, ("24h", "week 1"), "week 4").to_dict()
        if {"24h", "week 1", "week 4"} <= labels
        else None
    )
    return {"within_24h": within, "persisted_to_week_4": persisted}
