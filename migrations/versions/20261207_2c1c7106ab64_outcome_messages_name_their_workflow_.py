"""outcome messages name their workflow step

A message that carries a step's to_complainant text (the integrity feedback, the decision)
points to the case event of that step, so the mailbox can say what it is in the reader's
language. Existing messages are ordinary messages: the column stays empty.

Revision ID: 2c1c7106ab64
Revises: 19384f70246a
Create Date: 2026-12-07 15:39:02.423726
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2c1c7106ab64"
down_revision: str | None = "19384f70246a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_messages_event_id_case_events"),
            "case_events",
            ["event_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_messages_event_id_case_events"), type_="foreignkey")
        batch_op.drop_column("event_id")
