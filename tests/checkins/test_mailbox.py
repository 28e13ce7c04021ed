"""The mailbox after closing: the check-in question in the reader's language, an answer that is
taken even when writing has closed, the switch that stops check-ins, and failures that give
back what was typed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from complaints.audit.services import Actor
from complaints.cases.models import (
    AuthorKind,
    Case,
    Message,
    Route,
)
from complaints.casework.services import CaseClosed, reply_to_complainant, send_checkin
from complaints.crypto.models import KeySlot
from complaints.crypto.services import case_cipher, indexer, keystore
from complaints.followup.services import MailboxClosed, post_message, withdraw_case
from complaints.notify.models import Notification
from complaints.stats.models import StatEvent
from complaints.workflow.config import workflow
from tests.checkins import checkins, close, file_on
from tests.conftest import Clock, app_session
from tests.factories import csrf_token

MAILBOX = "/opvolgen/melding"
CLOSED = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
DUE = datetime(2026, 4, 10, 8, 0, tzinfo=UTC)  # the 1-month check-in; writing closed on 9 April
QUESTION = {
    "nl": "Is er sinds de afhandeling iets gebeurd?",
    "en": "Has anything happened since your report was dealt with?",
}
ANSWER = "Mijn rooster is omgegooid sinds ik heb gemeld."


@pytest.fixture
def filed(app: Flask, clock: Clock) -> dict[str, object]:
    """A confidant report closed on 10 March; on 10 April the handler sends the check-in."""
    clock.current = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with app_session(app) as session:
        report = file_on(session, clock(), Route.CONFIDANT)
        close(session, report.case_id, Route.CONFIDANT, CLOSED)
    clock.current = DUE
    return {"id": report.case_id, "code": report.code, "handler": report.handler_id}


def send_question(app: Flask, case_id: object, handler: object, now: datetime) -> None:
    assert isinstance(case_id, uuid.UUID)
    assert isinstance(handler, int)
    with app_session(app) as session:
        send_checkin(
            session,
            keystore(),
            indexer(),
            workflow(),
            case_id=case_id,
            person_id=handler,
            actor=Actor.operator(),
            now=now,
        )


def open_box(app: Flask, code: object, language: str = "nl") -> tuple[FlaskClient, str]:
    browser = app.test_client()
    browser.set_cookie("taal", language)
    page = browser.get("/opvolgen")
    opened = browser.post("/opvolgen", data={"code": code, "csrf_token": csrf_token(page)})
    assert opened.status_code == 303
    return browser, browser.get(MAILBOX).get_data(as_text=True)


def answer(browser: FlaskClient, text: str, *, retaliation: bool = False) -> TestResponse:
    page = browser.get(MAILBOX)
    data = {"answer": text, "csrf_token": csrf_token(page)}
    if retaliation:
        data["retaliation"] = "y"
    return browser.post(f"{MAILBOX}/check-in", data=data)


def case_of(app: Flask, case_id: object) -> Case:
    with app_session(app) as session:
        case = session.get(Case, case_id)
        assert case is not None
        session.expunge(case)
        return case


def count(app: Flask, kind: str) -> int:
    with app_session(app) as session:
        return int(session.scalar(sa.select(sa.func.count()).where(StatEvent.kind == kind)) or 0)


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_sent_question_is_asked_in_the_readers_language(
    app: Flask, filed: dict[str, object], language: str
) -> None:
    _browser, page = open_box(app, filed["code"], language)
    # Control: before the handler sends it, nothing is asked (the switch is there).
    assert "data-checkin-question" not in page
    assert 'data-checkins="on"' in page
    send_question(app, filed["id"], filed["handler"], DUE)
    _browser, page = open_box(app, filed["code"], language)
    assert "data-checkin-question" in page
    assert page.count(QUESTION[language]) == 2  # above the form, and in the thread
    other = "en" if language == "nl" else "nl"
    assert QUESTION[other] not in page


def test_an_answer_is_taken_after_writing_has_closed(app: Flask, filed: dict[str, object]) -> None:
    send_question(app, filed["id"], filed["handler"], DUE)
    updated_before = case_of(app, filed["id"]).updated_at
    browser, page = open_box(app, filed["code"])
    assert 'data-writing="closed"' in page  # closed_reply_days (30) have passed
    with app_session(app) as session:  # control: an ordinary message is refused today
        case = session.get(Case, filed["id"])
        assert case is not None
        with pytest.raises(MailboxClosed):
            post_message(
                session, keystore(), workflow(), case, body="x", now=DUE, closed_reply_days=30
            )

    response = answer(browser, ANSWER)
    assert response.status_code == 303
    after = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Bedankt: uw antwoord is verstuurd." in after
    assert ANSWER in after
    assert "data-checkin-question" not in after  # answered: not asked again

    with app_session(app) as session:
        case = session.get(Case, filed["id"])
        assert case is not None
        assert case.state == "closed"
        assert case.updated_at == updated_before  # retention counts from where it did
        mine = session.scalars(
            sa.select(Message).where(
                Message.case_id == case.id, Message.author_kind == AuthorKind.COMPLAINANT
            )
        ).one()
        cipher = case_cipher(session, keystore(), case.id)
        assert cipher.open_text("messages", "body", mine.id, mine.body) == ANSWER
        assert [r.answered_at is not None for r in checkins(session, case.id)] == [
            True,
            False,
            False,
        ]
        told = session.scalars(
            sa.select(Notification.recipient_person_id).where(
                Notification.case_id == case.id, Notification.kind == "case_message"
            )
        ).all()
        assert told == [filed["handler"]]
    assert count(app, "checkin_answered") == 1
    assert count(app, "retaliation_reported") == 0


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("   ", "Schrijf uw antwoord voordat u het verstuurt."),
        ("x" * 20_001, "Uw antwoord is te lang"),
    ],
)
def test_an_empty_or_long_answer_is_refused_and_kept(
    app: Flask, filed: dict[str, object], typed: str, message: str
) -> None:
    send_question(app, filed["id"], filed["handler"], DUE)
    browser, _page = open_box(app, filed["code"])
    response = answer(browser, typed)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert message in page
    assert "data-checkin-question" in page
    if typed.strip():
        assert typed in page  # what was typed is in the form again
    with app_session(app) as session:
        assert all(r.answered_at is None for r in checkins(session, filed["id"]))


def test_a_second_answer_is_given_back_saying_why(app: Flask, filed: dict[str, object]) -> None:
    send_question(app, filed["id"], filed["handler"], DUE)
    browser, _page = open_box(app, filed["code"])
    page = browser.get(MAILBOX)
    token = csrf_token(page)
    first = browser.post(f"{MAILBOX}/check-in", data={"answer": ANSWER, "csrf_token": token})
    assert first.status_code == 303
    # The same form sent again from another tab: the check-in was answered meanwhile.
    second = browser.post(
        f"{MAILBOX}/check-in", data={"answer": "Nog iets anders.", "csrf_token": token}
    )
    assert second.status_code == 409
    text = second.get_data(as_text=True)
    assert "Deze check-in kan niet meer worden beantwoord" in text
    assert "Nog iets anders." in text
    with app_session(app) as session:
        assert (
            session.scalar(
                sa.select(sa.func.count()).where(
                    Message.case_id == filed["id"], Message.author_kind == AuthorKind.COMPLAINANT
                )
            )
            == 1
        )


def test_switching_check_ins_off_stops_the_question_and_on_brings_it_back(
    app: Flask, filed: dict[str, object]
) -> None:
    send_question(app, filed["id"], filed["handler"], DUE)
    browser, page = open_box(app, filed["code"])
    assert "data-checkin-question" in page
    switched = browser.post(
        f"{MAILBOX}/check-ins", data={"decision": "off", "csrf_token": csrf_token(page)}
    )
    assert switched.status_code == 303
    page = browser.get(MAILBOX).get_data(as_text=True)
    assert "U krijgt geen check-ins meer." in page
    assert "data-checkin-question" not in page
    assert 'data-checkins="off"' in page
    assert case_of(app, filed["id"]).checkins_stopped_at == DUE
    # An answer sent from a page loaded before the switch is given back.
    refused = browser.post(
        f"{MAILBOX}/check-in", data={"answer": ANSWER, "csrf_token": csrf_token(page)}
    )
    assert refused.status_code == 409
    assert ANSWER in refused.get_data(as_text=True)

    # Control: switched on again, the question is back.
    browser.post(f"{MAILBOX}/check-ins", data={"decision": "on", "csrf_token": csrf_token(page)})
    assert "data-checkin-question" in browser.get(MAILBOX).get_data(as_text=True)


def test_the_switch_needs_its_csrf_token_and_a_known_decision(
    app: Flask, filed: dict[str, object]
) -> None:
    browser, page = open_box(app, filed["code"])
    assert browser.post(f"{MAILBOX}/check-ins", data={"decision": "off"}).status_code == 400
    bad = browser.post(
        f"{MAILBOX}/check-ins", data={"decision": "maybe", "csrf_token": csrf_token(page)}
    )
    assert bad.status_code == 400
    assert case_of(app, filed["id"]).checkins_stopped_at is None


def test_a_key_that_is_gone_gives_the_answer_back(app: Flask, filed: dict[str, object]) -> None:
    send_question(app, filed["id"], filed["handler"], DUE)
    browser, _page = open_box(app, filed["code"])
    page = browser.get(MAILBOX)
    with app_session(app) as session:
        session.execute(sa.delete(KeySlot).where(KeySlot.case_id == filed["id"]))
    response = browser.post(
        f"{MAILBOX}/check-in", data={"answer": ANSWER, "csrf_token": csrf_token(page)}
    )
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "Uw antwoord is niet verstuurd" in text
    assert ANSWER in text
    with app_session(app) as session:
        assert all(r.answered_at is None for r in checkins(session, filed["id"]))


def test_an_open_or_withdrawn_report_shows_no_check_ins(app: Flask, clock: Clock) -> None:
    with app_session(app) as session:
        report = file_on(session, clock(), Route.CONFIDANT)
    _browser, page = open_box(app, report.code)
    assert "data-checkin-section" not in page
    with app_session(app) as session:
        case = session.get(Case, report.case_id)
        assert case is not None
        withdraw_case(session, keystore(), workflow(), case, now=clock.advance(days=1))
    _browser, page = open_box(app, report.code)
    assert "data-checkin-section" not in page


def test_an_answer_sent_after_the_mailbox_closed_by_itself_is_given_back(
    app: Flask, filed: dict[str, object], clock: Clock
) -> None:
    send_question(app, filed["id"], filed["handler"], DUE)
    browser, _page = open_box(app, filed["code"])
    token = csrf_token(browser.get(MAILBOX))
    clock.advance(minutes=16)  # past followup_idle_timeout_minutes (15)
    response = browser.post(f"{MAILBOX}/check-in", data={"answer": ANSWER, "csrf_token": token})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "unsent" in text
    assert ANSWER in text
    # Control: with nothing typed there is nothing to give back, only the code page.
    browser, _page = open_box(app, filed["code"])
    token = csrf_token(browser.get(MAILBOX))
    clock.advance(minutes=16)
    empty = browser.post(f"{MAILBOX}/check-in", data={"answer": "", "csrf_token": token})
    assert empty.status_code == 303


def _handler_answers(app: Flask, filed: dict[str, object], now: datetime) -> None:
    assert isinstance(filed["id"], uuid.UUID)
    assert isinstance(filed["handler"], int)
    with app_session(app) as session:
        reply_to_complainant(
            session, keystore(), indexer(), workflow(), case_id=filed["id"],
            person_id=filed["handler"], actor=Actor.staff(1), body="Wat is er gebeurd?",
            now=now, closed_reply_days=30,
        )  # fmt: skip


def test_an_answer_opens_the_conversation_again_for_the_closed_reply_days(
    app: Flask, filed: dict[str, object]
) -> None:
    send_question(app, filed["id"], filed["handler"], DUE)
    # Control: a sent but unanswered check-in leaves writing closed (30 days after 10 March).
    with pytest.raises(CaseClosed):
        _handler_answers(app, filed, DUE)
    browser, _page = open_box(app, filed["code"])
    assert answer(browser, ANSWER).status_code == 303

    # After the answer the handler can ask about it, and the complainant can write back ...
    _handler_answers(app, filed, DUE + timedelta(days=29))
    with app_session(app) as session:
        case = session.get(Case, filed["id"])
        assert case is not None
        post_message(
            session, keystore(), workflow(), case, body="Mijn rooster.",
            now=DUE + timedelta(days=29), closed_reply_days=30,
        )  # fmt: skip
    # ... until closed_reply_days after the answer.
    with pytest.raises(CaseClosed):
        _handler_answers(app, filed, DUE + timedelta(days=31))
