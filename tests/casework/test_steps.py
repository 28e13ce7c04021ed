"""Moving a case through its workflow from the case page: one form per step."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_wtf.csrf import generate_csrf
from werkzeug.datastructures import MultiDict
from werkzeug.test import TestResponse

from complaints.audit.models import ActorKind, AuditEvent
from complaints.cases.models import (
    Case,
    CaseEvent,
    Consent,
    ConsentKind,
    Deadline,
    GrantRole,
    Route,
)
from complaints.casework.forms import step_form, step_values
from complaints.crypto.services import keystore
from complaints.directory.models import Person
from complaints.web.i18n import Localized
from complaints.workflow.config import FieldSpec, TransitionSpec, workflow
from complaints.workflow.transitions import apply_transition
from tests.casework import CONFIDANT, SECRETARY, file_case, handler, html, logged_in
from tests.conftest import Clock, app_session
from tests.factories import StaffLogin, csrf_token, import_demo_directory

OTHER_SECRETARY = "n.haddou@bzk.example"


@pytest.fixture
def people(app: Flask, clock: Clock) -> dict[str, Person]:
    with app_session(app) as session:
        return import_demo_directory(session, clock())


def case_url(case_id: uuid.UUID) -> str:
    return f"/zaken/{case_id}"


def version_on(page: TestResponse | str, step: str) -> str:
    text = page if isinstance(page, str) else html(page)
    match = re.search(rf'name="{step}-version"[^>]*value="([0-9]+)"', text) or re.search(
        rf'value="([0-9]+)"[^>]*name="{step}-version"', text
    )
    assert match, f"no form for {step!r} on the page"
    return match.group(1)


def post_step(
    client: FlaskClient, page: TestResponse, case_id: uuid.UUID, step: str, **fields: str
) -> TestResponse:
    """Send a step's form as the browser would, from the page it was shown on."""
    data = {f"{step}-{name}": value for name, value in fields.items()}
    if f"{step}-version" not in data:
        data[f"{step}-version"] = version_on(page, step)
    return client.post(
        f"{case_url(case_id)}/stap/{step}", data={"csrf_token": csrf_token(page), **data}
    )


def load(app: Flask, case_id: uuid.UUID) -> Case:
    with app_session(app) as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case


def advance(
    app: Flask,
    case_id: uuid.UUID,
    person: Person,
    *steps: tuple[str, dict[str, str]],
    now: datetime,
) -> None:
    """Take steps as a committee secretary through the workflow engine, to set a case up."""
    with app_session(app) as session:
        case = session.get(Case, case_id)
        assert case is not None
        for name, values in steps:
            apply_transition(
                session,
                keystore(),
                workflow(),
                case,
                name,
                actor_person_id=person.id,
                roles={GrantRole.COMMITTEE_SECRETARY},
                values=values,
                expected_version=case.version,
                now=now,
            )


@pytest.fixture
def secretaries(app: Flask, people: dict[str, Person], clock: Clock) -> tuple[StaffLogin, ...]:
    with app_session(app) as session:
        return (
            handler(session, people, clock(), SECRETARY),
            handler(session, people, clock(), OTHER_SECRETARY),
        )


def committee_case(app: Flask, people: dict[str, Person], clock: Clock) -> uuid.UUID:
    with app_session(app) as session:
        case_id, _reference, _code = file_case(session, people, clock(), route=Route.COMMITTEE)
    return case_id


# Taking a step ---------------------------------------------------------------------------------


def test_a_confidant_confirms_receipt_from_the_case_page(
    app: Flask, people: dict[str, Person], clock: Clock
) -> None:
    with app_session(app) as session:
        case_id, _reference, _code = file_case(session, people, clock())
        staff = handler(session, people, clock())
    client = logged_in(app, staff, clock())
    page = client.get(case_url(case_id))
    text = html(page)
    assert 'data-step="acknowledge"' in text
    assert 'data-step="close"' not in text  # not possible before receipt is confirmed
    assert version_on(page, "acknowledge") == str(load(app, case_id).version)

    response = post_step(client, page, case_id, "acknowledge")
    assert response.status_code == 303
    after = client.get(response.headers["Location"])
    text = html(after)
    assert "Done: “Confirm receipt”." in text
    assert 'data-state="acknowledged"' in text
    assert 'data-status="met"' in text  # the 7-day deadline, met
    assert re.search(r'data-event="acknowledge".*?Ingrid Hoekstra.*?Confirm receipt', text, re.S)
    # The next steps of the new state are offered, with the new version.
    assert 'data-step="support"' in text
    assert version_on(after, "support") == str(load(app, case_id).version)

    with app_session(app) as session:
        event = session.scalars(
            sa.select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind != "submitted")
        ).one()
        assert (event.kind, event.from_state, event.to_state) == (
            "acknowledge",
            "submitted",
            "acknowledged",
        )
        assert event.actor_person_id == people[CONFIDANT].id
        audited = session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "case.transition")
        ).one()
        assert (audited.actor_kind, audited.actor_id) == (ActorKind.STAFF, str(staff.account.id))


