"""Transitions: every route's procedure from filing to closing, every refusal, the deadlines
they start, pause, move and meet, and the rows they write (or, refused, do not write)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_babel import refresh
from sqlalchemy.orm import Session

from complaints import db
from complaints.audit.models import ActorKind, AuditEvent
from complaints.cases.models import Case, CaseAccessGrant, CaseEvent, ConsentKind, GrantRole, Route
from complaints.crypto.services import case_cipher, keystore
from complaints.directory.models import Person
from complaints.followup.services import withdraw_case
from complaints.stats.models import StatEvent
from complaints.workflow.config import workflow
from complaints.workflow.services import DeadlineStatus, deadline_views
from complaints.workflow.transitions import (
    ChangedMeanwhile,
    TransitionRefused,
    apply_transition,
    available_transitions,
    event_values,
    grant_roles,
)
from tests.conftest import Clock
from tests.factories import import_demo_directory, make_account
from tests.workflow import (
    MEMBER,
    add_member,
    deadlines,
    file_on,
    give_consent,
    snapshot,
    step,
)

SECRETARY = {GrantRole.COMMITTEE_SECRETARY}
MEMBER_ROLE = {GrantRole.COMMITTEE_MEMBER}


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.app_context():
        yield db.session()


@pytest.fixture
def people(session: Session, clock: Clock) -> dict[str, Person]:
    return import_demo_directory(session, clock())


def filed_case(
    session: Session, people: dict[str, Person], route: Route, now: datetime
) -> tuple[Case, Person]:
    filed = file_on(session, people, route, now)
    case = session.get(Case, filed.case_id)
    assert case is not None
    return case, filed.handler


def events(session: Session, case: Case) -> list[CaseEvent]:
    return list(
        session.scalars(
            sa.select(CaseEvent)
            .where(CaseEvent.case_id == case.id)
            .order_by(CaseEvent.occurred_at, CaseEvent.kind)
        )
    )


def transition_audits(session: Session, case: Case) -> list[AuditEvent]:
    return list(
        session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.action == "case.transition", AuditEvent.object_id == str(case.id))
            .order_by(AuditEvent.seq)
        )
    )


def stats(session: Session, kind: str | None = None) -> list[StatEvent]:
    query = sa.select(StatEvent).where(StatEvent.kind != "submitted")
    if kind:
        query = query.where(StatEvent.kind == kind)
    return sorted(session.scalars(query), key=lambda s: (s.days_taken or 0, s.kind))


# Happy paths ---------------------------------------------------------------------------------


def test_the_manager_route_from_filing_to_closing(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case, manager = filed_case(session, people, Route.MANAGER, clock())
    account = make_account(session, manager, clock()).account
    roles = {GrantRole.MANAGER}
    assert [t.name for t in available_transitions(workflow(), case, roles)] == ["acknowledge"]

    acknowledged_at = clock.advance(days=2)
    step(session, case, "acknowledge", acknowledged_at, person=manager, roles=roles)
    assert case.state == "acknowledged"
    assert deadlines(session, case.id)["acknowledge"].met_at == acknowledged_at
    step(session, case, "start", clock.advance(days=1), person=manager, roles=roles)
    step(
        session, case, "resolve", clock.advance(days=10), person=manager, roles=roles,
        summary="Gesprek gevoerd met beide collega's.",
    )  # fmt: skip
    assert case.state == "resolved"
    assert case.closed_at is None
    closed_at = clock.advance(days=3)
    step(session, case, "close", closed_at, person=manager, roles=roles)

    assert (case.state, case.closed_at, case.outcome) == ("closed", closed_at, None)
    assert available_transitions(workflow(), case, roles) == []
    history = events(session, case)
    assert [(e.kind, e.from_state, e.to_state) for e in history] == [
        ("submitted", None, "submitted"),
        ("acknowledge", "submitted", "acknowledged"),
        ("start", "acknowledged", "in_progress"),
        ("resolve", "in_progress", "resolved"),
        ("close", "resolved", "closed"),
    ]
    assert {e.actor_person_id for e in history[1:]} == {manager.id}
    audits = transition_audits(session, case)
    assert [a.details["transition"] for a in audits] == ["acknowledge", "start", "resolve", "close"]
    assert {(a.actor_kind, a.actor_id) for a in audits} == {(ActorKind.STAFF, str(account.id))}
    assert audits[2].details == {
        "transition": "resolve",
        "from_state": "in_progress",
        "to_state": "resolved",
        "person_id": manager.id,
        "version": case.version - 1,
    }
    # The audit log holds ids, never what was written.
    assert "Gesprek" not in json.dumps([a.details for a in audits])
    assert [
        (s.kind, s.route, s.days_taken, s.deadline, s.deadline_met) for s in stats(session)
    ] == [
        ("acknowledged", "manager", 2, "acknowledge", True),
        ("closed", "manager", 16, None, None),
    ]


def test_the_confidant_route_from_filing_to_closing(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case, confidant = filed_case(session, people, Route.CONFIDANT, clock())
    roles = {GrantRole.CONFIDANT}
    step(session, case, "acknowledge", clock.advance(days=8), person=confidant, roles=roles)
    assert deadlines(session, case.id)["acknowledge"].met_at == clock()
    step(session, case, "support", clock.advance(days=1), person=confidant, roles=roles)
    step(
        session, case, "close", clock.advance(days=30), person=confidant, roles=roles,
        remark="Melder voelt zich gesteund.", closing="Sterkte, u kunt altijd terugkomen.",
    )  # fmt: skip
    assert case.state == "closed"
    assert [(s.kind, s.deadline, s.deadline_met) for s in stats(session)] == [
        ("acknowledged", "acknowledge", False),  # eight days: late
        ("closed", None, None),
    ]
    # With no account for the person, the audit log says the system did it, with the person id.
    assert {a.details["person_id"] for a in transition_audits(session, case)} == {confidant.id}


def test_the_integrity_route_from_filing_to_closing(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case, coordinator = filed_case(session, people, Route.INTEGRITY, clock())
    roles = {GrantRole.INTEGRITY_COORDINATOR}
    acknowledged_at = clock.advance(days=1)
    step(session, case, "acknowledge", acknowledged_at, person=coordinator, roles=roles)
    feedback = deadlines(session, case.id)["feedback"]
    assert (feedback.started_at, feedback.due_on) == (acknowledged_at, date(2026, 6, 3))
    step(session, case, "assess", clock.advance(days=2), person=coordinator, roles=roles)
    step(
        session, case, "investigate", clock.advance(days=5), person=coordinator, roles=roles,
        reason="Meerdere meldingen over dezelfde afdeling.",
    )  # fmt: skip
    step(
        session, case, "give_feedback", clock.advance(weeks=8), person=coordinator, roles=roles,
        feedback="Er is onderzoek gedaan; maatregelen volgen.",
    )  # fmt: skip
    assert deadlines(session, case.id)["feedback"].met_at == clock()
    step(session, case, "close", clock.advance(days=1), person=coordinator, roles=roles)
    assert case.state == "closed"


def test_the_committee_route_through_every_step(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case, secretary = filed_case(session, people, Route.COMMITTEE, clock())
    member = people[MEMBER]
    add_member(session, case.id, member, clock())
    filed = deadlines(session, case.id)
    assert {n: d.due_on for n, d in filed.items()} == {
        "acknowledge": date(2026, 3, 9),
        "admissibility": date(2026, 3, 16),
        "decision": date(2026, 5, 11),
    }

    step(session, case, "acknowledge", clock.advance(days=1), person=secretary, roles=SECRETARY)
    # Incomplete: 14 days to complete it; the decision clock moves on by as much.
    step(
        session, case, "mark_incomplete", clock.advance(days=1), person=secretary,
        roles=SECRETARY, missing="De datum van het incident ontbreekt.",
    )  # fmt: skip
    after = deadlines(session, case.id)
    assert after["cure"].due_on == date(2026, 3, 18)
    assert after["decision"].due_on == date(2026, 5, 25)
    assert after["admissibility"].due_on == date(2026, 3, 30)
    assert after["decision"].extensions == 0  # postponing is not an extension
    step(session, case, "cured", clock.advance(days=5), person=secretary, roles=SECRETARY)
    assert case.state == "acknowledged"
    assert deadlines(session, case.id)["cure"].met_at == clock()

    step(session, case, "accept", clock.advance(days=2), person=member, roles=MEMBER_ROLE)
    assert deadlines(session, case.id)["admissibility"].met_at == clock()
    step(session, case, "start_hearing", clock.advance(days=7), person=member, roles=MEMBER_ROLE)

    # Mediation, with consent: the decision clock stands still for ten calendar days.
    give_consent(session, case.id, ConsentKind.MEDIATION, clock())
    paused_at = clock.advance(days=1)  # 19 March
    step(session, case, "start_mediation", paused_at, person=member, roles=MEMBER_ROLE)
    assert deadlines(session, case.id)["decision"].paused_at == paused_at
    [decision] = [
        v for v in deadline_views(session, workflow(), case, clock()) if v.name == "decision"
    ]
    assert decision.status is DeadlineStatus.PAUSED
    # Still paused long after the due day: paused is not overdue.
    later = deadline_views(session, workflow(), case, utc(2026, 6, 1, 9, 0))
    assert {v.name: v.status for v in later}["decision"] is DeadlineStatus.PAUSED
    step(session, case, "end_mediation", clock.advance(days=10), person=member, roles=MEMBER_ROLE)
    resumed = deadlines(session, case.id)["decision"]
    assert (resumed.paused_at, resumed.due_on) == (None, date(2026, 6, 4))
    assert case.state == "hearing"

    # One statutory extension of four weeks, with a reason (the notice to both parties).
    step(
        session, case, "extend_decision", clock.advance(days=1), person=secretary,
        roles=SECRETARY, reason="Een getuige is pas in mei beschikbaar.",
    )  # fmt: skip
    extended = deadlines(session, case.id)["decision"]
    assert (extended.due_on, extended.extensions) == (date(2026, 7, 2), 1)
    assert case.state == "hearing"
    [extension] = [e for e in events(session, case) if e.kind == "extend_decision"]
    assert (extension.from_state, extension.to_state) == ("hearing", None)

    step(
        session, case, "send_advice", clock.advance(weeks=3), person=member, roles=MEMBER_ROLE,
        advice_summary="De klacht is gegrond.",
    )  # fmt: skip
    decided_at = clock.advance(weeks=2)
    step(
        session, case, "decide", decided_at, person=secretary, roles=SECRETARY,
        outcome="partly_founded", reasons="Deels bewezen.", departs_from_advice="yes",
        departure_reason="Niet alle verwijten zijn aangetoond.",
    )  # fmt: skip
    assert (case.state, case.outcome) == ("decided", "partly_founded")
    assert deadlines(session, case.id)["decision"].met_at == decided_at
    closed_at = clock.advance(days=2)
    step(session, case, "close", closed_at, person=secretary, roles=SECRETARY)
    assert (case.state, case.closed_at, case.outcome) == ("closed", closed_at, "partly_founded")

    decide = next(e for e in events(session, case) if e.kind == "decide")
    cipher = case_cipher(session, keystore(), case.id)
    assert event_values(cipher, decide) == {
        "outcome": "partly_founded",
        "reasons": "Deels bewezen.",
        "departs_from_advice": True,
        "departure_reason": "Niet alle verwijten zijn aangetoond.",
    }
    assert decide.remark is not None
    assert b"bewezen" not in decide.remark
    assert [
        (s.kind, s.outcome, s.days_taken, s.deadline, s.deadline_met) for s in stats(session)
    ] == [
        ("acknowledged", None, 1, "acknowledge", True),
        ("decided", "partly_founded", 63, "decision", True),
        ("closed", "partly_founded", 65, None, None),
    ]
    assert all(s.route == "committee" for s in stats(session))


def test_a_committee_complaint_declared_not_admissible(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case, secretary = filed_case(session, people, Route.COMMITTEE, clock())
    step(session, case, "acknowledge", clock.advance(days=1), person=secretary, roles=SECRETARY)
    step(
        session, case, "mark_incomplete", clock.advance(days=1), person=secretary,
        roles=SECRETARY, missing="Wie wordt er beklaagd?",
    )  # fmt: skip
    declared_at = clock.advance(days=15)  # not completed in time
    step(
        session, case, "declare_not_admissible", declared_at, person=secretary,
        roles=SECRETARY, reasons="Niet aangevuld binnen de termijn (Awb 4:5).",
    )  # fmt: skip
    assert (case.state, case.outcome, case.closed_at) == ("not_admissible", "not_admissible", None)
    after = deadlines(session, case.id)
    assert after["cure"].met_at == declared_at
    assert after["decision"].met_at == declared_at
    assert (after["notice"].started_at, after["notice"].due_on) == (declared_at, date(2026, 4, 16))
    step(
        session,
        case,
        "close_not_admissible",
        clock.advance(days=3),
        person=secretary,
        roles=SECRETARY,
    )
    assert deadlines(session, case.id)["notice"].met_at == clock()
    assert [(s.kind, s.outcome, s.deadline, s.deadline_met) for s in stats(session)] == [
        ("acknowledged", None, "acknowledge", True),
        ("not_admissible", "not_admissible", "admissibility", True),  # 30 March, postponed
        ("closed", "not_admissible", "notice", True),
    ]


def test_a_second_request_to_complete_starts_the_cure_period_afresh(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case, secretary = filed_case(session, people, Route.COMMITTEE, clock())
    step(session, case, "acknowledge", clock(), person=secretary, roles=SECRETARY)
    step(session, case, "mark_incomplete", clock(), person=secretary, roles=SECRETARY, missing="a")
    step(session, case, "cured", clock.advance(days=3), person=secretary, roles=SECRETARY)
    again = clock.advance(days=2)
    step(session, case, "mark_incomplete", again, person=secretary, roles=SECRETARY, missing="b")
    cure = deadlines(session, case.id)["cure"]
    assert (cure.started_at, cure.due_on, cure.met_at) == (again, date(2026, 3, 21), None)
    assert deadlines(session, case.id)["decision"].due_on == date(2026, 6, 8)  # twice 14 days


def test_the_complainant_can_still_withdraw_and_every_clock_stops(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case, secretary = filed_case(session, people, Route.COMMITTEE, clock())
    for name in ("acknowledge", "accept"):
        step(session, case, name, clock.advance(days=1), person=secretary, roles=SECRETARY)
    give_consent(session, case.id, ConsentKind.MEDIATION, clock())
    step(session, case, "start_mediation", clock.advance(days=1), person=secretary, roles=SECRETARY)
    withdrawn_at = clock.advance(days=4)
    withdraw_case(session, keystore(), workflow(), case, now=withdrawn_at)
    assert (case.state, case.closed_at) == ("withdrawn", withdrawn_at)
    assert deadlines(session, case.id)["decision"].cancelled_at == withdrawn_at
    views = {v.name: v.status for v in deadline_views(session, workflow(), case, clock())}
    assert views["decision"] is DeadlineStatus.CANCELLED
    assert available_transitions(workflow(), case, SECRETARY | MEMBER_ROLE) == []


# DST: calendar days, not hours -----------------------------------------------------------------


def test_pause_and_resume_count_calendar_days_across_the_clock_change(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case, secretary = filed_case(session, people, Route.COMMITTEE, clock())
    for name in ("acknowledge", "accept"):
        step(session, case, name, clock(), person=secretary, roles=SECRETARY)
    give_consent(session, case.id, ConsentKind.MEDIATION, clock())
    due = deadlines(session, case.id)["decision"].due_on
    # 23:30 on Saturday 28 March in Amsterdam (CET) ...
    step(
        session,
        case,
        "start_mediation",
        utc(2026, 3, 28, 22, 30),
        person=secretary,
        roles=SECRETARY,
    )
    # ... to 00:30 on Monday 30 March (CEST): 49 hours, 48 of them on the clock, two days.
    step(
        session, case, "end_mediation", utc(2026, 3, 29, 22, 30), person=secretary, roles=SECRETARY
    )
    assert (deadlines(session, case.id)["decision"].due_on - due).days == 2


def test_the_cure_period_is_fourteen_amsterdam_days_whatever_the_hour(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case, secretary = filed_case(session, people, Route.COMMITTEE, clock())
    step(session, case, "acknowledge", clock(), person=secretary, roles=SECRETARY)
    # 00:30 on 25 October in Amsterdam (summer time ends that night): still 25 October.
    marked = utc(2026, 10, 24, 22, 30)
    step(session, case, "mark_incomplete", marked, person=secretary, roles=SECRETARY, missing="x")
    assert deadlines(session, case.id)["cure"].due_on == date(2026, 11, 8)


# Refusals ---------------------------------------------------------------------------------------


def committee_at(
    session: Session, people: dict[str, Person], clock: Clock, path: tuple[str, ...]
) -> tuple[Case, Person]:
    case, secretary = filed_case(session, people, Route.COMMITTEE, clock())
    add_member(session, case.id, people[MEMBER], clock())
    values = {"send_advice": {"advice_summary": "Ongegrond."}}
    for name in path:
        step(
            session, case, name, clock(), person=secretary, roles=SECRETARY, **values.get(name, {})
        )
    return case, secretary


HEARING = ("acknowledge", "accept", "start_hearing")
ADVISED = (*HEARING, "send_advice")
DECISION = {"outcome": "unfounded", "reasons": "Niet aangetoond."}


@pytest.mark.parametrize(
    ("path", "name", "roles", "values", "reason", "field"),
    [
        ((), "decide", SECRETARY, DECISION, "state", None),
        (HEARING, "decide", SECRETARY, DECISION, "state", None),
        (ADVISED, "decide", MEMBER_ROLE, DECISION, "role", None),
        (ADVISED, "decide", {GrantRole.CONFIDANT}, DECISION, "role", None),
        (ADVISED, "decide", set(), DECISION, "role", None),
        ((), "acknowledge", MEMBER_ROLE, {}, "role", None),
        ((), "withdraw", SECRETARY, {}, "unknown", None),
        ((), "support", SECRETARY, {}, "unknown", None),  # another route's step
        (ADVISED, "decide", SECRETARY, {"reasons": "x"}, "field", "outcome"),
        (ADVISED, "decide", SECRETARY, {"outcome": "unfounded"}, "field", "reasons"),
        (ADVISED, "decide", SECRETARY, {**DECISION, "reasons": "   "}, "field", "reasons"),
        (ADVISED, "decide", SECRETARY, {**DECISION, "outcome": "maybe"}, "field", "outcome"),
        # not_admissible is an outcome of the route, but not one a decision can have
        (
            ADVISED,
            "decide",
            SECRETARY,
            {**DECISION, "outcome": "not_admissible"},
            "field",
            "outcome",
        ),
        (
            ADVISED,
            "decide",
            SECRETARY,
            {**DECISION, "departs_from_advice": "yes"},
            "field",
            "departure_reason",
        ),
        (
            ADVISED,
            "decide",
            SECRETARY,
            {**DECISION, "departs_from_advice": "perhaps"},
            "field",
            "departs_from_advice",
        ),
        (HEARING, "send_advice", MEMBER_ROLE, {}, "field", "advice_summary"),
        (("acknowledge",), "mark_incomplete", SECRETARY, {}, "field", "missing"),
        (HEARING, "extend_decision", SECRETARY, {}, "field", "reason"),
        (HEARING, "start_mediation", MEMBER_ROLE, {}, "consent", None),
        (HEARING, "extend_decision_with_consent", SECRETARY, {"reason": "x"}, "deadline", None),
        (ADVISED, "extend_decision", {GrantRole.COMMITTEE_MEMBER}, {"reason": "x"}, "role", None),
    ],
)
def test_a_refused_step_says_why_and_writes_nothing(
    session: Session,
    people: dict[str, Person],
    clock: Clock,
    path: tuple[str, ...],
    name: str,
    roles: set[GrantRole],
    values: dict[str, str],
    reason: str,
    field: str | None,
) -> None:
    case, secretary = committee_at(session, people, clock, path)
    before = snapshot(session, case.id)
    with pytest.raises(TransitionRefused) as refused:
        step(session, case, name, clock.advance(days=1), person=secretary, roles=roles, **values)
    assert (refused.value.reason, refused.value.field) == (reason, field)
    assert refused.value.message
    assert snapshot(session, case.id) == before


def test_messages_name_the_step_the_state_and_the_field(
    app: Flask, session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case, secretary = committee_at(session, people, clock, HEARING)
    with app.test_request_context(headers={"Cookie": "taal=en"}):
        with pytest.raises(TransitionRefused) as wrong_state:
            step(session, case, "decide", clock(), person=secretary, roles=SECRETARY, **DECISION)
        assert wrong_state.value.message == (
            "“Record the decision” is not possible while the case is “Hearing”."
        )
        with pytest.raises(TransitionRefused) as wrong_role:
            step(session, case, "extend_decision", clock(), person=secretary, roles=MEMBER_ROLE)
        assert wrong_role.value.message == (
            "Your role on this case does not allow “Extend the decision term (4 weeks)”."
        )
        with pytest.raises(TransitionRefused) as missing:
            step(session, case, "send_advice", clock(), person=secretary, roles=SECRETARY)
        assert missing.value.message == "Please fill in “Summary of the advice”."
        with pytest.raises(TransitionRefused) as consent:
            step(session, case, "start_mediation", clock(), person=secretary, roles=SECRETARY)
        assert "consent to mediation" in consent.value.message
        assert ChangedMeanwhile().message.startswith("Someone else changed this case")
    with app.test_request_context(headers={"Cookie": "taal=nl"}):
        refresh()  # the locale is remembered per application context
        with pytest.raises(TransitionRefused) as dutch:
            step(session, case, "decide", clock(), person=secretary, roles=SECRETARY, **DECISION)
        assert "Beslissing vastleggen" in dutch.value.message  # the step's label from the file


def test_mediation_needs_a_consent_that_is_still_given(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case, secretary = committee_at(session, people, clock, HEARING)
    consent = give_consent(session, case.id, ConsentKind.MEDIATION, clock())
    consent.withdrawn_at = clock.advance(hours=1)
    give_consent(session, case.id, ConsentKind.EXTENSION, clock())  # another kind does not count
    before = snapshot(session, case.id)
    with pytest.raises(TransitionRefused) as refused:
        step(session, case, "start_mediation", clock(), person=secretary, roles=SECRETARY)
    assert refused.value.reason == "consent"
    assert snapshot(session, case.id) == before
    give_consent(session, case.id, ConsentKind.MEDIATION, clock.advance(hours=1))
    step(session, case, "start_mediation", clock(), person=secretary, roles=SECRETARY)
    assert case.state == "mediation"


def test_the_decision_term_is_extended_once_and_further_only_with_consent(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case, secretary = committee_at(session, people, clock, HEARING)
    offered = {t.name for t in available_transitions(workflow(), case, SECRETARY)}
    assert "extend_decision" in offered
    assert "extend_decision_with_consent" not in offered  # not before the statutory one

    step(session, case, "extend_decision", clock(), person=secretary, roles=SECRETARY, reason="r")
    assert deadlines(session, case.id)["decision"].due_on == date(2026, 6, 8)
    offered = {t.name for t in available_transitions(workflow(), case, SECRETARY)}
    assert "extend_decision" not in offered
    assert "extend_decision_with_consent" in offered

    # A second statutory extension is refused ...
    before = snapshot(session, case.id)
    with pytest.raises(TransitionRefused) as again:
        step(
            session, case, "extend_decision", clock(), person=secretary, roles=SECRETARY, reason="r"
        )
    assert again.value.reason == "deadline"
    # ... and so is a further one without the complainant's consent.
    with pytest.raises(TransitionRefused) as unconsented:
        step(
            session, case, "extend_decision_with_consent", clock(), person=secretary,
            roles=SECRETARY, reason="r",
        )  # fmt: skip
    assert unconsented.value.reason == "consent"
    assert snapshot(session, case.id) == before

    give_consent(session, case.id, ConsentKind.EXTENSION, clock())
    for expected in (date(2026, 7, 6), date(2026, 8, 3)):
        step(
            session, case, "extend_decision_with_consent", clock(), person=secretary,
            roles=SECRETARY, reason="Met instemming van de klager.",
        )  # fmt: skip
        assert deadlines(session, case.id)["decision"].due_on == expected
    assert deadlines(session, case.id)["decision"].extensions == 3


def test_an_extended_deadline_is_reminded_again(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case, secretary = committee_at(session, people, clock, HEARING)
    decision = deadlines(session, case.id)["decision"]
    decision.reminded_at = decision.overdue_reminded_at = clock()
    step(session, case, "extend_decision", clock(), person=secretary, roles=SECRETARY, reason="r")
    assert (decision.reminded_at, decision.overdue_reminded_at) == (None, None)


def test_available_transitions_follow_state_and_role(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case, _secretary = committee_at(session, people, clock, ("acknowledge",))

    def names(roles: set[GrantRole]) -> list[str]:
        return [t.name for t in available_transitions(workflow(), case, roles)]

    assert names(SECRETARY) == [
        "mark_incomplete",
        "accept",
        "declare_not_admissible",
        "extend_decision",
    ]
    assert names(MEMBER_ROLE) == ["accept", "declare_not_admissible"]
    assert names({GrantRole.MANAGER}) == []
    assert names(set()) == []
    # Offered does not mean possible: a missing consent is explained when the step is taken.
    case.state = "hearing"
    assert "start_mediation" in names(MEMBER_ROLE)


# Optimistic locking ---------------------------------------------------------------------------


def test_a_form_loaded_before_another_change_is_refused_and_writes_nothing(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case, secretary = committee_at(session, people, clock, ("acknowledge",))
    loaded_version = case.version
    step(session, case, "accept", clock(), person=secretary, roles=SECRETARY)
    assert case.version == loaded_version + 1
    before = snapshot(session, case.id)
    with pytest.raises(ChangedMeanwhile):
        apply_transition(
            session,
            keystore(),
            workflow(),
            case,
            "start_hearing",
            actor_person_id=secretary.id,
            roles=SECRETARY,
            values={},
            expected_version=loaded_version,
            now=clock(),
        )
    assert snapshot(session, case.id) == before


def test_an_action_that_keeps_the_state_still_moves_the_version(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case, secretary = committee_at(session, people, clock, HEARING)
    version = case.version
    step(session, case, "extend_decision", clock(), person=secretary, roles=SECRETARY, reason="r")
    assert case.version == version + 1


def test_a_stale_copy_of_the_case_is_found_at_the_update(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    """The row changed underneath this session (another transaction, here: plain SQL)."""
    case, secretary = committee_at(session, people, clock, ("acknowledge",))
    version = case.version
    session.execute(
        sa.update(Case)
        .where(Case.id == case.id)
        .values(version=Case.version + 1)
        .execution_options(synchronize_session=False)
    )
    audits = len(transition_audits(session, case))
    with pytest.raises(ChangedMeanwhile):
        step(session, case, "accept", clock(), person=secretary, roles=SECRETARY)
    # The savepoint is gone, the session still works, and nothing of the step remains.
    session.expire_all()
    fresh = session.get(Case, case.id)
    assert fresh is not None
    assert (fresh.state, fresh.version) == ("acknowledged", version + 1)
    assert len(transition_audits(session, fresh)) == audits
    assert {e.kind for e in events(session, fresh)} == {"submitted", "acknowledge"}
    assert deadlines(session, case.id)["admissibility"].met_at is None


def test_event_values_of_other_events_are_empty(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case, _secretary = committee_at(session, people, clock, ("acknowledge",))
    cipher = case_cipher(session, keystore(), case.id)
    assert [event_values(cipher, e) for e in events(session, case)] == [{}, {}]
    plain_id = uuid.uuid4()
    plain = CaseEvent(
        id=plain_id,
        case_id=case.id,
        occurred_at=clock(),
        kind="member_assigned",
        remark=cipher.seal_text("case_events", "remark", plain_id, "Annemiek Kok"),
    )
    assert event_values(cipher, plain) == {}


def test_grant_roles_are_the_active_grants_of_the_person_on_this_case(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case, secretary = committee_at(session, people, clock, ())
    other, _ = filed_case(session, people, Route.CONFIDANT, clock())
    member = people[MEMBER]
    assert grant_roles(session, case, secretary.id) == SECRETARY
    assert grant_roles(session, case, member.id) == MEMBER_ROLE
    assert grant_roles(session, other, secretary.id) == set()  # another case: nothing
    assert grant_roles(session, case, people["s.devries@bzk.example"].id) == set()
    grant = session.scalar(
        sa.select(CaseAccessGrant).where(
            CaseAccessGrant.case_id == case.id, CaseAccessGrant.person_id == member.id
        )
    )
    assert grant is not None
    grant.revoked_at = clock()
    assert grant_roles(session, case, member.id) == set()
    # A secretary's step taken with the roles the revoked member has left is refused.
    with pytest.raises(TransitionRefused) as refused:
        step(
            session, case, "acknowledge", clock(), person=member,
            roles=grant_roles(session, case, member.id),
        )  # fmt: skip
    assert refused.value.reason == "role"
