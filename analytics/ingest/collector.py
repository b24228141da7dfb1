"""The problems an import finds, collected with a cap per file, column and rule.

Each rule is listed with at most ``limit`` example rows, so a bad column of a million rows is one
screenful; every affected row is still counted and kept (as row numbers, never values), so the
report's counts add up to every row that is wrong and the full list can be downloaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.core.problems import ERROR, WARNING, Problem

__all__ = ["UPLOAD", "ProblemCollector", "ProblemReport"]

# Problems naming the upload as a whole rather than one file.
UPLOAD = "upload"
# Example rows named in the report for each rule.
EXAMPLES = 5
COUNT_COLUMNS = ["severity", "file", "column", "rule", "rows", "examples"]
ROW_COLUMNS = ["severity", "file", "row", "column", "rule"]


@dataclass(frozen=True)
class ProblemReport:
    """Every problem of an import, counted per rule.

    Attributes
    ----------
    counts : pandas.DataFrame
        One row per (severity, file, column, rule), errors first: ``rows`` is how many rows break
        the rule (0 for a problem with a whole file or column), ``examples`` the first few row
        numbers as text ("2, 5, 9").
    rows : pandas.DataFrame
        One line per affected row (severity, file, row, column, rule), for download; no values.
    """

    counts: pd.DataFrame
    rows: pd.DataFrame

    @property
    def error_rows(self) -> int:
        """Rows with at least one error, counted once per file and row."""
        errors = self.rows[self.rows["severity"] == ERROR]
        return int(errors[["file", "row"]].drop_duplicates().shape[0])

    @property
    def error_rules(self) -> int:
        """Rules broken (each file, column and rule once), whole-file problems included."""
        return int((self.counts["severity"] == ERROR).sum())

    @classmethod
    def empty(cls) -> ProblemReport:
        return cls(pd.DataFrame(columns=COUNT_COLUMNS), pd.DataFrame(columns=ROW_COLUMNS))


class ProblemCollector:
    """Problems with a cap per (file, column, rule, severity), so that a bad column of a million
    rows is one screenful rather than a million lines; the rest are counted in one more line.

    Parameters
    ----------
    limit : int
        Problems listed one by one per (file, column, rule, severity).
    redact : callable, optional
        Values (a Series of text) -> bool array of those that must not be shown (they look
        identifying); their problems carry no value.
    """

    def __init__(self, limit: int, redact: Callable[[pd.Series], np.ndarray] | None = None):
        self.limit = limit
        self.redact = redact
        self.items: list[Problem] = []
        self._counts: dict[tuple, int] = {}
        # (file, column, rule, severity) -> arrays of every affected row number
        self._rows: dict[tuple, list[np.ndarray]] = {}
        self.n_errors = 0

    def add(self, problem: Problem, extra: int = 0, *, keep_row: bool = True) -> None:
        if problem.severity == ERROR:
            self.n_errors += 1
        if problem.row is None:
            self.items.append(problem)
            return
        key = (problem.file, problem.column, problem.rule, problem.severity)
        seen = self._counts.get(key, 0)
        self._counts[key] = seen + 1 + extra
        if keep_row:
            self._rows.setdefault(key, []).append(np.array([problem.row], dtype=np.int64))
        if seen < self.limit:
            self.items.append(problem)

    def extend(self, problems) -> None:
        for problem in problems:
            self.add(problem)

    def rows(self, file, rows, column, values, rule, severity=ERROR) -> None:
        rows = pd.Series(rows).reset_index(drop=True)
        if rows.empty:
            return
        numbers = rows.to_numpy(dtype=np.int64)
        key = (file, column, rule, severity)
        head = min(self.limit, len(rows))
        shown = None if values is None else pd.Series(values).reset_index(drop=True).iloc[:head]
        hidden = np.zeros(head, dtype=bool)
        if shown is not None and self.redact is not None:
            hidden = np.asarray(self.redact(shown.astype("string")), dtype=bool)
        for i in range(head):
            value = None if shown is None or hidden[i] else _short(shown.iloc[i])
            extra = len(rows) - head if i == head - 1 else 0
            problem = Problem(file, int(numbers[i]), column, value, rule, severity)
            self.add(problem, extra, keep_row=False)
        # every affected row at once, rather than one array per listed row
        self._rows.setdefault(key, []).append(numbers)

    def finish(self) -> list[Problem]:
        out = list(self.items)
        for (file, column, rule, severity), n in self._counts.items():
            if n > self.limit:
                more = f"{n - self.limit} more rows: {rule}"
                out.append(Problem(file, None, column, None, more, severity))
        return out

    def report(self) -> ProblemReport:
        """Every rule with the number of rows that break it, and every affected row."""
        counts, lines = [], []
        for problem in self.items:
            if problem.row is None:
                counts.append((problem.severity, problem.file, problem.column, problem.rule, 0, ""))
        for (file, column, rule, severity), parts in self._rows.items():
            numbers = np.unique(np.concatenate(parts))
            examples = ", ".join(str(int(r)) for r in numbers[:EXAMPLES])
            counts.append((severity, file, column, rule, len(numbers), examples))
            lines.append(
                pd.DataFrame(
                    {
                        "severity": severity,
                        "file": file,
                        "row": numbers,
                        "column": column,
                        "rule": rule,
                    }
                )
            )
        counts_frame = pd.DataFrame(counts, columns=COUNT_COLUMNS)
        order = counts_frame["severity"].map({ERROR: 0, WARNING: 1})
        counts_frame = (
            counts_frame.assign(_order=order)
            .sort_values(["_order", "file"], kind="stable")
            .drop(columns="_order")
            .reset_index(drop=True)
        )
        rows_frame = (
            pd.concat(lines, ignore_index=True) if lines else pd.DataFrame(columns=ROW_COLUMNS)
        )
        return ProblemReport(counts_frame, rows_frame)

    @property
    def has_errors(self) -> bool:
        return self.n_errors > 0


def _short(value) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."
