"""Log-in rules: passwords, throttling, TOTP, and server-side sessions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from complaints.accounts.login import login_policy, passwords
from complaints.accounts.models import Account, LoginFailure, SessionStage, StaffSession
from complaints.accounts.services import (
    CodeReused,
    LoginFailed,
    LoginThrottled,
    PasswordRejected,
    change_password,
    check_new_password,
    check_password,
    check_totp,
    complete_login,
    deactivate_account,
    end_all_sessions,
    issue_session,
    recent_failures,
    reset_password,
    resolve_session,
    totp_secret,
)
from complaints.accounts.throttle import CODE_FAILURES_PER_ACCOUNT
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


ATTACKER = "a" * 32
OWNER = "b" * 32


def _password_attempt(
    app: Flask, login: str, password: str, when: object, client: str = ATTACKER
) -> Account | None:
    return _attempt_or_failure(app, login, password, when, client)[0]


def _attempt_or_failure(
    app: Flask, login: str, password: str, when: object, client: str = ATTACKER
) -> tuple[Account | None, LoginFailed | None]:
    with app_session(app) as session:
        try:
            return check_password(
                session,
                keystore(),
                passwords(),
                login_policy(),
                login=login,
                password=password,
                client=client,
                now=when,  # type: ignore[arg-type]
            ), None
        except LoginFailed as failed:
            return None, failed


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
        ("auth.login_failed", "failure", {"reason": "unknown_account", "step": "password"}),
    ]


def test_a_client_that_keeps_failing_waits_longer_each_time_then_is_heard_again(
    app: Flask, staff: StaffLogin, clock: Clock
) -> None:
    with app.app_context():
        throttle = login_policy().throttle
    for _ in range(throttle.client_failures - 1):
        failure = _attempt_or_failure(app, staff.account.login, "wrong password!!", clock())[1]
        assert type(failure) is LoginFailed
        assert failure.retry_after == 0
    # The last failure before the wait says how long the wait will be.
    failure = _attempt_or_failure(app, staff.account.login, "wrong password!!", clock())[1]
    assert failure is not None
    assert failure.retry_after == 30
    # Waiting: even the right password is not checked, and the answer says how long to wait.
    _, refused = _attempt_or_failure(app, staff.account.login, PASSWORD, clock())
    assert isinstance(refused, LoginThrottled)
    assert refused.retry_after == 60  # the refusal counted too: hammering waits longer
    clock.advance(seconds=59)
    assert isinstance(
        _attempt_or_failure(app, staff.account.login, PASSWORD, clock())[1], LoginThrottled
    )
    # Never longer than the window, and heard again once the failures have aged out of it.
    for _ in range(30):
        _, refused = _attempt_or_failure(app, staff.account.login, PASSWORD, clock())
    assert refused is not None
    assert refused.retry_after == throttle.window.total_seconds()
    clock.advance(seconds=throttle.window.total_seconds() + 1)
    assert _password_attempt(app, staff.account.login, PASSWORD, clock()) is not None
    with app_session(app) as session:
        reasons = [a[2].get("reason") for a in _actions(session) if a[0] == "auth.login_failed"]
    assert reasons.count("bad_password") == throttle.client_failures
    assert reasons.count("throttled") == 1 + 1 + 30


def test_fifty_failures_from_one_client_never_keep_the_owner_out_elsewhere(
    app: Flask, staff: StaffLogin, clock: Clock
) -> None:
    for _ in range(50):
        assert _password_attempt(app, staff.account.login, "wrong password!!", clock()) is None
    assert _password_attempt(app, staff.account.login, PASSWORD, clock(), client=OWNER)
    # Control: a throttle that cannot tell the clients apart (a lock per account) keeps the
    # owner out with the right password, so the assertion above would catch that regression.
    _, refused = _attempt_or_failure(app, staff.account.login, PASSWORD, clock(), ATTACKER)
    assert isinstance(refused, LoginThrottled)


def test_the_account_slow_down_holds_back_failed_clients_for_at_most_a_minute(
    app: Flask, staff: StaffLogin, clock: Clock
) -> None:
    """Many addresses, one guess each: the account as a whole slows down, but only for
    clients that failed there, and never for more than a minute; a fresh client gets in."""
    with app.app_context():
        throttle = login_policy().throttle
    bots = [f"{i:032x}" for i in range(40)]
    for bot in bots:
        assert _password_attempt(app, staff.account.login, "wrong password!!", clock(), bot) is None
    _, refused = _attempt_or_failure(app, staff.account.login, "another guess!!", clock(), bots[0])
    assert isinstance(refused, LoginThrottled)
    assert refused.retry_after <= 60
    assert throttle.account_slowdown_after < 40
    # The owner, from a client of their own: at once.
    assert _password_attempt(app, staff.account.login, PASSWORD, clock(), client=OWNER)
    # A client that failed (the owner's own typo, say) is heard again within the minute.
    clock.advance(seconds=60)
    assert _password_attempt(app, staff.account.login, PASSWORD, clock(), client=bots[1])


def test_guessing_codes_from_many_clients_stops_at_the_account_until_a_new_password(
    app: Flask, staff: StaffLogin, clock: Clock
) -> None:
    """Only someone with the right password reaches the code step, so a per-account limit
    there locks out nobody whose password is safe; it stops code guessing from many addresses."""
    assert staff.totp_secret is not None

    def code_attempt(code: str, client: str) -> LoginFailed | None:
        with app_session(app) as session:
            account = session.get(Account, staff.account.id)
            assert account is not None
            try:
                check_totp(
                    session,
                    keystore(),
                    login_policy(),
                    account,
                    code=code,
                    client=client,
                    now=clock(),
                )
            except LoginFailed as failed:
                return failed
            return None

    bots = [f"{i:032x}" for i in range(CODE_FAILURES_PER_ACCOUNT)]
    right = totp_code(staff.totp_secret, clock())
    wrong = "000000" if right != "000000" else "111111"
    for bot in bots:
        assert type(code_attempt(wrong, bot)) is LoginFailed
    # Even a fresh client with the right code waits now.
    assert isinstance(code_attempt(right, OWNER), LoginThrottled)
    with app_session(app) as session:
        account = session.get(Account, staff.account.id)
        assert account is not None
        assert recent_failures(session, account).wrong_codes == CODE_FAILURES_PER_ACCOUNT
        reset_password(
            session,
            keystore(),
            passwords(),
            account,
            new_password="een heel nieuw wachtwoord",
            reset_totp=False,
            actor=Actor.operator(),
            now=clock(),
        )
    clock.advance(seconds=1)
    assert code_attempt(right, OWNER) is None


def test_spraying_many_names_from_one_client_is_throttled_for_every_name(
    app: Flask, staff: StaffLogin, clock: Clock
) -> None:
    with app.app_context():
        throttle = login_policy().throttle
    for i in range(throttle.client_total_failures):
        # One guess per name: no (name, client) pair ever reaches its own limit.
        assert _password_attempt(app, f"p{i}@example.org", "Welkom2026!!", clock()) is None
    _, refused = _attempt_or_failure(app, staff.account.login, PASSWORD, clock())
    assert isinstance(refused, LoginThrottled)
    # Someone else, elsewhere, is not affected.
    assert _password_attempt(app, staff.account.login, PASSWORD, clock(), client=OWNER)


def test_an_unknown_name_is_throttled_exactly_like_a_real_one(
    app: Flask, staff: StaffLogin, clock: Clock
) -> None:
    def answers(login: str) -> list[tuple[str, int]]:
        results = []
        for _ in range(8):
            _, failed = _attempt_or_failure(app, login, "wrong password!!", clock())
            assert failed is not None
            results.append((type(failed).__name__, failed.retry_after))
        return results

    assert answers(staff.account.login) == answers("nobody@example.org")


def test_a_password_reset_ends_the_wait(app: Flask, staff: StaffLogin, clock: Clock) -> None:
    for _ in range(10):
        _password_attempt(app, staff.account.login, "wrong password!!", clock())
    clock.advance(seconds=1)
    new_password = "een heel nieuw wachtwoord"
    with app_session(app) as session:
        account = session.get(Account, staff.account.id)
        assert account is not None
        reset_password(
            session,
            keystore(),
            passwords(),
            account,
            new_password=new_password,
            reset_totp=False,
            actor=Actor.operator(),
            now=clock(),
        )
    clock.advance(seconds=1)
    assert _password_attempt(app, staff.account.login, new_password, clock())


def test_failed_attempts_are_pruned_after_the_retention(
    app: Flask, staff: StaffLogin, clock: Clock
) -> None:
    with app.app_context():
        throttle = login_policy().throttle
    _password_attempt(app, staff.account.login, "wrong password!!", clock())
    _password_attempt(app, "nobody@example.org", "wrong password!!", clock())
    with app_session(app) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(LoginFailure)) == 2
    # Rows for a name without an account go once the window has passed, the others stay.
    clock.advance(seconds=throttle.window.total_seconds() + 1)
    _password_attempt(app, staff.account.login, "wrong password!!", clock(), client=OWNER)
    with app_session(app) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(LoginFailure)) == 2
        assert (
            session.scalar(sa.select(sa.func.count()).where(LoginFailure.account_id.is_(None))) == 0
        )
    clock.advance(days=throttle.retention.days, seconds=1)
    _password_attempt(app, "nobody@example.org", "wrong password!!", clock())
    with app_session(app) as session:
        ats = session.scalars(sa.select(LoginFailure.at)).all()
    assert ats == [clock()]


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
        check_totp(
            session, keystore(), login_policy(), account, code=code, client=OWNER, now=clock()
        )
        # The same code again (a replay, e.g. shoulder-surfed) is refused, and told apart: the
        # owner who submitted twice must wait for the next code, not think they are blocked.
        with pytest.raises(CodeReused):
            check_totp(
                session, keystore(), login_policy(), account, code=code, client=OWNER, now=clock()
            )
        # A code from the next step is fine; one from two minutes ago is not.
        nxt = clock() + timedelta(seconds=30)
        check_totp(
            session,
            keystore(),
            login_policy(),
            account,
            code=totp_code(staff.totp_secret, nxt),
            client=OWNER,
            now=nxt,
        )
        old = totp_code(staff.totp_secret, clock() - timedelta(minutes=2))
        with pytest.raises(LoginFailed) as wrong:
            check_totp(
                session, keystore(), login_policy(), account, code=old, client=OWNER, now=nxt
            )
        assert type(wrong.value) is LoginFailed
        reasons = [a[2]["reason"] for a in _actions(session) if a[0] == "auth.login_failed"]
        assert reasons == ["code_reused", "bad_code"]
        # The reuse is audited but not counted as a guess; the wrong code is.
        assert session.scalar(sa.select(sa.func.count()).select_from(LoginFailure)) == 1


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
