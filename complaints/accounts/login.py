"""Wiring flask-login to server-side sessions: the cookie carries a session token, not an id."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, abort, current_app, flash, g, redirect, request, url_for
from flask_login import LoginManager, UserMixin, current_user
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from complaints import db
from complaints.accounts.models import Account, Role, SessionStage, StaffSession
from complaints.accounts.services import (
    LoginPolicy,
    Passwords,
    make_password_hasher,
    resolve_session,
    roles_of,
)
from complaints.accounts.throttle import LoginThrottle
from complaints.clock import now
from complaints.settings import Settings
from complaints.web.i18n import _

F = TypeVar("F", bound=Callable[..., Any])


class StaffUser(UserMixin):
    """The logged-in account for one request, with the session it came in on."""

    def __init__(self, record: StaffSession, token: str) -> None:
        self.record = record
        self.account: Account = record.account
        self._token = token

    def get_id(self) -> str:
        return self._token

    @property
    def is_active(self) -> bool:
        return self.account.active

    @property
    def person_id(self) -> int:
        return self.account.person_id


def login_policy() -> LoginPolicy:
    policy: LoginPolicy = current_app.extensions["complaints.login_policy"]
    return policy


def passwords() -> Passwords:
    hashing: Passwords = current_app.extensions["complaints.passwords"]
    return hashing


def staff_user() -> StaffUser:
    """The current staff user, in views behind ``login_required``."""
    return cast(StaffUser, current_user._get_current_object())


def menu_shows(allowed: Callable[[int], bool]) -> bool:
    """Whether a menu item shows for the current user: ``allowed(person_id)`` for a logged-in
    staff user. An error page must still render when the database fails, without the item."""
    if not current_user.is_authenticated:
        return False
    try:
        return allowed(staff_user().person_id)
    except SQLAlchemyError:
        if g.get("rendering_error"):
            return False
        raise


def holds_role(role: Role) -> Callable[[int], bool]:
    """``allowed`` for :func:`menu_shows`: the person holds ``role``."""
    return lambda person_id: any(a.role is role for a in roles_of(db.session(), person_id))


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Refuse (403) accounts without one of ``roles``; use after ``login_required``."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            held = {a.role for a in roles_of(db.session(), staff_user().person_id)}
            if not held.intersection(roles):
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorator


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions["complaints.login_policy"] = LoginPolicy(
        throttle=LoginThrottle(
            # The rate limiter's key: the same keyed identities, no second secret to manage.
            name_key=app.extensions["complaints.ratelimit_key"],
            client_failures=settings.login_max_failures,
            client_total_failures=settings.login_client_max_failures,
            account_slowdown_after=settings.login_account_slowdown_after,
            window=timedelta(minutes=settings.login_lockout_minutes),
            retention=timedelta(days=settings.login_failure_retention_days),
        ),
        idle_timeout=timedelta(minutes=settings.staff_idle_timeout_minutes),
        absolute_timeout=timedelta(hours=settings.staff_absolute_timeout_hours),
    )
    app.extensions["complaints.passwords"] = Passwords(
        make_password_hasher(
            memory_kib=settings.argon2_memory_kib, time_cost=settings.argon2_time_cost
        )
    )

    manager = LoginManager(app)
    manager.session_protection = None  # server-side sessions do this job, without the IP
    # flask-login would otherwise store a hash of IP address and user agent in the cookie.
    manager._session_identifier_generator = lambda: "staff"

    @manager.user_loader
    def load_user(token: str) -> StaffUser | None:
        record = resolve_session(db.session(), token, SessionStage.FULL, login_policy(), now())
        if record is None:
            g.staff_session_ended = True
            return None
        return StaffUser(record, token)

    @manager.unauthorized_handler
    def unauthorized() -> Response:
        if g.get("staff_session_ended"):
            flash(_("Your session has ended. Please log in again."), "info")
        else:
            flash(_("Log in to continue."), "info")
        return redirect(url_for("accounts.login", next=request.path))
