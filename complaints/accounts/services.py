"""Staff log-in: argon2id passwords, TOTP as a mandatory second factor, server-side sessions.

A log-in is two steps. The password creates a short *password-stage* session that can do
nothing but finish the log-in (change a temporary password, enrol or enter a TOTP code); the
code replaces it with a full session under a new token. Every outcome is audited; failures
are throttled per client (:mod:`complaints.accounts.throttle`), never by locking the account;
messages never tell an unknown account from a wrong password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

import pyotp
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session, joinedload

from complaints.accounts.models import (
    Account,
    LoginStep,
    Role,
    RoleAssignment,
    RoleSource,
    SessionStage,
    StaffSession,
)
from complaints.accounts.throttle import (
    FailureSummary,
    KnownDevice,
    LoginThrottle,
    failures_since,
    prune_failures,
    record_failure,
    seconds_to_wait,
)
from complaints.audit.models import AuditOutcome
from complaints.audit.services import ANONYMOUS, Actor, record_event
from complaints.crypto.envelope import FieldCipher
from complaints.crypto.keystore import KeyStore, SecretPurpose
from complaints.directory.models import Person

PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 256
TOTP_ISSUER = "Meldpunt Rijk"
TOTP_STEP_SECONDS = 30
PENDING_SESSION_MINUTES = 10
# last_seen_at is written at most this often, so browsing does not write on every request.
SESSION_TOUCH_SECONDS = 60


class LoginFailed(Exception):
    """Generic log-in failure. Carries no reason: the user must not learn which part was wrong.

    ``retry_after`` is how many seconds this client must wait before its next attempt is heard
    (0: at once); it is the same for an unknown account as for a wrong password.
    """

    def __init__(self, retry_after: int = 0) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class LoginThrottled(LoginFailed):
    """Refused unheard: this client must wait ``retry_after`` seconds first."""


class CodeReused(LoginFailed):
    """A right TOTP code that was accepted once already: the user should wait for the next."""


class PasswordRejected(ValueError):
    """A new password that does not meet the policy; ``reason`` is a message key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AccountExists(ValueError):
    pass


@dataclass(frozen=True)
class LoginPolicy:
    throttle: LoginThrottle
    idle_timeout: timedelta
    absolute_timeout: timedelta


@dataclass(frozen=True)
class IssuedSession:
    """A session row and the token for the cookie; the token exists only here and there."""

    record: StaffSession
    token: str


def make_password_hasher(*, memory_kib: int, time_cost: int) -> PasswordHasher:
    """argon2id with the given cost (defaults follow RFC 9106's second recommendation)."""
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=4)


class Passwords:
    """Hashing and verification, with a dummy hash so unknown accounts cost the same time."""

    def __init__(self, hasher: PasswordHasher) -> None:
        self.hasher = hasher
        self._dummy_hash = hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self.hasher.verify(stored_hash or self._dummy_hash, password) and bool(
                stored_hash
            )
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self.hasher.check_needs_rehash(stored_hash)


# Passwords -----------------------------------------------------------------------------------


