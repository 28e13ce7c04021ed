"""The referral page, used and attacked through the web; and what the complainant sees."""

from __future__ import annotations

import io
import re
import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from werkzeug.test import TestResponse

from complaints.accounts.models import Role, RoleAssignment, RoleSource
from complaints.audit.models import AuditEvent
from complaints.cases.models import Case, CaseAccessGrant, Consent, ConsentKind, GrantRole, Route
from complaints.cases.receipts import normalise_receipt
from complaints.crypto.services import keystore
from complaints.directory.models import Person
from complaints.followup.services import set_consent
from complaints.intake.wording import route_infos
from complaints.workflow.config import workflow
from tests.conftest import Clock, app_session
from tests.factories import (
    StaffLogin,
    csrf_token,
    import_demo_directory,
    log_in,
    make_account,
    make_person,
    unit,
)
from tests.referral import (
    ACCUSED,
    ADMIN,
    CONFIDANT,
    COORDINATOR,
    EMPLOYEE,
    STORY,
    WIDE_CONFIDANT,
    file,
)

MAILBOX = "/opvolgen/melding"


@dataclass
class World:
    case_id: uuid.UUID
    reference: str
    code: str
    other_case_id: uuid.UUID  # a case the confidant has no grant for
    people: dict[str, int]
    staff: dict[str, StaffLogin]


@pytest.fixture
def world(app: Flask, clock: Clock) -> World:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        filed = file(session, people, clock())
        # Filed to the government-wide confidant by name: not Ingrid's.
        other = file(session, people, clock(), chosen_confidant=WIDE_CONFIDANT)
        staff = {
            email: make_account(session, people[email], clock())
            for email in (CONFIDANT, WIDE_CONFIDANT, COORDINATOR, ADMIN, ACCUSED)
        }
        return World(
            filed.case.id,
            filed.case.reference,
            filed.receipt_code,
            other.case.id,
            {email: p.id for email, p in people.items()},
            staff,
        )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    browser = app.test_client()
    browser.set_cookie("taal", "en")
    return browser


def html(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def url(case_id: uuid.UUID, suffix: str = "") -> str:
    return f"/zaken/{case_id}/doorverwijzen{suffix}"


def give_consent(app: Flask, world: World, kind: ConsentKind = ConsentKind.REFERRAL) -> None:
    with app_session(app) as session:
        case = session.get(Case, world.case_id)
        assert case is not None
        set_consent(
            session, keystore(), workflow(), case, kind=kind, given=True, now=case.updated_at
        )


def cases_referred(app: Flask, world: World) -> list[Case]:
    with app_session(app) as session:
        return list(session.scalars(sa.select(Case).where(Case.referred_from_id == world.case_id)))


def offered(text: str) -> set[str]:
    """The referral choices the page offers (radios of the referral form)."""
    return set(re.findall(r'name="choice" value="([^"]*)"', text))


def shown_recipients(text: str) -> list[str]:
    """Per offered choice, who it says would receive it."""
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", found)).split(":", 1)[1].strip()
        for found in re.findall(r"<p data-recipients>(.*?)</p>", text, re.S)
    ]


def unavailable(text: str, route: str) -> str:
    """Why the page says ``route`` is not possible ("" when it does not say so)."""
    match = re.search(rf'<li data-unavailable="{route}">(.*?)</li>', text, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)) if match else ""


def grantee_names(app: Flask, case: Case) -> list[str]:
    with app_session(app) as session:
        return sorted(
            session.scalars(
                sa.select(Person.name)
                .join(CaseAccessGrant, CaseAccessGrant.person_id == Person.id)
                .where(CaseAccessGrant.case_id == case.id)
            )
        )


# Access ----------------------------------------------------------------------------------------


def test_the_page_needs_a_log_in(client: FlaskClient, world: World) -> None:
    response = client.get(url(world.case_id))
    assert response.status_code == 302
    assert "/aanmelden" in response.headers["Location"]


