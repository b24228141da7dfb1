"""pandera schemas of the canonical tables, and their failures as :class:`Problem` rows.

The importer validates once, at its boundary, with ``lazy=True`` so that every bad cell is
reported at once. The frames validated here still carry ``_file`` and ``_row`` (where each row
came from), so that :func:`validate_tables` can name the file, the spreadsheet row and the column
as the user headed it; the importer drops them afterwards.

Every check's ``error`` text is the rule in plain words, because it is what the user reads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa

from analytics.core.contract import MAX_ITEMS, factorize_sorted
from analytics.core.instruments import INSTRUMENTS
from analytics.core.problems import ERROR, Problem

__all__ = [
    "BOUNDS",
    "SCHEMAS",
    "assessments_schema",
    "patients_schema",
    "sessions_schema",
    "side_effects_schema",
    "surely_valid",
    "validate_tables",
]

# Plausible ranges; a value outside is a typing error, not a clinical finding. BP bounds are wide
# enough for hypertensive urgency (> 180/120) yet catch a swapped or mistyped reading.
BOUNDS: dict[str, tuple[float, float]] = {
    "bp_systolic_pre": (40, 300),
    "bp_systolic_peak": (40, 300),
    "bp_diastolic_pre": (20, 200),
    "bp_diastolic_peak": (20, 200),
    # CADSS: 23 items x 0-4 (Bremner et al. 1998, J Trauma Stress 11:125).
    "dissociation_cadss": (0, 92),
    "dose_mg": (0, 1000),
    "dose_mg_per_kg": (0, 10),
}

_CARRIED = {
    "_file": pa.Column("string", nullable=True, required=False),
    "_row": pa.Column("Int64", nullable=True, required=False),
}


def _between(low: float, high: float) -> pa.Check:
    return pa.Check.in_range(low, high, error=f"must be between {low:g} and {high:g}")


def _number(column: str) -> pa.Column:
    low, high = BOUNDS[column]
    return pa.Column("float64", _between(low, high), nullable=True, required=False)


def _one_of(values: list[str]) -> pa.Check:
    return pa.Check.isin(values, error="must be one of " + ", ".join(values))


_PATIENT_ID = pa.Column(
    "string",
    pa.Check.str_length(min_value=1, error="must not be blank"),
    nullable=False,
)
_DAY = pa.Column("int64", nullable=False)


def sessions_schema() -> pa.DataFrameSchema:
    """Canonical ``sessions``: bounds on dose, BP and CADSS; (patient_id, day) unique."""
    return pa.DataFrameSchema(
        {
            "patient_id": _PATIENT_ID,
            "day": _DAY,
            "session_number": pa.Column(
                "int64", pa.Check.ge(1, error="must be 1 or more"), required=False
            ),
            "route": pa.Column("string", nullable=False),
            **{c: _number(c) for c in BOUNDS},
            "sedation": pa.Column("boolean", nullable=True, required=False),
            "dissociation": pa.Column("boolean", nullable=True, required=False),
            "clinician": pa.Column("string", nullable=True, required=False),
            "site": pa.Column("string", nullable=True, required=False),
            "phase": pa.Column(
                "string", _one_of(["induction", "maintenance"]), nullable=True, required=False
            ),
            **_CARRIED,
        },
        unique=["patient_id", "day"],
        report_duplicates="exclude_first",
        name="sessions",
    )


def _total_in_range(instrument: str, low: int, high: int) -> pa.Check:
    def check(df: pd.DataFrame) -> pd.Series:
        return (
            (df["instrument"] != instrument) | df["total"].isna() | df["total"].between(low, high)
        )

    return pa.Check(check, error=f"must be between {low} and {high} for {instrument}")


def assessments_schema() -> pa.DataFrameSchema:
    """Canonical ``assessments``: known instrument, total within its range."""
    items = {
        f"item_{i}": pa.Column("float64", nullable=True, required=False)
        for i in range(1, MAX_ITEMS + 1)
    }
    return pa.DataFrameSchema(
        {
            "patient_id": _PATIENT_ID,
            "day": _DAY,
            "instrument": pa.Column("string", _one_of(list(INSTRUMENTS)), nullable=False),
            "total": pa.Column("float64", nullable=True),
            "prorated": pa.Column("bool", required=False),
            **items,
            **_CARRIED,
        },
        checks=[
            _total_in_range(name, inst.total_min, inst.total_max)
            for name, inst in INSTRUMENTS.items()
        ],
        unique=["patient_id", "day", "instrument"],
        report_duplicates="exclude_first",
        name="assessments",
    )


def side_effects_schema() -> pa.DataFrameSchema:
    """Canonical ``side_effects``: severity vocabulary, a session number for every row."""
    return pa.DataFrameSchema(
        {
            "patient_id": _PATIENT_ID,
            "day": _DAY,
            "session_number": pa.Column("int64", required=False),
            "effect": pa.Column("string", nullable=False),
            "severity": pa.Column(
                "string", _one_of(["mild", "moderate", "severe"]), nullable=True, required=False
            ),
            "serious": pa.Column("boolean", nullable=True, required=False),
            **_CARRIED,
        },
        name="side_effects",
    )


def patients_schema() -> pa.DataFrameSchema:
    """Canonical ``patients``: one row per id; year and month plausible."""
    return pa.DataFrameSchema(
        {
            "patient_id": pa.Column("string", nullable=False, unique=True),
            "first_session_year": pa.Column(
                "Int64", _between(1950, 2100), nullable=True, required=False
            ),
            "first_session_month": pa.Column(
                "Int64", _between(1, 12), nullable=True, required=False
            ),
            "follow_up_days": pa.Column(
                "Int64", _between(0, 36_600), nullable=True, required=False
            ),
            **_CARRIED,
        },
        report_duplicates="exclude_first",
        name="patients",
    )


SCHEMAS = {
    "sessions": sessions_schema,
    "assessments": assessments_schema,
    "side_effects": side_effects_schema,
    "patients": patients_schema,
}

_UNIQUE_RULE = {
    "sessions": "another row has the same patient and day",
    "assessments": "another row has the same patient, day and instrument",
    "patients": "another row has the same patient_id",
}


def _shown(value) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value)
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    return text if len(text) <= 40 else text[:37] + "..."


def validate_tables(
    frames: dict[str, pd.DataFrame],
    *,
    headers: dict[tuple[str, str], str] | None = None,
    limit: int = 20,
) -> list[Problem]:
    """Validate canonical frames lazily and describe every failure as a :class:`Problem`.

    Parameters
    ----------
    frames : dict
        Table name -> canonical frame, optionally with ``_file`` and ``_row`` columns.
    headers : dict, optional
        ``(file, canonical column) -> header as written in that file``, so that problems name
        the user's column.
    limit : int
        At most this many problems per file, column and rule; the rest are counted in one more
        problem.

    Returns
    -------
    list of Problem
        ERRORs, in table order; empty when every frame is valid.
    """
    headers = headers or {}
    problems: list[Problem] = []
    for table, frame in frames.items():
        if surely_valid(table, frame):
            continue
        try:
            SCHEMAS[table]().validate(frame, lazy=True)
            continue
        except pa.errors.SchemaErrors as exc:
            cases = exc.failure_cases
        problems += _failure_problems(table, frame, cases, headers, limit)
    return problems


# The pre-check of each table: (column, dtype, nullable, required, test of the non-null values).
# It mirrors the schemas above and may only be stricter than them: a frame it passes has nothing
# for pandera to report, and any other frame is validated by pandera, which writes the problems.
def _in(low: float, high: float):
    return lambda v: (v >= low) & (v <= high)


def _among(values):
    return lambda v: v.isin(values)


_ID_TEST = ("patient_id", "string", False, True, lambda v: v.str.len() >= 1)
_CARRIED_TEST = [("_file", "string", True, False, None), ("_row", "Int64", True, False, None)]
_PRECHECK = {
    "sessions": [
        _ID_TEST,
        ("day", "int64", False, True, None),
        ("session_number", "int64", False, False, lambda v: v >= 1),
        ("route", "string", False, True, None),
        *[(c, "float64", True, False, _in(*BOUNDS[c])) for c in BOUNDS],
        ("sedation", "boolean", True, False, None),
        ("dissociation", "boolean", True, False, None),
        ("clinician", "string", True, False, None),
        ("site", "string", True, False, None),
        ("phase", "string", True, False, _among(["induction", "maintenance"])),
        *_CARRIED_TEST,
    ],
    "assessments": [
        _ID_TEST,
        ("day", "int64", False, True, None),
        ("instrument", "string", False, True, _among(list(INSTRUMENTS))),
        ("total", "float64", True, True, None),
        ("prorated", "bool", False, False, None),
        *[(f"item_{i}", "float64", True, False, None) for i in range(1, MAX_ITEMS + 1)],
        *_CARRIED_TEST,
    ],
    "side_effects": [
        _ID_TEST,
        ("day", "int64", False, True, None),
        ("session_number", "int64", False, False, None),
        ("effect", "string", False, True, None),
        ("severity", "string", True, False, _among(["mild", "moderate", "severe"])),
        ("serious", "boolean", True, False, None),
        *_CARRIED_TEST,
    ],
    "patients": [
        ("patient_id", "string", False, True, None),
        ("first_session_year", "Int64", True, False, _in(1950, 2100)),
        ("first_session_month", "Int64", True, False, _in(1, 12)),
        ("follow_up_days", "Int64", True, False, _in(0, 36_600)),
        *_CARRIED_TEST,
    ],
}
_UNIQUE_KEY = {
    "sessions": ["patient_id", "day"],
    "assessments": ["patient_id", "day", "instrument"],
    "patients": ["patient_id"],
}


def surely_valid(table: str, frame: pd.DataFrame) -> bool:
    """True when ``frame`` passes every rule of its schema, by vectorised tests.

    False does not mean invalid: the frame is then validated by pandera, whose failures are the
    problems reported. So the messages never depend on this function, only the time taken.
    """
    if table not in _PRECHECK or not isinstance(frame, pd.DataFrame):
        return False
    if not frame.columns.is_unique:
        return False
    for column, dtype, nullable, required, test in _PRECHECK[table]:
        if column not in frame.columns:
            if required:
                return False
            continue
        values = frame[column]
        if values.dtype != pd.api.types.pandas_dtype(dtype):
            return False
        present = values.notna().to_numpy(dtype=bool)
        if not nullable and not present.all():
            return False
        if test is not None:
            kept = values if present.all() else values[present]
            passed = test(kept)
            if not bool(np.asarray(pd.Series(passed).fillna(False), dtype=bool).all()):
                return False
    if table == "assessments" and not _totals_in_range(frame):
        return False
    key = _UNIQUE_KEY.get(table)
    return key is None or _unique_rows(frame, key)


def _totals_in_range(frame: pd.DataFrame) -> bool:
    instrument = frame["instrument"].to_numpy(dtype=object)
    total = frame["total"].to_numpy(dtype=np.float64)
    ok = np.isnan(total)
    for name, inst in INSTRUMENTS.items():
        ok |= (instrument == name) & (total >= inst.total_min) & (total <= inst.total_max)
    return bool(ok.all())


def _unique_rows(frame: pd.DataFrame, key: list[str]) -> bool:
    """True when no two rows share ``key`` (every key column present and without nulls)."""
    combined = np.zeros(len(frame), dtype=np.int64)
    span = 1
    for column in key:
        values = frame[column]
        if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu":
            low = int(values.min()) if len(values) else 0
            size = (int(values.max()) - low + 1) if len(values) else 1
            codes = values.to_numpy(dtype=np.int64) - low
        else:
            codes, size = factorize_sorted(values)
            if (codes < 0).any():
                return False
            size = max(size, 1)
        if span * size >= 2**62:
            return not frame.duplicated(subset=key).any()
        combined = combined * size + codes
        span *= size
    if bool(np.all(combined[1:] > combined[:-1])):  # in key order (sessions): no repeat
        return True
    return not pd.Series(combined).duplicated().any()


def _failure_problems(table, frame, cases, headers, limit) -> list[Problem]:
    cases = cases.copy()
    check = cases["check"].astype(str)
    unique = check == "multiple_fields_uniqueness"
    frame_level = cases["schema_context"].astype(str) == "DataFrameSchema"
    # A row-wise frame check names every column of the row: keep the column the rule is about.
    about_total = frame_level & ~unique & check.str.contains(" for ")
    # A uniqueness failure names each key column of the row: report the row once.
    keep = (~about_total | (cases["column"] == "total")) & (
        ~unique | (cases["column"] == "patient_id")
    )
    cases = cases[keep].reset_index(drop=True)
    if cases.empty:
        return []
    index = pd.Series(cases["index"])
    located = index.notna() & index.isin(frame.index)
    lookup = index.where(located)
    files = (
        frame["_file"].reindex(lookup).astype("string").to_numpy()
        if "_file" in frame
        else [pd.NA] * len(cases)
    )
    rows = frame["_row"].reindex(lookup).to_numpy() if "_row" in frame else [pd.NA] * len(cases)
    cases = cases.assign(
        _file=pd.Series(files, dtype="string").fillna(table).to_numpy(),
        _row=pd.array(rows, dtype="Int64"),
        _rule=[
            _UNIQUE_RULE.get(table, "duplicate row")
            if c == "multiple_fields_uniqueness"
            else _plain_rule(c)
            for c in cases["check"].astype(str)
        ],
    )
    is_unique = cases["check"].astype(str) == "multiple_fields_uniqueness"
    cases["_column"] = [
        None if u or pd.isna(c) else headers.get((f, str(c)), str(c))
        for u, c, f in zip(is_unique, cases["column"], cases["_file"])
    ]
    cases["_key"] = cases["_column"].fillna("")
    group = cases.groupby(["_file", "_key", "_rule"], sort=False)
    cases["_n"] = group.cumcount()
    totals = group["_rule"].transform("size")
    shown = cases[cases["_n"] < limit]
    out = [
        Problem(
            file,
            None if pd.isna(row) else int(row),
            column,
            # Patient ids are pseudonymous, but a bad id is better found by its row.
            None if u or col == "patient_id" else _shown(value),
            rule,
            ERROR,
        )
        for file, row, column, value, rule, u, col in zip(
            shown["_file"],
            shown["_row"],
            shown["_column"],
            shown["failure_case"],
            shown["_rule"],
            is_unique[shown.index],
            shown["column"],
        )
    ]
    over = cases.assign(_total=totals)[(cases["_n"] == 0) & (totals > limit)]
    for file, column, rule, total in zip(
        over["_file"], over["_column"], over["_rule"], over["_total"]
    ):
        out.append(Problem(file, None, column, None, f"{total - limit} more rows: {rule}", ERROR))
    return out


def _plain_rule(check: str) -> str:
    if check.startswith(("must ", "another ")):
        return check
    if check == "column_in_dataframe":
        return "required column is missing"
    if check == "not_nullable":
        return "must not be blank"
    if check.startswith("dtype("):
        return "has the wrong type"
    if check == "field_uniqueness":
        return "must be unique"
    return check
