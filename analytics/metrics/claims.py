"""Checking a published claim against the clinic's own data.

Clinic web pages say that symptoms "improved within 24 hours" and that "the improvement
persisted to week 4" (after Almeida et al. 2024, Clinical Neuropsychiatry 21:22, a meta-analysis
of PCL-5 change at 24 hours and at 1-4 weeks). This module asks the clinic's records the same
questions and answers each in plain words, with the numbers and the caveats behind the answer.

A claim that "PCL-5 improves" can be true of the average and false of most patients: a mean
fall of 10 points with 29% of patients responding. The verdict therefore weighs three things,
each computed over the observed patients (a baseline and a score at the timepoint; for
persistence, scored both early and late):

(a) *the average fell*: the t-based 95% CI of the mean change lies entirely below 0;
(b) *by a meaningful amount*: the mean fall is at least ``definitions.meaningful_points``
    (10 PCL-5 points, NCPTSD's clinically meaningful change);
(c) *most patients responded*: at least :data:`RESPONSE_SHARE` (half) of them meet the response
    rule (``definitions.response``; PCL-5 ≥30% reduction, the rule of Feder et al. 2021).

The verdict (shown to the user as :func:`support_rule`, and for each claim as
``ClaimCheck.verdict_reason``):

- **not enough data**: fewer than ``definitions.min_patients`` observed patients (default 10,
  :data:`MIN_PATIENTS`), or no CI;
- **supported**: (a), (b) and (c);
- **partly supported**: (a) without (b) or without (c), or (c) without (a);
- **not supported**: neither (a) nor (c).

Half is the share at which a patient told "scores improve" is more likely than not to respond;
it is our choice, not a published cut-off, and is a module constant so it can be changed.

The intention-to-treat rates (``scored``, ``response_itt``, ``still_responding_itt``) count over
the patients of one function, :meth:`_Rows.intention_to_treat`: those with a baseline who
started treatment and were due at the timepoint, by the Outcomes page's rule
(:func:`analytics.metrics.timepoints.is_due`).

References
----------
.. [1] Almeida et al. (2024). Clinical Neuropsychiatry 21:22 (PCL-5 change at 24 hours and at
   1-4 weeks after ketamine).
.. [2] Feder et al. (2021). Am J Psychiatry 178:193
   (response as ≥30% reduction).
.. [3] National Center for PTSD. Using the PTSD Checklist for DSM-5 (PCL-5): a 10-point change is
   clinically meaningful.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from analytics.core.contract import ClinicData
from analytics.core.definitions import OutcomeDefinitions
from analytics.core.ids import PatientIndex
from analytics.core.patient_table import Facts, PatientTable
from analytics.core.stats import Rate, mean_ci, rate
from analytics.metrics.outcomes import is_responder
from analytics.metrics.timepoints import (
    baseline_scores,
    follow_up_by_code,
    is_due,
    itt_patients,
    shared_intermediates,
    timepoint_scores,
)

__all__ = [
    "MIN_PATIENTS",
    "RESPONSE_SHARE",
    "SUPPORT_RULE",
    "ClaimCheck",
    "TIMEPOINTS",
    "VERDICTS",
    "check_improvement",
    "check_improvement_from",
    "check_persistence",
    "check_persistence_from",
    "claim_verdict",
    "claims_facts",
    "claims_summary",
    "claims_summary_from",
    "signed_rank_test",
    "support_rule",
]

# The fewest observed patients a verdict is given from when no definitions are at hand; the
# checks read ``definitions.min_patients`` (the same default).
MIN_PATIENTS = 10
# The share of observed patients who must respond for a claim that scores "improve" to be
# supported: half, where a patient is more likely than not to respond (our choice).
RESPONSE_SHARE = 0.5

SUPPORTED = "supported"
PARTLY = "partly supported"
NOT_SUPPORTED = "not supported"
NOT_ENOUGH = "not enough data"
VERDICTS = (SUPPORTED, PARTLY, NOT_SUPPORTED, NOT_ENOUGH)


def _share_words(share: float) -> str:
    return "half" if share == 0.5 else f"{100 * share:g}%"


def support_rule(definitions: OutcomeDefinitions) -> str:
    """The verdict rule in plain words, with the definitions' numbers.

    Examples
    --------
    >>> support_rule(OutcomeDefinitions()).split(". ")[0]  # doctest: +NORMALIZE_WHITESPACE
    'Supported when the average PCL-5 score fell (its 95% CI entirely below 0) by at least 10
    points, the change counted as clinically meaningful, and at least half of the patients
    scored responded (≥30% reduction from baseline)'
    """
    points = f"{definitions.meaningful_points:g}"
    share = _share_words(RESPONSE_SHARE)
    return (
        f"Supported when the average {definitions.instrument} score fell (its 95% CI entirely "
        f"below 0) by at least {points} points, the change counted as clinically meaningful, "
        f"and at least {share} of the patients scored responded "
        f"({definitions.response.describe()}). Partly supported when the average fell but by "
        f"less than {points} points or fewer than {share} responded, or when at least {share} "
        "responded but the average did not fall. Not supported when the average did not fall "
        f"and fewer than {share} responded. Not enough data when fewer than "
        f"{definitions.min_patients} patients were scored."
    )


SUPPORT_RULE = support_rule(OutcomeDefinitions())


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
        One of :data:`VERDICTS`: "supported", "partly supported", "not supported" or "not
        enough data".
    rule : str
        The rule every verdict follows, in plain words (:func:`support_rule`).
    sentence : str
        The plain-language answer with its numbers and caveats.
    scored_label, response_label, response_itt_label, change_label : str
        What ``scored``, ``response``, ``response_itt`` and ``mean_change`` count, in words for
        a label: each names its population, so that it is not mistaken for the Overview's or
        the Outcomes page's measure of the same name (which count among every patient who
        started, or every patient scored at the timepoint).
    verdict_reason : str
        This claim's verdict with its reason in plain words: the mean change and its CI, the
        share who responded, and which part of the rule each meets, e.g. "The average PCL-5
        score fell by 10.5 points (95% CI 9.2 to 11.7), at least the 10 points counted as
        clinically meaningful, but only 29% of the 175 patients scored at 24 hours responded
        (≥30% reduction from baseline), fewer than half: partly supported."
    still_responding_label, still_responding_itt_label : str or None
        Persistence only: what ``still_responding`` and ``still_responding_itt`` count.
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
    scored_label: str
    response_label: str
    response_itt_label: str
    change_label: str
    verdict_reason: str
    still_responding_label: str | None
    still_responding_itt_label: str | None

    def to_dict(self) -> dict:
        """JSON-ready: rates as nested dicts, None for anything not computable."""
        return asdict(self)


def _finite(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def claim_verdict(
    n: int,
    ci_high: float | None,
    mean_change: float | None,
    response_rate: float | None,
    *,
    meaningful_points: float,
    min_patients: int = MIN_PATIENTS,
    response_share: float = RESPONSE_SHARE,
) -> str:
    """The verdict of :func:`support_rule` for a mean change, its CI and the response rate.

    Parameters
    ----------
    n : int
        Observed patients (baseline and score).
    ci_high : float or None
        Upper end of the 95% CI of the mean change (score - baseline; negative = better).
    mean_change : float or None
        The mean change.
    response_rate : float or None
        Share of the ``n`` patients who meet the response rule.
    meaningful_points : float
        The smallest mean fall counted as clinically meaningful.
    min_patients : int
        Fewer observed patients than this give "not enough data".
    response_share : float
        The share of responders a supported claim needs (:data:`RESPONSE_SHARE`).

    Returns
    -------
    str
        One of :data:`VERDICTS`.

    Examples
    --------
    >>> claim_verdict(40, -3.0, -11.0, 0.6, meaningful_points=10)
    'supported'
    >>> claim_verdict(40, -3.0, -11.0, 0.3, meaningful_points=10)
    'partly supported'
    >>> claim_verdict(40, 1.0, -1.0, 0.3, meaningful_points=10)
    'not supported'
    """
    if n < min_patients or ci_high is None or mean_change is None or response_rate is None:
        return NOT_ENOUGH
    fell = ci_high < 0
    meaningful = -mean_change >= meaningful_points
    most_responded = response_rate >= response_share
    if fell and meaningful and most_responded:
        return SUPPORTED
    if fell or most_responded:
        return PARTLY
    return NOT_SUPPORTED


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
    from scipy import stats  # imported when used: scipy.stats takes most of a second

    with warnings.catch_warnings():
        # Identical changes give t = ±inf or NaN; reported as None.
        warnings.simplefilter("ignore", RuntimeWarning)
        t = stats.ttest_rel(score, baseline)
    out["t_statistic"], out["p_value"] = _finite(t.statistic), _finite(t.pvalue)
    if np.any(change != 0):
        statistic, p = signed_rank_test(score, baseline)
        out["wilcoxon_statistic"], out["p_wilcoxon"] = _finite(statistic), _finite(p)
    return out


# scipy's wilcoxon runs a permutation test when there are ties or zeros and at most 13 pairs;
# 2**13 sign flips then take its generic resampling machinery seconds.
_MAX_PERMUTED = 13


def signed_rank_test(x, y) -> tuple[float, float]:
    """The two-sided Wilcoxon signed-rank test of the pairs ``(x, y)``: statistic and p.

    The result of ``scipy.stats.wilcoxon(x, y)`` (``zero_method="wilcox"``, ``method="auto"``):
    with ties or zero differences and at most 13 pairs, scipy's exact permutation test, whose
    null distribution is every sign flip of the differences; that distribution is enumerated
    here in one array (2**13 rows at most) instead. Any other case is scipy's own.

    Parameters
    ----------
    x, y : array_like of float
        Paired values, no NaN; at least one difference not zero.

    Returns
    -------
    statistic : float
        ``min(R+, R-)``, the smaller sum of the ranks of the positive and the negative
        differences (zeros dropped, average ranks for ties).
    p : float
        Two-sided p value.

    Notes
    -----
    Ranks are multiples of 1/2 and there are at most 13, so every sum is exact in floating
    point and the counts of null values at or beyond the observed ``R+`` (hence p) are exactly
    scipy's.

    References
    ----------
    .. [1] Wilcoxon F (1945). Individual comparisons by ranking methods. Biometrics Bulletin
       1:80-83. doi:10.2307/3001968

    Examples
    --------
    >>> statistic, p = signed_rank_test([3.0, 1.0, 2.0, 2.0], [1.0, 1.0, 1.0, 1.0])
    >>> float(statistic), float(p)
    (0.0, 0.25)
    """
    from scipy import stats  # imported when used: scipy.stats takes most of a second

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    d = x - y
    nonzero = d[d != 0]
    ties = len(np.unique(np.abs(nonzero))) < len(nonzero)
    if len(d) > _MAX_PERMUTED or not (ties or len(nonzero) < len(d)) or not len(nonzero):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = stats.wilcoxon(x, y)
        return float(result.statistic), float(result.pvalue)
    ranks = stats.rankdata(np.abs(nonzero), method="average")
    positive = nonzero > 0
    observed = ranks[positive].sum()
    statistic = min(observed, ranks[~positive].sum())
    # Every assignment of signs to the non-zero differences: bit j of row i is pair j's sign.
    m = len(nonzero)
    flips = (np.arange(2**m)[:, None] >> np.arange(m)) & 1
    null = flips @ ranks
    less = np.count_nonzero(null <= observed) / 2**m
    greater = np.count_nonzero(null >= observed) / 2**m
    return float(statistic), float(min(1.0, 2 * min(less, greater)))


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
    PARTLY: "Partly, in the patients who were assessed",
    NOT_SUPPORTED: "Not shown by this clinic's data",
}


def _verdict_reason(
    verdict: str,
    definitions: OutcomeDefinitions,
    tests: dict,
    response: Rate,
    scored_words: str,
) -> str:
    """The verdict with its reason: each part of :func:`support_rule` the claim meets or misses,
    with its number, joined by "and" when they agree and "but" when they pull apart."""
    n = response.n
    if verdict == NOT_ENOUGH and n >= definitions.min_patients:
        return f"{n} patients with a baseline were {scored_words}, too few to estimate a 95% CI."
    if verdict == NOT_ENOUGH:
        return (
            f"{_patients(n).capitalize()} with a baseline {'was' if n <= 1 else 'were'} "
            f"{scored_words}, "
            f"fewer than the {definitions.min_patients} the rule needs: not enough data."
        )
    instrument, points = definitions.instrument, f"{definitions.meaningful_points:g}"
    mean, low, high = tests["mean_change"], tests["change_ci_low"], tests["change_ci_high"]
    if high < 0:
        meaningful = -mean >= definitions.meaningful_points
        change = (
            f"the average {instrument} score fell by {-mean:.1f} points (95% CI {-high:.1f} to "
            f"{-low:.1f}), {'at least' if meaningful else 'less than'} the {points} points "
            "counted as clinically meaningful"
        )
        change_holds = meaningful
    else:
        change = (
            f"the average {instrument} score did not clearly fall: it changed by {mean:+.1f} "
            f"points (95% CI {low:+.1f} to {high:+.1f}, which includes no change)"
        )
        change_holds = False
    share = _share_words(RESPONSE_SHARE)
    most = response.rate >= RESPONSE_SHARE
    responded = (
        f"{'' if most else 'only '}{_pct(response)} of the {n} patients {scored_words} responded "
        f"({definitions.response.describe()}; {response.k}/{n}), "
        f"{'at least' if most else 'fewer than'} {share}"
    )
    joined = f"{change}, {'and' if change_holds == most else 'but'} {responded}: {verdict}."
    return joined[0].upper() + joined[1:]


# The timepoints the two claims read: 24 hours, week 1 (an early score when 24 hours is
# missing) and week 4.
TIMEPOINTS = ("24h", "week 1", "week 4")
EARLY = ("24h", "week 1")
LATE = "week 4"


def _slug(label: str) -> str:
    """A window label as part of a column name: ``"week 4"`` -> ``"week_4"``."""
    return re.sub(r"[^0-9a-z]+", "_", label.lower()).strip("_") or "window"


def _require(definitions: OutcomeDefinitions, *labels: str) -> None:
    known = [w.label for w in definitions.windows]
    for label in labels:
        if label not in known:
            raise ValueError(f"timepoint {label!r} is not one of the windows {known}")


def claims_facts(
    data: ClinicData,
    definitions: OutcomeDefinitions,
    index: PatientIndex,
    *,
    timepoints: tuple[str, ...] = TIMEPOINTS,
) -> Facts:
    """Each patient's baseline, scores at the claims' timepoints and ITT membership
    (columns ``claims_*``).

    Parameters
    ----------
    data : ClinicData
        The whole clinic.
    definitions : OutcomeDefinitions
        Instrument, baseline, windows and response rule.
    index : PatientIndex
        The patients: row ``i`` of the facts is code ``i``.
    timepoints : tuple of str
        Window labels to keep scores for; labels that are not windows are left out.

    Returns
    -------
    Facts
        ``patients``: ``claims_itt`` (bool: a baseline and treatment started, the
        intention-to-treat population of :func:`analytics.metrics.timepoints.itt_patients`),
        ``claims_baseline`` (float64, NaN without a baseline), and per timepoint
        ``claims_score_<label>`` (float64: the window's score, NaN when not scored there or
        without a baseline) and ``claims_responder_<label>`` (bool: that score meets the
        response rule; False when not scored). ``meta["claims_timepoints"]``: each label's two
        columns.
    """
    size = len(index)
    labels = [w.label for w in definitions.windows]
    tp = timepoint_scores(data, definitions)
    codes = index.positions(tp["patient_id"])
    window = tp["timepoint"].to_numpy(dtype=object)
    responds = is_responder(tp["change"], tp["baseline"], definitions.response)
    from_rows = codes >= 0
    base = baseline_scores(data, definitions)
    at = index.positions(base["patient_id"])
    baseline = np.full(size, np.nan)
    baseline[at[at >= 0]] = base["baseline"].to_numpy(float)[at >= 0]
    columns: dict[str, np.ndarray] = {
        "claims_itt": index.mask(itt_patients(data, definitions)),
        "claims_baseline": baseline,
        "claims_follow_up_days": follow_up_by_code(data, index),
    }
    window_end = {w.label: int(w.high) for w in definitions.windows}
    meta: dict[str, dict] = {}
    for label in dict.fromkeys(timepoints):
        if label not in labels:
            continue
        at = (window == label) & from_rows
        score = np.full(size, np.nan)
        score[codes[at]] = tp["score"].to_numpy(float)[at]
        responder = np.zeros(size, dtype=bool)
        responder[codes[at & responds]] = True
        name = _slug(label)
        while f"claims_score_{name}" in columns:  # two labels with one slug
            name += "_"
        columns[f"claims_score_{name}"] = score
        columns[f"claims_responder_{name}"] = responder
        meta[label] = {
            "score": f"claims_score_{name}",
            "responder": f"claims_responder_{name}",
            "window_end": window_end[label],
        }
    return Facts(patients=pd.DataFrame(columns), meta={"claims_timepoints": meta})


class _Rows:
    """One cohort's view of the claims' columns: masks and values over the table's rows."""

    def __init__(self, table: PatientTable, keep: np.ndarray, definitions, labels):
        meta = table.meta["claims_timepoints"]
        missing = [label for label in labels if label not in meta]
        if missing:
            raise ValueError(f"the table holds no claims scores at {missing}; it has {list(meta)}")
        p = table.patients
        self.meta = meta
        self.p = p
        self.keep = np.asarray(keep, dtype=bool)
        self._itt = p["claims_itt"].to_numpy(bool) & self.keep
        self.baseline = p["claims_baseline"].to_numpy(float)
        self.follow_up = p["claims_follow_up_days"].to_numpy(float)
        self.method = definitions.ci_method

    def score(self, label: str) -> np.ndarray:
        return self.p[self.meta[label]["score"]].to_numpy(float)

    def scored(self, label: str) -> np.ndarray:
        return self.keep & ~np.isnan(self.score(label))

    def responder(self, label: str) -> np.ndarray:
        return self.p[self.meta[label]["responder"]].to_numpy(bool)

    def intention_to_treat(self, label: str) -> np.ndarray:
        """The intention-to-treat patients counted at timepoint ``label``: every patient of the
        cohort with a baseline who started treatment and was due there (scored in the window,
        or followed to its last day: :func:`analytics.metrics.timepoints.is_due`); no score
        there = not a responder.

        Every ITT denominator of this module (``eligible``, ``scored``, ``response_itt``,
        ``still_responding_itt``) is drawn from here and nowhere else, as the Outcomes page's
        are from the same rule.
        """
        due = is_due(self.follow_up, self.meta[label]["window_end"], self.scored(label))
        return self._itt & due

    def rates(self, label: str) -> tuple[np.ndarray, Rate, Rate, Rate]:
        """The cohort scored at ``label``; the share of the ITT patients scored there; and the
        response among those scored and among the ITT patients (no score = no response)."""
        at = self.scored(label)
        itt = self.intention_to_treat(label)
        at_itt = at & itt
        responds = self.responder(label)
        n_itt = _count(itt)
        return (
            at,
            rate(_count(at_itt), n_itt, method=self.method),
            rate(_count(at & responds), _count(at), method=self.method),
            rate(_count(at_itt & responds), n_itt, method=self.method),
        )


