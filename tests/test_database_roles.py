"""Two PostgreSQL roles, as docs/deployment.md creates them: the application's role may only add
to and read the audit trail and the ledger; migrations and pruning run as the maintenance role.

The roles and the database are made on the shared server with the statements of the deployment
guide itself (taken from the document), under unique names, and dropped afterwards. Every
refusal is the database's own; the control is the owner doing the same and succeeding.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from flask import Flask

from complaints import create_app
from complaints.audit.models import AuditEvent
from complaints.audit.services import Actor, record_event
from complaints.clock import set_clock
from complaints.crypto.services import keystore
from tests.conftest import POSTGRES_ADMIN_URL, ROOT, START, Clock, app_session, make_settings
from tests.factories import import_demo_directory, log_in, make_account
from tests.intake.test_views import Answers
from tests.test_backup_restore import HANDLER_EMAIL, file_through_the_web

ONLY_BACKEND = "postgresql"

pytestmark = pytest.mark.committing

DEPLOYMENT = ROOT / "docs" / "deployment.md"
APPEND_ONLY = ("audit_events", "retention_ledger")


@dataclass
class Roles:
    owner: str
    app: str
    database: str

    def url(self, role: str) -> str:
        return (
            sa.engine.make_url(POSTGRES_ADMIN_URL)
            .set(username=role, password=None, database=self.database)
            .render_as_string(hide_password=False)
        )


def documented_role_statements() -> list[str]:
    """The SQL block of docs/deployment.md section 2, statement by statement (``\\c`` kept)."""
    text = DEPLOYMENT.read_text()
    block = re.search(r"\n    -- as postgres\n((?:    .*\n)+)", text)
    assert block, "docs/deployment.md lost its '-- as postgres' block"
    lines = [line.strip() for line in block.group(1).splitlines()]
    statements: list[str] = []
    current = ""
    for line in lines:
        if line.startswith("\\c"):
            statements.append(line)
            continue
        current = f"{current} {line}".strip()
        if current.endswith(";"):
            statements.append(current)
            current = ""
    assert not current, f"unfinished statement in the deployment guide: {current}"
    return statements


@pytest.fixture
def roles() -> Iterator[Roles]:
    suffix = f"{os.getpid()}_{secrets.token_hex(4)}"
    made = Roles(owner=f"cmp_{suffix}_owner", app=f"cmp_{suffix}", database=f"cmp_{suffix}")
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    inside = sa.create_engine(
        sa.engine.make_url(POSTGRES_ADMIN_URL).set(database=made.database),
        isolation_level="AUTOCOMMIT",
    )
    connection = admin.connect()
    try:
        for statement in documented_role_statements():
            # The guide's names, made unique; trust authentication here, so no passwords.
            statement = re.sub(r"\bcomplaints_owner\b", made.owner, statement)
            statement = re.sub(r"\bcomplaints\b", made.app, statement)
            statement = re.sub(r" PASSWORD '[^']*'", "", statement)
            if statement.startswith("\\c"):
                connection.close()
                connection = inside.connect()
                continue
            connection.exec_driver_sql(statement)
        connection.close()
        yield made
    finally:
        connection.close()
        inside.dispose()
        with admin.connect() as cleanup:
            cleanup.exec_driver_sql(f'DROP DATABASE IF EXISTS "{made.database}" WITH (FORCE)')
            for role in (made.app, made.owner):
                cleanup.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        admin.dispose()


_APPS: list[Flask] = []


@pytest.fixture(autouse=True)
def _dispose_apps() -> Iterator[None]:
    yield
    while _APPS:
        _APPS.pop().extensions["complaints.db"].engine.dispose()


def _app(roles: Roles, tmp_path: Path, keystore_path: Path, clock: Clock, **extra: str) -> Flask:
    """An application on the application role (its engine disposed when the test ends)."""
    settings = make_settings(tmp_path, roles.url(roles.app), keystore_path, **extra)
    application = create_app(settings, strict_startup=False)
    set_clock(application, clock)
    _APPS.append(application)
    return application


@pytest.fixture
def migrated(
    roles: Roles, tmp_path: Path, keystore_path: Path, clock: Clock
) -> tuple[Roles, Flask]:
    """Migrated by the operator's command, as the maintenance role; the app on the app role."""
    application = _app(
        roles, tmp_path, keystore_path, clock, maintenance_database_url=roles.url(roles.owner)
    )
    result = application.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"granted role '{roles.app}' its rights" in result.output
    return roles, application


def _connect(roles: Roles, role: str) -> psycopg.Connection[tuple[object, ...]]:
    url = sa.engine.make_url(roles.url(role)).set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False))


def _as(roles: Roles, role: str, statement: str) -> int:
    """Run one statement as ``role`` in its own transaction; the rows it touched."""
    with _connect(roles, role) as connection:
        return connection.execute(statement.encode()).rowcount


def _count(roles: Roles, role: str, table: str, where: str = "true") -> int:
    with _connect(roles, role) as connection:
        row = connection.execute(f"SELECT count(*) FROM {table} WHERE {where}".encode()).fetchone()
        assert row is not None
        return int(row[0])  # type: ignore[call-overload]


def _record(application: Flask, now: datetime, count: int = 3) -> None:
    with app_session(application) as session:
        for number in range(count):
            record_event(
                session, keystore(), actor=Actor.staff(number), action="test.event", now=now
            )


