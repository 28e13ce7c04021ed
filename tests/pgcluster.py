"""A private PostgreSQL cluster: for tests that stop the server, fill its disk or copy its data
directory at file level, none of which may happen to the suite's shared PostgreSQL.

The cluster runs on a free loopback port as the ``postgres`` OS user (initdb and the server
refuse root), in a directory outside pytest's root-only temporary folder.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from complaints import db, migrate

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def as_postgres(*command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a command as the ``postgres`` OS user (initdb and the server refuse root)."""
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *command],
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
    )


@dataclass
class PrivateCluster:
    """A PostgreSQL 15 cluster of its own, which a test may stop, start and copy."""

    directory: Path
    port: int
    # Extra ``-c name=value`` server settings, e.g. to archive WAL.
    server_settings: Sequence[str] = ()

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def sockets(self) -> Path:
        return self.directory / "sockets"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        for setting in self.server_settings:
            options += f" -c {setting}"
        as_postgres(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.directory / "server.log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server for real: ``immediate`` kills every backend without a checkpoint,
        as a crash or a pulled plug would."""
        as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def is_running(self) -> bool:
        result = subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "status",
            ],
            capture_output=True,
            check=False,
        )
        return result.returncode == 0

    def create_database(self, name: str) -> str:
        """A new database with the schema from the migrations; its URL."""
        admin = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        url = self.url(name)
        engine = db.create_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        return url


@contextmanager
def private_cluster_running(
    prefix: str,
    *,
    initdb_options: Sequence[str] = (),
    server_settings: Sequence[str] = (),
) -> Iterator[PrivateCluster]:
    """A new cluster, started; stopped and removed afterwards whatever happens."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    cluster = PrivateCluster(directory, free_port(), tuple(server_settings))
    cluster.sockets.mkdir()
    shutil.chown(directory, "postgres", "postgres")
    shutil.chown(cluster.sockets, "postgres", "postgres")
    as_postgres(
        str(PG_BIN / "initdb"),
        "-D",
        str(cluster.data),
        "-U",
        "postgres",
        "--auth=trust",
        "--no-sync",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
        *initdb_options,
    )
    cluster.start()
    try:
        yield cluster
    finally:
        if cluster.is_running():
            cluster.stop("fast")
        shutil.rmtree(directory, ignore_errors=True)
