"""The case page: what a handler sees, who is refused (404), and what is recorded."""

from __future__ import annotations

import html as htmllib
import re
import uuid

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from complaints.audit.models import ActorKind, AuditEvent, AuditOutcome
from complaints.cases.models import (
    Attachment,
    AuthorKind,
    Case,
    CaseAccessGrant,
    CaseEvent,
    CaseNote,
    Consent,
    ConsentKind,
    Disclosure,
    GrantRole,
    Message,
    Route,
)
from complaints.cases.services import NewAttachment
from complaints.crypto.services import case_cipher, keystore
from complaints.directory.models import Person
from complaints.followup.services import post_message
from complaints.intake.services import AccusedPerson, Witness
from complaints.workflow.config import workflow
from tests.casework import (
    ACCUSED,
    CONFIDANT,
    INTEGRITY,
    OTHER_CONFIDANT,
    file_case,
    handler,
    html,
    logged_in,
    post_form,
)
from tests.conftest import Clock, app_session
from tests.factories import StaffLogin, csrf_token, import_demo_directory, make_account

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
PDF_BODY = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture
def people(app: Flask, clock: Clock) -> dict[str, Person]:
    with app_session(app) as session:
        return import_demo_directory(session, clock())


@pytest.fixture
def confidant(app: Flask, people: dict[str, Person], clock: Clock) -> StaffLogin:
    with app_session(app) as session:
        return handler(session, people, clock())


def case_url(case_id: uuid.UUID) -> str:
    return f"/zaken/{case_id}"


