"""Check-ins go with their case and never keep it longer: the sweep destroys them with it, and
sending or answering one does not move the day the retention policy counts from."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from flask import Flask

from complaints import db
from complaints.audit.services import Actor
from complaints.cases.models import Case, Route
from complaints.checkins.models import CheckIn
from complaints.clock import now
from complaints.crypto.services import keystore
from complaints.retention.policy import retention_policy
from complaints.retention.schedule import case_schedule
from complaints.retention.sweep import apply
from complaints.workflow.config import workflow
from tests.checkins import checkins, close
from tests.checkins.test_mailbox import answer, open_box
from tests.checkins.test_retaliation import CLOSED, TOLD, closed_and_asked
from tests.conftest import Clock, app_session

# The confidant rule: destroyed two years after closing (config/retention.toml).
DESTROYED_ON = date(2028, 3, 10)


def sweep(app: Flask, as_of: date) -> int:
    with app.app_context():
        report = apply(
            db.session(),
            retention_policy(),
            workflow(),
            keystore(),
            as_of=as_of,
            now=now(),
            actor=Actor.operator(),
            batch_size=50,
            commit=db.commit,
        )
        db.commit()
    return report.cases_destroyed


def destruction_day(app: Flask, case_id: uuid.UUID, as_of: date) -> date | None:
    with app_session(app) as session:
        schedule = case_schedule(session, retention_policy(), workflow(), case_id, as_of)
        if schedule is None or schedule.destruction is None:
            return None
        return schedule.destruction.due_on


def test_the_sweep_destroys_the_check_ins_with_the_case(app: Flask, clock: Clock) -> None:
    case_id, _code, _handler = closed_and_asked(app, clock, Route.CONFIDANT)
    with app_session(app) as session:
        assert len(checkins(session, case_id)) == 3
    # Control: the day before, nothing goes (one check-in sent, two still to come).
    assert sweep(app, DESTROYED_ON - timedelta(days=1)) == 0
    with app_session(app) as session:
        assert len(checkins(session, case_id)) == 3
    assert sweep(app, DESTROYED_ON) == 1
    with app_session(app) as session:
        assert session.get(Case, case_id) is None
        assert (
            session.scalar(
                sa.select(sa.func.count()).select_from(CheckIn).where(CheckIn.case_id == case_id)
            )
            == 0
        )


def test_sending_and_answering_do_not_move_the_day(app: Flask, clock: Clock) -> None:
    case_id, code, _handler = closed_and_asked(app, clock, Route.CONFIDANT)
    assert destruction_day(app, case_id, date(2026, 4, 10)) == DESTROYED_ON
    browser, _page = open_box(app, code)
    assert answer(browser, TOLD).status_code == 303
    assert destruction_day(app, case_id, date(2026, 4, 10)) == DESTROYED_ON
    # A check-in due after the day is simply never reached: it does not hold the case.
    with app_session(app) as session:
        session.add(CheckIn(case_id=case_id, months=24, closed_at=CLOSED, due_on=date(2028, 3, 11)))
    assert destruction_day(app, case_id, date(2026, 4, 10)) == DESTROYED_ON
    assert sweep(app, DESTROYED_ON) == 1


def test_a_reopened_case_counts_from_its_new_closing(app: Flask, clock: Clock) -> None:
    """Control: the schedule does move when the case itself changes (reopened, closed later)."""
    case_id, code, _handler = closed_and_asked(app, clock, Route.CONFIDANT)
    browser, _page = open_box(app, code)
    assert answer(browser, TOLD, retaliation=True).status_code == 303
    assert destruction_day(app, case_id, date(2026, 4, 10)) is None  # open again: no day
    with app_session(app) as session:
        close(session, case_id, Route.CONFIDANT, datetime(2026, 6, 1, 10, 0, tzinfo=UTC))
    assert destruction_day(app, case_id, date(2026, 6, 1)) == date(2028, 6, 1)