def _verdict_of(tests: dict, response: Rate, definitions: OutcomeDefinitions) -> str:
    """:func:`claim_verdict` of the paired tests and the observed response (whose ``n`` is the
    observed patients), with the definitions' thresholds."""
    return claim_verdict(
        response.n, tests["change_ci_high"], tests["mean_change"], response.rate,
        meaningful_points=definitions.meaningful_points, min_patients=definitions.min_patients,
    )  # fmt: skip


# Who the intention-to-treat denominators count, in words for a label.
_ITT_WORDS = "patients with a baseline who started treatment and were due by then"


def _count(mask: np.ndarray) -> int:
    return int(np.count_nonzero(mask))


def _table(data: ClinicData, definitions: OutcomeDefinitions, timepoints) -> PatientTable:
    """The per-patient table of ``data`` holding this module's facts only."""

    def build(data, definitions, index):
        return claims_facts(data, definitions, index, timepoints=tuple(timepoints))

    with shared_intermediates():
        return PatientTable.of(data, definitions, build)


def _words(label: str) -> str:
    return "24 hours" if label == "24h" else label


def check_improvement_from(
    table: PatientTable,
    keep: np.ndarray,
    definitions: OutcomeDefinitions,
    *,
    timepoint: str = "24h",
) -> ClaimCheck:
    """Does the cohort's data show that scores improved by ``timepoint`` (default 24 hours)?

    Parameters
    ----------
    table : PatientTable
        The clinic's per-patient table for ``definitions`` (with :func:`claims_facts`).
    keep : numpy.ndarray of bool
        The cohort.
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
        When ``timepoint`` is not one of the definitions' windows, or the table has no scores
        there.
    """
    _require(definitions, timepoint)
    rows = _Rows(table, keep, definitions, (timepoint,))
    at, scored, response, response_itt = rows.rates(timepoint)
    tests = _paired_tests(rows.baseline[at], rows.score(timepoint)[at])
    n = _count(at)
    verdict = _verdict_of(tests, response, definitions)
    when = _when(timepoint)
    if verdict == NOT_ENOUGH:
        sentence = (
            f"Not enough data: {_patients(n)} with a baseline had a "
            f"{definitions.instrument} score {when} (at least {definitions.min_patients} are "
            "needed)."
        )
    else:
        sentence = (
            f"{_OPENERS[verdict]}: {_change_text(definitions.instrument, tests, when, n)}. "
            f"{_pct(response)} of them responded ({definitions.response.describe()}). "
            f"{_pct(scored)} of patients with a baseline had a score {when}; counting the "
            f"others as non-responders, {_pct(response_itt)} responded."
        )
    words = _words(timepoint)
    return ClaimCheck(
        claim=f"{definitions.instrument} improved {when.replace('at ', 'within ', 1)}",
        timepoint=timepoint,
        population=f"patients with a baseline and a score {when}",
        n=n,
        eligible=_count(rows.intention_to_treat(timepoint)),
        scored=scored,
        **tests,
        response=response,
        response_itt=response_itt,
        still_responding=None,
        still_responding_itt=None,
        verdict=verdict,
        rule=support_rule(definitions),
        sentence=sentence,
        scored_label=f"Scored at {words}, of {_ITT_WORDS}",
        response_label=f"Responded at {words}, of patients scored at {words}",
        response_itt_label=f"Responded at {words}, of {_ITT_WORDS}",
        change_label=f"Mean change at {words}, of patients scored at {words} (points)",
        verdict_reason=_verdict_reason(verdict, definitions, tests, response, f"scored {when}"),
        still_responding_label=None,
        still_responding_itt_label=None,
    )


