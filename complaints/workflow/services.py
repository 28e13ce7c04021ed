"""Statutory deadlines: started, met and cancelled as a case moves between states.

A deadline is a calendar day in Europe/Amsterdam: "within 7 days" of a report filed on
2 March at 23:30 local time is 9 March, whatever the time of day or a change to summer time.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.cases.models import Case, Deadline
from complaints.web.i18n import Localized
from complaints.workflow.config import Period, Workflow

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


class DeadlineStatus(StrEnum):
    OPEN = "open"  # running, not yet due
    OVERDUE = "overdue"  # running, past its day
    MET = "met"  # done on or before its day
    MET_LATE = "met_late"  # done, after its day
    CANCELLED = "cancelled"  # the case ended another way (e.g. withdrawn)


@dataclass(frozen=True)
class DeadlineView:
    name: str
    label: Localized
    due_on: date
    status: DeadlineStatus
    met_on: date | None


def local_date(moment: datetime) -> date:
    return moment.astimezone(AMSTERDAM).date()


def due_date(start: datetime, period: Period) -> date:
    """The last day of a period that starts at ``start`` (Amsterdam calendar)."""
    day = local_date(start)
    if period.months:
        month_index = day.month - 1 + period.months
        year, month = day.year + month_index // 12, month_index % 12 + 1
        last = calendar.monthrange(year, month)[1]
        day = day.replace(year=year, month=month, day=min(day.day, last))
    return day + timedelta(days=period.days + 7 * period.weeks)


def enter_state(session: Session, workflow: Workflow, case: Case, state: str, at: datetime) -> None:
    """Settle the deadlines this state meets or ends, and start the ones it starts."""
    route = workflow[case.route]
    if state not in route.states:
        raise ValueError(f"{state!r} is not a state of the {case.route.value} route")
    for deadline in _running(session, case):
        spec = next((d for d in route.deadlines if d.name == deadline.name), None)
        if spec is not None and state in spec.met_by:
            deadline.met_at = at
        elif state in route.final:
            deadline.cancelled_at = at
    existing = set(session.scalars(sa.select(Deadline.name).where(Deadline.case_id == case.id)))
    for spec in route.deadlines:
        if spec.starts == state and spec.name not in existing:
            session.add(
                Deadline(
                    case_id=case.id, name=spec.name, started_at=at, due_on=due_date(at, spec.period)
                )
            )
    session.flush()


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
