"""``flask --app wsgi users create | reset-password | deactivate | list``."""

from __future__ import annotations

import sys

import click
import sqlalchemy as sa
from flask.cli import AppGroup
from sqlalchemy.orm import Session, joinedload

from complaints import db
from complaints.accounts.login import passwords
from complaints.accounts.models import Account, Role
from complaints.accounts.services import (
    AccountExists,
    PasswordRejected,
    assign_role,
    create_account,
    find_account,
    find_person,
    reset_password,
    roles_of,
    temporary_password,
)
from complaints.audit.services import Actor
from complaints.clock import now
from complaints.crypto.services import keystore
from complaints.directory.models import OrgUnit
from complaints.handover.services import HandoverBlocked, hand_over
from complaints.workflow.config import workflow

group = AppGroup("users", help="Staff accounts.")


def _read_password(from_stdin: bool) -> tuple[str, bool]:
    """A password from stdin (for scripts), or a generated temporary one."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n"), False
    return temporary_password(), True


def _scope(session: Session, role_spec: str) -> tuple[Role, int | None]:
    name, _, scope_code = role_spec.partition("@")
    try:
        role = Role(name.strip().lower())
    except ValueError:
        valid = ", ".join(r.value for r in Role)
        raise click.BadParameter(f"unknown role {name!r} (one of {valid})") from None
    if not scope_code:
        return role, None
    unit_id = session.scalar(sa.select(OrgUnit.id).where(OrgUnit.code == scope_code.strip()))
    if unit_id is None:
        raise click.BadParameter(f"unknown org unit {scope_code!r}")
    return role, unit_id


@group.command("create", help="Create an account for PERSON (e-mail address or employee number).")
@click.argument("person_ref")
@click.option(
    "--role",
    "roles",
    multiple=True,
    metavar="ROLE[@UNIT]",
    help="Give a role by hand, e.g. admin or confidant@BZK. Repeatable.",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input instead of generating a temporary one.",
)
def create_command(person_ref: str, roles: tuple[str, ...], password_stdin: bool) -> None:
    session = db.session()
    person = find_person(session, person_ref)
    if person is None:
        raise click.ClickException(
            f"nobody in the directory matches {person_ref!r}; import the directory first"
        )
    role_scopes = [_scope(session, spec) for spec in roles]
    password, temporary = _read_password(password_stdin)
    actor = Actor.operator()
    try:
        account = create_account(
            session,
            keystore(),
            passwords(),
            person=person,
            password=password,
            must_change_password=temporary,
            actor=actor,
            now=now(),
        )
    except AccountExists:
        raise click.ClickException(f"{person.email} already has an account") from None
    except PasswordRejected as exc:
        raise click.ClickException(f"password refused: {exc.reason}") from None
    for role, scope_id in role_scopes:
        assign_role(
            session,
            keystore(),
            person=person,
            role=role,
            scope_unit_id=scope_id,
            actor=actor,
            now=now(),
        )
    db.commit()
    click.echo(f"account created: {account.login}")
    if temporary:
        click.echo(f"temporary password (shown once, to be changed at first log-in): {password}")
    click.echo("two-step verification is set up at the first log-in")


@group.command(
    "reset-password",
    help="Give LOGIN a new temporary password, end their sessions, and end every wait that "
    "failed log-in attempts put on clients (there is no account lock to lift).",
)
@click.argument("login")
@click.option(
    "--reset-totp", is_flag=True, help="Also make them set up two-step verification again."
)
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
def reset_password_command(login: str, reset_totp: bool, password_stdin: bool) -> None:
    session = db.session()
    account = find_account(session, login)
    if account is None:
        raise click.ClickException(f"no account {login!r}")
    password, temporary = _read_password(password_stdin)
    try:
        reset_password(
            session,
            keystore(),
            passwords(),
            account,
            new_password=password,
            reset_totp=reset_totp,
            actor=Actor.operator(),
            now=now(),
        )
    except PasswordRejected as exc:
        raise click.ClickException(f"password refused: {exc.reason}") from None
    db.commit()
    click.echo(f"password reset for {account.login}; all sessions ended")
    if temporary:
        click.echo(f"temporary password (shown once): {password}")
    if reset_totp:
        click.echo("two-step verification will be set up again at the next log-in")


@group.command(
    "deactivate",
    help="Stop LOGIN from logging in and end their sessions now. Their open cases are handed "
    "over to other eligible handlers first; if nobody can take one over, nothing changes.",
)
@click.argument("login")
@click.option(
    "--force",
    is_flag=True,
    help="Emergency only: deactivate even when some open cases cannot be handed over "
    "(they stay with the deactivated account, flagged in the audit log).",
)
def deactivate_command(login: str, force: bool) -> None:
    session = db.session()
    account = find_account(session, login)
    if account is None:
        raise click.ClickException(f"no account {login!r}")
    if not account.active:
        click.echo(f"{account.login} was already deactivated")
        return
    try:
        result = hand_over(
            session,
            keystore(),
            workflow(),
            account.person_id,
            deactivate=True,
            actor=Actor.operator(),
            actor_person_id=None,
            now=now(),
            force=force,
        )
    except HandoverBlocked as blocked:
        db.rollback()
        for move in blocked.plan.unresolved:
            click.echo(f"cannot hand over {move.reference} ({move.route.value}): {move.reason}")
        raise click.ClickException(
            f"{account.login} not deactivated: nobody eligible can take over the case(s) above; "
            "give a colleague the role first, or use --force in an emergency"
        ) from None
    db.commit()
    moved = sum(1 for m in result.moved if m.to_person_id is not None)
    click.echo(
        f"{account.login} deactivated; {result.sessions_ended} session(s) ended; "
        f"{moved} open case(s) handed over"
    )
    for move in result.left:
        click.echo(f"left with the deactivated account: {move.reference} ({move.reason})")


@group.command("list", help="List accounts with their roles and state.")
def list_command() -> None:
    session = db.session()
    accounts = session.scalars(
        sa.select(Account).options(joinedload(Account.person)).order_by(Account.login)
    ).all()
    for account in accounts:
        roles = ", ".join(
            f"{a.role.value}@{a.scope_unit.code}" if a.scope_unit else a.role.value
            for a in roles_of(session, account.person_id)
        )
        state = "active" if account.active else "deactivated"
        totp = "totp" if account.totp_confirmed_at else "no-totp"
        click.echo(f"{account.login:<40} {state:<12} {totp:<8} {roles}")
