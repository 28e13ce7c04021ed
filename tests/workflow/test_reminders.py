"""``flask --app wsgi deadlines remind``: handlers get one e-mail before a deadline's day and one
after it, through the real SMTP test server; paused and settled deadlines are left alone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from click.testing import Result
from flask import Flask

from complaints.cases.models import Case, ConsentKind, Deadline, GrantRole, Route
from complaints.notify.models import Notification
from tests.conftest import Clock, app_session
from tests.factories import import_demo_directory
from tests.notify.conftest import MailServer, Received
from tests.workflow import file_on, give_consent, step

pytestmark = pytest.mark.committing

SECRETARIES = ["n.haddou@bzk.example", "w.deboer@bzk.example"]
SECRETARY = {GrantRole.COMMITTEE_SECRETARY}


def remind(app: Flask, *args: str) -> Result:
    result = app.test_cli_runner().invoke(args=["deadlines", "remind", *args])
    assert result.exit_code == 0, result.output
    return result


def line(
    day: str,
    *,
    overdue: int,
    due: int,
    days: int = 3,
    reminded_overdue: int = 0,
    reminded_due: int = 0,
    sent: int = 0,
    waiting: int = 0,
) -> str:
    """What ``deadlines remind`` prints: deadlines counted as they stand on ``day``, then what
    this run reminded, then the e-mails as they went (or did not go) out."""
    return (
        f"as of {day}: {overdue} deadline(s) overdue, {due} due within {days} day(s); "
        f"reminded now: {reminded_overdue} overdue, {reminded_due} due soon; "
        f"{sent} e-mail(s) sent, {waiting} waiting for 'notify send'\n"
    )


def reminders(server: MailServer) -> list[Received]:
    return [r for r in server.received if "Time limit" in r.message["Subject"]]


def text(received: Received) -> str:
    content = received.message.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def recipients(mails: list[Received]) -> list[str]:
    return sorted(address for mail in mails for address in mail.rcpt_tos)


def file_cases(app: Flask, clock: Clock) -> dict[str, uuid.UUID]:
    """Open: a committee complaint. Settled: a confidant report whose receipt is confirmed.
    Paused: a committee complaint in mediation."""
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        open_case = file_on(session, people, Route.COMMITTEE, clock())
        settled = file_on(session, people, Route.CONFIDANT, clock())
        paused = file_on(session, people, Route.COMMITTEE, clock())
        case = session.get(Case, settled.case_id)
        assert case is not None
        step(
            session,
            case,
            "acknowledge",
            clock(),
            person=settled.handler,
            roles={GrantRole.CONFIDANT},
        )
        case = session.get(Case, paused.case_id)
        assert case is not None
        for name in ("acknowledge", "accept"):
            step(session, case, name, clock(), person=paused.handler, roles=SECRETARY)
        give_consent(session, case.id, ConsentKind.MEDIATION, clock())
        step(session, case, "start_mediation", clock(), person=paused.handler, roles=SECRETARY)
        return {"open": open_case.case_id, "settled": settled.case_id, "paused": paused.case_id}


def test_reminders_before_and_after_the_day_once_each(
    mail_app: Flask, mail_server: MailServer, clock: Clock
) -> None:
    cases = file_cases(mail_app, clock)
    with app_session(mail_app) as session:
        reference = session.scalar(sa.select(Case.reference).where(Case.id == cases["open"]))
    assert reference is not None

    # Saturday 7 March: confirming receipt is due on the 9th.
    clock.current = datetime(2026, 3, 7, 8, 0, tzinfo=UTC)
    result = remind(mail_app)
    assert result.output == line(
        "2026-03-07", overdue=0, due=1, reminded_overdue=0, reminded_due=1, sent=2
    )
    first = reminders(mail_server)
    assert recipients(first) == SECRETARIES
    for mail in first:
        assert f"Time limit approaching in report {reference}" in mail.message["Subject"]
        body = text(mail)
        assert "The time limit “Confirm receipt” in report" in body
        assert "is due on 9 March 2026." in body
        assert "Ontvangst bevestigen" in body  # the Dutch part names it in Dutch
        assert "kleineert" not in body  # nothing of the complaint itself
        assert "Bakker" not in body

    # Again the same day, and the day after: nothing new is sent, but the deadline is still
    # counted as due (it is a count of deadlines, not of reminders).
    assert remind(mail_app).output == line("2026-03-07", overdue=0, due=1)
    clock.advance(days=1)
    assert remind(mail_app).output == line("2026-03-08", overdue=0, due=1)
    assert len(reminders(mail_server)) == 2

    # Tuesday 10 March: it has passed.
    clock.current = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    result = remind(mail_app)
    assert result.output == line("2026-03-10", overdue=1, due=0, reminded_overdue=1, sent=2)
    overdue = reminders(mail_server)[2:]
    assert recipients(overdue) == SECRETARIES
    assert all(f"Time limit passed in report {reference}" in m.message["Subject"] for m in overdue)
    assert "was due on 9 March 2026 and has not been met." in text(overdue[0])
    assert remind(mail_app).output == line("2026-03-10", overdue=1, due=0)

    # --as-of counts from another day: the admissibility decision is due on the 16th.
    result = remind(mail_app, "--as-of", "2026-03-14")
    assert result.output == line("2026-03-14", overdue=1, due=1, reminded_due=1, sent=2)
    assert "“Decision on admissibility”" in text(reminders(mail_server)[-1])

    # Long after: admissibility and decision are overdue on the open case; the paused decision
    # of the case in mediation and the settled receipt are never reminded.
    result = remind(mail_app, "--as-of", "2026-06-01", "--days", "0")
    assert result.output == line("2026-06-01", overdue=3, due=0, days=0, reminded_overdue=2, sent=4)
    with app_session(mail_app) as session:
        rows = session.scalars(sa.select(Deadline)).all()
        touched = {
            (d.case_id, d.name)
            for d in rows
            if d.reminded_at is not None or d.overdue_reminded_at is not None
        }
        assert touched == {
            (cases["open"], "acknowledge"),
            (cases["open"], "admissibility"),
            (cases["open"], "decision"),
        }
        assert (
            session.scalar(
                sa.select(sa.func.count()).where(Notification.kind == "deadline_reminder")
            )
            == len(reminders(mail_server))
            == 2 + 2 + 2 + 4
        )


def test_a_moved_due_day_is_reminded_again_and_a_resumed_one_is_reminded_at_all(
    mail_app: Flask, mail_server: MailServer, clock: Clock
) -> None:
    cases = file_cases(mail_app, clock)
    # 9 May: the open case's decision is due on the 11th (and the rest has long passed).
    assert remind(mail_app, "--as-of", "2026-05-09").output == line(
        "2026-05-09", overdue=2, due=1, reminded_overdue=2, reminded_due=1, sent=6
    )
    with app_session(mail_app) as session:
        people = import_demo_directory(session, clock())
        secretary = people[SECRETARIES[1]]
        open_case = session.get(Case, cases["open"])
        paused = session.get(Case, cases["paused"])
        assert open_case is not None
        assert paused is not None
        step(session, open_case, "acknowledge", clock(), person=secretary, roles=SECRETARY)
        step(
            session, open_case, "extend_decision", clock(), person=secretary, roles=SECRETARY,
            reason="Meer tijd nodig.",
        )  # fmt: skip
        resumed_at = clock.advance(days=20)
        step(session, paused, "end_mediation", resumed_at, person=secretary, roles=SECRETARY)
        due = {
            d.case_id: d.due_on
            for d in session.scalars(sa.select(Deadline).where(Deadline.name == "decision"))
        }
    assert due[cases["open"]].isoformat() == "2026-06-08"
    assert due[cases["paused"]].isoformat() == "2026-05-31"  # 11 May + 20 days stood still
    assert remind(mail_app, "--as-of", "2026-05-29").output == line(
        "2026-05-29", overdue=1, due=1, reminded_due=1, sent=2
    )
    # The extended one is due again; the resumed one has passed meanwhile. Admissibility on
    # the open case is still overdue, reminded long ago: counted, not reminded again.
    assert remind(mail_app, "--as-of", "2026-06-06").output == line(
        "2026-06-06", overdue=2, due=1, reminded_overdue=1, reminded_due=1, sent=4
    )
    bodies = [text(mail) for mail in reminders(mail_server)[-4:]]
    assert sum("is due on 8 June 2026." in body for body in bodies) == 2
    assert sum("was due on 31 May 2026 and has not been met." in body for body in bodies) == 2


def test_with_the_mail_server_down_it_says_the_reminders_wait_and_notify_send_sends_them(
    mail_app: Flask, mail_server: MailServer, clock: Clock
) -> None:
    file_cases(mail_app, clock)
    clock.current = datetime(2026, 3, 7, 8, 0, tzinfo=UTC)
    mail_server.stop()
    # Not "sent": the relay refused the connection, so both e-mails wait in the outbox.
    assert remind(mail_app).output == line(
        "2026-03-07", overdue=0, due=1, reminded_due=1, sent=0, waiting=2
    )
    assert reminders(mail_server) == []
    mail_server.start()
    clock.advance(minutes=5)  # past the first retry delay
    sent = mail_app.test_cli_runner().invoke(args=["notify", "send"])
    assert sent.output == "sent 2, to retry 0, given up 0\n", sent.output
    assert recipients(reminders(mail_server)) == SECRETARIES
