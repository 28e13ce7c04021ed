"""The committee page through the web, used (and attacked) the way people would: real formal
complaints filed through the intake service, the demo secretariat and members logging in."""

from __future__ import annotations

import json
import re
import uuid

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from complaints.audit.models import AuditEvent, AuditOutcome
from complaints.cases.models import (
    Case,
    CaseAccessGrant,
    CaseDocument,
    CaseEvent,
    Deadline,
    DocumentKind,
    GrantRole,
)
from complaints.crypto.services import case_cipher, keystore
from complaints.directory.models import Person
from complaints.intake.services import AccusedPerson
from complaints.notify.models import Notification
from complaints.stats.models import StatEvent
from tests.casework.test_case_view import STATE_SHOWN, old_state
from tests.committee import (
    ACCUSED,
    AMRANI,
    CONFIDANT,
    KOK,
    LAMMERS,
    SECOND_SECRETARY,
    SECRETARY,
    TO_HEARING,
    Complaint,
    advance,
    browser,
    file_complaint,
    logged_in,
    page_url,
    post_form,
)
from tests.conftest import Clock, app_session
from tests.factories import csrf_token, import_demo_directory

WITNESS_IDENTITY = "Pieter Visser, toestel 4411"
HEARING_TEXT = "Verweerster erkent dat zij in het overleg stemverheffing gebruikte."
STATEMENT_TEXT = "Ik zag dat de klaagster in elk overleg werd onderbroken."


# Set-up ----------------------------------------------------------------------------------------


@pytest.fixture
def people(app: Flask, clock: Clock) -> dict[str, Person]:
    with app_session(app) as session:
        return import_demo_directory(session, clock())


@pytest.fixture
def complaint(app: Flask, clock: Clock, people: dict[str, Person]) -> Complaint:
    with app_session(app) as session:
        return file_complaint(session, people, clock())


@pytest.fixture
def secretary(app: Flask, clock: Clock, complaint: Complaint) -> FlaskClient:
    return logged_in(app, SECRETARY, clock())


