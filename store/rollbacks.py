"""Rolling batches back: remove exactly the rows a batch added and bring back the values it
replaced (the module is plural so that `store.rollback` stays the function)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from store.audit import record_audit
from store.clinic import refresh_snapshot
from store.db import get_engine, write_transaction
from store.models import CURRENT, DATA_TABLES, PENDING, Batch, Conflict, FollowUp
from store.rows import ACTIVE, ROLLED_BACK, TABLES, username_of, utc_now
from store.users import DIRECTOR, User

# undo_batch is shared with store.imports and store.sample, not part of the documented API.
__all__ = ["RollbackResult", "rollback"]


@dataclass(frozen=True)
class RollbackResult:
    """Rows a rollback removed and former values it brought back, per table."""

    batch_id: int
    removed: dict[str, int]
    restored: dict[str, int]


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


def undo_batch(conn: Connection, batch_id: int, user, clock) -> RollbackResult:
    """Undo batch ``batch_id`` inside the caller's transaction ``conn``, without checks or audit.

    Deletes every row the batch added (its follow-up days too, so the largest of the batches
    before it is the patient's again), makes current again the rows it replaced, marks its
    pending conflicts and the batch itself rolled back (by ``user`` at ``clock()``). Used by
    :func:`rollback` and by clearing the sample clinic.
    """
    removed, restored = {}, {}
    for name in TABLES:
        table = DATA_TABLES[name]
        removed[name] = conn.execute(sa.delete(table).where(table.c.batch_id == batch_id)).rowcount
        restored[name] = conn.execute(
            sa.update(table)
            .where(table.c.superseded_by_batch == batch_id)
            .values(state=CURRENT, superseded_by_batch=None)
        ).rowcount
    # Not counted in ``removed``, which counts the data rows the batch added.
    conn.execute(sa.delete(FollowUp).where(FollowUp.batch_id == batch_id))
    conn.execute(
        sa.update(Conflict)
        .where(Conflict.batch_id == batch_id, Conflict.status == PENDING)
        .values(status=ROLLED_BACK)
    )
    conn.execute(
        sa.update(Batch)
        .where(Batch.id == batch_id)
        .values(status=ROLLED_BACK, rolled_back_at=clock(), rolled_back_by=username_of(user))
    )
    return RollbackResult(batch_id, removed, restored)


def rollback(
    batch_id: int,
    user,
    *,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = utc_now,
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
        result = undo_batch(conn, batch_id, user, clock)
        record_audit(
            "rollback",
            user=user,
            detail={"batch_id": batch_id, "rows_removed": sum(result.removed.values())},
            conn=conn,
            clock=clock,
        )
    refresh_snapshot(engine)
    return result
