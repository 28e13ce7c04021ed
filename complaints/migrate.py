"""Database migrations (Alembic) from inside the application: ``flask --app wsgi db upgrade``.

On PostgreSQL they run as the maintenance (owner) role, and then give the application's role
exactly its rights (:func:`grant_application_role`): every table's rows, except that audit
events and the retention ledger may only be added to and read."""

from __future__ import annotations

import functools
from pathlib import Path

import click
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask.cli import AppGroup
from sqlalchemy import Connection, Engine

from complaints import db
from complaints.audit.models import AuditCheckpoint, AuditEvent
from complaints.maintenance import maintenance_role
from complaints.retention.models import LedgerEntry
from complaints.settings import current_settings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# The application's role may add to these and read them, never change or remove a row: the
# audit trail and the proof of destruction. Pruning old audit events is the maintenance role's.
APPEND_ONLY_TABLES = (AuditEvent.__tablename__, LedgerEntry.__tablename__)
# Written only by migrations and by pruning (the maintenance role).
READ_ONLY_TABLES = ("alembic_version", AuditCheckpoint.__tablename__)


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


def application_role() -> str | None:
    """The role the application logs in as, when it differs from the one connected now (the
    maintenance role); None on SQLite or with one role for both."""
    engine = db.database().engine
    if engine.dialect.name != "postgresql":
        return None
    url = current_settings().database_url
    role = sa.engine.make_url(url).username if url else None
    if not role or role == engine.url.username:
        return None
    return role


def grant_application_role(connection: Connection, role: str) -> None:
    """Give ``role`` exactly its rights on the tables that exist now (idempotent).

    Run after every migration rather than relying on default privileges: a table a migration
    rebuilds would otherwise come back with full rights on the audit trail."""
    quoted = connection.dialect.identifier_preparer.quote(role)
    connection.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {quoted}")
    connection.exec_driver_sql(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {quoted}")
    connection.exec_driver_sql(
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}"
    )
    existing = set(sa.inspect(connection).get_table_names(schema="public"))
    for table in APPEND_ONLY_TABLES:
        if table in existing:
            connection.exec_driver_sql(f"REVOKE UPDATE, DELETE ON {table} FROM {quoted}")
    for table in READ_ONLY_TABLES:
        if table in existing:
            connection.exec_driver_sql(f"REVOKE INSERT, UPDATE, DELETE ON {table} FROM {quoted}")
    connection.exec_driver_sql(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}")


def _grant(engine: Engine) -> None:
    role = application_role()
    if role is None:
        return
    with engine.begin() as connection:
        grant_application_role(connection, role)
    click.echo(
        f"granted role '{role}' its rights; on {', '.join(APPEND_ONLY_TABLES)} only SELECT "
        "and INSERT"
    )


group = AppGroup("db", help="Database schema (Alembic migrations).")


@group.command(
    "upgrade",
    help="Apply migrations up to REVISION (default: the newest), as the maintenance role, then "
    "grant the application's role its rights.",
)
@click.argument("revision", default="head")
@maintenance_role
def upgrade_command(revision: str) -> None:
    engine = db.database().engine
    before = current_revision(engine)
    upgrade(engine, revision)
    after = current_revision(engine)
    click.echo(f"database schema: {before or 'empty'} -> {after}")
    _grant(engine)


@group.command(
    "downgrade",
    help="Undo migrations down to REVISION (e.g. -1 or base).",
    # "-1" is a revision here, not an option.
    context_settings={"ignore_unknown_options": True},
)
@click.argument("revision")
@maintenance_role
def downgrade_command(revision: str) -> None:
    engine = db.database().engine
    downgrade(engine, revision)
    click.echo(f"database schema now at {current_revision(engine) or 'base'}")
    _grant(engine)


@group.command(
    "grant",
    help="Give the application's role (the user of COMPLAINTS_DATABASE_URL) its rights again, "
    "as the maintenance role: after restoring a dump made with --no-privileges.",
)
@maintenance_role
def grant_command() -> None:
    engine = db.database().engine
    if application_role() is None:
        click.echo("nothing to grant: the application and maintenance roles are the same")
        return
    _grant(engine)


@group.command(
    "history", help="List the migrations, newest first, marking the database's and the newest."
)
def history_command() -> None:
    current = current_revision(db.database().engine)
    script = ScriptDirectory.from_config(alembic_config())
    for revision in script.walk_revisions():
        marks = [
            mark
            for mark, applies in (
                ("current", revision.revision == current),
                ("head", revision.is_head),
            )
            if applies
        ]
        label = f" ({', '.join(marks)})" if marks else ""
        click.echo(f"{revision.revision}{label}: {revision.doc}")


@group.command("current", help="Show the schema revision of the database.")
def current_command() -> None:
    engine = db.database().engine
    current = current_revision(engine)
    head = head_revision()
    state = "up to date" if current == head else f"behind (newest is {head})"
    click.echo(f"{current or 'empty'}: {state}")
