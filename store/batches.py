"""Imports as batches: one transaction each, idempotent, with conflicts, history and rollback.

An upload goes through :func:`analytics.ingest.importer.import_files` (all or nothing: any error and
nothing is stored). Its canonical rows are then compared with the stored ones by identity
(:data:`store.models.IDENTITY`):

- a row whose identity is new is **added**;
- a row equal to the stored one is **unchanged** (re-importing the same export adds nothing);
- a row that changes a stored value is a **conflict**: stored as ``pending`` beside the current
  value until someone chooses to replace or keep (:func:`resolve_conflicts`). A replaced value is
  kept as history (``replaced``, ``superseded_by_batch``) and comes back if the replacing batch is
  rolled back.

Days count from each patient's first session, so a new export with a different first session
(an earlier session, or one that was corrected) would shift every day of that patient. Such a
patient is not re-based silently: when the export's day-0 session or first-session year differs
from the stored one, all of the patient's rows in the batch form one patient-level conflict,
whose "replace" swaps the patient's stored rows for the export's as a whole.

Everything a batch writes, and its audit entry, commits together; a process killed mid-import
leaves the database as it was.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

if TYPE_CHECKING:
    from analytics.ingest.importer import ImportOptions, ImportResult

from analytics.core.contract import (
    ASSESSMENT_DTYPES,
    PATIENT_BASE_COLUMNS,
    PATIENT_DTYPES,
    SESSION_DTYPES,
    SIDE_EFFECT_DTYPES,
    ClinicData,
    empty_clinic,
)
from analytics.core.problems import ERROR, WARNING, Problem
from store.audit import record_audit
from store.db import get_engine, write_transaction
from store.models import (
    CURRENT,
    DATA_TABLES,
    DECLINED,
    IDENTITY,
    PENDING,
    REPLACED,
    Batch,
    Conflict,
)
from store.snapshot import (
    prune_snapshots,
    read_snapshot,
    snapshot_folder,
    snapshot_key,
    write_snapshot,
)
from store.users import DIRECTOR, User

__all__ = [
    "BatchResult",
    "FileRecord",
    "ResolveResult",
    "RollbackResult",
    "batch_details",
    "clear_sample",
    "conflict_detail",
    "data_version",
    "ensure_sample",
    "import_upload",
    "list_batches",
    "list_conflicts",
    "load_clinic",
    "refresh_snapshot",
    "rollback",
    "resolve_conflicts",
    "sample_loaded",
]

TABLES = ("patients", "sessions", "assessments", "side_effects")
logger = logging.getLogger(__name__)
BOOKKEEPING = ("row_id", "batch_id", "state", "superseded_by_batch")
ACTIVE = "active"
ROLLED_BACK = "rolled_back"
IMPORT = "import"
SAMPLE = "sample"
SYSTEM = "system"
REPLACE = "replace"
KEEP = "keep"
# Rows per INSERT/COPY round trip: large enough to amortise, small enough to bound memory.
CHUNK_ROWS = 50_000
# SQLite page cache during an import, in KiB (its default is 2 MB).
BULK_CACHE_KIB = 256 * 1024

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


def _now() -> datetime:
    return datetime.now(UTC)


def _username(user) -> str:
    return getattr(user, "username", user) or SYSTEM


def _value_columns(name: str) -> list[str]:
    """The stored columns of table ``name`` that carry data (identity and values)."""
    return [c.name for c in DATA_TABLES[name].columns if c.name not in BOOKKEEPING]


def _compared_columns(name: str) -> list[str]:
    return [c for c in _value_columns(name) if c not in IDENTITY[name]]


def _dtype(name: str, column: str) -> str:
    return _BOOKKEEPING_DTYPES.get(column) or _DTYPES[name].get(column, "float64")


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class FileRecord:
    """One uploaded file: its name, SHA-256 and the table it was read as (None: not used)."""

    name: str
    sha256: str
    table: str | None


@dataclass(frozen=True)
class BatchResult:
    """What :func:`import_upload` did.

    Attributes
    ----------
    batch_id : int or None
        The new batch; None when the upload had errors and nothing was stored.
    problems : tuple of Problem
        The importer's errors and warnings.
    files : tuple of FileRecord
        Every uploaded file with its SHA-256.
    counts : dict
        Table -> {"added", "unchanged", "conflicting"} row counts.
    conflicts : int
        Conflicts waiting for a decision (row-level and patient-level).
    patient_conflicts : int
        Of those, patients whose first session differs from the stored one.
    warnings : tuple of str
        The importer's warnings and the store's own notes (same files as an earlier batch, the
        sample clinic removed).
    """

    batch_id: int | None
    problems: tuple[Problem, ...] = ()
    files: tuple[FileRecord, ...] = ()
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    conflicts: int = 0
    patient_conflicts: int = 0
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.batch_id is not None

    def _total(self, key: str) -> int:
        return sum(c[key] for c in self.counts.values())

    @property
    def rows_added(self) -> int:
        return self._total("added")

    @property
    def rows_unchanged(self) -> int:
        return self._total("unchanged")

    @property
    def rows_conflicting(self) -> int:
        return self._total("conflicting")

    def summary_lines(self) -> list[str]:
        """The batch in a few lines of text, for the terminal and the success message."""
        if not self.ok:
            errors = sum(p.severity == ERROR for p in self.problems)
            return [f"{errors} error(s); nothing was imported."]
        lines = [
            f"Batch {self.batch_id}: {self.rows_added} rows added, {self.rows_unchanged} "
            f"unchanged, {self.rows_conflicting} conflicting."
        ]
        for table, c in self.counts.items():
            lines.append(
                f"  {table}: {c['added']} added, {c['unchanged']} unchanged, "
                f"{c['conflicting']} conflicting"
            )
        if self.conflicts:
            lines.append(
                f"{self.conflicts} conflict(s) wait for a decision "
                f"({self.patient_conflicts} whole patients); the stored values stay until then."
            )
        lines.extend(f"warning: {w}" for w in self.warnings)
        return lines


@dataclass(frozen=True)
class RollbackResult:
    """Rows a rollback removed and former values it brought back, per table."""

    batch_id: int
    removed: dict[str, int]
    restored: dict[str, int]


@dataclass(frozen=True)
class ResolveResult:
    """How many conflicts of a batch were replaced and kept."""

    batch_id: int
    replaced: int
    kept: int


# --------------------------------------------------------------------------------------------
# Frames <-> rows


def _storable(name: str, data: ClinicData) -> pd.DataFrame:
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
    return out[_value_columns(name)]


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


def _insert_frame(conn: Connection, table: sa.Table, frame: pd.DataFrame) -> None:
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


def _read_rows(
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
    columns = columns or [*BOOKKEEPING, *_value_columns(name)]
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    # The states are this module's constants, never user input.
    where = ", ".join(f"'{s}'" for s in states)
    select = f"SELECT {names} FROM {quote(name)} WHERE state IN ({where})"
    dtypes = {c: _dtype(name, c) for c in columns}
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
        {c: _typed_column(v, dtypes[c]) for c, v in zip(columns, values, strict=True)},
        columns=columns,
    )


def _typed_column(values: tuple, dtype: str):
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


def _differs(left: pd.DataFrame, right: pd.DataFrame, columns, *, absent_na: bool) -> np.ndarray:
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


# --------------------------------------------------------------------------------------------
# Import


def _file_records(files: Mapping[str, bytes], result: ImportResult) -> tuple[FileRecord, ...]:
    return tuple(
        FileRecord(name, hashlib.sha256(data).hexdigest(), result.table_of_files.get(name))
        for name, data in files.items()
    )


def import_upload(
    files: Mapping[str, bytes],
    user,
    options: ImportOptions | None = None,
    mapping=None,
    *,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = _now,
) -> BatchResult:
    """Import an upload as one batch: all of it in one transaction, or nothing.

    Parameters
    ----------
    files : mapping of str to bytes
        File name -> content, as uploaded.
    user : User or str
        Who imports (recorded on the batch and in the audit log). A :class:`User` needs a role
        that may import (director or staff); a name stands for a command-line job.
    options, mapping
        Passed to :func:`analytics.ingest.importer.import_files`.

    Returns
    -------
    BatchResult
        ``batch_id`` None and the problems when the upload had errors (nothing stored, the
        refusal audited); otherwise the counts of rows added, unchanged and conflicting.
    """
    if isinstance(user, User) and user.role not in (DIRECTOR, "staff"):
        raise PermissionError(f"a {user.role} cannot import data")
    # the importer (and pandera behind it) loads on the first import, not with the dashboard
    from analytics.ingest.importer import ImportOptions, import_files

    options = options or ImportOptions()
    engine = engine or get_engine()
    result = import_files(files, options=options, mapping=mapping)
    records = _file_records(files, result)
    if not result.ok:
        record_audit(
            "import_refused",
            user=user,
            detail={
                "files": [r.name for r in records],
                "errors": sum(p.severity == ERROR for p in result.problems),
            },
            engine=engine,
            clock=clock,
        )
        return BatchResult(None, problems=tuple(result.problems), files=records)
    return _store_batch(
        engine,
        result.data,
        user=user,
        kind=IMPORT,
        records=records,
        options=options,
        problems=tuple(result.problems),
        clock=clock,
    )


def _store_batch(engine, data, *, user, kind, records, options, problems, clock) -> BatchResult:
    warnings = [str(p).removeprefix(f"{WARNING}: ") for p in problems if p.severity == WARNING]
    with write_transaction(engine) as conn:
        if kind == IMPORT:
            warnings += _replace_sample(conn, user, clock)
            warnings += _same_files(conn, records)
        batch_id = conn.execute(
            sa.insert(Batch)
            .values(
                created_at=clock(),
                username=_username(user),
                kind=kind,
                status=ACTIVE,
                files=[asdict(r) for r in records],
                options=asdict(options),
                extra_patient_columns=list(data.extra_patient_columns),
                has_sessions=data.has_sessions,
                months_kept=data.months_kept,
                rows_added=0,
                rows_unchanged=0,
                rows_conflicting=0,
                counts={},
                warnings=[],
            )
            .returning(Batch.id)
        ).scalar_one()
        counts, n_conflicts, n_patients = _store_rows(conn, data, batch_id)
        totals = {k: sum(c[k] for c in counts.values()) for k in ("added", "unchanged")}
        conn.execute(
            sa.update(Batch)
            .where(Batch.id == batch_id)
            .values(
                rows_added=totals["added"],
                rows_unchanged=totals["unchanged"],
                rows_conflicting=sum(c["conflicting"] for c in counts.values()),
                counts=counts,
                warnings=warnings,
            )
        )
        record_audit(
            "import" if kind == IMPORT else "sample_loaded",
            user=user,
            detail={
                "batch_id": batch_id,
                "files": [r.name for r in records],
                "rows_added": totals["added"],
                "rows_unchanged": totals["unchanged"],
                "conflicts": n_conflicts,
            },
            conn=conn,
            clock=clock,
        )
    refresh_snapshot(engine)
    return BatchResult(
        batch_id,
        problems=problems,
        files=records,
        counts=counts,
        conflicts=n_conflicts,
        patient_conflicts=n_patients,
        warnings=tuple(warnings),
    )


def _same_files(conn: Connection, records) -> list[str]:
    digests = {r.sha256 for r in records}
    rows = conn.execute(
        sa.select(Batch.id, Batch.files).where(Batch.status == ACTIVE, Batch.kind == IMPORT)
    ).all()
    same = [bid for bid, files in rows if {f["sha256"] for f in files} == digests]
    if not same:
        return []
    return [f"the same files as batch {same[-1]} (by SHA-256): nothing new is expected"]


def _replace_sample(conn: Connection, user, clock) -> list[str]:
    ids = conn.execute(
        sa.select(Batch.id).where(Batch.kind == SAMPLE, Batch.status == ACTIVE)
    ).scalars()
    notes = []
    for batch_id in list(ids):
        _undo(conn, batch_id, user, clock)
        record_audit(
            "sample_cleared",
            user=user,
            detail={"batch_id": batch_id, "reason": "first import"},
            conn=conn,
            clock=clock,
        )
        notes.append("the sample clinic was removed: the dashboard now shows the imported data")
    return notes


def _misaligned(stored: dict, incoming: dict) -> pd.DataFrame:
    """Patients whose days may not line up with the stored ones.

    A patient already stored with sessions is misaligned when the export's day-0 session differs
    from the stored one, when a stored session day is missing from the export, or when the
    first-session year differs. Returns patient_id and what differs (a column name, or
    "session days").
    """
    s_in, s_st = incoming["sessions"], stored["sessions"]
    compared = _compared_columns("sessions")
    m = s_in[s_in["day"] == 0].merge(
        s_st[s_st["day"] == 0], on=["patient_id", "day"], suffixes=("", "_stored")
    )
    right = m[[f"{c}_stored" for c in compared]].set_axis(compared, axis=1)
    diff = _differs(m[compared], right, compared, absent_na=False)
    found = [
        pd.DataFrame({"patient_id": m["patient_id"], "column": compared[j]})[diff[:, j]]
        for j in range(len(compared))
    ]
    # A stored session day missing from the export: the export's day 0 is not the stored one
    # (or sessions were deleted at the source); either way the days cannot be trusted to align.
    days = s_st[s_st["patient_id"].isin(s_in["patient_id"].unique())][["patient_id", "day"]]
    days = days.merge(
        s_in[["patient_id", "day"]], on=["patient_id", "day"], how="left", indicator=True
    )
    lost = days.loc[days["_merge"] == "left_only", "patient_id"].unique()
    found.append(
        pd.DataFrame({"patient_id": pd.array(lost, dtype="string"), "column": "session days"})
    )
    p = incoming["patients"].merge(
        stored["patients"][["patient_id", "first_session_year"]],
        on="patient_id",
        suffixes=("", "_stored"),
    )
    year = p["first_session_year"].notna() & p["first_session_year_stored"].notna()
    year &= p["first_session_year"] != p["first_session_year_stored"]
    found.append(
        pd.DataFrame({"patient_id": p["patient_id"], "column": "first_session_year"})[year]
    )
    return pd.concat(found, ignore_index=True)


@contextmanager
def _bulk_cache(conn: Connection):
    """SQLite: a page cache large enough for the indexes a bulk import updates (256 MB at most,
    taken only as pages are used), for the duration of the import, on this connection only.

    ``cache_size`` may change inside a transaction and touches neither durability nor
    atomicity; the connection's own value is restored afterwards, as it goes back to the pool.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(before)}")


