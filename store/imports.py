"""Imports as batches: one transaction each, idempotent, with conflicts.

An upload goes through :func:`analytics.ingest.importer.import_files` (all or nothing: any error and
nothing is stored). Its canonical rows are then compared with the stored ones by identity
(:data:`store.models.IDENTITY`):

- a row whose identity is new is **added**;
- a row equal to the stored one is **unchanged** (re-importing the same export adds nothing);
- a row that changes a stored value is a **conflict**: stored as ``pending`` beside the current
  value until someone chooses to replace or keep (:func:`store.conflicts.resolve_conflicts`). A
  replaced value is kept as history (``replaced``, ``superseded_by_batch``) and comes back if the
  replacing batch is rolled back (:mod:`store.rollbacks`).

Days count from each patient's first session, so a new export with a different first session
(an earlier session, or one that was corrected) would shift every day of that patient. Such a
patient is not re-based silently: when the export's day-0 session or first-session year differs
from the stored one, all of the patient's rows in the batch form one patient-level conflict,
whose "replace" swaps the patient's stored rows for the export's as a whole.

Each patient's follow-up days (from day 0 to the export's data cutoff) go to the ``follow_up``
table under the batch, never compared: a later export has a later cutoff, which is news, not a
conflict (:func:`store.clinic.load_clinic` reads the largest value of the active batches).

Everything a batch writes, and its audit entry, commits together; a process killed mid-import
leaves the database as it was.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

if TYPE_CHECKING:
    from analytics.ingest.collector import ProblemReport
    from analytics.ingest.importer import ImportOptions, ImportResult

from analytics.core.contract import FOLLOW_UP_COLUMN, ClinicData
from analytics.core.problems import ERROR, WARNING, Problem
from store.audit import record_audit
from store.clinic import GrownClinic, active_extra_columns, follow_up_days, refresh_snapshot
from store.db import get_engine, write_transaction
from store.failures import StorageError, storage_failures
from store.models import (
    CURRENT,
    DATA_TABLES,
    DECLINED,
    IDENTITY,
    PENDING,
    Batch,
    Conflict,
    FollowUp,
)
from store.rollbacks import undo_batch
from store.rows import (
    ACTIVE,
    IMPORT,
    SAMPLE,
    TABLES,
    compared_columns,
    differs,
    insert_frame,
    read_rows,
    storable_frame,
    username_of,
    utc_now,
    value_columns,
)
from store.snapshot import read_snapshot, snapshot_folder, snapshot_key
from store.users import DIRECTOR, User

logger = logging.getLogger(__name__)

# file_records and store_batch are shared with store.sample, not part of the documented API.
__all__ = ["BatchResult", "FileRecord", "import_upload"]

# SQLite page cache during an import, in KiB (its default is 2 MB).
BULK_CACHE_KIB = 256 * 1024


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
    notes : tuple of str
        The store's own notes alone (the last of ``warnings``).
    report : ProblemReport or None
        The importer's problems counted per rule, with every affected row.
    """

    batch_id: int | None
    problems: tuple[Problem, ...] = ()
    files: tuple[FileRecord, ...] = ()
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    conflicts: int = 0
    patient_conflicts: int = 0
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    report: ProblemReport | None = None

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


# --------------------------------------------------------------------------------------------
# Import


def file_records(files: Mapping[str, bytes], result: ImportResult) -> tuple[FileRecord, ...]:
    """Every uploaded file with its SHA-256 and the table the importer read it as, named as the
    importer reports it (a name that may identify a patient is recorded as "file N")."""
    return tuple(
        FileRecord(
            result.file_labels.get(name, name),
            hashlib.sha256(data).hexdigest(),
            result.table_of_files.get(name),
        )
        for name, data in files.items()
    )


