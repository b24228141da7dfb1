"""Whether a batch changed the clinic: one that did not (the same export again) keeps the data
version, so the snapshot and the kept per-patient tables stay valid.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 12:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


# A plain ADD/DROP COLUMN, which SQLite (3.35 and later) and PostgreSQL both take in place:
# copying the table, as Alembic's batch mode does, would drop a table other tables' rows refer to.


def upgrade() -> None:
    # batches stored before this revision count as changes, as they did
    op.add_column(
        "batches",
        sa.Column("changes_data", sa.Boolean(), nullable=False, server_default=sa.true()),
    )


def downgrade() -> None:
    op.drop_column("batches", "changes_data")
