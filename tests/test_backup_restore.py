"""The restore test of docs/operations.md, done for real.

Reports are filed through the web form into a database that really commits; the handler
opens them and the complainants write in their mailboxes. Then the database is backed up the
way the operator does it (``pg_dump -Fc`` on PostgreSQL, SQLite's online backup API on
SQLite) and the key store separately (a tar archive). Both are restored to new places, and an
application built on the restored database with the restored key store must open every case
with the same content, accept every receipt code and verify the audit chain. With another key
store, or none, nothing decrypts.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import re
import secrets
import shutil
import sqlite3
import stat
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import TestResponse, encode_multipart

from complaints import create_app
from complaints.audit.services import Actor
from complaints.cases.models import Attachment, Case
from complaints.cases.receipts import normalise_receipt, receipt_index
from complaints.cases.services import CaseContent, CaseUnreadable, open_case
from complaints.clock import set_clock
from complaints.crypto.keystore import KeyStoreError, LocalKeyStore
from complaints.crypto.models import KeySlot
from complaints.crypto.services import indexer, keystore
from complaints.settings import ConfigurationError
from tests.conftest import (
    POSTGRES_ADMIN_URL,
    ROOT,
    START,
    Clock,
    DatabaseFactory,
    app_session,
    make_settings,
)
from tests.factories import StaffLogin, csrf_token, import_demo_directory, log_in, make_account
from tests.intake.test_views import Answers, Browser, fill_in, receipt_code, send

pytestmark = pytest.mark.committing

HANDLER_EMAIL = "i.hoekstra@bzk.example"  # the demo confidant of BZK
MAILBOX = "/opvolgen/melding"
RESTORE_SCRIPT = ROOT / "deploy" / "restore-test.sh"


# What was filed before the backup -------------------------------------------------------------


@dataclass
class Filed:
    code: str
    case_id: uuid.UUID
    reference: str
    description: str
    message: str


@dataclass
class Backup:
    backend: str
    dump: Path  # pg_dump -Fc archive, or an SQLite backup file
    keys_archive: Path  # tar of the key store, kept apart from the dump
    filed: list[Filed]
    handler: StaffLogin
    contents: dict[uuid.UUID, tuple[object, ...]]
    attachment: tuple[uuid.UUID, uuid.UUID, bytes]  # case id, attachment id, what was stored
    audit_events: int
    root: Path
    tag: str
    restored: list[str] = field(default_factory=list)  # PostgreSQL databases to drop


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (21, 66, 115)).save(out, "PNG")
    return out.getvalue()


def content_of(content: CaseContent) -> tuple[object, ...]:
    """Everything decrypted from a case, in a form that compares across databases."""
    parties = sorted(
        (str(p.id), p.kind.value, p.person_id, p.name, p.relation_to_complainant, p.contact)
        for p in content.parties
    )
    return (
        content.case.reference,
        content.description,
        content.incident_period,
        content.incident_place,
        content.desired_outcome,
        content.complainant,
        tuple(parties),
    )


def open_all(
    app: Flask, filed: list[Filed], handler_id: int
) -> dict[uuid.UUID, tuple[object, ...]]:
    with app_session(app) as session:
        return {
            f.case_id: content_of(
                open_case(
                    session,
                    keystore(),
                    indexer(),
                    case_id=f.case_id,
                    reader_person_id=handler_id,
                    actor=Actor.staff(handler_id),
                    now=START,
                )
            )
            for f in filed
        }


def open_mailbox(client: FlaskClient, code: str) -> TestResponse:
    page = client.get("/opvolgen")
    return client.post("/opvolgen", data={"code": code, "csrf_token": csrf_token(page)})


def upload(client: FlaskClient, page: TestResponse, data: bytes, name: str) -> TestResponse:
    boundary, body = encode_multipart(
        MultiDict(
            [("csrf_token", csrf_token(page)), ("files", FileStorage(io.BytesIO(data), name))]
        )
    )
    return client.post(
        "/opvolgen/melding/bestanden",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def file_through_the_web(app: Flask, answers: Answers, message: str) -> Filed:
    """File a report page by page, then write in its mailbox with the receipt code."""
    client = app.test_client()
    client.set_cookie("taal", "en")
    browser = Browser(client)
    done = send(browser, fill_in(app, browser, answers))
    code = receipt_code(done)
    opened = open_mailbox(client, code)
    assert opened.status_code == 303, opened.get_data(as_text=True)
    page = client.get(MAILBOX)
    sent = client.post(
        "/opvolgen/melding/bericht", data={"message": message, "csrf_token": csrf_token(page)}
    )
    assert sent.status_code == 303, sent.get_data(as_text=True)
    with app_session(app) as session:
        case = session.scalars(
            sa.select(Case).where(Case.receipt_index == receipt_index(indexer(), code))
        ).one()
        return Filed(code, case.id, case.reference, answers.description, message)


# Backing up and restoring, as docs/operations.md says -------------------------------------------


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as pg_dump and pg_restore take it (without ``+psycopg``)."""
    return (
        sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


def back_up_database(backend: str, url: str, target: Path) -> None:
    if backend == "postgresql":
        subprocess.run(["pg_dump", "-Fc", "-f", str(target), libpq_url(url)], check=True)
        return
    source = sqlite3.connect(sa.engine.make_url(url).database or "")
    copy = sqlite3.connect(target)
    try:
        with copy:
            source.backup(copy)  # consistent even while the application writes (WAL included)
    finally:
        copy.close()
        source.close()


def back_up_keys(keys: Path, archive: Path) -> None:
    with tarfile.open(archive, "w") as tar:
        tar.add(keys, arcname="keys")


def restore_keys(archive: Path, parent: Path) -> Path:
    parent.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(parent, filter="tar")
    return parent / "keys"


def empty_database(backup: Backup, name: str) -> str:
    """A new, empty PostgreSQL database (dropped when the module ends); its SQLAlchemy URL."""
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE template0')
    admin.dispose()
    backup.restored.append(name)
    url = sa.engine.make_url(POSTGRES_ADMIN_URL).set(database=name)
    return url.render_as_string(hide_password=False)


def restore_database(backup: Backup) -> str:
    """A new database holding the backup; returns its SQLAlchemy URL."""
    name = f"restored_{os.getpid()}_{secrets.token_hex(4)}"
    if backup.backend == "sqlite":
        target = backup.root / f"{name}.db"
        source = sqlite3.connect(backup.dump)
        copy = sqlite3.connect(target)
        try:
            with copy:
                source.backup(copy)
        finally:
            copy.close()
            source.close()
        return f"sqlite:///{target}"
    rendered = empty_database(backup, name)
    subprocess.run(
        [
            "pg_restore",
            "--exit-on-error",
            "--no-owner",
            "-d",
            libpq_url(rendered),
            str(backup.dump),
        ],
        check=True,
    )
    return rendered


def app_on(url: str, keys: Path, instance: Path, clock: Clock, *, strict: bool = True) -> Flask:
    application = create_app(make_settings(instance, url, keys), strict_startup=strict)
    set_clock(application, clock)
    return application


@contextlib.contextmanager
def running(application: Flask) -> Iterator[Flask]:
    try:
        yield application
    finally:
        application.extensions["complaints.db"].engine.dispose()


# The backup, made once for the module ----------------------------------------------------------


@pytest.fixture(scope="module")
def backup(
    databases: DatabaseFactory,
    keystore_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Backup]:
    root = tmp_path_factory.mktemp("backup-restore")
    live_keys = root / "live" / "keys"
    shutil.copytree(keystore_template, live_keys)
    clock = Clock(START)
    with running(app_on(databases.fresh_url(), live_keys, root / "live", clock)) as source:
        with app_session(source) as session:
            people = import_demo_directory(session, clock())
            handler = make_account(session, people[HANDLER_EMAIL], clock())
        tag = secrets.token_hex(6)
        filed = [
            file_through_the_web(
                source,
                Answers(description=f"Mijn collega kleineert mij al maanden ({tag}-a)."),
                f"Aanvulling bij de eerste melding ({tag}-m1).",
            ),
            file_through_the_web(
                source,
                Answers(
                    category="discrimination",
                    grounds=("race",),
                    disclosure="confidential",
                    name=f"Melder {tag}",
                    description=f"Een racistische grap in het teamoverleg ({tag}-b).",
                ),
                f"Er waren twee getuigen ({tag}-m2).",
            ),
            file_through_the_web(
                source,
                Answers(
                    accused=((people["l.bakker@bzk.example"], "colleague"),),
                    description=f"Zij schreeuwt tegen mij bij de koffieautomaat ({tag}-c).",
                ),
                f"Het gebeurde weer ({tag}-m3).",
            ),
        ]
        # A file in the first case, from its mailbox.
        client = source.test_client()
        client.set_cookie("taal", "en")
        assert open_mailbox(client, filed[0].code).status_code == 303
        added = upload(client, client.get(MAILBOX), png_bytes(), "foto.png")
        assert added.status_code == 303, added.get_data(as_text=True)
        # The handler reads every case and the file through the web, as on any day.
        staff = source.test_client()
        log_in(staff, handler, clock())
        for item in filed:
            page = staff.get(f"/zaken/{item.case_id}")
            assert page.status_code == 200
            assert item.description in page.get_data(as_text=True)
        with app_session(source) as session:
            attachment = session.scalars(sa.select(Attachment)).one()
            attachment_key = (attachment.case_id, attachment.id)
        download = staff.get(f"/zaken/{attachment_key[0]}/bijlagen/{attachment_key[1]}")
        assert download.status_code == 200
        contents = open_all(source, filed, handler.person.id)
        with app_session(source) as session:
            events = session.scalar(sa.text("SELECT count(*) FROM audit_events"))
        # The anchor timer has run: the anchor file names the chain's head at backup time.
        assert source.test_cli_runner().invoke(args=["audit", "anchor"]).exit_code == 0
        assert source.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0

        dump = root / ("complaints.dump" if databases.backend == "postgresql" else "complaints.db")
        engine = source.extensions["complaints.db"].engine
        back_up_database(databases.backend, engine.url.render_as_string(hide_password=False), dump)
    keys_archive = root / "keys.tar"
    back_up_keys(live_keys, keys_archive)
    result = Backup(
        backend=databases.backend,
        dump=dump,
        keys_archive=keys_archive,
        filed=filed,
        handler=handler,
        contents=contents,
        attachment=(*attachment_key, download.data),
        audit_events=int(events or 0),
        root=root,
        tag=tag,
    )
    yield result
    if result.restored:
        admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for name in result.restored:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def later_clock() -> Clock:
    # A few minutes on: the handler's two-step code of the backup's moment was used already.
    return Clock(START + timedelta(minutes=5))


# The restore test -------------------------------------------------------------------------------


def test_the_restored_backup_opens_every_case_with_the_same_content(
    backup: Backup, tmp_path: Path
) -> None:
    keys = restore_keys(backup.keys_archive, tmp_path / "restored-keys")
    # The archive keeps the key store private: 0700 directories, 0600 files.
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    for key_file in keys.rglob("*.key"):
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600, key_file
    url = restore_database(backup)
    clock = later_clock()
    with running(app_on(url, keys, tmp_path, clock)) as restored:
        cli = restored.test_cli_runner()
        current = cli.invoke(args=["db", "current"])
        assert current.exit_code == 0, current.output
        assert "up to date" in current.output
        status = cli.invoke(args=["keys", "status"])
        assert status.exit_code == 0, status.output
        assert "MISSING" not in status.output
        with app_session(restored) as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == len(backup.filed)

        # Every case decrypts to exactly what it held before the backup.
        assert open_all(restored, backup.filed, backup.handler.person.id) == backup.contents

        # The handler logs in (password and two-step code) and reads every case and the file.
        staff = restored.test_client()
        log_in(staff, backup.handler, clock())
        for item in backup.filed:
            page = staff.get(f"/zaken/{item.case_id}").get_data(as_text=True)
            assert item.description in page
            assert item.message in page
        case_id, attachment_id, data = backup.attachment
        download = staff.get(f"/zaken/{case_id}/bijlagen/{attachment_id}")
        assert download.status_code == 200
        assert download.data == data

        # Every receipt code still opens its own case's mailbox.
        for item in backup.filed:
            client = restored.test_client()
            client.set_cookie("taal", "en")
            opened = open_mailbox(client, item.code)
            assert opened.status_code == 303, opened.get_data(as_text=True)
            page = client.get(MAILBOX).get_data(as_text=True)
            assert item.reference in page
            assert item.message in page

        # The audit chain verifies: every event of the backup, and the openings since.
        # A restored copy has no anchor file of its own (the live one is newer than it).
        verify = cli.invoke(args=["audit", "verify", "--restored-copy"])
        assert verify.exit_code == 0, verify.output
        checked = int(re.match(r"OK: (\d+) audit events", verify.output).group(1))  # type: ignore[union-attr]
        assert checked > backup.audit_events


def test_a_backup_from_before_a_rotation_opens_with_the_rotated_key_store(
    backup: Backup, tmp_path: Path
) -> None:
    """After ``keys rotate`` the old key is kept as retired: an older database backup still opens,
    and ``keys rewrap`` moves its case keys under the active key."""
    keys = restore_keys(backup.keys_archive, tmp_path / "keys")
    clock = later_clock()
    with running(app_on(restore_database(backup), keys, tmp_path / "live", clock)) as live:
        rotated = live.test_cli_runner().invoke(args=["keys", "rotate"])
        assert rotated.exit_code == 0, rotated.output
        assert f"rewrapped {len(backup.filed)} key slots" in rotated.output
    store = LocalKeyStore(keys)
    retired = [k.key_id for k in store.keks() if k.status.value == "retired"]
    assert len(retired) == 1

    with running(app_on(restore_database(backup), keys, tmp_path / "old", clock)) as old:
        with app_session(old) as session:
            assert set(session.scalars(sa.select(KeySlot.key_id))) == set(retired)
        assert open_all(old, backup.filed, backup.handler.person.id) == backup.contents
        rewrap = old.test_cli_runner().invoke(args=["keys", "rewrap"])
        assert rewrap.exit_code == 0, rewrap.output
        with app_session(old) as session:
            assert set(session.scalars(sa.select(KeySlot.key_id))) == {store.active_kek_id()}
        assert open_all(old, backup.filed, backup.handler.person.id) == backup.contents

        # Remove the retired key file, as docs/keys.md says once no backup needs it: a database
        # backup that still uses it can then no longer be read.
    (keys / "kek" / f"{retired[0]}.key").unlink()
    with (
        running(app_on(restore_database(backup), keys, tmp_path / "gone", clock)) as gone,
        app_session(gone) as session,
        pytest.raises(CaseUnreadable),
    ):
        open_case(
            session,
            keystore(),
            indexer(),
            case_id=backup.filed[0].case_id,
            reader_person_id=backup.handler.person.id,
            actor=Actor.operator(),
            now=clock(),
        )


def test_with_another_key_store_nothing_decrypts(backup: Backup, tmp_path: Path) -> None:
    other = tmp_path / "other-keys"
    LocalKeyStore.initialise(other, START)
    clock = later_clock()
    with running(app_on(restore_database(backup), other, tmp_path, clock)) as wrong:
        with app_session(wrong) as session:
            for item in backup.filed:
                with pytest.raises(CaseUnreadable):
                    open_case(
                        session,
                        keystore(),
                        indexer(),
                        case_id=item.case_id,
                        reader_person_id=backup.handler.person.id,
                        actor=Actor.operator(),
                        now=clock(),
                    )
        # The receipt codes are keyed hashes under the old store's secret: none is recognised.
        for item in backup.filed:
            client = wrong.test_client()
            refused = open_mailbox(client, item.code)
            assert refused.status_code == 200
            assert client.get(MAILBOX).status_code == 303
        cli = wrong.test_cli_runner()
        verify = cli.invoke(args=["audit", "verify"])
        assert verify.exit_code != 0
        assert "BROKEN" in verify.output
        status = cli.invoke(args=["keys", "status"])
        assert status.exit_code != 0
        assert "MISSING" in status.output


def test_without_the_key_store_the_restored_database_is_refused(
    backup: Backup, tmp_path: Path
) -> None:
    url = restore_database(backup)
    missing = tmp_path / "no-keys"
    with pytest.raises(ConfigurationError, match="key store unavailable"):
        create_app(make_settings(tmp_path, url, missing))
    # Commands may start without it (so that 'keys init' can run), but decrypt nothing.
    with running(app_on(url, missing, tmp_path, later_clock(), strict=False)) as blind:
        ready = blind.test_client().get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json()["checks"]["keystore"] == "unavailable"
        # Refused at the key, or at the audit event of the refusal: either way, no content.
        with app_session(blind) as session, pytest.raises((CaseUnreadable, KeyStoreError)):
            open_case(
                session,
                keystore(),
                indexer(),
                case_id=backup.filed[0].case_id,
                reader_person_id=backup.handler.person.id,
                actor=Actor.operator(),
                now=START,
            )
        cli = blind.test_cli_runner()
        assert cli.invoke(args=["audit", "verify"]).exit_code != 0
        # 'keys init' will not create new keys over existing cases: restore the store instead.
        init = cli.invoke(args=["keys", "init"])
        assert init.exit_code != 0
        assert "restore the key store from its backup" in init.output
    assert not missing.exists()


def test_the_database_backup_holds_no_content_and_no_key(backup: Backup) -> None:
    if backup.backend == "postgresql":
        # -Fc compresses; pg_restore turns the archive back into plain SQL to search.
        dumped = subprocess.run(
            ["pg_restore", "-f", "-", str(backup.dump)], check=True, capture_output=True
        ).stdout
        assert b"COPY public.cases" in dumped
    else:
        dumped = backup.dump.read_bytes()
        with contextlib.closing(sqlite3.connect(backup.dump)) as check:
            assert check.execute("SELECT count(*) FROM cases").fetchone() == (len(backup.filed),)
    secrets_in_clear = []
    for item in backup.filed:
        canonical = normalise_receipt(item.code)
        assert canonical is not None
        secrets_in_clear += [item.code, canonical, item.description, item.message]
    secrets_in_clear.append(f"Melder {backup.tag}")
    for text in secrets_in_clear:
        assert text.encode() not in dumped, text
    with tarfile.open(backup.keys_archive) as tar:
        for member in tar.getmembers():
            if member.name.endswith(".key"):
                handle = tar.extractfile(member)
                assert handle is not None
                key = handle.read().strip()
                assert key not in dumped
                assert base64.b64decode(key) not in dumped


def run_restore_script(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("COMPLAINTS_")
    }
    return subprocess.run(
        ["sh", str(RESTORE_SCRIPT), *args],
        cwd=ROOT,
        env={**environment, "COMPLAINTS_LOG_FORMAT": "console"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_operators_restore_script_passes_and_fails_when_it_should(
    backup: Backup, tmp_path: Path
) -> None:
    """deploy/restore-test.sh, as the operator runs it (docs/operations.md).

    It is a PostgreSQL procedure: on the SQLite run only its refusal without arguments is
    checked; the PostgreSQL run restores the backup with it, with the right and a wrong key store.
    """
    usage = run_restore_script()
    assert usage.returncode != 0
    assert "usage: restore-test.sh DUMP KEYS_TAR SCRATCH_URL" in usage.stderr
    if backup.backend != "postgresql":
        return
    scratch = libpq_url(empty_database(backup, f"scratch_{os.getpid()}_{secrets.token_hex(4)}"))
    anchors = backup.root / "live" / "instance" / "audit-anchors.log"
    passed = run_restore_script(str(backup.dump), str(backup.keys_archive), scratch, str(anchors))
    assert passed.returncode == 0, passed.stdout + passed.stderr
    # The restored chain was checked against the live anchor file, up to the backup's end.
    assert "anchors: 1 verified; the last at seq" in passed.stdout
    assert f"cases opened: {len(backup.filed)}; crypto-shredded since the backup: 0; failed: 0" in (
        passed.stdout
    )
    assert "restore test passed" in passed.stdout

    # A key-store archive without the store (say, the wrong folder was backed up) fails the test.
    (tmp_path / "keys").mkdir()
    wrong = tmp_path / "wrong-keys.tar"
    back_up_keys(tmp_path / "keys", wrong)
    scratch = libpq_url(empty_database(backup, f"scratch_{os.getpid()}_{secrets.token_hex(4)}"))
    failed = run_restore_script(str(backup.dump), str(wrong), scratch)
    assert failed.returncode != 0
    assert "restore test FAILED" in failed.stderr
    assert "restore test passed" not in failed.stdout
