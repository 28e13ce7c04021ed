"""intake: deadlines, attachments, messages, consents, drafts, follow-up, outbox, stat events

What filing and following up a report need; cases gain the complainant index (for "my
reports"), the out-of-term flag, and witnesses a contact field.

Revision ID: d8546f660e06
Revises: 72e5a4cd469e
Create Date: 2026-11-22 04:57:28.564588
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d8546f660e06"
down_revision: str | None = "72e5a4cd469e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intake_drafts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_drafts")),
    )
    with op.batch_alter_table("intake_drafts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_intake_drafts_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "intake_draft_attachments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("draft_id", sa.Uuid(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("name", sa.LargeBinary(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["draft_id"],
            ["intake_drafts.id"],
            name=op.f("fk_intake_draft_attachments_draft_id_intake_drafts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_draft_attachments")),
    )
    with op.batch_alter_table("intake_draft_attachments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_intake_draft_attachments_draft_id"), ["draft_id"], unique=False
        )

    op.create_table(
        "stat_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("quarter", sa.String(length=7), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("grounds", sa.JSON(), nullable=False),
        sa.Column("route", sa.String(length=20), nullable=False),
        sa.Column("disclosure", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.Column("days_taken", sa.Integer(), nullable=True),
        sa.Column("deadline", sa.String(length=40), nullable=True),
        sa.Column("deadline_met", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["org_units.id"],
            name=op.f("fk_stat_events_organisation_id_org_units"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stat_events")),
    )
    with op.batch_alter_table("stat_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stat_events_quarter"), ["quarter", "kind"], unique=False
        )

    op.create_table(
        "attachments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column(
            "added_by",
            sa.Enum(
                "complainant", "handler", "system", name="authorkind", native_enum=False, length=40
            ),
            nullable=False,
        ),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("name", sa.LargeBinary(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_attachments_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attachments_case_id"), ["case_id"], unique=False)

    op.create_table(
        "complainant_sessions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_complainant_sessions_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complainant_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_complainant_sessions_token_hash")),
    )
    with op.batch_alter_table("complainant_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_complainant_sessions_case_id"), ["case_id"], unique=False
        )

    op.create_table(
        "consents",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "referral",
                "share_identity",
                "mediation",
                "extension",
                name="consentkind",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_by_person_id", sa.Integer(), nullable=True),
        sa.Column("details", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_consents_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_person_id"],
            ["people.id"],
            name=op.f("fk_consents_recorded_by_person_id_people"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consents_case_id"), ["case_id"], unique=False)

    op.create_table(
        "deadlines",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("met_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_deadlines_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadlines")),
        sa.UniqueConstraint("case_id", "name", name=op.f("uq_deadlines_case_id_name")),
    )
    with op.batch_alter_table("deadlines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deadlines_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_deadlines_due_on"), ["due_on", "met_at"], unique=False)

    op.create_table(
        "messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column(
            "author_kind",
            sa.Enum(
                "complainant", "handler", "system", name="authorkind", native_enum=False, length=40
            ),
            nullable=False,
        ),
        sa.Column("author_person_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_person_id"],
            ["people.id"],
            name=op.f("fk_messages_author_person_id_people"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_messages_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_messages_case_id"), ["case_id", "created_at"], unique=False
        )

    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("recipient_person_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending", "sent", "failed", name="notificationstatus", native_enum=False, length=40
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["recipient_person_id"],
            ["people.id"],
            name=op.f("fk_notifications_recipient_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notifications_recipient_person_id"),
            ["recipient_person_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_notifications_status"), ["status", "next_attempt_at"], unique=False
        )

    with op.batch_alter_table("case_parties", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact", sa.LargeBinary(), nullable=True))

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("complainant_index", sa.LargeBinary(length=32), nullable=True)
        )
        # Existing cases were filed in term; the default only fills them, then goes.
        batch_op.add_column(
            sa.Column("out_of_term", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.alter_column("out_of_term", server_default=None)
        batch_op.create_index(
            batch_op.f("ix_cases_complainant_index"), ["complainant_index"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_complainant_index"))
        batch_op.drop_column("out_of_term")
        batch_op.drop_column("complainant_index")

    with op.batch_alter_table("case_parties", schema=None) as batch_op:
        batch_op.drop_column("contact")

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_status"))
        batch_op.drop_index(batch_op.f("ix_notifications_recipient_person_id"))

    op.drop_table("notifications")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_case_id"))

    op.drop_table("messages")
    with op.batch_alter_table("deadlines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deadlines_due_on"))
        batch_op.drop_index(batch_op.f("ix_deadlines_case_id"))

    op.drop_table("deadlines")
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consents_case_id"))

    op.drop_table("consents")
    with op.batch_alter_table("complainant_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_complainant_sessions_case_id"))

    op.drop_table("complainant_sessions")
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachments_case_id"))

    op.drop_table("attachments")
    with op.batch_alter_table("stat_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stat_events_quarter"))

    op.drop_table("stat_events")
    with op.batch_alter_table("intake_draft_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_draft_attachments_draft_id"))

    op.drop_table("intake_draft_attachments")
    with op.batch_alter_table("intake_drafts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_drafts_expires_at"))

    op.drop_table("intake_drafts")
