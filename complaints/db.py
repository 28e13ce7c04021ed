"""Database wiring: declarative base, UTC timestamps, and one session per request.

Services receive the session and ``flush()``; only the request boundary (or a CLI command)
commits. Work that must happen only once data is durable — sending e-mail, for instance — is
registered with :func:`after_commit` and runs right after the commit succeeds.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlalchemy import Connection, Engine, MetaData, event
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from complaints.logs import get_logger

log = get_logger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# 64-bit ids on PostgreSQL; SQLite only auto-increments a column declared INTEGER PRIMARY KEY.
BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python, ``timestamptz`` on PostgreSQL, naive UTC text on SQLite.

    Naive datetimes are refused: a timestamp without a zone is a bug waiting for a DST change.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UTCDateTime(),
        uuid.UUID: sa.Uuid(),
        # Enums are stored by value, as plain strings, so adding a member needs no type change.
        enum.Enum: sa.Enum(
            enum.Enum,
            native_enum=False,
            length=40,
            values_callable=lambda members: [member.value for member in members],
            validate_strings=True,
        ),
    }


def _configure_sqlite(engine: Engine) -> None:
    """Make SQLite behave like a database: foreign keys, WAL, and real transactions.

    pysqlite's own transaction handling does not emit BEGIN before reads and breaks SAVEPOINT;
    this is SQLAlchemy's documented recipe. ``BEGIN IMMEDIATE`` takes the write lock up front,
    so two writers queue instead of one failing halfway with "database is locked".
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # Deleted and overwritten content is zeroed in the file, not left in a freed page
        # where a copy of the file would keep a destroyed case's key slot.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@dataclass(frozen=True)
class CompactionReport:
    """What :func:`compact_storage` could clean; ``skipped`` names tables PostgreSQL refused."""

    dialect: str
    tables: tuple[str, ...]
    skipped: tuple[str, ...] = ()
    busy: bool = False  # SQLite: a reader kept the WAL from being truncated entirely


def compact_storage(engine: Engine, tables: Sequence[str]) -> CompactionReport:
    """Clear what deletions and rewraps left behind in the live files, after they committed.

    SQLite (``secure_delete`` already zeroes freed space in the database file): checkpoint
    the WAL into the file and truncate it, so the old page images are gone from the WAL too.
    PostgreSQL: VACUUM the tables, so dead tuples (a slot as it was before its rewrap, a
    deleted case) are reclaimed instead of waiting for autovacuum. VACUUM needs the table's
    owner; for any other role PostgreSQL warns and skips, which is logged, never fatal.
    """
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            # On the driver's connection: a checkpoint inside the BEGIN IMMEDIATE that
            # SQLAlchemy would open first fails with "database table is locked".
            raw: Any = connection.connection.driver_connection
            busy, _log, _moved = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            log.warning("storage.checkpoint_busy")
        return CompactionReport("sqlite", tuple(tables), busy=bool(busy))
    if engine.dialect.name != "postgresql":
        return CompactionReport(engine.dialect.name, ())
    skipped: list[str] = []
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        driver: Any = connection.connection.driver_connection
        notices: list[str] = []

        def collect(diagnostic: Any) -> None:
            notices.append(str(diagnostic.message_primary or ""))

        driver.add_notice_handler(collect)
        try:
            for table in tables:
                notices.clear()
                connection.exec_driver_sql(f'VACUUM "{table}"')
                if any("skipping" in notice for notice in notices):
                    skipped.append(table)
        finally:
            driver.remove_notice_handler(collect)
    if skipped:
        log.warning(
            "storage.vacuum_skipped",
            tables=",".join(skipped),
            reason="the database role does not own these tables; run the maintenance role",
        )
    return CompactionReport("postgresql", tuple(tables), tuple(skipped))


def create_engine(url: str) -> Engine:
    """An engine for ``url`` with the per-dialect settings this application relies on.

    ``hide_parameters`` keeps bound values (names from the directory, ciphertext) out of
    exception messages, which end up in logs.
    """
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, hide_parameters=True)
        _configure_sqlite(engine)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, hide_parameters=True)


class Database:
    """Owns the engine and hands out sessions; tests can bind it to one open connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessionmaker: sessionmaker[Session] = sessionmaker(
            bind=engine, expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def bind_to(self, connection: Connection) -> None:
        """Run every session inside ``connection``'s transaction, as savepoints (tests)."""
        self._sessionmaker = sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )

    def new_session(self) -> Session:
        return self._sessionmaker()

    def schema_revision(self) -> str | None:
        """The migration the database is at; raises if the database cannot be reached."""
        with self.new_session() as session:
            revision: str | None = session.scalar(
                sa.text("SELECT version_num FROM alembic_version")
            )
            return revision


def database() -> Database:
    db: Database = current_app.extensions["complaints.db"]
    return db


def session() -> Session:
    """The session of the current request or CLI command."""
    if "db_session" not in g:
        g.db_session = database().new_session()
    db_session: Session = g.db_session
    return db_session


AFTER_COMMIT = "complaints.after_commit"


def after_commit(db_session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once ``db_session``'s current unit of work has been committed.

    Services use this for side effects that must not happen for work that is rolled back
    (sending e-mail). It needs no request: the callbacks live on the session.
    """
    db_session.info.setdefault(AFTER_COMMIT, []).append(callback)


def commit() -> None:
    """Commit the current unit of work, then run what waited for it."""
    if "db_session" not in g:
        return
    db_session: Session = g.db_session
    db_session.commit()
    callbacks: list[Callable[[], None]] = db_session.info.pop(AFTER_COMMIT, [])
    for callback in callbacks:
        callback()


def rollback() -> None:
    if "db_session" in g:
        g.db_session.rollback()
        g.db_session.info.pop(AFTER_COMMIT, None)


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """Commit on success, roll back on error: for CLI commands and batch jobs."""
    try:
        yield session()
        commit()
    except BaseException:
        rollback()
        raise


def _close_session(_exc: BaseException | None) -> None:
    db_session: Session | None = g.pop("db_session", None)
    if db_session is not None:
        db_session.info.pop(AFTER_COMMIT, None)
        db_session.rollback()
        db_session.close()


def init_app(app: Flask, db: Database) -> None:
    app.extensions["complaints.db"] = db
    app.teardown_appcontext(_close_session)


def among_ids(session: Session, column: Any, ids: list[uuid.UUID]) -> Any:
    """``column IN ids`` for a batch of UUIDs. On PostgreSQL one array parameter instead of one
    per id, so a batch's statement is parsed once, not once per batch size."""
    if session.get_bind().dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, ids, type_=postgresql.ARRAY(sa.Uuid())))
    return column.in_(ids)
