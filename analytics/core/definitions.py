"""The outcome definitions every number is computed from: configurable and printable.

A clinic can change any of these (response rule, remission cut, reliable-change parameters,
baseline look-back, timepoint windows) and :meth:`OutcomeDefinitions.describe` prints what was
used, with its source, next to every number.

Defaults come from the instrument registry (:mod:`analytics.core.instruments`) when it is available,
otherwise from the table below, which follows the project's clinical reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from analytics.core.stats import CI_METHODS

__all__ = [
    "DEFAULT_WINDOWS",
    "KM_BANDS",
    "OutcomeDefinitions",
    "ResponseRule",
    "Window",
    "instrument_defaults",
]

RESPONSE_KINDS = ("pct", "points")

# Kaplan-Meier pointwise bands, named as R survival's conf.type names them.
KM_BANDS = ("log-log", "log", "plain")

# Fallback defaults per instrument: (response %, remission "below" cut, total max).
# "Below" is strict: BDI-II remission <= 13 is "below 14", MADRS <= 12 is "below 13".
_FALLBACK_DEFAULTS: dict[str, tuple[float, float, float]] = {
    "PCL-5": (30.0, 33.0, 80.0),
    "PHQ-9": (50.0, 5.0, 27.0),
    "GAD-7": (50.0, 5.0, 21.0),
    "BDI-II": (50.0, 14.0, 63.0),
    "MADRS": (50.0, 13.0, 60.0),
}

# Where each default comes from, printed beside it.
_RESPONSE_SOURCES = {
    "PCL-5": "Feder et al. 2021, Am J Psychiatry 178:193; Osmind real-world cohort",
}
_REMISSION_SOURCES = {
    "PCL-5": "probable-PTSD cut-point 31-33, Bovin et al. 2016, Psychol Assess 28:1379",
    "PHQ-9": "conventional PHQ-9 remission < 5",
    "GAD-7": "conventional GAD-7 remission < 5",
    "BDI-II": "BDI-II minimal range 0-13, Beck et al. 1996",
    "MADRS": "MADRS <= 12, esketamine programme (SUSTAIN-3)",
}
_MEANINGFUL_SOURCES = {
    "PCL-5": "National Center for PTSD: 10-20 points is clinically meaningful",
}


def instrument_defaults(name: str) -> tuple[float, float, float]:
    """``(response_pct, remission_below, total_max)`` of an instrument.

    Read from :data:`analytics.core.instruments.INSTRUMENTS` when that registry exists, otherwise
    from this module's fallback table.

    Raises
    ------
    ValueError
        When the instrument is unknown.
    """
    try:
        from analytics.core.instruments import INSTRUMENTS  # registry, when present
    except ImportError:
        INSTRUMENTS = None
    if INSTRUMENTS is not None and name in INSTRUMENTS:
        spec = INSTRUMENTS[name]
        return float(spec.response_pct), float(spec.remission_below), float(spec.total_max)
    if name in _FALLBACK_DEFAULTS:
        return _FALLBACK_DEFAULTS[name]
    known = sorted(set(_FALLBACK_DEFAULTS) | set(INSTRUMENTS or {}))
    raise ValueError(f"unknown instrument {name!r}; expected one of {known}")


def _number(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class ResponseRule:
    """What counts as a response.

    Attributes
    ----------
    kind : {"pct", "points"}
        ``"pct"``: a reduction from baseline of at least ``threshold`` percent of the baseline;
        ``"points"``: a reduction of at least ``threshold`` points.
    threshold : float
        Strictly positive. A reduction exactly at the threshold counts.
    """

    kind: str = "pct"
    threshold: float = 30.0

    def __post_init__(self) -> None:
        if self.kind not in RESPONSE_KINDS:
            raise ValueError(f"response kind must be one of {RESPONSE_KINDS}, got {self.kind!r}")
        if not self.threshold > 0:
            raise ValueError(f"response threshold must be positive, got {self.threshold!r}")
        if self.kind == "pct" and self.threshold > 100:
            raise ValueError(f"a percentage threshold must be at most 100, got {self.threshold!r}")

    @classmethod
    def parse(cls, text: str) -> ResponseRule:
        """Read ``"pct:30"``, ``"points:10"`` or ``"pct:50"``.

        Raises
        ------
        ValueError
            When the text is not ``<pct|points>:<positive number>``.

        Examples
        --------
        >>> ResponseRule.parse("points:10")
        ResponseRule(kind='points', threshold=10.0)
        """
        match = re.fullmatch(r"\s*(pct|points)\s*:\s*([0-9]+(?:\.[0-9]+)?)\s*", str(text))
        if match is None:
            raise ValueError(f"response rule must look like 'pct:30' or 'points:10', got {text!r}")
        return cls(kind=match.group(1), threshold=float(match.group(2)))

    def __str__(self) -> str:
        return f"{self.kind}:{_number(self.threshold)}"

    def describe(self) -> str:
        """The rule in words, e.g. ``"≥30% reduction from baseline"``."""
        if self.kind == "pct":
            return f"≥{_number(self.threshold)}% reduction from baseline"
        return f"≥{_number(self.threshold)}-point reduction from baseline"


@dataclass(frozen=True)
class Window:
    """A timepoint: the score nearest ``target_day`` within ``[low, high]`` (inclusive).

    Windows may overlap (the defaults' week 3 and week 4 share days 21-24): one score can then
    serve both timepoints, each chosen independently.
    """

    label: str
    target_day: int
    low: int
    high: int

    def __post_init__(self) -> None:
        if not self.low <= self.target_day <= self.high:
            raise ValueError(
                f"window {self.label!r} needs low <= target_day <= high, "
                f"got {self.low}, {self.target_day}, {self.high}"
            )
        if self.low < 1:
            raise ValueError(
                f"window {self.label!r} must start on day 1 or later (day 0 is the pre-dose "
                f"baseline), got {self.low}"
            )

    def describe(self) -> str:
        return (
            f"{self.label}: score nearest day {self.target_day} within days {self.low}-{self.high}"
        )


def _week(n: int, half_width: int) -> Window:
    return Window(f"week {n}", 7 * n, 7 * n - half_width, 7 * n + half_width)


# The 24-hour timepoint is the day after the first session; weeks 1-3 take +-3 days and week 4
# on +-7 days, except week 4 (21-35) which overlaps week 3 (18-24) on days 21-24 by design.
DEFAULT_WINDOWS: tuple[Window, ...] = (
    Window("24h", 1, 1, 2),
    Window("week 1", 7, 4, 10),
    _week(2, 3),
    _week(3, 3),
    _week(4, 7),
    _week(8, 7),
    _week(12, 7),
    _week(16, 7),
    _week(24, 7),
    _week(36, 7),
    _week(52, 7),
)


def _default_induction() -> dict[str, int]:
    # Feder 2021: 6 IV infusions over 2 weeks; Spravato label: twice weekly for 4 weeks.
    return {"iv_ketamine": 6, "esketamine_nasal": 8}


@dataclass(frozen=True)
class OutcomeDefinitions:
    """Every choice behind an outcome number.

    Attributes
    ----------
    instrument : str
        Canonical instrument name ("PCL-5", "PHQ-9", "GAD-7", "BDI-II", "MADRS").
    response : ResponseRule or None
        None takes the instrument's default (PCL-5 ≥30%, the others ≥50%).
    remission_below : float or None
        A timepoint score strictly below this is a remission; None takes the instrument's default
        (PCL-5 33, PHQ-9 5, GAD-7 5, BDI-II 14 i.e. <= 13, MADRS 13 i.e. <= 12).
    remission_requires_baseline_at_or_above : float or None
        Only patients whose baseline is at least this can remit (they start above the cut);
        None means the same as ``remission_below``.
    meaningful_points : float
        A drop of at least this many points is clinically meaningful (NCPTSD: 10 for PCL-5).
    reliability_r : float
        Test-retest reliability for the reliable change index (PCL-5 .82, Blevins 2015).
    reliability_sd : float or None
        Baseline SD for the reliable change index; None uses the cohort's baseline SD.
    baseline_lookback_days : int
        The baseline is the latest valid score from day ``-lookback`` to day 0 inclusive.
    windows : tuple of Window
        The timepoints.
    ci_method : {"wilson", "clopper-pearson"}
        Interval for every rate.
    induction_sessions : dict
        Sessions that complete induction, per route code.
    not_on_track_points, not_on_track_sessions : int
        A patient is "not on track" when, after this many sessions, the score has not dropped by
        at least this many points (used by the not-on-track screen).
    km_band : {"log-log", "log", "plain"}
        Pointwise 95% band of every Kaplan-Meier curve, and so of every median's interval:
        "log-log" (our default, as Stata and SAS), "log" (R survival's default) or "plain".
    min_patients : int
        Estimates from fewer patients than this are drawn greyed and labelled "too few
        patients" (our default 10); the numbers are still shown with their n.
    """

    instrument: str = "PCL-5"
    response: ResponseRule | None = None
    remission_below: float | None = None
    remission_requires_baseline_at_or_above: float | None = None
    meaningful_points: float = 10.0
    reliability_r: float = 0.82
    reliability_sd: float | None = None
    baseline_lookback_days: int = 30
    windows: tuple[Window, ...] = DEFAULT_WINDOWS
    ci_method: str = "wilson"
    induction_sessions: dict[str, int] = field(default_factory=_default_induction)
    not_on_track_points: float = 10.0
    not_on_track_sessions: int = 4
    km_band: str = "log-log"
    min_patients: int = 10

    def __post_init__(self) -> None:
        response_pct, remission_below, _ = instrument_defaults(self.instrument)
        if self.response is None:
            object.__setattr__(self, "response", ResponseRule("pct", response_pct))
        elif isinstance(self.response, str):
            object.__setattr__(self, "response", ResponseRule.parse(self.response))
        if self.remission_below is None:
            object.__setattr__(self, "remission_below", remission_below)
        if self.remission_requires_baseline_at_or_above is None:
            object.__setattr__(
                self, "remission_requires_baseline_at_or_above", self.remission_below
            )
        object.__setattr__(self, "windows", tuple(self.windows))
        if not 0 < self.reliability_r < 1:
            raise ValueError(f"reliability_r must be between 0 and 1, got {self.reliability_r!r}")
        if self.reliability_sd is not None and not self.reliability_sd > 0:
            raise ValueError(f"reliability_sd must be positive, got {self.reliability_sd!r}")
        if self.baseline_lookback_days < 0:
            raise ValueError(
                f"baseline_lookback_days must be 0 or more, got {self.baseline_lookback_days!r}"
            )
        if not self.meaningful_points > 0:
            raise ValueError(f"meaningful_points must be positive, got {self.meaningful_points!r}")
        if self.ci_method not in CI_METHODS:
            raise ValueError(f"ci_method must be one of {CI_METHODS}, got {self.ci_method!r}")
        if self.km_band not in KM_BANDS:
            raise ValueError(f"km_band must be one of {KM_BANDS}, got {self.km_band!r}")
        if self.min_patients < 1:
            raise ValueError(f"min_patients must be 1 or more, got {self.min_patients!r}")
        labels = [w.label for w in self.windows]
        if len(set(labels)) != len(labels):
            raise ValueError(f"window labels must be unique, got {labels}")

    @classmethod
    def for_instrument(cls, name: str, **overrides: Any) -> OutcomeDefinitions:
        """The defaults for instrument ``name``, with any field overridden by keyword.

        Examples
        --------
        >>> OutcomeDefinitions.for_instrument("PHQ-9").response.describe()
        '≥50% reduction from baseline'
        """
        return cls(instrument=name, **overrides)

    def with_changes(self, **changes: Any) -> OutcomeDefinitions:
        """A copy with some fields changed (instrument-dependent defaults are kept as set)."""
        return replace(self, **changes)

    def describe(self) -> dict:
        """Every definition in words with its source: the JSON ``"definitions"`` and the caption
        shown beside each number."""
        instrument = self.instrument
        default_pct, default_cut, _ = instrument_defaults(instrument)
        rule = self.response
        if rule == ResponseRule("pct", default_pct):
            source = _RESPONSE_SOURCES.get(instrument, "conventional ≥50% response")
        elif rule == ResponseRule("points", 10.0) and instrument == "PCL-5":
            source = "NCPTSD clinically meaningful change; Yale KPE trial responder rule"
        else:
            source = "clinic setting"
        cut = self.remission_below
        floor = self.remission_requires_baseline_at_or_above
        remission_source = (
            _REMISSION_SOURCES.get(instrument, "instrument convention")
            if cut == default_cut
            else "clinic setting"
        )
        sd = (
            "cohort baseline SD"
            if self.reliability_sd is None
            else f"SD {_number(self.reliability_sd)}"
        )
        meaningful_source = (
            _MEANINGFUL_SOURCES.get(instrument, "clinic setting")
            if self.meaningful_points == 10
            else "clinic setting"
        )
        return {
            "instrument": instrument,
            "response": f"{rule.describe()} ({source})",
            "response_rule": str(rule),
            "remission": (
                f"score below {_number(cut)} at the timepoint, among patients whose baseline was "
                f"{_number(floor)} or more ({remission_source})"
            ),
            "meaningful": (
                f"≥{_number(self.meaningful_points)}-point reduction from baseline "
                f"({meaningful_source})"
            ),
            "reliable_change": (
                f"Jacobson-Truax reliable change index beyond ±1.96 with r = "
                f"{_number(self.reliability_r)} and {sd} (Jacobson & Truax 1991, "
                f"doi:10.1037/0022-006X.59.1.12)"
            ),
            "baseline": (
                f"latest valid score from day -{self.baseline_lookback_days} to day 0 "
                f"inclusive; day 0 is before the first dose (our default)"
            ),
            "timepoints": [w.describe() for w in self.windows],
            "timepoint_rule": (
                "the valid score nearest the target day inside the window, the earlier on a tie; "
                "overlapping windows may share a score"
            ),
            "effect_sizes": (
                "d_z = mean change / SD of the changes (Lakens 2013 eq. 8); d_av = mean change / "
                "the average of the baseline and timepoint SDs, (SD1 + SD2) / 2 (Lakens 2013 "
                "eq. 10, doi:10.3389/fpsyg.2013.00863)"
            ),
            "populations": (
                "observed: patients with a baseline and a score at the timepoint; intention to "
                "treat: every patient with a baseline who started treatment and was due at the "
                "timepoint, no score = not a responder"
            ),
            "intention_to_treat": (
                "at each timepoint, every patient with a baseline who started treatment and was "
                "due there: scored in the window, or followed to its last day (follow-up runs "
                "from the first session to the data cutoff). Patients not yet due are counted "
                "beside the rate (not_yet_due), never as non-responders; without follow-up "
                "times every such patient counts as due"
            ),
            "km_band": (
                f"Kaplan-Meier median with a 95% CI read from the {self.km_band} band of "
                "Greenwood's variance"
                + (" (our default, as Stata and SAS)" if self.km_band == "log-log" else "")
                + "; R survival's default is the log band. A curve at exactly 50% over a "
                "stretch gives the midpoint to its next drop, as R's print.survfit does"
            ),
            "small_samples": (
                f"estimates from fewer than {self.min_patients} patients are drawn greyed as "
                "too few patients; a mean from fewer than 3 has no interval"
            ),
            "ci": (
                "Wilson score 95% interval (Wilson 1927)"
                if self.ci_method == "wilson"
                else "Clopper-Pearson exact 95% interval (Clopper & Pearson 1934)"
            ),
            "induction_sessions": dict(self.induction_sessions),
            "not_on_track": (
                f"less than a {_number(self.not_on_track_points)}-point reduction after "
                f"{self.not_on_track_sessions} sessions (clinic rule)"
            ),
        }