def test_the_confidant_sees_the_consent_state_and_both_forms(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    log_in(client, world.staff[CONFIDANT], clock())
    page = client.get(url(world.case_id))
    text = html(page)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert world.reference in text
    assert 'data-consent="none"' in text
    assert "There is no consent to pass this report on." in text
    assert 'name="consent_scope"' in text
    assert offered(text) == set()  # nothing to refer with before there is consent
    # ... and the way to ask for it: the case's messages.
    assert "Nothing can be passed on without consent." in text
    assert f'href="/zaken/{world.case_id}#berichten"' in text


@pytest.mark.parametrize("who", [WIDE_CONFIDANT, COORDINATOR, ADMIN, ACCUSED])
def test_anyone_but_the_cases_confidant_gets_a_404(
    app: Flask, client: FlaskClient, world: World, clock: Clock, who: str
) -> None:
    log_in(client, world.staff[who], clock())
    assert client.get(url(world.case_id)).status_code == 404
    # A valid token from a page this user may see, so only the authorisation can refuse.
    token = csrf_token(client.get("/account"))
    for suffix, data in (
        ("", {"choice": "integrity:without_identity"}),
        (
            "/toestemming",
            {"consent_scope": "with_identity", "channel": "phone", "given_on": "2026-03-02"},
        ),
    ):
        response = client.post(url(world.case_id, suffix), data={"csrf_token": token, **data})
        assert response.status_code == 404
    assert cases_referred(app, world) == []
    with app_session(app) as session:
        assert session.scalar(sa.select(Consent.id)) is None


def test_another_cases_id_and_a_made_up_id_give_404(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    log_in(client, world.staff[CONFIDANT], clock())
    assert client.get(url(world.other_case_id)).status_code == 404
    assert client.get(url(uuid.uuid4())).status_code == 404
    assert client.get("/zaken/not-a-uuid/doorverwijzen").status_code == 404


def test_a_confidant_named_as_accused_gets_a_404_even_with_a_grant(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    with app_session(app) as session:
        session.add(
            CaseAccessGrant(
                case_id=world.case_id,
                person_id=world.people[ACCUSED],
                role=GrantRole.CONFIDANT,
                granted_at=clock(),
            )
        )
    log_in(client, world.staff[ACCUSED], clock())
    assert client.get(url(world.case_id)).status_code == 404
    with app_session(app) as session:
        reasons = [
            e.details.get("reason")
            for e in session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "case.open"))
        ]
    assert "accused" in reasons


def test_a_forged_csrf_token_is_refused(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    give_consent(app, world)
    log_in(client, world.staff[CONFIDANT], clock())
    client.get(url(world.case_id))
    for token in ("forged", ""):
        response = client.post(
            url(world.case_id),
            data={"csrf_token": token, "choice": "integrity:without_identity"},
        )
        assert response.status_code == 400
    assert cases_referred(app, world) == []


# Referring -------------------------------------------------------------------------------------


def test_the_confidant_refers_with_the_mailbox_consent(
    app: Flask, client: FlaskClient, world: World, clock: Clock, log_output: io.StringIO
) -> None:
    give_consent(app, world)
    log_in(client, world.staff[CONFIDANT], clock())
    page = client.get(url(world.case_id))
    text = html(page)
    assert 'data-consent="given"' in text
    assert "The complainant gave consent in their mailbox" in text
    # The consent covers the report only: the one route it can go to that way is offered, with
    # who would receive it; the routes that need who filed it are named with the reason.
    assert offered(text) == {"integrity:without_identity"}
    assert shown_recipients(text) == ["Kees Dijkstra (integrity coordinator)"]
    assert "cannot be anonymous" in unavailable(text, "committee")
    assert "who filed it must be passed on" in unavailable(text, "manager")

    response = client.post(
        url(world.case_id),
        data={"csrf_token": csrf_token(page), "choice": "integrity:without_identity"},
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(url(world.case_id))
    [new] = cases_referred(app, world)
    assert new.route is Route.INTEGRITY
    # The people shown are the people the new case was given to.
    assert grantee_names(app, new) == ["Kees Dijkstra"]
    after = html(client.get(url(world.case_id)))
    assert new.reference in after
    assert "Kees Dijkstra (integrity coordinator)" in after  # the flash after the referral
    assert 'data-referred="integrity"' in after
    # Nothing of the story reaches the log.
    assert STORY not in log_output.getvalue()


def test_a_tampered_choice_the_consent_does_not_cover_is_refused_and_creates_nothing(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    give_consent(app, world)  # the report only
    log_in(client, world.staff[CONFIDANT], clock())
    page = client.get(url(world.case_id))
    token = csrf_token(page)
    assert offered(html(page)) == {"integrity:without_identity"}
    # Choices the page did not offer, sent all the same: each refused with the reason.
    for choice, reason in (
        ("integrity:with_identity", "does not cover passing on who filed the report"),
        ("committee:with_identity", "does not cover passing on who filed the report"),
        ("committee:without_identity", "cannot be anonymous"),
        ("manager:without_identity", "who filed it must be passed on"),
        ("confidant:without_identity", "Choose one of the options shown."),
        ("integrity", "Choose one of the options shown."),
        ("", "Choose where to pass the report on to."),
    ):
        response = client.post(url(world.case_id), data={"csrf_token": token, "choice": choice})
        assert response.status_code == 200, choice
        assert reason in html(response), choice
        assert 'aria-invalid="true"' in html(response), choice
        assert cases_referred(app, world) == [], choice
    # Control: the same token and the same post with the choice the page offered go through,
    # so what refused the others was the choice, not the request.
    response = client.post(
        url(world.case_id), data={"csrf_token": token, "choice": "integrity:without_identity"}
    )
    assert response.status_code == 303
    assert [c.route for c in cases_referred(app, world)] == [Route.INTEGRITY]


def test_when_the_consent_covers_no_route_the_page_says_so_and_leads_to_the_messages(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    give_consent(app, world)  # the report only
    log_in(client, world.staff[CONFIDANT], clock())
    page = client.get(url(world.case_id))
    client.post(
        url(world.case_id),
        data={"csrf_token": csrf_token(page), "choice": "integrity:without_identity"},
    )
    # Left: the manager and the committee, which both need who filed it.
    text = html(client.get(url(world.case_id)))
    assert offered(text) == set()
    assert "does not cover any route this report can be passed on to" in text
    assert f'href="/zaken/{world.case_id}#berichten"' in text
    assert "cannot be anonymous" in unavailable(text, "committee")
    # Control: once the complainant agrees to more (recorded by phone), the same page offers
    # what the wider consent covers, and no longer says that nothing is covered.
    response = client.post(
        url(world.case_id, "/toestemming"),
        data={
            "csrf_token": csrf_token(page),
            "consent_scope": "with_identity",
            "channel": "phone",
            "given_on": "2-3-2026",
        },
    )
    assert response.status_code == 303
    text = html(client.get(url(world.case_id)))
    assert offered(text) == {"manager:with_identity", "committee:with_identity"}
    assert "does not cover any route" not in text
    assert "Aylin Demir (manager)" in shown_recipients(text)


def test_consent_given_by_phone_is_recorded_and_then_allows_more(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    log_in(client, world.staff[CONFIDANT], clock())
    page = client.get(url(world.case_id))
    token = csrf_token(page)
    future = client.post(
        url(world.case_id, "/toestemming"),
        data={
            "csrf_token": token,
            "consent_scope": "with_identity",
            "channel": "phone",
            "given_on": "3-3-2026",
        },
    )
    assert future.status_code == 200
    assert "The day cannot be in the future." in html(future)
    response = client.post(
        url(world.case_id, "/toestemming"),
        data={
            "csrf_token": token,
            "consent_scope": "with_identity",
            "channel": "phone",
            "given_on": "2-3-2026",
        },
    )
    assert response.status_code == 303
    text = html(client.get(url(world.case_id)))
    assert (
        "The complainant gave consent by phone on 2 March 2026, recorded by Ingrid Hoekstra."
        in text
    )
    page = client.get(url(world.case_id))
    assert offered(html(page)) == {
        "manager:with_identity",
        "integrity:with_identity",
        "integrity:without_identity",
        "committee:with_identity",
    }
    shown = shown_recipients(html(page))
    response = client.post(
        url(world.case_id),
        data={"csrf_token": token, "choice": "committee:with_identity"},
    )
    assert response.status_code == 303
    [new] = cases_referred(app, world)
    assert new.route is Route.COMMITTEE
    # The committee option named exactly the people the new case was given to.
    secretaries = grantee_names(app, new)
    assert len(secretaries) == 2
    assert {f"{name} (complaints committee secretary)" for name in secretaries} in [
        set(names.split(", ")) for names in shown
    ]
    with app_session(app) as session:
        consent = session.scalars(sa.select(Consent).where(Consent.case_id == world.case_id)).one()
        assert consent.recorded_by_person_id == world.people[CONFIDANT]
        assert consent.kind is ConsentKind.REFERRAL


# The complainant's mailbox ---------------------------------------------------------------------


def _open_mailbox(client: FlaskClient, code: str) -> TestResponse:
    page = client.get("/opvolgen")
    response = client.post("/opvolgen", data={"code": code, "csrf_token": csrf_token(page)})
    assert response.status_code == 303
    return client.get(MAILBOX)


def test_the_mailbox_tells_of_the_referral_and_hands_out_the_new_code_once(
    app: Flask, world: World, clock: Clock, log_output: io.StringIO
) -> None:
    give_consent(app, world)
    staff_browser = app.test_client()
    log_in(staff_browser, world.staff[CONFIDANT], clock())
    page = staff_browser.get(url(world.case_id))
    staff_browser.post(
        url(world.case_id),
        data={"csrf_token": csrf_token(page), "choice": "integrity:without_identity"},
    )
    [new] = cases_referred(app, world)

    complainant = app.test_client()
    complainant.set_cookie("taal", "en")
    mailbox = _open_mailbox(complainant, world.code)
    text = html(mailbox)
    assert "With your consent, your report was passed on to: Integrity coordinator." in text
    assert new.reference in text
    assert "Your name was not passed on: the new report is anonymous." in text
    response = complainant.post(
        "/opvolgen/melding/doorverwezen",
        data={"csrf_token": csrf_token(mailbox), "case_id": str(new.id)},
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    match = re.search(r'<p class="receipt-code"><code>(.*?)</code>', html(response))
    assert match is not None
    code = re.sub(r"<[^>]+>", "", match.group(1)).replace(" ", "-")
    assert normalise_receipt(code) is not None
    # Never in the address, the log or the audit trail.
    assert response.request.url is not None
    assert code not in response.request.url
    assert code not in log_output.getvalue()
    with app_session(app) as session:
        stored = str([(e.actor_id, e.details) for e in session.scalars(sa.select(AuditEvent))])
    assert code not in stored
    # Once: the mailbox now says so, and asking again is refused.
    again = complainant.post(
        "/opvolgen/melding/doorverwezen",
        data={"csrf_token": csrf_token(mailbox), "case_id": str(new.id)},
    )
    assert again.status_code == 404
    assert "You received a receipt code for the new report." in html(complainant.get(MAILBOX))
    # The code opens the new report's own mailbox.
    other = app.test_client()
    other.set_cookie("taal", "en")
    new_mailbox = html(_open_mailbox(other, code))
    assert new.reference in new_mailbox
    assert "The integrity coordinator will confirm receipt." in new_mailbox


def test_a_mailbox_cannot_take_the_code_of_a_case_referred_from_another_report(
    app: Flask, world: World, clock: Clock
) -> None:
    give_consent(app, world)
    staff_browser = app.test_client()
    log_in(staff_browser, world.staff[CONFIDANT], clock())
    page = staff_browser.get(url(world.case_id))
    staff_browser.post(
        url(world.case_id),
        data={"csrf_token": csrf_token(page), "choice": "integrity:without_identity"},
    )
    [new] = cases_referred(app, world)
    with app_session(app) as session:
        people = {p.email: p for p in session.scalars(sa.select(Person))}
        stranger = file(session, people, new.submitted_at, complainant=EMPLOYEE)
    complainant = app.test_client()
    mailbox = _open_mailbox(complainant, stranger.receipt_code)
    response = complainant.post(
        "/opvolgen/melding/doorverwezen",
        data={"csrf_token": csrf_token(mailbox), "case_id": str(new.id)},
    )
    assert response.status_code == 404
    with app_session(app) as session:
        referred = session.get(Case, new.id)
        assert referred is not None
        assert referred.receipt_index is None


# Wording ---------------------------------------------------------------------------------------


def test_the_page_speaks_to_the_staff_member_about_the_complainant(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    client.set_cookie("taal", "nl")
    log_in(client, world.staff[CONFIDANT], clock())
    page = client.get(url(world.case_id))
    client.post(
        url(world.case_id, "/toestemming"),
        data={
            "csrf_token": csrf_token(page),
            "consent_scope": "with_identity",
            "channel": "in_person",
            "given_on": "2-3-2026",
        },
    )
    text = html(client.get(url(world.case_id)))
    assert "manager:with_identity" in offered(text)
    hints = " ".join(re.findall(r'<div class="choice__hint"[^>]*>(.*?)</div>', text, re.S))
    assert "De leidinggevende van de melder kan vaak snel iets doen" in hints
    assert "Aylin Demir (leidinggevende)" in hints
    # Not the report form's words, which address the complainant.
    assert "Uw leidinggevende" not in text
    assert not re.search(r"\b[Uu]w? ", re.sub(r"<[^>]+>", " ", hints)), hints
    # Control: the report form's summary of the same route, which the page showed before, is
    # caught by both checks.
    with app.test_request_context(), force_locale("nl"):
        old = str(route_infos(workflow(), [Route.MANAGER])[0].summary)
    assert "Uw leidinggevende" in old
    assert re.search(r"\b[Uu]w? ", old)


def _shown_field(text: str, choice: str) -> str:
    found = re.search(rf'name="shown-{re.escape(choice)}" value="([^"]*)"', text)
    assert found, choice
    return found.group(1)


def test_a_referral_is_held_to_the_recipients_the_page_showed(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    give_consent(app, world)
    log_in(client, world.staff[CONFIDANT], clock())
    page = client.get(url(world.case_id))
    choice = "integrity:without_identity"
    assert shown_recipients(html(page)) == ["Kees Dijkstra (integrity coordinator)"]
    # Meanwhile a second integrity coordinator starts serving the ministry.
    with app_session(app) as session:
        newcomer = make_person(session, unit(session, "BZK-DGOO"), clock(), name="Nadia Yilmaz")
        session.add(
            RoleAssignment(
                person_id=newcomer.id,
                role=Role.INTEGRITY_COORDINATOR,
                scope_unit_id=unit(session, "BZK").id,
                source=RoleSource.MANUAL,
                created_at=clock(),
            )
        )
    stale = client.post(
        url(world.case_id),
        data={
            "csrf_token": csrf_token(page),
            "choice": choice,
            f"shown-{choice}": _shown_field(html(page), choice),
        },
    )
    assert stale.status_code == 200
    assert "the list of people who would receive the report changed" in html(stale)
    assert cases_referred(app, world) == []
    assert "Nadia Yilmaz (integrity coordinator)" in " ".join(shown_recipients(html(stale)))
    # Control: passed on from the page that shows both, it goes to both.
    response = client.post(
        url(world.case_id),
        data={
            "csrf_token": csrf_token(stale),
            "choice": choice,
            f"shown-{choice}": _shown_field(html(stale), choice),
        },
    )
    assert response.status_code == 303
    [new] = cases_referred(app, world)
    assert sorted(grantee_names(app, new)) == ["Kees Dijkstra", "Nadia Yilmaz"]
