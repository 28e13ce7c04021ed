"""The handover pages for administrators: references and counts only, never a case's content."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from complaints.accounts.models import Account, StaffSession
from complaints.audit.models import AuditEvent
from complaints.cases.models import CaseAccessGrant
from tests.conftest import Clock, app_session
from tests.factories import StaffLogin, csrf_token, import_demo_directory, log_in, make_account
from tests.referral import (
    ACCUSED,
    ADMIN,
    CONFIDANT,
    COORDINATOR,
    EMPLOYEE,
    STORY,
    WIDE_CONFIDANT,
    file,
)


@dataclass
class World:
    case_id: uuid.UUID
    reference: str
    blocked_reference: str | None
    people: dict[str, int]
    staff: dict[str, StaffLogin]


def _world(app: Flask, clock: Clock, *, with_blocked: bool) -> World:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        case = file(session, people, clock()).case
        blocked = (
            file(session, people, clock(), accused=(ACCUSED, WIDE_CONFIDANT)).case
            if with_blocked
            else None
        )
        staff = {
            email: make_account(session, people[email], clock())
            for email in (ADMIN, CONFIDANT, COORDINATOR)
        }
        return World(
            case.id,
            case.reference,
            blocked.reference if blocked else None,
            {e: p.id for e, p in people.items()},
            staff,
        )


@pytest.fixture
def world(app: Flask, clock: Clock) -> World:
    return _world(app, clock, with_blocked=False)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    browser = app.test_client()
    browser.set_cookie("taal", "en")
    return browser


def html(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def page_url(world: World, who: str = CONFIDANT) -> str:
    return f"/beheer/overdracht/{world.people[who]}"


def grantees(app: Flask, world: World) -> set[int]:
    with app_session(app) as session:
        return set(
            session.scalars(
                sa.select(CaseAccessGrant.person_id).where(
                    CaseAccessGrant.case_id == world.case_id, CaseAccessGrant.revoked_at.is_(None)
                )
            )
        )


def assert_no_content(text: str) -> None:
    """Nothing that tells the story or names the complainant or the accused."""
    for secret in (STORY, "Sanne de Vries", "Lotte Bakker", "vergaderzaal", "Een gesprek"):
        assert secret not in text


@pytest.mark.parametrize("who", [CONFIDANT, COORDINATOR])
def test_only_administrators_may_hand_over(
    app: Flask, client: FlaskClient, world: World, clock: Clock, who: str
) -> None:
    log_in(client, world.staff[who], clock())
    assert client.get("/beheer/overdracht").status_code == 403
    assert client.get(page_url(world)).status_code == 403
    token = csrf_token(client.get("/account"))
    response = client.post(page_url(world), data={"csrf_token": token, "mode": "reassign"})
    assert response.status_code == 403
    assert grantees(app, world) == {world.people[CONFIDANT]}


def test_the_pages_need_a_log_in(client: FlaskClient, world: World) -> None:
    assert client.get("/beheer/overdracht").status_code == 302


def test_the_administrator_sees_references_and_counts_never_content(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    log_in(client, world.staff[ADMIN], clock())
    overview = client.get("/beheer/overdracht")
    assert overview.status_code == 200
    assert "Ingrid Hoekstra" in html(overview)
    assert f'href="{page_url(world)}"' in html(overview)
    assert_no_content(html(overview))
    plan = client.get(page_url(world))
    text = html(plan)
    assert plan.status_code == 200
    assert world.reference in text
    assert "Guus Verbeek" in text  # where it would go
    assert "Confidential counsellor" in text
    assert_no_content(text)
    with app_session(app) as session:
        opened = session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "case.open")
        )
    assert opened == 0
    assert client.get("/beheer/overdracht/999999").status_code == 404


def test_a_forged_csrf_token_is_refused(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    log_in(client, world.staff[ADMIN], clock())
    client.get(page_url(world))
    response = client.post(page_url(world), data={"csrf_token": "forged", "mode": "deactivate"})
    assert response.status_code == 400
    assert grantees(app, world) == {world.people[CONFIDANT]}
    with app_session(app) as session:
        account = session.get(Account, world.staff[CONFIDANT].account.id)
        assert account is not None
        assert account.active


def test_reassigning_moves_the_cases_and_keeps_the_account(
    app: Flask, client: FlaskClient, world: World, clock: Clock, log_output: io.StringIO
) -> None:
    log_in(client, world.staff[ADMIN], clock())
    page = client.get(page_url(world))
    response = client.post(
        page_url(world), data={"csrf_token": csrf_token(page), "mode": "reassign"}
    )
    assert response.status_code == 200
    assert world.reference in html(response)
    assert "1 case handed over." in html(response)
    assert_no_content(html(response))
    assert grantees(app, world) == {world.people[WIDE_CONFIDANT]}
    with app_session(app) as session:
        account = session.get(Account, world.staff[CONFIDANT].account.id)
        assert account is not None
        assert account.active
    assert STORY not in log_output.getvalue()


def test_deactivating_moves_the_cases_and_ends_the_sessions(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    confidant_browser = app.test_client()
    log_in(confidant_browser, world.staff[CONFIDANT], clock())
    log_in(client, world.staff[ADMIN], clock())
    page = client.get(page_url(world))
    response = client.post(
        page_url(world), data={"csrf_token": csrf_token(page), "mode": "deactivate"}
    )
    assert response.status_code == 200
    assert "has been deactivated" in html(response)
    assert grantees(app, world) == {world.people[WIDE_CONFIDANT]}
    with app_session(app) as session:
        account = session.get(Account, world.staff[CONFIDANT].account.id)
        assert account is not None
        assert not account.active
        live = session.scalars(
            sa.select(StaffSession).where(
                StaffSession.account_id == account.id, StaffSession.revoked_at.is_(None)
            )
        ).all()
        assert live == []
    assert confidant_browser.get("/account").status_code == 302


def test_deactivation_is_refused_while_a_case_has_nobody_to_go_to(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    world = _world(app, clock, with_blocked=True)
    log_in(client, world.staff[ADMIN], clock())
    page = client.get(page_url(world))
    assert world.blocked_reference is not None
    assert 'data-move="unresolved"' in html(page)
    assert "cannot be handed over" in html(page)
    response = client.post(
        page_url(world), data={"csrf_token": csrf_token(page), "mode": "deactivate"}
    )
    assert response.status_code == 409
    assert "The account has not been deactivated" in html(response)
    assert world.blocked_reference in html(response)
    # Nothing changed, not even the case that could have moved.
    assert grantees(app, world) == {world.people[CONFIDANT]}
    with app_session(app) as session:
        account = session.get(Account, world.staff[CONFIDANT].account.id)
        assert account is not None
        assert account.active
    # Re-assigning moves what can move and names what stays.
    response = client.post(
        page_url(world), data={"csrf_token": csrf_token(page), "mode": "reassign"}
    )
    assert response.status_code == 200
    assert f'data-left="{world.blocked_reference}"' in html(response)
    assert grantees(app, world) == {world.people[WIDE_CONFIDANT]}


def test_an_unknown_mode_is_refused(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    log_in(client, world.staff[ADMIN], clock())
    page = client.get(page_url(world))
    response = client.post(page_url(world), data={"csrf_token": csrf_token(page), "mode": "wipe"})
    assert response.status_code == 400
    assert grantees(app, world) == {world.people[CONFIDANT]}
    assert EMPLOYEE  # the complainant's address is only used to file the report