def _store_rows(conn: Connection, data: ClinicData, batch_id: int):
    with _bulk_cache(conn):
        return _store_rows_cached(conn, data, batch_id)


def _store_rows_cached(conn: Connection, data: ClinicData, batch_id: int):
    incoming = {name: _storable(name, data) for name in TABLES}
    every = {name: _read_rows(conn, name, states=(CURRENT, PENDING, DECLINED)) for name in TABLES}
    current = {name: f[f["state"] == CURRENT] for name, f in every.items()}
    misaligned = _misaligned(current, incoming)
    moved = pd.Index(misaligned["patient_id"].unique())

    counts: dict[str, dict[str, int]] = {}
    row_conflicts = []
    for name in TABLES:
        inc = incoming[name]
        identity, compared = IDENTITY[name], _compared_columns(name)
        shifted = inc["patient_id"].isin(moved)
        aligned = inc[~shifted]
        cur = current[name][[*identity, *compared, "row_id"]]
        m = aligned.merge(cur, on=identity, how="left", suffixes=("", "_stored"), indicator=True)
        new = (m["_merge"] == "left_only").to_numpy()
        right = m[[f"{c}_stored" for c in compared]].set_axis(compared, axis=1)
        diff = _differs(m[compared], right, compared, absent_na=name == "patients")
        changed = ~new & diff.any(axis=1)
        # A change already waiting for a decision, or already declined, is not a new conflict.
        seen = _matches_earlier(m[changed], every[name], name)
        changed_idx = np.flatnonzero(changed)[~seen]
        pending = m.iloc[changed_idx][_value_columns(name)]
        counts[name] = {
            "added": int(new.sum()),
            "unchanged": int((~new & ~changed).sum() + seen.sum()),
            "conflicting": int(len(changed_idx) + shifted.sum()),
        }
        table = DATA_TABLES[name]
        _insert_frame(conn, table, _with_state(aligned[new], batch_id, CURRENT))
        _insert_frame(conn, table, _with_state(pending, batch_id, PENDING))
        _insert_frame(conn, table, _with_state(inc[shifted], batch_id, PENDING))
        if len(changed_idx):
            conflict = m.iloc[changed_idx][[*identity, "row_id"]].rename(
                columns={"row_id": "stored_row_id"}
            )
            diff_cols = diff[changed_idx]
            conflict["columns"] = [list(np.asarray(compared)[d]) for d in diff_cols]
            row_conflicts.append((name, conflict))

    n_rows = _record_row_conflicts(conn, batch_id, row_conflicts)
    if len(moved):
        per_patient = misaligned.groupby("patient_id", sort=True)["column"].agg(
            lambda c: sorted(set(c))
        )
        conn.execute(
            sa.insert(Conflict),
            [
                {
                    "batch_id": batch_id,
                    "kind": "patient",
                    "table_name": "patients",
                    "patient_id": pid,
                    "columns": cols,
                    "status": PENDING,
                }
                for pid, cols in per_patient.items()
            ],
        )
    return counts, n_rows + len(moved), len(moved)


