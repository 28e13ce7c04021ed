"""The print view of a case at /zaken/<id>/afdrukken: every section, no navigation, an export."""

from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa
from flask import Flask

from complaints.audit.models import AuditEvent, AuditOutcome
from complaints.audit.services import Actor
from complaints.cases.models import (
    Case,
    CaseAccessGrant,
    CaseDocument,
    DocumentKind,
    GrantRole,
    Route,
)
from complaints.cases.services import NewAttachment
from complaints.casework.services import add_note, reply_to_complainant
from complaints.crypto.models import KeySlot
from complaints.crypto.services import indexer, keystore
from complaints.directory.models import Person
from complaints.followup.services import post_message
from complaints.intake.services import Witness
from complaints.workflow.config import workflow
from tests.casework import ACCUSED, INTEGRITY, OTHER_CONFIDANT, file_case, handler, html, logged_in
from tests.conftest import Clock, app_session
from tests.factories import StaffLogin, import_demo_directory, make_account

HOSTILE = '<script>alert("x")</script>'
PDF_BODY = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture
def people(app: Flask, clock: Clock) -> dict[str, Person]:
    with app_session(app) as session:
        return import_demo_directory(session, clock())


@pytest.fixture
def confidant(app: Flask, people: dict[str, Person], clock: Clock) -> StaffLogin:
    with app_session(app) as session:
        return handler(session, people, clock())


def print_url(case_id: uuid.UUID) -> str:
    return f"/zaken/{case_id}/afdrukken"


