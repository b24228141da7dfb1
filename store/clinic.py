"""The clinic as stored: :func:`load_clinic` (through the columnar snapshot) and its version."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import aliased

from analytics.core.contract import (
    FOLLOW_UP_COLUMN,
    PATIENT_BASE_COLUMNS,
    ClinicData,
    empty_clinic,
)
from store.db import get_engine
from store.models import PENDING, REPLACED, Batch, Conflict, FollowUp
from store.rows import ACTIVE, ROLLED_BACK, TABLES, read_rows, value_columns
from store.snapshot import (
    prune_snapshots,
    read_snapshot,
    snapshot_folder,
    snapshot_key,
    write_snapshot,
)

__all__ = [
    "GrownClinic",
    "active_extra_columns",
    "data_version",
    "follow_up_days",
    "load_clinic",
    "refresh_snapshot",
]

logger = logging.getLogger(__name__)


def data_version(engine: Engine | None = None) -> str:
    """A token that changes whenever the clinic's data does (a cache key for the UI).

    A batch that left the clinic as it was (``changes_data`` false: the same export imported
    again) does not change it, so what was worked out for the clinic stays valid.
    """
    with (engine or get_engine()).connect() as conn:
        last_batch, rolled = conn.execute(
            sa.select(
                sa.func.max(Batch.id).filter(Batch.changes_data.is_(True)),
                sa.func.count().filter(Batch.status == ROLLED_BACK),
            )
        ).one()
        resolved = conn.execute(
            sa.select(sa.func.count()).select_from(Conflict).where(Conflict.status != PENDING)
        ).scalar_one()
    return f"{last_batch or 0}-{rolled}-{resolved}"


def load_clinic(engine: Engine | None = None, *, snapshot: bool = True) -> ClinicData:
    """The clinic as stored: the current rows of every table, as :class:`ClinicData`.

    Returns exactly the frames the importer produced (same columns, dtypes and order) for a
    single import; after several, rows sort by patient, day and arrival. ``has_sessions`` and
    ``months_kept`` are true when any active batch had sessions or kept months; the extra
    patient columns are those of the active batches, in upload order. A patient's
    ``follow_up_days`` is the largest of the active batches' (:func:`follow_up_days`), NA when
    none had it.

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
            extra = _extra_columns(columns for _, _, columns in batches)
            frames = None
            if folder is not None:
                key = snapshot_key(conn)
                frames = read_snapshot(folder, key, tuple(extra), conn)
            fresh = frames is None
            if fresh:
                frames = _load_frames(conn, extra)
    if fresh and folder is not None:
        written = write_snapshot(folder, key, frames, tuple(extra), engine)
        if written is not None and _current_key(engine) == key:
            prune_snapshots(folder, keep=key, engine=engine)
    return ClinicData(
        patients=frames["patients"],
        sessions=frames["sessions"],
        assessments=frames["assessments"],
        side_effects=frames["side_effects"],
        has_sessions=any(b.has_sessions for b in batches),
        months_kept=any(b.months_kept for b in batches),
        extra_patient_columns=tuple(extra),
    )


def _extra_columns(per_batch) -> list[str]:
    """The extra patient columns of the active batches, in upload order, each once."""
    extra: list[str] = []
    for columns in per_batch:
        extra += [c for c in columns if c not in extra]
    return extra


def active_extra_columns(conn: Connection) -> list[str]:
    """The clinic's extra patient columns as the active batches recorded them, in upload order."""
    rows = conn.execute(
        sa.select(Batch.extra_patient_columns).where(Batch.status == ACTIVE).order_by(Batch.id)
    ).scalars()
    return _extra_columns(rows)


def _current_key(engine: Engine) -> str:
    with engine.connect() as conn, conn.begin():
        return snapshot_key(conn)


def _load_frames(conn: Connection, extra: list[str]) -> dict[str, pd.DataFrame]:
    """The canonical frames read through SQL: current rows, sorted, bookkeeping dropped."""
    out = {}
    for name in TABLES:
        frame = read_rows(conn, name, columns=["row_id", *value_columns(name)])
        if name == "patients":
            frame = frame.sort_values(["patient_id"], kind="stable")
        else:
            frame = frame.sort_values(["patient_id", "day", "row_id"], kind="stable")
        frame = frame.reset_index(drop=True)
        if name == "patients":
            frame[FOLLOW_UP_COLUMN] = _follow_up_of(frame["patient_id"], follow_up_days(conn))
            out[name] = _with_attributes(frame, extra)
        else:
            out[name] = frame.drop(columns=["row_id", "occurrence"], errors="ignore")
    return out


