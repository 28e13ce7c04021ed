"""Each role lands on its own work page after logging in; a safe ``next`` wins, an unsafe one
is ignored."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from complaints import db
from complaints.accounts.landing import work_page
from complaints.accounts.models import Account, Role, RoleAssignment, RoleSource
from complaints.accounts.services import totp_secret
from complaints.cases.models import Route
from complaints.crypto.services import keystore
from tests.conftest import Clock, app_session
from tests.factories import (
    StaffLogin,
    csrf_token,
    file_report,
    import_demo_directory,
    log_in,
    make_account,
    totp_code,
)

# People of the demo organisation, by what they do.
CONFIDANT = "i.hoekstra@bzk.example"
COORDINATOR = "k.dijkstra@bzk.example"
SECRETARY = "w.deboer@bzk.example"
MEMBER = "a.kok@bzk.example"
AUDITOR = "b.koster@fin.example"
OFFICER = "h.wolters@bzk.example"
ADMIN = "t.groen@bzk.example"
MANAGER = "a.demir@bzk.example"  # a line manager: no role
EMPLOYEE = "s.devries@bzk.example"  # no role, manager: a.demir

LANDINGS = [
    (CONFIDANT, "/zaken"),
    (COORDINATOR, "/zaken"),
    (SECRETARY, "/zaken"),
    (MEMBER, "/zaken"),
    (AUDITOR, "/statistieken"),
    (OFFICER, "/privacy"),
    (ADMIN, "/beheer/overdracht"),
    (EMPLOYEE, "/account"),
]
UNSAFE_NEXT = ("//evil.example/", "https://evil.example/zaken", "/\\evil.example", "javascript:x")


@pytest.fixture
def staff(app: Flask, clock: Clock) -> dict[str, StaffLogin]:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        return {
            email: make_account(session, people[email], clock())
            for email in {email for email, _ in LANDINGS} | {MANAGER}
        }


def client_for(app: Flask) -> FlaskClient:
    browser = app.test_client()
    browser.set_cookie("taal", "en")
    return browser


@pytest.mark.parametrize(("who", "expected"), LANDINGS)
def test_each_role_lands_on_its_own_work_page(
    app: Flask, staff: dict[str, StaffLogin], clock: Clock, who: str, expected: str
) -> None:
    client = client_for(app)
    landed = log_in(client, staff[who], clock())
    assert landed.headers["Location"] == expected
    # The page is theirs to see, not a refusal.
    assert client.get(expected).status_code == 200
    # Logged in already, the log-in page sends them there too.
    assert client.get("/aanmelden").headers["Location"] == expected


def test_a_line_manager_lands_on_the_cases_once_they_hold_one(
    app: Flask, staff: dict[str, StaffLogin], clock: Clock
) -> None:
    # Control: without a case, a line manager has no work page and lands on their account.
    assert log_in(client_for(app), staff[MANAGER], clock()).headers["Location"] == "/account"
    with app_session(app) as session:
        file_report(session, clock(), filer=EMPLOYEE, route=Route.MANAGER)
    clock.advance(seconds=30)  # the next code of the app: a code is used once
    assert log_in(client_for(app), staff[MANAGER], clock()).headers["Location"] == "/zaken"


def test_with_several_roles_the_cases_come_first_then_the_role_pages_in_order(
    app: Flask, staff: dict[str, StaffLogin], clock: Clock
) -> None:
    with app.app_context():
        session = db.session()
        auditor = staff[AUDITOR].person.id
        for role in (Role.ADMIN, Role.PRIVACY_OFFICER):
            session.add(
                RoleAssignment(
                    person_id=auditor, role=role, source=RoleSource.MANUAL, created_at=clock()
                )
            )
        session.flush()
        assert work_page(session, auditor) == "stats.dashboard"
        session.add(
            RoleAssignment(
                person_id=auditor,
                role=Role.CONFIDANT,
                source=RoleSource.MANUAL,
                created_at=clock(),
            )
        )
        session.flush()
        assert work_page(session, auditor) == "casework.inbox_page"
        assert work_page(session, staff[OFFICER].person.id) == "privacy.plan_page"
        assert work_page(session, staff[EMPLOYEE].person.id) == "accounts.overview"


@pytest.mark.parametrize("who", [AUDITOR, EMPLOYEE])
def test_a_safe_next_wins_over_the_work_page(
    app: Flask, staff: dict[str, StaffLogin], clock: Clock, who: str
) -> None:
    landed = log_in(client_for(app), staff[who], clock(), next_url="/account/wachtwoord")
    assert landed.headers["Location"] == "/account/wachtwoord"


@pytest.mark.parametrize("target", UNSAFE_NEXT)
def test_an_unsafe_next_is_ignored_for_the_work_page(
    app: Flask, staff: dict[str, StaffLogin], clock: Clock, target: str
) -> None:
    landed = log_in(client_for(app), staff[AUDITOR], clock(), next_url=target)
    assert landed.headers["Location"] == "/statistieken"
    # Control: the same log-in with a local address does go there, so it was the address
    # that was refused, not ``next`` as such.
    clock.advance(seconds=30)
    local = log_in(client_for(app), staff[AUDITOR], clock(), next_url="/privacy")
    assert local.headers["Location"] == "/privacy"


def test_the_first_log_in_with_the_app_set_up_lands_on_the_work_page(
    app: Flask, clock: Clock
) -> None:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        newcomer = make_account(session, people[AUDITOR], clock(), enrolled=False)
    client = client_for(app)
    page = client.get("/aanmelden?next=%2F%2Fevil.example%2F")
    response = client.post(
        "/aanmelden",
        data={
            "email": newcomer.account.login,
            "password": newcomer.password,
            "next": "//evil.example/",
            "csrf_token": csrf_token(page),
        },
    )
    assert response.headers["Location"] == "/aanmelden/code-instellen"
    enrol = client.get("/aanmelden/code-instellen")
    with app_session(app) as session:
        account = session.get(Account, newcomer.account.id)
        assert account is not None
        secret = totp_secret(keystore(), account)
    assert secret is not None
    done = client.post(
        "/aanmelden/code-instellen",
        data={"code": totp_code(secret, clock()), "csrf_token": csrf_token(enrol)},
    )
    assert done.status_code == 303
    assert done.headers["Location"] == "/statistieken"
