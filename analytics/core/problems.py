"""What is wrong with an upload, said so a person can find it and fix it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

__all__ = ["ERROR", "PROBLEM_COLUMNS", "Problem", "WARNING", "problems_frame"]

ERROR = "error"
WARNING = "warning"

PROBLEM_COLUMNS = ["severity", "file", "row", "column", "value", "rule"]


@dataclass(frozen=True)
class Problem:
    """One problem found in an upload.

    Attributes
    ----------
    file : str
        The file name as uploaded (never a path on the server).
    row : int or None
        The row as the user sees it in a spreadsheet: the header is row 1, the first data row
        is row 2. None for a problem with the whole file or a whole column.
    column : str or None
        The column as it is headed in the file.
    value : str or None
        The offending cell, shortened; None where showing it would leak identifying data.
    rule : str
        What rule was broken, in words a clinic's staff understand.
    severity : {"error", "warning"}
        Errors stop the whole import; warnings import with the warning shown.
    """

    file: str
    row: int | None
    column: str | None
    value: str | None
    rule: str
    severity: str = ERROR

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column '{self.column}'"
        shown = f" (value: {self.value!r})" if self.value not in (None, "") else ""
        return f"{self.severity}: {where}: {self.rule}{shown}"


def problems_frame(problems: list[Problem]) -> pd.DataFrame:
    """The problems as a table, errors first, then by file and row."""
    frame = pd.DataFrame([asdict(p) for p in problems], columns=PROBLEM_COLUMNS)
    if frame.empty:
        return frame
    frame["row"] = frame["row"].astype("Int64")
    order = frame["severity"].map({ERROR: 0, WARNING: 1})
    return (
        frame.assign(_order=order)
        .sort_values(["_order", "file", "row"], na_position="first", kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )
