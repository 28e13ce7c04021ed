"""The notification outbox. A row holds who, what kind and a few plain values, never content."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from complaints.db import Base, BigIntId


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after the configured number of attempts


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (sa.Index(None, "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    recipient_person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    # The case the e-mail is about: its params name the case, so they go when the case goes
    # (the retention sweep deletes them, and the cascade catches any other deletion).
    case_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(40))
    # A case reference and dates: values a template places in fixed sentences.
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    status: Mapped[NotificationStatus]
    attempts: Mapped[int] = mapped_column(default=0)
    # The kind of error only (e.g. "SMTPRecipientsRefused"): server replies can echo addresses.
    last_error: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
