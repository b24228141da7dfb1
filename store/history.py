"""The import history: every batch with its counts, and everything recorded about one."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.db import get_engine
from store.models import PENDING, Batch, Conflict

__all__ = ["batch_details", "list_batches"]


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