def audit(app: Flask, action: str) -> list[AuditEvent]:
    with app_session(app) as session:
        return list(
            session.scalars(
                sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )


def without_tags(text: str) -> str:
    """The page's text as read: tags gone, entities decoded, spaces collapsed."""
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def without_tokens(text: str) -> str:
    return re.sub(r'value="[^"]*"', 'value=""', text)


def open_mailbox(app: Flask, code: str) -> str:
    """The complainant's mailbox as the complainant sees it, opened with the receipt code."""
    browser = app.test_client()
    browser.set_cookie("taal", "en")
    page = browser.get("/opvolgen")
    response = browser.post("/opvolgen", data={"code": code, "csrf_token": csrf_token(page)})
    assert response.status_code == 303
    mailbox = browser.get("/opvolgen/melding")
    assert mailbox.status_code == 200
    return html(mailbox)


# What the page shows ---------------------------------------------------------------------------


def test_the_accused_persons_relation_is_shown_in_the_pages_language(
    app: Flask, people: dict[str, Person], clock: Clock, confidant: StaffLogin
) -> None:
    """The form stores a relation as a value ("colleague"); a counsellor filing for someone may
    type one in words. The page names a value in its language and shows typed words as typed."""
    accused = (
        AccusedPerson("Lotte Bakker", "colleague", people[ACCUSED].id),
        AccusedPerson("Aylin Demir", "manager", people["a.demir@bzk.example"].id),
        AccusedPerson("Daan Smit", "buurman van kantoor"),
    )
    with app_session(app) as session:
        case_id, _reference, _code = file_case(session, people, clock(), accused=accused)
    client = logged_in(app, confidant, clock())
    english = without_tags(html(client.get(case_url(case_id))))
    client.set_cookie("taal", "nl")
    dutch = without_tags(html(client.get(case_url(case_id))))
    assert "Lotte Bakker – collega" in dutch
    assert "Aylin Demir – leidinggevende van de melder" in dutch
    assert "Daan Smit – buurman van kantoor" in dutch
    assert "Lotte Bakker – colleague" in english
    assert "Aylin Demir – the complainant's manager" in english
    # Control: the stored value, which the page used to show as it is, is not on the Dutch page.
    assert "– colleague" not in dutch
    assert "– manager" not in dutch


STATE_SHOWN = re.compile(r'<dd data-state="(\w+)">(.*?)</dd>', re.S)
# How the page wrote a final state before: its name, and then that it was closed.
OLD_STATE = '{{ state_label }}{% if not is_open %} ({{ _("closed") }}){% endif %}'


@pytest.mark.parametrize(("state", "shown"), [("closed", "Gesloten"), ("withdrawn", "Ingetrokken")])
def test_a_final_state_is_named_once(
    app: Flask,
    people: dict[str, Person],
    clock: Clock,
    confidant: StaffLogin,
    state: str,
    shown: str,
) -> None:
    with app_session(app) as session:
        case_id, _reference, _code = file_case(session, people, clock())
        case = session.get(Case, case_id)
        assert case is not None
        case.state = state  # the steps that lead here are tests/casework/test_steps.py's
    client = logged_in(app, confidant, clock())
    client.set_cookie("taal", "nl")
    found = STATE_SHOWN.findall(html(client.get(case_url(case_id))))
    assert found == [(state, shown)]
    # Control: the old fragment, which named the state and then "closed" again ("Gesloten
    # (gesloten)"; its Dutch word is gone with it), is not what the check accepts.
    assert old_state(app, shown) == f"{shown} (closed)" != shown


def old_state(app: Flask, label: str) -> str:
    with app.test_request_context("/"):
        return app.jinja_env.from_string(OLD_STATE).render(state_label=label, is_open=False)


@pytest.mark.parametrize("disclosure", list(Disclosure))
def test_the_case_page_shows_the_report_as_filed(
    app: Flask,
    people: dict[str, Person],
    clock: Clock,
    confidant: StaffLogin,
    disclosure: Disclosure,
) -> None:
    with app_session(app) as session:
        case_id, reference, _code = file_case(
            session,
            people,
            clock(),
            disclosure=disclosure,
            description="Hij zei dat ik terug moest naar mijn eigen land.",
            when="begin maart 2026",
            place="kantine",
            desired_outcome="Excuses en een gesprek.",
            witnesses=(Witness("Daan Smit", "d.smit@bzk.example"),),
        )
    client = logged_in(app, confidant, clock())
    page = client.get(case_url(case_id))
    text = html(page)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    for shown in (
        reference,
        "Confidential counsellor",  # the route
        'data-state="submitted"',
        "Discrimination, including racism",
        "Race, ethnic origin or skin colour",
        "begin maart 2026",
        "kantine",
        "Hij zei dat ik terug moest naar mijn eigen land.",
        "Excuses en een gesprek.",
        "Lotte Bakker",  # accused
        "Daan Smit",  # witness, with how to reach them
        "d.smit@bzk.example",
        'data-deadline="acknowledge"',
        '<time datetime="2026-03-09">',
        "Report filed",  # the history
        'data-consent="referral"',
    ):
        assert shown in text, shown
    if disclosure is Disclosure.ANONYMOUS:
        assert 'data-complainant="anonymous"' in text
        assert "Sanne de Vries" not in text
        assert "s.devries@bzk.example" not in text
        assert 'data-consent="share_identity"' not in text  # nothing to share
    else:
        assert f'data-complainant="{disclosure.value}"' in text
        assert "Sanne de Vries" in text
        assert "s.devries@bzk.example" in text
        assert "06-12345678" in text
    if disclosure is Disclosure.CONFIDENTIAL:
        assert "do not share the name without the complainant" in text
        assert 'data-consent="share_identity" data-given="no"' in text


def test_consents_show_whether_they_were_given(
    app: Flask, people: dict[str, Person], clock: Clock, confidant: StaffLogin
) -> None:
    with app_session(app) as session:
        case_id, _reference, _code = file_case(session, people, clock())
        session.add(Consent(case_id=case_id, kind=ConsentKind.REFERRAL, given_at=clock()))
    text = html(logged_in(app, confidant, clock()).get(case_url(case_id)))
    assert 'data-consent="referral" data-given="yes"' in text
    assert "given on 2 March 2026" in text
    assert 'data-consent="share_identity" data-given="no"' in text


def test_case_content_is_shown_as_text_never_as_html(
    app: Flask, people: dict[str, Person], clock: Clock, confidant: StaffLogin
) -> None:
    with app_session(app) as session:
        case_id, _reference, _code = file_case(
            session,
            people,
            clock(),
            description=HOSTILE,
            when=HOSTILE[:100],
            place=HOSTILE[:100],
            desired_outcome=HOSTILE,
            witnesses=(Witness(HOSTILE[:100], HOSTILE[:100]),),
            attachments=(NewAttachment(HOSTILE[:100] + ".pdf", "application/pdf", PDF_BODY),),
            name=HOSTILE[:100],
        )
        # A history entry with a free-text remark (as a referral writes one).
        event_id = uuid.uuid4()
        session.add(
            CaseEvent(
                id=event_id,
                case_id=case_id,
                occurred_at=clock(),
                kind="referred",
                remark=case_cipher(session, keystore(), case_id).seal_text(
                    "case_events", "remark", event_id, HOSTILE
                ),
            )
        )
    client = logged_in(app, confidant, clock())
    page = client.get(case_url(case_id))
    assert "Referral between routes" in html(page)
    post_form(client, page, f"{case_url(case_id)}/notitie", note=HOSTILE)
    post_form(client, page, f"{case_url(case_id)}/bericht", message=HOSTILE)
    text = html(client.get(case_url(case_id)))
    assert "<script>" not in text
    assert "<img src=x" not in text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in text


# Who may open it -------------------------------------------------------------------------------


def test_an_unknown_id_and_a_case_without_a_grant_give_the_same_404(
    app: Flask, people: dict[str, Person], clock: Clock, confidant: StaffLogin
) -> None:
    with app_session(app) as session:
        own_id, _reference, _code = file_case(session, people, clock())
        # Reaches the integrity coordinator only.
        other_id, other_reference, _code = file_case(
            session, people, clock(), route=Route.INTEGRITY, description="Geheim verhaal"
        )
    client = logged_in(app, confidant, clock())
    assert client.get(case_url(own_id)).status_code == 200
    missing = client.get(case_url(uuid.uuid4()))
    foreign = client.get(case_url(other_id))
    assert missing.status_code == foreign.status_code == 404
    assert without_tokens(html(missing)) == without_tokens(html(foreign))
    assert other_reference not in html(foreign)
    assert "Geheim verhaal" not in html(foreign)
    assert client.get("/zaken/not-a-uuid").status_code == 404
    # Every refusal is on record, with who tried.
    denied = [e for e in audit(app, "case.open") if e.outcome is AuditOutcome.DENIED]
    assert [(e.object_id, e.actor_id) for e in denied][-1] == (
        str(other_id),
        str(confidant.account.id),
    )


def test_a_handler_without_a_grant_gets_404_everywhere(
    app: Flask, people: dict[str, Person], clock: Clock
) -> None:
    with app_session(app) as session:
        case_id, _reference, _code = file_case(
            session,
            people,
            clock(),
            attachments=(NewAttachment("bewijs.pdf", "application/pdf", PDF_BODY),),
        )
        attachment_id = session.scalars(
            sa.select(Attachment.id).where(Attachment.case_id == case_id)
        ).one()
        outsider = handler(session, people, clock(), OTHER_CONFIDANT)
        integrity = handler(session, people, clock(), INTEGRITY)
    for staff in (outsider, integrity):
        client = logged_in(app, staff, clock())
        own_page = client.get("/zaken")  # a token from their own session
        assert client.get(case_url(case_id)).status_code == 404
        assert client.get(f"{case_url(case_id)}/bijlagen/{attachment_id}").status_code == 404
        for path, field in (("bericht", "message"), ("notitie", "note")):
            response = post_form(client, own_page, f"{case_url(case_id)}/{path}", **{field: "x"})
            assert response.status_code == 404
        step = post_form(client, own_page, f"{case_url(case_id)}/stap/acknowledge", version="1")
        assert step.status_code == 404
    with app_session(app) as session:
        assert session.scalars(sa.select(Message).where(Message.case_id == case_id)).all() == []
        assert session.scalars(sa.select(CaseNote).where(CaseNote.case_id == case_id)).all() == []
    for action in ("case.replied", "case.note_added", "case.attachment_downloaded"):
        refusals = audit(app, action)
        assert len(refusals) == 2, action
        assert all(e.outcome is AuditOutcome.DENIED for e in refusals)


def test_a_revoked_grant_closes_the_case_at_once(
    app: Flask, people: dict[str, Person], clock: Clock, confidant: StaffLogin
) -> None:
    with app_session(app) as session:
        case_id, _reference, _code = file_case(session, people, clock())
    client = logged_in(app, confidant, clock())
    page = client.get(case_url(case_id))
    assert page.status_code == 200
    with app_session(app) as session:
        grant = session.scalars(
            sa.select(CaseAccessGrant).where(CaseAccessGrant.case_id == case_id)
        ).one()
        grant.revoked_at = clock()
        grant.revoke_reason = "handover"
    assert client.get(case_url(case_id)).status_code == 404
    # A form loaded before the revocation does not work after it either.
    assert post_form(client, page, f"{case_url(case_id)}/bericht", message="x").status_code == 404


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
    client = logged_in(app, accused, clock())
    own_page = client.get("/account")
    assert client.get(case_url(case_id)).status_code == 404
    assert post_form(client, own_page, f"{case_url(case_id)}/notitie", note="x").status_code == 404
    reasons = [e.details.get("reason") for e in audit(app, "case.open")]
    assert "accused" in reasons
    assert [e.details.get("reason") for e in audit(app, "case.note_added")] == ["accused"]


def test_every_opening_is_audited(
    app: Flask, people: dict[str, Person], clock: Clock, confidant: StaffLogin
) -> None:
    with app_session(app) as session:
        case_id, _reference, _code = file_case(session, people, clock())
    client = logged_in(app, confidant, clock())
    for _ in range(3):
        assert client.get(case_url(case_id)).status_code == 200
    openings = [e for e in audit(app, "case.open") if e.actor_kind is ActorKind.STAFF]
    assert len(openings) == 3
    for event in openings:
        assert event.outcome is AuditOutcome.SUCCESS
        assert event.actor_id == str(confidant.account.id)
        assert event.object_type == "case"
        assert event.object_id == str(case_id)


# Files -----------------------------------------------------------------------------------------


def test_attachments_download_under_a_name_the_server_chose(
    app: Flask, people: dict[str, Person], clock: Clock, confidant: StaffLogin
) -> None:
    with app_session(app) as session:
        case_id, reference, _code = file_case(
            session,
            people,
            clock(),
            attachments=(
                NewAttachment('../../etc/"passwd".pdf', "application/pdf", PDF_BODY),
                NewAttachment("notities.html", "text/plain", b"<script>alert(1)</script>"),
                # A type the upload check would never let in: served as opaque bytes.
                NewAttachment("plaatje.svg", "image/svg+xml", b"<svg onload=alert(1)/>"),
            ),
        )
        # Numbered in the order they were stored (ties broken by id, so the order is stable).
        stored = session.execute(
            sa.select(Attachment.id, Attachment.content_type)
            .where(Attachment.case_id == case_id)
            .order_by(Attachment.created_at, Attachment.id)
        ).all()
    client = logged_in(app, confidant, clock())
    page = html(client.get(case_url(case_id)))
    assert "../../etc/&#34;passwd&#34;.pdf" in page  # the given name, as text
    served = {
        "application/pdf": ("pdf", "application/pdf", PDF_BODY),
        "text/plain": ("txt", "text/plain", b"<script>alert(1)</script>"),
        "image/svg+xml": ("bin", "application/octet-stream", b"<svg onload=alert(1)/>"),
    }
    ids = [row.id for row in stored]
    expected = [
        (row.id, f"{reference}-{n}.{served[row.content_type][0]}", *served[row.content_type][1:])
        for n, row in enumerate(stored, start=1)
    ]
    for attachment_id, name, content_type, body in expected:
        assert f"/zaken/{case_id}/bijlagen/{attachment_id}" in page
        assert f"Download {name}" in page
        response = client.get(f"/zaken/{case_id}/bijlagen/{attachment_id}")
        assert response.status_code == 200
        assert response.headers["Content-Disposition"] == f'attachment; filename="{name}"'
        assert response.headers["Content-Type"] == content_type
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.data == body
    downloads = audit(app, "case.attachment_downloaded")
    assert [e.details["attachment_id"] for e in downloads] == [str(i) for i in ids]
    assert all(e.actor_id == str(confidant.account.id) for e in downloads)


def test_an_attachment_of_another_case_is_not_found(
    app: Flask, people: dict[str, Person], clock: Clock, confidant: StaffLogin
) -> None:
    with app_session(app) as session:
        own_id, _reference, _code = file_case(
            session,
            people,
            clock(),
            attachments=(NewAttachment("mijn.pdf", "application/pdf", PDF_BODY),),
        )
        # Both cases are this handler's: an id from the one must not work under the other.
        second_id, _reference, _code = file_case(
            session,
            people,
            clock(),
            attachments=(NewAttachment("ander.pdf", "application/pdf", b"%PDF-1.4 other"),),
        )
        foreign_id, _reference, _code = file_case(
            session,
            people,
            clock(),
            route=Route.INTEGRITY,
            attachments=(NewAttachment("vreemd.pdf", "application/pdf", b"%PDF-1.4 foreign"),),
        )
        second_file, foreign_file = (
            session.scalars(sa.select(Attachment.id).where(Attachment.case_id == case)).one()
            for case in (second_id, foreign_id)
        )
    client = logged_in(app, confidant, clock())
    for attempt in (
        f"/zaken/{own_id}/bijlagen/{second_file}",
        f"/zaken/{own_id}/bijlagen/{foreign_file}",
        f"/zaken/{foreign_id}/bijlagen/{foreign_file}",
        f"/zaken/{own_id}/bijlagen/{uuid.uuid4()}",
    ):
        response = client.get(attempt)
        assert response.status_code == 404, attempt
        assert "Content-Disposition" not in response.headers
    refusals = audit(app, "case.attachment_downloaded")
    assert len(refusals) == 4
    assert all(e.outcome is AuditOutcome.DENIED for e in refusals)


# Messages and notes ----------------------------------------------------------------------------


def test_a_reply_reaches_the_mailbox_and_settles_the_complainants_messages(
    app: Flask, people: dict[str, Person], clock: Clock, confidant: StaffLogin
) -> None:

    with app_session(app) as session:
        case_id, _reference, code = file_case(session, people, clock())
        case = session.get(Case, case_id)
        assert case is not None
        post_message(
            session, keystore(), workflow(), case, body="Hoe gaat het nu verder?", now=clock()
        )
    client = logged_in(app, confidant, clock())
    page = client.get(case_url(case_id))
    assert "Hoe gaat het nu verder?" in html(page)
    assert "(new)" in html(page)
    reply = "Ik bel u morgen om tien uur, als dat past."
    response = post_form(client, page, f"{case_url(case_id)}/bericht", message=reply)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"{case_url(case_id)}#berichten")
    again = html(client.get(case_url(case_id)))
    assert reply in again
    assert "(new)" not in again
    assert "Ingrid Hoekstra wrote" in again

    with app_session(app) as session:
        messages = session.scalars(
            sa.select(Message).where(Message.case_id == case_id).order_by(Message.created_at)
        ).all()
        assert [m.author_kind for m in messages] == [AuthorKind.COMPLAINANT, AuthorKind.HANDLER]
        assert messages[0].read_at is not None
        assert messages[1].author_person_id == people[CONFIDANT].id
        assert reply.encode() not in messages[1].body  # stored encrypted
    assert [e.outcome for e in audit(app, "case.replied")] == [AuditOutcome.SUCCESS]

    mailbox = open_mailbox(app, code)
    assert reply in mailbox
    assert "The handler wrote" in mailbox


