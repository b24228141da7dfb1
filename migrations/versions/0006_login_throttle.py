"""Failed sign-ins counted by account and client, for a growing delay instead of a lock.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 18:00:02.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        # SHA-256 of the lower-cased name typed: an unknown name is never stored in clear
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("account", "client"),
    )


def downgrade() -> None:
    op.drop_table("login_throttle")
