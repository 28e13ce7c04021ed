"""Filing on someone's behalf: a confidant takes a report by phone or at the desk."""

from __future__ import annotations

import html as html_module
import io
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict
from werkzeug.test import TestResponse

from complaints.accounts.models import Role, RoleAssignment, RoleSource
from complaints.audit.models import ActorKind, AuditEvent
from complaints.cases.models import Case, CaseAccessGrant, CaseEvent, Disclosure, Route
from complaints.cases.receipts import normalise_receipt, receipt_index
from complaints.crypto.services import case_cipher, indexer, keystore
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
from tests.referral import ADMIN, CONFIDANT, COORDINATOR, EMPLOYEE, MANAGER, WIDE_CONFIDANT

PAGE = "/zaken/namens-melden"
STORY = "Mijn teamleider noemt mij steeds bij een bijnaam over mijn afkomst."


@dataclass
class World:
    people: dict[str, int]
    staff: dict[str, StaffLogin]
    units: dict[str, int]


@pytest.fixture
def world(app: Flask, clock: Clock) -> World:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        staff = {
            email: make_account(session, people[email], clock())
            for email in (CONFIDANT, COORDINATOR, ADMIN, EMPLOYEE)
        }
        units = {code: unit(session, code).id for code in ("BZK-APS", "JENV-DJI")}
        return World({e: p.id for e, p in people.items()}, staff, units)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    browser = app.test_client()
    browser.set_cookie("taal", "en")
    return browser


