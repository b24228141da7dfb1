"""The week-4 observed response rate by a DuckDB SQL query: the reference for our computation.

The query reads the canonical assessments (the importer's output, days already relative to the
first session) from CSV and applies the same rules as :mod:`analytics.metrics.timepoints` and
:func:`analytics.metrics.outcomes.is_responder`:

- baseline: the latest valid score from day ``-lookback`` to day 0 inclusive;
- week 4: the valid score nearest day 28 within days 21-35, the earlier one on a tie;
- response: at least a 30% reduction (1e-9 tolerance), a baseline of 0 never responds.

DuckDB is a benchmark-only dependency (``requirements-bench.txt``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analytics.core.contract import ClinicData
from analytics.core.definitions import OutcomeDefinitions, Window
from analytics.metrics.outcomes import TOLERANCE

__all__ = [
    "CANONICAL_COLUMNS",
    "load_table",
    "week_response_duckdb",
    "week_window",
    "write_canonical_scores",
]

# The canonical assessment columns the query needs (items and clusters are not read).
CANONICAL_COLUMNS = ["patient_id", "day", "instrument", "total"]

_QUERY = """
WITH valid AS (
    SELECT patient_id, day, total AS score
    FROM {source}
    WHERE instrument = $instrument AND total IS NOT NULL AND NOT isnan(total)
),
baseline AS (
    SELECT patient_id, score AS baseline
    FROM valid
    WHERE day BETWEEN -$lookback AND 0
    QUALIFY row_number() OVER (PARTITION BY patient_id ORDER BY day DESC) = 1
),
chosen AS (
    SELECT patient_id, score
    FROM valid
    WHERE day BETWEEN $low AND $high
    QUALIFY row_number() OVER (PARTITION BY patient_id ORDER BY abs(day - $target), day) = 1
)
SELECT
    count(*) FILTER (WHERE {responds}) AS k,
    count(*) AS n
FROM chosen JOIN baseline USING (patient_id)
"""

# -100 * change / baseline, evaluated in the same order as analytics.metrics.outcomes.is_responder.
_PCT = "baseline > 0 AND -100.0 * (score - baseline) / baseline >= $threshold - $tolerance"
_POINTS = "-(score - baseline) >= $threshold - $tolerance"


def write_canonical_scores(data: ClinicData, path: str | Path) -> Path:
    """Write the canonical assessments' :data:`CANONICAL_COLUMNS` to a CSV file; its path.

    Totals are written with Python's shortest round-trip repr, so DuckDB reads back the very
    floats pandas holds.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data.assessments[CANONICAL_COLUMNS].to_csv(path, index=False, lineterminator="\n")
    return path


def week_window(definitions: OutcomeDefinitions, label: str = "week 4") -> Window:
    """The window called ``label`` in ``definitions``.

    Raises
    ------
    ValueError
        When no window has that label.
    """
    for window in definitions.windows:
        if window.label == label:
            return window
    labels = [w.label for w in definitions.windows]
    raise ValueError(f"timepoint {label!r} is not one of the windows {labels}")


def week_response_duckdb(
    source: str | Path,
    definitions: OutcomeDefinitions | None = None,
    *,
    label: str = "week 4",
    connection=None,
) -> tuple[int, int]:
    """``(k, n)``: observed responders and observed patients at ``label``, by DuckDB SQL.

    Parameters
    ----------
    source : str or pathlib.Path
        A CSV file written by :func:`write_canonical_scores`, or the name of a table already in
        ``connection`` (when ``connection`` is given and ``source`` is not an existing file).
    definitions : OutcomeDefinitions, optional
        Instrument, look-back, window and response rule; the defaults when omitted.
    connection : duckdb.DuckDBPyConnection, optional
        A connection to reuse; a new in-memory one otherwise.
    """
    import duckdb

    definitions = definitions or OutcomeDefinitions()
    window = week_window(definitions, label)
    rule = definitions.response
    con = connection if connection is not None else duckdb.connect()
    if Path(str(source)).is_file():
        types = "{'patient_id': 'VARCHAR', 'day': 'BIGINT', 'instrument': 'VARCHAR', " + (
            "'total': 'DOUBLE'}"
        )
        table = f"read_csv('{Path(source).as_posix()}', header = true, columns = {types})"
    else:
        table = f'"{source}"'
    sql = _QUERY.format(source=table, responds=_PCT if rule.kind == "pct" else _POINTS)
    params = {
        "instrument": definitions.instrument,
        "lookback": int(definitions.baseline_lookback_days),
        "low": int(window.low),
        "high": int(window.high),
        "target": int(window.target_day),
        "threshold": float(rule.threshold),
        "tolerance": TOLERANCE,
    }
    k, n = con.execute(sql, params).fetchone()
    return int(k), int(n)


def load_table(connection, path: str | Path, name: str = "assessments") -> str:
    """Load the canonical CSV into a DuckDB table ``name`` (for the in-memory timing); name."""
    frame = pd.read_csv(path, dtype={"patient_id": "string", "instrument": "string"})
    connection.register("_frame", frame)
    connection.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _frame')
    connection.unregister("_frame")
    return name
