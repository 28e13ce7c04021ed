"""A check-in: one question to the complainant, some months after their case was closed.

The rows hold dates and links only, never what was asked or answered (those are the case's
messages, encrypted under its key). They belong to the case and go when it goes.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from complaints.db import Base, BigIntId


class CheckIn(Base):
    __tablename__ = "checkins"
    __table_args__ = (
        # One check-in per month of one closing (a case that reopens and closes again gets
        # new ones, counted from the new closing).
        sa.UniqueConstraint("case_id", "closed_at", "months"),
        sa.Index(None, "due_on", "sent_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    # Months after the closing it counts from (``checkin_months`` of the route).
    months: Mapped[int]
    closed_at: Mapped[datetime]
    # The day it is due (Amsterdam calendar).
    due_on: Mapped[date]
    # When the handlers were reminded by e-mail that it is due (once).
    reminded_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    sent_by_person_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("people.id", ondelete="SET NULL")
    )
    # The handler's message the question was sent as (gone if retention removed the messages).
    message_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("messages.id", ondelete="SET NULL")
    )
    answered_at: Mapped[datetime | None]
    # The answer reported retaliation ...
    retaliation_at: Mapped[datetime | None]
    # ... and, on a "linked" route, filed this case for it.
    linked_case_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="SET NULL"), index=True
    )
