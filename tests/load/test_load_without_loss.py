"""Load without loss: thousands of reports filed at once through gunicorn and PostgreSQL, while
handlers read their cases, and afterwards every receipt handed out opens its own case, the
database holds exactly those cases, no request failed on the server, and the audit chain holds.

Runs in the PostgreSQL run only (SQLite is not what production serves from); on the SQLite run
it is deselected. ``COMPLAINTS_LOAD_REPORTS`` and ``COMPLAINTS_LOAD_USERS`` change the size.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from bench.server import LoadRun, Server, run_locust, running_server
from complaints import db
from complaints.audit.services import verify_chain
from complaints.cases.models import Case
from complaints.cases.receipts import receipt_index
from complaints.crypto.services import indexer, keystore
from complaints.followup.models import ComplainantSession
from tests.conftest import POSTGRES_ADMIN_URL

ONLY_BACKEND = "postgresql"

REPORTS = int(os.environ.get("COMPLAINTS_LOAD_REPORTS", "2000"))
USERS = int(os.environ.get("COMPLAINTS_LOAD_USERS", "40"))
# A safety stop only: the run ends when the reports are in.
MAX_SECONDS = int(os.environ.get("COMPLAINTS_LOAD_MAX_SECONDS", "3600"))
HANDLERS = 4  # the Handler class's fixed count: four of the users read cases
WORKERS = 4
CHECKED_OVER_HTTP = 50
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_REFERENCE = re.compile(r'<dd class="reference">([^<]+)</dd>')


@pytest.fixture(scope="module")
def loaded() -> Iterator[tuple[Server, LoadRun]]:
    """One server, one load run; the tests below each check one promise about it."""
    with running_server(workers=WORKERS, admin_url=POSTGRES_ADMIN_URL) as server:
        run = run_locust(
            server,
            users=USERS,
            classes=("Reporter", "Handler"),
            reports=REPORTS,
            run_time=MAX_SECONDS,
        )
        yield server, run


@pytest.mark.committing
def test_every_report_got_a_receipt_and_no_request_failed(loaded: tuple[Server, LoadRun]) -> None:
    server, run = loaded
    summary = run.summary
    assert summary["server_errors"] == {}, summary["server_errors"]
    assert not [s for s in summary["statuses"] if s.startswith("5")], summary["statuses"]
    assert summary["transport_errors"] == {}, summary["transport_errors"]
    assert summary["flow_failures"] == 0, run.output[-4000:]
    assert run.returncode == 0, run.output[-4000:]
    assert summary["reports_finished"] == summary["receipts"] == REPORTS
    assert len(run.receipts) == REPORTS
    assert len(set(run.receipts)) == REPORTS, "a receipt code was handed out twice"
    # The handlers really worked alongside: logged in with two steps, read inbox and cases.
    assert summary["handler_logins"] >= HANDLERS
    assert summary["inbox_reads"] > 0
    assert summary["cases_read"] > 0
    log = server.log_text()
    assert '"level": "error"' not in log, log[-4000:]
    assert "Traceback" not in log, log[-4000:]


@pytest.mark.committing
def test_the_database_holds_exactly_the_cases_of_the_receipts(
    loaded: tuple[Server, LoadRun],
) -> None:
    server, run = loaded
    app = server.app()
    with app.app_context():
        session = db.session()
        stored = list(session.scalars(sa.select(Case.receipt_index)))
        blind = indexer()
        handed_out = [receipt_index(blind, code) for code in run.receipts]
    assert None not in handed_out, "a receipt code on a receipt page does not parse"
    # Exactly as many cases as receipts: none lost, none made twice, none without a receipt.
    assert len(stored) == len(run.receipts) == REPORTS
    # And each receipt finds its own case, the way /opvolgen looks it up.
    assert set(handed_out) == set(stored)
    assert len(set(stored)) == len(stored)


@pytest.mark.committing
def test_receipts_open_their_cases_through_opvolgen(loaded: tuple[Server, LoadRun]) -> None:
    server, run = loaded
    app = server.app()
    sample = random.Random(7).sample(run.receipts, min(CHECKED_OVER_HTTP, len(run.receipts)))
    with app.app_context():
        session = db.session()
        blind = indexer()
        expected = {
            code: session.scalar(
                sa.select(Case.reference).where(Case.receipt_index == receipt_index(blind, code))
            )
            for code in sample
        }
        before = session.scalar(sa.select(sa.func.count()).select_from(ComplainantSession))
        db.rollback()
    for code in sample:
        browser = requests.Session()
        page = browser.get(f"{server.url}/opvolgen", timeout=30)
        token = _CSRF.search(page.text)
        assert token, page.text
        response = browser.post(
            f"{server.url}/opvolgen",
            data={"csrf_token": token.group(1), "code": code},
            allow_redirects=False,
            timeout=30,
        )
        assert response.status_code == 303, response.text
        mailbox = browser.get(server.url + response.headers["Location"], timeout=30)
        assert mailbox.status_code == 200
        assert _REFERENCE.findall(mailbox.text) == [expected[code]]
    with app.app_context():
        after = db.session().scalar(sa.select(sa.func.count()).select_from(ComplainantSession))
    assert (after or 0) - (before or 0) == len(sample)


@pytest.mark.committing
def test_the_audit_chain_verifies_after_the_load(loaded: tuple[Server, LoadRun]) -> None:
    server, _ = loaded
    app = server.app()
    with app.app_context():
        report = verify_chain(db.session(), keystore())
    assert report.ok, (report.broken_seq, report.reason)
    # Each submission writes audit events; thousands of concurrent appends kept one chain.
    assert report.checked > REPORTS
    # And the operator's command says the same, on the same settings as the server.
    command = [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "audit", "verify"]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("COMPLAINTS_")}
    # The anchor timer's command first: verify checks the chain's end against the anchor file.
    anchored = subprocess.run(
        [*command[:-1], "anchor"],
        cwd=Path(__file__).resolve().parents[2],
        env={**environment, **server.environment},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert anchored.returncode == 0, anchored.stdout + anchored.stderr
    done = subprocess.run(
        command,
        cwd=Path(__file__).resolve().parents[2],
        env={**environment, **server.environment},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"OK: {report.checked} audit events verified"), done.stdout
