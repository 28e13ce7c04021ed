"""``flask --app wsgi deadlines ...``: deadline reminders (run from cron or a timer)."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import AppGroup

from complaints import db
from complaints.clock import now
from complaints.notify.services import count_sent
from complaints.workflow.config import workflow
from complaints.workflow.reminders import count_deadlines, send_reminders
from complaints.workflow.services import local_date

group = AppGroup("deadlines", help="Statutory deadlines.")


@group.command(
    "remind",
    help="E-mail the handlers of each case about deadlines due within --days days and about "
    "overdue ones; each deadline is reminded once before its day and once after it. The "
    "e-mails are sent at once; what the mail server does not take waits for 'notify send'.",
)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Count from this day (YYYY-MM-DD) instead of today in Amsterdam.",
)
@click.option(
    "--days",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Remind deadlines due within this many days.",
)
def remind_command(as_of: datetime | None, days: int) -> None:
    moment = now()
    today = as_of.date() if as_of is not None else local_date(moment)
    with db.unit_of_work() as session:
        report = send_reminders(session, workflow(), today=today, days=days, now=moment)
    # The commit above already tried to send what it queued (queue_notification delivers
    # after the commit); say what really went out, and what waits for ``notify send``.
    with db.unit_of_work() as session:
        sent = count_sent(session, report.notification_ids)
        counts = count_deadlines(session, today=today, days=days)
    waiting = len(report.notification_ids) - sent
    click.echo(
        f"as of {today.isoformat()}: {counts.overdue} deadline(s) overdue, "
        f"{counts.due_soon} due within {days} day(s); reminded now: {report.overdue} overdue, "
        f"{report.due_soon} due soon; {sent} e-mail(s) sent, "
        f"{waiting} waiting for 'notify send'"
    )