def test_internal_notes_never_reach_the_mailbox(
    app: Flask, people: dict[str, Person], clock: Clock, confidant: StaffLogin
) -> None:
    with app_session(app) as session:
        case_id, _reference, code = file_case(session, people, clock())
    client = logged_in(app, confidant, clock())
    page = client.get(case_url(case_id))
    note = "Intern: de leidinggevende is al eerder gewaarschuwd."
    response = post_form(client, page, f"{case_url(case_id)}/notitie", note=note)
    assert response.status_code == 303
    assert note in html(client.get(case_url(case_id)))
    with app_session(app) as session:
        stored = session.scalars(sa.select(CaseNote).where(CaseNote.case_id == case_id)).one()
        assert note.encode() not in stored.body
        assert stored.author_person_id == people[CONFIDANT].id
        assert session.scalars(sa.select(Message).where(Message.case_id == case_id)).all() == []
    assert [e.outcome for e in audit(app, "case.note_added")] == [AuditOutcome.SUCCESS]
    mailbox = open_mailbox(app, code)
    assert note not in mailbox
    assert "eerder gewaarschuwd" not in mailbox


def test_empty_messages_and_notes_are_refused_on_the_page(
    app: Flask, people: dict[str, Person], clock: Clock, confidant: StaffLogin
) -> None:
    with app_session(app) as session:
        case_id, _reference, _code = file_case(session, people, clock())
    client = logged_in(app, confidant, clock())
    page = client.get(case_url(case_id))
    for path, field, message in (
        ("bericht", "message", "Write your message before you send it."),
        ("notitie", "note", "Write the note before you save it."),
    ):
        response = post_form(client, page, f"{case_url(case_id)}/{path}", **{field: "   "})
        assert response.status_code == 200
        text = html(response)
        assert message in text
        assert f'href="#{field}"' in text  # the error summary links to the field
        assert "<title>Error:" in text
    with app_session(app) as session:
        assert session.scalars(sa.select(Message).where(Message.case_id == case_id)).all() == []