def _matches_earlier(changed: pd.DataFrame, every: pd.DataFrame, name: str) -> np.ndarray:
    """For each changed incoming row: is it equal to a pending or declined stored row?"""
    identity, compared = IDENTITY[name], _compared_columns(name)
    earlier = every[every["state"].isin([PENDING, DECLINED])][[*identity, *compared]]
    if changed.empty or earlier.empty:
        return np.zeros(len(changed), dtype=bool)
    left = changed[[*identity, *compared]].reset_index(drop=True)
    left["_i"] = np.arange(len(left))
    m = left.merge(earlier, on=identity, suffixes=("", "_earlier"))
    right = m[[f"{c}_earlier" for c in compared]].set_axis(compared, axis=1)
    equal = ~_differs(m[compared], right, compared, absent_na=False).any(axis=1)
    out = np.zeros(len(left), dtype=bool)
    out[m.loc[equal, "_i"].to_numpy()] = True
    return out


def _with_state(frame: pd.DataFrame, batch_id: int, state: str) -> pd.DataFrame:
    return frame.assign(
        batch_id=batch_id, state=state, superseded_by_batch=pd.array([pd.NA] * len(frame), "Int64")
    )


def _record_row_conflicts(conn: Connection, batch_id: int, found) -> int:
    n = 0
    for name, conflict in found:
        identity = IDENTITY[name]
        table = DATA_TABLES[name]
        ids = _read_rows(conn, name, states=(PENDING,), columns=["row_id", "batch_id", *identity])
        ids = ids[ids["batch_id"] == batch_id].drop(columns="batch_id")
        both = conflict.merge(ids.rename(columns={"row_id": "incoming_row_id"}), on=identity)
        key = {"assessments": "instrument", "side_effects": "effect"}.get(name)
        frame = pd.DataFrame(
            {
                "batch_id": batch_id,
                "kind": "row",
                "table_name": table.name,
                "patient_id": both["patient_id"].astype(object),
                "day": both["day"].astype(object) if "day" in both else None,
                "key": both[key].astype(object) if key else None,
                "stored_row_id": both["stored_row_id"].astype("int64").astype(object),
                "incoming_row_id": both["incoming_row_id"].astype("int64").astype(object),
                "columns": both["columns"],
                "status": PENDING,
            }
        )
        records = frame.to_dict("records")
        for r in records:
            r["day"] = None if r["day"] is None else int(r["day"])
        if records:
            conn.execute(sa.insert(Conflict), records)
        n += len(records)
    return n


