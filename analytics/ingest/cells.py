"""Cell checks: text stripped, numbers and dates parsed, each distinct value once.

A column of millions of cells holds a few hundred distinct dates or numbers, so the text is
parsed once per distinct value (hashed in Arrow) and the result spread back by codes.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analytics.ingest import vocabularies as vocab
from analytics.ingest.collector import ProblemCollector

__all__ = [
    "DATE_PATTERN",
    "DATE_RULE",
    "EPOCH",
    "number_values",
    "parse_dates",
    "parse_days",
    "per_distinct",
    "stripped_text",
    "to_number",
    "whole_column_numbers",
]

EPOCH = np.datetime64("1970-01-01", "D")
DATE_PATTERN = re.compile(
    r"^\s*(\d{4})([-/])(\d{1,2})\2(\d{1,2})"
    r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})?)?\s*$"
)
DATE_RULE = (
    "is not a date in the form YYYY-MM-DD (ISO 8601); dates such as 03/04/2025 are ambiguous "
    "(March or April), so export them as YYYY-MM-DD"
)


def per_distinct(parse, raw: pd.Series) -> tuple[pd.Series, ...]:
    """``parse(raw)``, computed once per distinct value of ``raw`` and spread back by codes.

    ``parse`` must treat each cell on its own (or, like :func:`_floats`, decide on the set of
    values, which the distinct values share with the column); a column of millions of cells
    holds a few hundred dates or numbers, so the text is parsed a few hundred times. The cells
    are hashed in Arrow (:func:`analytics.ingest.vocabularies.distinct_codes`).
    """
    text = raw.astype("string")
    codes, values = vocab.distinct_codes(text)
    if 2 * (len(values) - int(values.hasnans)) > len(text):
        return parse(raw)
    return tuple(_spread(result, codes, raw) for result in parse(values))


def _spread(result: pd.Series, codes: np.ndarray, like: pd.Series) -> pd.Series:
    """``result`` (one value per distinct value) taken at ``codes``, on the index of ``like``."""
    if isinstance(result.dtype, np.dtype):
        return pd.Series(result.to_numpy()[codes], index=like.index, name=like.name, copy=False)
    return pd.Series(result.array.take(codes), index=like.index, name=like.name)


def stripped_text(raw: pd.Series, *, blank_as_na: bool = False) -> pd.Series:
    """``raw.astype("string").str.strip()`` (blank cells NA with ``blank_as_na``), stripping
    each distinct value once."""
    text = raw.astype("string")
    codes, values = vocab.distinct_codes(text)
    if 2 * len(values) > len(text):
        out = text.str.strip()
        return out.mask(out == "") if blank_as_na else out
    values = values.str.strip()
    if blank_as_na:
        values = values.mask(values == "")
    return pd.Series(values.array.take(codes), index=raw.index, name=raw.name)


def parse_dates(raw: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Days since 1970-01-01 of ISO dates (time of day dropped), and the bad and blank masks."""
    text = raw.astype("string").str.strip()
    blank = text.isna() | (text == "")
    # Fast path for plain YYYY-MM-DD; the pattern handles the rest (times, slashes).
    stamp = pd.to_datetime(text.mask(blank), format="%Y-%m-%d", errors="coerce")
    rest = stamp.isna() & ~blank
    if rest.any():
        parts = text[rest].str.extract(DATE_PATTERN)
        other = pd.to_datetime(
            pd.DataFrame(
                {
                    "year": pd.to_numeric(parts[0], errors="coerce").astype("float64"),
                    "month": pd.to_numeric(parts[2], errors="coerce").astype("float64"),
                    "day": pd.to_numeric(parts[3], errors="coerce").astype("float64"),
                }
            ),
            errors="coerce",
        )
        stamp = stamp.astype("datetime64[ns]")
        stamp[rest] = other.astype("datetime64[ns]")
    bad = stamp.isna() & ~blank
    days = (stamp.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]") - EPOCH).astype("int64")
    t = pd.Series(days, index=raw.index, dtype="int64").where(stamp.notna())
    return t, bad.fillna(False).astype(bool), blank.fillna(True).astype(bool)


def parse_days(raw: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Whole numbers of days (NaN when not one, or beyond a million), and the bad and blank masks."""
    text = raw.astype("string").str.strip()
    blank = text.isna() | (text == "")
    number = _floats(text.mask(blank))
    whole = number.notna() & (number == np.round(number)) & (number.abs() < 1e6)
    bad = ~blank & ~whole
    return number.where(whole), bad.astype(bool), blank.fillna(True).astype(bool)


def _floats(text: pd.Series) -> pd.Series:
    """Text to float64, NaN where it is not a number; Arrow's parser when every cell parses."""
    try:
        parsed = pc.cast(pa.array(text.array), pa.float64())
        return pd.Series(parsed.to_numpy(zero_copy_only=False), index=text.index)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError, ValueError):
        return pd.to_numeric(text, errors="coerce").astype("float64")


def to_number(
    raw: pd.Series, rows: pd.Series, file: str, header: str, out: ProblemCollector
) -> pd.Series:
    """float64 of a number column, each cell that is not a number an ERROR row in ``out``.

    One Arrow cast when every filled cell parses (:func:`whole_column_numbers`), else each
    distinct value parsed once (:func:`number_values`).
    """
    whole = whole_column_numbers(raw)
    if whole is not None:
        return whole
    number, bad = per_distinct(number_values, raw)
    out.rows(file, rows[bad], header, raw[bad], "must be a number")
    return number


def whole_column_numbers(raw: pd.Series) -> pd.Series | None:
    """float64 of an Arrow text column whose every filled cell is a finite number, in one cast;
    None otherwise (a blank or padded cell, text, infinity), for :func:`number_values`.

    Arrow's cast refuses empty and padded text, so a column it parses holds only cells that
    :func:`number_values` would strip to themselves and parse with the same cast.
    """
    if not (len(raw) and isinstance(raw.dtype, pd.StringDtype) and raw.dtype.storage == "pyarrow"):
        return None
    try:
        parsed = pc.cast(raw.array.__arrow_array__(), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError, ValueError):
        return None
    values = np.asarray(parsed.to_numpy(zero_copy_only=False), dtype=np.float64)
    if not values.flags.writeable:
        values = values.copy()  # a view of Arrow's buffer: the column is owned, as before
    # Blank cells are NaN; any other non-finite value is "inf" or "nan" written in a cell,
    # reported as not a number.
    if len(values) - int(np.count_nonzero(np.isfinite(values))) != parsed.null_count:
        return None
    return pd.Series(values, index=raw.index, name=raw.name, copy=False)


def number_values(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """float64 of number cells (NaN when blank, not a number or not finite), and the bad mask."""
    text = raw.astype("string").str.strip()
    blank = text.isna() | (text == "")
    number = _floats(text.mask(blank)).astype("float64")
    number = number.where(np.isfinite(number))
    bad = (number.isna() & ~blank).astype(bool)
    return number, bad