def audit(app: Flask, action: str) -> list[AuditEvent]:
    with app_session(app) as session:
        return list(
            session.scalars(
                sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )


def full_case(
    app: Flask, people: dict[str, Person], clock: Clock, confidant: StaffLogin
) -> tuple[uuid.UUID, str]:
    """A case with something in every section: parties, a file, messages both ways, a note and
    a letter of the procedure."""
    with app_session(app) as session:
        case_id, reference, _code = file_case(
            session,
            people,
            clock(),
            description="Hij noemde mij elke ochtend bij de kapstok een aap.",
            when="sinds januari 2026",
            place="de kapstok op de derde verdieping",
            desired_outcome="Dat het ophoudt.",
            witnesses=(Witness("Daan Smit", "d.smit@bzk.example"),),
            attachments=(NewAttachment("foto-kapstok.pdf", "application/pdf", PDF_BODY),),
        )
        case = session.get(Case, case_id)
        assert case is not None
        post_message(
            session, keystore(), workflow(), case, body="Ik heb nog een getuige.", now=clock()
        )
        reply_to_complainant(
            session,
            keystore(),
            indexer(),
            workflow(),
            case_id=case_id,
            person_id=confidant.person.id,
            actor=Actor.staff(confidant.account.id),
            body="Wie is het? Dan nodig ik die uit.",
            now=clock(),
        )
        add_note(
            session,
            keystore(),
            indexer(),
            case_id=case_id,
            person_id=confidant.person.id,
            actor=Actor.staff(confidant.account.id),
            body="Intake gesprek gepland op dinsdag.",
            now=clock(),
        )
        # Listed by kind and date only: its body is never opened here.
        session.add(
            CaseDocument(
                case_id=case_id,
                kind=DocumentKind.LETTER,
                template="decision",
                body=b"sealed",
                created_at=clock(),
            )
        )
    return case_id, reference


def test_the_print_view_shows_every_section_without_navigation(
    app: Flask, people: dict[str, Person], clock: Clock, confidant: StaffLogin
) -> None:
    case_id, reference = full_case(app, people, clock, confidant)
    client = logged_in(app, confidant, clock())
    page = client.get(print_url(case_id))
    text = html(page)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    for shown in (
        'id="status"',  # summary, with the deadlines
        'data-state="submitted"',
        'data-deadline="acknowledge"',
        "Discrimination, including racism",
        "Sanne de Vries",  # the complainant (confidential: the handler knows)
        "Lotte Bakker",  # accused
        "Daan Smit",  # witness
        "Hij noemde mij elke ochtend bij de kapstok een aap.",
        "sinds januari 2026",
        "de kapstok op de derde verdieping",
        "Dat het ophoudt.",
        'data-event="submitted"',  # the history
        "Ik heb nog een getuige.",  # messages, both ways
        "Wie is het? Dan nodig ik die uit.",
        "Ingrid Hoekstra wrote",
        "Intake gesprek gepland op dinsdag.",  # notes
        "foto-kapstok.pdf",  # files by the name given, and ours
        f"{reference}-1.pdf",
        "Decision on your complaint",  # documents of the procedure
        "Printed on",
        "Confidential",
    ):
        assert shown in text, shown
    # No navigation: no site header, menu, footer, forms or links but the way back.
    for absent in ("site-header", "site-nav", "site-footer", "<form", "<nav"):
        assert absent not in text, absent
    assert re.findall(r'href="(/[^"]*)"', text) == [
        "/static/css/app.css",
        "/static/css/case-print.css",
        "/static/favicon.svg",
        f"/zaken/{case_id}",
    ]
    assert '<link rel="stylesheet" media="print" href="/static/css/case-print.css">' in text
    with client.get("/static/css/case-print.css") as stylesheet:
        assert stylesheet.status_code == 200
        assert b"[data-print-actions] { display: none" in stylesheet.data
    # Valid HTML datetime values: no microseconds.
    assert not re.search(r'datetime="[^"]*\.\d+', text)


def test_the_print_view_is_one_export_event_and_no_opening(
    app: Flask, people: dict[str, Person], clock: Clock, confidant: StaffLogin
) -> None:
    with app_session(app) as session:
        case_id, _reference, _code = file_case(session, people, clock())
    client = logged_in(app, confidant, clock())
    openings = len(audit(app, "case.open"))

    assert client.get(print_url(case_id)).status_code == 200

    [export] = audit(app, "case.export")
    assert export.outcome is AuditOutcome.SUCCESS
    assert (export.object_type, export.object_id) == ("case", str(case_id))
    assert export.actor_id == str(confidant.account.id)
    assert len(audit(app, "case.open")) == openings
    # Control: the case page itself is an opening, not an export.
    assert client.get(f"/zaken/{case_id}").status_code == 200
    assert len(audit(app, "case.open")) == openings + 1
    assert len(audit(app, "case.export")) == 1


def test_the_case_page_links_to_its_print_view(
    app: Flask, people: dict[str, Person], clock: Clock, confidant: StaffLogin
) -> None:
    with app_session(app) as session:
        case_id, _reference, _code = file_case(session, people, clock())
    page = html(logged_in(app, confidant, clock()).get(f"/zaken/{case_id}"))
    assert f'href="{print_url(case_id)}" data-print-view' in page


def test_printing_marks_no_message_read(
    app: Flask, people: dict[str, Person], clock: Clock, confidant: StaffLogin
) -> None:
    with app_session(app) as session:
        case_id, _reference, _code = file_case(session, people, clock())
        case = session.get(Case, case_id)
        assert case is not None
        post_message(session, keystore(), workflow(), case, body="Nog een vraag.", now=clock())
    client = logged_in(app, confidant, clock())
    client.get(print_url(case_id))
    assert "(new)" in html(client.get(f"/zaken/{case_id}"))
    # Control: that opening of the case page did count them as read.
    assert "(new)" not in html(client.get(f"/zaken/{case_id}"))


def test_someone_without_a_grant_is_refused_like_on_the_case_page_and_it_is_recorded(
    app: Flask, people: dict[str, Person], clock: Clock, confidant: StaffLogin
) -> None:
    with app_session(app) as session:
        case_id, reference, _code = file_case(
            session, people, clock(), description="Het geheime verhaal."
        )
        outsider = handler(session, people, clock(), OTHER_CONFIDANT)
        integrity = handler(session, people, clock(), INTEGRITY)
    for staff in (outsider, integrity):
        client = logged_in(app, staff, clock())
        refused = client.get(print_url(case_id))
        assert refused.status_code == 404
        # The same answer as for the case page and for a case that does not exist.
        assert refused.status_code == client.get(f"/zaken/{case_id}").status_code
        missing = client.get(print_url(uuid.uuid4()))
        assert missing.status_code == 404
        assert reference not in html(refused)
        assert "Het geheime verhaal." not in html(refused)
    exports = audit(app, "case.export")
    assert [(e.outcome, e.actor_id, e.details.get("reason")) for e in exports[:1]] == [
        (AuditOutcome.DENIED, str(outsider.account.id), "no_grant")
    ]
    assert all(e.outcome is AuditOutcome.DENIED for e in exports)
    # Control: the handler of the case gets it.
    assert logged_in(app, confidant, clock()).get(print_url(case_id)).status_code == 200
    assert audit(app, "case.export")[-1].outcome is AuditOutcome.SUCCESS


def test_a_person_named_as_accused_is_refused_even_with_a_grant(
    app: Flask, people: dict[str, Person], clock: Clock
) -> None:
    with app_session(app) as session:
        case_id, _reference, _code = file_case(session, people, clock())
        session.add(
            CaseAccessGrant(
                case_id=case_id,
                person_id=people[ACCUSED].id,
                role=GrantRole.MANAGER,
                granted_at=clock(),
            )
        )
        accused = make_account(session, people[ACCUSED], clock())
    assert logged_in(app, accused, clock()).get(print_url(case_id)).status_code == 404
    assert [e.details.get("reason") for e in audit(app, "case.export")] == ["accused"]


def test_a_case_whose_key_is_gone_prints_nothing_and_the_failure_is_recorded(
    app: Flask, people: dict[str, Person], clock: Clock, confidant: StaffLogin
) -> None:
    with app_session(app) as session:
        case_id, _reference, _code = file_case(
            session, people, clock(), description="Niet meer te lezen."
        )
        session.execute(sa.delete(KeySlot).where(KeySlot.case_id == case_id))
    page = logged_in(app, confidant, clock()).get(print_url(case_id))
    assert page.status_code == 500
    assert "Niet meer te lezen." not in html(page)
    assert [e.outcome for e in audit(app, "case.export")] == [AuditOutcome.FAILURE]


def test_case_content_is_printed_as_text_never_as_html(
    app: Flask, people: dict[str, Person], clock: Clock, confidant: StaffLogin
) -> None:
    with app_session(app) as session:
        case_id, _reference, _code = file_case(
            session, people, clock(), description=HOSTILE, route=Route.CONFIDANT
        )
    text = html(logged_in(app, confidant, clock()).get(print_url(case_id)))
    assert HOSTILE not in text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in text
