"""``flask --app wsgi audit verify | anchor``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from complaints import db
from complaints.audit.anchor import AnchorError, anchor_chain, verify_anchors
from complaints.audit.services import verify_chain
from complaints.clock import now
from complaints.crypto.keystore import KeyStoreError
from complaints.crypto.services import keystore
from complaints.settings import current_settings

group = AppGroup("audit", help="The audit log.")


@group.command(
    "verify",
    help="Check the hash chain, and its end against the anchor file; print OK or what is "
    "broken: the first broken event, or the last anchored event that is missing.",
)
@click.option(
    "--restored-copy",
    is_flag=True,
    help="The database is a restored backup, older than the anchor file: anchors after its "
    "last event are expected, and a missing anchor file is only reported.",
)
def verify_command(restored_copy: bool) -> None:
    path = current_settings().resolved_audit_anchor_path
    try:
        with db.unit_of_work() as session:
            report = verify_chain(session, keystore())
            anchors = verify_anchors(session, keystore(), path, restored_copy=restored_copy)
    except KeyStoreError as exc:
        raise click.ClickException(f"key store unavailable: {exc}") from None
    if not report.ok:
        click.echo(f"BROKEN: audit event seq={report.broken_seq}: {report.reason}")
        click.echo(f"{report.checked} events before it verified")
        raise SystemExit(1)
    if not anchors.ok:
        click.echo(f"BROKEN: {anchors.problem}")
        if anchors.last is not None:
            click.echo(f"last anchored event: {anchors.last.describe()}")
        raise SystemExit(1)
    span = f" (seq {report.first_seq}..{report.last_seq})" if report.checked else ""
    click.echo(f"OK: {report.checked} audit events verified{span}")
    if anchors.last is None:
        state = "missing" if anchors.file_missing else "empty"
        click.echo(
            f"anchors: the anchor file {path} is {state}: the end of the chain was NOT checked"
        )
        return
    ahead = f", {anchors.ahead} newer than this copy" if anchors.ahead else ""
    click.echo(
        f"anchors: {anchors.anchors} verified{ahead}; the last at {anchors.last.describe()}; "
        f"{anchors.newer_events} events newer than the last anchor"
    )


@group.command(
    "anchor",
    help="Write the chain's head, signed, to the anchor file outside the database (a timer "
    "runs this every 15 minutes).",
)
def anchor_command() -> None:
    anchor_after_operation()


def anchor_after_operation() -> None:
    """Anchor the chain's head now, after the command's own commits: every sweep and key
    operation ends with this, so events it wrote cannot be cut off unnoticed. Raises a
    ClickException (the unit fails) when the chain no longer holds its last anchor."""
    keys = keystore()
    path = current_settings().resolved_audit_anchor_path
    try:
        keys.check()
        with db.unit_of_work() as session:
            anchor = anchor_chain(session, keys, path, now=now())
    except KeyStoreError as exc:
        raise click.ClickException(f"key store unavailable: {exc}") from None
    except AnchorError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror}") from None
    # Printed as well, so the journal keeps a copy of every anchor apart from the file.
    click.echo(f"anchored seq {anchor.seq} hash {anchor.hash} at {anchor.anchored_at.isoformat()}")
