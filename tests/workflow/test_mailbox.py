"""The complainant's mailbox shows a paused time limit as paused, not as open or overdue."""

from __future__ import annotations

import re

from flask import Flask

from complaints.cases.models import Case, ConsentKind, GrantRole, Route
from tests.conftest import Clock, app_session
from tests.factories import csrf_token, import_demo_directory
from tests.workflow import file_on, give_consent, step

SECRETARY = {GrantRole.COMMITTEE_SECRETARY}


def test_the_mailbox_shows_the_decision_term_paused_during_mediation(
    app: Flask, clock: Clock
) -> None:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        filed = file_on(session, people, Route.COMMITTEE, clock())
        case = session.get(Case, filed.case_id)
        assert case is not None
        for name in ("acknowledge", "accept"):
            step(session, case, name, clock(), person=filed.handler, roles=SECRETARY)
        give_consent(session, case.id, ConsentKind.MEDIATION, clock())
        step(session, case, "start_mediation", clock(), person=filed.handler, roles=SECRETARY)
    clock.advance(weeks=20)  # long past the decision's due day: still not overdue

    browser = app.test_client()
    browser.set_cookie("taal", "en")
    form = browser.get("/opvolgen")
    entered = browser.post("/opvolgen", data={"code": filed.code, "csrf_token": csrf_token(form)})
    assert entered.status_code == 303
    page = browser.get(entered.headers["Location"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    item = re.search(r'<li[^>]*data-deadline="decision".*?</li>', html, re.S)
    assert item is not None
    assert 'data-status="paused"' in item.group(0)
    assert "Paused: the time limit stands still for now" in item.group(0)
    assert "Overdue" not in item.group(0)
    assert "mediation is tried first" in html  # the state in plain words
