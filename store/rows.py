"""What the batch modules share: the stored tables, batch kinds and states, frames <-> rows.

The canonical frames of :class:`~analytics.core.contract.ClinicData` go into the data tables of
:mod:`store.models` with bookkeeping columns (``row_id``, ``batch_id``, ``state``,
``superseded_by_batch``), and come back out typed as the contract says. The bulk paths are
PostgreSQL's ``COPY`` and SQLite's ``executemany`` on the driver's own cursor.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from analytics.core.contract import (
    ASSESSMENT_DTYPES,
    PATIENT_BASE_COLUMNS,
    PATIENT_DTYPES,
    SESSION_DTYPES,
    SIDE_EFFECT_DTYPES,
    ClinicData,
)
from store.models import CURRENT, DATA_TABLES, IDENTITY

__all__ = [
    "ACTIVE",
    "BOOKKEEPING",
    "CHUNK_ROWS",
    "IMPORT",
    "ROLLED_BACK",
    "SAMPLE",
    "SYSTEM",
    "TABLES",
    "column_dtype",
    "compared_columns",
    "differs",
    "insert_frame",
    "read_rows",
    "storable_frame",
    "typed_column",
    "username_of",
    "utc_now",
    "value_columns",
]

TABLES = ("patients", "sessions", "assessments", "side_effects")
BOOKKEEPING = ("row_id", "batch_id", "state", "superseded_by_batch")
ACTIVE = "active"
ROLLED_BACK = "rolled_back"
IMPORT = "import"
SAMPLE = "sample"
SYSTEM = "system"
# Rows per INSERT/COPY round trip: large enough to amortise, small enough to bound memory.
CHUNK_ROWS = 50_000

_DTYPES = {
    "patients": PATIENT_DTYPES | {"attributes": "string"},
    "sessions": SESSION_DTYPES,
    "assessments": ASSESSMENT_DTYPES | {"prorated": "bool"},
    "side_effects": SIDE_EFFECT_DTYPES | {"occurrence": "int64"},
}

_BOOKKEEPING_DTYPES = {
    "row_id": "int64",
    "batch_id": "int64",
    "state": "string",
    "superseded_by_batch": "Int64",
}


def utc_now() -> datetime:
    """The current time in UTC: the default clock of every function that records a time."""
    return datetime.now(UTC)


def username_of(user) -> str:
    """The name recorded for ``user`` (a User, a command-line name, or None for the system)."""
    return getattr(user, "username", user) or SYSTEM


def value_columns(name: str) -> list[str]:
    """The stored columns of table ``name`` that carry data (identity and values)."""
    return [c.name for c in DATA_TABLES[name].columns if c.name not in BOOKKEEPING]


def compared_columns(name: str) -> list[str]:
    """The value columns of table ``name`` that an import compares (all but the identity)."""
    return [c for c in value_columns(name) if c not in IDENTITY[name]]


def column_dtype(name: str, column: str) -> str:
    """The pandas dtype of stored column ``column`` of table ``name`` (float64 when unlisted)."""
    return _BOOKKEEPING_DTYPES.get(column) or _DTYPES[name].get(column, "float64")


# --------------------------------------------------------------------------------------------
# Frames <-> rows


def storable_frame(name: str, data: ClinicData) -> pd.DataFrame:
    """The canonical frame ``name`` in the stored layout (identity and value columns)."""
    frame = getattr(data, name)
    if name == "patients":
        out = frame[PATIENT_BASE_COLUMNS].copy()
        extra = sorted(data.extra_patient_columns)
        if extra:
            # One JSON object per patient, keys sorted so equal rows give equal text.
            text = frame[extra].astype(object).to_json(orient="records", lines=True)
            out["attributes"] = pd.array(text.rstrip("\n").split("\n"), dtype="string")
        else:
            out["attributes"] = pd.array([pd.NA] * len(out), dtype="string")
        return out
    out = frame.copy()
    if name == "side_effects":
        out["occurrence"] = out.groupby(["patient_id", "day", "effect"]).cumcount().astype("int64")
    return out[value_columns(name)]


def _sqlite_columns(frame: pd.DataFrame) -> list[list]:
    """Each column as the Python scalars SQLite binds, with None for missing.

    Float columns keep NaN for missing: SQLite stores a bound NaN as NULL (the round trip is
    tested), which spares a pass over every value of the mostly empty item columns.
    """
    out = []
    for column in frame.columns:
        series = frame[column]
        if isinstance(series.dtype, np.dtype) and series.dtype.kind in "iubf":
            out.append(series.to_numpy().tolist())
        else:
            out.append(series.array.to_numpy(dtype=object, na_value=None).tolist())
    return out


def insert_frame(conn: Connection, table: sa.Table, frame: pd.DataFrame) -> None:
    """Append ``frame`` (columns named as ``table``'s, without ``row_id``) in bulk."""
    if frame.empty:
        return
    columns = [c.name for c in table.columns if c.name != "row_id"]
    frame = frame[columns]
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    for start in range(0, len(frame), CHUNK_ROWS):
        part = frame.iloc[start : start + CHUNK_ROWS]
        if conn.dialect.name == "postgresql":
            # COPY is PostgreSQL's bulk path; the raw connection is inside our transaction.
            buffer = io.StringIO()
            part.to_csv(buffer, index=False, header=False, na_rep="\\N", lineterminator="\n")
            cursor = conn.connection.driver_connection.cursor()
            statement = (
                f"COPY {quote(table.name)} ({names}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
            )
            with cursor.copy(statement) as copy:
                copy.write(buffer.getvalue())
            cursor.close()
        else:
            marks = ", ".join("?" for _ in columns)
            cursor = conn.connection.driver_connection.cursor()
            cursor.executemany(
                f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})",
                zip(*_sqlite_columns(part), strict=True),
            )
            cursor.close()


