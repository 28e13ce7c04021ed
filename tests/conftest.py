"""Test fixtures. The suite runs against one database backend per run: ``--db sqlite`` (the
default) or ``--db postgresql``. The schema always comes from the Alembic migrations.

Most tests run inside one outer transaction that is rolled back at the end (the application's
commits become savepoints). Tests that need data to really reach the database (the raw-file
check, CLI subprocesses, the browser) take ``committed_app`` and get a database of their own.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from complaints import create_app, db, migrate
from complaints.clock import set_clock
from complaints.crypto.keystore import LocalKeyStore
from complaints.settings import Settings

POSTGRES_ADMIN_URL = os.environ.get(
    "COMPLAINTS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TEST_SECRET = "test-secret-" + "x" * 40
ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=["sqlite", "postgresql"],
        default=os.environ.get("COMPLAINTS_TEST_DB", "sqlite"),
        help="database backend for this run",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test module that sets ``ONLY_BACKEND`` is not collected on the other backend's run:
    deselected, not skipped, so CI never shows a skip for it."""
    backend = config.getoption("--db")
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        only = getattr(getattr(item, "module", None), "ONLY_BACKEND", None)
        (dropped if only is not None and only != backend else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_report_header(config: pytest.Config) -> str:
    return f"complaints database backend: {config.getoption('--db')}"


# Databases ---------------------------------------------------------------------------------


@dataclass
class DatabaseFactory:
    """Makes migrated databases: one template per run, cheap copies for tests that commit."""

    backend: str
    root: Path
    _template_url: str | None = None
    _made: list[str] | None = None

    def template_url(self) -> str:
        if self._template_url is None:
            self._made = []
            self._template_url = self._create("template", template=None)
            engine = db.create_engine(self._template_url)
            migrate.upgrade(engine)
            engine.dispose()
        return self._template_url

    def fresh_url(self) -> str:
        """A new database with the full schema and no rows."""
        template = self.template_url()
        return self._create(f"t{uuid.uuid4().hex[:12]}", template=template)

    def _create(self, name: str, template: str | None) -> str:
        if self.backend == "sqlite":
            path = self.root / f"{name}.db"
            if template is not None:
                shutil.copyfile(template.removeprefix("sqlite:///"), path)
            return f"sqlite:///{path}"
        db_name = f"complaints_test_{os.getpid()}_{name}"
        admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            clause = ""
            if template is not None:
                clause = f" TEMPLATE {sa.engine.make_url(template).database}"
            connection.exec_driver_sql(f'CREATE DATABASE "{db_name}"{clause}')
        admin.dispose()
        assert self._made is not None
        self._made.append(db_name)
        return str(
            sa.engine.make_url(POSTGRES_ADMIN_URL)
            .set(database=db_name)
            .render_as_string(hide_password=False)
        )

    def drop_all(self) -> None:
        if self.backend != "postgresql" or not self._made:
            return
        admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for name in reversed(self._made):
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def backend(pytestconfig: pytest.Config) -> str:
    choice: str = pytestconfig.getoption("--db")
    return choice


@pytest.fixture(scope="session")
def databases(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    if backend == "postgresql":
        # No skipping: a PostgreSQL run without PostgreSQL is a failed run.
        probe = sa.create_engine(POSTGRES_ADMIN_URL)
        with probe.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        probe.dispose()
    factory = DatabaseFactory(backend, tmp_path_factory.mktemp("databases"))
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session")
def shared_engine(databases: DatabaseFactory) -> Iterator[sa.Engine]:
    engine = db.create_engine(databases.fresh_url())
    yield engine
    engine.dispose()


# Key stores ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def keystore_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keystore-template") / "keys"
    LocalKeyStore.initialise(path, START)
    return path


@pytest.fixture
def keystore_path(keystore_template: Path, tmp_path: Path) -> Path:
    """A private copy of a ready key store, so a test may rotate or break it freely."""
    path = tmp_path / "keys"
    shutil.copytree(keystore_template, path)
    return path


# Applications --------------------------------------------------------------------------------


def make_settings(
    tmp_path: Path, database_url: str, keystore_path: Path, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "env": "testing",
        "secret_key": TEST_SECRET,
        "database_url": database_url,
        "instance_path": tmp_path / "instance",
        "keystore_path": keystore_path,
        # Cheap hashing keeps the suite fast; production refuses settings this low.
        "argon2_memory_kib": 64,
        "argon2_time_cost": 1,
        "log_format": "json",
        "config_dir": ROOT / "config",
        # Statistics count a new event at once (tests/stats checks the lag separately).
        "stats_cache_seconds": 0,
        **overrides,
    }
    return Settings(**values)


class Clock:
    """A settable clock for the application under test."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        from datetime import timedelta

        self.current += timedelta(**delta)
        return self.current


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change settings for the ``app`` fixture."""
    return {}


@pytest.fixture
def app(
    shared_engine: sa.Engine,
    tmp_path: Path,
    keystore_path: Path,
    clock: Clock,
    settings_overrides: dict[str, Any],
) -> Iterator[Flask]:
    """The application, with every commit inside one transaction rolled back afterwards."""
    settings = make_settings(
        tmp_path,
        shared_engine.url.render_as_string(hide_password=False),
        keystore_path,
        **settings_overrides,
    )
    application = create_app(settings)
    set_clock(application, clock)
    connection = shared_engine.connect()
    outer = connection.begin()
    application.extensions["complaints.db"].bind_to(connection)
    application.extensions["complaints.db"].engine.dispose()
    try:
        yield application
    finally:
        outer.rollback()
        connection.close()


@pytest.fixture
def committed_app(
    databases: DatabaseFactory, tmp_path: Path, keystore_path: Path, clock: Clock
) -> Iterator[Flask]:
    """The application on a database of its own, where commits are real."""
    settings = make_settings(tmp_path, databases.fresh_url(), keystore_path)
    application = create_app(settings)
    set_clock(application, clock)
    yield application
    application.extensions["complaints.db"].engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@contextmanager
def app_session(application: Flask) -> Iterator[sa.orm.Session]:
    """An application context and its session for test set-up; commits when the block ends.

    Keep requests out of the block: a request made inside it would share the context.
    """
    with application.app_context():
        yield db.session()
        db.commit()


@pytest.fixture
def random_text() -> Callable[[str], str]:
    def make(prefix: str) -> str:
        return f"{prefix}-{secrets.token_hex(6)}"

    return make


@pytest.fixture
def log_output(app: Flask) -> Iterator[io.StringIO]:
    """Everything logged during the test, rendered exactly as the application renders it."""
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
