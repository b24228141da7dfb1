"""Groups of sessions for a cohort, and the counts every safety rate is made of.

A grouping (``by``) gives each session a group: a column of the session (``route``, ``site``,
``clinician``, ``phase``, the session-number band, the dose band), a column of its patient
(``first_route``, ``sex``, ``age_band`` ...), or, for ``severity`` and ``serious``, a property
of each report. Groups are integer codes into a list of labels; the cohort's counts are
bincounts of codes over the rows its mask keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.core.patient_table import PatientTable
from analytics.core.stats import proportion_ci, rate
from analytics.metrics.safety.facts import SERIOUS_GROUPS, session_groupings
from analytics.metrics.safety.settings import (
    ALL,
    EFFECT_LEVEL_GROUPS,
    NOT_RECORDED,
    PATIENT,
    SESSION,
    json_value,
    mg_per_kg_labels,
)

__all__ = [
    "Grouping",
    "distinct_per_group",
    "first_rates",
    "group_rows",
    "grouping_of",
    "level_rows",
    "rate_frame",
    "with_ci",
]

# Above this many (group, patient) cells, distinct pairs are found by sorting, not a bitmap.
_BITMAP_CELLS = 1 << 25


@dataclass(frozen=True)
class Grouping:
    """How ``by`` groups the sessions of a per-patient table.

    Attributes
    ----------
    kind : {"none", "session", "patient", "effect"}
        One group; a property of the session; of its patient; of each report.
    labels : list of str
        The group of code ``i`` is ``labels[i]``.
    preferred : list of str or None
        Display order of the groups that have one (bands, severities); None: sorted.
    position : int or None
        For ``"session"``: the grouping's number in the ``safety_groups`` and
        ``safety_group_effects`` long tables.
    patient_codes : numpy.ndarray or None
        For ``"patient"``: each patient's group code.
    """

    kind: str
    labels: list[str]
    preferred: list[str] | None
    position: int | None = None
    patient_codes: np.ndarray | None = None

    def session_codes(self, table: PatientTable) -> np.ndarray:
        """The group code of every row of ``safety_sessions`` (not for ``"effect"``)."""
        sessions = table.long["safety_sessions"]
        if self.kind == "none":
            return np.zeros(len(sessions), dtype="int64")
        if self.kind == "patient":
            return self.patient_codes[sessions["code"].to_numpy()]
        if self.kind != "session":
            raise ValueError("a report's grouping gives sessions no group")
        return session_groupings(sessions, table.meta)[self.position][1]


def group_rows(table: PatientTable, name: str, position: int) -> pd.DataFrame:
    """The rows of the long table ``name`` (``safety_groups`` or ``safety_group_effects``) of
    the session grouping at ``position`` (the tables are sorted by grouping)."""
    frame = table.long[name]
    at = frame["grouping"].to_numpy()
    low, high = np.searchsorted(at, [position, position + 1])
    return frame.iloc[low:high]


def _patient_groups(table: PatientTable, column: str) -> tuple[np.ndarray, list[str]]:
    """Each patient's ``column`` value as a code (missing: "not recorded")."""
    values = table.patients[column].astype("string").fillna(NOT_RECORDED)
    codes, uniques = pd.factorize(values.to_numpy(dtype=object))
    return np.asarray(codes, dtype="int64"), [str(u) for u in uniques]


def grouping_of(table: PatientTable, by: str | None) -> Grouping:
    """The grouping ``by`` of the table's sessions (see the package docstring).

    Raises
    ------
    ValueError
        When ``by`` is not a grouping of this table.
    """
    meta = table.meta
    if by is None:
        return Grouping("none", [ALL], None)
    if by == "severity":
        return Grouping(
            "effect", list(meta["safety_severities"]), ["mild", "moderate", "severe", NOT_RECORDED]
        )
    if by == "serious":
        return Grouping("effect", list(SERIOUS_GROUPS), list(SERIOUS_GROUPS))
    text = meta["safety_session_text"]
    patient_columns = meta["safety_patient_columns"]
    if by == "first_route" or (by not in text and by in patient_columns):
        codes, labels = _patient_groups(table, "route" if by == "first_route" else by)
        return Grouping("patient", labels, None, patient_codes=codes)
    names = [g["name"] for g in meta["safety_session_groupings"]]
    if by in names:
        position = names.index(by)
        labels = list(meta["safety_session_groupings"][position]["labels"])
        preferred = None
        if by == "session_band":
            preferred = labels
        elif by == "dose_band":
            edges = meta["safety_settings"]["mg_per_kg_edges"]
            preferred = [*mg_per_kg_labels(edges), NOT_RECORDED]
        return Grouping("session", labels, preferred, position=position)
    valid = sorted(
        {"session_band", "dose_band", "first_route", *EFFECT_LEVEL_GROUPS}
        | set(text)
        | set(patient_columns)
    )
    raise ValueError(f"cannot group by {by!r}; valid: {', '.join(valid)}")


