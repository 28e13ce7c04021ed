"""check-ins after closing

One row per check-in a closed case is due (months after closing, reminded, sent as which
message, answered, retaliation reported, the linked case filed for it), destroyed with the case;
and the complainant's switch that stops them, on the case. Cases closed before this revision
get no check-ins: they are planned when a case closes.

Revision ID: e4a2d5988324
Revises: 2c1c7106ab64
Create Date: 2026-12-08 00:22:05.461278
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e4a2d5988324"
down_revision: str | None = "2c1c7106ab64"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "checkins",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_by_person_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retaliation_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("linked_case_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_checkins_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["linked_case_id"],
            ["cases.id"],
            name=op.f("fk_checkins_linked_case_id_cases"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_checkins_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sent_by_person_id"],
            ["people.id"],
            name=op.f("fk_checkins_sent_by_person_id_people"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkins")),
        sa.UniqueConstraint(
            "case_id", "closed_at", "months", name=op.f("uq_checkins_case_id_closed_at_months")
        ),
    )
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_checkins_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_checkins_due_on"), ["due_on", "sent_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_checkins_linked_case_id"), ["linked_case_id"], unique=False
        )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("checkins_stopped_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("checkins_stopped_at")
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkins_linked_case_id"))
        batch_op.drop_index(batch_op.f("ix_checkins_due_on"))
        batch_op.drop_index(batch_op.f("ix_checkins_case_id"))
    op.drop_table("checkins")
