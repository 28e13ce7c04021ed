"""Storage hygiene: what is deleted does not stay in the SQLite files, and the files the
application makes (database, WAL, secret, key store) are its owner's only, in development too.

These run on their own SQLite files and subprocesses, whichever backend the run is for."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from complaints import db
from tests.conftest import ROOT

# Something no page would hold by chance: 4 KiB of a distinctive pattern.
MARKER = b"DESTROYED-CASE-SLOT-" + os.urandom(12).hex().encode()
BLOB = (MARKER * (4096 // len(MARKER) + 1))[:4096]


def _raw_bytes(database: Path) -> bytes:
    """Every byte an attacker with a copy of the live files gets: database, WAL, shm."""
    return b"".join(
        Path(f"{database}{suffix}").read_bytes()
        for suffix in ("", "-wal", "-shm")
        if Path(f"{database}{suffix}").exists()
    )


def _insert_then_delete(execute: Callable[..., Any], commit: Callable[[], Any]) -> None:
    execute("CREATE TABLE slots (id INTEGER PRIMARY KEY, wrapped BLOB)")
    execute("INSERT INTO slots (wrapped) VALUES (?)", (BLOB,))
    execute("INSERT INTO slots (wrapped) VALUES (?)", (b"kept" * 100,))
    commit()
    # A checkpoint in between, as SQLite does by itself: the row reaches the database file.
    execute("PRAGMA wal_checkpoint(TRUNCATE)")
    execute("DELETE FROM slots WHERE id = 1")
    commit()


def test_a_deleted_row_is_gone_from_every_live_file_after_the_sweeps_compaction(
    tmp_path: Path,
) -> None:
    path = tmp_path / "live.db"
    engine = db.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            raw = connection.connection.driver_connection
            assert raw is not None
            assert raw.execute("PRAGMA secure_delete").fetchone() == (1,)
            _insert_then_delete(raw.execute, raw.commit)
            # Before the compaction the WAL still has the page as it was.
            assert MARKER in _raw_bytes(path)
        report = db.compact_storage(engine, ["slots"])
        assert not report.busy
        assert MARKER not in _raw_bytes(path)
        assert Path(f"{path}-wal").stat().st_size == 0
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM slots").scalar() == 1
    finally:
        engine.dispose()


def test_control_without_secure_delete_the_freed_page_keeps_the_row(tmp_path: Path) -> None:
    """The weakened set-up: the same steps and checkpoint, secure_delete off. The scan finds
    the deleted row, so the test above would see it too if it were there."""
    path = tmp_path / "weak.db"
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA secure_delete=OFF")
        _insert_then_delete(connection.execute, lambda: None)
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    assert MARKER in _raw_bytes(path)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _flask(instance: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPLAINTS_")}
    env.update(COMPLAINTS_ENV="development", COMPLAINTS_INSTANCE_PATH=str(instance))
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        # The most permissive umask an operator's shell is likely to have.
        preexec_fn=lambda: os.umask(0o022),
        check=False,
    )


def test_instance_files_and_key_files_are_owner_only_and_init_does_not_warn(
    tmp_path: Path,
) -> None:
    instance = tmp_path / "instance"
    upgraded = _flask(instance, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    created = _flask(instance, "keys", "init")
    assert created.returncode == 0, created.stderr
    assert "keystore.unavailable" not in created.stderr + created.stdout
    assert "missing" not in created.stderr

    assert _mode(instance) == 0o700
    for name in ("complaints.db", "secret_key"):
        assert _mode(instance / name) == 0o600, name
    for suffix in ("-wal", "-shm"):
        if (instance / f"complaints.db{suffix}").exists():
            assert _mode(instance / f"complaints.db{suffix}") == 0o600
    keys = instance / "keys"
    assert {_mode(p) for p in [keys, *keys.rglob("*")] if p.is_dir()} == {0o700}
    files = [p for p in keys.rglob("*") if p.is_file()]
    assert files
    assert {_mode(p) for p in files} == {0o600}

    # The control: the same umask gives a readable file to anything that does not set its own.
    probe = subprocess.run(
        [sys.executable, "-c", f"open({str(tmp_path / 'probe')!r}, 'w').close()"],
        preexec_fn=lambda: os.umask(0o022),
        check=True,
    )
    assert probe.returncode == 0
    assert _mode(tmp_path / "probe") == 0o644


def test_a_damaged_key_store_still_warns_at_start(tmp_path: Path) -> None:
    """Only a store that does not exist yet is quiet: a broken one is worth a warning."""
    instance = tmp_path / "instance"
    assert _flask(instance, "db", "upgrade").returncode == 0
    assert _flask(instance, "keys", "init").returncode == 0
    (instance / "keys" / "keystore.json").write_text("{not json")
    status = _flask(instance, "keys", "status")
    assert status.returncode != 0
    assert "keystore.unavailable" in status.stderr + status.stdout


def test_an_existing_database_file_is_made_owner_only(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    database = instance / "complaints.db"
    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x)")
    engine.dispose()
    database.chmod(0o644)
    result = _flask(instance, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert _mode(database) == 0o600


def _backup(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    keys = tmp_path / "keys"
    keys.mkdir(exist_ok=True)
    (keys / "keystore.json").write_text("{}")
    return subprocess.run(
        ["sh", str(ROOT / "deploy" / "backup.sh"), "keys"],
        env={
            "PATH": os.environ["PATH"],
            "BACKUP_DIR": str(tmp_path / "backups"),
            "COMPLAINTS_KEYSTORE_PATH": str(keys),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_backups_are_kept_exactly_the_backup_retention_and_never_longer(tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    day = 24 * 3600
    now = time.time()
    within = backups / "keys-within.tar"
    beyond = backups / "keys-beyond.tar"
    for file, age in ((within, 35 * day - 120), (beyond, 35 * day + 120)):
        file.write_bytes(b"old")
        os.utime(file, (now - age, now - age))
    result = _backup(tmp_path, COMPLAINTS_BACKUP_RETENTION_DAYS="35")
    assert result.returncode == 0, result.stderr
    assert within.exists()
    assert not beyond.exists(), "older than the horizon: it could not be restored anyway"
    assert len(list(backups.glob("keys-*.tar"))) == 2  # the new one and the one within

    longer = _backup(tmp_path, COMPLAINTS_BACKUP_RETENTION_DAYS="35", KEEP_DAYS="60")
    assert longer.returncode == 2
    assert "cannot be restored" in longer.stderr
