"""An Excel workbook of named sheets, every text cell written as text, never as a formula.

XlsxWriter is told not to turn strings into formulas, links or numbers, and each text cell a
spreadsheet would run (``=HYPERLINK(...)``, ``+cmd``, ``@SUM``) is escaped with a leading
apostrophe as in every CSV the product writes (:func:`analytics.core.spreadsheet.escape_formulas`),
so a value that came from a clinic's export can never run when the workbook is opened.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping

import pandas as pd

from analytics.core.spreadsheet import escape_formulas

__all__ = ["workbook_bytes"]

# Widest column, in characters: a long definition wraps instead of pushing the sheet wide.
MAX_WIDTH = 80


def _width(column: pd.Series, header: str) -> int:
    longest = column.astype(str).str.len().max() if len(column) else 0
    return int(min(max(len(str(header)), longest if longest == longest else 0) + 2, MAX_WIDTH))


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

    Each sheet has its header row in bold and frozen, columns sized to their contents (at
    most 80 characters, long text wrapped), numbers as numbers and blanks for missing values.

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
        for j, header in enumerate(safe.columns):
            sheet.write_string(0, j, str(header), bold)
            width = _width(safe.iloc[:, j], header)
            sheet.set_column(j, j, width, wrap if width >= MAX_WIDTH else None)
        for i, row in enumerate(safe.itertuples(index=False), start=1):
            for j, value in enumerate(row):
                value = _cell(value)
                if value is None:
                    continue
                if isinstance(value, str):
                    sheet.write_string(i, j, value)
                elif isinstance(value, bool):
                    sheet.write_number(i, j, int(value))
                else:
                    sheet.write_number(i, j, value)
        sheet.freeze_panes(1, 0)
    book.close()
    return buffer.getvalue()
