"""``flask --app wsgi retention plan | remind | apply``: retention, from a daily timer."""

from __future__ import annotations

import csv
import fcntl
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from complaints import db
from complaints.audit.cli import anchor_after_operation
from complaints.audit.services import Actor
from complaints.clock import now
from complaints.crypto.keystore import KeyStoreError
from complaints.crypto.services import keystore
from complaints.maintenance import maintenance_role
from complaints.notify.services import count_sent
from complaints.retention.policy import retention_policy
from complaints.retention.reminders import send_retention_reminders
from complaints.retention.sweep import DEFAULT_PLAN_DAYS, SWEPT_TABLES, SweepReport, apply, plan
from complaints.settings import current_settings
from complaints.web.csvexport import csv_cell
from complaints.workflow.config import workflow
from complaints.workflow.services import local_date

group = AppGroup("retention", help="Retention: what falls due under the policy, and the sweep.")

_AS_OF = click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Apply the policy as on this day (YYYY-MM-DD) instead of today in Amsterdam.",
)
# Names the PostgreSQL advisory lock that keeps two sweeps (or a sweep and a key rewrap) from
# running at once.
_SWEEP_LOCK_ID = 0x72657465  # "rete"


def _day(as_of: datetime | None) -> date:
    return as_of.date() if as_of is not None else local_date(now())


@group.command(
    "plan",
    help="List what falls due within --days days (and what is overdue), and every case under a "
    "legal hold: reference, rule, action and day. No content.",
)
@_AS_OF
@click.option(
    "--days",
    type=click.IntRange(min=0),
    default=DEFAULT_PLAN_DAYS,
    show_default=True,
    help="Look this many days ahead.",
)
@click.option("--csv", "as_csv", is_flag=True, help="Write CSV to standard output.")
def plan_command(as_of: datetime | None, days: int, as_csv: bool) -> None:
    today = _day(as_of)
    with db.unit_of_work() as session:
        entries = plan(session, retention_policy(), workflow(), as_of=today, days=days)
    rows = [
        [
            e.reference,
            e.rule,
            e.action.value,
            e.due_on.isoformat(),
            "yes" if e.held else "no",
            e.hold_until.isoformat() if e.hold_until else "",
            "yes" if e.extended else "no",
        ]
        for e in entries
    ]
    header = ["reference", "rule", "action", "due_on", "held", "held_until", "extended"]
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([csv_cell(value) for value in row] for row in rows)
        return
    click.echo(
        f"as of {today.isoformat()}: {len(rows)} action(s) due by "
        f"{date.fromordinal(today.toordinal() + days).isoformat()} or held"
    )
    if rows:
        click.echo(
            f"{'reference':<16} {'rule':<20} {'action':<8} {'due':<10} {'held':<4} "
            f"{'until':<10} extended"
        )
    for row in rows:
        reference, rule, action, due, held, until, extended = row
        click.echo(
            f"{reference:<16} {rule:<20} {action:<8} {due:<10} {held:<4} {until or '-':<10} "
            f"{extended}"
        )


@group.command(
    "apply",
    help="Destroy or redact what is due, in committed batches; destroy the epoch keys of days "
    "that are swept. Safe to run again, also after an interruption.",
)
@_AS_OF
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=None,
    help="Cases per transaction (default: the retention_batch_size setting).",
)
@click.option(
    "--allow-future",
    is_flag=True,
    help="Accept an --as-of later than today. This destroys cases before their day: only for "
    "rehearsals on a copy of the data.",
)
@maintenance_role  # it prunes old audit events, which the application's role may not delete
def apply_command(as_of: datetime | None, batch_size: int | None, allow_future: bool) -> None:
    keys = keystore()
    try:
        keys.check()
    except KeyStoreError as exc:
        raise click.ClickException(f"key store unavailable: {exc}") from None
    moment = now()
    today = _day(as_of)
    if today > local_date(moment) and not allow_future:
        raise click.ClickException(
            f"--as-of {today.isoformat()} is later than today ({local_date(moment).isoformat()}): "
            "that would destroy cases before their day. Use 'retention plan --as-of' to preview; "
            "add --allow-future only on a copy of the data."
        )
    with single_key_job():
        try:
            report = apply(
                db.session(),
                retention_policy(),
                workflow(),
                keys,
                as_of=today,
                now=moment,
                actor=Actor.operator(),
                batch_size=batch_size or current_settings().retention_batch_size,
                commit=db.commit,
            )
        except BaseException:
            db.rollback()
            raise
    db.compact_storage(db.database().engine, SWEPT_TABLES)
    _print_report(report)
    anchor_after_operation()


@group.command(
    "remind",
    help="E-mail the handlers of each finished case whose destruction or redaction comes within "
    "its rule's reminder time; once per case, rule and day. No content.",
)
@_AS_OF
def remind_command(as_of: datetime | None) -> None:
    moment = now()
    today = _day(as_of)
    with db.unit_of_work() as session:
        queued = send_retention_reminders(
            session, retention_policy(), workflow(), as_of=today, now=moment
        )
    # The commit above already tried to send them; say what went out and what waits.
    with db.unit_of_work() as session:
        sent = count_sent(session, queued)
    click.echo(
        f"as of {today.isoformat()}: {sent} reminder e-mail(s) sent, "
        f"{len(queued) - sent} waiting for 'notify send'"
    )


@contextmanager
def single_key_job() -> Iterator[None]:
    """Refuse to start while another sweep or key rewrap runs: two sweeps at once could
    redact a case twice, and a rewrap racing the sweep could take a slot the sweep just placed
    under its epoch key back under the active KEK."""
    engine = db.database().engine
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            if not connection.scalar(sa.select(sa.func.pg_try_advisory_lock(_SWEEP_LOCK_ID))):
                raise click.ClickException(
                    "another retention sweep or key rewrap is running; try again later"
                )
            try:
                yield
            finally:
                connection.scalar(sa.select(sa.func.pg_advisory_unlock(_SWEEP_LOCK_ID)))
                connection.commit()
        return
    lock_file = current_app.instance_path + "/retention-sweep.lock"
    with open(lock_file, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise click.ClickException(
                "another retention sweep or key rewrap is running; try again later"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _print_report(report: SweepReport) -> None:
    click.echo(
        f"as of {report.as_of.isoformat()}: {report.cases_destroyed} case(s) destroyed, "
        f"{report.cases_redacted} redaction(s), {report.held} held, "
        f"{report.rewrapped} case key(s) placed under an epoch key"
    )
    for kind, count in sorted(report.records.items()):
        click.echo(f"  {kind}: {count}")
    if report.epoch_keys_destroyed:
        click.echo(f"epoch keys destroyed: {', '.join(report.epoch_keys_destroyed)}")
