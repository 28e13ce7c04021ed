"""Ciphertext changed in the database, then opened through the application by its handler.

``tests/cases/test_services.py`` proves at the service level that every case and party column
refuses tampering. This adds what a handler sees: the key slot, the case text, an attachment's
name (all on the case page) and an attachment's body (the download) each flipped by one byte.
Each time: an error page with none of the case's content, and an audit event that records the
integrity failure (committed: the error page is the request's answer, not an exception).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from complaints.accounts.models import Role
from complaints.audit.models import AuditEvent, AuditOutcome
from complaints.audit.services import verify_chain
from complaints.cases.models import Attachment, Disclosure, GrantRole, Route
from complaints.cases.services import NewAttachment, NewCase, NewGrant, create_case
from complaints.crypto.models import KeySlot
from complaints.crypto.services import indexer, keystore
from complaints.directory.models import OrgUnitKind
from tests.conftest import Clock, app_session
from tests.factories import StaffLogin, log_in, make_account, make_org, make_person
from tests.faults.helpers import plain

# Words from the case; none may appear on a page that refuses it.
CONTENT = ("Geheime-beschrijving", "Kantine-derde-verdieping", "Excuses-aanbieden", "schermafdruk")
EVIDENCE = b"Bewijsstuk-inhoud " * 40


@dataclass
class Filed:
    handler: StaffLogin
    case_id: uuid.UUID
    attachment_id: uuid.UUID


@pytest.fixture
def filed(app: Flask, clock: Clock) -> Filed:
    with app_session(app) as session:
        org = make_org(session, clock())
        assert org.ministry.kind is OrgUnitKind.MINISTRY
        person = make_person(session, org.directorate, clock())
        handler = make_account(session, person, clock(), roles=((Role.CONFIDANT, org.ministry),))
        case = create_case(
            session,
            keystore(),
            indexer(),
            NewCase(
                route=Route.CONFIDANT,
                category="bullying",
                disclosure=Disclosure.ANONYMOUS,
                description="Geheime-beschrijving van wat er gebeurde.",
                organisation_id=org.directorate.id,
                incident_place="Kantine-derde-verdieping",
                desired_outcome="Excuses-aanbieden",
                attachments=(NewAttachment("schermafdruk.txt", "text/plain", EVIDENCE),),
            ),
            grants=[NewGrant(person.id, GrantRole.CONFIDANT)],
            now=clock(),
        )
        attachment_id = session.scalars(
            sa.select(Attachment.id).where(Attachment.case_id == case.id)
        ).one()
        return Filed(handler, case.id, attachment_id)


def _flip(app: Flask, table: sa.Table, column: str, where: sa.ColumnElement[bool]) -> None:
    with app_session(app) as session:
        value = session.scalar(sa.select(table.c[column]).where(where))
        assert isinstance(value, bytes)
        assert value
        damaged = value[:-1] + bytes([value[-1] ^ 0x01])
        session.execute(sa.update(table).where(where).values({column: damaged}))


def _events(app: Flask, action: str) -> list[AuditEvent]:
    with app_session(app) as session:
        return list(
            session.scalars(
                sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )


def _handler_client(app: Flask, filed: Filed, clock: Clock) -> FlaskClient:
    client = app.test_client()
    client.set_cookie("taal", "en")
    log_in(client, filed.handler, clock())
    return client


def _assert_refused(response: TestResponse, page_text: str) -> None:
    assert response.status_code == 500
    assert "This case cannot be opened" in page_text
    assert "The failure has been recorded" in page_text
    for word in CONTENT:
        assert word not in page_text, word
    assert "Traceback" not in page_text
    assert "DecryptionFailed" not in page_text


def test_an_untouched_case_opens_and_its_file_downloads(
    app: Flask, filed: Filed, clock: Clock
) -> None:
    """The control: the same steps without tampering succeed, so the refusals below are
    the tampering's doing."""
    client = _handler_client(app, filed, clock)
    page = client.get(f"/zaken/{filed.case_id}")
    assert page.status_code == 200
    assert "Geheime-beschrijving" in plain(page)
    download = client.get(f"/zaken/{filed.case_id}/bijlagen/{filed.attachment_id}")
    assert download.status_code == 200
    assert download.data == EVIDENCE
    assert [e.outcome for e in _events(app, "case.open")] == [AuditOutcome.SUCCESS]


@pytest.mark.parametrize(
    ("target", "column"),
    [("key_slots", "wrapped_key"), ("cases", "description"), ("attachments", "name")],
)
def test_a_tampered_case_is_refused_on_its_page_and_audited(
    app: Flask, filed: Filed, clock: Clock, target: str, column: str
) -> None:
    tables = {
        "key_slots": (KeySlot.__table__, KeySlot.__table__.c.case_id == filed.case_id),
        "cases": (
            sa.table("cases", sa.column("id"), sa.column(column)),
            sa.column("id") == filed.case_id,
        ),
        "attachments": (Attachment.__table__, Attachment.__table__.c.id == filed.attachment_id),
    }
    table, where = tables[target]
    _flip(app, table, column, where)  # type: ignore[arg-type]
    client = _handler_client(app, filed, clock)
    response = client.get(f"/zaken/{filed.case_id}")
    _assert_refused(response, plain(response))
    events = _events(app, "case.open")
    assert events[-1].outcome is AuditOutcome.FAILURE
    assert events[-1].object_id == str(filed.case_id)
    expected = "UnwrapFailed" if target == "key_slots" else "DecryptionFailed"
    assert events[-1].details["reason"] == expected
    with app_session(app) as session:
        assert verify_chain(session, keystore()).ok


def test_a_tampered_attachment_is_not_handed_out_and_audited(
    app: Flask, filed: Filed, clock: Clock
) -> None:
    attachments = Attachment.__table__
    _flip(app, attachments, "body", attachments.c.id == filed.attachment_id)
    client = _handler_client(app, filed, clock)
    assert client.get(f"/zaken/{filed.case_id}").status_code == 200  # the rest still opens
    response = client.get(f"/zaken/{filed.case_id}/bijlagen/{filed.attachment_id}")
    _assert_refused(response, plain(response))
    assert b"Bewijsstuk-inhoud" not in response.data
    assert "attachment" not in response.headers.get("Content-Disposition", "")
    (event,) = _events(app, "case.attachment_downloaded")
    assert event.outcome is AuditOutcome.FAILURE
    assert event.details == {
        "attachment_id": str(filed.attachment_id),
        "reason": "DecryptionFailed",
    }
    with app_session(app) as session:
        assert verify_chain(session, keystore()).ok
