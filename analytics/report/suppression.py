"""Small-cell suppression for whatever leaves the clinic: the board report and the exports.

The rule is the CMS cell-size suppression policy: no count from 1 to 10 is published, nor any
value from which such a count could be worked out (a rate or interval built on it, or a cell
that a total and the other cells would give back). Zero may be shown. On screen, inside the
clinic, nothing is suppressed.

References
----------
.. [1] Centers for Medicare & Medicaid Services, "CMS Cell Size Suppression Policy" (2020):
   no cell (e.g. admissions, discharges, patients, services) containing a value of 1 to 10 can
   be reported directly, nor values from which such a cell can be derived.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping

import pandas as pd

__all__ = [
    "SMALL_CELL_MAX",
    "SUPPRESSED",
    "SUPPRESSION_RULE",
    "is_small",
    "suppress_partition",
    "suppress_rate",
    "suppress_rate_frame",
    "suppress_summary",
    "suppression_note",
]

SUPPRESSED = "<11"
SMALL_CELL_MAX = 10
SUPPRESSION_RULE = (
    "Counts from 1 to 10 are shown as <11, and so is any rate, interval or other count from "
    "which such a count could be worked out, as the Centers for Medicare & Medicaid Services "
    "require (CMS Cell Size Suppression Policy, 2020)."
)
RATE_VALUES = ("rate", "ci_low", "ci_high")
# Statistics of a block, withheld when the block's n is a small cell.
_STATISTICS = (
    "mean",
    "sd",
    "median",
    "p90",
    "min",
    "max",
    "mean_baseline",
    "sd_baseline",
    "mean_change",
    "sd_change",
    "change_ci_low",
    "change_ci_high",
    "d_z",
    "d_av",
    "mean_timepoint",
    "ci_low",
    "ci_high",
    "session_mean",
    "first_mean",
    "late_mean",
    "spearman_rho",
    "spearman_p",
    "paired_p",
    "median_days",
    "median_ci_low",
    "median_ci_high",
    "threshold_points",
)
# The dissociation trend's paired statistics rest on paired_n patients, not on its n.
_PAIRED_STATISTICS = (
    "first_mean",
    "late_mean",
    "mean_change",
    "change_ci_low",
    "change_ci_high",
    "paired_p",
)
# Counts of patients or sessions, keyed by their name in the summary.
_COUNTS = (
    "n",
    "patients",
    "sessions",
    "assessments",
    "instrument_assessments",
    "n_patients",
    "n_sessions",
    "events",
    "new_starts",
    "paired_n",
    "not_yet_due",
    "eligible",
)
_BLOCK_SIZES = ("n", "n_patients", "n_sessions")
_RELIABLE_CHANGE = ("improved", "unchanged", "deteriorated")
_PATIENT_ID_KEYS = ("patient_id", "patient_ids")
# "known for 247 of 250 patients" in the data-cutoff sentence: a count and its complement.
_K_OF_N = re.compile(r"\b(\d+) of (\d+)\b")


def is_small(count) -> bool:
    """True for a count from 1 to 10: a cell the rule does not publish.

    Parameters
    ----------
    count : int, float, None or anything else
        A count; numpy integers and whole floats count too.

    Returns
    -------
    bool
        False for 0, 11 and more, None, NaN, booleans, strings and fractions.

    Examples
    --------
    >>> [is_small(c) for c in (0, 1, 10, 11, None, float("nan"), "<11", 2.5)]
    [False, True, True, False, False, False, False, False]
    """
    if count is None or isinstance(count, (str, bool)):
        return False
    try:
        value = float(count)
    except (TypeError, ValueError):
        return False
    return value.is_integer() and 1 <= value <= SMALL_CELL_MAX


def _number(value) -> float | None:
    if value is None or isinstance(value, (str, bool)):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _hides_a_cell(k, n) -> bool:
    """k, n or n - k (those without the event, which k and n give back) is a small cell."""
    k_value, n_value = _number(k), _number(n)
    rest = None if k_value is None or n_value is None else n_value - k_value
    return is_small(k) or is_small(n) or is_small(rest)


def suppress_rate(rate: Mapping | None) -> dict | None:
    """A rate ``{"k", "n", "rate", "ci_low", "ci_high", ...}`` with its small cells hidden.

    Parameters
    ----------
    rate : mapping or None
        ``k`` patients (or sessions) with the event out of ``n``; other keys pass through.

    Returns
    -------
    dict or None
        A new dict. When k, n or n - k is from 1 to 10, k becomes "<11" (n too when it is
        small) and the rate and its interval None, with ``"suppressed": True``; otherwise the
        same values and ``"suppressed": False``. None stays None.

    References
    ----------
    .. [1] Centers for Medicare & Medicaid Services, "CMS Cell Size Suppression Policy" (2020).

    Examples
    --------
    >>> suppress_rate({"k": 7, "n": 250, "rate": 0.028, "ci_low": 0.01, "ci_high": 0.06})
    {'k': '<11', 'n': 250, 'rate': None, 'ci_low': None, 'ci_high': None, 'suppressed': True}
    >>> suppress_rate({"k": 245, "n": 250, "rate": 0.98})["k"]
    '<11'
    >>> suppress_rate({"k": 90, "n": 157, "rate": 0.57})["suppressed"]
    False
    """
    if rate is None:
        return None
    out = dict(rate)
    hidden = _hides_a_cell(out.get("k"), out.get("n"))
    if hidden:
        out["k"] = SUPPRESSED
        if is_small(out.get("n")):
            out["n"] = SUPPRESSED
        for key in RATE_VALUES:
            if key in out:
                out[key] = None
    out["suppressed"] = hidden
    return out


def _count_of(name: str, value) -> int:
    number = _number(value)
    if number is None or not number.is_integer() or number < 0:
        raise ValueError(f"{name} is not a count of patients or sessions: {value!r}")
    return int(number)


def suppress_partition(
    cells: Mapping[str, int], total: int | None = None
) -> tuple[dict[str, int | str], int | str | None]:
    """Cells that add up to ``total`` with the small ones hidden, and none recoverable.

    Patients per route or per year, or improved / unchanged / deteriorated: cells of one
    total. Hiding a small cell is not enough when the total and the other cells are shown,
    since the total minus the others gives it back.

    1. Primary suppression: every cell from 1 to 10 becomes "<11". When the total itself is
       from 1 to 10, every non-zero cell and the total are hidden.
    2. When ``total`` is more than the cells add up to, the difference is a cell nobody listed
       (patients with no route recorded): a reader gets it by subtraction, so it counts as
       hidden, and as small when it is from 1 to 10.
    3. Complementary suppression, when a hidden cell is small: while fewer than two cells are
       hidden or the hidden cells add up to 10 or less (a reader gets their sum from the
       total), the smallest non-zero cell still shown is hidden too, ties by name.
    4. When no cell is left to hide and that still holds, the total is hidden as well.

    Zeros are always shown and never serve as the complement. Without a total the cells are
    protected all the same, as the total is usually printed elsewhere.

    Parameters
    ----------
    cells : mapping of str to int
        The count in each cell.
    total : int, optional
        What the cells add up to, as published.

    Returns
    -------
    (dict, total)
        The cells, each its count or "<11" in the order given, and the total (or "<11"; None
        when not given).

    Raises
    ------
    ValueError
        When a cell or the total is not a count (negative, fractional, not a number), or the
        cells add up to more than the total.

    References
    ----------
    .. [1] Centers for Medicare & Medicaid Services, "CMS Cell Size Suppression Policy" (2020):
       no cell from 1 to 10 displayed, including values from which such a cell can be derived.

    Examples
    --------
    >>> suppress_partition({"iv": 7, "nasal": 120, "im": 30}, 157)
    ({'iv': '<11', 'nasal': 120, 'im': '<11'}, 157)
    >>> suppress_partition({"iv": 7, "nasal": 0}, 7)
    ({'iv': '<11', 'nasal': 0}, '<11')
    >>> suppress_partition({"improved": 108, "unchanged": 58, "deteriorated": 0}, 166)
    ({'improved': 108, 'unchanged': 58, 'deteriorated': 0}, 166)
    """
    values = {name: _count_of(f"cell {name!r}", count) for name, count in cells.items()}
    if total is None:
        unlisted = 0
    else:
        total = _count_of("the total", total)
        unlisted = total - sum(values.values())
        if unlisted < 0:
            raise ValueError(
                f"the cells add up to {sum(values.values())}, more than the total {total}"
            )
        if is_small(total):
            return {name: SUPPRESSED if v else 0 for name, v in values.items()}, SUPPRESSED
    hidden = {name for name, count in values.items() if is_small(count)}

    def exposed() -> bool:
        hidden_sum = sum(values[name] for name in hidden) + unlisted
        return len(hidden) + (unlisted > 0) < 2 or hidden_sum <= SMALL_CELL_MAX

    if hidden or is_small(unlisted):
        others = sorted(
            (count, name) for name, count in values.items() if name not in hidden and count > 0
        )
        while exposed() and others:
            hidden.add(others.pop(0)[1])
        if exposed() and total is not None:
            total = SUPPRESSED
    return {name: SUPPRESSED if name in hidden else v for name, v in values.items()}, total


def suppression_note(applied: bool) -> dict:
    """What a report says of suppression when it did not go through :func:`suppress_summary`.

    Parameters
    ----------
    applied : bool
        Whether the report's numbers were suppressed.

    Returns
    -------
    dict
        ``{"applied", "rule", "cells_suppressed": 0}``, the shape of a suppressed summary's
        ``"suppression"``.

    Examples
    --------
    >>> suppression_note(False)["applied"], suppression_note(False)["cells_suppressed"]
    (False, 0)
    """
    return {"applied": bool(applied), "rule": SUPPRESSION_RULE, "cells_suppressed": 0}


def _is_rate(value) -> bool:
    return isinstance(value, dict) and "k" in value and "n" in value


def _is_statistic(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _withhold(block: dict, keys) -> None:
    for key in keys:
        if _is_statistic(block.get(key)):
            block[key] = None


def _walk(value):
    """``value`` with every rate suppressed and every small count hidden, blocks of a small n
    without their statistics, and no patient id."""
    if isinstance(value, list):
        return [_walk(item) for item in value]
    if not isinstance(value, dict):
        return value
    if _is_rate(value):
        out = suppress_rate(value)
        for key, item in out.items():
            if key not in ("k", "n"):
                out[key] = _walk(item)
        if is_small(out.get("not_yet_due")):
            out["not_yet_due"] = SUPPRESSED
        return out
    out = {key: _walk(item) for key, item in value.items() if key not in _PATIENT_ID_KEYS}
    small_block = any(is_small(value.get(key)) for key in _BLOCK_SIZES)
    # A survival block (n patients, events among them) is a rate with events as k.
    if "events" in value and "n" in value and _hides_a_cell(value["events"], value["n"]):
        out["events"] = SUPPRESSED
        small_block = True
    for key in _COUNTS:
        if is_small(value.get(key)):
            out[key] = SUPPRESSED
    if small_block:
        _withhold(out, _STATISTICS)
    if is_small(value.get("paired_n")):
        _withhold(out, _PAIRED_STATISTICS)
    if all(_number(value.get(key)) is not None for key in _RELIABLE_CHANGE):
        n = value.get("n")
        shown, total = suppress_partition(
            {key: value[key] for key in _RELIABLE_CHANGE}, None if n is None else n
        )
        out.update(shown)
        if total == SUPPRESSED:
            out["n"] = SUPPRESSED
    return out


def _hide_everywhere(value, count: int):
    """``value`` with every count equal to ``count`` hidden, and the rates built on it."""
    if isinstance(value, list):
        return [_hide_everywhere(item, count) for item in value]
    if not isinstance(value, dict):
        return value
    out = {key: _hide_everywhere(item, count) for key, item in value.items()}
    hit = False
    for key in ("k", *_COUNTS):
        if _is_statistic(out.get(key)) and out[key] == count:
            out[key] = SUPPRESSED
            hit = True
    if hit and _is_rate(out):
        _withhold(out, RATE_VALUES)
        out["suppressed"] = True
    return out


def _partition_rows(rows: list[dict], key: str, total) -> bool:
    """Hide ``rows[i][key]`` as cells adding up to ``total``; True when the total must go."""
    at = [i for i, row in enumerate(rows) if _number(row.get(key)) is not None]
    if not at:
        return False
    cells = {str(i): rows[i][key] for i in at}
    shown, shown_total = suppress_partition(cells, None if _number(total) is None else total)
    for i in at:
        rows[i][key] = shown[str(i)]
    return shown_total == SUPPRESSED


def _suppressed_k_of_n(text: str) -> str:
    def replace(match: re.Match) -> str:
        k, n = int(match.group(1)), int(match.group(2))
        if not _hides_a_cell(k, n):
            return match.group(0)
        return f"{SUPPRESSED} of {SUPPRESSED if is_small(n) else n}"

    return _K_OF_N.sub(replace, text)


def _count_suppressed(value) -> int:
    if isinstance(value, dict):
        return sum(_count_suppressed(item) for item in value.values())
    if isinstance(value, list):
        return sum(_count_suppressed(item) for item in value)
    return int(value == SUPPRESSED)


def suppress_summary(summary: dict) -> dict:
    """A copy of a summary (:func:`analytics.report.summary.summary_of`) fit to leave the clinic.

    Parameters
    ----------
    summary : dict
        As :func:`~analytics.report.summary.summary_of` returns it; not changed.

    Returns
    -------
    dict
        A deep copy where:

        - every rate (a dict with ``k`` and ``n``) went through :func:`suppress_rate`;
        - every count of patients or sessions from 1 to 10 (``counts``, ``baseline.n``, each
          timepoint's ``n``, ``not_yet_due``, the groups' ``n_patients``, the survival blocks'
          ``n`` and ``events``, dissociation's ``n_patients`` and ``n_sessions``, ``paired_n``
          ...) is "<11", and a block of so few (or a survival block with few events or few
          censored) has its means, SDs, medians, intervals and effect sizes set to None;
        - reliable change (improved, unchanged, deteriorated of its n), the groups' sizes (of
          ``counts.patients``) and the new starts and sessions per period (of
          ``counts.patients`` and ``counts.sessions``) are suppressed as partitions
          (:func:`suppress_partition`); a group hidden as a complement has its size hidden
          wherever its own numbers would give it back;
        - the data-cutoff sentence's "k of n patients" follows the rate rule;
        - ``serious_events``, listed one by one with their patient, is ``{"count": ...}``,
          and no ``patient_id`` is left anywhere;
        - ``"suppression"`` is ``{"applied": True, "rule", "cells_suppressed"}``, the number
          of values shown as "<11".

        Keys it does not know pass through. A summary already suppressed comes back as a copy.

    References
    ----------
    .. [1] Centers for Medicare & Medicaid Services, "CMS Cell Size Suppression Policy" (2020).

    Examples
    --------
    >>> out = suppress_summary({"counts": {"patients": 8, "sessions": 40}})
    >>> out["counts"], out["suppression"]["applied"]
    ({'patients': '<11', 'sessions': 40}, True)
    """
    if (summary.get("suppression") or {}).get("applied") is True:
        return copy.deepcopy(summary)
    source = copy.deepcopy(summary)
    events = source.pop("serious_events", None)
    activity = source.pop("activity", None)
    groups = source.pop("groups", None)
    out = _walk(source)
    counts = summary.get("counts") or {}
    patients, sessions = counts.get("patients"), counts.get("sessions")
    hide_patients = hide_sessions = False
    if isinstance(activity, list):
        rows = [dict(row) for row in activity]
        hide_patients |= _partition_rows(rows, "new_starts", patients)
        hide_sessions = _partition_rows(rows, "sessions", sessions)
        out["activity"] = rows
    if isinstance(groups, dict):
        walked = {name: _walk(group) for name, group in groups.items()}
        sizes = {
            name: group["n_patients"]
            for name, group in groups.items()
            if _number(group.get("n_patients")) is not None
        }
        if sizes:
            shown, shown_total = suppress_partition(
                sizes, None if _number(patients) is None else patients
            )
            hide_patients |= shown_total == SUPPRESSED
            for name, value in shown.items():
                if value == SUPPRESSED and not is_small(sizes[name]):
                    walked[name] = _hide_everywhere(walked[name], sizes[name])
                walked[name]["n_patients"] = value
        out["groups"] = walked
    # a total the partitions could not protect otherwise, wherever it is printed
    for key, hide in (("patients", hide_patients), ("sessions", hide_sessions)):
        for block in ("counts", "exposure"):
            if hide and isinstance(out.get(block), dict) and key in out[block]:
                out[block][key] = SUPPRESSED
    definitions = out.get("definitions")
    if isinstance(definitions, dict) and isinstance(definitions.get("data_cutoff"), str):
        definitions["data_cutoff"] = _suppressed_k_of_n(definitions["data_cutoff"])
    if isinstance(events, list):
        out["serious_events"] = {"count": SUPPRESSED if is_small(len(events)) else len(events)}
    elif events is not None:
        out["serious_events"] = _walk(events)
    out["suppression"] = {
        "applied": True,
        "rule": SUPPRESSION_RULE,
        "cells_suppressed": _count_suppressed(out),
    }
    return out


def suppress_rate_frame(
    frame: pd.DataFrame,
    *,
    k: str = "k",
    n: str = "n",
    values: tuple[str, ...] = RATE_VALUES,
) -> pd.DataFrame:
    """A copy of a table of rates with the rows of a small k, n or n - k hidden.

    Parameters
    ----------
    frame : pandas.DataFrame
        One rate per row; not changed.
    k, n : str
        The columns of the count with the event and of its denominator.
    values : tuple of str
        The columns built on them (rate and interval); those missing are skipped.

    Returns
    -------
    pandas.DataFrame
        In the hidden rows ``k`` (and ``n`` when small) is "<11", those columns then of
        object dtype, and ``values`` are NaN.

    References
    ----------
    .. [1] Centers for Medicare & Medicaid Services, "CMS Cell Size Suppression Policy" (2020).

    Examples
    --------
    >>> frame = pd.DataFrame({"k": [7, 90], "n": [250, 157], "rate": [0.028, 0.573]})
    >>> out = suppress_rate_frame(frame)
    >>> out["k"].tolist(), out["rate"].isna().tolist()
    (['<11', 90], [True, False])
    """
    out = frame.copy()
    if out.empty:
        return out
    kk = pd.to_numeric(out[k], errors="coerce")
    nn = pd.to_numeric(out[n], errors="coerce")

    def small(series: pd.Series) -> pd.Series:
        return series.between(1, SMALL_CELL_MAX) & (series % 1 == 0)

    hide = small(kk) | small(nn) | small(nn - kk)
    if hide.any():
        out[k] = out[k].astype(object)
        out.loc[hide, k] = SUPPRESSED
        hide_n = hide & small(nn)
        if hide_n.any():
            out[n] = out[n].astype(object)
            out.loc[hide_n, n] = SUPPRESSED
        for column in values:
            if column in out:
                out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
                out.loc[hide, column] = float("nan")
    return out
