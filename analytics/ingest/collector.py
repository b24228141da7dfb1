"""The problems an import finds, collected with a cap per file, column and rule."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.core.problems import ERROR, Problem

__all__ = ["UPLOAD", "ProblemCollector"]

# Problems naming the upload as a whole rather than one file.
UPLOAD = "upload"


class ProblemCollector:
    """Problems with a cap per (file, column, rule, severity), so that a bad column of a million
    rows is one screenful rather than a million lines; the rest are counted in one more line."""

    def __init__(self, limit: int):
        self.limit = limit
        self.items: list[Problem] = []
        self._counts: dict[tuple, int] = {}
        self.n_errors = 0

    def add(self, problem: Problem, extra: int = 0) -> None:
        if problem.severity == ERROR:
            self.n_errors += 1
        if problem.row is None:
            self.items.append(problem)
            return
        key = (problem.file, problem.column, problem.rule, problem.severity)
        seen = self._counts.get(key, 0)
        self._counts[key] = seen + 1 + extra
        if seen < self.limit:
            self.items.append(problem)

    def extend(self, problems) -> None:
        for problem in problems:
            self.add(problem)

    def rows(self, file, rows, column, values, rule, severity=ERROR) -> None:
        rows = pd.Series(rows).reset_index(drop=True)
        if rows.empty:
            return
        head = min(self.limit, len(rows))
        shown = None if values is None else pd.Series(values).reset_index(drop=True)
        for i in range(head):
            value = None if shown is None else _short(shown.iloc[i])
            extra = len(rows) - head if i == head - 1 else 0
            self.add(Problem(file, int(rows.iloc[i]), column, value, rule, severity), extra)

    def finish(self) -> list[Problem]:
        out = list(self.items)
        for (file, column, rule, severity), n in self._counts.items():
            if n > self.limit:
                more = f"{n - self.limit} more rows: {rule}"
                out.append(Problem(file, None, column, None, more, severity))
        return out

    @property
    def has_errors(self) -> bool:
        return self.n_errors > 0


def _short(value) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."
