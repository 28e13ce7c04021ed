"""Retention reminders: before a case is destroyed or redacted, each of its handlers gets one
e-mail — the reference, the rule, what will happen and on which day; nothing about the case.

Once per (case, rule, day): ``RetentionReminder`` records what was sent, so a second run the
same day, or the next day, sends nothing; an extension moves the day, which is reminded again.
Held cases are not reminded: their day is not known while the hold stands.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.notify.services import queue_notification
from complaints.retention.models import RetentionReminder
from complaints.retention.policy import RetentionPolicy
from complaints.retention.schedule import DEFAULT_BATCH, Scheduled, iter_schedules
from complaints.workflow.config import Workflow
from complaints.workflow.reminders import active_handlers

KIND = "retention_reminder"


def send_retention_reminders(
    session: Session,
    policy: RetentionPolicy,
    workflow: Workflow,
    *,
    as_of: date,
    now: datetime,
    batch_size: int = DEFAULT_BATCH,
) -> list[int]:
    """Queue a reminder to every handler of each case whose destruction or redaction is within
    its rule's reminder period on ``as_of``; returns the ids of the e-mails queued (they are
    sent after the commit)."""
    emails: list[int] = []
    for batch in iter_schedules(session, policy, workflow, as_of=as_of, batch_size=batch_size):
        pending = [item for schedule in batch for item in schedule.items if _remind(item, as_of)]
        if not pending:
            continue
        case_ids = {item.case_id for item in pending}
        sent = {
            (row.case_id, row.rule, row.due_on)
            for row in session.execute(
                sa.select(
                    RetentionReminder.case_id, RetentionReminder.rule, RetentionReminder.due_on
                ).where(RetentionReminder.case_id.in_(case_ids))
            )
        }
        handlers = active_handlers(session, case_ids)
        for item in pending:
            recipients = handlers.get(item.case_id, [])
            # Nobody to tell (yet): try again on the next run, a handler may be added.
            if (item.case_id, item.rule.name, item.due_on) in sent or not recipients:
                continue
            params: dict[str, str | int | bool] = {
                "reference": item.reference,
                "rule_nl": item.rule.label.nl,
                "rule_en": item.rule.label.en,
                "action": item.action.value,
                "due_by": item.due_on.isoformat(),
            }
            for person_id in recipients:
                notification = queue_notification(
                    session,
                    recipient_person_id=person_id,
                    kind=KIND,
                    params=params,
                    now=now,
                    case_id=item.case_id,
                )
                emails.append(notification.id)
            session.add(
                RetentionReminder(
                    case_id=item.case_id, rule=item.rule.name, due_on=item.due_on, sent_at=now
                )
            )
        session.flush()
    return emails


def _remind(item: Scheduled, as_of: date) -> bool:
    remind_on = item.remind_on()
    return item.hold is None and remind_on is not None and remind_on <= as_of < item.due_on
