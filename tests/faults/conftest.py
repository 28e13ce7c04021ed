"""Fixtures for fault tests: a private PostgreSQL cluster that a test may stop, and a small
tmpfs that a test may fill.

The shared PostgreSQL of the suite is never stopped: a test that needs the database to go away
gets a cluster of its own, on a free loopback port, run by the ``postgres`` OS user.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.pgcluster import PrivateCluster, private_cluster_running

__all__ = ["PrivateCluster", "SmallDisk", "private_cluster", "small_disk"]


@pytest.fixture(scope="session")
def private_cluster() -> Iterator[PrivateCluster]:
    with private_cluster_running("complaints-faults-pg-") as cluster:
        yield cluster


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
