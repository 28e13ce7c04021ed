"""Uploads attacked: polyglots, lying names and types, path traversal, NUL bytes and files too
large or too many, through the complainant's mailbox (the report form uses the same check).

What is accepted must come back out harmless: as a download (``Content-Disposition:
attachment``), under ``nosniff``, with the type the content really has and a name that can
neither carry a path nor rewrite the header; images re-encoded without what was hidden in
them, PDFs without their scripts. A request larger than the limit gets a clear 413 page.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import DictionaryObject, NameObject, TextStringObject
from werkzeug.http import parse_options_header
from werkzeug.test import TestResponse

from complaints.cases.models import Attachment
from complaints.directory.models import Person
from tests.conftest import Clock, app_session
from tests.factories import import_demo_directory, log_in, make_account
from tests.followup import CONFIDANT_EMAIL, Filed, file_report
from tests.followup.test_views import open_mailbox, upload
from tests.security.conftest import body

SAFE_TYPES = {"application/pdf", "image/png", "image/jpeg", "text/plain"}


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 120, 200)).save(out, "JPEG")
    return out.getvalue()


def gif_html_polyglot() -> bytes:
    return b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00*/=1;<script>alert(1)</script>"


def pdf_with_javascript() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(72, 72)
    action = DictionaryObject(
        {
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject("app.alert('pwned');"),
        }
    )
    writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def zip_named_docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.exe", b"MZ" + b"\x00" * 64)
        archive.writestr("index.html", "<script>alert(1)</script>")
    return out.getvalue()


@pytest.fixture
def filed(app: Flask, clock: Clock) -> Filed:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        return file_report(session, people, clock())


@pytest.fixture
def handler(app: Flask, clock: Clock, filed: Filed) -> FlaskClient:
    with app_session(app) as session:
        person = session.scalars(sa.select(Person).where(Person.email == CONFIDANT_EMAIL)).one()
        staff = make_account(session, person, clock())
    client = app.test_client()
    log_in(client, staff, clock())
    return client


def stored(app: Flask) -> list[Attachment]:
    with app_session(app) as session:
        return list(session.scalars(sa.select(Attachment).order_by(Attachment.created_at)))


def download_name(response: TestResponse) -> str:
    value, options = parse_options_header(response.headers["Content-Disposition"])
    assert value == "attachment"
    return options.get("filename*", options.get("filename", ""))


def downloads(app: Flask, handler: FlaskClient, filed: Filed) -> list[TestResponse]:
    answers = []
    for row in stored(app):
        response = handler.get(f"/zaken/{filed.case_id}/bijlagen/{row.id}")
        assert response.status_code == 200, (row.id, response.status_code)
        answers.append(response)
    return answers


REFUSED = [
    ("gif/html polyglot", gif_html_polyglot(), "plaatje.gif"),
    ("zip disguised as docx", zip_named_docx(), "verslag.docx"),
    ("svg with script", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "a.svg"),
    ("svg behind a BOM", "\ufeff  <svg onload=alert(1)>".encode(), "plaatje.png"),
    ("html named pdf", b"<!doctype html><script>alert(1)</script>", "brief.pdf"),
    ("shell script", b"#!/bin/sh\nrm -rf /\n", "notities.txt"),
    ("program named jpg", b"MZ\x90\x00" + b"\x00" * 60, "foto.jpg"),
    ("NUL bytes", b"tekst\x00<script>alert(1)</script>", "tekst.txt"),
    ("damaged jpeg", b"\xff\xd8\xff\xe0" + b"<script>alert(1)</script>" * 4, "foto.jpg"),
    ("fake pdf", b"%PDF-1.7\n<script>alert(1)</script>", "scan.pdf"),
]


def test_dangerous_files_are_refused_and_nothing_is_stored(
    app: Flask, client: FlaskClient, filed: Filed
) -> None:
    page = open_mailbox(client, filed.code)
    for what, data, name in REFUSED:
        response = upload(client, page, (data, name))
        assert response.status_code == 200, what
        assert "<script" not in body(response), what
        assert stored(app) == [], what
        page = response


def test_what_is_accepted_comes_back_as_a_harmless_download(
    app: Flask, client: FlaskClient, filed: Filed, handler: FlaskClient
) -> None:
    page = open_mailbox(client, filed.code)
    smuggled = jpeg() + b"<script>alert(1)</script><?php system($_GET['c']); ?>"
    files = [
        (b"GIF89a=1;<script>alert(1)</script>", "plaatje.gif"),  # a GIF header that is text
        (smuggled, "foto.jpg"),  # a JPEG with a page appended: re-encoded, the page dropped
        (pdf_with_javascript(), "brief.pdf"),  # a PDF that runs a script: the script removed
        (b"Hallo <script>alert(1)</script>", "foto.png"),  # the name lies: stored as text
        (b"gewone tekst", "../../../../etc/passwd"),  # a path: only the name is kept
        (b"gewone tekst", "..\\..\\windows\\system32\\drivers\\etc\\hosts"),
        (b"gewone tekst", "a\"; filename*=UTF-8''evil.html; x=\".txt"),  # rewrites the header?
        (b"gewone tekst", "nul\x00byte.html\x00.txt"),
        (b"gewone tekst", "verslag-\u20ac-\u65e5\u672c-\u202egpj.exe"),  # non-Latin-1, RTL mark
    ]
    for data, name in files:
        added = upload(client, page, (data, name))
        assert added.status_code == 303, (name, body(added))
        page = client.get("/opvolgen/melding")
    rows = stored(app)
    assert len(rows) == len(files)
    answers = downloads(app, handler, filed)
    names = []
    for response in answers:
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.mimetype in SAFE_TYPES, response.mimetype
        assert "no-store" in response.headers["Cache-Control"]
        name = download_name(response)
        names.append(name)
        for bad in ("/", "\\", "..", '"', "\x00"):
            assert bad not in name, name
        assert re.search(r"\.(txt|jpg|pdf|png)$", name), name
        ending = {"text/plain": ".txt", "image/jpeg": ".jpg", "application/pdf": ".pdf"}
        assert name.endswith(ending.get(response.mimetype, ".png")), (name, response.mimetype)
    by_type = [r.mimetype for r in answers]
    assert by_type.count("text/plain") == 7
    jpeg_out = answers[by_type.index("image/jpeg")].get_data()
    assert b"<script" not in jpeg_out
    assert b"<?php" not in jpeg_out
    pdf_out = answers[by_type.index("application/pdf")].get_data()
    for running in (b"/JavaScript", b"/JS", b"/OpenAction", b"pwned"):
        assert running not in pdf_out, running
    # The download's name is of the application's own making: nothing typed reaches the header.
    assert all(re.fullmatch(r"[0-9A-Z-]+-\d+\.(txt|jpg|pdf)", n) for n in names), names


class TestSizeLimits:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"max_attachments": 2, "max_attachment_bytes": 4096}

    def test_too_large_too_many_and_a_request_over_the_limit(
        self, app: Flask, client: FlaskClient, filed: Filed
    ) -> None:
        page = open_mailbox(client, filed.code)
        client.set_cookie("taal", "en")
        large = upload(client, page, (b"a" * 4097, "groot.txt"))
        assert "“groot.txt” is too large." in body(large)
        many = upload(client, large, *[(b"tekst", f"{i}.txt") for i in range(3)])
        assert "at most 2 files" in body(many)
        assert stored(app) == []
        # Above the request limit: refused before anything is read, with a page that says so.
        limit = app.config["MAX_CONTENT_LENGTH"]
        huge = upload(client, many, (b"a" * (limit + 1), "enorm.txt"))
        assert huge.status_code == 413
        assert "Too large" in body(huge)
        assert "What you sent is too large" in body(huge)
        assert huge.headers["Content-Security-Policy"]
        assert stored(app) == []
        # The mailbox still works afterwards.
        assert client.get("/opvolgen/melding").status_code == 200
