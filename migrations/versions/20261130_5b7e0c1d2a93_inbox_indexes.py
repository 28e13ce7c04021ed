"""inbox: partial indexes for someone's active grants and a case's running deadlines

With 100,000 cases the inbox read every grant row of the handler from the table and every
deadline of each case; both now come from small indexes (bench/inbox.py).

Revision ID: 5b7e0c1d2a93
Revises: d90701a591bb
Create Date: 2026-11-30 20:25:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b7e0c1d2a93"
down_revision: str | None = "d90701a591bb"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "revoked_at IS NULL"
RUNNING = "met_at IS NULL AND cancelled_at IS NULL AND paused_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("case_access_grants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_case_access_grants_active",
            ["person_id", "case_id"],
            unique=False,
            postgresql_where=sa.text(ACTIVE),
            sqlite_where=sa.text(ACTIVE),
        )
    with op.batch_alter_table("deadlines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deadlines_running",
            ["case_id", "due_on", "name"],
            unique=False,
            postgresql_where=sa.text(RUNNING),
            sqlite_where=sa.text(RUNNING),
        )


def downgrade() -> None:
    with op.batch_alter_table("deadlines", schema=None) as batch_op:
        batch_op.drop_index("ix_deadlines_running")
    with op.batch_alter_table("case_access_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_case_access_grants_active")
