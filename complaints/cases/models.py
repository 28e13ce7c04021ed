"""The case record. Columns typed ``bytes`` hold AES-GCM ciphertext under the case's data key.

In clear, only what routing, deadlines, statistics and retention need: route, state, category,
grounds, ministry, disclosure level, timestamps, outcome.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
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
    # Keyed hash of the filer's directory id, when a logged-in employee filed under their name,
    # so "my reports" can find the case without storing who filed it in clear.
    complainant_index: Mapped[bytes | None] = mapped_column(sa.LargeBinary(32), index=True)
    # Committee route: the incident is more than a year old (may be overridden by the committee).
    out_of_term: Mapped[bool] = mapped_column(default=False)
    # Optimistic locking: a change made from a stale copy fails instead of overwriting.
    version: Mapped[int] = mapped_column(default=1)
    # A referral creates a new case on the new route; it points back to the case it came from.
    referred_from_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="SET NULL"), index=True
    )
    # The complainant switched check-ins after closing off (complaints.checkins).
    checkins_stopped_at: Mapped[datetime | None]

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
    # How to reach a witness, as the complainant wrote it.
    contact: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime]


class CaseAccessGrant(Base):
    """Who may open a case, in which capacity. Revoked grants are kept for the record."""

    __tablename__ = "case_access_grants"
    __table_args__ = (
        sa.Index(None, "person_id", "revoked_at"),
        # The inbox: someone's active grants, read from the index alone.
        sa.Index(
            "ix_case_access_grants_active",
            "person_id",
            "case_id",
            postgresql_where=sa.text("revoked_at IS NULL"),
            sqlite_where=sa.text("revoked_at IS NULL"),
        ),
    )

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


class AuthorKind(StrEnum):
    COMPLAINANT = "complainant"
    HANDLER = "handler"
    SYSTEM = "system"


RUNNING = "met_at IS NULL AND cancelled_at IS NULL AND paused_at IS NULL"


class Deadline(Base):
    """A statutory clock on a case, as configured in workflow.toml. Due is a day (Amsterdam)."""

    __tablename__ = "deadlines"
    __table_args__ = (
        sa.UniqueConstraint("case_id", "name"),
        sa.Index(None, "due_on", "met_at"),
        # The inbox: a case's next running deadline, from a small index of the running ones.
        sa.Index(
            "ix_deadlines_running",
            "case_id",
            "due_on",
            "name",
            postgresql_where=sa.text(RUNNING),
            sqlite_where=sa.text(RUNNING),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(40))
    started_at: Mapped[datetime]
    due_on: Mapped[date]
    met_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    # Stopped while the clock does not run (committee mediation); due_on moves on when it resumes.
    paused_at: Mapped[datetime | None]
    # Statutory extensions taken (committee decision: one of four weeks with notice).
    extensions: Mapped[int] = mapped_column(default=0, server_default="0")
    # Reminders e-mailed to the handlers: once before the day, once when overdue.
    reminded_at: Mapped[datetime | None]
    overdue_reminded_at: Mapped[datetime | None]


class Attachment(Base):
    """A file added to a case. Name and body are encrypted; type and size are not."""

    __tablename__ = "attachments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    added_by: Mapped[AuthorKind]
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int]
    name: Mapped[bytes] = mapped_column(sa.LargeBinary)
    # Loaded only when asked for: lists of attachments must not pull every file into memory.
    body: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)
    created_at: Mapped[datetime]


class Message(Base):
    """A message between the complainant and the handler(s)."""

    __tablename__ = "messages"
    __table_args__ = (sa.Index(None, "case_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"))
    author_kind: Mapped[AuthorKind]
    author_person_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("people.id", ondelete="SET NULL")
    )
    body: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime]
    # When the other side first saw it (handler for complainant messages and vice versa).
    read_at: Mapped[datetime | None]
    # An outcome: the workflow step whose to_complainant text this message carries, so the
    # mailbox can say in the reader's language what it is (the decision, the feedback).
    event_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("case_events.id", ondelete="SET NULL")
    )


class ConsentKind(StrEnum):
    REFERRAL = "referral"  # the confidant may refer the report to another route
    SHARE_IDENTITY = "share_identity"  # the handler may tell those who must act who filed
    MEDIATION = "mediation"  # committee: try mediation first (the clock pauses)
    EXTENSION = "extension"  # committee: decide later than the statutory extension allows


class Consent(Base):
    """A consent the complainant gave (or withdrew). History is kept: one row per grant."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[ConsentKind]
    given_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]
    # None: given by the complainant in the mailbox; else the handler who recorded it.
    recorded_by_person_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("people.id", ondelete="SET NULL")
    )
    # What exactly was agreed (scope, or how and when consent was given in person): encrypted.
    details: Mapped[bytes | None] = mapped_column(sa.LargeBinary)


class CaseNote(Base):
    """An internal note of the handlers. Never shown to the complainant."""

    __tablename__ = "case_notes"
    __table_args__ = (sa.Index(None, "case_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"))
    author_person_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("people.id", ondelete="SET NULL")
    )
    body: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime]


class DocumentKind(StrEnum):
    HEARING_REPORT = "hearing_report"  # committee: report of a hearing
    WITNESS_STATEMENT = "witness_statement"  # committee: a witness, possibly anonymous
    ADVICE = "advice"  # committee: advice to the competent authority
    DECISION = "decision"  # the competent authority's decision
    LETTER = "letter"  # a letter generated from a template (acknowledgement, decision, ...)


class CaseDocument(Base):
    """A document of the procedure. Title and body are encrypted; ``visibility`` limits who of
    those with a grant may read it (an anonymous witness's identity: the committee only)."""

    __tablename__ = "case_documents"
    __table_args__ = (sa.Index(None, "case_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[DocumentKind]
    # Template name for letters (e.g. "acknowledgement"); free for others.
    template: Mapped[str | None] = mapped_column(sa.String(40))
    author_person_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("people.id", ondelete="SET NULL")
    )
    title: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    body: Mapped[bytes] = mapped_column(sa.LargeBinary)
    # Who the document is about or from, when only the committee may know (anonymous witness).
    restricted_identity: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime]
