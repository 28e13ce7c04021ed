"""API tokens for the statistics API: made and revoked by an auditor, stored only as a hash.

A token is shown once, when it is made. The database keeps its SHA-256, so a token is found by
looking up the hash of what a client presents: no stored secret is ever compared character by
character, and a copy of the database holds nothing that opens the API.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.accounts.models import Account, Role
from complaints.accounts.services import roles_of
from complaints.audit.services import Actor, record_event
from complaints.crypto.keystore import KeyStore
from complaints.stats.models import ApiToken

TOKEN_DAYS = 90
TOKEN_PREFIX = "kst_"  # noqa: S105 - recognisable in a secret scanner and in a leaked log line
LABEL_LENGTH = 100
# A presented token longer than this is not one of ours; refuse it before hashing.
MAX_PRESENTED_LENGTH = 200
# Writing last_used_at on every call would turn each read into a write; once a minute is enough.
LAST_USED_GRANULARITY = timedelta(minutes=1)


class TokenRefused(Exception):
    """A token could not be made or revoked; ``reason`` is one of the module's constants."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


NO_LABEL = "no_label"
LABEL_TOO_LONG = "label_too_long"
UNKNOWN_TOKEN = "unknown_token"  # noqa: S105 - a reason code
ALREADY_REVOKED = "already_revoked"


class TokenStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class IssuedToken:
    record: ApiToken
    token: str  # shown once; never stored


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def status_of(record: ApiToken, now: datetime) -> TokenStatus:
    if record.revoked_at is not None:
        return TokenStatus.REVOKED
    if record.expires_at <= now:
        return TokenStatus.EXPIRED
    return TokenStatus.ACTIVE


def create_token(
    session: Session, keys: KeyStore, account: Account, *, label: str, now: datetime
) -> IssuedToken:
    """Make a token for ``account`` valid for :data:`TOKEN_DAYS` days; audited without it."""
    label = label.strip()
    if not label:
        raise TokenRefused(NO_LABEL)
    if len(label) > LABEL_LENGTH:
        raise TokenRefused(LABEL_TOO_LONG)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        account_id=account.id,
        token_hash=token_hash(token),
        label=label,
        created_at=now,
        expires_at=now + timedelta(days=TOKEN_DAYS),
    )
    session.add(record)
    session.flush()
    record_event(
        session,
        keys,
        actor=Actor.staff(account.id),
        action="stats.api_token_created",
        object_type="api_token",
        object_id=record.id,
        details={"expires_at": record.expires_at.isoformat()},
        now=now,
    )
    return IssuedToken(record, token)


def revoke_token(
    session: Session, keys: KeyStore, account: Account, token_id: int, *, now: datetime
) -> ApiToken:
    """Revoke one of ``account``'s own tokens. Someone else's token is as unknown as none."""
    record = session.scalar(
        sa.select(ApiToken).where(ApiToken.id == token_id, ApiToken.account_id == account.id)
    )
    if record is None:
        raise TokenRefused(UNKNOWN_TOKEN)
    if record.revoked_at is not None:
        raise TokenRefused(ALREADY_REVOKED)
    record.revoked_at = now
    session.flush()
    record_event(
        session,
        keys,
        actor=Actor.staff(account.id),
        action="stats.api_token_revoked",
        object_type="api_token",
        object_id=record.id,
        now=now,
    )
    return record


def tokens_of(session: Session, account_id: int) -> Sequence[ApiToken]:
    """The account's tokens, newest first (revoked and expired ones too, for the record)."""
    return session.scalars(
        sa.select(ApiToken)
        .where(ApiToken.account_id == account_id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ).all()


def active_token(session: Session, presented: str, *, now: datetime) -> ApiToken | None:
    """The unrevoked, unexpired token whose hash matches ``presented``, or None."""
    if not presented.startswith(TOKEN_PREFIX) or len(presented) > MAX_PRESENTED_LENGTH:
        return None
    record = session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == token_hash(presented)))
    if record is None or status_of(record, now) is not TokenStatus.ACTIVE:
        return None
    if record.last_used_at is None or now - record.last_used_at >= LAST_USED_GRANULARITY:
        record.last_used_at = now
    return record


def may_read_statistics(session: Session, account: Account) -> bool:
    """Whether the token's account may still read: active, and still an auditor."""
    if not account.active:
        return False
    return any(a.role is Role.AUDITOR for a in roles_of(session, account.person_id))