def test_the_values_of_a_step_are_shown_in_the_history(
    app: Flask, people: dict[str, Person], clock: Clock
) -> None:
    with app_session(app) as session:
        case_id, _reference, _code = file_case(session, people, clock())
        staff = handler(session, people, clock())
    client = logged_in(app, staff, clock())
    page = client.get(case_url(case_id))
    page = client.get(post_step(client, page, case_id, "acknowledge").headers["Location"])
    remark = "Gesprek gehad; <b>melder</b> wil geen verdere stappen."
    response = post_step(client, page, case_id, "close", remark=remark, closing="Tot ziens.")
    assert response.status_code == 303
    text = html(client.get(case_url(case_id)))
    assert 'data-state="closed"' in text
    assert "Remark" in text
    assert "Gesprek gehad; &lt;b&gt;melder&lt;/b&gt; wil geen verdere stappen." in text
    # A closed case offers no steps; messages only while the complainant can still write.
    assert 'id="stappen"' not in text
    assert 'action="/zaken/' + str(case_id) + '/bericht"' in text
    assert "The complainant can still write until" in text
    assert f'action="/zaken/{case_id}/notitie"' in text
    with app_session(app) as session:
        event = session.scalars(
            sa.select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == "close")
        ).one()
        assert event.remark is not None
        assert remark.encode() not in event.remark


def test_a_required_field_left_empty_is_pointed_out_and_nothing_changes(
    app: Flask, people: dict[str, Person], clock: Clock, secretaries: tuple[StaffLogin, ...]
) -> None:
    case_id = committee_case(app, people, clock)
    advance(app, case_id, people[SECRETARY], ("acknowledge", {}), now=clock())
    client = logged_in(app, secretaries[0], clock())
    page = client.get(case_url(case_id))
    response = post_step(client, page, case_id, "mark_incomplete", missing="   ")
    assert response.status_code == 200
    text = html(response)
    assert "<title>Error:" in text
    assert 'href="#mark_incomplete-missing"' in text
    assert "Please fill in “What is missing?”." in text
    assert 'aria-invalid="true"' in text
    assert load(app, case_id).state == "acknowledged"


def test_the_decision_is_taken_on_the_committee_page_with_its_document(
    app: Flask, people: dict[str, Person], clock: Clock, secretaries: tuple[StaffLogin, ...]
) -> None:
    case_id = committee_case(app, people, clock)
    advance(
        app,
        case_id,
        people[SECRETARY],
        ("acknowledge", {}),
        ("accept", {}),
        ("start_hearing", {}),
        ("send_advice", {"advice_summary": "Gegrond, excuses aanbevolen."}),
        now=clock(),
    )
    client = logged_in(app, secretaries[0], clock())
    page = client.get(case_url(case_id))
    text = html(page)
    # Deciding records the decision document too: the case page leads there instead.
    assert 'data-step="decide"' not in text
    assert f'href="/zaken/{case_id}/commissie"' in text
    response = post_step(
        client,
        page,
        case_id,
        "decide",
        outcome="partly_founded",
        reasons="Deels bewezen.",
        departs_from_advice="y",
        departure_reason="Nieuwe feiten na het advies.",
        version=str(load(app, case_id).version),
    )
    assert response.status_code == 404
    assert load(app, case_id).state == "advice_sent"


