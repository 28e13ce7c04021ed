"""``flask --app wsgi keys ...``: status, rotation, rewrap, and an ``init`` that never hides
lost keys behind new ones."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import Result
from flask import Flask

from complaints import create_app
from complaints.audit.models import AuditEvent
from complaints.audit.services import Actor, verify_chain
from complaints.cases.services import open_case
from complaints.clock import set_clock
from complaints.crypto.keystore import KekStatus, LocalKeyStore
from complaints.crypto.models import KeySlot
from complaints.crypto.services import indexer, keystore, rewrap_batch
from complaints.models import metadata
from tests.conftest import Clock, DatabaseFactory, app_session, make_settings
from tests.factories import make_case, make_org, make_person

KEY_SLOTS = metadata.tables["key_slots"]

pytestmark = pytest.mark.committing

AppFactory = Callable[[str, Path], Flask]


@dataclass(frozen=True)
class Stored:
    reader: int
    cases: dict[uuid.UUID, str]  # case id -> description


def _invoke(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=list(args))


def _make_cases(app: Flask, clock: Clock, count: int) -> Stored:
    with app_session(app) as session:
        org = make_org(session, clock(), code=f"M{uuid.uuid4().hex[:6]}")
        handler = make_person(session, org.directorate, clock())
        cases = {}
        for number in range(count):
            description = f"Zaak {number}: {uuid.uuid4().hex}"
            cases[make_case(session, clock(), handler=handler, description=description).id] = (
                description
            )
        return Stored(handler.id, cases)


def _assert_all_open(app: Flask, clock: Clock, stored: Stored) -> None:
    with app_session(app) as session:
        for case_id, description in stored.cases.items():
            content = open_case(
                session,
                keystore(),
                indexer(),
                case_id=case_id,
                reader_person_id=stored.reader,
                actor=Actor.staff(1),
                now=clock(),
            )
            assert content.description == description


def _slot_keys(app: Flask) -> list[str]:
    with app_session(app) as session:
        return list(session.scalars(sa.select(KeySlot.key_id)))


def _status_rows(output: str) -> dict[str, tuple[str, int]]:
    """``keys status`` table rows: key id -> (status, slots)."""
    rows = {}
    for line in output.splitlines():
        parts = line.split()
        if parts and parts[0].startswith("kek-"):
            rows[parts[0]] = (parts[1], int(parts[-1]))
    return rows


def _tree(root: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


def _database_url(app: Flask) -> str:
    engine: sa.Engine = app.extensions["complaints.db"].engine
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def app_without_store(tmp_path: Path, clock: Clock) -> Iterator[AppFactory]:
    """Build an application whose key store path may not exist (as ``wsgi`` does for CLI)."""
    made: list[Flask] = []

    def make(database_url: str, keystore_path: Path) -> Flask:
        settings = make_settings(tmp_path, database_url, keystore_path)
        application = create_app(settings, strict_startup=False)
        set_clock(application, clock)
        made.append(application)
        return application

    yield make
    for application in made:
        application.extensions["complaints.db"].engine.dispose()


# status -------------------------------------------------------------------------------------


def test_status_lists_the_active_key_and_its_slots(
    committed_app: Flask, clock: Clock, keystore_path: Path
) -> None:
    _make_cases(committed_app, clock, 3)
    result = _invoke(committed_app, "keys", "status")
    assert result.exit_code == 0, result.output
    assert f"local key store at {keystore_path}" in result.output
    with committed_app.app_context():
        active = keystore().active_kek_id()
    assert _status_rows(result.output) == {active: ("active", 3)}


def test_status_shows_a_rotation_half_done(committed_app: Flask, clock: Clock) -> None:
    _make_cases(committed_app, clock, 3)
    with app_session(committed_app) as session:
        keys = keystore()
        old = keys.active_kek_id()
        new = keys.create_kek(clock())
        assert rewrap_batch(session, keys, clock(), batch_size=1) == 1
    result = _invoke(committed_app, "keys", "status")
    assert result.exit_code == 0, result.output
    assert _status_rows(result.output) == {old: ("previous", 2), new: ("active", 1)}


def test_status_fails_when_slots_name_a_key_the_store_lacks(
    committed_app: Flask, clock: Clock
) -> None:
    _make_cases(committed_app, clock, 2)
    with app_session(committed_app) as session:
        session.execute(sa.update(KEY_SLOTS).values(key_id="kek-20250101-0000dead"))
    result = _invoke(committed_app, "keys", "status")
    assert result.exit_code == 1
    assert _status_rows(result.output)["kek-20250101-0000dead"] == ("MISSING", 2)
    assert "wrapped by a key the store does not hold" in result.output


def test_status_fails_when_a_retired_key_file_is_gone_but_slots_still_use_it(
    committed_app: Flask, clock: Clock, keystore_path: Path
) -> None:
    _make_cases(committed_app, clock, 2)
    with committed_app.app_context():
        keys = keystore()
        old = keys.active_kek_id()
        keys.create_kek(clock())
        keys.retire_kek(old)  # retired too early: its cases were never rewrapped
    (keystore_path / "kek" / f"{old}.key").unlink()
    result = _invoke(committed_app, "keys", "status")
    assert result.exit_code == 1
    assert _status_rows(result.output)[old] == ("MISSING", 2)


# rotate and rewrap --------------------------------------------------------------------------


def test_rotate_in_batches_keeps_every_case_readable(committed_app: Flask, clock: Clock) -> None:
    stored = _make_cases(committed_app, clock, 5)
    with committed_app.app_context():
        old = keystore().active_kek_id()
    result = _invoke(committed_app, "keys", "rotate", "--batch-size", "2")
    assert result.exit_code == 0, result.output
    *lines, anchored = result.output.splitlines()
    assert anchored.startswith("anchored seq "), "a key operation anchors the audit chain"
    new = lines[-3].removeprefix("new active key: ")
    assert lines == [
        "  rewrapped 2 key slots",
        "  rewrapped 4 key slots",
        "  rewrapped 5 key slots",
        f"new active key: {new}",
        "rewrapped 5 key slots",
        f"retired: {old}",
    ]
    assert new != old
    assert set(_slot_keys(committed_app)) == {new}
    _assert_all_open(committed_app, clock, stored)
    with committed_app.app_context():
        statuses = {info.key_id: info.status for info in keystore().keks()}
    assert statuses == {old: KekStatus.RETIRED, new: KekStatus.ACTIVE}
    # A fresh reader of the store (another worker, a restart) sees the same.
    fresh = LocalKeyStore(committed_app.extensions["complaints.settings"].resolved_keystore_path)
    assert fresh.active_kek_id() == new
    status = _invoke(committed_app, "keys", "status")
    assert _status_rows(status.output) == {old: ("retired", 0), new: ("active", 5)}
    with app_session(committed_app) as session:
        actions = session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.seq)).all()
        assert [a for a in actions if a.startswith("keys.")] == [
            "keys.kek_created",
            "keys.rewrapped",
        ]
        assert verify_chain(session, keystore()).ok


def test_rewrap_finishes_an_interrupted_rotation(committed_app: Flask, clock: Clock) -> None:
    stored = _make_cases(committed_app, clock, 5)
    with app_session(committed_app) as session:
        keys = keystore()
        old = keys.active_kek_id()
        new = keys.create_kek(clock())
        assert rewrap_batch(session, keys, clock(), batch_size=2) == 2
    result = _invoke(committed_app, "keys", "rewrap", "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert "new active key" not in result.output
    assert "rewrapped 3 key slots" in result.output.splitlines()
    assert f"retired: {old}" in result.output
    assert set(_slot_keys(committed_app)) == {new}
    with committed_app.app_context():
        assert keystore().active_kek_id() == new
    _assert_all_open(committed_app, clock, stored)


def test_rewrap_with_nothing_to_do(committed_app: Flask, clock: Clock) -> None:
    _make_cases(committed_app, clock, 2)
    with committed_app.app_context():
        active = keystore().active_kek_id()
    result = _invoke(committed_app, "keys", "rewrap")
    assert result.exit_code == 0, result.output
    reported, anchored = result.output.splitlines()
    assert reported == "rewrapped 0 key slots"
    assert anchored.startswith("anchored seq "), "a key operation anchors the audit chain"
    with committed_app.app_context():
        assert keystore().active_kek_id() == active


@pytest.mark.parametrize("command", ["rotate", "rewrap"])
def test_batch_size_must_be_positive(committed_app: Flask, command: str) -> None:
    result = _invoke(committed_app, "keys", command, "--batch-size", "0")
    assert result.exit_code == 2
    assert "batch-size" in result.output


# init ---------------------------------------------------------------------------------------


def test_init_refuses_an_existing_store(committed_app: Flask, keystore_path: Path) -> None:
    before = _tree(keystore_path)
    result = _invoke(committed_app, "keys", "init")
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert _tree(keystore_path) == before


def test_init_if_missing_leaves_an_existing_store_alone(
    committed_app: Flask, keystore_path: Path
) -> None:
    active = LocalKeyStore(keystore_path).active_kek_id()
    before = _tree(keystore_path)
    result = _invoke(committed_app, "keys", "init", "--if-missing")
    assert result.exit_code == 0, result.output
    assert result.output == ""
    assert _tree(keystore_path) == before
    assert LocalKeyStore(keystore_path).active_kek_id() == active


def test_init_if_missing_adds_a_secret_a_newer_version_needs(
    committed_app: Flask, keystore_path: Path
) -> None:
    active = LocalKeyStore(keystore_path).active_kek_id()
    kept = (keystore_path / "secret" / "receipt-index.key").read_bytes()
    (keystore_path / "secret" / "account-secrets.key").unlink()
    result = _invoke(committed_app, "keys", "init", "--if-missing")
    assert result.exit_code == 0, result.output
    assert "added secrets for account-secrets" in result.output
    store = LocalKeyStore(keystore_path)
    store.check()
    assert store.active_kek_id() == active
    assert (keystore_path / "secret" / "receipt-index.key").read_bytes() == kept


def test_init_refuses_new_keys_when_the_database_holds_case_keys(
    committed_app: Flask, clock: Clock, tmp_path: Path, app_without_store: AppFactory
) -> None:
    """The store is gone but the cases are not: new keys would hide that they are lost."""
    _make_cases(committed_app, clock, 2)
    missing = tmp_path / "restored-here" / "keys"
    application = app_without_store(_database_url(committed_app), missing)
    for args in (["keys", "init"], ["keys", "init", "--if-missing"], ["keys", "init", "--dev"]):
        result = _invoke(application, *args)
        assert result.exit_code == 1, result.output
        assert "2 wrapped case keys" in result.output
        assert "restore the key store from its backup" in result.output
        assert not (tmp_path / "restored-here").exists(), "no key file, no directory"


def test_init_refuses_new_keys_in_an_emptied_store_directory(
    committed_app: Flask, clock: Clock, tmp_path: Path, app_without_store: AppFactory
) -> None:
    _make_cases(committed_app, clock, 1)
    emptied = tmp_path / "emptied"
    emptied.mkdir()
    result = _invoke(app_without_store(_database_url(committed_app), emptied), "keys", "init")
    assert result.exit_code == 1
    assert "restore the key store from its backup" in result.output
    assert list(emptied.iterdir()) == []


def test_init_creates_a_store_for_a_new_database(
    databases: DatabaseFactory, tmp_path: Path, app_without_store: AppFactory
) -> None:
    path = tmp_path / "new" / "keys"
    application = app_without_store(databases.fresh_url(), path)
    result = _invoke(application, "keys", "init")
    assert result.exit_code == 0, result.output
    store = LocalKeyStore(path)
    store.check()
    assert f"key store created at {path} (active key {store.active_kek_id()})" in result.output
    assert "DEVELOPMENT" not in result.output
    assert (path.stat().st_mode & 0o777) == 0o700
    with app_session(application) as session:
        event = session.scalars(sa.select(AuditEvent)).one()
        assert (event.action, event.object_id) == ("keys.initialised", store.active_kek_id())
        # The application started without a store; it reads the new one without a restart.
        assert keystore().active_kek_id() == store.active_kek_id()
        assert verify_chain(session, keystore()).ok
    again = _invoke(application, "keys", "init")
    assert again.exit_code == 1
    assert "already exists" in again.output


def test_init_dev_says_so_loudly(
    databases: DatabaseFactory, tmp_path: Path, app_without_store: AppFactory
) -> None:
    path = tmp_path / "dev-keys"
    result = _invoke(app_without_store(databases.fresh_url(), path), "keys", "init", "--dev")
    assert result.exit_code == 0, result.output
    assert "DEVELOPMENT KEY STORE" in result.output
    assert (path / "README.txt").exists()


@pytest.mark.parametrize("command", ["status", "rotate", "rewrap"])
def test_commands_fail_closed_without_a_store(
    committed_app: Flask,
    clock: Clock,
    tmp_path: Path,
    app_without_store: AppFactory,
    command: str,
) -> None:
    stored = _make_cases(committed_app, clock, 1)
    slots_before = _slot_keys(committed_app)
    missing = tmp_path / "gone" / "keys"
    result = _invoke(app_without_store(_database_url(committed_app), missing), "keys", command)
    assert result.exit_code == 1
    assert "key store unavailable" in result.output
    assert not (tmp_path / "gone").exists()
    assert _slot_keys(committed_app) == slots_before
    _assert_all_open(committed_app, clock, stored)
