"""E-mail notifications, delivered to a real SMTP server on 127.0.0.1 after the commit."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_babel import force_locale
from sqlalchemy.orm import Session

from complaints import db
from complaints.cases.models import Route
from complaints.cases.taxonomy import taxonomy
from complaints.crypto.services import indexer, keystore
from complaints.directory.models import Person
from complaints.intake.services import (
    AccusedPerson,
    Identity,
    Report,
    Submission,
    Witness,
    submit_report,
)
from complaints.notify.models import Notification, NotificationStatus
from complaints.notify.services import deliver, mailer, queue_notification, retry_delay
from complaints.settings import current_settings
from complaints.workflow.config import workflow
from tests.conftest import Clock, app_session
from tests.factories import build_report, import_demo_directory, unit
from tests.notify.conftest import MAX_ATTEMPTS, PUBLIC_URL, MailServer, Received

DESCRIPTION = "Mijn leidinggevende noemde mij waar iedereen bij was een luie Marokkaan."
PLACE = "kantine op de vijfde verdieping"


def people_by_name(session: Session, clock: Clock) -> dict[str, Person]:
    found = import_demo_directory(session, clock())
    return {email.split("@")[0]: person for email, person in found.items()}


def make_report(session: Session, people: dict[str, Person], route: Route) -> Report:
    return build_report(
        last_incident_on=date(2026, 3, 2),
        unit_id=unit(session, "BZK-APS").id,
        place=PLACE,
        description=DESCRIPTION,
        accused=(AccusedPerson("Mohamed el Idrissi", "leidinggevende", people["m.elidrissi"].id),),
        witnesses=(Witness("Lotte Bakker", "l.bakker@bzk.example"),),
        desired_outcome="Excuses.",
        route=route,
        identity=Identity("Rahul Ramsaran", "r.ramsaran@bzk.example", "06 98765432"),
    )


def submit(app: Flask, clock: Clock, route: Route = Route.CONFIDANT) -> Submission:
    """Import the directory and file a report, committed as a request would commit it."""
    with app_session(app) as session:
        people = people_by_name(session, clock)
    with app.app_context(), db.unit_of_work() as session:
        return submit_report(
            session,
            keystore(),
            indexer(),
            taxonomy(),
            workflow(),
            make_report(session, people, route),
            expected_recipients=None,
            now=clock(),
        )


def notifications(app: Flask) -> list[Notification]:
    with app_session(app) as session:
        return list(session.scalars(sa.select(Notification).order_by(Notification.id)))


def body(received: Received) -> str:
    content = received.message.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def case_content(submission: Submission) -> list[str]:
    code = submission.receipt_code
    return [
        DESCRIPTION,
        "Marokkaan",
        PLACE,
        "Directie Arbeidszaken",  # where it happened, as written into the case
        "Rahul",
        "Ramsaran",
        "r.ramsaran",
        "98765432",
        "Mohamed",
        "Idrissi",
        "Lotte",
        "Bakker",
        "Excuses",
        "2 maart 2026",  # the incident date as written
        code,
        code.replace("-", ""),
        code.lower(),
        code.replace("-", "").lower(),
        "race",
        "discrimination",
    ]


def test_a_new_case_is_announced_to_its_handler(
    mail_app: Flask, mail_server: MailServer, clock: Clock
) -> None:
    submission = submit(mail_app, clock)
    reference = submission.case.reference
    [received] = mail_server.received
    assert received.rcpt_tos == ["i.hoekstra@bzk.example"]
    assert received.mail_from == "no-reply@meldpunt.example"
    message = received.message
    assert message["To"] == "i.hoekstra@bzk.example"
    assert message["Subject"] == f"Nieuwe melding {reference} / New report {reference}"
    assert message["Auto-Submitted"] == "auto-generated"
    dutch, english = body(received).split("\n-- English --\n")
    # Dutch first, English below it; each names the reference and the day to acknowledge by.
    assert reference in dutch
    assert "9 maart 2026" in dutch
    assert "March" not in dutch
    assert reference in english
    assert "Please confirm receipt by 9 March 2026." in english
    for part in (dutch, english):
        assert f"{PUBLIC_URL}/aanmelden" in part
    with mail_app.app_context(), force_locale("nl"):
        from complaints.web.i18n import _

        assert _("This e-mail deliberately contains nothing about the report itself.") in dutch
    [notification] = notifications(mail_app)
    assert (notification.status, notification.attempts) == (NotificationStatus.SENT, 1)
    assert (notification.sent_at, notification.last_error) == (clock(), None)


def test_the_email_carries_no_case_content(
    mail_app: Flask, mail_server: MailServer, clock: Clock
) -> None:
    submission = submit(mail_app, clock, Route.COMMITTEE)
    assert len(mail_server.received) == 2
    for received in mail_server.received:
        text = received.raw.decode("utf-8", "replace") + body(received)
        for content in case_content(submission):
            assert content.lower() not in text.lower(), content
        assert re.search(r"\d+\.\d+\.\d+\.\d+", text) is None  # no address of anyone


def test_all_recipients_of_a_case_are_sent_over_one_connection(
    mail_app: Flask, mail_server: MailServer, clock: Clock
) -> None:
    submission = submit(mail_app, clock, Route.COMMITTEE)
    assert sorted(r.rcpt_tos[0] for r in mail_server.received) == [
        "n.haddou@bzk.example",
        "w.deboer@bzk.example",
    ]
    assert len({r.connection for r in mail_server.received}) == 1
    for received in mail_server.received:
        assert submission.case.reference in received.message["Subject"]
    assert [n.status for n in notifications(mail_app)] == [NotificationStatus.SENT] * 2


def test_while_the_server_is_down_the_notification_waits(
    mail_app: Flask, mail_server: MailServer, clock: Clock
) -> None:
    mail_server.stop()
    submission = submit(mail_app, clock)
    assert submission.case.reference  # the report itself is saved
    [notification] = notifications(mail_app)
    assert notification.status is NotificationStatus.PENDING
    assert notification.attempts == 1
    assert notification.next_attempt_at == clock() + timedelta(minutes=1)
    assert notification.sent_at is None
    # The kind of error only: a server's reply may repeat an address.
    assert notification.last_error == "ConnectionRefusedError"
    assert mail_server.received == []


def test_rolled_back_work_sends_nothing(
    mail_app: Flask, mail_server: MailServer, clock: Clock
) -> None:
    with app_session(mail_app) as session:
        people = people_by_name(session, clock)

    def failing_request() -> None:
        with db.unit_of_work() as work:
            submit_report(
                work,
                keystore(),
                indexer(),
                taxonomy(),
                workflow(),
                make_report(work, people, Route.COMMITTEE),
                expected_recipients=None,
                now=clock(),
            )
            raise RuntimeError("the request failed after the report was written")

    with mail_app.app_context():
        with pytest.raises(RuntimeError, match="the request failed"):
            failing_request()
        # The same context carries on with other work: the failed work's e-mail stays unsent.
        with db.unit_of_work() as work:
            queue_notification(
                work,
                recipient_person_id=people["i.hoekstra"].id,
                kind="case_message",
                params={"reference": "2026-TEST-0001"},
                now=clock(),
            )
    assert [r.rcpt_tos for r in mail_server.received] == [["i.hoekstra@bzk.example"]]
    assert "2026-TEST-0001" in mail_server.received[0].message["Subject"]
    assert [n.kind for n in notifications(mail_app)] == ["case_message"]


def test_a_session_rolled_back_directly_sends_nothing_stale(
    mail_app: Flask, mail_server: MailServer, clock: Clock
) -> None:
    with app_session(mail_app) as session:
        people = people_by_name(session, clock)
    with mail_app.app_context():
        session = db.session()
        queue_notification(
            session,
            recipient_person_id=people["w.deboer"].id,
            kind="case_withdrawn",
            params={"reference": "2026-GONE-GONE"},
            now=clock(),
        )
        session.rollback()  # not db.rollback(): the after-commit list is not cleared
        queue_notification(
            session,
            recipient_person_id=people["n.haddou"].id,
            kind="case_message",
            params={"reference": "2026-KEPT-KEPT"},
            now=clock(),
        )
        db.commit()
    assert [(r.rcpt_tos, r.message["Subject"]) for r in mail_server.received] == [
        (
            ["n.haddou@bzk.example"],
            "Nieuws in melding 2026-KEPT-KEPT / News in report 2026-KEPT-KEPT",
        )
    ]


def test_unknown_kinds_and_rich_values_are_refused_when_queued(
    app: Flask, mail_server: MailServer, clock: Clock
) -> None:
    with app_session(app) as session:
        person = people_by_name(session, clock)["i.hoekstra"]
        with pytest.raises(ValueError, match="kind"):
            queue_notification(
                session,
                recipient_person_id=person.id,
                kind="case_summary",
                params={"reference": "2026-AAAA-BBBB"},
                now=clock(),
            )
        with pytest.raises(TypeError, match="plain value"):
            queue_notification(
                session,
                recipient_person_id=person.id,
                kind="case_message",
                params={"reference": "2026-AAAA-BBBB", "parties": ["Lotte Bakker"]},
                now=clock(),
            )
    assert mail_server.received == []


@pytest.mark.parametrize(
    ("kind", "params", "subject", "english"),
    [
        (
            "case_message",
            {"reference": "2026-AAAA-BBBB"},
            "Nieuws in melding 2026-AAAA-BBBB / News in report 2026-AAAA-BBBB",
            "There is news from the complainant in report 2026-AAAA-BBBB",
        ),
        (
            "case_withdrawn",
            {"reference": "2026-AAAA-BBBB"},
            "Melding 2026-AAAA-BBBB ingetrokken / Report 2026-AAAA-BBBB withdrawn",
            "The complainant has withdrawn report 2026-AAAA-BBBB.",
        ),
        (
            "case_assigned",
            {"reference": "2026-AAAA-BBBB"},  # a route whose workflow has no acknowledge clock
            "Nieuwe melding 2026-AAAA-BBBB / New report 2026-AAAA-BBBB",
            "A new report has been assigned to you: 2026-AAAA-BBBB.\n\nLog in to read it:",
        ),
    ],
)
def test_every_kind_of_notification_is_delivered(
    app: Flask,
    mail_server: MailServer,
    clock: Clock,
    kind: str,
    params: dict[str, str],
    subject: str,
    english: str,
) -> None:
    with app_session(app) as session:
        person = people_by_name(session, clock)["w.deboer"]
        queue_notification(
            session, recipient_person_id=person.id, kind=kind, params=params, now=clock()
        )
    [received] = mail_server.received
    assert received.message["Subject"] == subject
    assert english in body(received).split("-- English --")[1]
    assert f"{PUBLIC_URL}/aanmelden" in body(received)


def test_a_notification_that_cannot_be_written_does_not_hold_up_the_others(
    app: Flask, mail_server: MailServer, clock: Clock
) -> None:
    with app_session(app) as session:
        people = people_by_name(session, clock)
        for params in ({}, {"reference": "2026-GOOD-GOOD"}):
            session.add(
                Notification(
                    recipient_person_id=people["n.haddou"].id,
                    kind="case_message",
                    params=params,
                    status=NotificationStatus.PENDING,
                    attempts=0,
                    created_at=clock(),
                    next_attempt_at=clock(),
                )
            )
    with app_session(app) as session:
        report = deliver(session, mailer(), current_settings(), now=clock())
    assert (report.sent, report.retrying, report.failed) == (1, 0, 1)
    broken, good = notifications(app)
    assert (broken.status, broken.attempts, broken.last_error) == (
        NotificationStatus.FAILED,
        1,
        "KeyError",
    )
    assert good.status is NotificationStatus.SENT
    assert [r.message["Subject"].split(" / ")[1] for r in mail_server.received] == [
        "News in report 2026-GOOD-GOOD"
    ]


def test_retries_back_off_and_stop_at_the_configured_number(
    app: Flask, mail_server: MailServer, clock: Clock
) -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4, 11, 12, 100)] == [
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(minutes=8),
        timedelta(minutes=1024),
        timedelta(days=1),
        timedelta(days=1),
    ]
    mail_server.stop()
    with app_session(app) as session:
        person = people_by_name(session, clock)["w.deboer"]
        queue_notification(
            session,
            recipient_person_id=person.id,
            kind="case_message",
            params={"reference": "2026-AAAA-BBBB"},
            now=clock(),
        )
    for attempt in range(2, MAX_ATTEMPTS + 1):
        with app_session(app) as session:
            assert deliver(session, mailer(), current_settings(), now=clock()).sent == 0
        [notification] = notifications(app)
        assert notification.attempts == attempt - 1  # nothing was due yet
        clock.current = notification.next_attempt_at
        with app_session(app) as session:
            report = deliver(session, mailer(), current_settings(), now=clock())
        [notification] = notifications(app)
        assert notification.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            assert (report.retrying, notification.status) == (1, NotificationStatus.PENDING)
            assert notification.next_attempt_at == clock() + retry_delay(attempt)
        else:
            assert (report.failed, notification.status) == (1, NotificationStatus.FAILED)
    mail_server.start()
    clock.advance(days=2)
    with app_session(app) as session:
        assert deliver(session, mailer(), current_settings(), now=clock()).sent == 0
    assert mail_server.received == []


def test_everything_a_transaction_queued_goes_out_after_it(
    app: Flask, mail_server: MailServer, clock: Clock
) -> None:
    with app_session(app) as session:
        person = people_by_name(session, clock)["n.haddou"]
        for number in range(205):  # more than one batch
            queue_notification(
                session,
                recipient_person_id=person.id,
                kind="case_message",
                params={"reference": f"2026-AAAA-{number:04d}"},
                now=clock(),
            )
        assert mail_server.received == []  # nothing before the commit
    assert len(mail_server.received) == 205
    assert len({r.connection for r in mail_server.received}) == 2
    assert {n.status for n in notifications(app)} == {NotificationStatus.SENT}
