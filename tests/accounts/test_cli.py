"""``flask --app wsgi users create | reset-password | deactivate | list``."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import Flask

from complaints.accounts.login import login_policy
from complaints.accounts.models import Account, Role, RoleAssignment, SessionStage, StaffSession
from complaints.accounts.services import issue_session
from complaints.audit.models import AuditEvent
from tests.conftest import Clock, app_session
from tests.factories import csrf_token, make_org, make_person


@pytest.fixture
def person_email(committed_app: Flask, clock: Clock) -> str:
    with app_session(committed_app) as session:
        org = make_org(session, clock(), code="BZK")
        person = make_person(session, org.directorate, clock(), name="Tim Groen")
        return person.email


def _invoke(app: Flask, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=list(args), input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_create_prints_a_temporary_password_once(committed_app: Flask, person_email: str) -> None:
    code, output = _invoke(
        committed_app, "users", "create", person_email, "--role", "admin", "--role", "confidant@BZK"
    )
    assert code == 0, output
    match = re.search(
        r"temporary password \(shown once, to be changed at first log-in\): (\S+)", output
    )
    assert match
    temporary = match.group(1)
    with app_session(committed_app) as session:
        account = session.scalar(sa.select(Account).where(Account.login == person_email))
        assert account is not None
        assert account.must_change_password
        assert temporary not in (account.password_hash or "")
        roles = {
            (r.role, r.scope_unit_id is None) for r in session.scalars(sa.select(RoleAssignment))
        }
        assert roles == {(Role.ADMIN, True), (Role.CONFIDANT, False)}
        actions = list(session.scalars(sa.select(AuditEvent.action)))
        assert "account.created" in actions
        assert temporary not in str([e.details for e in session.scalars(sa.select(AuditEvent))])
    again_code, again = _invoke(committed_app, "users", "create", person_email)
    assert again_code != 0
    assert "already has an account" in again


def test_create_refuses_unknown_people_and_roles(committed_app: Flask, person_email: str) -> None:
    code, output = _invoke(committed_app, "users", "create", "nobody@example.org")
    assert code != 0
    assert "nobody in the directory" in output
    code, output = _invoke(committed_app, "users", "create", person_email, "--role", "emperor")
    assert code != 0
    assert "unknown role" in output
    code, output = _invoke(
        committed_app, "users", "create", person_email, "--password-stdin", stdin="short\n"
    )
    assert code != 0
    assert "too_short" in output
    with app_session(committed_app) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Account)) == 0


def test_reset_password_and_deactivate_end_sessions(
    committed_app: Flask, person_email: str, clock: Clock
) -> None:
    assert (
        _invoke(
            committed_app,
            "users",
            "create",
            person_email,
            "--password-stdin",
            stdin="een heel goed wachtwoord\n",
        )[0]
        == 0
    )
    with app_session(committed_app) as session:
        account = session.scalar(sa.select(Account).where(Account.login == person_email))
        assert account is not None
        assert not account.must_change_password
        issue_session(session, account, SessionStage.FULL, login_policy(), clock())
    code, output = _invoke(
        committed_app, "users", "reset-password", person_email.upper(), "--reset-totp"
    )
    assert code == 0, output
    assert "temporary password (shown once)" in output
    with app_session(committed_app) as session:
        assert (
            session.scalar(sa.select(sa.func.count()).where(StaffSession.revoked_at.is_(None))) == 0
        )
        issue_session(
            session,
            session.scalars(sa.select(Account)).one(),
            SessionStage.FULL,
            login_policy(),
            clock(),
        )
    code, output = _invoke(committed_app, "users", "deactivate", person_email)
    assert code == 0
    assert "1 session(s) ended" in output
    with app_session(committed_app) as session:
        account = session.scalars(sa.select(Account)).one()
        assert not account.active
        assert (
            session.scalar(sa.select(sa.func.count()).where(StaffSession.revoked_at.is_(None))) == 0
        )
    code, output = _invoke(committed_app, "users", "list")
    assert code == 0
    assert person_email in output
    assert "deactivated" in output
    assert _invoke(committed_app, "users", "deactivate", "nobody@example.org")[0] != 0


def test_reset_password_ends_every_wait(
    committed_app: Flask, person_email: str, clock: Clock
) -> None:
    """The operator's "unlock": after a reset the temporary password works at once, even from
    the client that was made to wait."""
    _invoke(committed_app, "users", "create", person_email)
    clock.advance(minutes=1)
    client = committed_app.test_client()

    def attempt(password: str) -> tuple[int, str]:
        page = client.get("/aanmelden")
        response = client.post(
            "/aanmelden",
            data={"email": person_email, "password": password, "csrf_token": csrf_token(page)},
        )
        return response.status_code, response.get_data(as_text=True)

    for i in range(6):
        attempt(f"wrong password {i:02}")
    status, html = attempt("wrong password again")
    assert status == 200
    assert "Te veel mislukte pogingen" in html  # the client waits, up to 15 minutes
    code, output = _invoke(
        committed_app,
        "users",
        "reset-password",
        person_email,
        "--password-stdin",
        stdin="een tijdelijk wachtwoord\n",
    )
    assert code == 0, output
    clock.advance(seconds=1)
    status, _html = attempt("een tijdelijk wachtwoord")
    assert status == 303
