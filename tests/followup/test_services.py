"""The mailbox services: who may open what, what it shows, and what a closed report refuses."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from complaints.audit.models import ActorKind, AuditEvent, AuditOutcome
from complaints.audit.services import Actor
from complaints.cases.models import (
    Case,
    CaseEvent,
    Consent,
    ConsentKind,
    Deadline,
    Disclosure,
    Message,
    Route,
)
from complaints.cases.services import CaseUnreadable, NewAttachment
from complaints.crypto.models import KeySlot
from complaints.crypto.services import indexer, keystore
from complaints.directory.models import Person
from complaints.followup.models import ComplainantSession
from complaints.followup.services import (
    MAX_MESSAGE,
    MailboxClosed,
    MailboxPolicy,
    add_files,
    close_mailbox,
    consent_states,
    consents_for,
    my_reports,
    open_mailbox,
    open_own_report,
    post_message,
    read_mailbox,
    resolve_mailbox,
    set_consent,
    withdraw_case,
)
from complaints.intake.services import complainant_index
from complaints.notify.models import Notification
from complaints.stats.models import StatEvent
from complaints.workflow.config import workflow
from complaints.workflow.services import DeadlineStatus
from tests.conftest import Clock, app_session
from tests.factories import import_demo_directory
from tests.followup import FILER_EMAIL, Filed, file_report, handler_reply

POLICY = MailboxPolicy(idle_timeout=timedelta(minutes=15), absolute_timeout=timedelta(hours=2))


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app_session(app) as db_session:
        yield db_session


@pytest.fixture
def filed(session: Session, clock: Clock) -> Filed:
    people = import_demo_directory(session, clock())
    return file_report(session, people, clock())


def _case(session: Session, filed: Filed) -> Case:
    case = session.get(Case, filed.case_id)
    assert case is not None
    return case


def _actions(session: Session) -> list[str]:
    return list(session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.seq)))


def test_the_code_opens_the_mailbox_however_it_is_typed(
    session: Session, filed: Filed, clock: Clock
) -> None:
    for typed in (filed.code, filed.code.lower().replace("-", " "), filed.code.replace("-", "")):
        opened = open_mailbox(session, keystore(), indexer(), POLICY, code=typed, now=clock())
        assert opened is not None
        assert opened.session.case_id == filed.case_id
        # Only a hash of the token is kept.
        assert opened.session.token_hash != opened.token.encode()
        assert resolve_mailbox(session, opened.token, POLICY, clock()) is opened.session


def test_a_wrong_code_opens_nothing_and_is_audited_without_it(
    session: Session, filed: Filed, clock: Clock
) -> None:
    wrong = filed.code[:-1] + ("0" if filed.code[-1] != "0" else "1")
    for typed in (wrong, "", "x" * 500):
        assert open_mailbox(session, keystore(), indexer(), POLICY, code=typed, now=clock()) is None
    events = session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "followup.code_rejected")
    ).all()
    assert [(e.actor_kind, e.outcome, e.details, e.object_id) for e in events] == [
        (ActorKind.ANONYMOUS, AuditOutcome.FAILURE, {}, None)
    ] * 3
    assert session.scalar(sa.select(sa.func.count()).select_from(ComplainantSession)) == 0


def test_a_mailbox_session_ends_when_idle_expired_or_closed(
    session: Session, filed: Filed, clock: Clock
) -> None:
    def opened() -> str:
        result = open_mailbox(session, keystore(), indexer(), POLICY, code=filed.code, now=clock())
        assert result is not None
        return result.token

    idle = opened()
    assert resolve_mailbox(session, idle, POLICY, clock() + timedelta(minutes=15)) is not None
    assert resolve_mailbox(session, idle, POLICY, clock() + timedelta(minutes=31)) is None
    # Once ended it stays ended, even if asked again within the idle time.
    assert resolve_mailbox(session, idle, POLICY, clock() + timedelta(minutes=32)) is None

    busy = opened()
    for minutes in range(10, 120, 10):
        assert resolve_mailbox(session, busy, POLICY, clock() + timedelta(minutes=minutes))
    assert resolve_mailbox(session, busy, POLICY, clock() + timedelta(minutes=120)) is None

    closed = opened()
    record = resolve_mailbox(session, closed, POLICY, clock())
    assert record is not None
    close_mailbox(session, keystore(), record, now=clock())
    assert resolve_mailbox(session, closed, POLICY, clock()) is None
    assert _actions(session).count("followup.closed") == 1
    assert resolve_mailbox(session, "made-up-token", POLICY, clock()) is None


def test_read_mailbox_shows_the_thread_and_marks_the_handlers_messages_read(
    session: Session, filed: Filed, clock: Clock
) -> None:
    case = _case(session, filed)
    mine = post_message(session, keystore(), workflow(), case, body="  Vraag?  ", now=clock())
    reply = handler_reply(
        session, filed.case_id, filed.handler_id, "Antwoord.", clock() + timedelta(minutes=1)
    )
    later = clock() + timedelta(minutes=5)
    box = read_mailbox(session, keystore(), workflow(), case, now=later)
    assert [(m.from_complainant, m.body) for m in box.messages] == [
        (True, "Vraag?"),
        (False, "Antwoord."),
    ]
    assert reply.read_at == later
    assert mine.read_at is None
    assert box.is_open
    assert [(d.name, d.status, str(d.due_on)) for d in box.deadlines] == [
        ("acknowledge", DeadlineStatus.OPEN, "2026-03-09")
    ]
    assert _actions(session)[-1] == "case.open"


def test_a_mailbox_whose_case_key_is_gone_is_unreadable_and_the_failure_is_audited(
    session: Session, filed: Filed, clock: Clock
) -> None:
    case = _case(session, filed)
    read_mailbox(session, keystore(), workflow(), case, now=clock())  # control: readable first
    session.execute(sa.delete(KeySlot).where(KeySlot.case_id == case.id))
    with pytest.raises(CaseUnreadable):
        read_mailbox(session, keystore(), workflow(), case, now=clock())
    last = session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
    assert (last.action, last.outcome) == ("case.open", AuditOutcome.FAILURE)


def test_a_message_must_have_text_and_not_be_too_long(
    session: Session, filed: Filed, clock: Clock
) -> None:
    case = _case(session, filed)
    for body in ("", "   \n", "x" * (MAX_MESSAGE + 1)):
        with pytest.raises(ValueError, match="message length"):
            post_message(session, keystore(), workflow(), case, body=body, now=clock())
    assert session.scalar(sa.select(sa.func.count()).select_from(Message)) == 0


def test_consents_asked_depend_on_route_and_disclosure() -> None:
    def kinds(route: Route, disclosure: Disclosure) -> set[ConsentKind]:
        return set(consents_for(Case(route=route, disclosure=disclosure)))

    assert kinds(Route.CONFIDANT, Disclosure.CONFIDENTIAL) == {
        ConsentKind.REFERRAL,
        ConsentKind.SHARE_IDENTITY,
    }
    # Nobody knows who filed an anonymous report; a named one already allows the name.
    assert kinds(Route.CONFIDANT, Disclosure.ANONYMOUS) == {ConsentKind.REFERRAL}
    assert kinds(Route.MANAGER, Disclosure.NAMED) == set()
    assert kinds(Route.COMMITTEE, Disclosure.NAMED) == {
        ConsentKind.MEDIATION,
        ConsentKind.EXTENSION,
    }


def test_consent_history_is_kept_and_the_handler_told(
    session: Session, filed: Filed, clock: Clock
) -> None:
    case = _case(session, filed)

    def change(given: bool, minutes: int) -> bool:
        return set_consent(
            session,
            keystore(),
            workflow(),
            case,
            kind=ConsentKind.REFERRAL,
            given=given,
            now=clock() + timedelta(minutes=minutes),
        )

    assert change(True, 1)
    assert not change(True, 2)  # nothing changes, nothing is recorded
    assert change(False, 3)
    assert not change(False, 4)
    assert change(True, 5)
    rows = session.scalars(sa.select(Consent).order_by(Consent.id)).all()
    assert [(r.given_at - clock(), r.withdrawn_at) for r in rows] == [
        (timedelta(minutes=1), clock() + timedelta(minutes=3)),
        (timedelta(minutes=5), None),
    ]
    states = {c.kind: c for c in consent_states(session, case)}
    assert states[ConsentKind.REFERRAL].given
    assert states[ConsentKind.REFERRAL].since == clock() + timedelta(minutes=5)
    assert not states[ConsentKind.SHARE_IDENTITY].given
    with pytest.raises(ValueError, match="not asked"):
        set_consent(
            session,
            keystore(),
            workflow(),
            case,
            kind=ConsentKind.MEDIATION,
            given=True,
            now=clock(),
        )
    told = session.scalars(sa.select(Notification).where(Notification.kind == "case_message")).all()
    assert len(told) == 3
    assert {n.recipient_person_id for n in told} == {filed.handler_id}


def test_withdrawing_ends_the_case_and_leaves_it_read_only(
    session: Session, filed: Filed, clock: Clock
) -> None:
    case = _case(session, filed)
    later = clock() + timedelta(days=3)
    withdraw_case(session, keystore(), workflow(), case, now=later)
    assert (case.state, case.closed_at) == ("withdrawn", later)
    deadline = session.scalars(sa.select(Deadline)).one()
    assert (deadline.cancelled_at, deadline.met_at) == (later, None)
    event = session.scalars(sa.select(CaseEvent).where(CaseEvent.kind == "withdrawn")).one()
    assert (event.from_state, event.to_state) == ("submitted", "withdrawn")
    stat = session.scalars(sa.select(StatEvent).where(StatEvent.kind == "withdrawn")).one()
    assert stat.days_taken == 3
    told = session.scalars(
        sa.select(Notification).where(Notification.kind == "case_withdrawn")
    ).all()
    assert [n.recipient_person_id for n in told] == [filed.handler_id]

    box = read_mailbox(session, keystore(), workflow(), case, now=later)
    assert not box.is_open
    assert [d.status for d in box.deadlines] == [DeadlineStatus.CANCELLED]
    keys, flow = keystore(), workflow()
    with pytest.raises(MailboxClosed):
        post_message(session, keys, flow, case, body="Nog iets", now=later)
    with pytest.raises(MailboxClosed):
        add_files(
            session,
            keys,
            flow,
            case,
            files=[NewAttachment("a.txt", "text/plain", b"a")],
            now=later,
        )
    with pytest.raises(MailboxClosed):
        set_consent(session, keys, flow, case, kind=ConsentKind.REFERRAL, given=True, now=later)
    with pytest.raises(MailboxClosed):
        withdraw_case(session, keys, flow, case, now=later)


def test_my_reports_and_opening_one_by_account(session: Session, clock: Clock) -> None:
    people = import_demo_directory(session, clock())
    sanne = people[FILER_EMAIL]
    first = file_report(session, people, clock(), filer=sanne)
    second = file_report(session, people, clock() + timedelta(hours=1), filer=sanne)
    file_report(session, people, clock(), filer=sanne, disclosure=Disclosure.ANONYMOUS)
    theirs = file_report(session, people, clock(), filer=people["m.elidrissi@bzk.example"])
    own_index = complainant_index(indexer(), sanne.id)

    assert [c.id for c in my_reports(session, own_index)] == [second.case_id, first.case_id]

    actor = Actor.staff(1234)
    opened = open_own_report(
        session,
        keystore(),
        POLICY,
        case_id=first.case_id,
        blind_index=own_index,
        actor=actor,
        now=clock(),
    )
    assert opened is not None
    assert opened.session.case_id == first.case_id
    success = session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "followup.opened")
    ).one()
    # The audit log does not tie the account to the report it filed.
    assert (success.actor_kind, success.actor_id) == (ActorKind.COMPLAINANT, first.reference)
    assert "1234" not in str(success.details)

    for case_id in (theirs.case_id, filed_anonymously(session, people, clock())):
        assert (
            open_own_report(
                session,
                keystore(),
                POLICY,
                case_id=case_id,
                blind_index=own_index,
                actor=actor,
                now=clock(),
            )
            is None
        )
    refused = session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "followup.account_refused")
    ).all()
    assert [(e.actor_kind, e.actor_id, e.outcome) for e in refused] == [
        (ActorKind.STAFF, "1234", AuditOutcome.FAILURE)
    ] * 2


def filed_anonymously(session: Session, people: dict[str, Person], now: datetime) -> uuid.UUID:
    """An anonymous report: it has no complainant index, so no account can claim it."""
    return file_report(session, people, now, disclosure=Disclosure.ANONYMOUS).case_id
