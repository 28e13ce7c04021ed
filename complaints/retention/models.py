"""Legal holds, extensions, reminders sent, and the destruction ledger.

The ledger outlives the cases it describes, so it holds references, rule names, dates and
counts, never a name, a text or a case id that could be joined to anything else.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from complaints.db import Base, BigIntId

# Room for a reason such as "Court case C/09/612345, request of legal affairs of 3 March".
REASON_LENGTH = 300


class RetentionHold(Base):
    """A legal hold: the case is not destroyed or redacted while the hold stands."""

    __tablename__ = "retention_holds"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(sa.String(REASON_LENGTH))
    # The last day the hold stands; none: until it is lifted.
    until: Mapped[date | None]
    placed_at: Mapped[datetime]
    placed_by_person_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("people.id", ondelete="SET NULL")
    )
    lifted_at: Mapped[datetime | None]
    lifted_by_person_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("people.id", ondelete="SET NULL")
    )


class RetentionExtension(Base):
    """A handler's one extension of a case's retention, by the period its rule allows."""

    __tablename__ = "retention_extensions"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    # Unique: a case is extended once.
    case_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="CASCADE"), unique=True
    )
    rule: Mapped[str] = mapped_column(sa.String(40))
    reason: Mapped[str] = mapped_column(sa.String(REASON_LENGTH))
    extended_at: Mapped[datetime]
    person_id: Mapped[int | None] = mapped_column(sa.ForeignKey("people.id", ondelete="SET NULL"))


class RetentionReminder(Base):
    """A reminder sent to the handlers before a case is destroyed or redacted; once per due day."""

    __tablename__ = "retention_reminders"
    __table_args__ = (sa.UniqueConstraint("case_id", "rule", "due_on"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(sa.String(40))
    due_on: Mapped[date]
    sent_at: Mapped[datetime]


class LedgerAction:
    DESTROYED = "destroyed"
    REDACTED = "redacted"
    KEY_DESTROYED = "key_destroyed"  # an epoch KEK, after the sweep of its day


class LedgerEntry(Base):
    """Proof of one destruction or redaction: what kind of records and how many, by which rule."""

    __tablename__ = "retention_ledger"
    __table_args__ = (sa.Index(None, "subject", "rule"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    # The policy day the sweep ran for (``--as-of``), which may differ from occurred_at.
    as_of: Mapped[date]
    # case, draft, session, notification, audit or key
    category: Mapped[str] = mapped_column(sa.String(20))
    # The case reference, the epoch key id, or none for records destroyed in bulk.
    subject: Mapped[str | None] = mapped_column(sa.String(64))
    rule: Mapped[str] = mapped_column(sa.String(40))
    action: Mapped[str] = mapped_column(sa.String(20))
    # {"attachments": 2, "messages": 5, ...}: kinds of records and how many.
    records: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