def check_new_password(password: str, *, login: str) -> None:
    """Length is what matters (NCSC, NIST SP 800-63B); no composition rules."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise PasswordRejected("too_short")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise PasswordRejected("too_long")
    if password.strip().casefold() in {login.casefold(), login.split("@")[0].casefold()}:
        raise PasswordRejected("like_login")
    if len(set(password)) < 4:
        raise PasswordRejected("too_simple")


def temporary_password() -> str:
    """A one-time password for the operator to hand over; it must be changed at first use."""
    return secrets.token_urlsafe(15)


# Accounts ------------------------------------------------------------------------------------


def find_person(session: Session, person_ref: str) -> Person | None:
    """A person by e-mail address or employee number."""
    ref = person_ref.strip()
    return session.scalar(
        sa.select(Person).where(
            sa.or_(sa.func.lower(Person.email) == ref.lower(), Person.employee_number == ref)
        )
    )


def find_account(session: Session, login: str) -> Account | None:
    return session.scalar(sa.select(Account).where(Account.login == login.strip().lower()))


def create_account(
    session: Session,
    keys: KeyStore,
    passwords: Passwords,
    *,
    person: Person,
    password: str,
    must_change_password: bool,
    actor: Actor,
    now: datetime,
) -> Account:
    """A staff account for someone in the directory. TOTP is enrolled at the first log-in."""
    login = person.email.strip().lower()
    if session.scalar(
        sa.select(Account.id).where(sa.or_(Account.person_id == person.id, Account.login == login))
    ):
        raise AccountExists(login)
    check_new_password(password, login=login)
    account = Account(
        person_id=person.id,
        login=login,
        password_hash=passwords.hash(password),
        must_change_password=must_change_password,
        active=True,
        created_at=now,
        password_changed_at=now,
    )
    session.add(account)
    session.flush()
    record_event(
        session,
        keys,
        actor=actor,
        action="account.created",
        now=now,
        object_type="account",
        object_id=account.id,
    )
    return account


def reset_password(
    session: Session,
    keys: KeyStore,
    passwords: Passwords,
    account: Account,
    *,
    new_password: str,
    reset_totp: bool,
    actor: Actor,
    now: datetime,
) -> None:
    """Set a temporary password (to be changed at next log-in) and end all sessions.

    It also ends every wait: throttling counts only failures since the password was set.
    """
    check_new_password(new_password, login=account.login)
    account.password_hash = passwords.hash(new_password)
    account.must_change_password = True
    account.password_changed_at = now
    if reset_totp:
        account.totp_secret = None
        account.totp_confirmed_at = None
        account.totp_last_step = None
    ended = end_all_sessions(session, account.id, reason="password_reset", now=now)
    record_event(
        session,
        keys,
        actor=actor,
        action="account.password_reset",
        now=now,
        object_type="account",
        object_id=account.id,
        details={"totp_reset": reset_totp, "sessions_ended": ended},
    )


def deactivate_account(
    session: Session, keys: KeyStore, account: Account, *, actor: Actor, now: datetime
) -> int:
    """Stop an account from logging in and end its sessions now; returns sessions ended."""
    account.active = False
    account.deactivated_at = now
    ended = end_all_sessions(session, account.id, reason="deactivated", now=now)
    record_event(
        session,
        keys,
        actor=actor,
        action="account.deactivated",
        now=now,
        object_type="account",
        object_id=account.id,
        details={"sessions_ended": ended},
    )
    return ended


def change_password(
    session: Session,
    keys: KeyStore,
    passwords: Passwords,
    account: Account,
    *,
    new_password: str,
    keep_session_id: int | None,
    now: datetime,
) -> None:
    """The account holder's own change: other sessions end, this one stays."""
    check_new_password(new_password, login=account.login)
    if account.password_hash and passwords.verify(account.password_hash, new_password):
        raise PasswordRejected("same_as_old")
    account.password_hash = passwords.hash(new_password)
    account.must_change_password = False
    account.password_changed_at = now
    end_all_sessions(session, account.id, reason="password_changed", now=now, keep=keep_session_id)
    record_event(
        session,
        keys,
        actor=Actor.staff(account.id),
        action="account.password_changed",
        now=now,
        object_type="account",
        object_id=account.id,
    )


# Roles ---------------------------------------------------------------------------------------


def roles_of(session: Session, person_id: int) -> list[RoleAssignment]:
    return list(
        session.scalars(
            sa.select(RoleAssignment)
            .options(joinedload(RoleAssignment.scope_unit))
            .where(RoleAssignment.person_id == person_id)
            .order_by(RoleAssignment.role, RoleAssignment.scope_unit_id)
        )
    )


def assign_role(
    session: Session,
    keys: KeyStore,
    *,
    person: Person,
    role: Role,
    scope_unit_id: int | None,
    actor: Actor,
    now: datetime,
) -> bool:
    """Give a role by hand, kept across directory imports. False if it was given by hand before."""
    existing = session.scalar(
        sa.select(RoleAssignment).where(
            RoleAssignment.person_id == person.id,
            RoleAssignment.role == role,
            RoleAssignment.scope_unit_id.is_(None)
            if scope_unit_id is None
            else RoleAssignment.scope_unit_id == scope_unit_id,
        )
    )
    if existing is not None and existing.source is RoleSource.MANUAL:
        return False
    if existing is not None:
        # Held through the directory until now: given by hand, the next import must keep it.
        existing.source = RoleSource.MANUAL
    else:
        session.add(
            RoleAssignment(
                person_id=person.id,
                role=role,
                scope_unit_id=scope_unit_id,
                source=RoleSource.MANUAL,
                created_at=now,
            )
        )
    record_event(
        session,
        keys,
        actor=actor,
        action="role.assigned",
        now=now,
        object_type="person",
        object_id=person.id,
        details={"role": role.value, "scope_unit_id": scope_unit_id},
    )
    return True


# Log-in --------------------------------------------------------------------------------------