def import_upload(
    files: Mapping[str, bytes],
    user,
    options: ImportOptions | None = None,
    mapping=None,
    *,
    tables: Mapping[str, str] | None = None,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> BatchResult:
    """Import an upload as one batch: all of it in one transaction, or nothing.

    Parameters
    ----------
    files : mapping of str to bytes
        File name -> content, as uploaded.
    user : User or str
        Who imports (recorded on the batch and in the audit log). A :class:`User` needs a role
        that may import (director or staff); a name stands for a command-line job.
    options, mapping, tables
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
    result = import_files(files, options=options, mapping=mapping, tables=tables)
    records = file_records(files, result)
    if not result.ok:
        with storage_failures(engine.url):
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
        return BatchResult(
            None, problems=tuple(result.problems), files=records, report=result.report
        )
    try:
        batch = store_batch(
            engine,
            result.data,
            user=user,
            kind=IMPORT,
            records=records,
            options=options,
            problems=tuple(result.problems),
            clock=clock,
        )
    except StorageError as error:
        _record_storage_refusal(error, user, records, engine=engine, clock=clock)
        raise
    return replace(batch, report=result.report)


# Failures after which the store cannot take an audit row either (or only after another wait).
_UNWRITABLE = frozenset({"locked", "unreachable", "unopenable"})


def _record_storage_refusal(error: StorageError, user, records, *, engine, clock) -> bool:
    """Audit an import the database refused, where the database can still be written.

    A full disk usually still takes the one small row once the import's transaction is rolled
    back; a locked, stopped or unopenable database cannot, and a read-only one refuses it. The
    failure is then only logged. Returns True when the row was written.
    """
    if error.kind in _UNWRITABLE:
        logger.warning("import refused (%s); the audit log could not be written", error.kind)
        return False
    try:
        record_audit(
            "import_refused",
            user=user,
            detail={"files": [r.name for r in records], "storage": error.kind},
            engine=engine,
            clock=clock,
        )
    except sa.exc.DBAPIError as audit_error:
        logger.warning(
            "import refused (%s); the audit log could not be written either: %s",
            error.kind,
            audit_error.orig,
        )
        return False
    return True


def store_batch(engine, data, *, user, kind, records, options, problems, clock) -> BatchResult:
    """Store an imported clinic as a new batch of ``kind`` in one transaction; the result.

    An import (``kind`` "import") first removes the sample clinic and notes files already
    imported; every row is then added, unchanged or a conflict (see the module docstring), the
    batch's counts and audit entry commit with the rows, and the snapshot is refreshed.
    """
    notes: list[str] = []
    with write_transaction(engine) as conn:
        # the clinic before this batch, for a snapshot grown by what the batch adds
        before_key, before_extra = snapshot_key(conn), tuple(active_extra_columns(conn))
        replaced_sample = False
        if kind == IMPORT:
            replaced = _replace_sample(conn, user, clock)
            replaced_sample = bool(replaced)
            notes += replaced
            notes += _same_files(conn, records)
        # into a store with no rows, every row is added as it is: the clinic then stored is
        # the imported one, and its snapshot is written from it rather than read back
        was_empty = not any(
            conn.execute(sa.select(sa.literal(1)).select_from(DATA_TABLES[name]).limit(1)).first()
            for name in TABLES
        )
        warnings = [stored_warning(p) for p in problems if p.severity == WARNING] + notes
        batch_id = conn.execute(
            sa.insert(Batch)
            .values(
                created_at=clock(),
                username=username_of(user),
                kind=kind,
                status=ACTIVE,
                files=[asdict(r) for r in records],
                options=stored_options(options),
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
        # the verified snapshot of the clinic as this transaction sees it, to compare with
        snapshot = None
        if not was_empty and not replaced_sample:
            snapshot = _snapshot_of(conn, before_key, before_extra)
        counts, n_conflicts, n_patients, added = _store_rows(
            conn, data, batch_id, empty=was_empty, snapshot=snapshot
        )
        totals = {k: sum(c[k] for c in counts.values()) for k in ("added", "unchanged")}
        # nothing added and nothing waiting: only the follow-up days or the batch's flags could
        # still change the clinic, so they are compared before and after
        quiet = not was_empty and not replaced_sample and not totals["added"] and not n_conflicts
        follow_up_before = follow_up_days(conn) if quiet else None
        _store_follow_up(conn, data, batch_id)
        changes_data = not quiet or _changes_clinic(
            conn, data, batch_id, before_extra, follow_up_before
        )
        if not changes_data:
            notes.append("nothing in the clinic changed: its numbers stay as they were")
            warnings.append(notes[-1])
        conn.execute(
            sa.update(Batch)
            .where(Batch.id == batch_id)
            .values(
                rows_added=totals["added"],
                rows_unchanged=totals["unchanged"],
                rows_conflicting=sum(c["conflicting"] for c in counts.values()),
                counts=counts,
                warnings=warnings,
                changes_data=changes_data,
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
    if not changes_data:
        pass  # the data version, and with it the snapshot, stays
    elif was_empty:
        refresh_snapshot(engine, stored=data)
    elif replaced_sample:
        refresh_snapshot(engine)
    else:
        grown = GrownClinic(before_key, before_extra, batch_id, _canonical_added(data, added))
        refresh_snapshot(engine, grown=grown)
    return BatchResult(
        batch_id,
        problems=problems,
        files=records,
        counts=counts,
        conflicts=n_conflicts,
        patient_conflicts=n_patients,
        warnings=tuple(warnings),
        notes=tuple(notes),
    )


def _changes_clinic(
    conn: Connection,
    data: ClinicData,
    batch_id: int,
    before_extra: tuple[str, ...],
    follow_up_before: pd.DataFrame,
) -> bool:
    """Whether a batch that stored no rows and no conflicts still changes the clinic that
    :func:`store.clinic.load_clinic` reads: a patient's follow-up days raised (a later cutoff),
    a descriptive column no active batch had, or sessions or kept months where none were."""
    if not set(data.extra_patient_columns) <= set(before_extra):
        return True
    others = conn.execute(
        sa.select(
            sa.func.count().filter(Batch.has_sessions.is_(True)),
            sa.func.count().filter(Batch.months_kept.is_(True)),
        ).where(Batch.status == ACTIVE, Batch.id != batch_id)
    ).one()
    if (data.has_sessions and not others[0]) or (data.months_kept and not others[1]):
        return True
    before, after = (
        frame.sort_values("patient_id").reset_index(drop=True)
        for frame in (follow_up_before, follow_up_days(conn))
    )
    return not before.equals(after)


def stored_warning(problem: Problem) -> str:
    """A warning as the batch keeps it: where and what, never the cell's value (a value shown
    on screen is not written to the database, in case it identifies)."""
    return str(replace(problem, value=None)).removeprefix(f"{WARNING}: ")


def stored_options(options) -> dict:
    """The import options as the batch keeps them (JSON: the import day as ISO text; of the
    extract date, only that one was given)."""
    out = asdict(options)
    if out.get("today") is not None:
        out["today"] = out["today"].isoformat()
    # The extract date is never kept: with each patient's follow-up days it would give back
    # every patient's first-session date. Only whether one was given is.
    if out.get("extract_date") is not None:
        out["extract_date"] = "given"
    return out


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
        undo_batch(conn, batch_id, user, clock)
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
    compared = compared_columns("sessions")
    m = s_in[s_in["day"] == 0].merge(
        s_st[s_st["day"] == 0], on=["patient_id", "day"], suffixes=("", "_stored")
    )
    right = m[[f"{c}_stored" for c in compared]].set_axis(compared, axis=1)
    diff = differs(m[compared], right, compared, absent_na=False)
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


@contextmanager
def _indexes_built_after(conn: Connection, empty: bool):
    """Into an empty store, drop the data tables' indexes for the load and build them after.

    Building an index once over sorted keys costs far less than updating it row by row. Both
    run inside the import's transaction, so a failure (a duplicate identity, which the unique
    index refuses as it is built) rolls the drop back with everything else.
    """
    if not empty:
        yield
        return
    indexes = [index for name in TABLES for index in DATA_TABLES[name].indexes]
    for index in indexes:
        index.drop(conn)
    yield
    for index in indexes:
        index.create(conn)


def _store_rows(conn: Connection, data: ClinicData, batch_id: int, *, empty: bool, snapshot=None):
    with _bulk_cache(conn), _indexes_built_after(conn, empty):
        return _store_rows_cached(conn, data, batch_id, snapshot)


# The tables whose current rows an import may take from the verified snapshot: their stored
# value columns are the snapshot's columns. The patients table keeps its attributes as JSON text
# and the side effects their occurrence numbers, which the snapshot does not hold.
_COMPARED_FROM_SNAPSHOT = ("sessions", "assessments")


def _stored_rows(conn: Connection, snapshot) -> tuple[dict, dict]:
    """Every stored row an import compares with (current, pending and declined) and the current
    ones, per table. With ``snapshot`` (the frames of the verified snapshot of the data this
    transaction sees), the current sessions and assessments are taken from it, without
    ``row_id``, rather than read through SQL: most of a re-import's time at 100,000 patients."""
    every, current = {}, {}
    for name in TABLES:
        if snapshot is not None and name in _COMPARED_FROM_SNAPSHOT:
            every[name] = read_rows(conn, name, states=(PENDING, DECLINED))
            current[name] = snapshot[name]
        else:
            every[name] = read_rows(conn, name, states=(CURRENT, PENDING, DECLINED))
            current[name] = every[name][every[name]["state"] == CURRENT]
    return every, current


