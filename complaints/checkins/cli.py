"""``flask --app wsgi checkins ...``: check-in reminders (run daily from a timer)."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import AppGroup

from complaints import db
from complaints.checkins.reminders import count_due, send_checkin_reminders
from complaints.clock import now
from complaints.notify.services import count_sent
from complaints.workflow.config import workflow
from complaints.workflow.services import local_date

group = AppGroup("checkins", help="Check-ins against retaliation after closing.")


@group.command(
    "remind",
    help="E-mail the handlers of each closed case whose check-in is due (and not sent), once "
    "per check-in. The e-mails are sent at once; what the mail server does not take waits "
    "for 'notify send'.",
)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Count from this day (YYYY-MM-DD) instead of today in Amsterdam.",
)
def remind_command(as_of: datetime | None) -> None:
    moment = now()
    today = as_of.date() if as_of is not None else local_date(moment)
    with db.unit_of_work() as session:
        report = send_checkin_reminders(session, workflow(), today=today, now=moment)
    with db.unit_of_work() as session:
        sent = count_sent(session, report.notification_ids)
        due = count_due(session, workflow(), today=today)
    waiting = len(report.notification_ids) - sent
    click.echo(
        f"as of {today.isoformat()}: {due} check-in(s) due and not sent; reminded now: "
        f"{report.checkins}; {sent} e-mail(s) sent, {waiting} waiting for 'notify send'"
    )
