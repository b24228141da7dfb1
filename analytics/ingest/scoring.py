"""Score questionnaire forms: totals, proration, PCL-5 clusters and provisional diagnosis.

One call scores every form of one instrument at once, as numpy operations over the item matrix,
so a million forms cost a few array passes. Problems are returned, never raised: the importer
collects them for the data-quality screen.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.core.contract import MAX_ITEMS
from analytics.core.instruments import get_instrument
from analytics.core.problems import ERROR, WARNING, Problem

__all__ = ["MAX_PRORATED_MISSING", "score_forms"]

# Our default (clinical.md, "Missing items"): there is no official PCL-5 proration rule, so at
# most 2 missing items may be prorated, and only when the caller asks for it.
MAX_PRORATED_MISSING = 2


def _fmt(value: float) -> str:
    return f"{value:g}"


def score_forms(
    forms: pd.DataFrame,
    *,
    instrument: str,
    file: str,
    prorate: bool = False,
    stored_total_col: str | None = "total",
    source_columns: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, list[Problem]]:
    """Score every form of one instrument.

    Parameters
    ----------
    forms : pandas.DataFrame
        One row per form. ``item_1`` .. ``item_N`` as float64 (NaN when blank; absent columns
        count as blank), ``_row`` (the spreadsheet row, for messages), optionally a stored total
        in ``stored_total_col``; any other column is passed through unchanged.
    instrument : str
        Any accepted spelling (see :func:`analytics.core.instruments.canonical_instrument`).
    file : str
        The file name shown in problems.
    prorate : bool
        When True, a form with 1 or 2 missing items gets ``mean(answered) x N``.
    stored_total_col : str or None
        Column holding a total written in the upload (REDCap's calculated field, a total-only
        export). None when there is none.
    source_columns : dict, optional
        ``{"item_k" or stored_total_col: header in the upload}``, so messages name the column
        the user sees.

    Returns
    -------
    scored : pandas.DataFrame
        The input rows (index kept) minus entirely blank forms, with ``item_1`` .. ``item_N``
        present and these columns set:

        ``total``          float64, NaN when the form cannot be scored
        ``prorated``       bool
        ``cluster_b..e``   float64, PCL-5 cluster sums; NaN when a cluster item is missing and
                           for other instruments
        ``provisional_dx`` boolean, PCL-5 DSM-5 provisional diagnosis; NA unless every item
                           was answered, and for other instruments
    problems : list of Problem
        Errors (items or totals out of range, answers in columns beyond N) and warnings
        (prorated, incomplete, stored total ignored or overruled).

    Notes
    -----
    Rules, per form, with ``k`` the number of answered items:

    * ``k == N``: total = sum of items. A stored total that differs is reported and overruled.
    * ``k == 0``: a form with no stored total is not a row (missing, not 0). A stored total 0 is
      treated the same way (with a warning) when the upload carries item answers elsewhere:
      REDCap's calculated field sums the answered items, so an empty form shows 0. In a
      total-only upload (no item answered in any row) the stored total is the score, and must
      lie in the instrument's range.
    * ``0 < k < N``: with ``prorate`` and at most 2 missing, total = mean of answered x N, kept
      unrounded and flagged ``prorated``; otherwise NaN. The stored total is not trusted here
      (a skip-blank sum understates the score).

    Clusters and the diagnosis never use prorated data. The PCL-5 provisional diagnosis counts an
    item rated 2 ("Moderately") or more as a symptom and needs at least 1 B (items 1-5),
    1 C (6-7), 2 D (8-14) and 2 E (15-20) symptoms [1]_ [2]_.

    References
    ----------
    .. [1] Blevins CA, Weathers FW, Davis MT, Witte TK, Domino JL (2015). The Posttraumatic
       Stress Disorder Checklist for DSM-5 (PCL-5): development and initial psychometric
       evaluation. J Trauma Stress 28:489-498. doi:10.1002/jts.22059
    .. [2] National Center for PTSD. Using the PTSD Checklist for DSM-5 (PCL-5).
    """
    inst = get_instrument(instrument)
    names = source_columns or {}
    n = inst.n_items
    # Copy-on-write: a shallow copy shares the input's columns until one is replaced, and every
    # column below is replaced or added, never written in place.
    out = forms.copy(deep=False)
    for column in inst.items:
        if column not in out:
            out[column] = np.nan
    x = out[inst.items].to_numpy(dtype="float64", copy=True)
    answered = ~np.isnan(x)
    if stored_total_col is not None and stored_total_col in out:
        stored = out[stored_total_col].to_numpy(dtype="float64")
    else:
        stored = np.full(len(out), np.nan)
    rows = out["_row"].to_numpy() if "_row" in out else np.full(len(out), None, dtype=object)
    total_name = names.get(stored_total_col, stored_total_col) if stored_total_col else None
    problems: list[Problem] = []

    def report(mask: np.ndarray, column: str | None, rule, values=None, severity=WARNING):
        for i in np.flatnonzero(mask):
            problems.append(
                Problem(
                    file=file,
                    row=None if rows[i] is None else int(rows[i]),
                    column=column,
                    value=None if values is None else _fmt(values[i]),
                    rule=rule if isinstance(rule, str) else rule(i),
                    severity=severity,
                )
            )

    # Items: whole numbers within the instrument's range.
    bad = answered & ((x != np.rint(x)) | (x < inst.item_min) | (x > inst.item_max))
    item_rule = f"{inst.name} items are whole numbers from {inst.item_min} to {inst.item_max}"
    for j in np.flatnonzero(bad.any(axis=0)):
        item = inst.items[j]
        report(bad[:, j], names.get(item, item), item_rule, x[:, j], ERROR)
    # Canonical item columns beyond the instrument's count must be blank.
    extra_bad = np.zeros(len(out), dtype=bool)
    for k in range(n + 1, MAX_ITEMS + 1):
        column = f"item_{k}"
        if column in out:
            values = out[column].to_numpy(dtype="float64")
            filled = ~np.isnan(values)
            extra_bad |= filled
            report(
                filled,
                names.get(column, column),
                f"{inst.name} has {n} items; {column} must be blank",
                values,
                ERROR,
            )
    invalid = bad.any(axis=1) | extra_bad

    k = answered.sum(axis=1)
    has_stored = ~np.isnan(stored)
    item_level = bool(answered.any())
    blank = k == 0
    zero_artefact = blank & has_stored & (stored == 0) & item_level
    report(
        zero_artefact,
        total_name,
        "every item is blank; the stored total 0 is ignored and the form is treated as missing",
        stored,
    )
    keep = ~(blank & (~has_stored | zero_artefact))

    with np.errstate(invalid="ignore"):
        item_sum = np.where(answered, x, 0.0).sum(axis=1)
        complete = (k == n) & ~invalid
        total = np.where(complete, item_sum, np.nan)

        mismatch = complete & has_stored & (stored != item_sum)
        report(
            mismatch,
            total_name,
            lambda i: (
                f"stored total {_fmt(stored[i])} differs from the sum of the items "
                f"{_fmt(item_sum[i])}; the sum is used"
            ),
            stored,
        )

        missing = n - k
        partial = (k > 0) & (k < n) & ~invalid
        prorated = partial & prorate & (missing <= MAX_PRORATED_MISSING)
        total = np.where(prorated, item_sum / np.maximum(k, 1) * n, total)
        report(
            prorated,
            None,
            lambda i: f"total prorated from {k[i]} of {n} items (mean of the answered items x {n})",
        )
        report(
            partial & ~prorated,
            None,
            lambda i: f"incomplete form: {k[i]} of {n} items answered; not scored",
        )

        total_only = blank & has_stored & ~zero_artefact & ~extra_bad
        in_range = (stored >= inst.total_min) & (stored <= inst.total_max)
        report(
            total_only & ~in_range,
            total_name,
            f"{inst.name} totals are from {inst.total_min} to {inst.total_max}",
            stored,
            ERROR,
        )
        total = np.where(total_only & in_range, stored, total)

    out["total"] = total
    out["prorated"] = prorated
    _score_clusters(out, inst, x, answered & ~bad, ~invalid)
    return out.loc[keep], problems


def _score_clusters(out: pd.DataFrame, inst, x: np.ndarray, ok: np.ndarray, valid: np.ndarray):
    n = len(out)
    sums: dict[str, np.ndarray | None] = dict.fromkeys(("B", "C", "D", "E"))
    dx = pd.arrays.BooleanArray(np.zeros(n, dtype=bool), np.ones(n, dtype=bool))
    if inst.clusters:
        present = ok.all(axis=1) & valid
        meets = np.ones(n, dtype=bool)
        # Answered items, with every other item 0: sums and symptom counts read the same matrix.
        counted = np.where(ok, x, 0.0)
        for key, numbers in inst.clusters.items():
            cols = [i - 1 for i in numbers]
            cluster_ok = ok[:, cols].all(axis=1) & valid
            block = counted[:, cols]
            sums[key] = np.where(cluster_ok, block.sum(axis=1), np.nan)
            if inst.dx_item_min is not None and key in inst.dx_cluster_min:
                symptoms = (block >= inst.dx_item_min).sum(axis=1)
                meets &= symptoms >= inst.dx_cluster_min[key]
        if inst.dx_cluster_min:
            dx = pd.arrays.BooleanArray(meets, ~present)
    standard = ("B", "C", "D", "E")
    for key in standard:
        out[f"cluster_{key.lower()}"] = np.full(n, np.nan) if sums[key] is None else sums[key]
    out["provisional_dx"] = dx
    for key, values in sums.items():
        if key not in standard:
            out[f"cluster_{key.lower()}"] = values
