"""Statutory deadlines: calendar days in Amsterdam, started, met and cancelled by state changes."""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from complaints import db
from complaints.cases.models import (
    AuthorKind,
    Case,
    CaseEvent,
    Deadline,
    Disclosure,
    GrantRole,
    Message,
    Route,
)
from complaints.cases.services import NewCase, NewGrant, create_case
from complaints.crypto.services import indexer, keystore
from complaints.web.i18n import Localized
from complaints.workflow.config import Period, workflow
from complaints.workflow.services import (
    AMSTERDAM,
    DeadlineStatus,
    deadline_status,
    deadline_views,
    due_date,
    enter_state,
    local_date,
)
from tests.conftest import Clock
from tests.factories import make_org, make_person


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


# due_date ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "period", "due"),
    [
        (utc(2026, 3, 2, 9, 30), Period(days=7), date(2026, 3, 9)),
        (utc(2026, 3, 2, 9, 30), Period(days=14), date(2026, 3, 16)),
        (utc(2026, 3, 2, 9, 30), Period(weeks=10), date(2026, 5, 11)),
        (utc(2026, 12, 28, 12, 0), Period(days=7), date(2027, 1, 4)),
        (utc(2026, 1, 31, 12, 0), Period(months=1), date(2026, 2, 28)),
        (utc(2028, 1, 31, 12, 0), Period(months=1), date(2028, 2, 29)),  # a leap year
        (utc(2026, 1, 31, 12, 0), Period(months=3), date(2026, 4, 30)),
        (utc(2026, 11, 30, 12, 0), Period(months=3), date(2027, 2, 28)),
        (utc(2026, 10, 31, 12, 0), Period(months=2), date(2026, 12, 31)),
        (utc(2026, 12, 15, 12, 0), Period(months=12), date(2027, 12, 15)),
        (utc(2028, 2, 29, 12, 0), Period(months=12), date(2029, 2, 28)),
        (utc(2026, 3, 15, 12, 0), Period(months=25), date(2028, 4, 15)),
        # The Amsterdam date counts: 23:30 UTC on 31 January is 1 February there.
        (utc(2026, 1, 31, 23, 30), Period(months=1), date(2026, 3, 1)),
    ],
)
def test_due_date_counts_calendar_days_weeks_and_months(
    start: datetime, period: Period, due: date
) -> None:
    assert due_date(start, period) == due


@pytest.mark.parametrize(
    ("start", "local", "due"),
    [
        # Summer time starts at 02:00 on Sunday 29 March 2026.
        (utc(2026, 3, 28, 22, 30), "2026-03-28 23:30 CET", date(2026, 4, 4)),
        (utc(2026, 3, 28, 23, 30), "2026-03-29 00:30 CET", date(2026, 4, 5)),
        (utc(2026, 3, 29, 0, 59), "2026-03-29 01:59 CET", date(2026, 4, 5)),
        (utc(2026, 3, 29, 1, 0), "2026-03-29 03:00 CEST", date(2026, 4, 5)),
        (utc(2026, 3, 29, 21, 59), "2026-03-29 23:59 CEST", date(2026, 4, 5)),
        (utc(2026, 3, 29, 22, 0), "2026-03-30 00:00 CEST", date(2026, 4, 6)),
        # Summer time ends at 03:00 on Sunday 25 October 2026 (01:00 UTC).
        (utc(2026, 10, 24, 21, 59), "2026-10-24 23:59 CEST", date(2026, 10, 31)),
        (utc(2026, 10, 24, 22, 0), "2026-10-25 00:00 CEST", date(2026, 11, 1)),
        (utc(2026, 10, 25, 0, 30), "2026-10-25 02:30 CEST", date(2026, 11, 1)),
        (utc(2026, 10, 25, 1, 30), "2026-10-25 02:30 CET", date(2026, 11, 1)),
        (utc(2026, 10, 25, 22, 59), "2026-10-25 23:59 CET", date(2026, 11, 1)),
        (utc(2026, 10, 25, 23, 0), "2026-10-26 00:00 CET", date(2026, 11, 2)),
    ],
)
def test_across_the_clock_changes_the_due_date_stays_a_calendar_date(
    start: datetime, local: str, due: date
) -> None:
    assert start.astimezone(AMSTERDAM).strftime("%Y-%m-%d %H:%M %Z") == local
    assert due_date(start, Period(days=7)) == due
    assert due_date(start, Period(weeks=1)) == due


