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


def send_reminders(
    session: Session, workflow: Workflow, *, today: date, days: int, now: datetime
) -> ReminderReport:
    """Queue reminders for deadlines due from ``today`` to ``today + days`` and overdue ones."""
    rows = session.execute(_due_query(today, days)).all()
    handlers = active_handlers(session, {case.id for _deadline, case in rows})
    due_soon = overdue = emails = 0
    for deadline, case in rows:
        late = deadline.due_on < today
        params: dict[str, str | int | bool] = {
            "reference": case.reference,
            "due_by": deadline.due_on.isoformat(),
            "overdue": late,
            **_label_params(workflow, case, deadline.name),
        }
        for person_id in handlers.get(case.id, []):
            queue_notification(
                session,
                recipient_person_id=person_id,
                kind=KIND,
                params=params,
                now=now,
                case_id=case.id,
            )
            emails += 1
        if late:
            deadline.overdue_reminded_at = now
            overdue += 1
        else:
            deadline.reminded_at = now
            due_soon += 1
    session.flush()
    return ReminderReport(due_soon, overdue, emails)


def _due_query(today: date, days: int) -> sa.Select[Deadline, Case]:
    running = sa.and_(
        Deadline.met_at.is_(None), Deadline.cancelled_at.is_(None), Deadline.paused_at.is_(None)
    )
    soon = sa.and_(
        Deadline.due_on >= today,
        Deadline.due_on <= today + timedelta(days=days),
        Deadline.reminded_at.is_(None),
    )
    late = sa.and_(Deadline.due_on < today, Deadline.overdue_reminded_at.is_(None))
    return (
        sa.select(Deadline, Case)
        .join(Case, Case.id == Deadline.case_id)
        .where(running, sa.or_(soon, late))
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
