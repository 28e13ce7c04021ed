"""Shared steps of the fault tests: counting what a submission writes, opening a receipt."""

from __future__ import annotations

import io
import re

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from complaints.audit.models import AuditEvent
from complaints.cases.models import (
    Attachment,
    Case,
    CaseAccessGrant,
    CaseEvent,
    CaseParty,
    Deadline,
)
from complaints.crypto.models import KeySlot
from complaints.intake.models import DraftAttachment, IntakeDraft
from complaints.notify.models import Notification
from complaints.stats.models import StatEvent
from tests.conftest import app_session
from tests.factories import csrf_token

# Everything a submission writes; none of it may exist when the submission failed.
SUBMISSION_TABLES: tuple[type, ...] = (
    Case,
    KeySlot,
    Attachment,
    AuditEvent,
    StatEvent,
    Notification,
    CaseAccessGrant,
    CaseParty,
    CaseEvent,
    Deadline,
)
DRAFT_TABLES: tuple[type, ...] = (IntakeDraft, DraftAttachment)


def counts(app: Flask, models: tuple[type, ...]) -> dict[str, int]:
    with app_session(app) as session:
        return {
            model.__name__: int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)
            for model in models
        }


def text_file(size: int, seed: str = "bewijs") -> bytes:
    """A plain-text attachment of ``size`` bytes that does not compress (PostgreSQL would
    otherwise squeeze a repetitive file into a few pages)."""
    import hashlib

    out = io.StringIO()
    counter = 0
    while out.tell() < size:
        out.write(hashlib.sha256(f"{seed}{counter}".encode()).hexdigest() + "\n")
        counter += 1
    return out.getvalue()[:size].encode()


def upload(client: FlaskClient, name: str, data: bytes) -> TestResponse:
    page = client.get("/melden/wensen")
    return client.post(
        "/melden/wensen",
        data={
            "csrf_token": csrf_token(page),
            "action": "upload",
            "desired_outcome": "Een gesprek.",
            "attachment": (io.BytesIO(data), name),
        },
        content_type="multipart/form-data",
    )


def open_with_receipt(client: FlaskClient, code: str) -> TestResponse:
    """Enter a receipt code as the complainant would; the mailbox page it leads to."""
    page = client.get("/opvolgen")
    response = client.post("/opvolgen", data={"code": code, "csrf_token": csrf_token(page)})
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.headers["Location"] == "/opvolgen/melding"
    mailbox = client.get("/opvolgen/melding")
    assert mailbox.status_code == 200
    return mailbox


def plain(response: TestResponse) -> str:
    import html

    return html.unescape(re.sub(r"\s+", " ", response.get_data(as_text=True)))


def assert_clean_error_page(response: TestResponse, status: int) -> str:
    """A translated error page (Dutch by default), no trace, no receipt; its text."""
    assert response.status_code == status, plain(response)
    page = plain(response)
    assert '<html lang="nl"' in response.get_data(as_text=True)
    for leak in ("Traceback", "OperationalError", "psycopg", "sqlite3", "SELECT", "INSERT"):
        assert leak not in page, leak
    assert 'class="receipt-code"' not in page
    return page