# --------------------------------------------------------------------------------------------
# Conflicts


def list_conflicts(batch_id: int | None = None, *, engine: Engine | None = None) -> pd.DataFrame:
    """Conflicts (of one batch, or all), oldest first.

    Columns: conflict_id, batch_id, kind ("row" or "patient"), table, patient_id, day, key
    (instrument or effect), columns (what differs), status ("pending", "replaced", "kept").
    """
    query = sa.select(
        Conflict.id,
        Conflict.batch_id,
        Conflict.kind,
        Conflict.table_name,
        Conflict.patient_id,
        Conflict.day,
        Conflict.key,
        Conflict.columns,
        Conflict.status,
    ).order_by(Conflict.id)
    if batch_id is not None:
        query = query.where(Conflict.batch_id == batch_id)
    with (engine or get_engine()).connect() as conn:
        rows = conn.execute(query).all()
    columns = [
        "conflict_id",
        "batch_id",
        "kind",
        "table",
        "patient_id",
        "day",
        "key",
        "columns",
        "status",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    frame["day"] = frame["day"].astype("Int64")
    frame["columns"] = frame["columns"].map(", ".join)
    return frame


def conflict_detail(conflict_id: int, *, engine: Engine | None = None) -> pd.DataFrame:
    """The stored and the incoming value of each differing column of a row conflict."""
    with (engine or get_engine()).connect() as conn:
        c = conn.execute(sa.select(Conflict.__table__).where(Conflict.id == conflict_id)).first()
        if c is None:
            raise ValueError(f"no conflict {conflict_id}")
        if c.kind != "row":
            return pd.DataFrame({"column": c.columns, "stored": None, "incoming": None})
        table = DATA_TABLES[c.table_name]
        rows = {
            r.row_id: r
            for r in conn.execute(
                sa.select(table).where(table.c.row_id.in_([c.stored_row_id, c.incoming_row_id]))
            ).all()
        }
    stored, incoming = rows.get(c.stored_row_id), rows.get(c.incoming_row_id)
    return pd.DataFrame(
        {
            "column": c.columns,
            "stored": [getattr(stored, k, None) for k in c.columns],
            "incoming": [getattr(incoming, k, None) for k in c.columns],
        }
    )


def _chunks(values: list, size: int = 500):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _set_state(conn, name: str, row_ids: list[int], values: dict) -> None:
    table = DATA_TABLES[name]
    for part in _chunks(row_ids):
        conn.execute(sa.update(table).where(table.c.row_id.in_(part)).values(**values))


def resolve_conflicts(
    batch_id: int,
    decisions: Mapping[int, str] | str,
    user,
    *,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = _now,
) -> ResolveResult:
    """Replace or keep the stored values of a batch's pending conflicts.

    Parameters
    ----------
    batch_id : int
    decisions : mapping of conflict id to "replace" or "keep", or one of those for all pending
        conflicts of the batch.
    user : User or str
        A director, or a command-line name.

    Notes
    -----
    "replace" makes the incoming value current and keeps the old one as history (``replaced``,
    superseded by this batch); for a patient-level conflict it does so for every row of the
    patient at once. "keep" leaves the stored value and marks the incoming one ``declined``, so
    that importing the same export again is not a conflict again.
    """
    if isinstance(user, User) and user.role != DIRECTOR:
        raise PermissionError("only a director can resolve conflicts")
    engine = engine or get_engine()
    with write_transaction(engine) as conn:
        status = conn.execute(sa.select(Batch.status).where(Batch.id == batch_id)).scalar()
        if status is None:
            raise ValueError(f"no batch {batch_id}")
        if status != ACTIVE:
            raise ValueError(f"batch {batch_id} was rolled back")
        pending = conn.execute(
            sa.select(Conflict.__table__).where(
                Conflict.batch_id == batch_id, Conflict.status == PENDING
            )
        ).all()
        pending = {c.id: c for c in pending}
        if isinstance(decisions, str):
            decisions = dict.fromkeys(pending, decisions)
        for conflict_id, decision in decisions.items():
            if decision not in (REPLACE, KEEP):
                raise ValueError(f"a decision is 'replace' or 'keep', not {decision!r}")
            if conflict_id not in pending:
                raise ValueError(f"conflict {conflict_id} is not pending in batch {batch_id}")
        chosen = [(pending[i], d) for i, d in decisions.items()]
        _apply_rows(conn, batch_id, [(c, d) for c, d in chosen if c.kind == "row"])
        _apply_patients(conn, batch_id, [(c, d) for c, d in chosen if c.kind == "patient"])
        now = clock()
        who = _username(user)
        for decision in (REPLACE, KEEP):
            ids = [c.id for c, d in chosen if d == decision]
            for part in _chunks(ids):
                conn.execute(
                    sa.update(Conflict)
                    .where(Conflict.id.in_(part))
                    .values(
                        status="replaced" if decision == REPLACE else "kept",
                        resolved_by=who,
                        resolved_at=now,
                    )
                )
        replaced = sum(d == REPLACE for _, d in chosen)
        record_audit(
            "conflicts_resolved",
            user=user,
            detail={"batch_id": batch_id, "replaced": replaced, "kept": len(chosen) - replaced},
            conn=conn,
            clock=clock,
        )
    refresh_snapshot(engine)
    return ResolveResult(batch_id, replaced, len(chosen) - replaced)


def _apply_rows(conn, batch_id: int, chosen) -> None:
    for name in TABLES:
        mine = [(c, d) for c, d in chosen if c.table_name == name]
        if not mine:
            continue
        stored = [c.stored_row_id for c, d in mine if d == REPLACE]
        table = DATA_TABLES[name]
        still = set()
        for part in _chunks(stored):
            still |= set(
                conn.execute(
                    sa.select(table.c.row_id).where(
                        table.c.row_id.in_(part), table.c.state == CURRENT
                    )
                ).scalars()
            )
        if len(still) != len(stored):
            raise ValueError(
                f"batch {batch_id}: a stored value changed since the import; import again"
            )
        # The old value leaves "current" before the new one enters it (one current per identity).
        _set_state(conn, name, stored, {"state": REPLACED, "superseded_by_batch": batch_id})
        incoming = [c.incoming_row_id for c, d in mine if d == REPLACE]
        _set_state(conn, name, incoming, {"state": CURRENT})
        declined = [c.incoming_row_id for c, d in mine if d == KEEP]
        _set_state(conn, name, declined, {"state": DECLINED})


def _apply_patients(conn, batch_id: int, chosen) -> None:
    for decision in (REPLACE, KEEP):
        ids = [c.patient_id for c, d in chosen if d == decision]
        for name in TABLES:
            table = DATA_TABLES[name]
            for part in _chunks(ids):
                mine = (
                    table.c.patient_id.in_(part),
                    table.c.batch_id == batch_id,
                    table.c.state == PENDING,
                )
                if decision == REPLACE:
                    conn.execute(
                        sa.update(table)
                        .where(table.c.patient_id.in_(part), table.c.state == CURRENT)
                        .values(state=REPLACED, superseded_by_batch=batch_id)
                    )
                    conn.execute(sa.update(table).where(*mine).values(state=CURRENT))
                else:
                    conn.execute(sa.update(table).where(*mine).values(state=DECLINED))


# --------------------------------------------------------------------------------------------
# Rollback


def _touched_patients(batch_id: int) -> sa.Select:
    parts = [
        sa.select(t.c.patient_id).where(
            sa.or_(t.c.batch_id == batch_id, t.c.superseded_by_batch == batch_id)
        )
        for t in DATA_TABLES.values()
    ]
    return sa.union(*parts)


def _later_dependents(conn: Connection, batch_id: int) -> list[int]:
    """Active batches after ``batch_id`` that added or changed rows of the same patients."""
    touched = _touched_patients(batch_id).subquery()
    found: set[int] = set()
    for t in DATA_TABLES.values():
        query = (
            sa.select(t.c.batch_id)
            .distinct()
            .join(Batch, Batch.id == t.c.batch_id)
            .where(
                t.c.batch_id > batch_id,
                Batch.status == ACTIVE,
                t.c.patient_id.in_(sa.select(touched.c.patient_id)),
            )
        )
        found |= set(conn.execute(query).scalars())
    return sorted(found)


def _undo(conn: Connection, batch_id: int, user, clock) -> RollbackResult:
    removed, restored = {}, {}
    for name in TABLES:
        table = DATA_TABLES[name]
        removed[name] = conn.execute(sa.delete(table).where(table.c.batch_id == batch_id)).rowcount
        restored[name] = conn.execute(
            sa.update(table)
            .where(table.c.superseded_by_batch == batch_id)
            .values(state=CURRENT, superseded_by_batch=None)
        ).rowcount
    conn.execute(
        sa.update(Conflict)
        .where(Conflict.batch_id == batch_id, Conflict.status == PENDING)
        .values(status=ROLLED_BACK)
    )
    conn.execute(
        sa.update(Batch)
        .where(Batch.id == batch_id)
        .values(status=ROLLED_BACK, rolled_back_at=clock(), rolled_back_by=_username(user))
    )
    return RollbackResult(batch_id, removed, restored)


def rollback(
    batch_id: int,
    user,
    *,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = _now,
) -> RollbackResult:
    """Remove exactly the rows a batch added and bring back the values it replaced.

    Refused (ValueError) when the batch does not exist or was rolled back already, and when a
    later active batch added or changed rows of the same patients: that batch is rolled back
    first, so each rollback leaves the database exactly as it was without the batch.
    """
    if isinstance(user, User) and user.role != DIRECTOR:
        raise PermissionError("only a director can roll back an import")
    engine = engine or get_engine()
    with write_transaction(engine) as conn:
        status = conn.execute(sa.select(Batch.status).where(Batch.id == batch_id)).scalar()
        if status is None:
            raise ValueError(f"no batch {batch_id}")
        if status != ACTIVE:
            raise ValueError(f"batch {batch_id} was rolled back already")
        later = _later_dependents(conn, batch_id)
        if later:
            listed = ", ".join(map(str, later))
            raise ValueError(
                f"batch {batch_id} cannot be rolled back while later batch(es) {listed} changed "
                f"the same patients; roll those back first"
            )
        result = _undo(conn, batch_id, user, clock)
        record_audit(
            "rollback",
            user=user,
            detail={"batch_id": batch_id, "rows_removed": sum(result.removed.values())},
            conn=conn,
            clock=clock,
        )
    refresh_snapshot(engine)
    return result


# --------------------------------------------------------------------------------------------
# History


def list_batches(engine: Engine | None = None) -> pd.DataFrame:
    """The import history, newest first.

    Columns: batch_id, created_at (UTC), username, kind ("import" or "sample"), status ("active"
    or "rolled_back"), files (names), rows_added, rows_unchanged, rows_conflicting,
    conflicts_pending, warnings (count), rolled_back_at, rolled_back_by.
    """
    pending = (
        sa.select(sa.func.count())
        .where(Conflict.batch_id == Batch.id, Conflict.status == PENDING)
        .scalar_subquery()
    )
    query = sa.select(
        Batch.id,
        Batch.created_at,
        Batch.username,
        Batch.kind,
        Batch.status,
        Batch.files,
        Batch.rows_added,
        Batch.rows_unchanged,
        Batch.rows_conflicting,
        pending,
        Batch.warnings,
        Batch.rolled_back_at,
        Batch.rolled_back_by,
    ).order_by(Batch.id.desc())
    with (engine or get_engine()).connect() as conn:
        rows = conn.execute(query).all()
    columns = [
        "batch_id",
        "created_at",
        "username",
        "kind",
        "status",
        "files",
        "rows_added",
        "rows_unchanged",
        "rows_conflicting",
        "conflicts_pending",
        "warnings",
        "rolled_back_at",
        "rolled_back_by",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    frame["files"] = frame["files"].map(lambda files: ", ".join(f["name"] for f in files))
    frame["warnings"] = frame["warnings"].map(len).astype("int64")
    for column in ("created_at", "rolled_back_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def batch_details(batch_id: int, *, engine: Engine | None = None) -> dict:
    """Everything recorded about one batch: files with SHA-256, options, counts, warnings."""
    with (engine or get_engine()).connect() as conn:
        row = conn.execute(sa.select(Batch.__table__).where(Batch.id == batch_id)).first()
    if row is None:
        raise ValueError(f"no batch {batch_id}")
    return dict(row._mapping)


def data_version(engine: Engine | None = None) -> str:
    """A token that changes whenever the clinic's data does (a cache key for the UI)."""
    with (engine or get_engine()).connect() as conn:
        last_batch, rolled = conn.execute(
            sa.select(
                sa.func.max(Batch.id),
                sa.func.count().filter(Batch.status == ROLLED_BACK),
            )
        ).one()
        resolved = conn.execute(
            sa.select(sa.func.count()).select_from(Conflict).where(Conflict.status != PENDING)
        ).scalar_one()
    return f"{last_batch or 0}-{rolled}-{resolved}"


# --------------------------------------------------------------------------------------------
# Loading


def load_clinic(engine: Engine | None = None, *, snapshot: bool = True) -> ClinicData:
    """The clinic as stored: the current rows of every table, as :class:`ClinicData`.

    Returns exactly the frames the importer produced (same columns, dtypes and order) for a
    single import; after several, rows sort by patient, day and arrival. ``has_sessions`` and
    ``months_kept`` are true when any active batch had sessions or kept months; the extra
    patient columns are those of the active batches, in upload order.

    Parameters
    ----------
    engine : Engine, optional
        The store; the configured one by default.
    snapshot : bool
        Read the columnar snapshot of the current data version when there is one, and write it
        when there is not (:mod:`store.snapshot`); False reads and writes SQL only. Either way
        the result is the same.
    """
    engine = engine or get_engine()
    folder = snapshot_folder(engine) if snapshot else None
    key = None
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # One snapshot of the database for the key and all four tables, as SQLite's
            # transaction gives in WAL mode.
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            batches = conn.execute(
                sa.select(Batch.has_sessions, Batch.months_kept, Batch.extra_patient_columns).where(
                    Batch.status == ACTIVE
                )
            ).all()
            if not batches:
                return empty_clinic()
            extra: list[str] = []
            for _, _, columns in batches:
                extra += [c for c in columns if c not in extra]
            frames = None
            if folder is not None:
                key = snapshot_key(conn)
                frames = read_snapshot(folder, key, tuple(extra))
            fresh = frames is None
            if fresh:
                frames = _load_frames(conn, extra)
    if fresh and folder is not None:
        written = write_snapshot(folder, key, frames, tuple(extra))
        if written is not None and _current_key(engine) == key:
            prune_snapshots(folder, keep=key)
    return ClinicData(
        patients=frames["patients"],
        sessions=frames["sessions"],
        assessments=frames["assessments"],
        side_effects=frames["side_effects"],
        has_sessions=any(b.has_sessions for b in batches),
        months_kept=any(b.months_kept for b in batches),
        extra_patient_columns=tuple(extra),
    )


def _current_key(engine: Engine) -> str:
    with engine.connect() as conn, conn.begin():
        return snapshot_key(conn)


def _load_frames(conn: Connection, extra: list[str]) -> dict[str, pd.DataFrame]:
    """The canonical frames read through SQL: current rows, sorted, bookkeeping dropped."""
    out = {}
    for name in TABLES:
        frame = _read_rows(conn, name, columns=["row_id", *_value_columns(name)])
        if name == "patients":
            frame = frame.sort_values(["patient_id"], kind="stable")
        else:
            frame = frame.sort_values(["patient_id", "day", "row_id"], kind="stable")
        frame = frame.reset_index(drop=True)
        if name == "patients":
            out[name] = _with_attributes(frame, extra)
        else:
            out[name] = frame.drop(columns=["row_id", "occurrence"], errors="ignore")
    return out


def refresh_snapshot(engine: Engine | None = None) -> None:
    """Write the snapshot of the current data now, so the next :func:`load_clinic` is quick.

    Called after every commit that changes the clinic's data. Best effort: a failure is logged
    and the next load reads SQL (and tries to write the snapshot again).
    """
    engine = engine or get_engine()
    if snapshot_folder(engine) is None:
        return
    try:
        load_clinic(engine)
    except Exception as error:  # noqa: BLE001 - the data is committed; the snapshot is optional
        logger.warning("could not refresh the clinic snapshot: %s", error)


def _with_attributes(patients: pd.DataFrame, extra: list[str]) -> pd.DataFrame:
    base = patients[PATIENT_BASE_COLUMNS].copy()
    if not extra:
        return base
    text = patients["attributes"]
    given = text.notna().to_numpy()
    values = pd.DataFrame(index=base.index, columns=extra, dtype="string")
    if given.any():
        parsed = pd.read_json(
            io.StringIO("\n".join(text[given].tolist())),
            lines=True,
            dtype=False,
        )
        parsed.index = base.index[given]
        for column in extra:
            if column in parsed:
                values.loc[given, column] = (
                    parsed[column].astype(object).where(parsed[column].notna(), None)
                )
    for column in extra:
        base[column] = values[column].astype("string")
    return base


# --------------------------------------------------------------------------------------------
# The sample clinic


def sample_loaded(engine: Engine | None = None) -> bool:
    """True while the synthetic sample clinic is in the database (the UI shows a banner)."""
    with (engine or get_engine()).connect() as conn:
        return bool(
            conn.execute(
                sa.select(sa.func.count()).where(Batch.kind == SAMPLE, Batch.status == ACTIVE)
            ).scalar_one()
        )


def ensure_sample(
    folder: Path | None = None,
    *,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = _now,
) -> int | None:
    """Load the sample clinic when the database has never held a batch; its batch id or None.

    Once cleared (or replaced by a first import) the sample is not loaded again.
    """
    from analytics.ingest.importer import ImportOptions, import_folder

    engine = engine or get_engine()
    with engine.connect() as conn:
        if conn.execute(sa.select(sa.func.count()).select_from(Batch)).scalar_one():
            return None
    folder = folder or Path(__file__).resolve().parent.parent / "data" / "sample"
    files = {p.name: p.read_bytes() for p in sorted(Path(folder).glob("*.csv"))}
    result = import_folder(folder)
    if not result.ok:
        raise ValueError(f"the sample clinic in {folder} does not import cleanly")
    return _store_batch(
        engine,
        result.data,
        user=SYSTEM,
        kind=SAMPLE,
        records=_file_records(files, result),
        options=ImportOptions(),
        problems=tuple(result.problems),
        clock=clock,
    ).batch_id


def clear_sample(
    user, *, engine: Engine | None = None, clock: Callable[[], datetime] = _now
) -> int:
    """Remove the sample clinic (a director only); the number of sample batches removed."""
    if not isinstance(user, User) or user.role != DIRECTOR:
        raise PermissionError("only a director can clear the sample data")
    engine = engine or get_engine()
    with write_transaction(engine) as conn:
        ids = list(
            conn.execute(
                sa.select(Batch.id).where(Batch.kind == SAMPLE, Batch.status == ACTIVE)
            ).scalars()
        )
        for batch_id in ids:
            _undo(conn, batch_id, user, clock)
            record_audit(
                "sample_cleared", user=user, detail={"batch_id": batch_id}, conn=conn, clock=clock
            )
    if ids:
        refresh_snapshot(engine)
    return len(ids)
