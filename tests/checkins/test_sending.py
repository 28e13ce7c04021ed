"""The handler sends a due check-in from the case page: the question goes to the mailbox as a
message from the handler; nothing is sent before it is due, twice, or after the switch-off."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from complaints.audit.models import ActorKind
from complaints.audit.services import Actor
from complaints.cases.models import AuthorKind, Case, Message, Route
from complaints.checkins.services import switch_checkins
from complaints.crypto.models import KeySlot
from complaints.crypto.services import case_cipher, keystore
from complaints.stats.models import StatEvent
from tests.checkins import checkins, close, file_on
from tests.committee import browser, logged_in, staff
from tests.conftest import Clock, app_session
from tests.factories import csrf_token, log_in

CONFIDANT = "i.hoekstra@bzk.example"
OTHER_CONFIDANT = "g.verbeek@bzk.example"  # government-wide, not on this case
CLOSED = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
DUE = datetime(2026, 4, 10, 8, 0, tzinfo=UTC)  # the 1-month check-in's day
QUESTION_EN = "Has anything happened since your report was dealt with?"
QUESTION_NL = "Is er sinds de afhandeling iets gebeurd?"


def closed_report(app: Flask, clock: Clock) -> tuple[uuid.UUID, str]:
    clock.current = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with app_session(app) as session:
        filed = file_on(session, clock(), Route.CONFIDANT)
        close(session, filed.case_id, Route.CONFIDANT, CLOSED)
        return filed.case_id, filed.reference


def send(client: FlaskClient, case_id: uuid.UUID) -> str:
    page = client.get(f"/zaken/{case_id}")
    response = client.post(f"/zaken/{case_id}/check-in", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 303, response.get_data(as_text=True)
    return client.get(response.headers["Location"]).get_data(as_text=True)


def handler_messages(app: Flask, case_id: uuid.UUID) -> list[Message]:
    with app_session(app) as session:
        return list(
            session.scalars(
                sa.select(Message)
                .where(Message.case_id == case_id, Message.author_kind == AuthorKind.HANDLER)
                .order_by(Message.created_at)
            )
        )


def test_a_due_check_in_is_offered_and_sent_once(app: Flask, clock: Clock) -> None:
    case_id, _reference = closed_report(app, clock)
    clock.current = datetime(2026, 4, 9, 8, 0, tzinfo=UTC)
    account = staff(app, CONFIDANT, clock())
    handler = browser(app)
    log_in(handler, account, clock())
    page = handler.get(f"/zaken/{case_id}").get_data(as_text=True)
    assert 'id="check-ins"' in page
    assert page.count("data-checkin-months=") == 3
    assert "data-send-checkin" not in page  # not due until tomorrow

    clock.current = DUE
    handler = browser(app)  # a new day, a new session
    log_in(handler, account, clock())
    page = handler.get(f"/zaken/{case_id}").get_data(as_text=True)
    assert "data-send-checkin" in page
    assert QUESTION_EN in page  # the handler sees what the complainant will be asked
    before = len(handler_messages(app, case_id))
    after_send = send(handler, case_id)
    assert "The check-in has been sent." in after_send
    assert "data-send-checkin" not in after_send
    assert 'data-checkin="yes"' in after_send  # the question in the thread, as a check-in

    messages = handler_messages(app, case_id)
    assert len(messages) == before + 1
    question = messages[-1]
    with app_session(app) as session:
        body = case_cipher(session, keystore(), case_id).open_text(
            "messages", "body", question.id, question.body
        )
        assert body == QUESTION_NL  # sealed in Dutch, shown in the reader's language
        rows = checkins(session, case_id)
        assert [(r.months, r.message_id) for r in rows] == [(1, question.id), (3, None), (6, None)]
        assert rows[0].sent_at == DUE
        assert (
            session.scalar(sa.select(sa.func.count()).where(StatEvent.kind == "checkin_sent")) == 1
        )

    # Control: a second press sends nothing.
    page = handler.get(f"/zaken/{case_id}")
    again = handler.post(f"/zaken/{case_id}/check-in", data={"csrf_token": csrf_token(page)})
    assert again.status_code == 303
    assert "No check-in can be sent now" in handler.get(again.headers["Location"]).get_data(
        as_text=True
    )
    assert len(handler_messages(app, case_id)) == before + 1


def test_a_late_check_in_covers_the_ones_due_since(app: Flask, clock: Clock) -> None:
    case_id, _reference = closed_report(app, clock)
    clock.current = datetime(2026, 6, 20, 8, 0, tzinfo=UTC)  # the 1- and 3-month ones are due
    send(logged_in(app, CONFIDANT, clock()), case_id)
    with app_session(app) as session:
        rows = checkins(session, case_id)
        assert [r.sent_at is not None for r in rows] == [True, True, False]
        assert rows[0].message_id == rows[1].message_id
    assert len(handler_messages(app, case_id)) == 2  # the closing words and one question


def test_switched_off_nothing_can_be_sent(app: Flask, clock: Clock) -> None:
    case_id, reference = closed_report(app, clock)
    with app_session(app) as session:
        case = session.get(Case, case_id)
        assert case is not None
        actor = Actor(ActorKind.COMPLAINANT, reference)
        switch_checkins(session, keystore(), case, on=False, actor=actor, now=CLOSED)
    clock.current = DUE
    handler = logged_in(app, CONFIDANT, clock())
    page = handler.get(f"/zaken/{case_id}")
    text = page.get_data(as_text=True)
    assert "data-checkins-stopped" in text
    assert "data-send-checkin" not in text
    response = handler.post(f"/zaken/{case_id}/check-in", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 303
    assert len(handler_messages(app, case_id)) == 1  # only the closing words


def test_someone_without_a_grant_gets_not_found(app: Flask, clock: Clock) -> None:
    case_id, _reference = closed_report(app, clock)
    clock.current = DUE
    other = logged_in(app, OTHER_CONFIDANT, clock())
    page = other.get("/account")
    response = other.post(f"/zaken/{case_id}/check-in", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 404
    assert len(handler_messages(app, case_id)) == 1


def test_without_the_csrf_token_nothing_is_sent(app: Flask, clock: Clock) -> None:
    case_id, _reference = closed_report(app, clock)
    clock.current = DUE
    handler = logged_in(app, CONFIDANT, clock())
    assert handler.post(f"/zaken/{case_id}/check-in", data={}).status_code == 400
    assert len(handler_messages(app, case_id)) == 1


def test_a_case_whose_key_is_gone_sends_nothing_and_says_so(app: Flask, clock: Clock) -> None:
    case_id, _reference = closed_report(app, clock)
    clock.current = DUE
    handler = logged_in(app, CONFIDANT, clock())
    page = handler.get(f"/zaken/{case_id}")
    with app_session(app) as session:
        session.execute(sa.delete(KeySlot).where(KeySlot.case_id == case_id))
    response = handler.post(f"/zaken/{case_id}/check-in", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 500
    assert "This case cannot be opened" in response.get_data(as_text=True)
    assert len(handler_messages(app, case_id)) == 1
    with app_session(app) as session:
        assert all(r.sent_at is None for r in checkins(session, case_id))
