"""The case record. Columns typed ``bytes`` hold AES-GCM ciphertext under the case's data key.

In clear, only what routing, deadlines, statistics and retention need: route, state, category,
grounds, ministry, disclosure level, timestamps, outcome.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from complaints.db import Base, BigIntId


class Route(StrEnum):
    MANAGER = "manager"
    CONFIDANT = "confidant"
    INTEGRITY = "integrity"
    COMMITTEE = "committee"


class Disclosure(StrEnum):
    ANONYMOUS = "anonymous"  # nobody learns who filed
    CONFIDENTIAL = "confidential"  # only the handler learns who filed
    NAMED = "named"  # the complainant's name may be used in the procedure


class PartyKind(StrEnum):
    ACCUSED = "accused"
    WITNESS = "witness"


class GrantRole(StrEnum):
    MANAGER = "manager"
    CONFIDANT = "confidant"
    INTEGRITY_COORDINATOR = "integrity_coordinator"
    COMMITTEE_SECRETARY = "committee_secretary"
    COMMITTEE_MEMBER = "committee_member"


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    reference: Mapped[str] = mapped_column(sa.String(24), unique=True)
    route: Mapped[Route] = mapped_column(index=True)
    state: Mapped[str] = mapped_column(sa.String(40), index=True)
    category: Mapped[str] = mapped_column(sa.String(40))
    grounds: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # Ministry-level organisation only: a unit lower down could identify the complainant.
    organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("org_units.id", ondelete="RESTRICT"), index=True
    )
    disclosure: Mapped[Disclosure]
    outcome: Mapped[str | None] = mapped_column(sa.String(40))
    submitted_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    # Keyed hash of the receipt code; the code itself is never stored.
    receipt_index: Mapped[bytes | None] = mapped_column(sa.LargeBinary(32), unique=True)
    # Optimistic locking: a change made from a stale copy fails instead of overwriting.
    version: Mapped[int] = mapped_column(default=1)

    description: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    incident_period: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    incident_place: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    desired_outcome: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    complainant: Mapped[bytes | None] = mapped_column(sa.LargeBinary)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class CaseParty(Base):
    """Someone named in a case. Who stays encrypted; blind indexes allow the conflict check."""

    __tablename__ = "case_parties"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[PartyKind]
    person_index: Mapped[bytes | None] = mapped_column(sa.LargeBinary(32), index=True)
    name_index: Mapped[bytes | None] = mapped_column(sa.LargeBinary(32), index=True)
    person_ref: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    name: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    relation_to_complainant: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime]


class CaseAccessGrant(Base):
    """Who may open a case, in which capacity. Revoked grants are kept for the record."""

    __tablename__ = "case_access_grants"
    __table_args__ = (sa.Index(None, "person_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id", ondelete="RESTRICT"))
    role: Mapped[GrantRole]
    granted_at: Mapped[datetime]
    granted_by_person_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("people.id", ondelete="SET NULL")
    )
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str | None] = mapped_column(sa.String(40))


class CaseEvent(Base):
    """One step in a case's history: submitted, state changed, referred, and so on."""

    __tablename__ = "case_events"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    occurred_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(sa.String(40))
    from_state: Mapped[str | None] = mapped_column(sa.String(40))
    to_state: Mapped[str | None] = mapped_column(sa.String(40))
    actor_person_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("people.id", ondelete="SET NULL")
    )
    # Free text (a reason, a remark) is case content and therefore encrypted.
    remark: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