def check_improvement(
    data: ClinicData, definitions: OutcomeDefinitions, *, timepoint: str = "24h"
) -> ClaimCheck:
    """:func:`check_improvement_from` every patient of ``data``.

    Raises
    ------
    ValueError
        When ``timepoint`` is not one of the definitions' windows.
    """
    _require(definitions, timepoint)
    table = _table(data, definitions, (timepoint,))
    return check_improvement_from(table, table.keep(), definitions, timepoint=timepoint)


def check_persistence_from(
    table: PatientTable,
    keep: np.ndarray,
    definitions: OutcomeDefinitions,
    *,
    early: tuple[str, ...] = EARLY,
    late: str = LATE,
) -> ClaimCheck:
    """Did the cohort's early improvement persist to ``late`` (default week 4)?

    The early score is the first of ``early`` the patient has (24 hours, else week 1). Among
    patients scored both early and late, the change from baseline at ``late`` is tested as in
    :func:`check_improvement_from`; and among early responders, the share still responding late
    (observed: those scored late; intention to treat: all early responders, no late score =
    not responding).

    Parameters
    ----------
    table : PatientTable
        The clinic's per-patient table for ``definitions`` (with :func:`claims_facts`).
    keep : numpy.ndarray of bool
        The cohort.
    definitions : OutcomeDefinitions
    early : tuple of str
        The early windows, in order of preference.
    late : str
        The late window.

    Returns
    -------
    ClaimCheck

    Raises
    ------
    ValueError
        When a label is not one of the definitions' windows, or the table has no scores there.
    """
    _require(definitions, *early, late)
    rows = _Rows(table, keep, definitions, (*early, late))
    method = definitions.ci_method
    # The first of the early windows each patient has, in the order given.
    has_early = np.zeros(len(rows.keep), dtype=bool)
    early_responder = np.zeros(len(rows.keep), dtype=bool)
    for label in early:
        first_here = rows.scored(label) & ~has_early
        early_responder |= first_here & rows.responder(label)
        has_early |= first_here
    late_at, scored, _, response_itt = rows.rates(late)
    late_responds = rows.responder(late)
    both = late_at & has_early
    response = rate(_count(both & late_responds), _count(both), method=method)
    seen_late = early_responder & both
    kept = seen_late & late_responds
    still = rate(_count(kept), _count(seen_late), method=method)
    # intention to treat: every early responder counted at the late timepoint
    early_itt = early_responder & rows.intention_to_treat(late)
    still_itt = rate(_count(kept & early_itt), _count(early_itt), method=method)
    tests = _paired_tests(rows.baseline[both], rows.score(late)[both])
    n = _count(both)
    verdict = _verdict_of(tests, response, definitions)
    early_words = " or ".join(_words(e) for e in early)
    when = _when(late)
    if verdict == NOT_ENOUGH:
        sentence = (
            f"Not enough data: {_patients(n)} had a {definitions.instrument} score both early "
            f"({early_words}) and {when} (at least {definitions.min_patients} are needed)."
        )
    else:
        opener = _OPENERS[verdict]
        if verdict == SUPPORTED:
            opener = f"Yes, in the {n} patients scored both early ({early_words}) and {when}"
        sentence = (
            f"{opener}: {_change_text(definitions.instrument, tests, when, n)}. "
            f"{_pct(response)} of them responded {when} ({definitions.response.describe()}). "
            f"Of {still_itt.n} early responders, {still.k} still responded {when} "
            f"({_pct(still)} of the {still.n} scored then; {_pct(still_itt)} counting the "
            "unscored as not responding)."
        )
    late_words = _words(late)
    both_words = f"scored both early ({early_words}) and at {late_words}"
    return ClaimCheck(
        claim=f"the improvement persisted to {late}",
        timepoint=late,
        population=f"patients with a baseline, an early score ({early_words}) and a score {when}",
        n=n,
        eligible=_count(rows.intention_to_treat(late)),
        scored=scored,
        **tests,
        response=response,
        response_itt=response_itt,
        still_responding=still,
        still_responding_itt=still_itt,
        verdict=verdict,
        rule=support_rule(definitions),
        sentence=sentence,
        scored_label=f"Scored at {late_words}, of {_ITT_WORDS}",
        response_label=f"Responded at {late_words}, of patients {both_words}",
        response_itt_label=f"Responded at {late_words}, of {_ITT_WORDS}",
        change_label=f"Mean change at {late_words}, of patients {both_words} (points)",
        verdict_reason=_verdict_reason(verdict, definitions, tests, response, both_words),
        still_responding_label=(
            f"Still responding at {late_words}, of early responders ({early_words}) "
            f"scored at {late_words}"
        ),
        still_responding_itt_label=(
            f"Still responding at {late_words}, of early responders ({early_words}) due by then"
        ),
    )


