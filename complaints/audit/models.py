"""Audit events. They hold ids and references, never case content or receipt codes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from complaints.db import Base, BigIntId


class ActorKind(StrEnum):
    STAFF = "staff"  # a logged-in staff account (actor_id = account id)
    COMPLAINANT = "complainant"  # someone holding a receipt code (actor_id = case reference)
    OPERATOR = "operator"  # a CLI command (actor_id = the operating-system user)
    SYSTEM = "system"  # scheduled work
    ANONYMOUS = "anonymous"  # an unauthenticated request


class AuditOutcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (sa.Index(None, "object_type", "object_id"),)

    seq: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    actor_kind: Mapped[ActorKind]
    actor_id: Mapped[str | None] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    outcome: Mapped[AuditOutcome]
    object_type: Mapped[str | None] = mapped_column(sa.String(32))
    object_id: Mapped[str | None] = mapped_column(sa.String(64))
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))


class AuditCheckpoint(Base):
    """Where the audit chain starts after its oldest events were destroyed by retention.

    The first remaining event must follow ``hash``; so deleting more events from the start, or
    any other change, is still found by the chain's verification.
    """

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    through_seq: Mapped[int] = mapped_column(sa.BigInteger)
    hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime]