def test_a_step_that_needs_consent_is_refused_with_its_reason_beside_the_form(
    app: Flask, people: dict[str, Person], clock: Clock, secretaries: tuple[StaffLogin, ...]
) -> None:
    case_id = committee_case(app, people, clock)
    advance(
        app,
        case_id,
        people[SECRETARY],
        ("acknowledge", {}),
        ("accept", {}),
        now=clock(),
    )
    client = logged_in(app, secretaries[0], clock())
    page = client.get(case_url(case_id))
    response = post_step(client, page, case_id, "start_mediation")
    assert response.status_code == 200
    text = html(response)
    assert "needs the complainant&#39;s consent to mediation" in text
    refusal = re.search(r'<form[^>]*data-step="start_mediation".*?</form>', text, re.S)
    assert refusal is not None
    assert 'class="field__error step__refusal" role="alert"' in refusal.group(0)
    assert load(app, case_id).state == "accepted"

    with app_session(app) as session:
        session.add(Consent(case_id=case_id, kind=ConsentKind.MEDIATION, given_at=clock()))
    assert post_step(client, response, case_id, "start_mediation").status_code == 303
    assert load(app, case_id).state == "mediation"
    with app_session(app) as session:
        decision = session.scalars(
            sa.select(Deadline).where(Deadline.case_id == case_id, Deadline.name == "decision")
        ).one()
        assert decision.paused_at is not None
    # The paused clock is shown as such, and the inbox counts no running deadline for it.
    text = html(client.get(case_url(case_id)))
    assert re.search(r'data-deadline="decision".*?data-status="paused"', text, re.S)
    assert "Paused: the clock stands still" in text
    row = re.search(r'<tr data-case="[^"]+".*?</tr>', html(client.get("/zaken")), re.S)
    assert row is not None
    assert "None running" in row.group(0)


def test_someone_else_changed_the_case_meanwhile(
    app: Flask, people: dict[str, Person], clock: Clock, secretaries: tuple[StaffLogin, ...]
) -> None:
    case_id = committee_case(app, people, clock)
    advance(app, case_id, people[SECRETARY], ("acknowledge", {}), now=clock())
    wim = logged_in(app, secretaries[0], clock())
    noor = logged_in(app, secretaries[1], clock())
    wims_page = wim.get(case_url(case_id))
    noors_page = noor.get(case_url(case_id))
    loaded_at = version_on(wims_page, "declare_not_admissible")

    done = post_step(noor, noors_page, case_id, "mark_incomplete", missing="De datum ontbreekt.")
    assert done.status_code == 303
    assert load(app, case_id).state == "incomplete"

    reasons = "Buiten de termijn ingediend, zie <notitie>."
    stale = post_step(wim, wims_page, case_id, "declare_not_admissible", reasons=reasons)
    assert stale.status_code == 409
    text = html(stale)
    assert "Someone else changed this case while you were working on it." in text
    assert 'role="alert" id="changed-meanwhile"' in text
    assert "<title>Error:" in text
    # The case as it is now, and what Wim typed, still in the form (the step is still possible).
    assert 'data-state="incomplete"' in text
    assert "Buiten de termijn ingediend, zie &lt;notitie&gt;." in text
    current = version_on(stale, "declare_not_admissible")
    assert current != loaded_at
    assert current == str(load(app, case_id).version)
    assert load(app, case_id).state == "incomplete"

    # Trying again from the page that explained it works.
    again = post_step(wim, stale, case_id, "declare_not_admissible", reasons=reasons)
    assert again.status_code == 303
    case = load(app, case_id)
    assert (case.state, case.outcome) == ("not_admissible", "not_admissible")


def test_a_stale_step_that_is_no_longer_possible_says_so(
    app: Flask, people: dict[str, Person], clock: Clock, secretaries: tuple[StaffLogin, ...]
) -> None:
    case_id = committee_case(app, people, clock)
    wim = logged_in(app, secretaries[0], clock())
    noor = logged_in(app, secretaries[1], clock())
    wims_page = wim.get(case_url(case_id))
    noors_page = noor.get(case_url(case_id))
    assert post_step(noor, noors_page, case_id, "acknowledge").status_code == 303
    twice = post_step(wim, wims_page, case_id, "acknowledge")
    assert twice.status_code == 409
    assert "Someone else changed this case" in html(twice)
    assert 'data-step="acknowledge"' not in html(twice)
    with app_session(app) as session:
        kinds = session.scalars(sa.select(CaseEvent.kind).where(CaseEvent.case_id == case_id)).all()
        assert sorted(kinds) == ["acknowledge", "submitted"]


