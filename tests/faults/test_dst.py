"""The clock moving across a change to or from summer time (Europe/Amsterdam).

``tests/workflow/test_services.py`` proves due dates are calendar dates on either side of the
changes. This runs the things people see around those nights: ``deadlines remind`` run by a
timer on the night itself (in October the hour 02:00-03:00 happens twice, so an hourly timer
runs twice "at 02:30"), the overdue reminder on the first local day after, and the dates shown
to the complainant, which must be Amsterdam dates even when the UTC date differs; and the
day a closed case falls due for destruction, counted from its Amsterdam closing day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask

from complaints.cases.models import Deadline, Route
from complaints.notify.models import Notification
from complaints.workflow.reminders import KIND
from tests.conftest import Clock, app_session
from tests.factories import import_demo_directory
from tests.faults.helpers import open_with_receipt, plain
from tests.retention.test_schedule import _finished, _items
from tests.workflow import file_on

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def _reminders(app: Flask) -> int:
    with app_session(app) as session:
        return int(
            session.scalar(
                sa.select(sa.func.count())
                .select_from(Notification)
                .where(Notification.kind == KIND)
            )
            or 0
        )


def _remind(app: Flask, clock: Clock, at: datetime, *args: str) -> int:
    """Run the reminder command at ``at``; the number of reminders it queued."""
    clock.current = at
    before = _reminders(app)
    result = app.test_cli_runner().invoke(args=["deadlines", "remind", *args])
    assert result.exit_code == 0, result.output
    return _reminders(app) - before


def _deadline(app: Flask, case_id: object) -> Deadline:
    with app_session(app) as session:
        return session.scalars(
            sa.select(Deadline).where(Deadline.case_id == case_id).order_by(Deadline.due_on)
        ).first()  # type: ignore[return-value]


@pytest.mark.committing
@pytest.mark.parametrize(
    ("filed_at", "due", "night", "after"),
    [
        # Filed 22 March 01:30 CET; due Sunday 29 March, the night summer time starts.
        (
            utc(2026, 3, 22, 0, 30),
            date(2026, 3, 29),
            # 01:30 CET, 03:30 CEST (02:00-03:00 does not exist), and again at 23:30 CEST.
            [utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 21, 30)],
            # 00:30 CEST on 30 March is still 29 March in UTC: overdue by the local date.
            [utc(2026, 3, 29, 22, 30), utc(2026, 3, 29, 23, 30)],
        ),
        # Filed 18 October 02:30 CEST; due Sunday 25 October, the night summer time ends.
        (
            utc(2026, 10, 18, 0, 30),
            date(2026, 10, 25),
            # 02:30 CEST and, an hour later, 02:30 CET again.
            [utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 22, 30)],
            # 00:30 CET on 26 October is 25 October 23:30 in UTC.
            [utc(2026, 10, 25, 23, 30), utc(2026, 10, 26, 0, 30)],
        ),
    ],
    ids=["summer-time-starts", "summer-time-ends"],
)
def test_a_deadline_due_on_the_night_of_the_change_is_reminded_once_before_and_once_after(
    committed_app: Flask,
    clock: Clock,
    filed_at: datetime,
    due: date,
    night: list[datetime],
    after: list[datetime],
) -> None:
    clock.current = filed_at
    with app_session(committed_app) as session:
        people = import_demo_directory(session, clock())
        filed = file_on(session, people, Route.CONFIDANT, clock())
    deadline = _deadline(committed_app, filed.case_id)
    assert deadline.due_on == due

    # Every run on the day itself, with and without --as-of: one reminder in all.
    queued = [_remind(committed_app, clock, at) for at in night]
    queued.append(_remind(committed_app, clock, night[-1], "--as-of", due.isoformat()))
    assert sum(queued) >= 1
    assert queued[0] == sum(queued), queued
    assert _deadline(committed_app, filed.case_id).reminded_at == night[0]

    # The first local day after: one overdue reminder, however often the timer runs.
    late = [_remind(committed_app, clock, at) for at in after]
    assert late[0] == queued[0]
    assert late[1:] == [0]
    assert _deadline(committed_app, filed.case_id).overdue_reminded_at == after[0]


@pytest.mark.committing
def test_dates_shown_to_the_complainant_are_amsterdam_dates(
    committed_app: Flask, clock: Clock
) -> None:
    # 23:30 UTC on Saturday 28 March is 00:30 on Sunday 29 March in Amsterdam.
    clock.current = utc(2026, 3, 28, 23, 30)
    with app_session(committed_app) as session:
        people = import_demo_directory(session, clock())
        filed = file_on(session, people, Route.CONFIDANT, clock())
    assert clock.current.astimezone(AMSTERDAM).date() == date(2026, 3, 29)
    deadline = _deadline(committed_app, filed.case_id)
    assert deadline.due_on == date(2026, 4, 5)
    clock.current = utc(2026, 3, 30, 9, 0)
    client = committed_app.test_client()
    client.set_cookie("taal", "en")
    mailbox = plain(open_with_receipt(client, filed.code))
    assert "<dt>Sent on</dt><dd>29 March 2026</dd>" in mailbox
    assert "28 March 2026" not in mailbox
    assert '<time datetime="2026-04-05">5 April 2026</time>' in mailbox


@pytest.mark.parametrize(
    ("closed_at", "due"),
    [
        # 00:30 CEST on Monday 30 March, the first night of summer time; UTC still says 29.
        (utc(2026, 3, 29, 22, 30), date(2028, 3, 30)),
        # 01:30 CET, just before the clocks go forward.
        (utc(2026, 3, 29, 0, 30), date(2028, 3, 29)),
        # The hour that happens twice in October: both are 25 October.
        (utc(2026, 10, 25, 0, 30), date(2028, 10, 25)),
        (utc(2026, 10, 25, 1, 30), date(2028, 10, 25)),
        # 00:30 CEST on 25 October is 24 October in UTC.
        (utc(2026, 10, 24, 22, 30), date(2028, 10, 25)),
    ],
)
def test_retention_counts_from_the_amsterdam_closing_day_across_the_changes(
    app: Flask, clock: Clock, closed_at: datetime, due: date
) -> None:
    with app_session(app) as session:
        case = _finished(session, clock, closed_at=closed_at)
        assert _items(session, case, closed_at.date()) == [("confidant-closed", "destroy", due)]
