"""Dissociation measured by the CADSS score (0-92) of a session, and whether it wanes.

This is the severity score, not a rate: dissociation reported as a side effect and the
session's dissociation yes/no field (REMS) are rates, in :mod:`~analytics.metrics.safety.effects`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import special

from analytics.core.contract import ClinicData
from analytics.core.patient_table import PatientTable
from analytics.core.stats import mean_ci
from analytics.metrics.safety.blood_pressure import describe
from analytics.metrics.safety.facts import safety_table, settings_of
from analytics.metrics.safety.settings import SafetySettings, json_value

__all__ = [
    "DissociationTrend",
    "cadss_by_session_band",
    "cadss_by_session_band_from",
    "cadss_distribution",
    "cadss_distribution_from",
    "cadss_trend",
    "cadss_trend_from",
    "spearman_from_codes",
]

BAND_COLUMNS = [
    "band",
    "n_sessions",
    "n_patients",
    "mean",
    "sd",
    "ci_low",
    "ci_high",
    "session_mean",
]


def _scored_rows(table: PatientTable, keep: np.ndarray) -> np.ndarray:
    """The cohort's sessions with a CADSS score, in session order."""
    sessions = table.long["safety_sessions"]
    scored = sessions["cadss_value_code"].to_numpy() >= 0
    return np.flatnonzero(scored & keep[sessions["code"].to_numpy()])


def _n_patients(table: PatientTable, keep: np.ndarray) -> int:
    return int(np.count_nonzero(keep & (table.patients["safety_cadss_sessions"].to_numpy() > 0)))


def cadss_distribution_from(table: PatientTable, keep: np.ndarray, definitions=None) -> dict:
    """CADSS (0-92) over the cohort's sessions where it was recorded.

    Returns
    -------
    dict
        ``n_sessions``, ``n_patients``, ``mean``, ``sd`` (n - 1), ``median``, ``p90``, ``min``,
        ``max``; NaN statistics when nothing was recorded. Sessions, not patients, are the unit.
    """
    rows = _scored_rows(table, keep)
    d = describe(table.long["safety_sessions"]["cadss"].to_numpy("float64")[rows])
    return {"n_sessions": d.pop("n"), "n_patients": _n_patients(table, keep), **d}


def cadss_distribution(data: ClinicData, settings: SafetySettings | None = None) -> dict:
    """:func:`cadss_distribution_from` for every patient of ``data``."""
    table = safety_table(data, settings)
    return cadss_distribution_from(table, table.keep(), None)


def cadss_by_session_band_from(
    table: PatientTable, keep: np.ndarray, definitions=None
) -> pd.DataFrame:
    """Mean CADSS per session-number band for the cohort, with a t-based 95% interval.

    Does dissociation wane over a course? Each patient contributes one value per band (the mean
    of their CADSS scores in that band), so the interval does not treat repeated sessions of
    one patient as independent. In the first band each patient has one session.

    Returns
    -------
    pandas.DataFrame
        ``band``, ``n_sessions``, ``n_patients``, ``mean`` (mean of patient means), ``sd`` (of
        patient means), ``ci_low``, ``ci_high`` (mean ± t(0.975, n_patients - 1) · sd /
        sqrt(n_patients); NaN with fewer than 3 patients), ``session_mean`` (mean over
        sessions). Bands with no CADSS are left out.
    """
    bands = table.long["safety_cadss_bands"]
    labels = table.meta["safety_session_bands"]
    chosen = keep[bands["code"].to_numpy()]
    band = bands["band"].to_numpy("int64")[chosen]
    means = bands["mean"].to_numpy("float64")[chosen]
    sessions = np.bincount(
        band, weights=bands["sessions"].to_numpy()[chosen], minlength=len(labels)
    )
    totals = np.bincount(band, weights=bands["total"].to_numpy()[chosen], minlength=len(labels))
    # the table is sorted by band: each band's patients are one slice
    starts = np.searchsorted(band, np.arange(len(labels) + 1))
    out = []
    for b in range(len(labels)):
        values = means[starts[b] : starts[b + 1]]
        if not len(values):
            continue
        out.append(
            (
                labels[b],
                int(sessions[b]),
                len(values),
                float(values.mean()),
                float(values.std(ddof=1)) if len(values) > 1 else np.nan,
                float(totals[b] / sessions[b]),
            )
        )
    frame = pd.DataFrame(
        {
            "band": pd.array([row[0] for row in out], dtype="string"),
            "n_sessions": np.array([row[1] for row in out], dtype="int64"),
            "n_patients": np.array([row[2] for row in out], dtype="int64"),
            "mean": np.array([row[3] for row in out], dtype="float64"),
            "sd": np.array([row[4] for row in out], dtype="float64"),
            "session_mean": np.array([row[5] for row in out], dtype="float64"),
        }
    )
    low, high = mean_ci(
        frame["mean"].to_numpy(float), frame["sd"].to_numpy(float), frame["n_patients"].to_numpy()
    )
    frame["ci_low"], frame["ci_high"] = low, high
    return frame[BAND_COLUMNS]


