"""casework: notes, documents, deadline pauses, extensions and reminders, referrals

Internal notes and procedure documents (hearing reports, witness statements, advice, decisions,
letters), all encrypted; deadlines that pause, are extended and are reminded of; cases that
point back to the case they were referred from.

Revision ID: ea904448cab7
Revises: d8546f660e06
Create Date: 2026-11-30 13:36:19.707324
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ea904448cab7"
down_revision: str | None = "d8546f660e06"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_documents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "hearing_report",
                "witness_statement",
                "advice",
                "decision",
                "letter",
                name="documentkind",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("template", sa.String(length=40), nullable=True),
        sa.Column("author_person_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.LargeBinary(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("restricted_identity", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_person_id"],
            ["people.id"],
            name=op.f("fk_case_documents_author_person_id_people"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_documents_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_documents")),
    )
    with op.batch_alter_table("case_documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_documents_case_id"), ["case_id", "created_at"], unique=False
        )

    op.create_table(
        "case_notes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("author_person_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_person_id"],
            ["people.id"],
            name=op.f("fk_case_notes_author_person_id_people"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_notes_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_notes")),
    )
    with op.batch_alter_table("case_notes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_notes_case_id"), ["case_id", "created_at"], unique=False
        )

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("referred_from_id", sa.Uuid(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_cases_referred_from_id"), ["referred_from_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_cases_referred_from_id_cases"),
            "cases",
            ["referred_from_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("deadlines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("extensions", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("overdue_reminded_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("deadlines", schema=None) as batch_op:
        batch_op.drop_column("overdue_reminded_at")
        batch_op.drop_column("reminded_at")
        batch_op.drop_column("extensions")
        batch_op.drop_column("paused_at")

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_cases_referred_from_id_cases"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_cases_referred_from_id"))
        batch_op.drop_column("referred_from_id")

    with op.batch_alter_table("case_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_notes_case_id"))

    op.drop_table("case_notes")
    with op.batch_alter_table("case_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_documents_case_id"))

    op.drop_table("case_documents")
