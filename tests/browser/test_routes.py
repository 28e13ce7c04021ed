"""One full run of each handler's route in a real browser, on the case page (/zaken/<id>): from
the filed report to the closed case, each step taken through its form. After every step the page
shows the new state and the step in the history; at the end every deadline shows as met. axe-core,
the reflow check and the error-summary check run on every page on the way.

The committee route has its own full run in test_committee.py."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from complaints.cases.models import Route
from complaints.workflow.config import workflow
from tests.browser.conftest import Axe
from tests.browser.pages import HandlerCasePage, LoginPage
from tests.casework import CONFIDANT, INTEGRITY, handler
from tests.conftest import Clock, app_session
from tests.factories import PASSWORD, file_report, import_demo_directory, totp_code

pytestmark = pytest.mark.browser

MANAGER = "a.demir@bzk.example"  # the filer's line manager, picked in the report


@dataclass(frozen=True)
class Step:
    name: str
    to: str  # the state the case is in afterwards
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    route: Route
    handler: str  # who receives the report and takes every step
    steps: tuple[Step, ...]
    deadlines: tuple[str, ...]  # every deadline of the route, met by the end of the run


RUNS = (
    Run(
        Route.MANAGER,
        MANAGER,
        (
            Step("acknowledge", "acknowledged"),
            Step("start", "in_progress"),
            Step("resolve", "resolved", {"summary": "Gesprek gevoerd met beide collega's."}),
            Step("close", "closed", {"remark": "De melder is tevreden."}),
        ),
        ("acknowledge",),
    ),
    Run(
        Route.INTEGRITY,
        INTEGRITY,
        (
            Step("acknowledge", "acknowledged"),
            Step("assess", "assessing"),
            Step("investigate", "investigating", {"reason": "Een patroon bij meer afdelingen."}),
            Step("give_feedback", "feedback_given", {"feedback": "Het onderzoek loopt af."}),
            Step("close", "closed"),
        ),
        ("acknowledge", "feedback"),
    ),
    Run(
        Route.CONFIDANT,
        CONFIDANT,
        (
            Step("acknowledge", "acknowledged"),
            Step("support", "supporting"),
            Step(
                "close",
                "closed",
                {"remark": "Begeleiding afgerond.", "closing": "U kunt altijd terugkomen."},
            ),
        ),
        ("acknowledge",),
    ),
)


@pytest.mark.parametrize("run", RUNS, ids=[run.route.value for run in RUNS])
def test_a_handler_takes_a_report_from_filed_to_closed(
    run: Run, page: Page, axe: Axe, committed_app: Flask, clock: Clock
) -> None:
    with app_session(committed_app) as session:
        people = import_demo_directory(session, clock())
        case_id = str(file_report(session, clock(), route=run.route).case_id)
        staff = handler(session, people, clock(), run.handler)
        flow = workflow()[run.route]
    assert staff.totp_secret is not None
    LoginPage.open(page, axe).log_in(run.handler, PASSWORD).enter_code(
        totp_code(staff.totp_secret, clock())
    )

    case = HandlerCasePage.visit(page, axe, case_id)
    expect(case.state).to_have_attribute("data-state", flow.initial)
    expect(case.history).to_have_count(1)
    expect(case.history.first).to_have_attribute("data-event", "submitted")
    for name in run.deadlines:
        spec = flow.deadline(name)
        assert spec is not None
        if spec.starts == flow.initial:
            expect(case.deadline_status(name)).to_have_attribute("data-status", "open")
        else:  # its clock starts later in the run
            expect(case.deadline_status(name)).to_have_count(0)

    state, taken = flow.initial, ["submitted"]
    for step in run.steps:
        clock.advance(minutes=5)
        # Only the steps the workflow allows from here are offered, this one among them.
        offered = sorted(t.name for t in flow.transitions if state in t.from_states)
        assert sorted(f.get_attribute("data-step") or "" for f in case.steps.all()) == offered
        case = case.take_step(step.name, **step.fields)
        state = step.to
        taken.append(step.name)
        expect(case.notices).to_have_count(1)
        expect(case.state).to_have_attribute("data-state", state)
        label = flow.state(state).label.in_language(case.language or "nl")
        expect(case.state).to_contain_text(label)
        expect(case.history).to_have_count(len(taken))
        assert [item.get_attribute("data-event") for item in case.history.all()] == taken

    # The final state: nothing left to do, and every deadline was met in time.
    expect(case.steps).to_have_count(0)
    for name in run.deadlines:
        expect(case.deadline_status(name)).to_have_attribute("data-status", "met")
