"""Check-in reminders: when a check-in falls due, each handler of the case gets one e-mail — the
reference and how many months since closing; nothing about the case itself.

Once per check-in: ``CheckIn.reminded_at`` records it, so a second run (the same day, or any
later day) sends nothing for it. Check-ins that cannot reach the complainant are left alone:
switched off, the case open again, or its mailbox no longer openable (``may_check_in``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.cases.models import Case
from complaints.checkins.models import CheckIn
from complaints.checkins.services import readable_by_complainant
from complaints.notify.services import queue_notification
from complaints.workflow.config import WITHDRAWN, Workflow
from complaints.workflow.reminders import active_handlers

KIND = "checkin_due"


@dataclass(frozen=True)
class CheckinReminders:
    checkins: int = 0  # check-ins reminded now
    # The notifications queued: they go out after the commit, and what fails stays pending.
    notification_ids: tuple[int, ...] = ()


def send_checkin_reminders(
    session: Session, workflow: Workflow, *, today: date, now: datetime
) -> CheckinReminders:
    """Queue a reminder to the handlers of each case with a check-in due on ``today`` (or
    earlier) that was neither sent nor reminded; one e-mail per case and handler."""
    rows = session.execute(_due_query(workflow, today)).all()
    by_case: dict[Case, list[CheckIn]] = {}
    for checkin, case in rows:
        by_case.setdefault(case, []).append(checkin)
    handlers = active_handlers(session, {case.id for case in by_case})
    queued: list[int] = []
    reminded = 0
    for case, checkins in by_case.items():
        recipients = handlers.get(case.id, [])
        if not recipients:
            continue  # nobody to tell yet: a handler may be added before the next run
        params: dict[str, str | int | bool] = {
            "reference": case.reference,
            "months": max(c.months for c in checkins),
        }
        for person_id in recipients:
            notification = queue_notification(
                session,
                recipient_person_id=person_id,
                kind=KIND,
                params=params,
                now=now,
                case_id=case.id,
            )
            queued.append(notification.id)
        for checkin in checkins:
            checkin.reminded_at = now
            reminded += 1
    session.flush()
    return CheckinReminders(reminded, tuple(queued))


def count_due(session: Session, workflow: Workflow, *, today: date) -> int:
    """How many check-ins are due and not sent on ``today``, reminded or not."""
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(CheckIn)
            .join(Case, Case.id == CheckIn.case_id)
            .where(*_due(workflow, today))
        )
        or 0
    )


def _due(workflow: Workflow, today: date) -> tuple[sa.ColumnElement[bool], ...]:
    closed = sa.or_(
        *(
            sa.and_(Case.route == route, Case.state.in_(sorted(flow.final - {WITHDRAWN})))
            for route, flow in workflow.routes.items()
        )
    )
    return (
        CheckIn.sent_at.is_(None),
        CheckIn.due_on <= today,
        closed,
        Case.checkins_stopped_at.is_(None),
        readable_by_complainant(),
    )


def _due_query(workflow: Workflow, today: date) -> sa.Select[CheckIn, Case]:
    return (
        sa.select(CheckIn, Case)
        .join(Case, Case.id == CheckIn.case_id)
        .where(*_due(workflow, today), CheckIn.reminded_at.is_(None))
        .order_by(CheckIn.due_on, CheckIn.id)
        # Two runs at once must not both remind (as ``deadlines remind``).
        .with_for_update(skip_locked=True, of=CheckIn)
    )
