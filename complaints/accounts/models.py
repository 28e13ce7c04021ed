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
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    # The log-in before the last one: the account page shows failed attempts since then.
    previous_login_at: Mapped[datetime | None]
    deactivated_at: Mapped[datetime | None]

    person: Mapped[Person] = relationship(lazy="raise")


class LoginStep(StrEnum):
    PASSWORD = "password"  # noqa: S105 - the step of a log-in, not a secret
    TOTP = "totp"


class LoginFailure(Base):
    """One failed or refused log-in attempt, for throttling and for the account holder to see.

    Keyed by keyed hashes only: ``login_key`` of the log-in name as typed (so an unknown name
    is throttled exactly like a real one) and ``client_key`` of the client (the rate limiter's
    hash of the address, or of a known-device cookie). No address, no name as typed.
    """

    __tablename__ = "login_failures"
    __table_args__ = (
        sa.Index("ix_login_failures_login_key_at", "login_key", "at"),
        sa.Index("ix_login_failures_client_key_at", "client_key", "at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    login_key: Mapped[str] = mapped_column(sa.String(32))
    # None for a log-in name without an account: such rows live only as long as the throttle
    # needs them.
    account_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    client_key: Mapped[str] = mapped_column(sa.String(32))
    step: Mapped[LoginStep]
    # Refused unheard because the client had to wait; the password or code was not checked.
    throttled: Mapped[bool]
    at: Mapped[datetime] = mapped_column(index=True)


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
