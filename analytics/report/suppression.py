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
    "Counts from 1 to 10, and any rate, interval or other count they could be worked out from, "
    "are shown as <11 (CMS cell size suppression policy, 2020)."
)
# Statistics of a group: withheld with its n when the n is a small cell.
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
    "sd",
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


def is_small(count) -> bool:
    """True for a count from 1 to 10: a cell the rule does not publish.

    Examples
    --------
    >>> [is_small(c) for c in (0, 1, 10, 11, None, float("nan"), "<11")]
    [False, True, True, False, False, False, False]
    """
    if count is None or isinstance(count, (str, bool)):
        return False
    try:
        value = float(count)
    except (TypeError, ValueError):
        return False
    return not math.isnan(value) and 1 <= value <= SMALL_CELL_MAX


def suppress_rate(rate: Mapping | None) -> dict | None:
    """A rate ``{"k", "n", "rate", "ci_low", "ci_high", ...}`` with its small cells hidden.

    When k, n or n - k (those without the event, which k and n give back) is from 1 to 10, k
    becomes "<11" (n too when it is small) and the rate and its interval None. The result says
    ``"suppressed"``; the input is not changed.

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
    k, n = out.get("k"), out.get("n")
    rest = n - k if isinstance(k, (int, float)) and isinstance(n, (int, float)) else None
    if is_small(k) or is_small(n) or is_small(rest):
        out["k"] = SUPPRESSED
        if is_small(n):
            out["n"] = SUPPRESSED
        for key in ("rate", "ci_low", "ci_high"):
            if key in out:
                out[key] = None
        out["suppressed"] = True
    else:
        out["suppressed"] = False
    return out


def suppress_partition(
    cells: Mapping[str, int], total: int | None = None
) -> tuple[dict[str, int | str], int | str | None]:
    """Cells that add up to ``total`` (patients per route, per year), with small cells hidden
    so that none can be worked out from the total and the others.

    Primary suppression hides every cell from 1 to 10. Complementary suppression then hides
    the smallest other non-zero cells (ties by name) until the hidden cells add up to 11 or
    more and there are at least two of them, so neither one cell nor their sum gives a small
    count back; when no cell is left to hide, the total is hidden too.

    Returns
    -------
    (dict, total)
        The cells, each a count or "<11", and the total (or "<11").

    Examples
    --------
    >>> suppress_partition({"iv": 7, "nasal": 120, "im": 30}, 157)
    ({'iv': '<11', 'nasal': 120, 'im': '<11'}, 157)
    >>> suppress_partition({"iv": 7, "nasal": 0}, 7)
    ({'iv': '<11', 'nasal': 0}, '<11')
    """
    values = {name: int(count) for name, count in cells.items()}
    hidden = {name for name, count in values.items() if is_small(count)}
    if total is not None and is_small(total):
        return {n: (SUPPRESSED if v else 0) for n, v in values.items()}, SUPPRESSED
    if hidden:
        others = sorted(
            (count, name) for name, count in values.items() if name not in hidden and count > 0
        )
        while (len(hidden) < 2 or sum(values[n] for n in hidden) <= SMALL_CELL_MAX) and others:
            hidden.add(others.pop(0)[1])
    shown = {n: (SUPPRESSED if n in hidden else v) for n, v in values.items()}
    hidden_sum = sum(values[n] for n in hidden)
    if hidden and (len(hidden) < 2 or hidden_sum <= SMALL_CELL_MAX) and total is not None:
        return shown, SUPPRESSED
    return shown, total


def suppression_note(applied: bool) -> dict:
    """What a report says of suppression: whether it was applied, the rule, how many values."""
    return {"applied": bool(applied), "rule": SUPPRESSION_RULE, "cells_suppressed": 0}


class _Counter:
    def __init__(self) -> None:
        self.cells = 0


def _is_rate(value) -> bool:
    return isinstance(value, dict) and "k" in value and "n" in value


def _walk(value, counter: _Counter):
    """Every rate of ``value`` suppressed; a block whose n is small loses its statistics."""
    if isinstance(value, list):
        return [_walk(v, counter) for v in value]
    if not isinstance(value, dict):
        return value
    if _is_rate(value):
        out = suppress_rate(value)
        counter.cells += int(out["suppressed"])
        if is_small(out.get("not_yet_due")):
            out["not_yet_due"] = SUPPRESSED
            counter.cells += 1
        return {key: _walk(v, counter) if key not in ("k", "n") else v for key, v in out.items()}
    out = {key: _walk(v, counter) for key, v in value.items()}
    small_n = next(
        (out[key] for key in ("n", "n_patients", "n_sessions") if is_small(out.get(key))), None
    )
    for key in _COUNTS:
        if is_small(out.get(key)):
            out[key] = SUPPRESSED
            counter.cells += 1
    if small_n is not None:
        for key in _STATISTICS:
            if isinstance(out.get(key), (int, float)) and not isinstance(out.get(key), bool):
                out[key] = None
    rc = out.get("reliable_change")
    if isinstance(rc, dict) and all(k in rc for k in ("improved", "unchanged", "deteriorated")):
        out["reliable_change"] = _reliable_change(rc, counter)
    return out


def _reliable_change(rc: dict, counter: _Counter) -> dict:
    parts = {k: rc[k] for k in ("improved", "unchanged", "deteriorated")}
    if any(v is None for v in parts.values()):
        return rc
    n = rc.get("n")
    shown, _ = suppress_partition(parts, None if isinstance(n, str) else n)
    counter.cells += sum(1 for k in parts if shown[k] == SUPPRESSED)
    return {**rc, **shown}


def _partition_in_place(rows: list, key: str, total, counter: _Counter) -> None:
    """Suppress ``rows[i][key]`` as cells adding up to ``total`` (e.g. new starts per year)."""
    cells = {str(i): row[key] for i, row in enumerate(rows) if isinstance(row.get(key), int)}
    if not cells:
        return
    shown, _ = suppress_partition(cells, total if isinstance(total, int) else None)
    for i, value in shown.items():
        if value == SUPPRESSED and rows[int(i)][key] != SUPPRESSED:
            rows[int(i)][key] = SUPPRESSED
            counter.cells += 1


def suppress_summary(summary: dict) -> dict:
    """A copy of a summary (:func:`analytics.report.summary.summary_of`) fit to leave the clinic.

    Every rate goes through :func:`suppress_rate`; every count of patients or sessions from 1
    to 10 becomes "<11" and a block of so few loses its means, SDs, medians and intervals; the
    reliable-change counts, the groups' sizes and the new starts per period are suppressed as
    partitions (:func:`suppress_partition`); the serious events, listed one by one with their
    patient, become a count. Keys it does not know pass through. ``"suppression"`` says it was
    applied and how many values were hidden.

    Examples
    --------
    >>> out = suppress_summary({"counts": {"patients": 8, "sessions": 40}})
    >>> out["counts"], out["suppression"]["applied"]
    ({'patients': '<11', 'sessions': 40}, True)
    """
    source = copy.deepcopy(summary)
    counter = _Counter()
    events = source.pop("serious_events", None)
    activity = source.pop("activity", None)
    groups = source.pop("groups", None)
    out = _walk(source, counter)
    patients = (summary.get("counts") or {}).get("patients")
    if isinstance(activity, list):
        rows = [dict(row) for row in activity]
        _partition_in_place(rows, "new_starts", patients, counter)
        for row in rows:
            if is_small(row.get("sessions")):
                row["sessions"] = SUPPRESSED
                counter.cells += 1
        out["activity"] = rows
    if isinstance(groups, dict):
        walked = {name: _walk(group, counter) for name, group in groups.items()}
        sizes = {name: g["n_patients"] for name, g in groups.items()}
        shown, _ = suppress_partition(sizes, patients if isinstance(patients, int) else None)
        for name, value in shown.items():
            if value == SUPPRESSED and walked[name]["n_patients"] != SUPPRESSED:
                counter.cells += 1
            walked[name]["n_patients"] = value
        out["groups"] = walked
    if events is not None:
        count = len(events)
        out["serious_events"] = {"count": SUPPRESSED if is_small(count) else count}
        counter.cells += int(is_small(count))
    out["suppression"] = {
        "applied": True,
        "rule": SUPPRESSION_RULE,
        "cells_suppressed": counter.cells,
    }
    return out


def suppress_rate_frame(
    frame: pd.DataFrame,
    *,
    k: str = "k",
    n: str = "n",
    values: tuple[str, ...] = ("rate", "ci_low", "ci_high"),
) -> pd.DataFrame:
    """A copy of a frame of rates with the rows of a small k, n or n - k hidden.

    Their ``k`` (and ``n`` when small) become "<11" and their ``values`` NaN.

    Examples
    --------
    >>> frame = pd.DataFrame({"k": [7, 90], "n": [250, 157], "rate": [0.028, 0.573]})
    >>> suppress_rate_frame(frame)["k"].tolist(), suppress_rate_frame(frame)["rate"].isna().tolist()
    (['<11', 90], [True, False])
    """
    out = frame.copy()
    if out.empty:
        return out
    kk = pd.to_numeric(out[k], errors="coerce")
    nn = pd.to_numeric(out[n], errors="coerce")

    def small(series: pd.Series) -> pd.Series:
        return series.between(1, SMALL_CELL_MAX)

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
                out[column] = out[column].astype(float)
                out.loc[hide, column] = float("nan")
    return out
