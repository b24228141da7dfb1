"""Conflicts of a batch: the list, the values on each side, and the decisions.

A changed value arrives ``pending`` beside the stored one (:mod:`store.imports`). "replace" makes
the incoming value current and keeps the old one as history; "keep" marks the incoming one
``declined``, so that importing the same export again is not a conflict again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.audit import record_audit
from store.clinic import refresh_snapshot
from store.db import get_engine, write_transaction
from store.models import CURRENT, DATA_TABLES, DECLINED, PENDING, REPLACED, Batch, Conflict
from store.rows import ACTIVE, TABLES, username_of, utc_now
from store.users import DIRECTOR, User

__all__ = [
    "KEEP",
    "REPLACE",
    "ResolveResult",
    "conflict_detail",
    "list_conflicts",
    "resolve_conflicts",
]

REPLACE = "replace"
KEEP = "keep"


@dataclass(frozen=True)
class ResolveResult:
    """How many conflicts of a batch were replaced and kept."""

    batch_id: int
    replaced: int
    kept: int


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
    clock: Callable[[], datetime] = utc_now,
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
        who = username_of(user)
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
