"""Stat events: one countable fact each, with no case id and no time finer than a quarter."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from complaints.db import Base, BigIntId


class StatEvent(Base):
    __tablename__ = "stat_events"
    __table_args__ = (sa.Index(None, "quarter", "kind"),)

    # Random ids: a sequence would betray the order of filing and so link back to cases.
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(sa.String(32))
    quarter: Mapped[str] = mapped_column(sa.String(7))  # "2026-Q1"
    organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("org_units.id", ondelete="RESTRICT")
    )
    category: Mapped[str] = mapped_column(sa.String(40))
    grounds: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    route: Mapped[str] = mapped_column(sa.String(20))
    disclosure: Mapped[str] = mapped_column(sa.String(20))
    outcome: Mapped[str | None] = mapped_column(sa.String(40))
    days_taken: Mapped[int | None]
    deadline: Mapped[str | None] = mapped_column(sa.String(40))
    deadline_met: Mapped[bool | None]


class ApiToken(Base):
    """A bearer token with which an auditor's scripts read the statistics API (read-only).

    Only a SHA-256 of the token is stored; the token itself is shown once, when it is made.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32), unique=True)
    label: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class StatSnapshot(Base):
    """The protected tables of one kind and one year that is over, kept once computed.

    A year that is over no longer changes, so its protected set is computed once and read back
    by every worker instead of being protected again. ``algorithm`` names the protection's
    version: a change to the protection leaves older snapshots unused.
    """

    __tablename__ = "stat_snapshots"
    __table_args__ = (sa.UniqueConstraint("kind", "year", "k", "algorithm"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    year: Mapped[int]
    k: Mapped[int]
    algorithm: Mapped[int]
    # {"values": [[cell id, count], ...], "suppressed": [cell id, ...], "keys": {dim: [...]}}
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_at: Mapped[datetime]
