"""``flask --app wsgi checkins remind``: when a check-in falls due, the case's handlers get one
e-mail (through the real SMTP test server), once; switched-off, sent and unreadable check-ins
are left alone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from click.testing import Result
from flask import Flask

from complaints.audit.models import ActorKind
from complaints.audit.services import Actor
from complaints.cases.models import Case, Route
from complaints.checkins.services import switch_checkins
from complaints.crypto.services import keystore
from tests.checkins import checkins, close, file_on
from tests.conftest import Clock, app_session
from tests.notify.conftest import MailServer, Received

pytestmark = pytest.mark.committing

CONFIDANT = "i.hoekstra@bzk.example"  # the BZK confidant who handles the report
CLOSED = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
DESCRIPTION = "racistische grap"  # in the report filed by tests.factories.file_report


def remind(app: Flask, *args: str) -> Result:
    result = app.test_cli_runner().invoke(args=["checkins", "remind", *args])
    assert result.exit_code == 0, result.output
    return result


def line(day: str, *, due: int, reminded: int = 0, sent: int = 0, waiting: int = 0) -> str:
    return (
        f"as of {day}: {due} check-in(s) due and not sent; reminded now: {reminded}; "
        f"{sent} e-mail(s) sent, {waiting} waiting for 'notify send'\n"
    )


def check_in_mails(server: MailServer) -> list[Received]:
    return [r for r in server.received if "Check-in" in r.message["Subject"]]


def text(received: Received) -> str:
    content = received.message.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def closed_report(app: Flask, clock: Clock) -> tuple[uuid.UUID, str, str]:
    """A confidant report closed on 10 March 2026: its id, reference and receipt code."""
    clock.current = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with app_session(app) as session:
        filed = file_on(session, clock(), Route.CONFIDANT)
        close(session, filed.case_id, Route.CONFIDANT, CLOSED)
        return filed.case_id, filed.reference, filed.code


def test_a_due_check_in_is_reminded_once_and_not_twice(
    mail_app: Flask, mail_server: MailServer, clock: Clock
) -> None:
    case_id, reference, code = closed_report(mail_app, clock)

    clock.current = datetime(2026, 4, 9, 6, 0, tzinfo=UTC)  # the day before the first
    assert remind(mail_app).output == line("2026-04-09", due=0)
    assert check_in_mails(mail_server) == []

    clock.current = datetime(2026, 4, 10, 6, 0, tzinfo=UTC)
    assert remind(mail_app).output == line("2026-04-10", due=1, reminded=1, sent=1)
    mails = check_in_mails(mail_server)
    assert [address for mail in mails for address in mail.rcpt_tos] == [CONFIDANT]
    assert mails[0].message["Subject"].strip() == (
        f"Check-in bij melding {reference} / Check-in due in report {reference}"
    )
    body = text(mails[0])
    assert f"It is a month since report {reference} was closed" in body
    assert f"Het is een maand geleden dat melding {reference} is gesloten" in body
    assert DESCRIPTION not in body  # nothing of the report itself
    assert code not in body
    assert code.replace("-", "") not in body

    # Again the same day, and a week later: still due (not sent), but not reminded again.
    assert remind(mail_app).output == line("2026-04-10", due=1)
    clock.advance(days=7)
    assert remind(mail_app).output == line("2026-04-17", due=1)
    assert len(check_in_mails(mail_server)) == 1

    # Control: the next check-in is a reminder of its own.
    clock.current = datetime(2026, 6, 10, 6, 0, tzinfo=UTC)
    assert remind(mail_app, "--as-of", "2026-06-10").output == line(
        "2026-06-10", due=2, reminded=1, sent=1
    )
    assert "It is 3 months since report" in text(check_in_mails(mail_server)[-1])
    with app_session(mail_app) as session:
        rows = checkins(session, case_id)
        assert [r.reminded_at is not None for r in rows] == [True, True, False]


def test_as_of_previews_another_day_without_the_clock(
    mail_app: Flask, mail_server: MailServer, clock: Clock
) -> None:
    closed_report(mail_app, clock)
    clock.current = datetime(2026, 3, 20, 6, 0, tzinfo=UTC)
    assert remind(mail_app, "--as-of", "2026-09-10").output == line(
        "2026-09-10", due=3, reminded=3, sent=1
    )
    # One e-mail per case and handler, however many of its check-ins are due: the latest.
    mails = check_in_mails(mail_server)
    assert len(mails) == 1
    assert "It is 6 months since report" in text(mails[0])


def test_switched_off_check_ins_are_not_reminded(
    mail_app: Flask, mail_server: MailServer, clock: Clock
) -> None:
    case_id, reference, _code = closed_report(mail_app, clock)
    actor = Actor(ActorKind.COMPLAINANT, reference)
    with app_session(mail_app) as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert switch_checkins(session, keystore(), case, on=False, actor=actor, now=clock())
    clock.current = datetime(2026, 4, 10, 6, 0, tzinfo=UTC)
    assert remind(mail_app).output == line("2026-04-10", due=0)
    assert check_in_mails(mail_server) == []

    # Control: switched on again, the same check-in is reminded.
    with app_session(mail_app) as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert switch_checkins(session, keystore(), case, on=True, actor=actor, now=clock())
    assert remind(mail_app).output == line("2026-04-10", due=1, reminded=1, sent=1)


def test_a_mailbox_that_cannot_be_opened_any_more_gets_no_check_in(
    mail_app: Flask, mail_server: MailServer, clock: Clock
) -> None:
    case_id, _reference, _code = closed_report(mail_app, clock)
    with app_session(mail_app) as session:
        # What the integrity route's redaction does: the receipt goes (no account either).
        session.execute(
            sa.update(Case)
            .where(Case.id == case_id)
            .values(receipt_index=None, complainant_index=None)
        )
    assert remind(mail_app, "--as-of", "2026-04-10").output == line("2026-04-10", due=0)
    assert check_in_mails(mail_server) == []