def cadss_by_session_band(data: ClinicData, settings: SafetySettings | None = None):
    """:func:`cadss_by_session_band_from` for every patient of ``data``."""
    table = safety_table(data, settings)
    return cadss_by_session_band_from(table, table.keep(), None)


@dataclass(frozen=True)
class DissociationTrend:
    """Whether CADSS changes with session number.

    Attributes
    ----------
    n_sessions, n_patients : int
        Sessions with a CADSS score, and their patients.
    spearman_rho, spearman_p : float or None
        Spearman correlation of CADSS with session number over sessions. Descriptive: sessions
        of one patient are not independent, so the p value is too small when patients have
        many sessions.
    paired_n : int
        Patients with a CADSS at session 1 and at least one at session ``late_session`` or
        later.
    first_mean, late_mean : float or None
        Their mean CADSS at session 1, and the mean of each patient's late-session mean.
    mean_change : float or None
        Mean of (late - first); negative when dissociation wanes.
    change_ci_low, change_ci_high : float or None
        t-based 95% interval of the mean change.
    paired_p : float or None
        Two-sided paired t-test p value (Student 1908), patients as the unit.
    late_session : int
        The session number from which sessions are "late".
    """

    n_sessions: int
    n_patients: int
    spearman_rho: float | None
    spearman_p: float | None
    paired_n: int
    first_mean: float | None
    late_mean: float | None
    mean_change: float | None
    change_ci_low: float | None
    change_ci_high: float | None
    paired_p: float | None
    late_session: int

    def to_dict(self) -> dict:
        """The fields as JSON-ready values (None where not computable)."""
        return {k: json_value(v) for k, v in asdict(self).items()}


def _average_ranks(codes: np.ndarray, n_values: int) -> np.ndarray:
    """Each row's rank among the rows (1-based, ties given their mean rank), from the codes of
    its value in the sorted distinct values: ``scipy.stats.rankdata`` without a sort."""
    counts = np.bincount(codes, minlength=n_values)
    before = np.cumsum(counts) - counts
    # the first rank of a tie plus half its extra rows: a half-integer, exact in float64
    return (before + 1 + (counts - 1) / 2)[codes]


def spearman_from_codes(x_codes, y_codes) -> tuple[float, float]:
    """Spearman's rho and its two-sided p value from the value codes of two variables.

    Parameters
    ----------
    x_codes, y_codes : numpy.ndarray of int
        For each observation, the position of its value among the sorted distinct values of
        a larger set (ties share a code; unused codes are allowed): ranks follow from counts.

    Returns
    -------
    rho, p : float
        As ``scipy.stats.spearmanr`` gives them: the Pearson correlation of the average ranks
        (``numpy.corrcoef``) and ``2 * stdtr(n - 2, -|t|)`` with
        ``t = rho * sqrt((n - 2) / ((1 + rho)(1 - rho)))``.

    References
    ----------
    .. [1] Spearman C (1904). The proof and measurement of association between two things.
       Am J Psychol 15:72-101. doi:10.2307/1412159
    """
    x_codes = np.asarray(x_codes, dtype="int64")
    y_codes = np.asarray(y_codes, dtype="int64")
    ranks = np.column_stack(
        (
            _average_ranks(x_codes, int(x_codes.max(initial=-1)) + 1),
            _average_ranks(y_codes, int(y_codes.max(initial=-1)) + 1),
        )
    )
    rs = np.corrcoef(ranks, rowvar=False)[1, 0]
    dof = len(x_codes) - 2
    with np.errstate(divide="ignore"):
        t = rs * np.sqrt((dof / ((rs + 1.0) * (1.0 - rs))).clip(0))
    return float(rs), float(2 * special.stdtr(dof, -np.abs(t)))


