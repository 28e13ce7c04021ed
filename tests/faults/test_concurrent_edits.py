"""Two handlers send the same step of one case at the same moment, through the application.

``tests/workflow/test_concurrency.py`` proves the version check with two real database
connections at the service level, and ``tests/casework/test_steps.py`` shows the stale-form
page for one request after another. This sends both requests at once from two threads (two
browsers, a database that really commits): exactly one step is taken, the other handler gets
the "changed meanwhile" page with what they typed still in the form, nothing is recorded twice,
and the audit chain still verifies.
"""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from complaints.audit.models import AuditEvent
from complaints.audit.services import verify_chain
from complaints.cases.models import Case, CaseEvent, Route
from complaints.crypto.services import keystore
from tests.casework import SECRETARY, file_case, handler, html, logged_in
from tests.casework.test_steps import OTHER_SECRETARY, advance, case_url, post_step
from tests.conftest import Clock, app_session
from tests.factories import import_demo_directory

pytestmark = pytest.mark.committing

# The decision term may be extended once: after the winner's extension the step is no longer
# offered, so the loser is told and nothing of theirs is recorded. (Where the stale step is still
# possible the page keeps what was typed: tests/casework/test_steps.py.)
STEP = "extend_decision"


def test_two_handlers_taking_the_same_step_at_once_one_wins_the_other_keeps_their_text(
    committed_app: Flask, clock: Clock
) -> None:
    app = committed_app
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        case_id, _reference, _code = file_case(session, people, clock(), route=Route.COMMITTEE)
        wim_login = handler(session, people, clock(), SECRETARY)
        noor_login = handler(session, people, clock(), OTHER_SECRETARY)
    advance(app, case_id, people[SECRETARY], ("acknowledge", {}), now=clock())
    clock.advance(hours=1)
    browsers = {
        "wim": logged_in(app, wim_login, clock()),
        "noor": logged_in(app, noor_login, clock()),
    }
    pages = {name: client.get(case_url(case_id)) for name, client in browsers.items()}
    typed = {name: f"Hoorzitting verplaatst, volgens {name}." for name in browsers}
    responses: dict[str, TestResponse] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(browsers), timeout=30)

    def send(name: str, client: FlaskClient) -> None:
        try:
            start.wait()
            responses[name] = post_step(client, pages[name], case_id, STEP, reason=typed[name])
        except BaseException as exc:  # reported below; a thread must not swallow it
            errors.append(exc)

    threads = [threading.Thread(target=send, args=item) for item in browsers.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    statuses = sorted(r.status_code for r in responses.values())
    assert statuses == [303, 409], {n: r.status_code for n, r in responses.items()}
    (winner,) = [n for n, r in responses.items() if r.status_code == 303]
    (loser,) = [n for n, r in responses.items() if r.status_code == 409]
    page = html(responses[loser])
    assert "Someone else changed this case while you were working on it." in page
    assert f'data-step="{STEP}"' not in page

    with app_session(app) as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert case.state == "acknowledged"
        kinds = session.scalars(sa.select(CaseEvent.kind).where(CaseEvent.case_id == case_id)).all()
        assert sorted(kinds) == ["acknowledge", STEP, "submitted"]
        taken = session.scalars(
            sa.select(AuditEvent.details).where(
                AuditEvent.action == "case.transition",
                AuditEvent.object_id == str(case_id),
            )
        ).all()
        assert [d.get("transition") for d in taken].count(STEP) == 1
        (event,) = session.scalars(
            sa.select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == STEP)
        ).all()
        assert event.actor_person_id == people[SECRETARY if winner == "wim" else OTHER_SECRETARY].id
        assert verify_chain(session, keystore()).ok
    assert browsers[loser].get(case_url(case_id)).status_code == 200
