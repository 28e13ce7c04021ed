"""Closing a case plans its check-ins: the route's months after the closing day, in Amsterdam."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from flask import Flask

from complaints.cases.models import Case, Route
from complaints.crypto.services import keystore
from complaints.followup.services import withdraw_case
from complaints.workflow.config import load_workflow, workflow
from tests.checkins import CLOSING, checkins, close, file_on, take_step
from tests.conftest import Clock, app_session
from tests.workflow.test_config import set_value, shipped, write


@pytest.mark.parametrize("route", list(Route))
def test_closing_plans_check_ins_at_one_three_and_six_months(
    app: Flask, clock: Clock, route: Route
) -> None:
    # 31 January, 14:00 in Amsterdam: a month later is the end of February.
    closing = datetime(2026, 1, 31, 13, 0, tzinfo=UTC)
    clock.current = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    with app_session(app) as session:
        filed = file_on(session, clock(), route)
        close(session, filed.case_id, route, closing)
        rows = checkins(session, filed.case_id)
        assert [(r.months, r.due_on) for r in rows] == [
            (1, date(2026, 2, 28)),
            (3, date(2026, 4, 30)),
            (6, date(2026, 7, 31)),
        ]
        assert {r.closed_at for r in rows} == {closing}
        assert all(r.sent_at is None and r.reminded_at is None for r in rows)


def test_the_day_is_the_closing_day_in_amsterdam_not_in_utc(app: Flask, clock: Clock) -> None:
    # 23:30 UTC on 31 January is already 1 February in Amsterdam.
    late = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)
    clock.current = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    with app_session(app) as session:
        filed = file_on(session, clock(), Route.CONFIDANT)
        close(session, filed.case_id, Route.CONFIDANT, late)
        assert [r.due_on for r in checkins(session, filed.case_id)] == [
            date(2026, 3, 1),
            date(2026, 5, 1),
            date(2026, 8, 1),
        ]


def test_the_dates_follow_the_injected_clock(app: Flask, clock: Clock) -> None:
    """Control for the tests above: another closing moment gives other days."""
    clock.current = datetime(2027, 6, 1, 9, 0, tzinfo=UTC)
    with app_session(app) as session:
        filed = file_on(session, clock(), Route.MANAGER)
        close(session, filed.case_id, Route.MANAGER, clock.advance(days=9))
        assert [r.due_on for r in checkins(session, filed.case_id)] == [
            date(2027, 7, 10),
            date(2027, 9, 10),
            date(2027, 12, 10),
        ]


def test_nothing_is_planned_before_the_case_closes(app: Flask, clock: Clock) -> None:
    with app_session(app) as session:
        filed = file_on(session, clock(), Route.MANAGER)
        *before, _last = CLOSING[Route.MANAGER]
        for name, values in before:
            take_step(session, filed.case_id, name, clock.advance(days=1), **values)
        assert checkins(session, filed.case_id) == []


def test_a_withdrawn_report_gets_no_check_ins(app: Flask, clock: Clock) -> None:
    with app_session(app) as session:
        filed = file_on(session, clock(), Route.CONFIDANT)
        case = session.get(Case, filed.case_id)
        assert case is not None
        withdraw_case(session, keystore(), workflow(), case, now=clock.advance(days=2))
        assert case.closed_at is not None
        assert checkins(session, filed.case_id) == []


def test_a_route_without_check_in_months_plans_none(
    app: Flask, clock: Clock, tmp_path: Path
) -> None:
    data = copy.deepcopy(shipped("workflow.toml"))
    set_value("routes.confidant.checkin_months", [])(data)
    flow = load_workflow(write(tmp_path, "workflow.toml", data))
    with app_session(app) as session:
        filed = file_on(session, clock(), Route.CONFIDANT)
        close(session, filed.case_id, Route.CONFIDANT, clock.advance(days=3), flow)
        assert checkins(session, filed.case_id) == []
        # Control: the same closing with the shipped file plans three.
        other = file_on(session, clock(), Route.CONFIDANT)
        close(session, other.case_id, Route.CONFIDANT, clock.advance(days=3))
        assert len(checkins(session, other.case_id)) == 3