def html(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def answers(world: World, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "action": "review",
        "channel": "phone",
        "category": "discrimination",
        "grounds": ["race"],
        "last_incident_on": "1-3-2026",
        "when_text": "elke maandag",
        "unit": str(world.units["BZK-APS"]),
        "place": "werkplek",
        "description": STORY,
        "accused_names": "",
        "desired_outcome": "Dat het stopt.",
        "disclosure": "confidential",
        "employee_pick": str(world.people[EMPLOYEE]),
        "name": "",
        "email": "",
        "phone": "06 12345678",
        "route": "confidant",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def post(client: FlaskClient, data: dict[str, Any]) -> TestResponse:
    page = client.get(PAGE)
    assert page.status_code == 200
    return client.post(PAGE, data={"csrf_token": csrf_token(page), **data})


def hidden_fields(response: TestResponse) -> list[tuple[str, str]]:
    """What the review page's form sends on (its hidden fields, in order), as a browser would."""
    return [
        (name, html_module.unescape(value))
        for name, value in re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html(response)
        )
    ]


def review(client: FlaskClient, data: dict[str, Any]) -> TestResponse:
    """Fill in the form and press "Check before filing"."""
    response = post(client, {**data, "action": "review"})
    assert response.status_code == 200
    return response


def confirm(client: FlaskClient, reviewed: TestResponse) -> TestResponse:
    """Press "File the report" on a review page."""
    fields = MultiDict(hidden_fields(reviewed))
    fields["action"] = "submit"
    return client.post(PAGE, data=fields)


def file_reviewed(client: FlaskClient, data: dict[str, Any]) -> TestResponse:
    """Fill in the form, check the review, file it."""
    reviewed = review(client, data)
    assert 'data-recipient="' in html(reviewed), html(reviewed)
    return confirm(client, reviewed)


def reviewed_recipients(response: TestResponse) -> set[int]:
    return {int(v) for v in re.findall(r'data-recipient="(\d+)"', html(response))}


def shown_code(response: TestResponse) -> str:
    match = re.search(r'<p class="receipt-code"><code>(.*?)</code>', html(response))
    assert match is not None, html(response)
    return re.sub(r"<[^>]+>", "", match.group(1)).replace(" ", "-")


def filed_cases(app: Flask) -> list[Case]:
    with app_session(app) as session:
        return list(session.scalars(sa.select(Case)))


def grantees(app: Flask, case_id: uuid.UUID) -> set[int]:
    with app_session(app) as session:
        return set(
            session.scalars(
                sa.select(CaseAccessGrant.person_id).where(CaseAccessGrant.case_id == case_id)
            )
        )


# Access ----------------------------------------------------------------------------------------


def test_the_page_needs_a_log_in(client: FlaskClient, world: World) -> None:
    response = client.get(PAGE)
    assert response.status_code == 302
    assert "/aanmelden" in response.headers["Location"]


@pytest.mark.parametrize("who", [COORDINATOR, ADMIN, EMPLOYEE])
def test_only_confidants_may_file_on_someones_behalf(
    app: Flask, client: FlaskClient, world: World, clock: Clock, who: str
) -> None:
    log_in(client, world.staff[who], clock())
    assert client.get(PAGE).status_code == 403
    token = csrf_token(client.get("/account"))
    response = client.post(PAGE, data={"csrf_token": token, **answers(world)})
    assert response.status_code == 403
    assert filed_cases(app) == []


def test_a_forged_csrf_token_is_refused(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    log_in(client, world.staff[CONFIDANT], clock())
    client.get(PAGE)
    response = client.post(PAGE, data={"csrf_token": "forged", **answers(world)})
    assert response.status_code == 400
    assert filed_cases(app) == []


# Filing ----------------------------------------------------------------------------------------


def test_the_confidant_files_for_an_employee_keeps_it_and_hands_over_the_code_once(
    app: Flask, client: FlaskClient, world: World, clock: Clock, log_output: io.StringIO
) -> None:
    log_in(client, world.staff[CONFIDANT], clock())
    response = file_reviewed(client, answers(world))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    text = html(response)
    code = shown_code(response)
    assert normalise_receipt(code) is not None
    assert "Give this code to the employee now" in text
    assert "You handle this report yourself." in text
    # The code is in this answer only: not in the address, the log or the audit trail.
    assert response.request.url is not None
    assert code not in response.request.url
    assert code not in log_output.getvalue()
    assert STORY not in log_output.getvalue()

    [case] = filed_cases(app)
    assert case.route is Route.CONFIDANT
    assert case.disclosure is Disclosure.CONFIDENTIAL
    assert case.complainant_index is None  # never in anyone's "my reports" by a slip
    assert grantees(app, case.id) == {world.people[CONFIDANT]}
    with app_session(app) as session:
        assert case.receipt_index == receipt_index(indexer(), code)
        identity = json.loads(
            case_cipher(session, keystore(), case.id).open_text(
                "cases", "complainant", case.id, case.complainant or b""
            )
        )
        assert identity["name"] == "Sanne de Vries"
        assert identity["person_id"] == str(world.people[EMPLOYEE])
        event = session.scalars(
            sa.select(CaseEvent).where(
                CaseEvent.case_id == case.id, CaseEvent.kind == "filed_by_proxy"
            )
        ).one()
        assert event.actor_person_id == world.people[CONFIDANT]
        audit = session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "case.filed_by_proxy")
        ).one()
        assert audit.actor_kind is ActorKind.STAFF
        assert audit.actor_id == str(world.staff[CONFIDANT].account.id)
        assert audit.details["channel"] == "phone"
        assert audit.details["kept_by_confidant"] is True
        stored = json.dumps(
            [(e.actor_id, e.details) for e in session.scalars(sa.select(AuditEvent))]
        )
        assert code not in stored
    # Loading the address again never shows the code.
    assert code not in html(client.get(PAGE))


