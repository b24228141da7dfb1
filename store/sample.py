"""The synthetic sample clinic: loaded on a first start, cleared by a director or a first import."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.audit import record_audit
from store.clinic import refresh_snapshot
from store.db import get_engine, write_transaction
from store.imports import file_records, store_batch
from store.models import Batch
from store.rollbacks import undo_batch
from store.rows import ACTIVE, SAMPLE, SYSTEM, utc_now
from store.users import DIRECTOR, User

__all__ = ["clear_sample", "ensure_sample", "sample_loaded"]


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
    clock: Callable[[], datetime] = utc_now,
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
    return store_batch(
        engine,
        result.data,
        user=SYSTEM,
        kind=SAMPLE,
        records=file_records(files, result),
        options=ImportOptions(),
        problems=tuple(result.problems),
        clock=clock,
    ).batch_id


def clear_sample(
    user, *, engine: Engine | None = None, clock: Callable[[], datetime] = utc_now
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
            undo_batch(conn, batch_id, user, clock)
            record_audit(
                "sample_cleared", user=user, detail={"batch_id": batch_id}, conn=conn, clock=clock
            )
    if ids:
        refresh_snapshot(engine)
    return len(ids)