moments = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis adds the zone
    max_value=datetime(2090, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@given(start=moments, days=st.integers(min_value=1, max_value=400))
def test_a_period_in_days_is_that_many_amsterdam_days(start: datetime, days: int) -> None:
    assert due_date(start, Period(days=days)) == local_date(start) + timedelta(days=days)
    assert due_date(start, Period(weeks=days)) == local_date(start) + timedelta(weeks=days)


@given(start=moments, months=st.integers(min_value=1, max_value=60))
def test_a_period_in_months_lands_on_the_same_day_or_the_months_last(
    start: datetime, months: int
) -> None:
    first = local_date(start)
    due = due_date(start, Period(months=months))
    assert (due.year - first.year) * 12 + due.month - first.month == months
    assert due.day == min(first.day, calendar.monthrange(due.year, due.month)[1])


# enter_state ---------------------------------------------------------------------------------


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.app_context():
        yield db.session()


def new_case(session: Session, route: Route, now: datetime) -> Case:
    org = make_org(session, now)
    handler = make_person(session, org.directorate, now)
    draft = NewCase(
        route=route,
        category="bullying",
        disclosure=Disclosure.NAMED,
        description="Buitengesloten.",
        complainant={"name": "Rahul Ramsaran"},
    )
    case = create_case(
        session,
        keystore(),
        indexer(),
        draft,
        grants=[NewGrant(handler.id, GrantRole.CONFIDANT)],
        now=now,
    )
    enter_state(session, workflow(), case, "submitted", now)
    return case


def deadlines(session: Session, case: Case) -> dict[str, Deadline]:
    rows = session.scalars(sa.select(Deadline).where(Deadline.case_id == case.id))
    return {d.name: d for d in rows}


def test_entering_the_initial_state_starts_its_deadlines_once(
    session: Session, clock: Clock
) -> None:
    case = new_case(session, Route.COMMITTEE, clock())
    started = deadlines(session, case)
    assert {name: d.due_on for name, d in started.items()} == {
        "acknowledge": date(2026, 3, 9),
        "admissibility": date(2026, 3, 16),
        "decision": date(2026, 5, 11),
    }
    assert {d.started_at for d in started.values()} == {clock()}
    enter_state(session, workflow(), case, "submitted", clock.advance(days=3))
    again = deadlines(session, case)
    assert {name: (d.started_at, d.due_on) for name, d in again.items()} == {
        name: (d.started_at, d.due_on) for name, d in started.items()
    }


def test_a_state_meets_the_deadlines_that_list_it(session: Session, clock: Clock) -> None:
    case = new_case(session, Route.COMMITTEE, clock())
    acknowledged_at = clock.advance(days=2)
    enter_state(session, workflow(), case, "acknowledged", acknowledged_at)
    after = deadlines(session, case)
    assert after["acknowledge"].met_at == acknowledged_at
    assert after["admissibility"].met_at is None
    assert after["decision"].met_at is None
    # "incomplete" meets nothing that is still running, and is not final: nothing changes.
    enter_state(session, workflow(), case, "incomplete", clock.advance(days=1))
    assert {n: (d.met_at, d.cancelled_at) for n, d in deadlines(session, case).items()} == {
        "acknowledge": (acknowledged_at, None),
        "admissibility": (None, None),
        "decision": (None, None),
        "cure": (None, None),  # the time the complainant gets to complete the complaint
    }
    accepted_at = clock.advance(days=5)
    enter_state(session, workflow(), case, "accepted", accepted_at)
    after = deadlines(session, case)
    assert after["admissibility"].met_at == accepted_at
    assert after["acknowledge"].met_at == acknowledged_at  # met once, not again
    decided_at = clock.advance(weeks=6)
    # The decision term is met only by a decision that reached the complainant (met_by_message).
    told(session, case, decided_at)
    enter_state(session, workflow(), case, "decided", decided_at)
    assert deadlines(session, case)["decision"].met_at == decided_at


def told(session: Session, case: Case, at: datetime) -> None:
    """A step's outcome message in the mailbox (its body is not read here)."""
    step = CaseEvent(case_id=case.id, occurred_at=at, kind="transition")
    session.add(step)
    session.flush()
    session.add(
        Message(
            case_id=case.id, author_kind=AuthorKind.HANDLER, body=b"sealed", created_at=at,
            event_id=step.id,
        )
    )  # fmt: skip
    session.flush()


def test_an_ordinary_reply_does_not_meet_a_deadline_met_by_message(
    session: Session, clock: Clock
) -> None:
    case = new_case(session, Route.INTEGRITY, clock())
    enter_state(session, workflow(), case, "acknowledged", clock.advance(days=1))
    session.add(
        Message(
            case_id=case.id, author_kind=AuthorKind.HANDLER, body=b"sealed",
            created_at=clock.advance(days=1),
        )
    )  # fmt: skip
    enter_state(session, workflow(), case, "closed", clock.advance(days=1))
    assert deadlines(session, case)["feedback"].met_at is None
    # Control: the same closing after a step's outcome message meets it.
    told(session, case, clock.advance(days=1))
    enter_state(session, workflow(), case, "closed", clock.advance(days=1))
    assert deadlines(session, case)["feedback"].met_at == clock()


def test_a_deadline_met_by_message_keeps_running_until_the_complainant_is_told(
    session: Session, clock: Clock
) -> None:
    case = new_case(session, Route.INTEGRITY, clock())
    enter_state(session, workflow(), case, "acknowledged", clock.advance(days=1))
    # A message from before the feedback term started does not count.
    told(session, case, clock() - timedelta(seconds=1))
    enter_state(session, workflow(), case, "feedback_given", clock.advance(weeks=2))
    feedback = deadlines(session, case)["feedback"]
    assert (feedback.met_at, feedback.cancelled_at) == (None, None)
    told(session, case, clock())
    enter_state(session, workflow(), case, "closed", clock.advance(days=1))
    assert deadlines(session, case)["feedback"].met_at == clock()


def test_a_state_starts_the_deadlines_that_start_there(session: Session, clock: Clock) -> None:
    case = new_case(session, Route.INTEGRITY, clock())
    assert set(deadlines(session, case)) == {"acknowledge"}
    enter_state(session, workflow(), case, "acknowledged", utc(2026, 3, 5, 8, 0))
    feedback = deadlines(session, case)["feedback"]
    assert (feedback.started_at, feedback.due_on) == (utc(2026, 3, 5, 8, 0), date(2026, 6, 5))
    # Reaching "closed" meets feedback (listed in met_by), not cancels it: once the
    # complainant has been told (met_by_message).
    told(session, case, utc(2026, 4, 1, 8, 0))
    enter_state(session, workflow(), case, "closed", utc(2026, 4, 1, 8, 0))
    assert deadlines(session, case)["feedback"].met_at == utc(2026, 4, 1, 8, 0)
    assert deadlines(session, case)["feedback"].cancelled_at is None


def test_a_final_state_cancels_what_it_does_not_meet(session: Session, clock: Clock) -> None:
    case = new_case(session, Route.COMMITTEE, clock())
    acknowledged_at = clock.advance(days=1)
    enter_state(session, workflow(), case, "acknowledged", acknowledged_at)
    withdrawn_at = clock.advance(days=1)
    enter_state(session, workflow(), case, "withdrawn", withdrawn_at)
    after = deadlines(session, case)
    assert (after["acknowledge"].met_at, after["acknowledge"].cancelled_at) == (
        acknowledged_at,
        None,
    )
    for name in ("admissibility", "decision"):
        assert (after[name].met_at, after[name].cancelled_at) == (None, withdrawn_at)
    # Nothing runs any more: entering another state changes nothing.
    enter_state(session, workflow(), case, "closed", clock.advance(days=1))
    assert deadlines(session, case)["decision"].cancelled_at == withdrawn_at


def test_a_deadline_no_longer_configured_ends_only_with_the_case(
    session: Session, clock: Clock
) -> None:
    case = new_case(session, Route.MANAGER, clock())
    session.add(
        Deadline(case_id=case.id, name="retired", started_at=clock(), due_on=clock().date())
    )
    session.flush()
    enter_state(session, workflow(), case, "in_progress", clock.advance(days=1))
    assert deadlines(session, case)["retired"].cancelled_at is None
    closed_at = clock.advance(days=1)
    enter_state(session, workflow(), case, "closed", closed_at)
    assert deadlines(session, case)["retired"].cancelled_at == closed_at


def test_a_state_the_route_does_not_have_is_refused(session: Session, clock: Clock) -> None:
    case = new_case(session, Route.MANAGER, clock())
    with pytest.raises(ValueError, match="'hearing' is not a state of the manager route"):
        enter_state(session, workflow(), case, "hearing", clock())
    assert set(deadlines(session, case)) == {"acknowledge"}


# deadline_status and deadline_views -----------------------------------------------------------


def deadline(
    due_on: date, met_at: datetime | None = None, cancelled_at: datetime | None = None
) -> Deadline:
    return Deadline(
        name="acknowledge",
        started_at=utc(2026, 3, 2, 9, 0),
        due_on=due_on,
        met_at=met_at,
        cancelled_at=cancelled_at,
    )


@pytest.mark.parametrize(
    ("row", "today", "status"),
    [
        (deadline(date(2026, 3, 9)), date(2026, 3, 2), DeadlineStatus.OPEN),
        (deadline(date(2026, 3, 9)), date(2026, 3, 9), DeadlineStatus.OPEN),  # the day itself
        (deadline(date(2026, 3, 9)), date(2026, 3, 10), DeadlineStatus.OVERDUE),
        (deadline(date(2026, 3, 9), met_at=utc(2026, 3, 4, 9, 0)), date(2026, 4, 1), "met"),
        # 23:30 in Amsterdam on the due day is still on time ...
        (deadline(date(2026, 3, 9), met_at=utc(2026, 3, 9, 22, 30)), date(2026, 4, 1), "met"),
        # ... 00:30 the next morning there is late, though it is still the 9th in UTC.
        (
            deadline(date(2026, 3, 9), met_at=utc(2026, 3, 9, 23, 30)),
            date(2026, 4, 1),
            "met_late",
        ),
        (
            deadline(date(2026, 3, 9), cancelled_at=utc(2026, 3, 5, 9, 0)),
            date(2026, 4, 1),
            "cancelled",
        ),
        (
            deadline(date(2026, 3, 9), cancelled_at=utc(2026, 3, 20, 9, 0)),
            date(2026, 3, 21),
            "cancelled",
        ),
    ],
)
def test_deadline_status(row: Deadline, today: date, status: str) -> None:
    assert deadline_status(row, today) == DeadlineStatus(status)


def test_deadline_views_show_each_deadline_with_its_label_and_status(
    session: Session, clock: Clock
) -> None:
    case = new_case(session, Route.COMMITTEE, clock())
    enter_state(session, workflow(), case, "acknowledged", utc(2026, 3, 10, 9, 0))  # a day late
    views = deadline_views(session, workflow(), case, utc(2026, 3, 17, 9, 0))
    assert [(v.name, v.due_on, v.status, v.met_on) for v in views] == [
        ("acknowledge", date(2026, 3, 9), DeadlineStatus.MET_LATE, date(2026, 3, 10)),
        ("admissibility", date(2026, 3, 16), DeadlineStatus.OVERDUE, None),
        ("decision", date(2026, 5, 11), DeadlineStatus.OPEN, None),
    ]
    assert views[0].label == Localized("Ontvangst bevestigen", "Confirm receipt")
    assert views[2].label.en == "Decision on the complaint"
