"""notifications belong to their case

An e-mail in the outbox names its case (a reference in its parameters); with ``case_id`` it is
destroyed with the case by the retention sweep, and the cascade removes it on any other
deletion. Existing rows are linked by their reference; a row whose case is gone already is
deleted, since its reference is all that was left of that case.

Revision ID: 3c4f9a7e21b6
Revises: 5b7e0c1d2a93
Create Date: 2026-12-07 02:48:19.995679
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c4f9a7e21b6"
down_revision: str | None = "5b7e0c1d2a93"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Per dialect: link each row to the case its parameters name; delete a row whose case is gone.
LINK = {
    "postgresql": (
        "UPDATE notifications SET case_id = (SELECT cases.id FROM cases "
        "WHERE cases.reference = notifications.params->>'reference')",
        "DELETE FROM notifications WHERE case_id IS NULL AND params->>'reference' IS NOT NULL",
    ),
    "sqlite": (
        "UPDATE notifications SET case_id = (SELECT cases.id FROM cases "
        "WHERE cases.reference = json_extract(notifications.params, '$.reference'))",
        "DELETE FROM notifications "
        "WHERE case_id IS NULL AND json_extract(params, '$.reference') IS NOT NULL",
    ),
}


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("case_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_notifications_case_id"), ["case_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_notifications_case_id_cases"),
            "cases",
            ["case_id"],
            ["id"],
            ondelete="CASCADE",
        )
    for statement in LINK[op.get_bind().dialect.name]:
        op.execute(sa.text(statement))


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_notifications_case_id_cases"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_notifications_case_id"))
        batch_op.drop_column("case_id")
