"""Log-in rules: passwords, lock-out, TOTP, and server-side sessions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from complaints.accounts.login import login_policy, passwords
from complaints.accounts.models import Account, SessionStage, StaffSession
from complaints.accounts.services import (
    LoginFailed,
    PasswordRejected,
    change_password,
    check_new_password,
    check_password,
    check_totp,
    complete_login,
    deactivate_account,
    end_all_sessions,
    issue_session,
    reset_password,
    resolve_session,
    totp_secret,
)
from complaints.audit.models import AuditEvent
from complaints.audit.services import Actor
from complaints.crypto.services import keystore
from complaints.directory.models import OrgUnit, Person
from tests.conftest import Clock, app_session
from tests.factories import PASSWORD, StaffLogin, make_account, make_org, make_person, totp_code


@pytest.fixture
def staff(app: Flask, clock: Clock) -> StaffLogin:
    with app_session(app) as session:
        org = make_org(session, clock())
        return make_account(session, make_person(session, org.directorate, clock()), clock())


def _actions(session: sa.orm.Session) -> list[tuple[str, str, dict[str, object]]]:
    events = session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq)).all()
    return [(e.action, e.outcome.value, e.details) for e in events]


def _password_attempt(app: Flask, login: str, password: str, when: object) -> Account | None:
    with app_session(app) as session:
        try:
            return check_password(
                session,
                keystore(),
                passwords(),
                login_policy(),
                login=login,
                password=password,
                now=when,  # type: ignore[arg-type]
            )
        except LoginFailed:
            return None


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short-pass", "too_short"),
        ("x" * 257, "too_long"),
        ("jan.jansen.de.groot@example.org", "like_login"),
        ("JAN.JANSEN.DE.GROOT", "like_login"),
        ("aaaaaaaaaaaaaaaa", "too_simple"),
    ],
)
def test_password_policy_refuses(password: str, reason: str) -> None:
    with pytest.raises(PasswordRejected) as caught:
        check_new_password(password, login="jan.jansen.de.groot@example.org")
    assert caught.value.reason == reason


def test_password_policy_accepts_a_passphrase() -> None:
    check_new_password("paarse olifant op de fiets", login="jan.jansen@example.org")


def test_passwords_are_stored_as_argon2id(app: Flask, staff: StaffLogin) -> None:
    assert staff.account.password_hash is not None
    assert staff.account.password_hash.startswith("$argon2id$")
    assert PASSWORD not in staff.account.password_hash


def test_right_password_passes_and_wrong_one_is_audited(
    app: Flask, staff: StaffLogin, clock: Clock
) -> None:
    assert _password_attempt(app, staff.account.login.upper(), PASSWORD, clock()) is not None
    assert _password_attempt(app, staff.account.login, "wrong password!!", clock()) is None
    assert _password_attempt(app, "nobody@example.org", PASSWORD, clock()) is None
    with app_session(app) as session:
        failures = [a for a in _actions(session) if a[0] == "auth.login_failed"]
    assert failures == [
        ("auth.login_failed", "failure", {"reason": "bad_password", "step": "password"}),
        ("auth.login_failed", "failure", {"reason": "unknown_account"}),
    ]


def test_lockout_after_repeated_failures_then_release(
    app: Flask, staff: StaffLogin, clock: Clock
) -> None:
    with app.app_context():
        policy = login_policy()
    for _ in range(policy.max_failures):
        assert _password_attempt(app, staff.account.login, "wrong password!!", clock()) is None
    # Locked: even the right password is refused, the same way as a wrong one.
    assert _password_attempt(app, staff.account.login, PASSWORD, clock()) is None
    clock.advance(minutes=policy.lockout.total_seconds() / 60 - 1)
    assert _password_attempt(app, staff.account.login, PASSWORD, clock()) is None
    clock.advance(minutes=2)
    assert _password_attempt(app, staff.account.login, PASSWORD, clock()) is not None
    with app_session(app) as session:
        reasons = [a[2].get("reason") for a in _actions(session) if a[0] == "auth.login_failed"]
    assert reasons.count("locked") == 2


def test_inactive_account_cannot_log_in(app: Flask, staff: StaffLogin, clock: Clock) -> None:
    with app_session(app) as session:
        account = session.get(Account, staff.account.id)
        assert account is not None
        deactivate_account(session, keystore(), account, actor=Actor.operator(), now=clock())
    assert _password_attempt(app, staff.account.login, PASSWORD, clock()) is None


def test_totp_accepts_a_current_code_once(app: Flask, staff: StaffLogin, clock: Clock) -> None:
    assert staff.totp_secret is not None
    code = totp_code(staff.totp_secret, clock())
    with app_session(app) as session:
        account = session.get(Account, staff.account.id)
        assert account is not None
        check_totp(session, keystore(), login_policy(), account, code=code, now=clock())
        # The same code again (a replay, e.g. shoulder-surfed) is refused.
        with pytest.raises(LoginFailed):
            check_totp(session, keystore(), login_policy(), account, code=code, now=clock())
        # A code from the next step is fine; one from two minutes ago is not.
        nxt = clock() + timedelta(seconds=30)
        check_totp(
            session,
            keystore(),
            login_policy(),
            account,
            code=totp_code(staff.totp_secret, nxt),
            now=nxt,
        )
        old = totp_code(staff.totp_secret, clock() - timedelta(minutes=2))
        with pytest.raises(LoginFailed):
            check_totp(session, keystore(), login_policy(), account, code=old, now=nxt)


def test_totp_secret_is_encrypted_and_bound_to_its_account(app: Flask, clock: Clock) -> None:
    with app_session(app) as session:
        org = make_org(session, clock())
        one = make_account(session, make_person(session, org.directorate, clock()), clock())
        two = make_account(session, make_person(session, org.directorate, clock()), clock())
        assert one.totp_secret is not None
        assert one.account.totp_secret is not None
        assert one.totp_secret.encode() not in one.account.totp_secret
        # Copying one account's secret onto another does not give the other that secret.
        two.account.totp_secret = one.account.totp_secret
        from complaints.crypto.envelope import DecryptionFailed

        with pytest.raises(DecryptionFailed):
            totp_secret(keystore(), two.account)


def test_sessions_time_out_when_idle_and_absolutely(
    app: Flask, staff: StaffLogin, clock: Clock
) -> None:
    with app_session(app) as session:
        policy = login_policy()
        account = session.get(Account, staff.account.id)
        assert account is not None
        issued = issue_session(session, account, SessionStage.FULL, policy, clock())
        token = issued.token
    with app_session(app) as session:
        # Activity keeps the session alive past the idle limit...
        for _ in range(3):
            clock.advance(minutes=policy.idle_timeout.total_seconds() / 60 - 1)
            assert resolve_session(session, token, SessionStage.FULL, policy, clock()) is not None
        # ...but not past the absolute limit.
        clock.current = issued.record.created_at + policy.absolute_timeout
        assert resolve_session(session, token, SessionStage.FULL, policy, clock()) is None
        record = session.get(StaffSession, issued.record.id)
        assert record is not None
        assert record.revoke_reason == "absolute_timeout"
    with app_session(app) as session:
        account = session.get(Account, staff.account.id)
        assert account is not None
        other = issue_session(session, account, SessionStage.FULL, policy, clock())
        clock.advance(minutes=policy.idle_timeout.total_seconds() / 60 + 1)
        assert resolve_session(session, other.token, SessionStage.FULL, policy, clock()) is None
        assert other.record.revoke_reason == "idle_timeout"


def test_a_password_stage_session_is_not_a_log_in(
    app: Flask, staff: StaffLogin, clock: Clock
) -> None:
    with app_session(app) as session:
        account = session.get(Account, staff.account.id)
        assert account is not None
        pending = issue_session(session, account, SessionStage.PASSWORD, login_policy(), clock())
        assert (
            resolve_session(session, pending.token, SessionStage.FULL, login_policy(), clock())
            is None
        )
        full = complete_login(session, keystore(), login_policy(), pending.record, now=clock())
        assert full.token != pending.token
        assert (
            resolve_session(session, pending.token, SessionStage.PASSWORD, login_policy(), clock())
            is None
        )
        assert (
            resolve_session(session, full.token, SessionStage.FULL, login_policy(), clock())
            is not None
        )


def test_deactivation_and_password_reset_end_every_session(
    app: Flask, staff: StaffLogin, clock: Clock
) -> None:
    with app_session(app) as session:
        account = session.get(Account, staff.account.id)
        assert account is not None
        tokens = [
            issue_session(session, account, SessionStage.FULL, login_policy(), clock()).token
            for _ in range(3)
        ]
        reset_password(
            session,
            keystore(),
            passwords(),
            account,
            new_password="een heel nieuw wachtwoord",
            reset_totp=True,
            actor=Actor.operator(),
            now=clock(),
        )
        assert all(
            resolve_session(session, t, SessionStage.FULL, login_policy(), clock()) is None
            for t in tokens
        )
        assert account.must_change_password is True
        assert account.totp_secret is None
        again = issue_session(session, account, SessionStage.FULL, login_policy(), clock()).token
        deactivate_account(session, keystore(), account, actor=Actor.operator(), now=clock())
        assert resolve_session(session, again, SessionStage.FULL, login_policy(), clock()) is None


def test_changing_ones_password_keeps_this_session_only(
    app: Flask, staff: StaffLogin, clock: Clock
) -> None:
    with app_session(app) as session:
        account = session.get(Account, staff.account.id)
        assert account is not None
        here = issue_session(session, account, SessionStage.FULL, login_policy(), clock())
        elsewhere = issue_session(session, account, SessionStage.FULL, login_policy(), clock())
        with pytest.raises(PasswordRejected):
            change_password(
                session,
                keystore(),
                passwords(),
                account,
                new_password=PASSWORD,
                keep_session_id=here.record.id,
                now=clock(),
            )
        change_password(
            session,
            keystore(),
            passwords(),
            account,
            new_password="een ander lang wachtwoord",
            keep_session_id=here.record.id,
            now=clock(),
        )
        assert (
            resolve_session(session, here.token, SessionStage.FULL, login_policy(), clock())
            is not None
        )
        assert (
            resolve_session(session, elsewhere.token, SessionStage.FULL, login_policy(), clock())
            is None
        )
        assert end_all_sessions(session, account.id, reason="test", now=clock()) == 1


def test_a_role_given_by_hand_survives_the_next_directory_import(
    app: Flask, clock: Clock, tmp_path: Path
) -> None:
    from complaints.accounts.models import Role, RoleAssignment, RoleSource
    from complaints.accounts.services import assign_role
    from complaints.directory.services import import_directory

    org_csv = tmp_path / "org.csv"
    people_csv = tmp_path / "people.csv"
    org_csv.write_text(
        "code,name,kind,parent_code\nGOV,Rijk,government,\nMIN,Ministerie,ministry,GOV\n"
    )
    people_csv.write_text(
        "employee_number,name,email,unit_code,roles\n1,Ingrid,i@example.org,MIN,confidant@MIN\n"
    )
    with app_session(app) as session:
        import_directory(
            session,
            keystore(),
            org_file=org_csv,
            people_file=people_csv,
            actor=Actor.operator(),
            now=clock(),
        )
        person = session.scalars(sa.select(Person)).one()
        ministry = session.scalars(sa.select(OrgUnit).where(OrgUnit.code == "MIN")).one()
        assert assign_role(
            session,
            keystore(),
            person=person,
            role=Role.CONFIDANT,
            scope_unit_id=ministry.id,
            actor=Actor.operator(),
            now=clock(),
        )
        assert not assign_role(
            session,
            keystore(),
            person=person,
            role=Role.CONFIDANT,
            scope_unit_id=ministry.id,
            actor=Actor.operator(),
            now=clock(),
        )
    people_csv.write_text(
        "employee_number,name,email,unit_code,roles\n1,Ingrid,i@example.org,MIN,\n"
    )
    with app_session(app) as session:
        import_directory(
            session,
            keystore(),
            org_file=org_csv,
            people_file=people_csv,
            actor=Actor.operator(),
            now=clock(),
        )
        roles = session.scalars(sa.select(RoleAssignment)).all()
        assert [(r.role, r.source) for r in roles] == [(Role.CONFIDANT, RoleSource.MANUAL)]