def cadss_trend_from(table: PatientTable, keep: np.ndarray, definitions=None) -> DissociationTrend:
    """Does dissociation wane? Spearman over the cohort's sessions and a paired first-vs-late
    comparison.

    Notes
    -----
    Spearman's rho is the Pearson correlation of the ranks (ties get mean ranks), ranked within
    the cohort. The paired comparison takes, per patient, the CADSS at session 1 and the mean of
    their CADSS at sessions >= ``late_session``; change = late - first; mean change ± t(0.975,
    n - 1) · SD / sqrt(n), with the paired t-test.

    References
    ----------
    .. [1] Spearman C (1904). The proof and measurement of association between two things.
       Am J Psychol 15:72-101. doi:10.2307/1412159
    .. [2] Student (1908). The probable error of a mean. Biometrika 6:1-25.
       doi:10.1093/biomet/6.1.1
    """
    settings = settings_of(table)
    sessions = table.long["safety_sessions"]
    rows = _scored_rows(table, keep)
    number = sessions["session_number"].to_numpy()[rows].astype("int64")
    value = sessions["cadss_value_code"].to_numpy()[rows].astype("int64")
    n_sessions = len(rows)
    rho = p = None
    if n_sessions >= 3 and _distinct(number) > 1 and _distinct(value) > 1:
        rho, p = spearman_from_codes(number - number.min(), value)

    patients = table.patients
    first = patients["safety_cadss_first"].to_numpy("float64")
    late = patients["safety_cadss_late"].to_numpy("float64")
    paired = keep & ~np.isnan(first) & ~np.isnan(late)
    first, late = first[paired], late[paired]
    change = late - first
    n = len(change)
    first_mean = float(first.mean()) if n else None
    late_mean = float(late.mean()) if n else None
    mean_change = float(change.mean()) if n else None
    ci_low = ci_high = paired_p = None
    if n >= 2:
        sd = change.std(ddof=1)
        low, high = mean_ci(change.mean(), sd, n)
        # no interval from fewer than 3 patients (NaN from mean_ci): None, as without one
        ci_low, ci_high = (None, None) if np.isnan(low) else (float(low), float(high))
        if sd > 0:
            # The paired t test as scipy.stats.ttest_rel computes it (t on n - 1 degrees of
            # freedom, two-sided), through scipy.special: scipy.stats takes a second to import.
            t = change.mean() / (sd / np.sqrt(n))
            paired_p = float(2 * special.stdtr(n - 1, -abs(t)))
    return DissociationTrend(
        n_sessions=int(n_sessions),
        n_patients=_n_patients(table, keep),
        spearman_rho=rho,
        spearman_p=p,
        paired_n=int(n),
        first_mean=first_mean,
        late_mean=late_mean,
        mean_change=mean_change,
        change_ci_low=ci_low,
        change_ci_high=ci_high,
        paired_p=paired_p,
        late_session=int(settings.late_session),
    )


def _distinct(codes: np.ndarray) -> int:
    return int(np.count_nonzero(np.bincount(codes - codes.min()))) if len(codes) else 0


def cadss_trend(data: ClinicData, settings: SafetySettings | None = None) -> DissociationTrend:
    """:func:`cadss_trend_from` for every patient of ``data``."""
    table = safety_table(data, settings)
    return cadss_trend_from(table, table.keep(), None)