def html(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def url(complaint: Complaint, path: str = "") -> str:
    return page_url(complaint.case_id) + path


def person_id(people: dict[str, Person], email: str) -> int:
    return people[email].id


def grants(app: Flask, complaint: Complaint, role: GrantRole) -> list[CaseAccessGrant]:
    with app_session(app) as session:
        return list(
            session.scalars(
                sa.select(CaseAccessGrant)
                .where(CaseAccessGrant.case_id == complaint.case_id, CaseAccessGrant.role == role)
                .order_by(CaseAccessGrant.id)
            )
        )


def audit(app: Flask, action: str) -> list[AuditEvent]:
    with app_session(app) as session:
        return list(
            session.scalars(
                sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )


def load_case(app: Flask, complaint: Complaint) -> Case:
    with app_session(app) as session:
        case = session.get(Case, complaint.case_id)
        assert case is not None
        return case


def documents(app: Flask, complaint: Complaint, kind: DocumentKind) -> list[CaseDocument]:
    with app_session(app) as session:
        return list(
            session.scalars(
                sa.select(CaseDocument).where(
                    CaseDocument.case_id == complaint.case_id, CaseDocument.kind == kind
                )
            )
        )


def assign(client: FlaskClient, complaint: Complaint, member_id: int) -> TestResponse:
    return post_form(
        client, url(complaint, "/leden"), "assign", url(complaint), person_id=str(member_id)
    )


def assigned(
    app: Flask, clock: Clock, secretary: FlaskClient, complaint: Complaint, *emails: str
) -> None:
    with app_session(app) as session:
        ids = [session.scalar(sa.select(Person.id).where(Person.email == e)) for e in emails]
    for member_id in ids:
        assert member_id is not None
        response = assign(secretary, complaint, member_id)
        assert response.status_code == 303, html(response)


def to_hearing(app: Flask, clock: Clock, people: dict[str, Person], complaint: Complaint) -> None:
    with app_session(app) as session:
        advance(session, complaint.case_id, people[SECRETARY], clock(), *TO_HEARING)


def extra_grant(
    app: Flask, clock: Clock, complaint: Complaint, email: str, role: GrantRole
) -> None:
    """A grant of another kind on the same case (as a referral or handover might leave)."""
    with app_session(app) as session:
        person = session.scalar(sa.select(Person).where(Person.email == email))
        assert person is not None
        session.add(
            CaseAccessGrant(
                case_id=complaint.case_id, person_id=person.id, role=role, granted_at=clock()
            )
        )


def raw_column(app: Flask, sql: str) -> list[bytes]:
    with app_session(app) as session:
        return [bytes(v) for v in session.execute(sa.text(sql)).scalars() if v is not None]


# Who gets in -----------------------------------------------------------------------------------


def test_the_secretary_sees_the_committee_page(
    app: Flask, secretary: FlaskClient, complaint: Complaint, clock: Clock
) -> None:
    page = secretary.get(url(complaint))
    text = html(page)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert f"Committee procedure, case {complaint.reference}" in text
    for name in ("Wim de Boer", "Noor Haddou"):
        assert name in text
    members = re.search(r'<select[^>]*id="assign-person_id".*?</select>', text, re.S)
    assert members is not None
    for name in ("Annemiek Kok", "Youssef Amrani", "Eva Lammers"):
        assert name in members.group(0)
    assert 'name="assign-csrf_token"' in text
    opened = audit(app, "case.open")
    assert opened[-1].outcome is AuditOutcome.SUCCESS
    assert opened[-1].object_id == str(complaint.case_id)


def test_a_closed_complaint_names_its_state_once(
    app: Flask, secretary: FlaskClient, complaint: Complaint
) -> None:
    with app_session(app) as session:
        case = session.get(Case, complaint.case_id)
        assert case is not None
        case.state = "closed"  # the way there is test_services.py's
    secretary.set_cookie("taal", "nl")
    found = STATE_SHOWN.findall(html(secretary.get(url(complaint))))
    assert found == [("closed", "Gesloten")]
    # Control: the old fragment ("Gesloten (gesloten)") is not what the check accepts.
    assert old_state(app, "Gesloten") == "Gesloten (closed)"


def test_others_get_a_404_even_with_a_grant_on_the_same_case(
    app: Flask, clock: Clock, complaint: Complaint
) -> None:
    extra_grant(app, clock, complaint, CONFIDANT, GrantRole.CONFIDANT)
    confidant = logged_in(app, CONFIDANT, clock())
    member_without_grant = logged_in(app, KOK, clock())
    for client in (confidant, member_without_grant):
        assert client.get(url(complaint)).status_code == 404
        token = csrf_token(client.get("/"))
        response = client.post(
            url(complaint, "/hoorzitting"),
            data={
                "hearing-csrf_token": token,
                "hearing-heard": "accused",
                "hearing-heard_on": "2026-03-20",
                "hearing-report": HEARING_TEXT,
            },
        )
        assert response.status_code == 404
        response = client.post(
            url(complaint, "/leden"),
            data={"assign-csrf_token": token, "assign-person_id": str(uuid.uuid4().int % 100)},
        )
        assert response.status_code == 404
    assert documents(app, complaint, DocumentKind.HEARING_REPORT) == []
    assert len(grants(app, complaint, GrantRole.COMMITTEE_MEMBER)) == 0
    denied = [e for e in audit(app, "case.open") if e.outcome is AuditOutcome.DENIED]
    assert len(denied) == 6
    assert all(e.details["reason"] == "no_committee_grant" for e in denied)


def test_a_secretary_grant_on_another_route_or_another_case_id_gives_404(
    app: Flask, clock: Clock, people: dict[str, Person], complaint: Complaint
) -> None:
    from tests.followup import file_report

    with app_session(app) as session:
        other = file_report(session, people, clock())  # confidant route
        session.add(
            CaseAccessGrant(
                case_id=other.case_id,
                person_id=people[SECRETARY].id,
                role=GrantRole.COMMITTEE_SECRETARY,
                granted_at=clock(),
            )
        )
    client = logged_in(app, SECRETARY, clock())
    assert client.get(page_url(other.case_id)).status_code == 404
    assert client.get(page_url(uuid.uuid4())).status_code == 404
    assert client.get("/zaken/not-a-uuid/commissie").status_code == 404


def test_the_page_needs_a_log_in(app: Flask, complaint: Complaint) -> None:
    response = browser(app).get(url(complaint))
    assert response.status_code == 302
    assert "/aanmelden" in response.headers["Location"]


def test_forms_without_a_csrf_token_are_refused(
    app: Flask, secretary: FlaskClient, complaint: Complaint, people: dict[str, Person]
) -> None:
    response = secretary.post(
        url(complaint, "/leden"), data={"assign-person_id": str(people[KOK].id)}
    )
    assert response.status_code == 400
    forged = secretary.post(
        url(complaint, "/leden"),
        data={"assign-person_id": str(people[KOK].id), "assign-csrf_token": "forged"},
    )
    assert forged.status_code == 400
    assert grants(app, complaint, GrantRole.COMMITTEE_MEMBER) == []


# Members ---------------------------------------------------------------------------------------


def test_the_secretary_assigns_a_member_who_then_has_access(
    app: Flask,
    clock: Clock,
    secretary: FlaskClient,
    complaint: Complaint,
    people: dict[str, Person],
) -> None:
    response = assign(secretary, complaint, people[KOK].id)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/commissie#leden")
    [grant] = grants(app, complaint, GrantRole.COMMITTEE_MEMBER)
    assert (grant.person_id, grant.granted_by_person_id, grant.revoked_at) == (
        people[KOK].id,
        people[SECRETARY].id,
        None,
    )
    [granted] = [
        e
        for e in audit(app, "case.access_granted")
        if e.details.get("basis") == "committee_assignment"
    ]
    assert granted.details["person_id"] == people[KOK].id
    assert granted.details["role"] == "committee_member"
    with app_session(app) as session:
        mail = session.scalars(
            sa.select(Notification).where(Notification.recipient_person_id == people[KOK].id)
        ).one()
        assert mail.kind == "case_assigned"
        assert mail.params == {"reference": complaint.reference}
        event = session.scalars(
            sa.select(CaseEvent).where(CaseEvent.kind == "member_assigned")
        ).one()
        assert event.actor_person_id == people[SECRETARY].id
        assert event.remark is not None
        assert b"Annemiek" not in event.remark
    page = html(secretary.get(url(complaint)))
    assert "Annemiek Kok" in page.split('id="assign-person_id"')[0]  # in the table now
    member = logged_in(app, KOK, clock())
    own = member.get(url(complaint))
    assert own.status_code == 200
    assert "Committee member" in html(own)
    assert 'id="assign-person_id"' not in html(own)  # only the secretary assigns


def test_a_member_cannot_assign_or_exclude_members(
    app: Flask,
    clock: Clock,
    secretary: FlaskClient,
    complaint: Complaint,
    people: dict[str, Person],
) -> None:
    assigned(app, clock, secretary, complaint, KOK, AMRANI)
    member = logged_in(app, KOK, clock())
    response = assign(member, complaint, people[LAMMERS].id)
    assert response.status_code == 409
    assert "Only the committee secretary can do this." in html(response)
    amrani = next(
        g
        for g in grants(app, complaint, GrantRole.COMMITTEE_MEMBER)
        if g.person_id == people[AMRANI].id
    )
    response = post_form(
        member,
        url(complaint, "/leden/uitsluiten"),
        "exclude",
        url(complaint),
        grant_id=str(amrani.id),
        exclusion="wraking",
        reason="Ik vind hem partijdig.",
    )
    assert response.status_code == 409
    assert "Only the committee secretary can do this." in html(response)
    assert [g.person_id for g in grants(app, complaint, GrantRole.COMMITTEE_MEMBER)] == [
        people[KOK].id,
        people[AMRANI].id,
    ]
    assert all(g.revoked_at is None for g in grants(app, complaint, GrantRole.COMMITTEE_MEMBER))


def test_a_member_named_as_accused_is_never_offered_nor_assigned(
    app: Flask, clock: Clock, people: dict[str, Person]
) -> None:
    with app_session(app) as session:
        complaint = file_complaint(
            session,
            people,
            clock(),
            accused=(AccusedPerson("Youssef Amrani", "commissielid", people[AMRANI].id),),
        )
    secretary = logged_in(app, SECRETARY, clock())
    page = html(secretary.get(url(complaint)))
    options = re.search(r'<select[^>]*id="assign-person_id".*?</select>', page, re.S)
    assert options is not None
    assert "Youssef Amrani" not in options.group(0)
    assert "Annemiek Kok" in options.group(0)
    response = assign(secretary, complaint, people[AMRANI].id)  # a forged choice
    assert response.status_code == 409
    assert "named as accused" in html(response)
    assert grants(app, complaint, GrantRole.COMMITTEE_MEMBER) == []
    [refused] = audit(app, "committee.member_refused")
    assert refused.outcome is AuditOutcome.DENIED
    assert refused.details == {"person_id": people[AMRANI].id, "reason": "accused"}


def test_a_member_accused_by_a_typed_name_only_is_refused_too(
    app: Flask, clock: Clock, people: dict[str, Person]
) -> None:
    with app_session(app) as session:
        complaint = file_complaint(
            session,
            people,
            clock(),
            accused=(
                AccusedPerson("Lotte Bakker", "leidinggevende", people[ACCUSED].id),
                AccusedPerson("eva  LAMMERS", "commissielid"),  # typed, not picked
            ),
        )
    secretary = logged_in(app, SECRETARY, clock())
    response = assign(secretary, complaint, people[LAMMERS].id)
    assert response.status_code == 409
    assert "named as accused" in html(response)
    assert grants(app, complaint, GrantRole.COMMITTEE_MEMBER) == []


def test_the_complainant_never_sits_on_their_own_complaint(
    app: Flask, clock: Clock, people: dict[str, Person]
) -> None:
    with app_session(app) as session:
        complaint = file_complaint(session, people, clock(), filer=LAMMERS)
    secretary = logged_in(app, SECRETARY, clock())
    assert "Eva Lammers" not in html(secretary.get(url(complaint)))
    response = assign(secretary, complaint, people[LAMMERS].id)
    assert response.status_code == 409
    assert "filed the complaint" in html(response)
    assert grants(app, complaint, GrantRole.COMMITTEE_MEMBER) == []


def test_only_committee_members_can_be_assigned(
    app: Flask, secretary: FlaskClient, complaint: Complaint, people: dict[str, Person]
) -> None:
    for email in (CONFIDANT, SECOND_SECRETARY, ACCUSED):
        response = assign(secretary, complaint, people[email].id)
        assert response.status_code == 409
        assert "not a member of the complaints committee" in html(response)
    assert grants(app, complaint, GrantRole.COMMITTEE_MEMBER) == []


def test_a_challenged_member_loses_access_and_the_reason_is_recorded(
    app: Flask,
    clock: Clock,
    secretary: FlaskClient,
    complaint: Complaint,
    people: dict[str, Person],
) -> None:
    assigned(app, clock, secretary, complaint, KOK, AMRANI)
    kok = next(
        g
        for g in grants(app, complaint, GrantRole.COMMITTEE_MEMBER)
        if g.person_id == people[KOK].id
    )
    member = logged_in(app, KOK, clock())
    assert member.get(url(complaint)).status_code == 200
    reason = "Verweerster stelt dat mevrouw Kok haar leidinggevende is geweest."
    response = post_form(
        secretary,
        url(complaint, "/leden/uitsluiten"),
        "exclude",
        url(complaint),
        grant_id=str(kok.id),
        exclusion="wraking",
        reason=reason,
    )
    assert response.status_code == 303, html(response)
    [revoked, kept] = grants(app, complaint, GrantRole.COMMITTEE_MEMBER)
    assert (revoked.revoke_reason, revoked.revoked_at) == ("wraking", clock())
    assert kept.revoked_at is None
    assert member.get(url(complaint)).status_code == 404
    page = html(secretary.get(url(complaint)))
    row = re.search(
        rf'<tr data-member="{people[KOK].id}" data-excluded="wraking">.*?</tr>', page, re.S
    )
    assert row is not None
    assert "Challenged by a party (wraking)" in row.group(0)
    assert reason in row.group(0)
    [revocation] = audit(app, "case.access_revoked")
    assert revocation.details == {
        "person_id": people[KOK].id,
        "role": "committee_member",
        "reason": "wraking",
    }
    assert reason not in json.dumps(revocation.details)
    assert not any(
        reason.encode() in raw for raw in raw_column(app, "SELECT remark FROM case_events")
    )
    # An excluded member does not come back on the same case.
    response = assign(secretary, complaint, people[KOK].id)
    assert response.status_code == 409
    assert "excluded from this case earlier" in html(response)


def test_a_member_can_step_aside_with_a_reason(
    app: Flask,
    clock: Clock,
    secretary: FlaskClient,
    complaint: Complaint,
    people: dict[str, Person],
) -> None:
    assigned(app, clock, secretary, complaint, AMRANI)
    member = logged_in(app, AMRANI, clock())
    page = html(member.get(url(complaint)))
    assert "Step aside in this case" in page
    empty = post_form(
        member, url(complaint, "/leden/verschoning"), "recuse", url(complaint), reason=" "
    )
    assert empty.status_code == 400
    assert "Give the reason." in html(empty)
    assert grants(app, complaint, GrantRole.COMMITTEE_MEMBER)[0].revoked_at is None
    response = post_form(
        member,
        url(complaint, "/leden/verschoning"),
        "recuse",
        url(complaint),
        reason="Ik ken verweerster privé.",
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/zaken"
    [grant] = grants(app, complaint, GrantRole.COMMITTEE_MEMBER)
    assert grant.revoke_reason == "verschoning"
    assert member.get(url(complaint)).status_code == 404
    page = html(secretary.get(url(complaint)))
    assert "Stepped aside (verschoning)" in page
    assert "Ik ken verweerster privé." in page


# Hearings and witnesses ------------------------------------------------------------------------


def add_hearing(client: FlaskClient, complaint: Complaint, **overrides: str) -> TestResponse:
    data = {"heard": "accused", "heard_on": "2026-03-20", "report": HEARING_TEXT, **overrides}
    return post_form(client, url(complaint, "/hoorzitting"), "hearing", url(complaint), **data)


def add_witness(client: FlaskClient, complaint: Complaint) -> TestResponse:
    return post_form(
        client,
        url(complaint, "/getuigenverklaring"),
        "witness",
        url(complaint),
        identity=WITNESS_IDENTITY,
        pseudonym="Getuige A",
        heard_on="21-03-2026",  # typed where the browser shows a text box
        statement=STATEMENT_TEXT,
    )


def test_a_member_records_a_hearing_report(
    app: Flask, clock: Clock, secretary: FlaskClient, complaint: Complaint
) -> None:
    assigned(app, clock, secretary, complaint, KOK)
    member = logged_in(app, KOK, clock())
    missing = add_hearing(member, complaint, heard="", report="")
    assert missing.status_code == 400
    assert "Choose who was heard." in html(missing)
    assert "Write the report of the hearing." in html(missing)
    assert 'class="error-summary"' in html(missing)
    response = add_hearing(member, complaint)
    assert response.status_code == 303
    [document] = documents(app, complaint, DocumentKind.HEARING_REPORT)
    page = html(secretary.get(url(complaint)))
    assert "Hearing of The person complained about on 20 March 2026" in page
    assert HEARING_TEXT in page
    assert "Recorded by Annemiek Kok" in page
    [added] = audit(app, "committee.document_added")
    assert added.details["kind"] == "hearing_report"
    assert added.details["document_id"] == str(document.id)


def test_a_witness_identity_is_shown_to_the_committee_only(
    app: Flask,
    clock: Clock,
    secretary: FlaskClient,
    complaint: Complaint,
    people: dict[str, Person],
) -> None:
    assigned(app, clock, secretary, complaint, KOK)
    assert add_witness(secretary, complaint).status_code == 303
    [statement] = documents(app, complaint, DocumentKind.WITNESS_STATEMENT)
    assert statement.restricted_identity is not None
    # The committee: secretary and member.
    for client in (secretary, logged_in(app, KOK, clock())):
        page = html(client.get(url(complaint)))
        assert WITNESS_IDENTITY in page
        assert STATEMENT_TEXT in page
        assert "Getuige A" in page
    # A manager or confidant holding a grant on the same case: not on any page they can open.
    extra_grant(app, clock, complaint, CONFIDANT, GrantRole.CONFIDANT)
    extra_grant(app, clock, complaint, "a.demir@bzk.example", GrantRole.MANAGER)
    for email in (CONFIDANT, "a.demir@bzk.example"):
        other = logged_in(app, email, clock())
        assert other.get(url(complaint)).status_code == 404
        case_page = other.get(f"/zaken/{complaint.case_id}")
        assert case_page.status_code == 200
        assert WITNESS_IDENTITY not in html(case_page)
    # The complainant's mailbox.
    mailbox = browser(app)
    entered = mailbox.post(
        "/opvolgen",
        data={"code": complaint.code, "csrf_token": csrf_token(mailbox.get("/opvolgen"))},
    )
    assert entered.status_code == 303
    box = mailbox.get("/opvolgen/melding")
    assert box.status_code == 200
    assert WITNESS_IDENTITY not in html(box)
    assert "Pieter Visser" not in html(box)


# Advice and decision ---------------------------------------------------------------------------


def give_advice(
    client: FlaskClient, complaint: Complaint, recommended: str = "unfounded", **extra: str
) -> TestResponse:
    page = client.get(url(complaint))
    version = re.search(r'name="advice-version" type="hidden" value="(\d+)"', html(page))
    data = {
        "advice-csrf_token": csrf_token(page),
        "advice-version": extra.pop("version", version.group(1) if version else "0"),
        "advice-recommended": recommended,
        "advice-summary": extra.pop(
            "summary", "De commissie adviseert de klacht ongegrond te verklaren."
        ),
    }
    return client.post(url(complaint, "/advies"), data=data)


def decide(
    client: FlaskClient, complaint: Complaint, outcome: str, departure: str = ""
) -> TestResponse:
    page = client.get(url(complaint))
    version = re.search(r'name="decision-version" type="hidden" value="(\d+)"', html(page))
    assert version is not None, "no decision form"
    return client.post(
        url(complaint, "/besluit"),
        data={
            "decision-csrf_token": csrf_token(page),
            "decision-version": version.group(1),
            "decision-outcome": outcome,
            "decision-reasons": "Uit de hoorzittingen blijkt dat het gedrag structureel was.",
            "decision-departure_reason": departure,
        },
    )


def test_advice_sends_the_case_to_the_competent_authority(
    app: Flask,
    clock: Clock,
    secretary: FlaskClient,
    complaint: Complaint,
    people: dict[str, Person],
) -> None:
    assert 'name="advice-version"' not in html(secretary.get(url(complaint)))  # not yet
    early = give_advice(secretary, complaint, version=str(load_case(app, complaint).version))
    assert early.status_code == 409
    assert documents(app, complaint, DocumentKind.ADVICE) == []
    to_hearing(app, clock, people, complaint)
    assigned(app, clock, secretary, complaint, KOK)
    member = logged_in(app, KOK, clock())
    response = give_advice(member, complaint)
    assert response.status_code == 303, html(response)
    case = load_case(app, complaint)
    assert case.state == "advice_sent"
    [advice] = documents(app, complaint, DocumentKind.ADVICE)
    assert advice.author_person_id == people[KOK].id
    with app_session(app) as session:
        event = session.scalars(sa.select(CaseEvent).where(CaseEvent.kind == "send_advice")).one()
        assert (event.from_state, event.to_state) == ("hearing", "advice_sent")
    page = html(secretary.get(url(complaint)))
    assert "Advice: Unfounded" in page
    assert "The committee advised: Unfounded." in page


def test_a_decision_departing_from_the_advice_needs_a_reason(
    app: Flask,
    clock: Clock,
    secretary: FlaskClient,
    complaint: Complaint,
    people: dict[str, Person],
) -> None:
    to_hearing(app, clock, people, complaint)
    assert give_advice(secretary, complaint, "unfounded").status_code == 303
    refused = decide(secretary, complaint, "founded")
    assert refused.status_code == 409
    assert "departs from the committee&#39;s advice" in html(refused)
    assert 'id="decision-departure_reason-error"' in html(refused)
    assert load_case(app, complaint).state == "advice_sent"
    assert documents(app, complaint, DocumentKind.DECISION) == []
    departure = "De werkgever weegt de verklaring van getuige A zwaarder."
    response = decide(secretary, complaint, "founded", departure)
    assert response.status_code == 303, html(response)
    case = load_case(app, complaint)
    assert (case.state, case.outcome) == ("decided", "founded")
    with app_session(app) as session:
        deadline = session.scalars(
            sa.select(Deadline).where(Deadline.case_id == case.id, Deadline.name == "decision")
        ).one()
        assert deadline.met_at == clock()
        stat = session.scalars(sa.select(StatEvent).where(StatEvent.kind == "decided")).one()
        assert stat.outcome == "founded"
        [document] = session.scalars(
            sa.select(CaseDocument).where(CaseDocument.kind == DocumentKind.DECISION)
        ).all()
        body = json.loads(
            case_cipher(session, keystore(), case.id).open_text(
                "case_documents", "body", document.id, document.body
            )
        )
        assert body["departure_reason"] == departure
        assert body["advised_outcome"] == "unfounded"
    page = html(secretary.get(url(complaint)))
    assert "Decision: Founded" in page
    assert departure in page
    assert write_letter(secretary, complaint, "decision").status_code == 303
    [link] = letter_links(secretary, complaint)
    letter = html(secretary.get(link))
    assert "The committee advised that your complaint is unfounded." in letter
    assert departure in letter
    assert "Nationale ombudsman within one year" in letter


def test_a_decision_that_follows_the_advice_needs_no_departure_reason(
    app: Flask,
    clock: Clock,
    secretary: FlaskClient,
    complaint: Complaint,
    people: dict[str, Person],
) -> None:
    to_hearing(app, clock, people, complaint)
    assert give_advice(secretary, complaint, "partly_founded").status_code == 303
    response = decide(secretary, complaint, "partly_founded")
    assert response.status_code == 303, html(response)
    assert load_case(app, complaint).outcome == "partly_founded"


def test_a_member_cannot_record_the_decision(
    app: Flask,
    clock: Clock,
    secretary: FlaskClient,
    complaint: Complaint,
    people: dict[str, Person],
) -> None:
    to_hearing(app, clock, people, complaint)
    assigned(app, clock, secretary, complaint, KOK)
    assert give_advice(secretary, complaint).status_code == 303
    member = logged_in(app, KOK, clock())
    page = member.get(url(complaint))
    assert 'name="decision-version"' not in html(page)
    response = member.post(
        url(complaint, "/besluit"),
        data={
            "decision-csrf_token": csrf_token(page),
            "decision-version": str(load_case(app, complaint).version),
            "decision-outcome": "unfounded",
            "decision-reasons": "Ongegrond.",
        },
    )
    assert response.status_code == 409
    assert "Your role on this case does not allow" in html(response)
    assert load_case(app, complaint).state == "advice_sent"
    assert documents(app, complaint, DocumentKind.DECISION) == []


def test_advice_from_a_stale_page_is_refused_as_changed_meanwhile(
    app: Flask,
    clock: Clock,
    secretary: FlaskClient,
    complaint: Complaint,
    people: dict[str, Person],
) -> None:
    to_hearing(app, clock, people, complaint)
    stale = str(load_case(app, complaint).version)
    assert add_hearing(secretary, complaint).status_code == 303  # the case moved on meanwhile
    response = give_advice(
        secretary, complaint, version=stale, summary="Mijn advies-tekst blijft staan."
    )
    assert response.status_code == 409
    assert "changed this case while you were working on it" in html(response)
    assert "Mijn advies-tekst blijft staan." in html(response)  # what was typed is kept
    assert load_case(app, complaint).state == "hearing"
    assert documents(app, complaint, DocumentKind.ADVICE) == []


# Letters ---------------------------------------------------------------------------------------


def write_letter(client: FlaskClient, complaint: Complaint, kind: str, **data: str) -> TestResponse:
    prefix = "decision_letter" if kind == "decision" else kind
    return post_form(
        client,
        url(complaint, f"/brieven/{kind}"),
        prefix,
        url(complaint),
        **{"language": "en", **data},
    )


def letter_links(client: FlaskClient, complaint: Complaint) -> list[str]:
    page = html(client.get(url(complaint)))
    return re.findall(r'href="(/zaken/[^"]+/commissie/brieven/[0-9a-f-]{36})"', page)


def test_the_acknowledgement_names_the_committee_and_the_deadlines(
    app: Flask, clock: Clock, secretary: FlaskClient, complaint: Complaint
) -> None:
    response = write_letter(secretary, complaint, "acknowledgement")
    assert response.status_code == 303, html(response)
    [link] = letter_links(secretary, complaint)
    download = secretary.get(link)
    assert download.status_code == 200
    assert download.headers["Cache-Control"] == "no-store"
    assert download.content_type == "text/html; charset=utf-8"
    disposition = download.headers["Content-Disposition"]
    assert disposition == (
        f'attachment; filename="{complaint.reference}-acknowledgement-20260302-093000.html"'
    )
    letter = html(download)
    assert '<html lang="en">' in letter
    assert "Sanne de Vries" in letter
    assert complaint.reference in letter
    assert "The committee will then advise the competent authority, your employer" in letter
    assert "Decision on the complaint: by 11 May 2026" in letter
    assert "Decision on admissibility: by 16 March 2026" in letter
    [generated] = audit(app, "committee.letter_generated")
    assert generated.details["template"] == "acknowledgement"
    [downloaded] = audit(app, "committee.letter_downloaded")
    assert downloaded.details["template"] == "acknowledgement"
    [row] = documents(app, complaint, DocumentKind.LETTER)
    assert row.template == "acknowledgement"
    assert b"competent authority" not in row.body


def test_a_dutch_letter_is_written_in_dutch(
    app: Flask, secretary: FlaskClient, complaint: Complaint
) -> None:
    assert write_letter(secretary, complaint, "acknowledgement", language="nl").status_code == 303
    [link] = letter_links(secretary, complaint)
    letter = html(secretary.get(link))
    assert '<html lang="nl">' in letter
    assert "maart 2026" in letter  # dates in Dutch


def test_the_not_admissible_notice_gives_the_reasons(
    app: Flask, secretary: FlaskClient, complaint: Complaint
) -> None:
    empty = write_letter(secretary, complaint, "not_admissible", reasons="")
    assert empty.status_code == 400
    assert "Write why the complaint is not admissible." in html(empty)
    reasons = "De gedraging vond meer dan een jaar voor de klacht plaats."
    assert write_letter(secretary, complaint, "not_admissible", reasons=reasons).status_code == 303
    [link] = letter_links(secretary, complaint)
    letter = html(secretary.get(link))
    assert "9:8" in letter
    assert reasons in letter
    assert "will not be dealt with" in letter


def test_the_extension_notice_gives_the_new_date(
    app: Flask, secretary: FlaskClient, complaint: Complaint
) -> None:
    page = html(secretary.get(url(complaint)))
    assert 'name="extension-new_date" type="date" value="2026-05-11"' in page  # the current term
    assert write_letter(secretary, complaint, "extension", new_date="2026-06-08").status_code == 303
    [link] = letter_links(secretary, complaint)
    letter = html(secretary.get(link))
    assert "no later than 8 June 2026" in letter
    assert "9:11" in letter


def test_the_decision_letter_names_the_outcome_and_the_nationale_ombudsman(
    app: Flask,
    clock: Clock,
    secretary: FlaskClient,
    complaint: Complaint,
    people: dict[str, Person],
) -> None:
    early = write_letter(secretary, complaint, "decision")
    assert early.status_code == 409
    assert "Record the decision first" in html(early)
    to_hearing(app, clock, people, complaint)
    assert give_advice(secretary, complaint, "partly_founded").status_code == 303
    assert decide(secretary, complaint, "partly_founded").status_code == 303
    assert write_letter(secretary, complaint, "decision").status_code == 303
    [link] = letter_links(secretary, complaint)
    letter = html(secretary.get(link))
    assert "Decision: your complaint is partly founded." in letter
    assert "Uit de hoorzittingen blijkt dat het gedrag structureel was." in letter
    assert "Nationale ombudsman within one year" in letter


def test_members_cannot_write_letters_and_letters_of_other_cases_stay_hidden(
    app: Flask,
    clock: Clock,
    secretary: FlaskClient,
    complaint: Complaint,
    people: dict[str, Person],
) -> None:
    assigned(app, clock, secretary, complaint, KOK)
    member = logged_in(app, KOK, clock())
    page = html(member.get(url(complaint)))
    assert "Write a letter" not in page
    response = write_letter(member, complaint, "acknowledgement")
    assert response.status_code == 409
    assert documents(app, complaint, DocumentKind.LETTER) == []
    assert write_letter(secretary, complaint, "acknowledgement").status_code == 303
    [link] = letter_links(secretary, complaint)
    assert member.get(link).status_code == 200  # the committee reads the letters
    with app_session(app) as session:
        other = file_complaint(session, people, clock())
    letter_id = link.rsplit("/", 1)[1]
    assert secretary.get(f"{page_url(other.case_id)}/brieven/{letter_id}").status_code == 404
    assert secretary.get(f"{url(complaint)}/brieven/{uuid.uuid4()}").status_code == 404
    assert secretary.post(url(complaint, "/brieven/nonsense")).status_code in (400, 404)


# At rest ---------------------------------------------------------------------------------------


def test_documents_letters_and_reasons_are_encrypted_at_rest(
    app: Flask,
    clock: Clock,
    secretary: FlaskClient,
    complaint: Complaint,
    people: dict[str, Person],
) -> None:
    assigned(app, clock, secretary, complaint, KOK)
    to_hearing(app, clock, people, complaint)
    assert add_hearing(secretary, complaint).status_code == 303
    assert add_witness(secretary, complaint).status_code == 303
    assert (
        give_advice(secretary, complaint, "unfounded", summary="Advies-merkteken-7Q.").status_code
        == 303
    )
    assert write_letter(secretary, complaint, "acknowledgement").status_code == 303
    kok = grants(app, complaint, GrantRole.COMMITTEE_MEMBER)[0]
    response = post_form(
        secretary,
        url(complaint, "/leden/uitsluiten"),
        "exclude",
        url(complaint),
        grant_id=str(kok.id),
        exclusion="verschoning",
        reason="Reden-merkteken-9Z.",
    )
    assert response.status_code == 303
    stored = raw_column(app, "SELECT body FROM case_documents")
    stored += raw_column(app, "SELECT title FROM case_documents")
    stored += raw_column(app, "SELECT restricted_identity FROM case_documents")
    stored += raw_column(app, "SELECT remark FROM case_events")
    assert len(stored) >= 8
    for plain in (
        HEARING_TEXT,
        STATEMENT_TEXT,
        "Pieter Visser",
        "Getuige A",
        "Advies-merkteken-7Q.",
        "Reden-merkteken-9Z.",
        "Annemiek Kok",
        "Sanne de Vries",
        "accused",
        "unfounded",
    ):
        assert not any(plain.encode() in raw for raw in stored), plain
    logged = json.dumps([e.details for e in audit(app, "committee.document_added")])
    assert "Pieter" not in logged
    assert "merkteken" not in logged


def test_nothing_can_be_added_once_the_case_is_closed(
    app: Flask,
    clock: Clock,
    secretary: FlaskClient,
    complaint: Complaint,
    people: dict[str, Person],
) -> None:
    to_hearing(app, clock, people, complaint)
    assert give_advice(secretary, complaint, "unfounded").status_code == 303
    assert decide(secretary, complaint, "unfounded").status_code == 303
    with app_session(app) as session:
        advance(session, complaint.case_id, people[SECRETARY], clock(), "close")
    page = html(secretary.get(url(complaint)))
    assert 'id="hearing-report"' not in page
    assert 'id="assign-person_id"' not in page
    response = add_hearing(secretary, complaint)
    assert response.status_code == 409
    assert "This case is closed" in html(response)
    assert documents(app, complaint, DocumentKind.HEARING_REPORT) == []
