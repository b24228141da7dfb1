"""An Excel workbook of named sheets, every text cell written as text, never as a formula.

XlsxWriter is told not to turn strings into formulas, links or numbers, and each text cell a
spreadsheet would run (``=HYPERLINK(...)``, ``+cmd``, ``@SUM``) is escaped with a leading
apostrophe as in every CSV the product writes (:func:`analytics.core.spreadsheet.escape_formulas`),
so a value that came from a clinic's export can never run when the workbook is opened.

References
----------
OWASP Foundation, "CSV Injection". https://owasp.org/www-community/attacks/CSV_Injection
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping

import pandas as pd

from analytics.core.spreadsheet import csv_bytes, escape_formulas

__all__ = ["SUFFIXES", "export_file_bytes", "workbook_bytes"]

# Widest column, in characters: a long definition wraps instead of pushing the sheet wide.
MAX_WIDTH = 80
# A long header wraps onto lines of at least this many characters rather than widen its column.
HEADER_WIDTH = 14
# Points per line of text at the default font (Calibri 11).
LINE_HEIGHT = 15
SUFFIXES = (".csv", ".xlsx")


def _width(column: pd.Series, header: str) -> int:
    """Characters wide: the longest cell, the header up to :data:`HEADER_WIDTH` (it wraps)."""
    longest = column.dropna().astype(str).str.len().max() if len(column) else 0
    longest = 0 if not isinstance(longest, (int, float)) or math.isnan(longest) else int(longest)
    return int(min(max(min(len(str(header)), HEADER_WIDTH), longest) + 2, MAX_WIDTH))


def _lines(text: str, width: int) -> int:
    return max(1, math.ceil(len(text) / max(width - 2, 1)))


def _cell(value):
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str):
        return value.item()
    return value


def workbook_bytes(sheets: Mapping[str, pd.DataFrame]) -> bytes:
    """The ``.xlsx`` file of ``sheets`` (name -> frame), in order.

    Each sheet has its header row in bold, wrapped and frozen, columns sized to their contents
    (at most 80 characters, longer text wrapped), numbers as numbers, blanks for missing values,
    and every text cell as text: formula-like cells and headers escaped with an apostrophe.

    Parameters
    ----------
    sheets : mapping of str to pandas.DataFrame
        The sheets by name (at most 31 characters, as Excel allows), in order.

    Returns
    -------
    bytes
        The workbook.

    Examples
    --------
    >>> data = workbook_bytes({"Patients": pd.DataFrame({"Patient": ["=1+1"], "Score": [40]})})
    >>> data[:2]
    b'PK'
    """
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "nan_inf_to_errors": False,
        },
    )
    bold = book.add_format({"bold": True, "bottom": 1, "text_wrap": True, "valign": "top"})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    for name, frame in sheets.items():
        sheet = book.add_worksheet(name[:31])
        safe = escape_formulas(frame)  # cells and headers alike
        widths = [_width(safe.iloc[:, j], header) for j, header in enumerate(safe.columns)]
        wrapped = [width >= MAX_WIDTH for width in widths]
        header_lines = 1
        for j, header in enumerate(safe.columns):
            sheet.write_string(0, j, str(header), bold)
            sheet.set_column(j, j, widths[j], wrap if wrapped[j] else None)
            header_lines = max(header_lines, _lines(str(header), widths[j]))
        sheet.set_row(0, LINE_HEIGHT * header_lines)
        for i, row in enumerate(safe.itertuples(index=False), start=1):
            lines = 1
            for j, value in enumerate(row):
                value = _cell(value)
                if value is None:
                    continue
                if isinstance(value, str):
                    sheet.write_string(i, j, value)
                    if wrapped[j]:
                        lines = max(lines, _lines(value, widths[j]))
                elif isinstance(value, bool):
                    sheet.write_number(i, j, int(value))
                else:
                    sheet.write_number(i, j, value)
            if lines > 1:  # Excel does not grow a row for wrapped text it did not write itself
                sheet.set_row(i, LINE_HEIGHT * lines)
        sheet.freeze_panes(1, 0)
    book.close()
    return buffer.getvalue()


def export_file_bytes(sheets: Mapping[str, pd.DataFrame], suffix: str) -> bytes:
    """An export as the file its name asks for: the first sheet as CSV, or every sheet as a
    workbook.

    Parameters
    ----------
    sheets : mapping of str to pandas.DataFrame
        The sheets by name, in order (for the per-patient export: Patients, Summary,
        Definitions; a CSV holds the Patients rows).
    suffix : {".csv", ".xlsx"}
        The file's suffix, in any case.

    Returns
    -------
    bytes
        :func:`analytics.core.spreadsheet.csv_bytes` of the first sheet (formula cells escaped),
        or :func:`workbook_bytes` of them all.

    Raises
    ------
    ValueError
        When ``suffix`` is neither ``.csv`` nor ``.xlsx``, or there is no sheet.

    Examples
    --------
    >>> export_file_bytes({"Patients": pd.DataFrame({"Patient": ["@x"]})}, ".CSV")
    b"Patient\\n'@x\\n"
    """
    chosen = suffix.lower()
    if chosen not in SUFFIXES:
        raise ValueError(f"an export is a .csv or .xlsx file, not {suffix!r}")
    if not sheets:
        raise ValueError("an export needs at least one sheet")
    if chosen == ".csv":
        return csv_bytes(next(iter(sheets.values())))
    return workbook_bytes(sheets)
