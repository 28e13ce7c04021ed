"""Retention reminders: every handler of a finished case gets one e-mail within the rule's
reminder period before the case is destroyed or redacted — a reference, a rule and a day, and
nothing about the case. Held cases are not reminded; an extension's new day is."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from complaints.audit.services import Actor
from complaints.cases.models import Case, CaseAccessGrant, GrantRole, Route
from complaints.crypto.services import keystore
from complaints.directory.models import Person
from complaints.notify.models import Notification
from complaints.notify.services import render_email
from complaints.retention import holds
from complaints.retention.models import RetentionReminder
from complaints.retention.policy import retention_policy
from complaints.retention.reminders import send_retention_reminders
from complaints.settings import current_settings
from complaints.workflow.config import workflow
from tests.conftest import app_session
from tests.factories import import_demo_directory
from tests.retention.conftest import SECRET_WORDS, Made, at, make_finished_case

CONFIDANT = "i.hoekstra@bzk.example"
OTHER_CONFIDANT = "g.verbeek@bzk.example"
CLOSED = date(2026, 3, 2)
DUE = date(2028, 3, 2)  # confidant-closed: two years
REMIND = DUE - timedelta(days=30)  # remind_before = 30 days


@pytest.fixture
def people(app: Flask) -> dict[str, Person]:
    with app_session(app) as session:
        return import_demo_directory(session, at(CLOSED))


def finished(session: Session, people: dict[str, Person], **kwargs: object) -> Made:
    return make_finished_case(
        session,
        handler=people[CONFIDANT],
        filed_at=at(CLOSED - timedelta(days=30)),
        closed_at=at(CLOSED),
        **kwargs,  # type: ignore[arg-type]
    )


def remind(session: Session, as_of: date, batch_size: int = 1000) -> int:
    return len(
        send_retention_reminders(
            session,
            retention_policy(),
            workflow(),
            as_of=as_of,
            now=at(as_of, 6),
            batch_size=batch_size,
        )
    )


def queued(session: Session) -> list[Notification]:
    return list(
        session.scalars(
            sa.select(Notification)
            .where(Notification.kind == "retention_reminder")
            .order_by(Notification.id)
        )
    )


def test_one_reminder_per_handler_within_the_period(app: Flask, people: dict[str, Person]) -> None:
    with app_session(app) as session:
        made = finished(session, people)
        session.add(
            CaseAccessGrant(
                case_id=made.id,
                person_id=people[OTHER_CONFIDANT].id,
                role=GrantRole.CONFIDANT,
                granted_at=at(CLOSED),
            )
        )
        session.flush()
        assert remind(session, REMIND - timedelta(days=1)) == 0
        assert remind(session, REMIND) == 2
        # Once: not again the same day, nor the next, nor on the day itself or after.
        for day in (REMIND, REMIND + timedelta(days=1), DUE, DUE + timedelta(days=5)):
            assert remind(session, day) == 0
        notifications = queued(session)
        assert sorted(n.recipient_person_id for n in notifications) == sorted(
            [people[CONFIDANT].id, people[OTHER_CONFIDANT].id]
        )
        assert notifications[0].params == {
            "reference": made.reference,
            "rule_nl": "Afgesloten dossiers van de vertrouwenspersoon",
            "rule_en": "Closed confidential counsellor files",
            "action": "destroy",
            "due_by": DUE.isoformat(),
        }
        [sent] = session.scalars(sa.select(RetentionReminder)).all()
        assert (sent.case_id, sent.rule, sent.due_on) == (made.id, "confidant-closed", DUE)


def test_the_email_says_reference_rule_and_day_and_nothing_else(
    app: Flask, people: dict[str, Person]
) -> None:
    with app_session(app) as session:
        made = finished(session, people, route=Route.INTEGRITY)
        # integrity-redact: one year, reminded 30 days before.
        redact_on = date(2027, 3, 2)
        assert remind(session, redact_on - timedelta(days=30)) == 1
        [notification] = queued(session)
        message = render_email(notification, people[CONFIDANT], current_settings())
        text = message.get_content()
        subject = message["Subject"]
        assert made.reference in subject
        assert "will be partly erased" in subject
        assert "2 maart 2027" in text
        assert "2 March 2027" in text
        assert "Integriteitsmeldingen: melder en berichten verwijderen" in text
        assert "Integrity reports: remove the reporter and the messages" in text
        assert "/aanmelden" in text
        for secret in SECRET_WORDS:
            assert secret not in text
            assert secret not in subject
        # The destruction four years later is reminded in its own time, as destruction.
        destroy_on = date(2031, 3, 2)
        assert remind(session, destroy_on - timedelta(days=60)) == 1
        last = queued(session)[-1]
        assert last.params["action"] == "destroy"
        message = render_email(last, people[CONFIDANT], current_settings())
        assert "will be destroyed" in message["Subject"]


def test_held_cases_are_not_reminded_and_an_extension_is(
    app: Flask, people: dict[str, Person]
) -> None:
    with app_session(app) as session:
        held = finished(session, people)
        extended = finished(session, people)
        holds.place_hold(
            session,
            keystore(),
            session.get_one(Case, held.id),
            reason="Rechtszaak",
            until=None,
            person_id=people[CONFIDANT].id,
            actor=Actor.staff(1),
            now=at(CLOSED),
        )
        # Small batches: the reminders go through every batch.
        assert remind(session, REMIND, batch_size=1) == 1
        assert [n.params["reference"] for n in queued(session)] == [extended.reference]
        holds.extend_case(
            session,
            keystore(),
            retention_policy(),
            workflow(),
            session.get_one(Case, extended.id),
            reason="Nodig",
            person_id=people[CONFIDANT].id,
            actor=Actor.staff(1),
            now=at(REMIND),
        )
        new_due = DUE.replace(year=DUE.year + 1)
        assert remind(session, new_due - timedelta(days=30), batch_size=1) == 1
        assert queued(session)[-1].params["due_by"] == new_due.isoformat()


def test_no_handler_no_reminder_until_there_is_one(app: Flask, people: dict[str, Person]) -> None:
    with app_session(app) as session:
        made = finished(session, people)
        grant = session.scalars(
            sa.select(CaseAccessGrant).where(CaseAccessGrant.case_id == made.id)
        ).one()
        grant.revoked_at = at(CLOSED)
        session.flush()
        assert remind(session, REMIND) == 0
        assert session.scalar(sa.select(sa.func.count()).select_from(RetentionReminder)) == 0
        grant.revoked_at = None
        session.flush()
        assert remind(session, REMIND + timedelta(days=1)) == 1
