"""Statutory deadlines: started, met and cancelled as a case moves between states; paused,
resumed, postponed and extended by transitions.

A deadline is a calendar day in Europe/Amsterdam: "within 7 days" of a report filed on
2 March at 23:30 local time is 9 March, whatever the time of day or a change to summer time.
A paused deadline keeps its due day until it resumes; it then moves on by the calendar days
it stood still. A paused deadline is neither overdue nor reminded.

A deadline marked ``met_by_message`` ("the complainant was told") is met by entering one of
its met_by states only when a handler's message has reached the mailbox since it started;
otherwise it keeps running, so the mailbox never says it was kept while nothing was said.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.cases.models import AuthorKind, Case, Deadline, Message
from complaints.checkins.models import CheckIn
from complaints.web.i18n import Localized
from complaints.workflow.config import Period, Workflow

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


class DeadlineStatus(StrEnum):
    OPEN = "open"  # running, not yet due
    OVERDUE = "overdue"  # running, past its day
    MET = "met"  # done on or before its day
    MET_LATE = "met_late"  # done, after its day
    CANCELLED = "cancelled"  # the case ended another way (e.g. withdrawn)
    PAUSED = "paused"  # the clock stands still (committee mediation)


@dataclass(frozen=True)
class DeadlineView:
    name: str
    label: Localized
    due_on: date
    status: DeadlineStatus
    met_on: date | None
    extensions: int = 0


def local_date(moment: datetime) -> date:
    return moment.astimezone(AMSTERDAM).date()


def due_date(start: datetime, period: Period) -> date:
    """The last day of a period that starts at ``start`` (Amsterdam calendar)."""
    return add_period(local_date(start), period)


def add_period(day: date, period: Period) -> date:
    """``day`` plus a calendar period; a month later than 31 January is the end of February."""
    if period.months:
        month_index = day.month - 1 + period.months
        year, month = day.year + month_index // 12, month_index % 12 + 1
        last = calendar.monthrange(year, month)[1]
        day = day.replace(year=year, month=month, day=min(day.day, last))
    return day + timedelta(days=period.days + 7 * period.weeks)


def enter_state(
    session: Session, workflow: Workflow, case: Case, state: str, at: datetime
) -> list[Deadline]:
    """Settle the deadlines this state meets or ends, and start the ones it starts.

    Returns the deadlines it met, in the order of the workflow file.
    """
    route = workflow[case.route]
    if state not in route.states:
        raise ValueError(f"{state!r} is not a state of the {case.route.value} route")
    met = []
    for deadline in _running(session, case):
        spec = next((d for d in route.deadlines if d.name == deadline.name), None)
        if spec is not None and state in spec.met_by:
            if spec.met_by_message and not _told_since(session, case, deadline.started_at):
                continue
            deadline.met_at = at
            met.append(deadline)
        elif state in route.final:
            deadline.cancelled_at = at
    existing = {
        d.name: d for d in session.scalars(sa.select(Deadline).where(Deadline.case_id == case.id))
    }
    for spec in route.deadlines:
        if spec.starts != state:
            continue
        row = existing.get(spec.name)
        if row is None:
            session.add(
                Deadline(
                    case_id=case.id, name=spec.name, started_at=at, due_on=due_date(at, spec.period)
                )
            )
        elif row.met_at is not None or row.cancelled_at is not None:
            _restart(row, at, due_date(at, spec.period))
    session.flush()
    order = [d.name for d in route.deadlines]
    return sorted(met, key=lambda d: order.index(d.name))


def writing_closes_at(session: Session, case: Case, closed_reply_days: int) -> datetime | None:
    """Until when a closed (or withdrawn) report still takes messages; None while it is open.

    ``closed_reply_days`` run from the closing, or from the complainant's latest answer to a
    check-in when that is later: an answer ("yes, something happened") opens the conversation
    again, so the handler can ask about it and the complainant can answer back.
    """
    if case.closed_at is None:
        return None
    answered = session.scalar(
        sa.select(sa.func.max(CheckIn.answered_at)).where(CheckIn.case_id == case.id)
    )
    start = max(case.closed_at, answered) if answered is not None else case.closed_at
    return start + timedelta(days=closed_reply_days)


def may_write(
    session: Session, workflow: Workflow, case: Case, closed_reply_days: int, now: datetime
) -> bool:
    """Whether the complainant and the handler can still write to each other: while the case is
    open, and for ``closed_reply_days`` after it closed or after a later check-in answer (the
    mailbox stays readable longer)."""
    if workflow[case.route].is_open(case.state):
        return True
    until = writing_closes_at(session, case, closed_reply_days)
    return until is not None and now < until


def _told_since(session: Session, case: Case, since: datetime) -> bool:
    """Whether a step's outcome message reached the complainant's mailbox at or after ``since``.

    Only messages written by a step (``event_id`` set) count: an ordinary reply such as "we
    received your message" is not the feedback a statutory term asks for.
    """
    session.flush()
    return (
        session.scalar(
            sa.select(Message.id)
            .where(
                Message.case_id == case.id,
                Message.author_kind == AuthorKind.HANDLER,
                Message.event_id.is_not(None),
                Message.created_at >= since,
            )
            .limit(1)
        )
        is not None
    )


def _restart(deadline: Deadline, at: datetime, due_on: date) -> None:
    """A state entered again starts its settled deadline afresh (a second request to cure)."""
    deadline.started_at = at
    deadline.due_on = due_on
    deadline.met_at = deadline.cancelled_at = deadline.paused_at = None
    deadline.reminded_at = deadline.overdue_reminded_at = None
    deadline.extensions = 0


def running_deadline(session: Session, case: Case, name: str) -> Deadline | None:
    """The case's deadline ``name`` if it is running (started, not met or cancelled)."""
    return next((d for d in _running(session, case) if d.name == name), None)


