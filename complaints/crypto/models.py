"""Key slots: the only place a case's data key is stored, always wrapped."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from complaints.db import Base, BigIntId


class KeySlotKind(StrEnum):
    KEK = "kek"  # wrapped by a key-encryption key from the key store
    RECIPIENT = "recipient"  # sealed to a handler's public key (zero-access mode, later)
    COMPLAINANT = "complainant"  # derived from the receipt code (zero-access mode, later)


class KeySlot(Base):
    __tablename__ = "key_slots"
    __table_args__ = (sa.UniqueConstraint("case_id", "kind", "holder"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[KeySlotKind]
    # Who can open this slot: "store" for KEK slots, an account id for recipient slots.
    holder: Mapped[str] = mapped_column(sa.String(64))
    key_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    wrapped_key: Mapped[bytes] = mapped_column(sa.LargeBinary(128))
    created_at: Mapped[datetime]
    rewrapped_at: Mapped[datetime | None]
