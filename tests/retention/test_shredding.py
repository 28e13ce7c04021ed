"""Crypto-shredding for real: a sweep killed with SIGKILL leaves every case whole or wholly gone,
and a backup taken before destruction cannot be read once the epoch key of its day is gone."""

from __future__ import annotations

import base64
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from complaints import db
from complaints.audit.services import Actor, verify_chain
from complaints.cases.models import Case, Route
from complaints.clock import now
from complaints.crypto.envelope import DecryptionFailed, FieldCipher, unseal
from complaints.crypto.keystore import (
    KeyStoreError,
    UnwrapFailed,
    WrappedKey,
    unwrap_with,
)
from complaints.crypto.models import KeySlot
from complaints.crypto.services import case_cipher, keystore
from complaints.directory.models import Person
from complaints.retention.models import LedgerAction, LedgerEntry
from complaints.retention.policy import retention_policy
from complaints.retention.sweep import SweepReport, apply
from complaints.workflow.config import workflow
from tests.conftest import ROOT, TEST_SECRET, Clock, app_session
from tests.factories import make_org, make_person
from tests.retention.conftest import Made, at, case_rows, make_finished_case

pytestmark = pytest.mark.committing

CLOSED = date(2026, 3, 12)
DUE = date(2028, 3, 12)  # confidant: two years after closing
CASES = 240
DESCRIPTION = "Er werd een racistische opmerking gemaakt."


def _handler(app: Flask, clock: Clock) -> Person:
    with app_session(app) as session:
        org = make_org(session, clock())
        return make_person(session, org.directorate, clock())


def _seed(app: Flask, handler: Person, count: int, *, route: Route = Route.CONFIDANT) -> list[Made]:
    made = []
    with app_session(app) as session:
        for number in range(count):
            made.append(
                make_finished_case(
                    session,
                    handler=handler,
                    filed_at=at(date(2026, 3, 2)),
                    closed_at=at(CLOSED),
                    route=route,
                    extras=number % 4 == 0,  # a quarter with every kind of record
                )
            )
    return made


def _database_url(app: Flask) -> str:
    engine: sa.Engine = app.extensions["complaints.db"].engine
    return engine.url.render_as_string(hide_password=False)


