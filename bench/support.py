"""What every benchmark needs: a scratch database on the loopback PostgreSQL, migrated, and an
application with a key store of its own. The benchmarks import it as ``support`` (their folder
is first on the path when they run as scripts)."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from complaints import create_app, db, migrate  # noqa: E402
from complaints.crypto.keystore import LocalKeyStore  # noqa: E402
from complaints.settings import Settings  # noqa: E402

ADMIN_URL = os.environ.get(
    "COMPLAINTS_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@contextmanager
def scratch_database() -> Iterator[tuple[str, Path]]:
    """A new database (its URL) and a temporary folder, both gone afterwards."""
    admin_url = sa.engine.make_url(ADMIN_URL)
    if admin_url.host not in LOOPBACK:
        sys.exit(f"refusing a database that is not on this machine: {admin_url.host}")
    name = f"complaints_bench_{os.getpid()}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            yield url, Path(tmp)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def bench_app(url: str, tmp: Path, now: datetime) -> Flask:
    """Migrate the database, make a key store, and build the application on them."""
    engine = db.create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    LocalKeyStore.initialise(tmp / "keys", now)
    settings = Settings(
        env="testing",
        secret_key="bench-secret-" + "x" * 40,
        database_url=url,
        instance_path=tmp / "instance",
        keystore_path=tmp / "keys",
        log_level="WARNING",
        config_dir=ROOT / "config",
    )
    return create_app(settings)
