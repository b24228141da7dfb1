"""Blood pressure written in one cell, "142/85": split into systolic and diastolic.

Records systems and clinic spreadsheets often keep a reading as one text cell, systolic over
diastolic, sometimes with spaces or the unit ("142 / 85 mmHg"). The contract keeps the two
numbers in their own columns (``bp_systolic_pre``, ``bp_diastolic_pre``, ...); the combined
columns ``bp_pre`` and ``bp_peak`` (:data:`COMBINED_COLUMNS`) are split here, and so is a
systolic column whose cells hold both numbers (:func:`holds_combined_bp`).

Each distinct text is parsed once and the result spread back by integer codes, so a column of
millions of readings costs as many regular-expression matches as it has distinct readings.
The ranges (systolic 40-300, diastolic 20-200 mmHg) are checked later, with the other numbers.

References
----------
.. [1] Muntner P, Shimbo D, Carey RM, et al. (2019). Measurement of blood pressure in humans: a
   scientific statement from the American Heart Association. Hypertension 73:e35-e66.
   doi:10.1161/HYP.0000000000000087 (a reading is recorded as systolic/diastolic in mmHg).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from analytics.ingest.vocabularies import distinct_codes

__all__ = [
    "BP_RULE",
    "COMBINED_COLUMNS",
    "COMBINED_PATTERN",
    "holds_combined_bp",
    "split_blood_pressure",
]

# Combined canonical column -> its systolic and diastolic columns.
COMBINED_COLUMNS: dict[str, tuple[str, str]] = {
    "bp_pre": ("bp_systolic_pre", "bp_diastolic_pre"),
    "bp_peak": ("bp_systolic_peak", "bp_diastolic_peak"),
}

# "142/85", "142 / 85", "142/85 mmHg", "142/85mm Hg"; decimals allowed, as some monitors write.
COMBINED_PATTERN = re.compile(
    r"^\s*(\d{1,3}(?:\.\d+)?)\s*/\s*(\d{1,3}(?:\.\d+)?)\s*(?:mm\s*hg)?\s*$", re.IGNORECASE
)
BP_RULE = "is not a blood pressure written as systolic/diastolic, such as 120/80"


def split_blood_pressure(raw: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Systolic and diastolic numbers of readings written "120/80".

    Parameters
    ----------
    raw : pandas.Series
        The cells as read (text, or anything that turns into text).

    Returns
    -------
    systolic, diastolic : pandas.Series
        float64, on the index of ``raw``; NaN where the cell is blank or bad.
    bad : pandas.Series
        bool: True where a cell is neither blank nor systolic/diastolic (with optional spaces
        and "mmHg"), such as "120/", "abc" or a lone "120".

    Examples
    --------
    >>> s, d, bad = split_blood_pressure(pd.Series(["120/80", "135 / 85 mmHg", "", "120/"]))
    >>> s.tolist()[:2], d.tolist()[:2], bad.tolist()
    ([120.0, 135.0], [80.0, 85.0], [False, False, False, True])
    """
    if not isinstance(raw, pd.Series):
        raise TypeError(f"raw must be a pandas Series, got {type(raw).__name__}")
    codes, distinct = distinct_codes(raw.astype("string"))
    text = distinct.str.strip()
    blank = (text.isna() | (text == "")).to_numpy(dtype=bool)
    parts = text.str.extract(COMBINED_PATTERN)
    systolic = pd.to_numeric(parts[0], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    diastolic = pd.to_numeric(parts[1], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~blank & np.isnan(systolic)

    def spread(values: np.ndarray, dtype) -> pd.Series:
        return pd.Series(values[codes].astype(dtype), index=raw.index, name=raw.name, copy=False)

    return spread(systolic, np.float64), spread(diastolic, np.float64), spread(bad, bool)


def holds_combined_bp(raw: pd.Series) -> bool:
    """True when at least one non-blank cell of ``raw`` is a reading written "120/80".

    For a column mapped to a single number (``bp_systolic_pre`` headed "BP (pre)", say) whose
    cells hold both numbers: the importer then splits it with :func:`split_blood_pressure`
    instead of refusing every cell as not a number.

    Examples
    --------
    >>> holds_combined_bp(pd.Series(["142/85", None])), holds_combined_bp(pd.Series(["142"]))
    (True, False)
    """
    _, distinct = distinct_codes(raw.astype("string"))
    return bool(distinct.dropna().str.match(COMBINED_PATTERN).fillna(False).any())
