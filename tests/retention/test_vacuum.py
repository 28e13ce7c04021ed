"""PostgreSQL: after a sweep or a rewrap the touched tables are vacuumed, so dead tuples (a slot
as it was before its rewrap, a destroyed case's rows) do not wait for autovacuum; a role that
does not own the tables gets a clear warning in the log, not a crash."""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from complaints import db
from complaints.logs import configure_logging
from tests.conftest import POSTGRES_ADMIN_URL, DatabaseFactory, make_settings

ONLY_BACKEND = "postgresql"
TABLES = ["key_slots", "notifications"]


@pytest.fixture
def database_url(databases: DatabaseFactory) -> str:
    url = databases.fresh_url()
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pgstattuple")
    engine.dispose()
    return url


def _dead_tuples(engine: sa.Engine, table: str) -> int:
    with engine.connect() as connection:
        count: int = connection.scalar(
            sa.text("SELECT dead_tuple_count FROM pgstattuple(CAST(:t AS regclass))"), {"t": table}
        )
    return count


def _make_dead_tuples(engine: sa.Engine) -> None:
    """Fifty slot rows inserted and deleted (without cases: the owner fixture turned the
    foreign key's triggers off for this table)."""
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO key_slots (case_id, kind, holder, key_id, wrapped_key, created_at) "
            "SELECT gen_random_uuid(), 'kek', 'store', 'kek-x', '\\x00', now() "
            "FROM generate_series(1, 50)"
        )
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM key_slots")


@pytest.fixture
def owner_engine(database_url: str) -> Iterator[sa.Engine]:
    engine = db.create_engine(database_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE key_slots DISABLE TRIGGER ALL")
    yield engine
    engine.dispose()


@pytest.fixture
def log_stream(database_url: str, tmp_path: Path) -> Iterator[io.StringIO]:
    """The application's log, as JSON lines."""
    configure_logging(make_settings(tmp_path, database_url, tmp_path / "keys"))
    root = logging.getLogger()
    ours = next(h for h in root.handlers if getattr(h, "_complaints_handler", False))
    stream = io.StringIO()
    capture = logging.StreamHandler(stream)
    capture.setFormatter(ours.formatter)
    root.addHandler(capture)
    try:
        yield stream
    finally:
        root.removeHandler(capture)


def test_the_owner_vacuums_the_dead_tuples_away(owner_engine: sa.Engine) -> None:
    _make_dead_tuples(owner_engine)
    # The control: the deleted rows are still in the table's pages.
    assert _dead_tuples(owner_engine, "key_slots") == 50
    report = db.compact_storage(owner_engine, TABLES)
    assert report.skipped == ()
    assert _dead_tuples(owner_engine, "key_slots") == 0


def test_a_role_that_does_not_own_the_tables_is_warned_about_not_crashed(
    owner_engine: sa.Engine, database_url: str, log_stream: io.StringIO
) -> None:
    _make_dead_tuples(owner_engine)
    role = f"complaints_app_{secrets.token_hex(4)}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = sa.engine.make_url(database_url).database
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        connection.exec_driver_sql(f'GRANT CONNECT ON DATABASE "{name}" TO {role}')
    try:
        app_role = db.create_engine(
            sa.engine.make_url(database_url).set(username=role).render_as_string(False)
        )
        try:
            report = db.compact_storage(app_role, TABLES)
        finally:
            app_role.dispose()
        assert report.skipped == tuple(TABLES)
        assert _dead_tuples(owner_engine, "key_slots") == 50, "nothing was vacuumed"
        logged = [json.loads(line) for line in log_stream.getvalue().splitlines() if "{" in line]
        assert any(
            entry.get("event") == "storage.vacuum_skipped"
            and entry.get("tables") == ",".join(TABLES)
            for entry in logged
        ), log_stream.getvalue()
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'REVOKE CONNECT ON DATABASE "{name}" FROM {role}')
            connection.exec_driver_sql(f"DROP ROLE {role}")
        admin.dispose()