def test_the_application_role_may_add_audit_events_but_not_change_or_remove_them(
    migrated: tuple[Roles, Flask], clock: Clock
) -> None:
    roles, application = migrated
    _record(application, clock())  # INSERT (and SELECT of the head) as the application role
    with app_session(application) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 3
        assert session.get_bind().engine.url.username == roles.app  # type: ignore[union-attr]
    # The ledger too may be added to by the application role.
    ledger_row = (
        "INSERT INTO retention_ledger (occurred_at, as_of, category, rule, action, records) "
        "VALUES (now(), current_date, 'audit', 'audit', 'destroyed', '{}')"
    )
    assert _as(roles, roles.app, ledger_row) == 1
    for table in APPEND_ONLY:
        assert _count(roles, roles.app, table) >= 1
        for attack in (
            f"DELETE FROM {table}",
            f"UPDATE {table} SET occurred_at = now()",
            f"TRUNCATE {table}",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                _as(roles, roles.app, attack)
    # Nor may it move where the chain starts, or pretend to a schema revision.
    for attack in (
        "INSERT INTO audit_checkpoints (through_seq, hash, created_at) VALUES (3, 'x', now())",
        "UPDATE alembic_version SET version_num = 'x'",
        "CREATE TABLE sneaky (id int)",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            _as(roles, roles.app, attack)
    # Control: the same attacks work for the owner, so the refusals above are the grants'.
    assert _as(roles, roles.owner, "UPDATE audit_events SET occurred_at = now()") == 3
    assert _as(roles, roles.owner, "DELETE FROM audit_events") == 3
    assert _as(roles, roles.owner, "DELETE FROM retention_ledger") == 1


def test_a_report_is_filed_and_read_as_the_application_role(
    migrated: tuple[Roles, Flask], clock: Clock
) -> None:
    """The grants are complete: the whole path of a report works without the owner."""
    roles, application = migrated
    with app_session(application) as session:
        people = import_demo_directory(session, clock())
        handler = make_account(session, people[HANDLER_EMAIL], clock())
    filed = file_through_the_web(
        application, Answers(description="Een rol-test melding."), "Een bericht erbij."
    )
    staff = application.test_client()
    log_in(staff, handler, clock())
    page = staff.get(f"/zaken/{filed.case_id}")
    assert page.status_code == 200
    assert "Een rol-test melding." in page.get_data(as_text=True)
    cli = application.test_cli_runner()
    for command in (["audit", "anchor"], ["audit", "verify"], ["keys", "status"]):
        result = cli.invoke(args=command)
        assert result.exit_code == 0, (command, result.output)
    assert _count(roles, roles.app, "cases") == 1


def _flask(roles: Roles, tmp_path: Path, keystore_path: Path, *args: str, **env: str):  # type: ignore[no-untyped-def]
    """The operator's command in a process of its own, with only the given environment."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("COMPLAINTS_")}
    environment.update(
        COMPLAINTS_ENV="testing",
        COMPLAINTS_DATABASE_URL=roles.url(roles.app),
        COMPLAINTS_KEYSTORE_PATH=str(keystore_path),
        COMPLAINTS_INSTANCE_PATH=str(tmp_path / "cli-instance"),
        COMPLAINTS_LOG_FORMAT="console",
        **env,
    )
    return subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_owner_commands_as_the_application_role_fail_in_one_line(
    migrated: tuple[Roles, Flask], tmp_path: Path, keystore_path: Path
) -> None:
    """Without the maintenance role a migration is refused: one line, no traceback, exit 1."""
    roles, _ = migrated
    refused = _flask(roles, tmp_path, keystore_path, "db", "downgrade", "-1")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert lines[0].startswith(f"Error: the database refused this to role '{roles.app}': ")
    assert "COMPLAINTS_MAINTENANCE_DATABASE_URL" in lines[0]
    # With the maintenance role the same command works (and the grants follow it).
    done = _flask(
        roles, tmp_path, keystore_path, "db", "downgrade", "-1",
        COMPLAINTS_MAINTENANCE_DATABASE_URL=roles.url(roles.owner),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "database schema now at" in done.stdout
    again = _flask(
        roles, tmp_path, keystore_path, "db", "upgrade",
        COMPLAINTS_MAINTENANCE_DATABASE_URL=roles.url(roles.owner),
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert _count(roles, roles.app, "audit_events") == 0


def test_retention_prunes_the_audit_log_only_as_the_maintenance_role(
    migrated: tuple[Roles, Flask], tmp_path: Path, keystore_path: Path, clock: Clock
) -> None:
    roles, maintained = migrated
    application = _app(roles, tmp_path, keystore_path, clock)  # no maintenance role
    _record(application, START)
    anchored = application.test_cli_runner().invoke(args=["audit", "anchor"])
    assert anchored.exit_code == 0, anchored.output
    clock.advance(days=6 * 366)  # the events are now older than the audit period
    refused = application.test_cli_runner().invoke(args=["retention", "apply"])
    assert refused.exit_code == 1
    assert refused.output.startswith(f"Error: the database refused this to role '{roles.app}': ")
    assert "permission denied for table audit_" in refused.output  # checkpoints or events
    assert _count(roles, roles.app, "audit_events") == 3

    swept = maintained.test_cli_runner().invoke(args=["retention", "apply"])
    assert swept.exit_code == 0, swept.output
    # The three old events went; the pruning event stays and the chain still verifies.
    assert _count(roles, roles.app, "audit_events", "seq <= 3") == 0
    assert _count(roles, roles.app, "audit_checkpoints") == 1
    verify = application.test_cli_runner().invoke(args=["audit", "verify"])
    assert verify.exit_code == 0, verify.output
    assert "anchors: 2 verified" in verify.output
