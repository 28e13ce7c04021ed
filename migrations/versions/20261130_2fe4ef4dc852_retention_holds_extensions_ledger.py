"""retention: legal holds, extensions, reminders sent, the destruction ledger, audit checkpoints

The ledger holds references, rule names, dates and counts only; an audit checkpoint is where
the audit chain starts after retention destroyed its oldest events.

Revision ID: 2fe4ef4dc852
Revises: ea904448cab7
Create Date: 2026-11-30 16:52:25.174110
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2fe4ef4dc852"
down_revision: str | None = "ea904448cab7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("through_seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
    )
    op.create_table(
        "retention_ledger",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=True),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("records", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_ledger")),
    )
    with op.batch_alter_table("retention_ledger", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_retention_ledger_occurred_at"), ["occurred_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_retention_ledger_subject"), ["subject", "rule"], unique=False
        )

    op.create_table(
        "retention_extensions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("extended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_retention_extensions_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_retention_extensions_person_id_people"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_extensions")),
        sa.UniqueConstraint("case_id", name=op.f("uq_retention_extensions_case_id")),
    )
    op.create_table(
        "retention_holds",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("placed_by_person_id", sa.Integer(), nullable=True),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by_person_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_retention_holds_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lifted_by_person_id"],
            ["people.id"],
            name=op.f("fk_retention_holds_lifted_by_person_id_people"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["placed_by_person_id"],
            ["people.id"],
            name=op.f("fk_retention_holds_placed_by_person_id_people"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_holds")),
    )
    with op.batch_alter_table("retention_holds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_retention_holds_case_id"), ["case_id"], unique=False)

    op.create_table(
        "retention_reminders",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_retention_reminders_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_reminders")),
        sa.UniqueConstraint(
            "case_id", "rule", "due_on", name=op.f("uq_retention_reminders_case_id_rule_due_on")
        ),
    )


def downgrade() -> None:
    op.drop_table("retention_reminders")
    with op.batch_alter_table("retention_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_retention_holds_case_id"))

    op.drop_table("retention_holds")
    op.drop_table("retention_extensions")
    with op.batch_alter_table("retention_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_retention_ledger_subject"))
        batch_op.drop_index(batch_op.f("ix_retention_ledger_occurred_at"))

    op.drop_table("retention_ledger")
    op.drop_table("audit_checkpoints")
