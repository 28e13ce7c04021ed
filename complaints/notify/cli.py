"""``flask --app wsgi notify send``: deliver what is due (run it from cron or a timer)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from complaints import db
from complaints.clock import now
from complaints.notify.services import deliver, mailer
from complaints.settings import current_settings

group = AppGroup("notify", help="E-mail notifications.")


@group.command("send", help="Send pending notifications that are due, retrying failed ones.")
def send_command() -> None:
    total_sent = total_retrying = total_failed = 0
    while True:
        with db.unit_of_work() as session:
            report = deliver(session, mailer(), current_settings(), now=now())
        total_sent += report.sent
        total_retrying += report.retrying
        total_failed += report.failed
        if report.sent + report.retrying + report.failed == 0 or report.sent == 0:
            break
    click.echo(f"sent {total_sent}, to retry {total_retrying}, given up {total_failed}")
    if total_retrying or total_failed:
        raise SystemExit(1)
