"""When each finished case falls due: counting from the right event, extensions, holds."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from complaints.cases.models import Case, CaseEvent, Route
from complaints.retention.ledger import write_entry
from complaints.retention.models import LedgerAction, RetentionExtension, RetentionHold
from complaints.retention.policy import retention_policy
from complaints.retention.schedule import case_schedule, iter_schedules
from complaints.workflow.config import workflow
from tests.conftest import Clock, app_session
from tests.factories import make_case, make_org, make_person


def _finished(
    session: Session,
    clock: Clock,
    *,
    route: Route = Route.CONFIDANT,
    state: str = "closed",
    outcome: str | None = None,
    closed_at: datetime,
) -> Case:
    org = make_org(session, clock(), code=f"M{uuid.uuid4().hex[:6]}")
    case = make_case(session, clock(), handler=make_person(session, org.directorate, clock()))
    case.route, case.state, case.outcome = route, state, outcome
    case.closed_at = case.updated_at = closed_at
    session.flush()
    return case


def _items(session: Session, case: Case, as_of: date) -> list[tuple[str, str, date]]:
    schedule = case_schedule(session, retention_policy(), workflow(), case.id, as_of)
    assert schedule is not None
    return [(i.rule.name, i.action.value, i.due_on) for i in schedule.items]


def test_an_open_case_has_no_schedule(app: Flask, clock: Clock) -> None:
    with app_session(app) as session:
        org = make_org(session, clock())
        case = make_case(session, clock(), handler=make_person(session, org.directorate, clock()))
        assert (
            case_schedule(session, retention_policy(), workflow(), case.id, date(2040, 1, 1))
            is None
        )


def test_counts_from_closing_in_amsterdam(app: Flask, clock: Clock) -> None:
    # 23:30 UTC on 31 December is already 1 January in Amsterdam.
    closed = datetime(2026, 12, 31, 23, 30, tzinfo=clock().tzinfo)
    with app_session(app) as session:
        case = _finished(session, clock, closed_at=closed)
        assert _items(session, case, date(2027, 1, 1)) == [
            ("confidant-closed", "destroy", date(2029, 1, 1))
        ]


def test_withdrawn_case_of_any_route(app: Flask, clock: Clock) -> None:
    closed = clock()
    with app_session(app) as session:
        for route in Route:
            case = _finished(session, clock, route=route, state="withdrawn", closed_at=closed)
            assert _items(session, case, closed.date()) == [
                ("withdrawn", "destroy", closed.date() + timedelta(days=90))
            ]


def test_committee_decision_counts_from_the_decision(app: Flask, clock: Clock) -> None:
    decided_at = clock()
    closed_at = decided_at + timedelta(days=200)
    with app_session(app) as session:
        case = _finished(
            session, clock, route=Route.COMMITTEE, outcome="founded", closed_at=closed_at
        )
        session.add(
            CaseEvent(case_id=case.id, occurred_at=decided_at, kind="decide", to_state="decided")
        )
        session.flush()
        assert _items(session, case, closed_at.date()) == [
            ("committee-decided", "destroy", date(2029, 3, 2))
        ]
        # Not admissible: no decision on the complaint; counts from closing.
        other = _finished(
            session, clock, route=Route.COMMITTEE, outcome="not_admissible", closed_at=closed_at
        )
        assert _items(session, other, closed_at.date())[0][0] == "committee-closed"


def test_redaction_comes_first_and_is_left_out_once_done(app: Flask, clock: Clock) -> None:
    closed = clock()
    with app_session(app) as session:
        case = _finished(session, clock, route=Route.INTEGRITY, closed_at=closed)
        assert _items(session, case, closed.date()) == [
            ("integrity-redact", "redact", date(2027, 3, 2)),
            ("integrity-closed", "destroy", date(2031, 3, 2)),
        ]
        write_entry(
            session,
            now=clock(),
            as_of=date(2027, 3, 2),
            category="case",
            subject=case.reference,
            rule="integrity-redact",
            action=LedgerAction.REDACTED,
            records={"messages": 0},
        )
        session.flush()
        assert [name for name, _, _ in _items(session, case, date(2027, 3, 2))] == [
            "integrity-closed"
        ]


def test_extension_moves_every_pending_rule_by_its_own_period(app: Flask, clock: Clock) -> None:
    closed = clock()
    with app_session(app) as session:
        case = _finished(session, clock, route=Route.INTEGRITY, closed_at=closed)
        session.add(
            RetentionExtension(
                case_id=case.id,
                rule="integrity-redact",
                reason="Beroepsprocedure loopt",
                extended_at=clock(),
            )
        )
        session.flush()
        schedule = case_schedule(session, retention_policy(), workflow(), case.id, closed.date())
        assert schedule is not None
        assert [(i.due_on, i.extended) for i in schedule.items] == [
            (date(2028, 3, 2), True),
            (date(2032, 3, 2), True),
        ]
        assert schedule.epoch_day == date(2032, 3, 2)


@pytest.mark.parametrize(
    ("until", "as_of", "held"),
    [
        (None, date(2040, 1, 1), True),
        (date(2029, 6, 30), date(2029, 6, 30), True),  # the last day of the hold
        (date(2029, 6, 30), date(2029, 7, 1), False),
    ],
)
def test_a_standing_hold_keeps_the_case(
    app: Flask, clock: Clock, until: date | None, as_of: date, held: bool
) -> None:
    with app_session(app) as session:
        case = _finished(session, clock, closed_at=clock())
        session.add(
            RetentionHold(case_id=case.id, reason="Rechtszaak", until=until, placed_at=clock())
        )
        session.flush()
        schedule = case_schedule(session, retention_policy(), workflow(), case.id, as_of)
        assert schedule is not None
        destruction = schedule.destruction
        assert destruction is not None
        assert (destruction.hold is not None) is held
        assert destruction.is_due(as_of) is not held
        assert (schedule.epoch_day is None) is held


def test_a_lifted_hold_no_longer_counts(app: Flask, clock: Clock) -> None:
    with app_session(app) as session:
        case = _finished(session, clock, closed_at=clock())
        session.add(
            RetentionHold(
                case_id=case.id, reason="Rechtszaak", placed_at=clock(), lifted_at=clock()
            )
        )
        session.flush()
        schedule = case_schedule(session, retention_policy(), workflow(), case.id, date(2030, 1, 1))
        assert schedule is not None
        assert schedule.destruction is not None
        assert schedule.destruction.is_due(date(2030, 1, 1))


def test_batches_cover_every_finished_case_once(app: Flask, clock: Clock) -> None:
    with app_session(app) as session:
        ids = {_finished(session, clock, closed_at=clock()).id for _ in range(7)}
        seen = [
            s.case_id
            for batch in iter_schedules(
                session, retention_policy(), workflow(), as_of=clock().date(), batch_size=3
            )
            for s in batch
        ]
        assert sorted(seen) == sorted(ids)
