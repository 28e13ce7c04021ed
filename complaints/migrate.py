"""Database migrations (Alembic) from inside the application: ``flask --app wsgi db upgrade``."""

from __future__ import annotations

import functools
from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask.cli import AppGroup
from sqlalchemy import Connection, Engine

from complaints import db

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def head_revision() -> str | None:
    """The newest migration shipped with this code (read once per process)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)


group = AppGroup("db", help="Database schema (Alembic migrations).")


@group.command("upgrade", help="Apply migrations up to REVISION (default: the newest).")
@click.argument("revision", default="head")
def upgrade_command(revision: str) -> None:
    engine = db.database().engine
    before = current_revision(engine)
    upgrade(engine, revision)
    after = current_revision(engine)
    click.echo(f"database schema: {before or 'empty'} -> {after}")


@group.command(
    "downgrade",
    help="Undo migrations down to REVISION (e.g. -1 or base).",
    # "-1" is a revision here, not an option.
    context_settings={"ignore_unknown_options": True},
)
@click.argument("revision")
def downgrade_command(revision: str) -> None:
    engine = db.database().engine
    downgrade(engine, revision)
    click.echo(f"database schema now at {current_revision(engine) or 'base'}")


@group.command("current", help="Show the schema revision of the database.")
def current_command() -> None:
    engine = db.database().engine
    current = current_revision(engine)
    head = head_revision()
    state = "up to date" if current == head else f"behind (newest is {head})"
    click.echo(f"{current or 'empty'}: {state}")
