"""Follow-up sessions: short, server-side, and separate from staff sessions."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from complaints.db import Base, BigIntId


class ComplainantSession(Base):
    __tablename__ = "complainant_sessions"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    # SHA-256 of the random token in the cookie; neither the token nor the receipt is stored.
    token_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32), unique=True)
    case_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