def check_persistence(
    data: ClinicData,
    definitions: OutcomeDefinitions,
    *,
    early: tuple[str, ...] = EARLY,
    late: str = LATE,
) -> ClaimCheck:
    """:func:`check_persistence_from` every patient of ``data``.

    Raises
    ------
    ValueError
        When a label is not one of the definitions' windows.
    """
    _require(definitions, *early, late)
    table = _table(data, definitions, (*early, late))
    return check_persistence_from(table, table.keep(), definitions, early=early, late=late)


def claims_summary_from(
    table: PatientTable, keep: np.ndarray, definitions: OutcomeDefinitions
) -> dict:
    """Both claims for the cohort ``keep`` as JSON-ready dicts:
    ``{"within_24h": ..., "persisted_to_week_4": ...}`` (:meth:`ClaimCheck.to_dict`).

    A claim whose windows are not in the definitions is None.
    """
    labels = {w.label for w in definitions.windows}
    within = (
        check_improvement_from(table, keep, definitions, timepoint="24h").to_dict()
        if "24h" in labels
        else None
    )
    persisted = (
        check_persistence_from(table, keep, definitions, early=EARLY, late=LATE).to_dict()
        if {*EARLY, LATE} <= labels
        else None
    )
    return {"within_24h": within, "persisted_to_week_4": persisted}


def claims_summary(data: ClinicData, definitions: OutcomeDefinitions) -> dict:
    """:func:`claims_summary_from` every patient of ``data``."""
    table = _table(data, definitions, TIMEPOINTS)
    return claims_summary_from(table, table.keep(), definitions)