def distinct_per_group(
    groups: np.ndarray, patients: np.ndarray, n_groups: int, n_patients: int
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct patients and rows per group code.

    Parameters
    ----------
    groups : numpy.ndarray of int
        Each row's group code, ``0 .. n_groups - 1``.
    patients : numpy.ndarray of int
        Each row's patient code, ``0 .. n_patients - 1``.
    n_groups, n_patients : int
        How many codes there are.

    Returns
    -------
    patients, rows : numpy.ndarray of int64
        Per group: ``groupby(group)[patient].nunique()`` and ``.size()`` (0 for a group
        without rows).

    Examples
    --------
    >>> distinct_per_group(np.array([0, 0, 1]), np.array([4, 4, 4]), 3, 5)
    (array([1, 1, 0]), array([2, 1, 0]))
    """
    groups = np.asarray(groups, dtype="int64")
    patients = np.asarray(patients, dtype="int64")
    width = max(int(n_patients), 1)
    if n_groups * width <= _BITMAP_CELLS:  # a bitmap of the (group, patient) pairs seen
        seen = np.zeros(n_groups * width, dtype=bool)
        seen[groups * width + patients] = True
        distinct = seen.reshape(n_groups, width).sum(axis=1)
    else:
        pairs = np.unique(groups * width + patients)
        distinct = np.bincount(pairs // width, minlength=n_groups)
    rows = np.bincount(groups, minlength=n_groups)
    return distinct.astype("int64"), rows.astype("int64")


def with_ci(frame: pd.DataFrame, method: str) -> pd.DataFrame:
    """Add ``rate``, ``ci_low``, ``ci_high`` to a frame with integer ``k`` and ``n``."""
    k = frame["k"].to_numpy(dtype=float)
    n = frame["n"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["rate"] = np.where(n > 0, k / np.where(n > 0, n, 1), np.nan)
    if len(frame):
        low, high = proportion_ci(k, n, method=method)
        frame["ci_low"], frame["ci_high"] = np.atleast_1d(low), np.atleast_1d(high)
    else:
        frame["ci_low"] = pd.Series(dtype="float64")
        frame["ci_high"] = pd.Series(dtype="float64")
    frame["k"] = frame["k"].astype("int64")
    frame["n"] = frame["n"].astype("int64")
    return frame


def rate_frame(item: str, rows: list[tuple], method: str, *, grouped: bool) -> pd.DataFrame:
    """A tidy rate frame from ``(item, group, level, k, n)`` rows: ``item``, ``group`` (only
    when ``grouped``), ``level``, ``k``, ``n``, ``rate``, ``ci_low``, ``ci_high``."""
    columns = [item, "group", "level", "k", "n"]
    frame = pd.DataFrame(
        {
            column: pd.Series([row[i] for row in rows], dtype="int64" if i > 2 else "str")
            for i, column in enumerate(columns)
        }
    )
    frame = with_ci(frame, method)
    out = [item, "group", "level", "k", "n", "rate", "ci_low", "ci_high"]
    if not grouped:
        out.remove("group")
    return frame[out].reset_index(drop=True)


def level_rows(item, groups, patients, sessions, n_patients, n_sessions) -> list[tuple]:
    """Rows ``(item, group, level, k, n)`` at both levels for each group, in order."""
    out = []
    for g, group in enumerate(groups):
        out.append((item, group, PATIENT, int(patients[g]), int(n_patients[g])))
        out.append((item, group, SESSION, int(sessions[g]), int(n_sessions[g])))
    return out


def first_rates(frame: pd.DataFrame, key: str, method: str):
    """A function ``(value, level) -> RATE dict`` of the first row of ``frame`` with ``key``
    equal to ``value`` at ``level`` (k = n = 0 when there is none); the rows are read once.

    The rate and interval are the frame's own (:func:`with_ci`), which are those of
    :func:`analytics.core.stats.rate` for each row.
    """
    first = {}
    columns = [frame[c] for c in (key, "level", "k", "n", "ci_low", "ci_high")]
    for value, level, k, n, low, high in zip(*columns):
        first.setdefault((value, level), (int(k), int(n), low, high))

    def rate_of(value: str, level: str) -> dict:
        k, n, low, high = first.get((value, level), (0, 0, None, None))
        if n == 0:
            return rate(0, 0, method=method).to_dict()
        return json_value({"k": k, "n": n, "rate": k / n, "ci_low": low, "ci_high": high})

    return rate_of