def pause_deadline(deadline: Deadline, at: datetime) -> None:
    """Stop the clock; pausing a paused deadline changes nothing."""
    if deadline.paused_at is None:
        deadline.paused_at = at


def resume_deadline(deadline: Deadline, at: datetime) -> int:
    """Let the clock run again; the due day moves on by the calendar days it stood still."""
    if deadline.paused_at is None:
        return 0
    days = max(0, (local_date(at) - local_date(deadline.paused_at)).days)
    deadline.paused_at = None
    _move(deadline, deadline.due_on + timedelta(days=days))
    return days


def postpone_deadline(deadline: Deadline, period: Period) -> None:
    """Move the due day on by ``period`` (not counted as an extension)."""
    _move(deadline, add_period(deadline.due_on, period))


def extend_deadline(deadline: Deadline, period: Period) -> None:
    """A statutory extension: the due day moves on by ``period`` and it is counted."""
    _move(deadline, add_period(deadline.due_on, period))
    deadline.extensions += 1


def _move(deadline: Deadline, due_on: date) -> None:
    if due_on != deadline.due_on:
        deadline.due_on = due_on
        # A new day is worth new reminders.
        deadline.reminded_at = deadline.overdue_reminded_at = None


def deadline_views(
    session: Session, workflow: Workflow, case: Case, now: datetime
) -> list[DeadlineView]:
    """The case's deadlines with their status today, soonest first."""
    labels = {spec.name: spec.label for spec in workflow[case.route].deadlines}
    today = local_date(now)
    views = []
    for deadline in session.scalars(
        sa.select(Deadline).where(Deadline.case_id == case.id).order_by(Deadline.due_on)
    ):
        views.append(
            DeadlineView(
                name=deadline.name,
                label=labels.get(deadline.name, Localized(deadline.name, deadline.name)),
                due_on=deadline.due_on,
                status=deadline_status(deadline, today),
                met_on=local_date(deadline.met_at) if deadline.met_at else None,
                extensions=deadline.extensions,
            )
        )
    return views


def deadline_status(deadline: Deadline, today: date) -> DeadlineStatus:
    if deadline.met_at is not None:
        return (
            DeadlineStatus.MET
            if local_date(deadline.met_at) <= deadline.due_on
            else DeadlineStatus.MET_LATE
        )
    if deadline.cancelled_at is not None:
        return DeadlineStatus.CANCELLED
    if deadline.paused_at is not None:
        return DeadlineStatus.PAUSED
    return DeadlineStatus.OVERDUE if today > deadline.due_on else DeadlineStatus.OPEN


def _running(session: Session, case: Case) -> list[Deadline]:
    return list(
        session.scalars(
            sa.select(Deadline).where(
                Deadline.case_id == case.id,
                Deadline.met_at.is_(None),
                Deadline.cancelled_at.is_(None),
            )
        )
    )