def _current_row_ids(conn: Connection, name: str, keys: pd.DataFrame) -> np.ndarray:
    """The ``row_id`` of the current stored row with each identity of ``keys``, in its order;
    read for those patients only."""
    table, identity = DATA_TABLES[name], IDENTITY[name]
    patients = keys["patient_id"].dropna().unique().tolist()
    found = []
    for start in range(0, len(patients), 500):
        query = sa.select(table.c.row_id, *(table.c[c] for c in identity)).where(
            table.c.state == CURRENT, table.c.patient_id.in_(patients[start : start + 500])
        )
        found += conn.execute(query).all()
    stored = pd.DataFrame(found, columns=["row_id", *identity])
    stored = stored.astype({c: keys[c].dtype for c in identity})
    return keys.merge(stored, on=identity, how="left")["row_id"].to_numpy()


def _store_rows_cached(conn: Connection, data: ClinicData, batch_id: int, snapshot=None):
    incoming = {name: storable_frame(name, data) for name in TABLES}
    every, current = _stored_rows(conn, snapshot)
    misaligned = _misaligned(current, incoming)
    moved = pd.Index(misaligned["patient_id"].unique())

    counts: dict[str, dict[str, int]] = {}
    row_conflicts = []
    added: dict[str, pd.DataFrame] = {}
    for name in TABLES:
        inc = incoming[name]
        identity, compared = IDENTITY[name], compared_columns(name)
        shifted = inc["patient_id"].isin(moved)
        aligned = inc[~shifted]
        kept = [*identity, *compared, "row_id"]
        cur = current[name][[c for c in kept if c in current[name].columns]]
        m = aligned.merge(cur, on=identity, how="left", suffixes=("", "_stored"), indicator=True)
        new = (m["_merge"] == "left_only").to_numpy()
        right = m[[f"{c}_stored" for c in compared]].set_axis(compared, axis=1)
        diff = differs(m[compared], right, compared, absent_na=name == "patients")
        changed = ~new & diff.any(axis=1)
        # A change already waiting for a decision, or already declined, is not a new conflict.
        seen = _matches_earlier(m[changed], every[name], name)
        changed_idx = np.flatnonzero(changed)[~seen]
        pending = m.iloc[changed_idx][value_columns(name)]
        counts[name] = {
            "added": int(new.sum()),
            "unchanged": int((~new & ~changed).sum() + seen.sum()),
            "conflicting": int(len(changed_idx) + shifted.sum()),
        }
        table = DATA_TABLES[name]
        added[name] = aligned[new]
        insert_frame(conn, table, _with_state(added[name], batch_id, CURRENT))
        insert_frame(conn, table, _with_state(pending, batch_id, PENDING))
        insert_frame(conn, table, _with_state(inc[shifted], batch_id, PENDING))
        if len(changed_idx):
            if "row_id" in m:
                conflict = m.iloc[changed_idx][[*identity, "row_id"]].rename(
                    columns={"row_id": "stored_row_id"}
                )
            else:  # compared with the snapshot, which has no row ids
                conflict = m.iloc[changed_idx][identity].copy()
                conflict["stored_row_id"] = _current_row_ids(conn, name, conflict)
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
    return counts, n_rows + len(moved), len(moved), added


