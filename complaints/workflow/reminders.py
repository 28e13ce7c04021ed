"""Deadline reminders: an e-mail to each handler of a case, once before a deadline falls due and
once when it has passed. Nothing about the case itself: a reference, the deadline and its day.

Idempotent per deadline: ``Deadline.reminded_at`` and ``overdue_reminded_at`` record what was
sent (moving a due day clears them, so the new day is reminded again). Paused, met and
cancelled deadlines are left alone.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.cases.models import Case, CaseAccessGrant, Deadline
from complaints.directory.models import Person
from complaints.notify.services import queue_notification
from complaints.web.i18n import Localized
from complaints.workflow.config import Workflow

KIND = "deadline_reminder"


@dataclass(frozen=True)
class ReminderReport:
    due_soon: int = 0  # deadlines reminded before their day
    overdue: int = 0  # deadlines reminded because their day has passed
    emails: int = 0  # notifications queued
    # The notifications queued: they go out after the commit, and what fails stays pending.
    notification_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class DeadlineCounts:
    """Running deadlines on a day, reminded or not: what an operator asks "how many"."""

    overdue: int  # past their day
    due_soon: int  # due from the day to ``days`` later


def send_reminders(
    session: Session, workflow: Workflow, *, today: date, days: int, now: datetime
) -> ReminderReport:
    """Queue reminders for deadlines due from ``today`` to ``today + days`` and overdue ones."""
    rows = session.execute(_due_query(today, days)).all()
    handlers = active_handlers(session, {case.id for _deadline, case in rows})
    due_soon = overdue = 0
    queued: list[int] = []
    for deadline, case in rows:
        late = deadline.due_on < today
        params: dict[str, str | int | bool] = {
            "reference": case.reference,
            "due_by": deadline.due_on.isoformat(),
            "overdue": late,
            **_label_params(workflow, case, deadline.name),
        }
        for person_id in handlers.get(case.id, []):
            notification = queue_notification(
                session,
                recipient_person_id=person_id,
                kind=KIND,
                params=params,
                now=now,
                case_id=case.id,
            )
            queued.append(notification.id)
        if late:
            deadline.overdue_reminded_at = now
            overdue += 1
        else:
            deadline.reminded_at = now
            due_soon += 1
    session.flush()
    return ReminderReport(due_soon, overdue, len(queued), tuple(queued))


def count_deadlines(session: Session, *, today: date, days: int) -> DeadlineCounts:
    """How many running deadlines are overdue on ``today``, and how many fall due from
    ``today`` to ``today + days``, whether or not they were reminded already."""
    late, soon = _late(today), _soon(today, days)
    row = session.execute(
        sa.select(
            sa.func.count().filter(late),
            sa.func.count().filter(soon),
        ).where(_running(), sa.or_(late, soon))
    ).one()
    return DeadlineCounts(overdue=int(row[0]), due_soon=int(row[1]))


def _running() -> sa.ColumnElement[bool]:
    # A paused deadline (committee mediation) is not counting down: neither overdue nor due.
    return sa.and_(
        Deadline.met_at.is_(None), Deadline.cancelled_at.is_(None), Deadline.paused_at.is_(None)
    )


def _late(today: date) -> sa.ColumnElement[bool]:
    return Deadline.due_on < today


def _soon(today: date, days: int) -> sa.ColumnElement[bool]:
    return sa.and_(Deadline.due_on >= today, Deadline.due_on <= today + timedelta(days=days))


def _due_query(today: date, days: int) -> sa.Select[Deadline, Case]:
    soon = sa.and_(_soon(today, days), Deadline.reminded_at.is_(None))
    late = sa.and_(_late(today), Deadline.overdue_reminded_at.is_(None))
    return (
        sa.select(Deadline, Case)
        .join(Case, Case.id == Deadline.case_id)
        .where(_running(), sa.or_(soon, late))
        .order_by(Deadline.due_on, Deadline.id)
        # Two runs at once (two timers) must not both remind: PostgreSQL skips rows the
        # other run holds; SQLite's transactions take the write lock at BEGIN.
        .with_for_update(skip_locked=True, of=Deadline)
    )


def active_handlers(session: Session, case_ids: set[uuid.UUID]) -> dict[uuid.UUID, list[int]]:
    """The people with an active grant on each case (and an active directory entry)."""
    if not case_ids:
        return {}
    found: dict[uuid.UUID, set[int]] = defaultdict(set)
    for case_id, person_id in session.execute(
        sa.select(CaseAccessGrant.case_id, CaseAccessGrant.person_id)
        .join(Person, Person.id == CaseAccessGrant.person_id)
        .where(
            CaseAccessGrant.case_id.in_(case_ids),
            CaseAccessGrant.revoked_at.is_(None),
            Person.active.is_(True),
        )
    ):
        found[case_id].add(person_id)
    return {case_id: sorted(people) for case_id, people in found.items()}


def _label_params(workflow: Workflow, case: Case, name: str) -> dict[str, str]:
    spec = workflow[case.route].deadline(name)
    label = spec.label if spec is not None else Localized(name, name)
    return {"deadline_nl": label.nl, "deadline_en": label.en}