def check_password(
    session: Session,
    keys: KeyStore,
    passwords: Passwords,
    policy: LoginPolicy,
    *,
    login: str,
    password: str,
    client: str,
    device: KnownDevice | None = None,
    now: datetime,
) -> Account:
    """First step of a log-in from ``client`` (its keyed hash). Raises LoginFailed (or
    LoginThrottled, before the password is even checked), the same way whatever went wrong.

    A ``device`` that logged in to this very account before is a client of its own, so
    failures from its address (an attacker in the same office network) do not hold it back.
    """
    login_key = policy.throttle.login_key(login)
    account = find_account(session, login)
    if device is not None and account is not None and device.account_id == account.id:
        client = device.client_key
    attempt = _Attempt(session, keys, policy, account, login_key, client, LoginStep.PASSWORD, now)
    attempt.refuse_if_throttled()
    # Verify even when there is no account, so timing does not reveal which logins exist.
    password_ok = passwords.verify(account.password_hash if account else None, password)
    if account is None:
        attempt.fail("unknown_account")
    elif not account.active:
        attempt.fail("inactive")
    elif not password_ok:
        attempt.fail("bad_password")
    if account.password_hash and passwords.needs_rehash(account.password_hash):
        account.password_hash = passwords.hash(password)
    return account


def confirm_current_password(
    session: Session,
    keys: KeyStore,
    passwords: Passwords,
    policy: LoginPolicy,
    account: Account,
    *,
    password: str,
    client: str,
    now: datetime,
) -> None:
    """The current password asked again in a session (to change it): guessed like a log-in, so
    throttled and counted like one."""
    login_key = policy.throttle.login_key(account.login)
    attempt = _Attempt(session, keys, policy, account, login_key, client, LoginStep.PASSWORD, now)
    attempt.refuse_if_throttled()
    if not passwords.verify(account.password_hash, password):
        attempt.fail("bad_current_password")


class _Attempt:
    """One attempt at one step: the throttle asked first, each failure audited and counted."""

    def __init__(
        self,
        session: Session,
        keys: KeyStore,
        policy: LoginPolicy,
        account: Account | None,
        login_key: str,
        client: str,
        step: LoginStep,
        now: datetime,
    ) -> None:
        self.session, self.keys, self.throttle = session, keys, policy.throttle
        self.account, self.login_key, self.client = account, login_key, client
        self.step, self.now = step, now

    def wait(self) -> int:
        return seconds_to_wait(
            self.session,
            self.throttle,
            login_key=self.login_key,
            client_key=self.client,
            step=self.step,
            counts_since=self.account.password_changed_at if self.account else None,
            now=self.now,
        )

    def refuse_if_throttled(self) -> None:
        if self.wait():
            self._note("throttled", throttled=True)
            # Asked again: the refusal itself counts, and the answer must say the real wait.
            raise LoginThrottled(self.wait())

    def fail(self, reason: str) -> NoReturn:
        self._note(reason, throttled=False)
        # Tell the wait the next attempt will face, so the message can say it now.
        raise LoginFailed(self.wait())

    def _note(self, reason: str, *, throttled: bool, counted: bool = True) -> None:
        account = self.account
        details = {"reason": reason, "step": self.step.value}
        if account is None:
            # A name without an account: the event names nobody, only what happened.
            record_event(
                self.session,
                self.keys,
                actor=ANONYMOUS,
                action="auth.login_failed",
                now=self.now,
                outcome=AuditOutcome.FAILURE,
                details=details,
            )
        else:
            record_event(
                self.session,
                self.keys,
                actor=Actor.staff(account.id),
                action="auth.login_failed",
                now=self.now,
                outcome=AuditOutcome.FAILURE,
                object_type="account",
                object_id=account.id,
                details=details,
            )
        if counted:
            record_failure(
                self.session,
                self.throttle,
                login_key=self.login_key,
                account_id=account.id if account else None,
                client_key=self.client,
                step=self.step,
                throttled=throttled,
                now=self.now,
            )

    def code_reused(self) -> NoReturn:
        # Audited, but not counted: it is the owner's double submit, not a guess.
        self._note("code_reused", throttled=False, counted=False)
        raise CodeReused(0)


def recent_failures(session: Session, account: Account) -> FailureSummary:
    """Failed attempts on the account since the log-in before the current one."""
    return failures_since(session, account.id, account.previous_login_at)


def issue_session(
    session: Session, account: Account, stage: SessionStage, policy: LoginPolicy, now: datetime
) -> IssuedSession:
    token = secrets.token_urlsafe(32)
    lifetime = (
        timedelta(minutes=PENDING_SESSION_MINUTES)
        if stage is SessionStage.PASSWORD
        else policy.absolute_timeout
    )
    record = StaffSession(
        token_hash=_token_hash(token),
        account=account,
        stage=stage,
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
    )
    session.add(record)
    session.flush()
    return IssuedSession(record, token)


