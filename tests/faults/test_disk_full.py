"""The disk fills up while an attachment is stored: really full, on a small tmpfs.

Attachments live in the database (a draft's files while the form is filled in, the case's
files once it is sent), so the database's own storage is what runs out: on SQLite the database
file sits on the small disk (SQLITE_FULL); on PostgreSQL the attachment tables are moved to a
tablespace on it, in a private cluster ("could not extend file: No space left on device").

Both the upload and the sending are hit. Each time: a plain 503 page and no receipt, nothing
half-written, the answers already given kept in the draft; and once there is room again the
same browser finishes its report.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from complaints import create_app
from complaints.cases.models import Case
from complaints.clock import set_clock
from tests.conftest import Clock, DatabaseFactory, app_session, make_settings
from tests.factories import import_demo_directory
from tests.faults.conftest import PrivateCluster, SmallDisk
from tests.faults.helpers import (
    DRAFT_TABLES,
    SUBMISSION_TABLES,
    assert_clean_error_page,
    counts,
    open_with_receipt,
    plain,
    text_file,
    upload,
)
from tests.intake.test_views import Answers, Browser, answer, fill_in, receipt_code, send

pytestmark = pytest.mark.committing

# Below 500 kB, so that neither the test client nor the form parser spools it to a temporary
# file (the test client never closes its own, which the suite's warnings-as-errors catches).
FILE_SIZE = 400_000  # fits the attachment limit, not the disk
LEFT_FREE = 100_000  # enough for answers and bookkeeping, not for the file


def _database_on(backend: str, disk: SmallDisk, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        databases: DatabaseFactory = request.getfixturevalue("databases")
        template = Path(databases.template_url().removeprefix("sqlite:///"))
        target = disk.path / "complaints.db"
        shutil.copyfile(template, target)
        return f"sqlite:///{target}"
    cluster: PrivateCluster = request.getfixturevalue("private_cluster")
    url = cluster.create_database(f"full_{uuid.uuid4().hex[:10]}")
    space = disk.path / "tablespace"
    space.mkdir()
    shutil.chown(space, "postgres", "postgres")
    name = f"small_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE TABLESPACE {name} LOCATION '{space}'")
    admin.dispose()
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        for table in ("intake_draft_attachments", "attachments"):
            connection.exec_driver_sql(f"ALTER TABLE {table} SET TABLESPACE {name}")
    engine.dispose()
    request.addfinalizer(lambda: _drop(cluster, url, name))
    return url


def _drop(cluster: PrivateCluster, url: str, tablespace: str) -> None:
    admin = sa.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        database = sa.engine.make_url(url).database
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        connection.exec_driver_sql(f"DROP TABLESPACE IF EXISTS {tablespace}")
    admin.dispose()


@pytest.fixture
def disk_app(
    backend: str,
    small_disk: SmallDisk,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    keystore_path: Path,
    clock: Clock,
) -> Iterator[Flask]:
    url = _database_on(backend, small_disk, request)
    application = create_app(make_settings(tmp_path, url, keystore_path))
    set_clock(application, clock)
    with app_session(application) as session:
        import_demo_directory(session, clock())
    try:
        yield application
    finally:
        # Let go of the files on the small disk before it is unmounted.
        application.extensions["complaints.db"].engine.dispose()


def test_a_full_disk_refuses_the_file_saves_nothing_half_and_recovers(
    disk_app: Flask, small_disk: SmallDisk
) -> None:
    client = disk_app.test_client()
    browser = Browser(client)
    fill_in(disk_app, browser, Answers(route="confidant", description="Verhaal-schijf-vol"))
    evidence = text_file(FILE_SIZE)
    assert counts(disk_app, DRAFT_TABLES) == {"IntakeDraft": 1, "DraftAttachment": 0}

    # 1. The upload does not fit.
    small_disk.fill(LEFT_FREE)
    refused = upload(client, "bewijs.txt", evidence)
    page = assert_clean_error_page(refused, 503)
    assert "Tijdelijk niet beschikbaar" in page
    assert refused.headers["Retry-After"].isdigit()
    small_disk.make_room()
    assert counts(disk_app, DRAFT_TABLES) == {"IntakeDraft": 1, "DraftAttachment": 0}
    review = browser.get("/melden/controleren")
    assert review.status_code == 200
    assert "Verhaal-schijf-vol" in plain(review), "the answers given before are kept"

    # 2. With room again the file is kept with the draft; then sending does not fit.
    assert "toegevoegd" in plain(upload(client, "bewijs.txt", evidence))
    answer(browser, "/melden/wensen", desired_outcome="Dat het stopt.")
    review = browser.get("/melden/controleren")
    assert "bewijs.txt" in plain(review)
    before = counts(disk_app, SUBMISSION_TABLES)
    small_disk.fill(LEFT_FREE)
    failed = send(browser, review)
    page = assert_clean_error_page(failed, 503)
    assert failed.headers["Retry-After"].isdigit()
    assert "Verhaal-schijf-vol" not in page
    # Full at the INSERT: the form's own page ("your answers are still saved"); full at the
    # COMMIT: the general one. Either way in Dutch, and a 503.
    assert "Uw melding kon niet worden verstuurd" in page or "Tijdelijk niet beschikbaar" in page, (
        page
    )
    small_disk.make_room()
    assert counts(disk_app, SUBMISSION_TABLES) == before
    assert counts(disk_app, DRAFT_TABLES) == {"IntakeDraft": 1, "DraftAttachment": 1}

    # 3. Room again: the same browser sends the same report and gets a receipt that opens it.
    review = browser.get("/melden/controleren")
    assert review.status_code == 200
    done = send(browser, review)
    code = receipt_code(done)
    after = counts(disk_app, SUBMISSION_TABLES)
    assert (after["Case"], after["Attachment"]) == (1, 1)
    assert counts(disk_app, DRAFT_TABLES) == {"IntakeDraft": 0, "DraftAttachment": 0}
    with app_session(disk_app) as session:
        reference = session.scalars(sa.select(Case.reference)).one()
    assert reference in plain(open_with_receipt(disk_app.test_client(), code))
