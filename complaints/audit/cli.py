"""``flask --app wsgi audit verify``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from complaints import db
from complaints.audit.services import verify_chain
from complaints.crypto.keystore import KeyStoreError
from complaints.crypto.services import keystore

group = AppGroup("audit", help="The audit log.")


@group.command("verify", help="Check the hash chain; print OK or the first broken event.")
def verify_command() -> None:
    try:
        with db.unit_of_work() as session:
            report = verify_chain(session, keystore())
    except KeyStoreError as exc:
        raise click.ClickException(f"key store unavailable: {exc}") from None
    if report.ok:
        span = f" (seq {report.first_seq}..{report.last_seq})" if report.checked else ""
        click.echo(f"OK: {report.checked} audit events verified{span}")
        return
    click.echo(f"BROKEN: audit event seq={report.broken_seq}: {report.reason}")
    click.echo(f"{report.checked} events before it verified")
    raise SystemExit(1)
