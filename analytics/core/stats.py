"""Small statistical building blocks shared by the outcome and safety analyses.

Every rate the product shows goes through :func:`rate`, so each carries its numerator, its
denominator and a 95% confidence interval.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# scipy.special, not scipy.stats: the same quantile functions (norm.ppf is ndtri, t.ppf is
# stdtrit) without the second and more that importing scipy.stats adds to every command.
from scipy import special

__all__ = ["MIN_N_FOR_INTERVAL", "Rate", "mean_ci", "proportion_ci", "rate"]

CI_METHODS = ("wilson", "clopper-pearson")
# The fewest values a mean's interval is given for. From 2 the t quantile is 12.7: the interval
# is wider than any scale (a week-8 mean of 2 patients read -18.4 to 121.4 on the PCL-5's 0-80)
# and reads as a fact while saying nothing.
MIN_N_FOR_INTERVAL = 3


def proportion_ci(k, n, *, method: str = "wilson", confidence: float = 0.95):
    """Confidence interval for a binomial proportion ``k / n``.

    Parameters
    ----------
    k, n : int or array_like of int
        Events and trials; broadcast together. ``n == 0`` gives NaN bounds.
    method : {"wilson", "clopper-pearson"}
        Wilson score interval (the default) or the exact Clopper-Pearson interval.
    confidence : float
        Coverage, strictly between 0 and 1.

    Returns
    -------
    low, high : float or ndarray
        The bounds, as proportions in [0, 1].

    Notes
    -----
    Wilson: with p = k/n and z the normal quantile,
    ``(p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)``.
    Clopper-Pearson: beta quantiles ``B(α/2; k, n-k+1)`` and ``B(1-α/2; k+1, n-k)``.

    References
    ----------
    .. [1] Wilson EB (1927). Probable inference, the law of succession, and statistical
       inference. J Am Stat Assoc 22:209-212. doi:10.1080/01621459.1927.10502953
    .. [2] Clopper CJ, Pearson ES (1934). The use of confidence or fiducial limits illustrated
       in the case of the binomial. Biometrika 26:404-413. doi:10.1093/biomet/26.4.404
    .. [3] Newcombe RG (1998). Two-sided confidence intervals for the single proportion.
       Stat Med 17:857-872.

    Examples
    --------
    >>> low, high = proportion_ci(10, 15)
    >>> round(float(low), 3), round(float(high), 3)
    (0.417, 0.848)
    """
    if method not in CI_METHODS:
        raise ValueError(f"method must be one of {CI_METHODS}, got {method!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    k_arr = np.asarray(k, dtype=float)
    n_arr = np.asarray(n, dtype=float)
    if np.any(k_arr < 0) or np.any(k_arr > n_arr):
        raise ValueError("k must satisfy 0 <= k <= n")
    alpha = 1 - confidence
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "wilson":
            z = special.ndtri(1 - alpha / 2)
            p = k_arr / n_arr
            denom = 1 + z**2 / n_arr
            centre = (p + z**2 / (2 * n_arr)) / denom
            half = z * np.sqrt(p * (1 - p) / n_arr + z**2 / (4 * n_arr**2)) / denom
            # At k = 0 (k = n) the bound is exactly 0 (1): centre and half are equal in exact
            # arithmetic, and float rounding would leave 2.8e-17 where 0 is meant.
            low = np.where(k_arr == 0, 0.0, centre - half)
            high = np.where(k_arr == n_arr, 1.0, centre + half)
        else:
            from scipy import stats  # Clopper-Pearson only: scipy.stats's own beta quantile

            low = np.where(k_arr > 0, stats.beta.ppf(alpha / 2, k_arr, n_arr - k_arr + 1), 0.0)
            high = np.where(
                k_arr < n_arr, stats.beta.ppf(1 - alpha / 2, k_arr + 1, n_arr - k_arr), 1.0
            )
        low = np.where(n_arr > 0, np.clip(low, 0.0, 1.0), np.nan)
        high = np.where(n_arr > 0, np.clip(high, 0.0, 1.0), np.nan)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


@dataclass(frozen=True)
class Rate:
    """A proportion with everything needed to read it honestly.

    Attributes
    ----------
    k : int
        Patients (or sessions) with the outcome.
    n : int
        The denominator.
    rate : float or None
        ``k / n``; None when ``n == 0``.
    ci_low, ci_high : float or None
        95% confidence bounds (Wilson unless stated); None when ``n == 0``.
    """

    k: int
    n: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def rate(k: int, n: int, *, method: str = "wilson", confidence: float = 0.95) -> Rate:
    """``k`` of ``n`` as a :class:`Rate` with its confidence interval.

    Examples
    --------
    >>> rate(3, 15).to_dict()["ci_high"] > 0.45
    True
    """
    k, n = int(k), int(n)
    if n == 0:
        if k != 0:
            raise ValueError("k must be 0 when n is 0")
        return Rate(k=0, n=0, rate=None, ci_low=None, ci_high=None)
    low, high = proportion_ci(k, n, method=method, confidence=confidence)
    return Rate(k=k, n=n, rate=k / n, ci_low=low, ci_high=high)


def mean_ci(mean, sd, n, *, confidence: float = 0.95):
    """t-based confidence interval of a mean: ``mean ± t(n-1; 1-α/2) · sd / sqrt(n)``.

    Parameters
    ----------
    mean, sd, n : float or array_like
        Sample means, sample standard deviations (ddof = 1) and sizes; broadcast together.
    confidence : float
        Coverage, strictly between 0 and 1.

    Returns
    -------
    low, high : float or ndarray
        NaN where ``n`` is below :data:`MIN_N_FOR_INTERVAL` (3).

    References
    ----------
    .. [1] Student (1908). The probable error of a mean. Biometrika 6:1-25.
       doi:10.1093/biomet/6.1.1

    Examples
    --------
    >>> low, high = mean_ci(-16.5, 10.2, 157)
    >>> round(float(low), 2), round(float(high), 2)
    (-18.11, -14.89)
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    mean = np.asarray(mean, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = (
            special.stdtrit(n - 1, 0.5 + confidence / 2) * np.asarray(sd, dtype=float) / np.sqrt(n)
        )
    half = np.where(n >= MIN_N_FOR_INTERVAL, half, np.nan)
    low, high = mean - half, mean + half
    if low.ndim == 0:
        return float(low), float(high)
    return low, high