def _cli(app: Flask, keystore_path: Path, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPLAINTS_")}
    env.update(
        COMPLAINTS_ENV="testing",
        COMPLAINTS_SECRET_KEY=TEST_SECRET,
        COMPLAINTS_DATABASE_URL=_database_url(app),
        COMPLAINTS_KEYSTORE_PATH=str(keystore_path),
        COMPLAINTS_INSTANCE_PATH=str(tmp_path / "instance"),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "retention", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _ledger_rows(engine: sa.Engine) -> int:
    """Read without taking the write lock (the application's SQLite sessions begin IMMEDIATE),
    so the poll never holds up the sweep it watches."""
    with engine.connect() as connection:
        count = connection.scalar(
            sa.select(sa.func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.category == "case")
        )
    return count or 0


def _opens(app: Flask, case_id: uuid.UUID) -> bool:
    with app_session(app) as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert case.description is not None
        cipher = case_cipher(session, keystore(), case_id)
        return cipher.open_text("cases", "description", case_id, case.description) == DESCRIPTION


def test_a_killed_sweep_leaves_each_case_whole_or_gone_and_the_next_run_finishes(
    committed_app: Flask, clock: Clock, keystore_path: Path, tmp_path: Path
) -> None:
    app = committed_app
    made = _seed(app, _handler(app, clock), CASES)
    with app_session(app) as session:
        before = {m.id: case_rows(session, m.id) for m in made}

    sweep = _cli(
        app,
        keystore_path,
        tmp_path,
        "apply",
        "--as-of",
        DUE.isoformat(),
        "--allow-future",
        "--batch-size",
        "2",
    )
    watcher = sa.create_engine(_database_url(app))
    deadline = time.monotonic() + 120
    try:
        while _ledger_rows(watcher) < 6:
            assert sweep.poll() is None, sweep.communicate()[0]
            assert time.monotonic() < deadline, "the sweep wrote nothing"
            time.sleep(0.002)
    finally:
        os.killpg(sweep.pid, signal.SIGKILL)
        sweep.communicate(timeout=30)
        watcher.dispose()
    assert sweep.returncode == -signal.SIGKILL

    with app_session(app) as session:
        ledger = Counter(
            session.scalars(sa.select(LedgerEntry.subject).where(LedgerEntry.category == "case"))
        )
        after = {m.id: case_rows(session, m.id) for m in made}
    gone = [m for m in made if set(after[m.id].values()) == {0}]
    whole = [m for m in made if after[m.id] == before[m.id]]
    # Every case is one or the other, never half; the kill came halfway.
    assert len(gone) + len(whole) == CASES
    assert 6 <= len(gone) < CASES
    assert {m.reference for m in gone} == set(ledger)
    assert set(ledger.values()) == {1}
    assert all(_opens(app, m.id) for m in whole)

    rerun = _cli(
        app,
        keystore_path,
        tmp_path,
        "apply",
        "--as-of",
        DUE.isoformat(),
        "--allow-future",
        "--batch-size",
        "5",
    )
    output = rerun.communicate(timeout=300)[0]
    assert rerun.returncode == 0, output
    assert f"{len(whole)} case(s) destroyed" in output

    with app_session(app) as session:
        remaining = session.scalar(sa.select(sa.func.count()).select_from(Case))
        ledger = Counter(
            session.scalars(sa.select(LedgerEntry.subject).where(LedgerEntry.category == "case"))
        )
        chain = verify_chain(session, keystore())
    assert remaining == 0
    assert ledger == Counter({m.reference: 1 for m in made})
    assert chain.ok, chain.reason


# Backups ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackedUpCase:
    case_id: uuid.UUID
    key_id: str
    wrapped_key: bytes
    description: bytes


def _sweep(app: Flask, as_of: date) -> SweepReport:
    with app.app_context():
        report = apply(
            db.session(),
            retention_policy(),
            workflow(),
            keystore(),
            as_of=as_of,
            now=now(),
            actor=Actor.operator(),
            batch_size=7,
            commit=db.commit,
        )
        db.commit()
    return report


def _read_backup(url: str) -> list[BackedUpCase]:
    engine = db.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(KeySlot.case_id, KeySlot.key_id, KeySlot.wrapped_key, Case.description)
                .join(Case, Case.id == KeySlot.case_id)
                .order_by(Case.id)
            ).all()
    finally:
        engine.dispose()
    backed_up = []
    for case_id, key_id, wrapped_key, description in rows:
        assert description is not None
        backed_up.append(BackedUpCase(case_id, key_id, wrapped_key, description))
    return backed_up


def _backup(app: Flask, tmp_path: Path) -> list[BackedUpCase]:
    """SQLite: a copy of the database file. PostgreSQL: the rows a dump would hold."""
    url = _database_url(app)
    if url.startswith("sqlite"):
        copy = tmp_path / "backup.db"
        source = sqlite3.connect(url.removeprefix("sqlite:///"))
        target = sqlite3.connect(copy)
        with target:
            source.backup(target)
        source.close()
        target.close()
        return _read_backup(f"sqlite:///{copy}")
    return _read_backup(url)


def _key_files(keystore_path: Path) -> dict[str, bytes]:
    return {
        file.stem: base64.b64decode(file.read_bytes().strip())
        for file in sorted((keystore_path / "kek").glob("*.key"))
    }


def _readable(backup: list[BackedUpCase], keys: dict[str, bytes]) -> set[uuid.UUID]:
    """The backed-up cases whose description any of these keys opens, tried every way."""
    opened = set()
    for case in backup:
        context = f"key_slots:{case.case_id}".encode()
        for key_id, kek in keys.items():
            for claimed_id in {case.key_id, key_id}:
                try:
                    dek = unwrap_with(kek, claimed_id, case.wrapped_key, context)
                except UnwrapFailed:
                    continue
                text = FieldCipher(dek).open_text(
                    "cases", "description", case.case_id, case.description
                )
                assert text == DESCRIPTION
                opened.add(case.case_id)
            # The key files themselves as data keys, in case one was used directly.
            try:
                unseal(kek, case.description, f"cases.description:{case.case_id}".encode())
            except DecryptionFailed:
                pass
            else:
                opened.add(case.case_id)
    return opened


def test_a_backup_made_before_destruction_cannot_be_read_after_it(
    committed_app: Flask, clock: Clock, keystore_path: Path, tmp_path: Path
) -> None:
    app = committed_app
    handler = _handler(app, clock)
    due = _seed(app, handler, 6)
    later = _seed(app, handler, 2, route=Route.INTEGRITY)  # destroyed in 2031: stays readable

    # The daily sweep after closing places each case's key under its day's epoch key.
    report = _sweep(app, date(2026, 4, 1))
    assert report.rewrapped == 8
    assert report.cases_destroyed == 0
    backup = _backup(app, tmp_path)
    assert {c.key_id for c in backup} == {"epoch-2028-03-12", "epoch-2031-03-12"}

    # The control: before destruction, the keys in the store do open the backup.
    assert _readable(backup, _key_files(keystore_path)) == {c.case_id for c in backup}

    report = _sweep(app, date(2028, 3, 12))  # the day the cases fall due
    assert report.cases_destroyed == 6
    assert report.epoch_keys_destroyed == ["epoch-2028-03-12"]

    if _database_url(app).startswith("sqlite"):
        # Read the copied file again, now that the live database no longer has these rows.
        assert _read_backup(f"sqlite:///{tmp_path / 'backup.db'}") == backup
    remaining = _key_files(keystore_path)
    assert "epoch-2028-03-12" not in remaining
    assert remaining
    readable = _readable(backup, remaining)
    assert readable == {m.id for m in later}
    assert not readable & {m.id for m in due}
    # Nor through the key store.
    with app.app_context():
        for case in backup:
            if case.case_id in readable:
                continue
            with pytest.raises(KeyStoreError):
                keystore().unwrap(
                    WrappedKey(case.key_id, case.wrapped_key), f"key_slots:{case.case_id}".encode()
                )
    with app_session(app) as session:
        ledger = session.scalars(
            sa.select(LedgerEntry).where(LedgerEntry.action == LedgerAction.KEY_DESTROYED)
        ).all()
    assert [e.subject for e in ledger] == ["epoch-2028-03-12"]