def follow_up_days(conn: Connection) -> pd.DataFrame:
    """Each patient's follow-up days: the largest value any active batch stored.

    One ``GROUP BY`` over ``follow_up`` joined to the active batches. Later exports have later
    data cutoffs, so the largest is the newest; a rolled-back batch no longer counts, which
    brings back the value before it. Follow-up counts from day 0, so a value only counts while
    the patient's stored days are the ones its export had: not a batch's own value while its
    patient-level conflict (another day 0) waits or was kept, nor an earlier batch's once such a
    conflict was replaced. Columns ``patient_id`` (string) and ``follow_up_days`` (Int64), one
    row per patient who has any.
    """
    # Patient-level conflicts of active batches, grouped first so that both are joined on
    # equal keys (hash joins, or SQLite's automatic indexes), never scanned per row.
    conflict_batch = aliased(Batch)
    patient_conflicts = (
        sa.select(Conflict.batch_id, Conflict.patient_id, Conflict.status)
        .join(conflict_batch, conflict_batch.id == Conflict.batch_id)
        .where(Conflict.kind == "patient", conflict_batch.status == ACTIVE)
        .subquery()
    )
    # A batch whose other day 0 waits or was kept: its own value does not count.
    undecided = (
        sa.select(patient_conflicts.c.batch_id, patient_conflicts.c.patient_id)
        .where(patient_conflicts.c.status != REPLACED)
        .distinct()
        .subquery()
    )
    # The last batch whose day 0 replaced the stored one: earlier values do not count.
    rebased = (
        sa.select(
            patient_conflicts.c.patient_id, sa.func.max(patient_conflicts.c.batch_id).label("since")
        )
        .where(patient_conflicts.c.status == REPLACED)
        .group_by(patient_conflicts.c.patient_id)
        .subquery()
    )
    query = (
        sa.select(FollowUp.patient_id, sa.func.max(FollowUp.follow_up_days))
        .join(Batch, Batch.id == FollowUp.batch_id)
        .outerjoin(
            undecided,
            sa.and_(
                undecided.c.batch_id == FollowUp.batch_id,
                undecided.c.patient_id == FollowUp.patient_id,
            ),
        )
        .outerjoin(rebased, rebased.c.patient_id == FollowUp.patient_id)
        .where(
            Batch.status == ACTIVE,
            undecided.c.patient_id.is_(None),
            sa.or_(rebased.c.since.is_(None), FollowUp.batch_id >= rebased.c.since),
        )
        .group_by(FollowUp.patient_id)
    )
    rows = conn.execute(query).all()
    ids, days = zip(*rows) if rows else ((), ())
    return pd.DataFrame(
        {
            "patient_id": pd.array(ids, dtype="string"),
            FOLLOW_UP_COLUMN: pd.array(days, dtype="Int64"),
        }
    )


def _follow_up_of(patient_id: pd.Series, follow_up: pd.DataFrame) -> pd.Series:
    """``follow_up``'s days for each of ``patient_id``, in its order (NA for a patient without)."""
    position = pd.Index(follow_up["patient_id"]).get_indexer(patient_id)
    days = follow_up[FOLLOW_UP_COLUMN].array.take(position, allow_fill=True)
    return pd.Series(days, index=patient_id.index, dtype="Int64")


@dataclass(frozen=True)
class GrownClinic:
    """What one batch did to the current rows: it added ``added`` and changed nothing else.

    Attributes
    ----------
    key : str
        :func:`store.snapshot.snapshot_key` before the batch.
    extra : tuple of str
        The clinic's extra patient columns before the batch (:func:`active_extra_columns`).
    batch_id : int
        The batch.
    added : dict of str to DataFrame
        The rows the batch stored as current, per table, in the order they were inserted (so in
        ``row_id`` order): the stored layout for sessions, assessments and side effects, the
        canonical one (the importer's columns) for patients.
    """

    key: str
    extra: tuple[str, ...]
    batch_id: int
    added: dict[str, pd.DataFrame] = field(repr=False)


