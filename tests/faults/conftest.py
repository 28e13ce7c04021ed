"""Fixtures for fault tests: a private PostgreSQL cluster that a test may stop, and a small
tmpfs that a test may fill.

The shared PostgreSQL of the suite is never stopped: a test that needs the database to go away
gets a cluster of its own, on a free loopback port, run by the ``postgres`` OS user.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from complaints import db, migrate

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
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
    """A PostgreSQL 15 cluster of one test session, which tests may stop and start."""

    directory: Path
    port: int

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


@pytest.fixture(scope="session")
def private_cluster() -> Iterator[PrivateCluster]:
    # Not under pytest's own temporary folder: that is private to root, and the server runs
    # as ``postgres``.
    directory = Path(tempfile.mkdtemp(prefix="complaints-faults-pg-"))
    cluster = PrivateCluster(directory, _free_port())
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
    )
    cluster.start()
    try:
        yield cluster
    finally:
        if cluster.is_running():
            cluster.stop("fast")
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class SmallDisk:
    """A tmpfs of a few megabytes; ``fill`` leaves only ``free`` bytes, ``make_room`` frees."""

    path: Path

    @property
    def ballast(self) -> Path:
        return self.path / "ballast"

    def fill(self, free: int) -> None:
        stat = os.statvfs(self.path)
        available = stat.f_bavail * stat.f_frsize
        with self.ballast.open("ab") as out:
            out.write(b"\0" * max(0, available - free))

    def make_room(self) -> None:
        self.ballast.unlink(missing_ok=True)

    def available(self) -> int:
        stat = os.statvfs(self.path)
        return stat.f_bavail * stat.f_frsize


@pytest.fixture
def small_disk() -> Iterator[SmallDisk]:
    """A really small file system (tmpfs, 24 MB), unmounted afterwards whatever happens.

    Mounted outside pytest's root-only temporary folder, so ``postgres`` can reach it."""
    path = Path(tempfile.mkdtemp(prefix="complaints-faults-disk-"))
    path.chmod(0o755)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m,mode=0777", "tmpfs", str(path)],
        check=True,
        capture_output=True,
    )
    try:
        yield SmallDisk(path)
    finally:
        for _attempt in range(50):
            result = subprocess.run(["umount", str(path)], capture_output=True, check=False)
            if result.returncode == 0:
                break
            time.sleep(0.1)
        else:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)
        path.rmdir()
