"""``flask --app wsgi deadlines ...``: deadline reminders (run from cron or a timer)."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import AppGroup

from complaints import db
from complaints.clock import now
from complaints.workflow.config import workflow
from complaints.workflow.reminders import send_reminders
from complaints.workflow.services import local_date

group = AppGroup("deadlines", help="Statutory deadlines.")


@group.command(
    "remind",
    help="E-mail the handlers of each case about deadlines due within --days days and about "
    "overdue ones; each deadline is reminded once before its day and once after it.",
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
    click.echo(
        f"as of {today.isoformat()}: {report.due_soon} due within {days} day(s), "
        f"{report.overdue} overdue; {report.emails} e-mail(s) queued"
    )
