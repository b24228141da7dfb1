"""DuckDB on the upload CSV files, whole process against whole process: the floors of the issue.

``python -m bench.floors_duckdb load DIR DB_FILE`` loads every table's CSV files of ``DIR`` into
a new DuckDB database file (types sniffed by DuckDB, nothing validated): the floor for our
``python -m analytics import DIR``.

``python -m bench.floors_duckdb counts DIR PARAMETERS_JSON`` computes, straight from the CSV files, the counts a
summary starts from: patients, sessions, assessments, side-effect reports, the week-4 observed
response on the PCL-5 and nausea per patient (the two queries of ``docs/scaling.md``, on days
since each patient's first session). It prints them as JSON; the benchmark checks the two rates'
k and n against ``python -m analytics summary --json``. The floor for our summaries.

Neither checks a cell: they are what reading and counting cost with no contract, the lower bound
a validated import and a summary are compared with. Neither imports the ``analytics`` package
(pandas, SciPy): a floor pays for Python and DuckDB only. The definitions reach ``counts`` as
JSON (:func:`definition_parameters`, made by the benchmark's own process).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

__all__ = ["TABLES", "count_from_csv", "definition_parameters", "load_into_database", "table_files"]

# analytics.sample.TABLE_NAMES, written out so a floor never imports pandas (a test keeps them equal)
TABLES = ("patients", "sessions", "assessments", "side_effects")


def table_files(folder: str | Path) -> dict[str, list[str]]:
    """Each table's CSV files in ``folder`` (``sessions.csv`` or ``sessions_1.csv``, ...)."""
    folder = Path(folder)
    files = {}
    for name in TABLES:
        paths = sorted(folder.glob(f"{name}.csv")) + sorted(folder.glob(f"{name}_[0-9]*.csv"))
        files[name] = [p.as_posix() for p in paths]
    return files


def _read(paths: list[str]) -> str:
    listed = ", ".join(f"'{p}'" for p in paths)
    return f"read_csv([{listed}], header = true)"


def load_into_database(folder: str | Path, database: str | Path) -> dict[str, int]:
    """Load ``folder``'s tables into a new DuckDB file ``database``; rows per table."""
    import duckdb

    database = Path(database)
    database.unlink(missing_ok=True)
    rows = {}
    with duckdb.connect(str(database)) as con:
        for name, paths in table_files(folder).items():
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM {_read(paths)}')
            rows[name] = con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
    return rows


_COUNTS = """
WITH day0 AS (
    SELECT patient_id, min(CAST(session_date AS DATE)) AS first_day
    FROM sessions GROUP BY patient_id
),
valid AS (
    SELECT a.patient_id, date_diff('day', d.first_day, CAST(a.assessment_date AS DATE)) AS day,
           CAST(a.total AS DOUBLE) AS score
    FROM assessments a JOIN day0 d USING (patient_id)
    WHERE a.instrument = $instrument AND a.total IS NOT NULL
),
baseline AS (
    SELECT patient_id, score AS baseline FROM valid
    WHERE day BETWEEN -$lookback AND 0
    QUALIFY row_number() OVER (PARTITION BY patient_id ORDER BY day DESC) = 1
),
chosen AS (
    SELECT patient_id, score FROM valid
    WHERE day BETWEEN $low AND $high
    QUALIFY row_number() OVER (PARTITION BY patient_id ORDER BY abs(day - $target), day) = 1
),
week AS (
    SELECT
        count(*) FILTER (
            WHERE baseline > 0 AND -100.0 * (score - baseline) / baseline >= $threshold - $tol
        ) AS k,
        count(*) AS n
    FROM chosen JOIN baseline USING (patient_id)
),
nausea AS (
    SELECT count(DISTINCT e.patient_id) AS k
    FROM side_effects e
    JOIN sessions s ON s.patient_id = e.patient_id AND s.session_date = e.session_date
    WHERE lower(trim(e.effect)) = 'nausea'
)
SELECT
    (SELECT count(*) FROM patients) AS patients,
    (SELECT count(*) FROM sessions) AS sessions,
    (SELECT count(*) FROM assessments) AS assessments,
    (SELECT count(*) FROM side_effects) AS side_effects,
    week.k, week.n, nausea.k
FROM week, nausea
"""


def definition_parameters(definitions=None) -> dict:
    """The query's parameters from :class:`~analytics.core.definitions.OutcomeDefinitions` (the
    defaults when omitted): instrument, look-back, the week-4 window, the response threshold.

    Raises
    ------
    ValueError
        When the response rule is not a percentage (the only kind written here).
    """
    from analytics.core.definitions import OutcomeDefinitions
    from analytics.metrics.outcomes import TOLERANCE
    from bench.reference_duckdb import week_window

    definitions = definitions or OutcomeDefinitions()
    if definitions.response.kind != "pct":
        raise ValueError("the DuckDB floor writes only a percentage response rule")
    window = week_window(definitions)
    return {
        "instrument": definitions.instrument,
        "lookback": int(definitions.baseline_lookback_days),
        "low": int(window.low),
        "high": int(window.high),
        "target": int(window.target_day),
        "threshold": float(definitions.response.threshold),
        "tol": TOLERANCE,
    }


def count_from_csv(folder: str | Path, parameters: dict) -> dict:
    """The counts of the module docstring, by DuckDB straight from ``folder``'s CSV files, with
    the definitions' ``parameters`` (:func:`definition_parameters`)."""
    import duckdb

    con = duckdb.connect()
    for name, paths in table_files(folder).items():
        # views: every query reads the files again, as a summary from a folder does
        con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM {_read(paths)}')
    row = con.execute(_COUNTS, parameters).fetchone()
    patients, sessions, assessments, side_effects, k, n, nausea = (int(x) for x in row)
    return {
        "patients": patients,
        "sessions": sessions,
        "assessments": assessments,
        "side_effects": side_effects,
        "week_4_response": [k, n],
        "nausea_patients": [nausea, patients],
    }


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "load":
        print(json.dumps(load_into_database(argv[1], argv[2])))
        return 0
    if len(argv) == 3 and argv[0] == "counts":
        print(json.dumps(count_from_csv(argv[1], json.loads(argv[2]))))
        return 0
    print(
        "usage: python -m bench.floors_duckdb load DIR DB_FILE | counts DIR PARAMETERS_JSON",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
