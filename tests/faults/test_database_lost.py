"""PostgreSQL stopped in the middle of a submission, for real.

A private cluster (never the shared server) is stopped with ``pg_ctl stop -m immediate`` at the
moment the submission commits. The user gets a plain 503 page and no receipt; nothing of the
report reaches the database; the draft survives; and once the server is back the same browser
sends the same report and gets a receipt that opens it.

SQLite has no server to lose; its analogue (the disk filling up under a submission) is in
``test_disk_full.py``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask, has_request_context, request
from sqlalchemy import event
from sqlalchemy.orm import Session

from complaints import create_app
from complaints.audit.services import verify_chain
from complaints.cases.models import Case
from complaints.clock import set_clock
from complaints.crypto.services import keystore
from tests.conftest import Clock, app_session, make_settings
from tests.factories import import_demo_directory
from tests.faults.conftest import PrivateCluster
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

ONLY_BACKEND = "postgresql"
pytestmark = pytest.mark.committing

SUBMIT = "/melden/versturen"


@pytest.fixture
def cluster_app(
    private_cluster: PrivateCluster, tmp_path: Path, keystore_path: Path, clock: Clock
) -> Iterator[Flask]:
    url = private_cluster.create_database(f"lost_{uuid.uuid4().hex[:10]}")
    application = create_app(make_settings(tmp_path, url, keystore_path))
    set_clock(application, clock)
    with app_session(application) as session:
        import_demo_directory(session, clock())
    try:
        yield application
    finally:
        application.extensions["complaints.db"].engine.dispose()
        if not private_cluster.is_running():
            private_cluster.start()


def test_the_database_stopping_at_the_commit_saves_nothing_and_the_report_can_be_sent_again(
    cluster_app: Flask, private_cluster: PrivateCluster
) -> None:
    client = cluster_app.test_client()  # no language cookie: the default language, Dutch
    browser = Browser(client)
    fill_in(cluster_app, browser, Answers(route="confidant", description="Verhaal-bij-storing"))
    assert "toegevoegd" in plain(upload(client, "bewijs.txt", text_file(40_000)))
    answer(browser, "/melden/wensen", desired_outcome="Dat het stopt.")
    review = browser.get("/melden/controleren")
    assert review.status_code == 200
    before = counts(cluster_app, SUBMISSION_TABLES)
    assert before["Case"] == 0
    assert counts(cluster_app, DRAFT_TABLES) == {"IntakeDraft": 1, "DraftAttachment": 1}

    stopped_at_commit: list[bool] = []

    def stop_the_server(session: Session) -> None:
        if has_request_context() and request.path == SUBMIT and not stopped_at_commit:
            # The report is written (flushed) inside the open transaction; only COMMIT is left.
            assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 1
            private_cluster.stop("immediate")
            stopped_at_commit.append(True)

    event.listen(Session, "before_commit", stop_the_server)
    try:
        failed = send(browser, review)
    finally:
        event.remove(Session, "before_commit", stop_the_server)
    assert stopped_at_commit == [True]
    assert not private_cluster.is_running()

    page = assert_clean_error_page(failed, 503)
    assert "Tijdelijk niet beschikbaar" in page
    assert failed.headers["Retry-After"].isdigit()
    assert "Verhaal-bij-storing" not in page

    # While the database is down: pages that need it answer 503, the process stays alive and
    # says it is not ready.
    down = client.get("/melden/controleren")
    assert_clean_error_page(down, 503)
    assert down.headers["Retry-After"].isdigit()
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert json.loads(ready.get_data(as_text=True))["checks"]["database"] == "unavailable"

    private_cluster.start()
    assert client.get("/readyz").status_code == 200
    # Nothing half-written: not one row of the report, and the draft as it was.
    assert counts(cluster_app, SUBMISSION_TABLES) == before
    assert counts(cluster_app, DRAFT_TABLES) == {"IntakeDraft": 1, "DraftAttachment": 1}

    # The same browser still has its report, and now it goes through.
    review = browser.get("/melden/controleren")
    assert review.status_code == 200
    assert "Verhaal-bij-storing" in plain(review)
    assert "bewijs.txt" in plain(review)
    done = send(browser, review)
    assert done.status_code == 200
    code = receipt_code(done)
    after = counts(cluster_app, SUBMISSION_TABLES)
    assert after["Case"] == 1
    assert after["Attachment"] == 1
    assert counts(cluster_app, DRAFT_TABLES) == {"IntakeDraft": 0, "DraftAttachment": 0}
    mailbox = open_with_receipt(cluster_app.test_client(), code)
    with app_session(cluster_app) as session:
        reference = session.scalars(sa.select(Case.reference)).one()
        assert verify_chain(session, keystore()).ok
    assert reference in plain(mailbox)