def test_on_another_route_the_confidant_gets_no_access(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    log_in(client, world.staff[CONFIDANT], clock())
    response = file_reviewed(
        client, answers(world, route="integrity", category="integrity", grounds=[])
    )
    assert response.status_code == 200
    assert "You do not have access to this report" in html(response)
    assert "Kees Dijkstra" in html(response)
    [case] = filed_cases(app)
    assert grantees(app, case.id) == {world.people[COORDINATOR]}


def test_a_confidant_who_does_not_serve_the_organisation_passes_it_to_one_who_does(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    log_in(client, world.staff[CONFIDANT], clock())  # confidant@BZK only
    response = file_reviewed(client, answers(world, unit=str(world.units["JENV-DJI"])))
    assert response.status_code == 200
    [case] = filed_cases(app)
    assert grantees(app, case.id) == {world.people[WIDE_CONFIDANT]}


def test_the_manager_route_uses_the_employees_manager_from_the_directory(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    log_in(client, world.staff[CONFIDANT], clock())
    refused = post(client, answers(world, route="manager", employee_pick=None, name="S. de Vries"))
    assert "find the employee in the directory" in html(refused)
    assert filed_cases(app) == []
    response = file_reviewed(client, answers(world, route="manager"))
    assert response.status_code == 200
    [case] = filed_cases(app)
    assert grantees(app, case.id) == {world.people[MANAGER]}


def test_the_same_rules_as_the_form_apply(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    log_in(client, world.staff[CONFIDANT], clock())
    anonymous_committee = post(client, answers(world, route="committee", disclosure="anonymous"))
    assert anonymous_committee.status_code == 200
    assert "cannot be anonymous" in html(anonymous_committee)
    assert 'aria-invalid="true"' in html(anonymous_committee)
    no_grounds = post(client, answers(world, grounds=[]))
    assert "Choose at least one ground of discrimination." in html(no_grounds)
    missing = post(client, answers(world, description="", channel=""))
    assert "Describe what happened." in html(missing)
    assert "Choose how the employee contacted you." in html(missing)
    assert 'class="error-summary"' in html(missing)
    # Everything typed is still there.
    assert "elke maandag" in html(missing)
    assert filed_cases(app) == []


def test_nobody_named_as_accused_receives_it(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    log_in(client, world.staff[CONFIDANT], clock())
    # The BZK integrity coordinator is named (from the directory): nobody else can take it.
    picked = post(
        client,
        answers(
            world,
            route="integrity",
            category="integrity",
            grounds=[],
            accused_pick=[str(world.people[COORDINATOR])],
        ),
    )
    assert "No integrity coordinator can receive the report." in html(picked)
    # ... and typed by name, in another order.
    typed = post(
        client,
        answers(
            world,
            route="integrity",
            category="integrity",
            grounds=[],
            accused_names="Dijkstra, Kees\nIemand Anders",
        ),
    )
    assert "No integrity coordinator can receive the report." in html(typed)
    assert filed_cases(app) == []
    # The confidant themself named: another confidant receives it.
    response = file_reviewed(client, answers(world, accused_names="Ingrid Hoekstra"))
    assert response.status_code == 200
    [case] = filed_cases(app)
    assert world.people[CONFIDANT] not in grantees(app, case.id)
    assert grantees(app, case.id) == {world.people[WIDE_CONFIDANT]}


def test_searching_the_directory_files_nothing_and_keeps_what_was_typed(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    log_in(client, world.staff[CONFIDANT], clock())
    response = post(
        client, answers(world, action="search_accused", accused_query="Bakker", description=STORY)
    )
    text = html(response)
    assert response.status_code == 200
    assert "Lotte Bakker" in text
    assert 'name="accused_pick"' in text
    assert STORY in text
    employee = post(client, answers(world, action="search_employee", employee_query="Vries"))
    assert "Sanne de Vries" in html(employee)
    # Enter in a text field presses the first button, a search: still nothing is filed.
    enter = post(client, answers(world, action=None))
    assert enter.status_code == 200
    assert filed_cases(app) == []


# The review before filing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, CONFIDANT),  # kept by the confidant who took it
        ({"unit": "JENV-DJI"}, WIDE_CONFIDANT),  # not served by them: another confidant
        ({"route": "integrity", "category": "integrity", "grounds": []}, COORDINATOR),
        ({"route": "manager"}, MANAGER),  # the employee's manager from the directory
    ],
)
def test_the_review_shows_exactly_who_the_case_then_gets(
    app: Flask,
    client: FlaskClient,
    world: World,
    clock: Clock,
    overrides: dict[str, Any],
    expected: str,
) -> None:
    if "unit" in overrides:
        overrides = {**overrides, "unit": str(world.units[overrides["unit"]])}
    log_in(client, world.staff[CONFIDANT], clock())
    reviewed = review(client, answers(world, **overrides))
    text = html(reviewed)
    assert "Check the report before filing" in text
    assert filed_cases(app) == []  # nothing is filed by the review
    assert reviewed_recipients(reviewed) == {world.people[expected]}
    response = confirm(client, reviewed)
    assert response.status_code == 200
    [case] = filed_cases(app)
    assert grantees(app, case.id) == reviewed_recipients(reviewed)


def test_the_review_says_what_the_employee_will_be_told_as_their_mailbox_then_does(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    log_in(client, world.staff[CONFIDANT], clock())
    reviewed = review(client, answers(world, route="integrity", category="integrity", grounds=[]))
    told = re.search(r"<div class=\"status-box\" data-told>(.*?)</div>", html(reviewed), re.S)
    assert told is not None
    first = re.sub(r"<[^>]+>", "", told.group(1)).strip().splitlines()[0].strip()
    assert first == "Your report has been sent. The integrity coordinator will confirm receipt."
    assert "Kees Dijkstra" in html(reviewed)
    assert "You will not have access to this report" in html(reviewed)
    # Every answer is shown to be read back, with a way to change it.
    for answer in (STORY, "Dat het stopt.", "06 12345678", "Sanne de Vries", "elke maandag"):
        assert answer in html(reviewed), answer
    assert set(re.findall(r'data-change="(\w+)"', html(reviewed))) == {
        "people",
        "employee",
        "what",
        "when",
        "route",
    }
    code = shown_code(confirm(client, reviewed))
    employee = app.test_client()
    employee.set_cookie("taal", "en")
    page = employee.get("/opvolgen")
    opened = employee.post("/opvolgen", data={"code": code, "csrf_token": csrf_token(page)})
    assert opened.status_code == 303
    assert first in html(employee.get(opened.headers["Location"]))


def test_filing_without_the_review_shows_the_review_and_files_nothing(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    log_in(client, world.staff[CONFIDANT], clock())
    # "File the report" sent straight from the form (an old page, a script): no recipients seen.
    skipped = post(client, answers(world, action="submit"))
    assert skipped.status_code == 200
    assert "Check the report before filing" in html(skipped)
    assert "receipt-code" not in html(skipped)
    assert "would receive the report changed" not in html(skipped)  # a review, not a retry
    garbled = post(client, answers(world, action="submit", recipients=["x"]))
    assert "receipt-code" not in html(garbled)
    assert filed_cases(app) == []
    # Control: the same answers, sent on from that review page, are filed.
    response = confirm(client, skipped)
    assert normalise_receipt(shown_code(response)) is not None
    assert len(filed_cases(app)) == 1


def test_a_change_in_routing_between_review_and_filing_is_caught(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    log_in(client, world.staff[CONFIDANT], clock())
    integrity = answers(world, route="integrity", category="integrity", grounds=[])
    reviewed = review(client, integrity)
    assert reviewed_recipients(reviewed) == {world.people[COORDINATOR]}
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
        newcomer_id = newcomer.id
    stale = confirm(client, reviewed)
    assert stale.status_code == 200
    assert "the list of people who would receive the report changed" in html(stale)
    assert "receipt-code" not in html(stale)
    assert filed_cases(app) == []
    assert reviewed_recipients(stale) == {world.people[COORDINATOR], newcomer_id}
    # Control: filed from the new review, it goes to the people that review showed.
    response = confirm(client, stale)
    assert normalise_receipt(shown_code(response)) is not None
    [case] = filed_cases(app)
    assert grantees(app, case.id) == {world.people[COORDINATOR], newcomer_id}


def test_change_goes_back_to_the_form_with_everything_typed(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    log_in(client, world.staff[CONFIDANT], clock())
    reviewed = review(client, answers(world, accused_names="Iemand Anders"))
    fields = MultiDict(hidden_fields(reviewed))
    fields["action"] = "change"
    back = client.post(PAGE, data=fields)
    text = html(back)
    assert back.status_code == 200
    assert "Report on behalf of an employee" in text
    assert 'class="error-summary"' not in text
    for typed in (STORY, "Dat het stopt.", "06 12345678", "elke maandag", "Iemand Anders"):
        assert typed in text, typed
    assert re.search(r'name="route" value="confidant"\s+checked', text)
    assert filed_cases(app) == []
