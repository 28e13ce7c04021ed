"""The maintenance (owner) database role for the CLI commands that need it, and one-line
errors when a command's role lacks a privilege.

On PostgreSQL the application's role may not change the schema, nor update or delete audit
events and ledger rows (docs/deployment.md). Migrations and the retention sweep (which prunes
old audit events) run as the maintenance role instead: the commands that need it are marked
with :func:`maintenance_role` and then connect with ``maintenance_database_url``, a setting the
web service's environment never holds. Without that setting they use ``database_url`` (SQLite,
or a deployment with one role).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click
import sqlalchemy as sa
from flask import current_app

from complaints import db
from complaints.settings import ENV_PREFIX, current_settings

F = TypeVar("F", bound=Callable[..., Any])
# SQLSTATE 42501 insufficient_privilege: "permission denied for table …", "must be owner of …".
INSUFFICIENT_PRIVILEGE = "42501"
_GUARDED = "_complaints_privilege_guard"


def maintenance_role(command: F) -> F:
    """Run a CLI command's database work as the maintenance role, when one is configured.

    Goes under ``@group.command(...)``, so that it runs inside the application context."""

    @functools.wraps(command)
    def as_maintenance_role(*args: Any, **kwargs: Any) -> Any:
        url = current_settings().maintenance_database_url
        if url is None:
            return command(*args, **kwargs)
        application = current_app._get_current_object()  # type: ignore[attr-defined]
        own = application.extensions["complaints.db"]
        maintenance = db.Database(db.create_engine(url.get_secret_value()))
        application.extensions["complaints.db"] = maintenance
        try:
            return command(*args, **kwargs)
        finally:
            # Sessions made during the command belong to the maintenance engine: close them
            # before that engine goes, and hand the application its own database back.
            db.rollback()
            from flask import g

            session = g.pop("db_session", None)
            if session is not None:
                session.close()
            application.extensions["complaints.db"] = own
            maintenance.engine.dispose()

    return as_maintenance_role  # type: ignore[return-value]


def guard_privilege_errors(group: click.Group) -> click.Group:
    """Turn a refused privilege in any command of ``group`` into one line and exit status 1,
    instead of a page of traceback. Safe to call again on the same group (apps are built many
    times in one process; the commands are module-level objects)."""
    for command in group.commands.values():
        if isinstance(command, click.Group):
            guard_privilege_errors(command)
        elif command.callback is not None and not getattr(command.callback, _GUARDED, False):
            command.callback = _guarded(command.callback)
    return group


def _guarded(callback: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(callback)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except sa.exc.DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != INSUFFICIENT_PRIVILEGE:
                raise
            raise click.ClickException(privilege_message(exc)) from None

    setattr(guarded, _GUARDED, True)
    return guarded


def privilege_message(exc: sa.exc.DBAPIError) -> str:
    """One line: what was refused, to which role, and how to run as the maintenance role."""
    refused = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else "refused"
    role = "?"
    with contextlib.suppress(RuntimeError):  # no application context
        role = db.database().engine.url.username or "?"
    return (
        f"the database refused this to role '{role}': {refused}. Commands that migrate or "
        f"prune need the maintenance role: set {ENV_PREFIX}MAINTENANCE_DATABASE_URL "
        "(docs/deployment.md, 'Maintenance commands')"
    )
