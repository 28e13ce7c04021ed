"""A file whose name does not match its content is kept under the right ending, and the
complainant is told so in the mailbox (the name itself stays out of the cookie)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from complaints.cases.models import Attachment
from tests.conftest import app_session
from tests.followup import Filed
from tests.followup.test_views import MAILBOX, client, filed, html, open_mailbox, png_bytes, upload

__all__ = ["client", "filed"]  # the fixtures, used by name


def test_a_text_file_named_pdf_is_stored_as_txt_and_the_mailbox_says_so(
    app: Flask, client: FlaskClient, filed: Filed
) -> None:
    page = open_mailbox(client, filed.code)
    added = upload(client, page, (b"Wat ik heb opgeschreven.\n", "notities.pdf"))
    assert added.status_code == 303
    shown = html(client.get(MAILBOX))
    assert "A file was stored with the ending “.txt”, because its content is text." in shown
    assert "notities.txt" in shown
    with app_session(app) as session:
        row = session.scalars(sa.select(Attachment)).one()
        assert row.content_type == "text/plain"
    # Control: a file whose name fits its content gets no such notice.
    page = client.get(MAILBOX)
    upload(client, page, (png_bytes(), "foto.png"))
    assert "A file was stored with the ending" not in html(client.get(MAILBOX))
