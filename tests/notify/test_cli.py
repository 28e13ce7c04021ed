"""``flask --app wsgi notify send``: what waited for the mail server goes out, once."""

from __future__ import annotations

import signal
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from types import FrameType

import pytest
import sqlalchemy as sa
from click.testing import Result
from flask import Flask

from complaints.cases.models import Route
from complaints.notify.models import Notification, NotificationStatus
from complaints.notify.services import queue_notification
from tests.conftest import Clock, app_session
from tests.notify.conftest import MAX_ATTEMPTS, MailServer
from tests.notify.test_services import body, notifications, people_by_name, submit

pytestmark = pytest.mark.committing


def send(app: Flask) -> Result:
    return app.test_cli_runner().invoke(args=["notify", "send"])


def test_send_delivers_what_waited_for_the_server_and_only_once(
    mail_app: Flask, mail_server: MailServer, clock: Clock
) -> None:
    mail_server.stop()
    submission = submit(mail_app, clock)
    [waiting] = notifications(mail_app)
    assert (waiting.status, waiting.attempts) == (NotificationStatus.PENDING, 1)
    mail_server.start()

    result = send(mail_app)  # not due yet: it waits out its back-off
    assert (result.exit_code, result.output) == (0, "sent 0, to retry 0, given up 0\n")
    assert mail_server.received == []

    clock.current = waiting.next_attempt_at
    result = send(mail_app)
    assert (result.exit_code, result.output) == (0, "sent 1, to retry 0, given up 0\n")
    [received] = mail_server.received
    assert received.rcpt_tos == ["i.hoekstra@bzk.example"]
    assert submission.case.reference in received.message["Subject"]
    assert "Please confirm receipt by 9 March 2026." in body(received)
    [sent] = notifications(mail_app)
    assert (sent.status, sent.attempts, sent.sent_at, sent.last_error) == (
        NotificationStatus.SENT,
        2,
        clock(),
        None,
    )

    clock.advance(days=1)
    result = send(mail_app)
    assert (result.exit_code, result.output) == (0, "sent 0, to retry 0, given up 0\n")
    assert len(mail_server.received) == 1


def test_send_gives_up_after_the_configured_attempts_and_says_so(
    mail_app: Flask, mail_server: MailServer, clock: Clock
) -> None:
    mail_server.stop()
    submit(mail_app, clock)
    for attempt in range(2, MAX_ATTEMPTS + 1):
        [notification] = notifications(mail_app)
        clock.current = notification.next_attempt_at
        result = send(mail_app)
        assert result.exit_code == 1
        if attempt < MAX_ATTEMPTS:
            assert result.output == "sent 0, to retry 1, given up 0\n"
        else:
            assert result.output == "sent 0, to retry 0, given up 1\n"
    [notification] = notifications(mail_app)
    assert (notification.status, notification.attempts, notification.last_error) == (
        NotificationStatus.FAILED,
        MAX_ATTEMPTS,
        "ConnectionRefusedError",
    )
    mail_server.start()
    clock.advance(days=7)
    assert send(mail_app).output == "sent 0, to retry 0, given up 0\n"
    assert mail_server.received == []


def test_send_works_through_more_than_one_batch(
    mail_app: Flask, mail_server: MailServer, clock: Clock
) -> None:
    mail_server.stop()
    with app_session(mail_app) as session:
        person = people_by_name(session, clock)["n.haddou"]
        for number in range(205):
            queue_notification(
                session,
                recipient_person_id=person.id,
                kind="case_message",
                params={"reference": f"2026-AAAA-{number:04d}"},
                now=clock(),
            )
    # After the commit one batch was tried; the server being down, the rest was left waiting.
    attempts = Counter(n.attempts for n in notifications(mail_app))
    assert attempts == {1: 200, 0: 5}
    mail_server.start()
    clock.advance(minutes=1)
    result = send(mail_app)
    assert (result.exit_code, result.output) == (0, "sent 205, to retry 0, given up 0\n")
    subjects = {r.message["Subject"].split(" / ")[1] for r in mail_server.received}
    assert subjects == {f"News in report 2026-AAAA-{n:04d}" for n in range(205)}


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def expire(_signum: int, _frame: FrameType | None) -> None:
        raise TimeoutError(f"still waiting after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_a_notification_another_sender_holds_is_not_sent_twice(
    mail_app: Flask, mail_server: MailServer, clock: Clock, backend: str
) -> None:
    mail_server.stop()
    submit(mail_app, clock, Route.CONFIDANT)
    mail_server.start()
    clock.advance(minutes=5)
    engine: sa.Engine = mail_app.extensions["complaints.db"].engine
    if backend == "sqlite":
        # Two senders cannot overlap: a transaction takes the write lock when it begins.
        assert engine.url.database is not None
        with mail_app.app_context():
            from complaints import db

            session = db.session()
            session.execute(sa.select(Notification.id)).all()  # BEGIN IMMEDIATE
            database = Path(engine.url.database)
            with (
                closing(sqlite3.connect(database, timeout=0, isolation_level=None)) as other,
                pytest.raises(sqlite3.OperationalError, match="locked"),
            ):
                other.execute("BEGIN IMMEDIATE")
            session.rollback()
    else:
        # Another sender is in the middle of sending it: this one skips it instead of waiting.
        with engine.connect() as other, other.begin():
            other.execute(sa.select(Notification).with_for_update()).all()
            with time_limit(10):
                result = send(mail_app)
            assert (result.exit_code, result.output) == (0, "sent 0, to retry 0, given up 0\n")
    assert mail_server.received == []
    result = send(mail_app)
    assert (result.exit_code, result.output) == (0, "sent 1, to retry 0, given up 0\n")
    assert len(mail_server.received) == 1
