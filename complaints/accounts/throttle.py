"""Log-in throttling that nobody can turn against the account holder.

A hard per-account lock-out lets anyone who knows a name (counsellors' names are public on the
form) keep its owner out. So the waits here are keyed by *who is trying*, never by the account
alone:

- **Per (log-in name, client)**: after ``client_failures`` failures from one client on one name
  within the window, that client waits, 30 s doubling per further failure, at most the window.
  Refused attempts count too, so hammering keeps the client waiting.
- **Per client, across names** (password spraying): after ``client_total_failures`` failures
  from one client on any names, it waits the same way for every name.
- **Per account, a slow-down**: once a name has had ``account_slowdown_after`` failures from
  all clients together, every client that has itself failed on that name waits between
  attempts, 1 s doubling per further failure and never more than :data:`ACCOUNT_SLOWDOWN_CAP`.
  A client that has not failed is never held back: the owner with the right password and code
  from another client gets in at once.
- **Per account, for codes only**: after :data:`CODE_FAILURES_PER_ACCOUNT` wrong TOTP codes from
  all clients together, every client waits at the code step, as a failing client does. Only
  someone who had the right password can get there, so this cannot be used to keep out an
  owner whose password is safe, while it stops guessing codes from many addresses; a new
  password ends it.

An unknown log-in name is throttled exactly like a real one (the key is a keyed hash of the name
as typed), so the waits do not tell which accounts exist. A client is the rate limiter's keyed
hash of its address (:func:`complaints.web.limits.client_key`); no address is stored. Failures
are also what the account holder sees on the account page, so they are kept for
``retention`` (rows for names without an account only for the window) and pruned on every write.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.accounts.models import LoginFailure, LoginStep

# The per-account slow-down never keeps anyone out longer than this: it is what an attacker
# with many addresses can do to the owner at worst, so it is a constant, not a setting.
ACCOUNT_SLOWDOWN_CAP = timedelta(seconds=60)
ACCOUNT_SLOWDOWN_BASE = timedelta(seconds=1)
CLIENT_BACKOFF_BASE = timedelta(seconds=30)
# Wrong codes on one account, from anywhere, before the code step waits for everyone.
CODE_FAILURES_PER_ACCOUNT = 10
# 2**20 times any base is far beyond every cap; stops a huge count from overflowing.
_MAX_EXPONENT = 20


@dataclass(frozen=True)
class LoginThrottle:
    """The throttling rules' parameters, from the settings, and the key that hides names."""

    name_key: bytes
    client_failures: int
    client_total_failures: int
    account_slowdown_after: int
    window: timedelta
    retention: timedelta

    def login_key(self, login: str) -> str:
        """A keyed hash of the log-in name as the log-in form normalises it."""
        name = login.strip().lower().encode()
        return hmac.new(self.name_key, b"login-name:" + name, hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class KnownDevice:
    """A browser that logged in to ``account_id`` before (complaints/accounts/devices.py): on
    that account it is throttled as ``client_key``, not as its address."""

    account_id: int
    client_key: str


@dataclass(frozen=True)
class FailureSummary:
    """Failed attempts on one account in a period, as the account holder sees them."""

    attempts: int
    clients: int
    first_at: datetime | None
    last_at: datetime | None
    # Per client, anonymous: attempts, first and last, most attempts first.
    by_client: tuple[tuple[int, datetime, datetime], ...]
    # Wrong codes: whoever made them had the right password.
    wrong_codes: int


def _backoff(count: int, over: int, base: timedelta, cap: timedelta) -> timedelta:
    factor: int = 2 ** min(count - over, _MAX_EXPONENT)
    return min(cap, base * factor)


def seconds_to_wait(
    session: Session,
    throttle: LoginThrottle,
    *,
    login_key: str,
    client_key: str,
    step: LoginStep,
    counts_since: datetime | None,
    now: datetime,
) -> int:
    """Whole seconds this client must wait before an attempt on this name is heard (0: now).

    ``counts_since`` drops failures from before that moment (the password was set anew
    since: they were guesses at a password that no longer exists).
    """
    since = now - throttle.window
    if counts_since is not None and counts_since > since:
        since = counts_since
    recent = sa.and_(LoginFailure.login_key == login_key, LoginFailure.at > since)
    pair_count, pair_last = session.execute(
        sa.select(sa.func.count(), sa.func.max(LoginFailure.at)).where(
            recent, LoginFailure.client_key == client_key
        )
    ).one()
    name_count = session.scalar(sa.select(sa.func.count()).where(recent)) or 0
    client_count, client_last = session.execute(
        sa.select(sa.func.count(), sa.func.max(LoginFailure.at)).where(
            LoginFailure.client_key == client_key, LoginFailure.at > now - throttle.window
        )
    ).one()

    until = now
    if pair_count >= throttle.client_failures:
        until = max(
            until,
            pair_last
            + _backoff(pair_count, throttle.client_failures, CLIENT_BACKOFF_BASE, throttle.window),
        )
    if client_count >= throttle.client_total_failures:
        until = max(
            until,
            client_last
            + _backoff(
                client_count, throttle.client_total_failures, CLIENT_BACKOFF_BASE, throttle.window
            ),
        )
    # Only a client that has failed on this name is slowed down: never the owner elsewhere.
    if pair_count and name_count >= throttle.account_slowdown_after:
        until = max(
            until,
            pair_last
            + _backoff(
                name_count,
                throttle.account_slowdown_after,
                ACCOUNT_SLOWDOWN_BASE,
                ACCOUNT_SLOWDOWN_CAP,
            ),
        )
    if step is LoginStep.TOTP:
        code_count, code_last = session.execute(
            sa.select(sa.func.count(), sa.func.max(LoginFailure.at)).where(
                recent, LoginFailure.step == LoginStep.TOTP, LoginFailure.throttled.is_(False)
            )
        ).one()
        if code_count >= CODE_FAILURES_PER_ACCOUNT:
            until = max(
                until,
                code_last
                + _backoff(
                    code_count, CODE_FAILURES_PER_ACCOUNT, CLIENT_BACKOFF_BASE, throttle.window
                ),
            )
    return math.ceil((until - now).total_seconds())


def record_failure(
    session: Session,
    throttle: LoginThrottle,
    *,
    login_key: str,
    account_id: int | None,
    client_key: str,
    step: LoginStep,
    throttled: bool,
    now: datetime,
) -> None:
    """Note one failed or refused attempt, and prune what is no longer needed."""
    session.add(
        LoginFailure(
            login_key=login_key,
            account_id=account_id,
            client_key=client_key,
            step=step,
            throttled=throttled,
            at=now,
        )
    )
    prune_failures(session, throttle, now)
    session.flush()


def prune_failures(session: Session, throttle: LoginThrottle, now: datetime) -> int:
    """Delete failures past ``retention``, and those on unknown names past the window."""
    result = session.execute(
        sa.delete(LoginFailure)
        .where(
            sa.or_(
                LoginFailure.at < now - throttle.retention,
                sa.and_(LoginFailure.account_id.is_(None), LoginFailure.at < now - throttle.window),
            )
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def failures_since(session: Session, account_id: int, since: datetime | None) -> FailureSummary:
    """Failed attempts on an account after ``since`` (all that are kept if None)."""
    query = sa.select(
        LoginFailure.client_key,
        sa.func.count(),
        sa.func.min(LoginFailure.at),
        sa.func.max(LoginFailure.at),
    ).where(LoginFailure.account_id == account_id)
    if since is not None:
        query = query.where(LoginFailure.at > since)
    rows = session.execute(query.group_by(LoginFailure.client_key)).all()
    codes = sa.select(sa.func.count()).where(
        LoginFailure.account_id == account_id,
        LoginFailure.step == LoginStep.TOTP,
        LoginFailure.throttled.is_(False),
    )
    if since is not None:
        codes = codes.where(LoginFailure.at > since)
    by_client = tuple(
        sorted(((n, first, last) for _key, n, first, last in rows), key=lambda r: (-r[0], r[1]))
    )
    return FailureSummary(
        attempts=sum(r[0] for r in by_client),
        clients=len(by_client),
        first_at=min((r[1] for r in by_client), default=None),
        last_at=max((r[2] for r in by_client), default=None),
        by_client=by_client,
        wrong_codes=session.scalar(codes) or 0,
    )