def read_rows(
    conn: Connection,
    name: str,
    *,
    states: tuple[str, ...] = (CURRENT,),
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """Stored rows of ``name`` in the given states, typed as the contract says.

    Reads through the driver, not SQLAlchemy's row objects: PostgreSQL streams CSV out of
    ``COPY``, which pandas parses in C; SQLite hands back plain tuples.
    """
    columns = columns or [*BOOKKEEPING, *value_columns(name)]
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    # The states are this module's constants, never user input.
    where = ", ".join(f"'{s}'" for s in states)
    select = f"SELECT {names} FROM {quote(name)} WHERE state IN ({where})"
    dtypes = {c: column_dtype(name, c) for c in columns}
    if conn.dialect.name == "postgresql":
        buffer = io.BytesIO()
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy(f"COPY ({select}) TO STDOUT WITH (FORMAT csv, NULL '\\N')") as copy:
            for block in copy:
                buffer.write(block)
        cursor.close()
        buffer.seek(0)
        booleans = [c for c, d in dtypes.items() if d in ("bool", "boolean")]
        frame = pd.read_csv(
            buffer,
            names=columns,
            header=None,
            dtype={c: ("string" if c in booleans else d) for c, d in dtypes.items()},
            na_values=["\\N"],
            keep_default_na=False,
        )
        for column in booleans:
            frame[column] = frame[column].map({"t": True, "f": False}).astype(dtypes[column])
        return frame
    cursor = conn.connection.driver_connection.cursor()
    rows = cursor.execute(select).fetchall()
    cursor.close()
    # Transposed once in C, then each column typed from its tuple: no per-row DataFrame work.
    values = list(zip(*rows)) if rows else [()] * len(columns)
    return pd.DataFrame(
        {c: typed_column(v, dtypes[c]) for c, v in zip(columns, values, strict=True)},
        columns=columns,
    )


def typed_column(values: tuple, dtype: str):
    """One column of SQLite values (None for NULL, 0/1 for booleans) as ``dtype``.

    Arrow converts the Python values in C (None becoming null, then NaN or a mask).
    """
    import pyarrow as pa

    if dtype == "string":
        return pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string()))
    if dtype in ("int64", "bool"):
        return np.array(values, dtype=np.int64).astype(dtype, copy=False)
    if dtype == "float64":
        return pa.array(values, type=pa.float64()).to_numpy(zero_copy_only=False)
    integers = pa.array(values, type=pa.int64())
    if dtype == "boolean":
        return pd.BooleanDtype().__from_arrow__(integers.cast(pa.bool_()))
    return pd.Int64Dtype().__from_arrow__(integers)


def differs(left: pd.DataFrame, right: pd.DataFrame, columns, *, absent_na: bool) -> np.ndarray:
    """Boolean matrix: where a value of ``left`` differs from ``right`` (NA equals NA).

    With ``absent_na`` a missing value on the left means "not provided", never a change.
    """
    out = np.zeros((len(left), len(columns)), dtype=bool)
    for j, column in enumerate(columns):
        a = left[column].reset_index(drop=True)
        b = right[column].reset_index(drop=True)
        a_na, b_na = a.isna().to_numpy(), b.isna().to_numpy()
        equal = (a == b).fillna(False).to_numpy(dtype=bool) if len(a) else np.zeros(0, bool)
        same = equal | (a_na & b_na)
        if absent_na:
            same |= a_na
        out[:, j] = ~same
    return out
