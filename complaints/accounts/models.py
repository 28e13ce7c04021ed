"""Staff accounts, their roles, and their server-side sessions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from complaints.db import Base, BigIntId
from complaints.directory.models import OrgUnit, Person


class Role(StrEnum):
    """Functional roles. Being a line manager is not a role: the directory says who manages whom."""

    CONFIDANT = "confidant"
    INTEGRITY_COORDINATOR = "integrity_coordinator"
    COMMITTEE_SECRETARY = "committee_secretary"
    COMMITTEE_MEMBER = "committee_member"
    AUDITOR = "auditor"
    PRIVACY_OFFICER = "privacy_officer"
    ADMIN = "admin"


class RoleSource(StrEnum):
    DIRECTORY = "directory"  # set by the directory import; the next import may change it
    MANUAL = "manual"  # set by an administrator; the import leaves it alone


class RoleAssignment(Base):
    __tablename__ = "role_assignments"
    __table_args__ = (sa.UniqueConstraint("person_id", "role", "scope_unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role]
    # The organisation the role serves (a ministry, say); none means government-wide.
    scope_unit_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("org_units.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[RoleSource]
    created_at: Mapped[datetime]

    scope_unit: Mapped[OrgUnit | None] = relationship(lazy="raise")


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("people.id", ondelete="RESTRICT"), unique=True
    )
    # Log-in name: the e-mail address, lower-cased.
    login: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    must_change_password: Mapped[bool] = mapped_column(default=True)
    # Encrypted with the key store's account-secrets key; bound to this row.
    totp_secret: Mapped[bytes | None] = mapped_column(sa.LargeBinary(128))
    totp_confirmed_at: Mapped[datetime | None]
    # The last TOTP time step accepted, so a code cannot be used twice.
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    failed_attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    deactivated_at: Mapped[datetime | None]

    person: Mapped[Person] = relationship(lazy="raise")


class SessionStage(StrEnum):
    PASSWORD = "password"  # noqa: S105 - password accepted; second factor still to come
    FULL = "full"  # fully logged in


class StaffSession(Base):
    """A log-in, held on the server so that log-out, deactivation and timeouts really end it."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    # SHA-256 of the random token in the cookie; the token itself is never stored.
    token_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32), unique=True)
    account_id: Mapped[int] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[SessionStage]
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str | None] = mapped_column(sa.String(40))

    account: Mapped[Account] = relationship(lazy="raise")
