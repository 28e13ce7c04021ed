"""The maintenance role's commands: they, and only they, connect with
``maintenance_database_url``; ``db history`` shows which revision to roll back to.

The privilege refusals themselves need PostgreSQL roles: tests/test_database_roles.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from complaints import create_app, migrate
from complaints.clock import set_clock
from tests.conftest import Clock, DatabaseFactory, make_settings

pytestmark = pytest.mark.committing


def _app(tmp_path: Path, url: str, keystore_path: Path, clock: Clock, **extra: str) -> Flask:
    application = create_app(make_settings(tmp_path, url, keystore_path, **extra))
    set_clock(application, clock)
    return application


def _revision(url: str) -> str | None:
    engine = sa.create_engine(url)
    try:
        return migrate.current_revision(engine)
    finally:
        engine.dispose()


def test_migrations_run_on_the_maintenance_url_and_other_commands_do_not(
    databases: DatabaseFactory, tmp_path: Path, keystore_path: Path, clock: Clock
) -> None:
    """Two databases stand in for two roles: what the maintenance command changes shows which
    connection it used."""
    application_url = databases.fresh_url()
    maintenance_url = databases.fresh_url()
    head = migrate.head_revision()
    application = _app(
        tmp_path, application_url, keystore_path, clock, maintenance_database_url=maintenance_url
    )
    try:
        cli = application.test_cli_runner()
        down = cli.invoke(args=["db", "downgrade", "-1"])
        assert down.exit_code == 0, down.output
        assert _revision(maintenance_url) != head
        assert _revision(application_url) == head  # untouched
        # An ordinary command reads the application's database: still at head there.
        current = cli.invoke(args=["db", "current"])
        assert current.output == f"{head}: up to date\n"
        up = cli.invoke(args=["db", "upgrade"])
        assert up.exit_code == 0, up.output
        assert _revision(maintenance_url) == head
        # The command gave the application its own database back.
        assert application.extensions["complaints.db"].engine.url.render_as_string(
            hide_password=False
        ) == sa.engine.make_url(application_url).render_as_string(hide_password=False)
    finally:
        application.extensions["complaints.db"].engine.dispose()


def test_without_a_maintenance_url_the_commands_use_the_database_url(
    databases: DatabaseFactory, tmp_path: Path, keystore_path: Path, clock: Clock
) -> None:
    url = databases.fresh_url()
    application = _app(tmp_path, url, keystore_path, clock)
    try:
        cli = application.test_cli_runner()
        assert cli.invoke(args=["db", "downgrade", "-1"]).exit_code == 0
        assert _revision(url) != migrate.head_revision()
        assert cli.invoke(args=["db", "upgrade"]).exit_code == 0
        assert _revision(url) == migrate.head_revision()
        granted = cli.invoke(args=["db", "grant"])
        assert granted.exit_code == 0
        assert granted.output == (
            "nothing to grant: the application and maintenance roles are the same\n"
        )
    finally:
        application.extensions["complaints.db"].engine.dispose()


def test_history_marks_the_current_revision_and_the_newest(
    databases: DatabaseFactory, tmp_path: Path, keystore_path: Path, clock: Clock
) -> None:
    url = databases.fresh_url()
    application = _app(tmp_path, url, keystore_path, clock)
    try:
        cli = application.test_cli_runner()
        assert cli.invoke(args=["db", "downgrade", "-1"]).exit_code == 0
        current = _revision(url)
        lines = cli.invoke(args=["db", "history"]).output.splitlines()
        assert lines[0].startswith(f"{migrate.head_revision()} (head): ")
        assert lines[1].startswith(f"{current} (current): ")
        assert len(lines) == len(list(migrate.ScriptDirectory.from_config(
            migrate.alembic_config()).walk_revisions()))  # fmt: skip
    finally:
        application.extensions["complaints.db"].engine.dispose()
