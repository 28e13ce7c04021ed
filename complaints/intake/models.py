"""Drafts of reports being written. Encrypted with a key that only the writer's browser holds.

A draft row is useless without the cookie of the person writing it: the server stores the
ciphertext, the browser the key. Drafts expire after a few hours and are then deleted.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from complaints.db import Base


class IntakeDraft(Base):
    __tablename__ = "intake_drafts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    payload: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class DraftAttachment(Base):
    __tablename__ = "intake_draft_attachments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    draft_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("intake_drafts.id", ondelete="CASCADE"), index=True
    )
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int]
    name: Mapped[bytes] = mapped_column(sa.LargeBinary)
    body: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)
    created_at: Mapped[datetime]