def test_forged_forms_are_refused(
    app: Flask, people: dict[str, Person], clock: Clock, confidant: StaffLogin
) -> None:
    with app_session(app) as session:
        case_id, _reference, _code = file_case(session, people, clock())
        attacker = handler(session, people, clock(), OTHER_CONFIDANT)
    client = logged_in(app, confidant, clock())
    page = client.get(case_url(case_id))
    # A token from someone else's session, and none at all.
    other_token = csrf_token(logged_in(app, attacker, clock()).get("/zaken"))
    for token in (other_token, "", None):
        for path, data in (
            ("bericht", {"message": "Gestuurd door een aanvaller"}),
            ("notitie", {"note": "Notitie van een aanvaller"}),
            ("stap/acknowledge", {"acknowledge-version": "1"}),
        ):
            if token is not None:
                data = {**data, "csrf_token": token}
            response = client.post(f"{case_url(case_id)}/{path}", data=data)
            assert response.status_code == 400, (path, token)
            assert "This form has expired" in html(response)
    # A cross-site request is refused even before the token is looked at.
    cross_site = client.post(
        f"{case_url(case_id)}/bericht",
        data={"message": "x", "csrf_token": csrf_token(page)},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert cross_site.status_code == 403
    with app_session(app) as session:
        assert session.scalars(sa.select(Message).where(Message.case_id == case_id)).all() == []
        assert session.scalars(sa.select(CaseNote).where(CaseNote.case_id == case_id)).all() == []
    assert 'data-state="submitted"' in html(client.get(case_url(case_id)))


def test_the_case_pages_need_a_log_in(app: Flask, people: dict[str, Person], clock: Clock) -> None:
    with app_session(app) as session:
        case_id, _reference, _code = file_case(session, people, clock())
    anonymous: FlaskClient = app.test_client()
    for path in ("/zaken", case_url(case_id), f"{case_url(case_id)}/bijlagen/{uuid.uuid4()}"):
        response = anonymous.get(path)
        assert response.status_code == 302
        assert "/aanmelden" in response.headers["Location"]


def test_the_case_page_links_to_the_procedure_pages_of_the_handlers_role(
    app: Flask, people: dict[str, Person], clock: Clock, confidant: StaffLogin
) -> None:
    with app_session(app) as session:
        confidant_case, _reference, _code = file_case(session, people, clock())
        committee_case, _reference, _code = file_case(
            session, people, clock(), route=Route.COMMITTEE
        )
        secretary = handler(session, people, clock(), "w.deboer@bzk.example")
    text = html(logged_in(app, confidant, clock()).get(case_url(confidant_case)))
    assert f'href="/zaken/{confidant_case}/doorverwijzen">Refer to another route' in text
    assert "/commissie" not in text
    text = html(logged_in(app, secretary, clock()).get(case_url(committee_case)))
    assert f'href="/zaken/{committee_case}/commissie">Committee procedure' in text
    assert "/doorverwijzen" not in text
