"""``flask --app wsgi demo seed | totp`` (development only)."""

from __future__ import annotations

import click
import pyotp
from flask.cli import AppGroup

from complaints import db
from complaints.accounts.login import passwords
from complaints.accounts.services import find_account, totp_secret
from complaints.audit.services import Actor
from complaints.clock import now
from complaints.crypto.services import keystore
from complaints.demo.services import demo_logins, demo_password, is_empty, seed_demo
from complaints.settings import current_settings

group = AppGroup("demo", help="The demo organisation (development only).")


def _refuse_in_production() -> None:
    if current_settings().is_production:
        raise click.ClickException("demo data is for development; refused in production")


@group.command("seed", help="Seed the demo organisation if the database is empty; print log-ins.")
def seed_command() -> None:
    _refuse_in_production()
    settings = current_settings()
    session = db.session()
    if is_empty(session):
        password = demo_password(settings.instance_path)
        seed_demo(
            session, keystore(), passwords(), password=password, actor=Actor.operator(), now=now()
        )
        db.commit()
        click.echo("Demo organisation created.")
    elif not (settings.instance_path / "demo-password").exists():
        click.echo("The database already holds a directory; no demo log-ins to show.")
        return
    password = demo_password(settings.instance_path)
    click.echo("")
    click.echo("Demo log-ins (every account has the same password):")
    click.echo(f"  password: {password}")
    for login in demo_logins(session):
        click.echo(f"  {login.login:<28} {login.name:<22} {login.roles}")
    click.echo("At the first log-in you set up two-step verification with an authenticator app")
    click.echo("(or, in development, print the current code: flask --app wsgi demo totp LOGIN).")


@group.command("totp", help="Print the current two-step code of LOGIN (development only).")
@click.argument("login")
def totp_command(login: str) -> None:
    _refuse_in_production()
    if current_settings().env.value != "development":
        raise click.ClickException("only in development")
    session = db.session()
    account = find_account(session, login)
    if account is None:
        raise click.ClickException(f"no account {login!r}")
    secret = totp_secret(keystore(), account)
    if secret is None:
        raise click.ClickException(f"{login} has not started setting up two-step verification yet")
    click.echo(pyotp.TOTP(secret).at(now()))
