"""``keys maintain``: the active key is rotated on its day, a retired key is destroyed once the
backup horizon has passed since its last slot left it, a key still in use never is, and a run
killed with SIGKILL is finished by the next."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from click.testing import Result
from flask import Flask

from complaints import db
from complaints.audit.models import AuditEvent
from complaints.audit.services import Actor, verify_chain
from complaints.crypto.keystore import KekStatus, KeyStore, UnknownKey, WrappedKey
from complaints.crypto.lifecycle import MaintenanceReport, key_lifecycle, maintain_keys
from complaints.crypto.models import KeySlot
from complaints.crypto.services import case_cipher, keystore, rewrap_cases
from complaints.retention.ledger import KEK_RULE, KEY_CATEGORY, write_entry
from complaints.retention.models import LedgerAction, LedgerEntry
from tests.conftest import ROOT, TEST_SECRET, Clock, app_session
from tests.factories import make_case, make_org, make_person

ROTATION = 30
RETENTION = 35
DESCRIPTION = "Beschrijving die niemand mag teruglezen"


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 4, tzinfo=UTC)


START_DAY = date(2026, 3, 2)  # the day the test key store's active key was made


def _cases(app: Flask, clock: Clock, count: int) -> list[uuid.UUID]:
    with app_session(app) as session:
        org = make_org(session, clock(), code=f"M{uuid.uuid4().hex[:6]}")
        handler = make_person(session, org.directorate, clock())
        return [
            make_case(session, clock(), handler=handler, description=DESCRIPTION).id
            for _ in range(count)
        ]


def _maintain(app: Flask, day: date, *, batch_size: int = 100) -> MaintenanceReport:
    with app.app_context():
        return maintain_keys(
            db.session(),
            keystore(),
            as_of=_at(day),
            now=datetime.now(UTC),
            actor=Actor.operator(),
            rotation_days=ROTATION,
            backup_retention_days=RETENTION,
            batch_size=batch_size,
            commit=db.commit,
        )


def _slots(app: Flask) -> dict[uuid.UUID, tuple[str, bytes]]:
    with app_session(app) as session:
        return {
            row.case_id: (row.key_id, row.wrapped_key)
            for row in session.execute(
                sa.select(KeySlot.case_id, KeySlot.key_id, KeySlot.wrapped_key)
            )
        }


def _opens(keys: KeyStore, case_id: uuid.UUID, slot: tuple[str, bytes]) -> bool:
    """Whether the key store as it is now opens a slot as a copy of the database held it."""
    try:
        keys.unwrap(WrappedKey(*slot), f"key_slots:{case_id}".encode())
    except UnknownKey:
        return False
    return True


def _statuses(app: Flask) -> dict[str, KekStatus]:
    with app.app_context():
        return {info.key_id: info.status for info in keystore().keks()}


def _ledger(app: Flask) -> list[tuple[str | None, str, dict[str, int]]]:
    with app_session(app) as session:
        return [
            (e.subject, e.rule, e.records)
            for e in session.scalars(
                sa.select(LedgerEntry).where(LedgerEntry.action == LedgerAction.KEY_DESTROYED)
            )
        ]


def test_the_active_key_is_rotated_on_its_day_and_not_before(app: Flask, clock: Clock) -> None:
    cases = _cases(app, clock, 3)
    with app.app_context():
        first = keystore().active_kek_id()
    early = _maintain(app, START_DAY + timedelta(days=ROTATION - 1))
    assert (early.rotated_to, early.rewrapped) == (None, 0)
    assert {key for key, _ in _slots(app).values()} == {first}

    report = _maintain(app, START_DAY + timedelta(days=ROTATION))
    assert report.rotated_to is not None
    assert report.rewrapped == 3
    assert report.retired == [first]
    assert {key for key, _ in _slots(app).values()} == {report.rotated_to}
    with app_session(app) as session:
        for case_id in cases:
            case_cipher(session, keystore(), case_id)  # every case still opens
        item = {
            i.key_id: i
            for i in key_lifecycle(
                session,
                keystore(),
                as_of=START_DAY,
                rotation_days=ROTATION,
                backup_retention_days=RETENTION,
            )
        }
    rotated_on = START_DAY + timedelta(days=ROTATION)
    assert item[first].status is KekStatus.RETIRED
    assert item[first].released_at is not None
    assert item[first].destroyed_on == rotated_on + timedelta(days=RETENTION)
    assert item[report.rotated_to].rotates_on == rotated_on + timedelta(days=ROTATION)

    again = _maintain(app, rotated_on)
    assert (again.rotated_to, again.rewrapped, again.destroyed) == (None, 0, [])


def test_a_retired_key_is_destroyed_once_the_backup_horizon_has_passed(
    app: Flask, clock: Clock
) -> None:
    cases = _cases(app, clock, 2)
    backup = _slots(app)  # a copy of the database made before the rotation
    with app.app_context():
        first = keystore().active_kek_id()
    rotated_on = START_DAY + timedelta(days=ROTATION)
    _maintain(app, rotated_on)

    # The control: until the horizon the old copy opens with the key store as it is.
    day_before = _maintain(app, rotated_on + timedelta(days=RETENTION - 1))
    assert day_before.destroyed == []
    with app.app_context():
        assert all(_opens(keystore(), c, backup[c]) for c in cases)

    report = _maintain(app, rotated_on + timedelta(days=RETENTION))
    assert report.destroyed == [first]
    assert report.ok
    assert _statuses(app)[first] is KekStatus.DESTROYED
    with app.app_context():
        assert not any(_opens(keystore(), c, backup[c]) for c in cases)
    # The live database is not touched: every case opens under the current key.
    with app.app_context():
        assert all(_opens(keystore(), c, slot) for c, slot in _slots(app).items())
    assert _ledger(app) == [(first, KEK_RULE, {"keks": 1})]
    with app_session(app) as session:
        destroyed_events = session.scalars(
            sa.select(AuditEvent.object_id).where(AuditEvent.action == "keys.kek_destroyed")
        ).all()
        assert verify_chain(session, keystore()).ok
    assert destroyed_events == [first]

    # Idempotent: nothing more to do, no second ledger row.
    assert _maintain(app, rotated_on + timedelta(days=RETENTION + 1)).destroyed == []
    assert len(_ledger(app)) == 1


def test_slots_that_come_back_under_a_retired_key_start_its_horizon_again(
    app: Flask, clock: Clock
) -> None:
    cases = _cases(app, clock, 1)
    backup = _slots(app)
    with app.app_context():
        first = keystore().active_kek_id()
    rotated_on = START_DAY + timedelta(days=ROTATION)
    _maintain(app, rotated_on)
    # A backup from before the rotation is restored: its slot is under the retired key again.
    key_id, blob = backup[cases[0]]
    with app_session(app) as session:
        session.execute(
            sa.update(KeySlot).where(KeySlot.case_id == cases[0]).values(wrapped_key=blob)
        )
        session.execute(sa.update(KeySlot).where(KeySlot.case_id == cases[0]).values(key_id=key_id))
    restored_on = rotated_on + timedelta(days=20)
    report = _maintain(app, restored_on)
    assert report.rewrapped == 1
    assert first in report.released
    # Not on the old day: copies of the restored database made since hold the slot under it.
    assert _maintain(app, rotated_on + timedelta(days=RETENTION)).destroyed == []
    assert _maintain(app, restored_on + timedelta(days=RETENTION)).destroyed == [first]


def test_a_key_due_for_destruction_that_a_slot_uses_is_kept_and_the_slots_named(
    committed_app: Flask, clock: Clock
) -> None:
    app = committed_app
    cases = _cases(app, clock, 3)
    # A case under the epoch key of a day long over (its sweep never ran, or a backup was
    # restored): the key is due, but destroying it would destroy a case that is still there.
    with app_session(app) as session:
        keys = keystore()
        epoch = keys.epoch_kek(date(2026, 1, 31), clock())
        rewrap_cases(session, keys, {cases[0]: epoch}, clock())
    result = _invoke(app, "keys", "maintain", "--as-of", "2026-03-02")
    assert result.exit_code == 1, result.output
    assert f"NOT destroyed: {epoch}" in result.output
    assert str(cases[0]) in result.output
    assert str(cases[1]) not in result.output
    assert "still in use" in result.output
    assert _statuses(app)[epoch] is KekStatus.EPOCH
    with app_session(app) as session:
        case_cipher(session, keystore(), cases[0])
    assert _ledger(app) == []

    # Once the case has gone the key goes, on the next run.
    with app_session(app) as session:
        session.execute(sa.delete(KeySlot).where(KeySlot.case_id == cases[0]))
    result = _invoke(app, "keys", "maintain", "--as-of", "2026-03-02")
    assert result.exit_code == 0, result.output
    assert f"destroyed: {epoch}" in result.output
    assert _statuses(app)[epoch] is KekStatus.DESTROYED


def test_a_destruction_already_in_the_ledger_is_finished_without_a_second_row(
    app: Flask, clock: Clock
) -> None:
    """The state a kill leaves between committing the ledger row and destroying the key."""
    _cases(app, clock, 1)
    with app.app_context():
        first = keystore().active_kek_id()
    rotated_on = START_DAY + timedelta(days=ROTATION)
    _maintain(app, rotated_on)
    horizon = rotated_on + timedelta(days=RETENTION)
    with app_session(app) as session:
        write_entry(
            session,
            now=clock(),
            as_of=horizon,
            category=KEY_CATEGORY,
            subject=first,
            rule=KEK_RULE,
            action=LedgerAction.KEY_DESTROYED,
            records={"keks": 1},
        )
    assert _statuses(app)[first] is KekStatus.RETIRED
    assert _maintain(app, horizon).destroyed == [first]
    assert _statuses(app)[first] is KekStatus.DESTROYED
    assert len(_ledger(app)) == 1


def test_a_key_made_by_a_run_killed_before_its_audit_event_is_audited_by_the_next(
    app: Flask, clock: Clock
) -> None:
    _cases(app, clock, 1)
    with app.app_context():
        made = keystore().create_kek(_at(START_DAY))  # the key, and then the kill
    _maintain(app, START_DAY)
    with app_session(app) as session:
        events = session.scalars(
            sa.select(AuditEvent).where(
                AuditEvent.action == "keys.kek_created", AuditEvent.object_id == made
            )
        ).all()
    assert [e.details for e in events] == [{"recorded_late": True}]
    _maintain(app, START_DAY)
    with app_session(app) as session:
        again = session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "keys.kek_created", AuditEvent.object_id == made)
        )
    assert again == 1


# The command ----------------------------------------------------------------------------------


def _invoke(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=list(args))


def test_maintain_refuses_a_future_day_without_allow_future(committed_app: Flask) -> None:
    result = _invoke(committed_app, "keys", "maintain", "--as-of", "2099-01-01")
    assert result.exit_code == 1
    assert "later than today" in result.output
    assert len(_statuses(committed_app)) == 1, "nothing rotated"
    allowed = _invoke(committed_app, "keys", "maintain", "--as-of", "2099-01-01", "--allow-future")
    assert allowed.exit_code == 0, allowed.output
    assert "rotated: new active key" in allowed.output


def test_status_shows_when_each_key_ends(committed_app: Flask, clock: Clock) -> None:
    app = committed_app
    _cases(app, clock, 2)
    with app.app_context():
        first = keystore().active_kek_id()
    result = _invoke(app, "keys", "maintain", "--as-of", "2026-04-01", "--allow-future")
    assert result.exit_code == 0, result.output
    with app_session(app) as session:
        epoch = keystore().epoch_kek(date(2026, 5, 20), clock())
        case_id = session.scalars(sa.select(KeySlot.case_id)).first()
        assert case_id is not None
        rewrap_cases(session, keystore(), {case_id: epoch}, clock())
    status = _invoke(app, "keys", "status")
    assert status.exit_code == 0, status.output
    rows = {line.split()[0]: line for line in status.output.splitlines()[2:]}
    active = next(key for key in rows if key not in (first, epoch))
    assert "rotates 2026-05-01" in rows[active]
    # Retired on 1 April: destroyed 35 days later.
    assert "destroy 2026-05-06" in rows[first]
    # With its cases, on its day: the sweep of 20 May destroys them and then the key.
    assert "destroy 2026-05-20" in rows[epoch]


# A real kill --------------------------------------------------------------------------------


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
        COMPLAINTS_KEK_ROTATION_DAYS=str(ROTATION),
        COMPLAINTS_BACKUP_RETENTION_DAYS=str(RETENTION),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "keys", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def test_a_killed_maintenance_run_loses_no_case_and_the_next_run_finishes(
    committed_app: Flask, clock: Clock, keystore_path: Path, tmp_path: Path
) -> None:
    app = committed_app
    cases = _cases(app, clock, 150)
    with app.app_context():
        first = keystore().active_kek_id()
    rotated_on = START_DAY + timedelta(days=ROTATION)
    run = _cli(
        app,
        keystore_path,
        tmp_path,
        "maintain",
        "--as-of",
        rotated_on.isoformat(),
        "--allow-future",
        "--batch-size",
        "1",
    )
    watcher = sa.create_engine(_database_url(app))
    deadline = time.monotonic() + 120
    try:
        while True:
            with watcher.connect() as connection:
                moved = connection.scalar(
                    sa.select(sa.func.count()).select_from(KeySlot).where(KeySlot.key_id != first)
                )
            if moved and moved >= 10:
                break
            assert run.poll() is None, run.communicate()[0]
            assert time.monotonic() < deadline, "the run rewrapped nothing"
            time.sleep(0.002)
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.communicate(timeout=30)
        watcher.dispose()
    assert run.returncode == -signal.SIGKILL

    slots = _slots(app)
    assert len({key for key, _ in slots.values()}) == 2, "killed halfway through the rewrap"
    with app_session(app) as session:
        for case_id in cases:
            case_cipher(session, keystore(), case_id)

    rerun = _cli(app, keystore_path, tmp_path, "maintain", "--as-of", rotated_on.isoformat(),
                 "--allow-future")  # fmt: skip
    output = rerun.communicate(timeout=300)[0]
    assert rerun.returncode == 0, output
    assert "rotated" not in output, "the killed run's new key is the active key already"
    assert _statuses(app)[first] is KekStatus.RETIRED
    assert len({key for key, _ in _slots(app).values()}) == 1

    horizon = rotated_on + timedelta(days=RETENTION)
    for _ in range(2):
        done = _cli(app, keystore_path, tmp_path, "maintain", "--as-of", horizon.isoformat(),
                    "--allow-future")  # fmt: skip
        output = done.communicate(timeout=300)[0]
        assert done.returncode == 0, output
    assert _statuses(app)[first] is KekStatus.DESTROYED
    assert len(_ledger(app)) == 1
    with app_session(app) as session:
        for case_id in cases:
            case_cipher(session, keystore(), case_id)
        assert verify_chain(session, keystore()).ok