def _snapshot_of(conn: Connection, key: str, extra: tuple[str, ...]):
    """The frames of snapshot ``key`` when it is there and sound (:func:`read_snapshot`)."""
    folder = snapshot_folder(conn.engine)
    return None if folder is None else read_snapshot(folder, key, extra, conn)


def _canonical_added(data: ClinicData, added: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The rows a batch added as current, as :class:`store.clinic.GrownClinic` takes them: the
    imported patients' own rows (canonical columns) for the patients table, the stored layout
    without the side effects' ``occurrence`` for the others."""
    out = {
        name: frame.drop(columns=["occurrence"], errors="ignore") for name, frame in added.items()
    }
    patients = data.patients
    out["patients"] = patients[patients["patient_id"].isin(added["patients"]["patient_id"])]
    return out


def _store_follow_up(conn: Connection, data: ClinicData, batch_id: int) -> int:
    """Write the batch's follow-up days of every patient who has them; how many were written.

    Every such patient gets a row, whatever happened to their data rows (added, unchanged or a
    conflict): the value is this export's, and the clinic shows the largest of the active ones.
    """
    patients = data.patients
    if FOLLOW_UP_COLUMN not in patients:
        return 0
    known = patients[patients[FOLLOW_UP_COLUMN].notna()]
    frame = pd.DataFrame(
        {
            "batch_id": np.full(len(known), batch_id, dtype=np.int64),
            "patient_id": known["patient_id"].array,
            "follow_up_days": known[FOLLOW_UP_COLUMN].to_numpy(dtype=np.int64),
        }
    )
    insert_frame(conn, FollowUp.__table__, frame)
    return len(frame)


def _matches_earlier(changed: pd.DataFrame, every: pd.DataFrame, name: str) -> np.ndarray:
    """For each changed incoming row: is it equal to a pending or declined stored row?"""
    identity, compared = IDENTITY[name], compared_columns(name)
    earlier = every[every["state"].isin([PENDING, DECLINED])][[*identity, *compared]]
    if changed.empty or earlier.empty:
        return np.zeros(len(changed), dtype=bool)
    left = changed[[*identity, *compared]].reset_index(drop=True)
    left["_i"] = np.arange(len(left))
    m = left.merge(earlier, on=identity, suffixes=("", "_earlier"))
    right = m[[f"{c}_earlier" for c in compared]].set_axis(compared, axis=1)
    equal = ~differs(m[compared], right, compared, absent_na=False).any(axis=1)
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
        ids = read_rows(conn, name, states=(PENDING,), columns=["row_id", "batch_id", *identity])
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