def test_steps_outside_the_current_state_or_the_route_are_refused(
    app: Flask, people: dict[str, Person], clock: Clock
) -> None:
    with app_session(app) as session:
        case_id, _reference, _code = file_case(session, people, clock())
        staff = handler(session, people, clock())
    client = logged_in(app, staff, clock())
    page = client.get(case_url(case_id))
    version = version_on(page, "acknowledge")
    token = csrf_token(page)
    # "close" exists on this route, but not before receipt is confirmed.
    too_early = client.post(
        f"{case_url(case_id)}/stap/close",
        data={
            "csrf_token": token,
            "close-version": version,
            "close-remark": "x",
            "close-closing": "x",
        },
    )
    assert too_early.status_code == 200
    assert "is not possible while the case is “Submitted”" in html(too_early)
    # A step of another route, and nonsense.
    for name in ("decide", "drop_table", "acknowledge%00"):
        response = client.post(
            f"{case_url(case_id)}/stap/{name}",
            data={"csrf_token": token, f"{name}-version": version},
        )
        assert response.status_code == 404, name
    # A version that is not a number.
    for bad in ("", "abc", "1 OR 1=1", "9" * 12):
        response = client.post(
            f"{case_url(case_id)}/stap/acknowledge",
            data={"csrf_token": token, "acknowledge-version": bad},
        )
        assert response.status_code == 400, bad
    assert load(app, case_id).state == "submitted"


# The forms themselves --------------------------------------------------------------------------


def test_a_date_field_is_a_date_input_and_is_checked(app: Flask) -> None:
    spec = TransitionSpec(
        name="plan_hearing",
        label=Localized("Hoorzitting plannen", "Plan the hearing"),
        from_states=frozenset({"accepted"}),
        to="hearing",
        roles=frozenset({GrantRole.COMMITTEE_SECRETARY}),
        fields=(
            FieldSpec("on", "date", Localized("Datum", "Date"), True),
            FieldSpec("note", "text", Localized("Toelichting", "Note"), False),
            FieldSpec("heard", "boolean", Localized("Gehoord", "Heard"), False),
        ),
        requires_consent=None,
    )
    with app.test_request_context("/", method="POST", headers={"Cookie": "taal=en"}):
        flow = workflow()[Route.COMMITTEE]
        fresh = step_form(flow, spec, version=3)
        rendered = str(fresh["on"]())
        assert 'type="date"' in rendered
        assert 'name="plan_hearing-on"' in rendered
        assert fresh["version"].data == 3

        token = {"plan_hearing-csrf_token": generate_csrf()}  # CSRF stays on
        good = step_form(
            flow,
            spec,
            formdata=MultiDict(
                {**token, "plan_hearing-version": "3", "plan_hearing-on": "2026-04-01"}
            ),
        )
        assert good.validate(), good.errors
        assert step_values(good, spec) == {"on": "2026-04-01", "heard": "no"}

        bad = step_form(
            flow,
            spec,
            formdata=MultiDict(
                {**token, "plan_hearing-version": "3", "plan_hearing-on": "1 april"}
            ),
        )
        assert not bad.validate()
        assert bad["on"].errors == ["Please choose a valid value for “Date”."]

        missing = step_form(flow, spec, formdata=MultiDict({**token, "plan_hearing-version": "3"}))
        assert not missing.validate()
        assert missing["on"].errors == ["Please fill in “Date”."]


def test_an_extension_keeps_the_state_and_moves_the_deadline(
    app: Flask, people: dict[str, Person], clock: Clock, secretaries: tuple[StaffLogin, ...]
) -> None:
    case_id = committee_case(app, people, clock)
    advance(app, case_id, people[SECRETARY], ("acknowledge", {}), now=clock())
    client = logged_in(app, secretaries[0], clock())
    page = client.get(case_url(case_id))
    # Filed 2 March: ten weeks is 11 May; four more weeks is 8 June.
    assert re.search(r'data-deadline="decision".*?datetime="2026-05-11"', html(page), re.S)
    assert 'data-step="extend_decision_with_consent"' not in html(page)  # not before the first
    response = post_step(
        client, page, case_id, "extend_decision", reason="Hoorzitting pas in mei mogelijk."
    )
    assert response.status_code == 303
    text = html(client.get(case_url(case_id)))
    assert 'data-state="acknowledged"' in text
    assert re.search(r'data-deadline="decision".*?datetime="2026-06-08"', text, re.S)
    assert 'data-extensions="1"' in text
    assert 'data-step="extend_decision"' not in text  # the statutory extension is used up
    assert 'data-step="extend_decision_with_consent"' in text
    assert "Hoorzitting pas in mei mogelijk." in text  # in the history
