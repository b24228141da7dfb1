"""Cells a spreadsheet would run as formulas: found once here, refused on upload, escaped on output.

A text cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which some
spreadsheets skip before looking) is read by Excel, LibreOffice and Google Sheets as a formula
when a CSV file is opened, so a value typed into an upload, a user name or an audit detail could
run in the spreadsheet of whoever downloads a report (OWASP, "CSV Injection").
:func:`formula_cells` is the one definition of such a cell; the reader refuses them in uploads
and :func:`escape_formulas` writes them with a leading apostrophe in every file the product
hands a user (:func:`csv_bytes`).

Plain numbers (``-3``, ``+2.5``, ``1e5``) and signed runs of digits, spaces, brackets and dashes
(``+1 555 123 4567``, ``-``, ``--``) are not formulas: they name no function, cell or command, so
at worst a spreadsheet does arithmetic with them.

References
----------
OWASP Foundation, "CSV Injection". https://owasp.org/www-community/attacks/CSV_Injection
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api.types import is_object_dtype, is_string_dtype

__all__ = ["FORMULA_STARTS", "csv_bytes", "escape_formulas", "formula_cells"]

# OWASP's list of characters a formula may start with.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A plain number may start with a sign; "1,5" is a number where the comma is the decimal mark.
_PLAIN_NUMBER = r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?"
# A cell of dashes is a placeholder ("-", "--"), not a formula. A signed run of digits, spaces,
# brackets and dashes ("+1 555 123 4567") is at worst arithmetic: it names no function, cell or
# command, so it cannot run anything. No leading whitespace: "\t-1" is escaped.
_SAFE_SIGNED = rf"(?:{_PLAIN_NUMBER}|-+|[+-][\d \t().,+-]*)"
_ESCAPE = "'"


def formula_cells(raw: pd.Series) -> np.ndarray:
    """Which cells a spreadsheet would read as a formula.

    Parameters
    ----------
    raw : pandas.Series
        Cells of any dtype; only text cells (``str``) can be formulas, so numbers, missing
        values and other objects are never flagged.

    Returns
    -------
    numpy.ndarray of bool
        One flag per cell: True when the cell starts with one of :data:`FORMULA_STARTS` and is
        not a plain number or a signed run of digits, spaces, brackets and dashes.

    Notes
    -----
    The cells are not stripped: ``" =1"`` starts with a space and is not flagged, as a
    spreadsheet does not run it; callers that strip cells (the reader) pass the stripped cells.
    The number pattern runs only on the cells whose first character qualifies.

    References
    ----------
    OWASP Foundation, "CSV Injection". https://owasp.org/www-community/attacks/CSV_Injection

    Examples
    --------
    >>> formula_cells(pd.Series(["=1+1", "-3", "+1 555 123 4567", "@SUM(A1)", "x", None]))
    array([ True, False, False,  True, False, False])
    """
    if not isinstance(raw, pd.Series):
        raise TypeError(f"raw must be a pandas Series, got {type(raw).__name__}")
    if not (is_object_dtype(raw.dtype) or is_string_dtype(raw.dtype)):
        if not isinstance(raw.dtype, pd.CategoricalDtype):
            return np.zeros(len(raw), dtype=bool)
    text = raw.astype(object).to_numpy()
    if isinstance(raw.dtype, pd.StringDtype):
        is_text = raw.notna().to_numpy(dtype=bool)
    else:
        is_text = np.fromiter((isinstance(cell, str) for cell in text), bool, len(text))
    if not is_text.any():
        return np.zeros(len(raw), dtype=bool)
    cells = pd.Series(text[is_text], dtype="string")
    starts = cells.str.startswith(FORMULA_STARTS).fillna(False).to_numpy(dtype=bool)
    if starts.any():
        candidates = cells[starts]
        safe = candidates.str.fullmatch(_SAFE_SIGNED).fillna(False).to_numpy(dtype=bool)
        starts[starts] = ~safe
    out = np.zeros(len(raw), dtype=bool)
    out[is_text] = starts
    return out


def _escape_column(column: pd.Series) -> pd.Series:
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = pd.Series(column.cat.categories)
        bad = formula_cells(categories)
        if not bad.any():
            return column
        renamed = categories.astype(object).where(~bad, _ESCAPE + categories.astype(str))
        return column.cat.rename_categories(list(renamed))
    bad = formula_cells(column)
    if not bad.any():
        return column
    out = column.copy()
    out[bad] = _ESCAPE + column[bad].astype(str)
    return out


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose formula-like text cells and headers begin with an apostrophe.

    Parameters
    ----------
    frame : pandas.DataFrame
        Any table about to be written for a user. It is not changed.

    Returns
    -------
    pandas.DataFrame
        The same table where every cell :func:`formula_cells` flags (and every such column
        name) is prefixed with ``'``, which spreadsheets show as text and do not run. Numbers,
        dates and missing values are untouched; so are the index and the dtypes.

    References
    ----------
    OWASP Foundation, "CSV Injection". https://owasp.org/www-community/attacks/CSV_Injection

    Examples
    --------
    >>> escape_formulas(pd.DataFrame({"who": ["=HYPERLINK(1)", "ann"], "n": [-1, 2]}))
                  who  n
    0  '=HYPERLINK(1) -1
    1             ann  2
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    out = frame.copy()
    for position in range(out.shape[1]):
        out.isetitem(position, _escape_column(out.iloc[:, position]))
    names = pd.Series(list(out.columns), dtype=object)
    bad_names = formula_cells(names)
    if bad_names.any():
        out.columns = [
            _ESCAPE + name if bad else name for name, bad in zip(names, bad_names, strict=True)
        ]
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` as the UTF-8 bytes of a CSV file a user may open in a spreadsheet.

    The cells go through :func:`escape_formulas` first; the index is left out and lines end in
    ``\\n``.

    Examples
    --------
    >>> csv_bytes(pd.DataFrame({"user": ["@admin"], "rows": [3]}))
    b"user,rows\\n'@admin,3\\n"
    """
    return escape_formulas(frame).to_csv(index=False, lineterminator="\n").encode("utf-8")