def resolve_session(
    session: Session, token: str, stage: SessionStage, policy: LoginPolicy, now: datetime
) -> StaffSession | None:
    """The live session for a cookie token, or None (and the session ended) if it expired."""
    record = session.scalar(
        sa.select(StaffSession)
        .options(joinedload(StaffSession.account).joinedload(Account.person))
        .where(StaffSession.token_hash == _token_hash(token))
    )
    if record is None or record.revoked_at is not None or record.stage is not stage:
        return None
    if not record.account.active:
        end_session(record, "deactivated", now)
        return None
    if now >= record.expires_at:
        end_session(record, "absolute_timeout", now)
        return None
    if stage is SessionStage.FULL and now - record.last_seen_at > policy.idle_timeout:
        end_session(record, "idle_timeout", now)
        return None
    if (now - record.last_seen_at).total_seconds() >= SESSION_TOUCH_SECONDS:
        record.last_seen_at = now
    return record


def end_session(record: StaffSession, reason: str, now: datetime) -> None:
    if record.revoked_at is None:
        record.revoked_at = now
        record.revoke_reason = reason


def end_all_sessions(
    session: Session, account_id: int, *, reason: str, now: datetime, keep: int | None = None
) -> int:
    """End every live session of an account (except ``keep``); returns how many ended."""
    query = sa.update(StaffSession).where(
        StaffSession.account_id == account_id, StaffSession.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(StaffSession.id != keep)
    result = session.execute(
        query.values(revoked_at=now, revoke_reason=reason).execution_options(
            synchronize_session="fetch"
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def live_sessions(session: Session, account_id: int, now: datetime) -> list[StaffSession]:
    return list(
        session.scalars(
            sa.select(StaffSession)
            .where(
                StaffSession.account_id == account_id,
                StaffSession.stage == SessionStage.FULL,
                StaffSession.revoked_at.is_(None),
                StaffSession.expires_at > now,
            )
            .order_by(StaffSession.created_at.desc())
        )
    )


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


# Second factor -------------------------------------------------------------------------------


def _totp_cipher(keys: KeyStore) -> FieldCipher:
    return FieldCipher(keys.secret(SecretPurpose.ACCOUNT_SECRETS))


def begin_totp_enrolment(keys: KeyStore, account: Account) -> str:
    """A new TOTP secret for the account, stored encrypted until the first code confirms it."""
    secret = pyotp.random_base32(length=32)
    account.totp_secret = _totp_cipher(keys).seal_text(
        "accounts", "totp_secret", account.id, secret
    )
    account.totp_confirmed_at = None
    account.totp_last_step = None
    return secret


def totp_secret(keys: KeyStore, account: Account) -> str | None:
    if account.totp_secret is None:
        return None
    return _totp_cipher(keys).open_text("accounts", "totp_secret", account.id, account.totp_secret)


def provisioning_uri(secret: str, login: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=login, issuer_name=TOTP_ISSUER)


def check_totp(
    session: Session,
    keys: KeyStore,
    policy: LoginPolicy,
    account: Account,
    *,
    code: str,
    client: str,
    now: datetime,
) -> None:
    """Second step: accept a current code once (one step of clock drift either way)."""
    login_key = policy.throttle.login_key(account.login)
    attempt = _Attempt(session, keys, policy, account, login_key, client, LoginStep.TOTP, now)
    attempt.refuse_if_throttled()
    secret = totp_secret(keys, account)
    step = _matching_step(secret, code, now) if secret else None
    if not account.active:
        attempt.fail("inactive")
    if step is None:
        attempt.fail("bad_code")
    if step <= (account.totp_last_step or -1):
        attempt.code_reused()
    account.totp_last_step = step
    if account.totp_confirmed_at is None:
        account.totp_confirmed_at = now
        record_event(
            session,
            keys,
            actor=Actor.staff(account.id),
            action="auth.totp_enrolled",
            now=now,
            object_type="account",
            object_id=account.id,
        )


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    code = "".join(ch for ch in code if ch.isdigit())
    if len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // TOTP_STEP_SECONDS
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def complete_login(
    session: Session,
    keys: KeyStore,
    policy: LoginPolicy,
    pending: StaffSession,
    *,
    now: datetime,
) -> IssuedSession:
    """Replace the password-stage session by a full one with a new token (no fixation)."""
    account = pending.account
    end_session(pending, "upgraded", now)
    issued = issue_session(session, account, SessionStage.FULL, policy, now)
    account.previous_login_at = account.last_login_at
    account.last_login_at = now
    # Also pruned on every failure; this covers a quiet spell with no failures at all.
    prune_failures(session, policy.throttle, now)
    record_event(
        session,
        keys,
        actor=Actor.staff(account.id),
        action="auth.login",
        now=now,
        object_type="account",
        object_id=account.id,
    )
    return issued


def role_names(assignments: Iterable[RoleAssignment]) -> set[Role]:
    return {assignment.role for assignment in assignments}
