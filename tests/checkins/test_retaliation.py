"""Reporting retaliation in answer to a check-in: on a "reopen" route the case opens again, on
a "linked" route a new case is filed on the same route for the same handlers (the route's
``retaliation`` decides, not the route itself)."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from complaints.audit.services import Actor
from complaints.cases.models import (
    AuthorKind,
    Case,
    CaseAccessGrant,
    CaseParty,
    Deadline,
    Message,
    PartyKind,
    Route,
)
from complaints.cases.receipts import receipt_index
from complaints.casework.services import send_checkin
from complaints.checkins.services import linked_from
from complaints.crypto.services import case_cipher, indexer, keystore
from complaints.directory.models import Person
from complaints.followup.services import answer_checkin
from complaints.notify.models import Notification
from complaints.stats.models import StatEvent
from complaints.workflow.config import load_workflow, workflow
from tests.checkins import checkins, close, file_on
from tests.checkins.test_mailbox import MAILBOX, answer, open_box
from tests.committee import logged_in
from tests.conftest import Clock, app_session
from tests.factories import ACCUSED, demo_person
from tests.workflow.test_config import set_value, shipped, write

CLOSED = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
DUE = datetime(2026, 4, 10, 8, 0, tzinfo=UTC)
TOLD = "Sinds mijn melding word ik niet meer uitgenodigd voor het overleg."


def closed_and_asked(app: Flask, clock: Clock, route: Route) -> tuple[uuid.UUID, str, int]:
    """A report on ``route`` closed on 10 March, its 1-month check-in sent on 10 April."""
    clock.current = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with app_session(app) as session:
        report = file_on(session, clock(), route)
        close(session, report.case_id, route, CLOSED)
    clock.current = DUE
    with app_session(app) as session:
        send_checkin(
            session,
            keystore(),
            indexer(),
            workflow(),
            case_id=report.case_id,
            person_id=report.handler_id,
            actor=Actor.operator(),
            now=DUE,
        )
    return report.case_id, report.code, report.handler_id


def stat_count(app: Flask, kind: str) -> int:
    with app_session(app) as session:
        return int(session.scalar(sa.select(sa.func.count()).where(StatEvent.kind == kind)) or 0)


def cases_on(app: Flask, route: Route) -> int:
    with app_session(app) as session:
        return int(session.scalar(sa.select(sa.func.count()).where(Case.route == route)) or 0)


def test_retaliation_reopens_the_case_on_a_reopen_route(app: Flask, clock: Clock) -> None:
    case_id, code, handler = closed_and_asked(app, clock, Route.CONFIDANT)
    browser, _page = open_box(app, code)
    response = answer(browser, TOLD, retaliation=True)
    assert response.status_code == 303
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "uw melding is heropend" in page
    assert 'data-state="submitted"' in page
    assert "data-checkin-section" not in page  # open again: no check-ins until it closes
    assert 'id="message"' in page  # and writing is possible again

    with app_session(app) as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert (case.state, case.closed_at, case.outcome) == ("submitted", None, None)
        acknowledge = session.scalars(
            sa.select(Deadline).where(Deadline.case_id == case_id, Deadline.name == "acknowledge")
        ).one()
        assert (acknowledge.started_at, acknowledge.met_at) == (DUE, None)
        # The answered check-in stays; the 3- and 6-month ones of the old closing go.
        rows = checkins(session, case_id)
        assert [(r.months, r.retaliation_at) for r in rows] == [(1, DUE)]
        told = session.scalars(
            sa.select(Notification.recipient_person_id).where(
                Notification.case_id == case_id, Notification.kind == "case_reopened"
            )
        ).all()
        assert told == [handler]
    assert stat_count(app, "retaliation_reported") == 1
    assert cases_on(app, Route.CONFIDANT) == 1  # nothing filed beside it

    # Closing again plans new check-ins, from the new closing.
    again = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    with app_session(app) as session:
        close(session, case_id, Route.CONFIDANT, again)
        new = [r for r in checkins(session, case_id) if r.closed_at == again]
        assert [r.months for r in new] == [1, 3, 6]


def test_an_answer_without_retaliation_leaves_the_case_closed(app: Flask, clock: Clock) -> None:
    """Control for the test above and the one below."""
    case_id, code, _handler = closed_and_asked(app, clock, Route.CONFIDANT)
    browser, _page = open_box(app, code)
    assert answer(browser, TOLD).status_code == 303
    with app_session(app) as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert case.state == "closed"
    assert cases_on(app, Route.CONFIDANT) == 1
    assert stat_count(app, "retaliation_reported") == 0


def test_retaliation_files_a_linked_case_on_a_linked_route(app: Flask, clock: Clock) -> None:
    case_id, code, handler = closed_and_asked(app, clock, Route.INTEGRITY)
    browser, _page = open_box(app, code)
    response = answer(browser, TOLD, retaliation=True)
    # The new receipt code is in this answer only, never in an address.
    assert response.status_code == 200
    assert "Location" not in response.headers
    page = response.get_data(as_text=True)
    assert "Ontvangstcode voor uw nieuwe melding" in page
    groups = page.split('receipt-code__group">')[1:]
    new_code = "-".join(g.split("<", 1)[0] for g in groups)
    assert len(new_code) == 29

    with app_session(app) as session:
        original = session.get(Case, case_id)
        assert original is not None
        assert original.state == "closed"  # it stays as it was
        linked = session.scalar(
            sa.select(Case).where(Case.receipt_index == receipt_index(indexer(), new_code))
        )
        assert linked is not None
        assert (linked.route, linked.state) == (Route.INTEGRITY, "submitted")
        assert (linked.category, linked.disclosure) == (original.category, original.disclosure)
        assert linked.reference in page
        content = case_cipher(session, keystore(), linked.id)
        assert content.open_text("cases", "description", linked.id, linked.description) == TOLD
        assert linked_from(session, linked.id) == original
        assert checkins(session, case_id)[0].linked_case_id == linked.id
        # The same handlers; the accused of the first case stays accused in the second.
        grants = session.execute(
            sa.select(CaseAccessGrant.person_id, CaseAccessGrant.role).where(
                CaseAccessGrant.case_id == linked.id
            )
        ).all()
        originals = session.execute(
            sa.select(CaseAccessGrant.person_id, CaseAccessGrant.role).where(
                CaseAccessGrant.case_id == case_id
            )
        ).all()
        assert sorted(grants) == sorted(originals)
        accused = demo_person(session, ACCUSED)
        assert session.scalar(
            sa.select(CaseParty.id).where(
                CaseParty.case_id == linked.id,
                CaseParty.kind == PartyKind.ACCUSED,
                CaseParty.person_index == indexer().person(accused.id),
            )
        )
        assigned = session.scalars(
            sa.select(Notification.recipient_person_id).where(
                Notification.case_id == linked.id, Notification.kind == "case_assigned"
            )
        ).all()
        assert handler in assigned
        linked_id, linked_reference = linked.id, linked.reference
    assert stat_count(app, "retaliation_reported") == 1

    # The new code opens the new report's mailbox; the handler sees both ends of the link.
    _browser, new_box = open_box(app, new_code)
    assert 'data-state="submitted"' in new_box
    with app_session(app) as session:
        person = session.get(Person, handler)
        assert person is not None
        email = person.email
    coordinator = logged_in(app, email, DUE)
    first = coordinator.get(f"/zaken/{case_id}").get_data(as_text=True)
    assert f'data-linked="{linked_reference}"' in first
    second = coordinator.get(f"/zaken/{linked_id}").get_data(as_text=True)
    assert "data-linked-from=" in second
    assert TOLD in second


def test_the_route_setting_decides_not_the_route(app: Flask, clock: Clock, tmp_path: Path) -> None:
    """Control: the confidant route, set to "linked", files a linked case instead of reopening."""
    data = copy.deepcopy(shipped("workflow.toml"))
    set_value("routes.confidant.retaliation", "linked")(data)
    flow = load_workflow(write(tmp_path, "workflow.toml", data))
    case_id, _code, _handler = closed_and_asked(app, clock, Route.CONFIDANT)
    with app_session(app) as session:
        case = session.get(Case, case_id)
        assert case is not None
        answered = answer_checkin(
            session,
            keystore(),
            indexer(),
            flow,
            case,
            body=TOLD,
            retaliation=True,
            now=DUE,
        )
        assert answered.linked is not None
        assert not answered.reopened
        assert case.state == "closed"
    assert cases_on(app, Route.CONFIDANT) == 2


def test_with_nobody_left_to_receive_it_nothing_is_stored_and_the_answer_comes_back(
    app: Flask, clock: Clock
) -> None:
    case_id, code, _handler = closed_and_asked(app, clock, Route.INTEGRITY)
    browser, _page = open_box(app, code)
    with app_session(app) as session:
        session.execute(
            sa.update(CaseAccessGrant)
            .where(CaseAccessGrant.case_id == case_id)
            .values(revoked_at=DUE, revoke_reason="left")
        )
    response = answer(browser, TOLD, retaliation=True)
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert "Uw antwoord is niet verstuurd: niemand die deze melding behandelde" in text
    assert TOLD in text
    assert cases_on(app, Route.INTEGRITY) == 1
    with app_session(app) as session:
        assert checkins(session, case_id)[0].answered_at is None
        assert not session.scalars(
            sa.select(Message).where(
                Message.case_id == case_id, Message.author_kind == AuthorKind.COMPLAINANT
            )
        ).all()
    assert stat_count(app, "checkin_answered") == 0
    # Still asked: with a handler back, the same answer can be sent.
    assert "data-checkin-question" in browser.get(MAILBOX).get_data(as_text=True)