def refresh_snapshot(
    engine: Engine | None = None,
    *,
    stored: ClinicData | None = None,
    grown: GrownClinic | None = None,
) -> None:
    """Write the snapshot of the current data now, so the next :func:`load_clinic` is quick.

    Called after every commit that changes the clinic's data. Best effort: a failure is logged
    and the next load reads SQL (and tries to write the snapshot again).

    Parameters
    ----------
    stored : ClinicData, optional
        The clinic exactly as the commit left it, when the caller knows it (the first import
        into an empty store stores the imported clinic as it is): the snapshot is written from
        it instead of being read back through SQL, which at 100,000 patients is most of an
        import's time. Ignored when another commit came first.
    grown : GrownClinic, optional
        What the last batch added to the clinic, when that is all it changed (an import that
        replaced no sample): the snapshot is the one before it with those rows merged in, so
        a monthly export costs what it adds rather than a read of every stored row. Ignored
        when another commit came first or the earlier snapshot is not there or not sound.
    """
    engine = engine or get_engine()
    folder = snapshot_folder(engine)
    if folder is None:
        return
    try:
        if stored is not None and _snapshot_from(engine, folder, stored):
            return
        if grown is not None and _snapshot_grown(engine, folder, grown):
            return
        load_clinic(engine)
    except Exception as error:  # noqa: BLE001 - the data is committed; the snapshot is optional
        logger.warning("could not refresh the clinic snapshot: %s", error)


def _snapshot_from(engine: Engine, folder, stored: ClinicData) -> bool:
    """Write the snapshot of ``stored``, the clinic as the last commit left it; False when the
    store has moved on since (another batch, rollback or decision) or it could not be written."""
    with engine.connect() as conn, conn.begin():
        active = conn.execute(
            sa.select(sa.func.count()).select_from(Batch).where(Batch.status == ACTIVE)
        ).scalar_one()
        key = snapshot_key(conn)
    if active != 1:
        return False  # the single batch is the one that stored ``stored``
    frames = {name: getattr(stored, name) for name in TABLES}
    extra = tuple(stored.extra_patient_columns)
    if write_snapshot(folder, key, frames, extra, engine) is None:
        return False
    if _current_key(engine) == key:
        prune_snapshots(folder, keep=key, engine=engine)
    return True


def _snapshot_grown(engine: Engine, folder, grown: GrownClinic) -> bool:
    """Write the snapshot of the clinic as ``grown.batch_id`` left it: the snapshot before it
    with the added rows merged in; False when that cannot be done (see :func:`refresh_snapshot`).

    The frames come out as :func:`load_clinic` reads them through SQL: rows sorted by patient,
    day and ``row_id`` (the earlier rows are sorted so already, and the added ones follow them
    in insertion order, so a stable sort by patient and day keeps ``row_id`` order), the
    follow-up days read again (a later export raises them), the extra patient columns those of
    every active batch.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            last = conn.execute(sa.select(sa.func.max(Batch.id))).scalar_one()
            if last != grown.batch_id:
                return False  # another batch came after this one
            key = snapshot_key(conn)
            extra = active_extra_columns(conn)
            before = read_snapshot(folder, grown.key, grown.extra, conn)
            if before is None:
                return False
            follow_up = follow_up_days(conn)
    frames = {}
    for name in TABLES:
        old, new = before[name], grown.added[name]
        if name == "patients":
            columns = [*PATIENT_BASE_COLUMNS, FOLLOW_UP_COLUMN, *extra]
            new = new.reindex(columns=columns)
            old = old.reindex(columns=columns)
            for column in columns:
                # the importer's dtypes are the snapshot's; extra columns are text (as read
                # back from the stored attributes)
                dtype = "string" if column in extra else old[column].dtype
                old[column] = old[column].astype(dtype)
                new[column] = new[column].astype(dtype)
            merged = pd.concat([old, new], ignore_index=True).sort_values(
                ["patient_id"], kind="stable"
            )
            merged = merged.reset_index(drop=True)
            merged[FOLLOW_UP_COLUMN] = _follow_up_of(merged["patient_id"], follow_up)
        else:
            new = new[list(old.columns)].astype(old.dtypes.to_dict())
            merged = pd.concat([old, new], ignore_index=True)
            merged = merged.sort_values(["patient_id", "day"], kind="stable")
            merged = merged.reset_index(drop=True)
        frames[name] = merged
    if write_snapshot(folder, key, frames, tuple(extra), engine) is None:
        return False
    if _current_key(engine) == key:
        prune_snapshots(folder, keep=key, engine=engine)
    return True


def _with_attributes(patients: pd.DataFrame, extra: list[str]) -> pd.DataFrame:
    base = patients[[*PATIENT_BASE_COLUMNS, FOLLOW_UP_COLUMN]].copy()
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
