"""Legal holds and extensions: a hold suspends the schedule until it is lifted or runs out; a
handler with a grant extends a finished case once, by its rule's period. Both are audited with
the reference and the rule, never the reason."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from complaints.audit.models import AuditEvent
from complaints.audit.services import Actor, verify_chain
from complaints.cases.models import Case, Route
from complaints.crypto.services import keystore
from complaints.directory.models import Person
from complaints.retention import holds
from complaints.retention.holds import RetentionRefused
from complaints.retention.models import RetentionExtension, RetentionHold
from complaints.retention.policy import retention_policy
from complaints.retention.schedule import case_schedule
from complaints.workflow.config import workflow
from tests.conftest import app_session
from tests.factories import import_demo_directory
from tests.retention.conftest import Made, at, make_finished_case

CONFIDANT = "i.hoekstra@bzk.example"
OTHER_CONFIDANT = "g.verbeek@bzk.example"
OFFICER = "h.wolters@bzk.example"
CLOSED = date(2026, 3, 2)
REASON = "Rechtszaak C/09/612345, verzoek juridische zaken van 3 maart"
ACTOR = Actor.staff(1)


@pytest.fixture
def people(app: Flask) -> dict[str, Person]:
    with app_session(app) as session:
        return import_demo_directory(session, at(CLOSED))


def finished(app: Flask, people: dict[str, Person], **kwargs: object) -> Made:
    with app_session(app) as session:
        return make_finished_case(
            session,
            handler=people[CONFIDANT],
            filed_at=at(CLOSED - timedelta(days=30)),
            closed_at=at(CLOSED),
            **kwargs,  # type: ignore[arg-type]
        )


def destruction_day(session: Session, made: Made, as_of: date) -> tuple[date, bool]:
    schedule = case_schedule(session, retention_policy(), workflow(), made.id, as_of)
    assert schedule is not None
    assert schedule.destruction is not None
    return schedule.destruction.due_on, schedule.destruction.is_due(as_of)


def audit_events(session: Session, action: str) -> list[AuditEvent]:
    return list(
        session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        )
    )


def test_a_hold_suspends_the_case_until_it_is_lifted(app: Flask, people: dict[str, Person]) -> None:
    made = finished(app, people)
    officer = people[OFFICER]
    with app_session(app) as session:
        due_on, _due = destruction_day(session, made, CLOSED)
        assert due_on == date(2028, 3, 2)
        assert destruction_day(session, made, due_on) == (due_on, True)
        case = session.get_one(Case, made.id)
        hold = holds.place_hold(
            session,
            keystore(),
            case,
            reason=f"  {REASON}\n",
            until=None,
            person_id=officer.id,
            actor=ACTOR,
            now=at(CLOSED),
        )
        assert hold.reason == REASON
        assert hold.placed_by_person_id == officer.id
        # Years after the day, the case is still not due while the hold stands.
        assert destruction_day(session, made, date(2031, 1, 1)) == (due_on, False)
        schedule = case_schedule(session, retention_policy(), workflow(), made.id, CLOSED)
        assert schedule is not None
        assert schedule.epoch_day is None
        [standing] = holds.standing_holds(session, as_of=CLOSED)
        assert (standing.reference, standing.reason, standing.placed_by) == (
            made.reference,
            REASON,
            officer.name,
        )

        holds.lift_hold(
            session, keystore(), hold.id, person_id=officer.id, actor=ACTOR, now=at(CLOSED)
        )
        assert hold.lifted_at is not None
        assert hold.lifted_by_person_id == officer.id
        assert destruction_day(session, made, due_on) == (due_on, True)
        assert holds.standing_holds(session, as_of=CLOSED) == []
        with pytest.raises(RetentionRefused) as refused:
            holds.lift_hold(
                session, keystore(), hold.id, person_id=officer.id, actor=ACTOR, now=at(CLOSED)
            )
        assert refused.value.reason == holds.HOLD_NOT_FOUND

        placed = audit_events(session, "retention.hold_placed")
        lifted = audit_events(session, "retention.hold_lifted")
        assert [(e.object_type, e.object_id) for e in placed + lifted] == [
            ("case", str(made.id)),
            ("case", str(made.id)),
        ]
        assert placed[0].details == {"reference": made.reference, "hold": hold.id, "until": None}
        assert lifted[0].details == {"reference": made.reference, "hold": hold.id}
        # The reason stays out of the audit log.
        everything = json.dumps([e.details for e in session.scalars(sa.select(AuditEvent))])
        assert "612345" not in everything
        assert verify_chain(session, keystore()).ok


def test_a_hold_with_an_end_runs_out(app: Flask, people: dict[str, Person]) -> None:
    made = finished(app, people)
    with app_session(app) as session:
        due_on, _due = destruction_day(session, made, CLOSED)
        holds.place_hold(
            session,
            keystore(),
            session.get_one(Case, made.id),
            reason=REASON,
            until=due_on + timedelta(days=10),
            person_id=people[OFFICER].id,
            actor=ACTOR,
            now=at(CLOSED),
        )
        assert destruction_day(session, made, due_on + timedelta(days=10)) == (due_on, False)
        assert destruction_day(session, made, due_on + timedelta(days=11)) == (due_on, True)
        assert holds.standing_holds(session, as_of=due_on + timedelta(days=11)) == []
        [event] = audit_events(session, "retention.hold_placed")
        assert event.details["until"] == (due_on + timedelta(days=10)).isoformat()


@pytest.mark.parametrize(
    ("reason", "until", "refusal"),
    [
        ("   ", None, holds.NO_REASON),
        ("x" * 301, None, holds.REASON_TOO_LONG),
        (REASON, CLOSED - timedelta(days=1), holds.UNTIL_IN_PAST),
    ],
)
def test_a_hold_needs_a_reason_and_a_day_to_come(
    app: Flask, people: dict[str, Person], reason: str, until: date | None, refusal: str
) -> None:
    made = finished(app, people)
    with app_session(app) as session:
        with pytest.raises(RetentionRefused) as refused:
            holds.place_hold(
                session,
                keystore(),
                session.get_one(Case, made.id),
                reason=reason,
                until=until,
                person_id=people[OFFICER].id,
                actor=ACTOR,
                now=at(CLOSED),
            )
        assert refused.value.reason == refusal
        assert session.scalar(sa.select(sa.func.count()).select_from(RetentionHold)) == 0
        assert audit_events(session, "retention.hold_placed") == []


def test_a_case_is_held_once_at_a_time(app: Flask, people: dict[str, Person]) -> None:
    made = finished(app, people)
    with app_session(app) as session:
        case = session.get_one(Case, made.id)
        arguments = {
            "reason": REASON,
            "until": None,
            "person_id": people[OFFICER].id,
            "actor": ACTOR,
            "now": at(CLOSED),
        }
        holds.place_hold(session, keystore(), case, **arguments)  # type: ignore[arg-type]
        with pytest.raises(RetentionRefused) as refused:
            holds.place_hold(session, keystore(), case, **arguments)  # type: ignore[arg-type]
        assert refused.value.reason == holds.ALREADY_HELD


def test_the_reference_is_found_as_typed(app: Flask, people: dict[str, Person]) -> None:
    made = finished(app, people)
    with app_session(app) as session:
        found = holds.case_by_reference(session, f"  {made.reference.lower()} ")
        assert found is not None
        assert found.id == made.id
        assert holds.case_by_reference(session, "2026-XXXX-XXXX") is None


def test_a_handler_extends_once_by_the_rules_period(app: Flask, people: dict[str, Person]) -> None:
    made = finished(app, people)
    handler = people[CONFIDANT]
    with app_session(app) as session:
        case = session.get_one(Case, made.id)
        extension = holds.extend_case(
            session,
            keystore(),
            retention_policy(),
            workflow(),
            case,
            reason="Nieuwe melding over dezelfde afdeling",
            person_id=handler.id,
            actor=ACTOR,
            now=at(CLOSED),
        )
        assert (extension.rule, extension.person_id) == ("confidant-closed", handler.id)
        # Two years, and the one year the rule allows.
        assert destruction_day(session, made, CLOSED) == (date(2029, 3, 2), False)
        assert destruction_day(session, made, date(2028, 3, 2)) == (date(2029, 3, 2), False)
        panel = holds.retention_panel(session, retention_policy(), workflow(), made.id, CLOSED)
        assert panel is not None
        assert not panel.may_extend
        assert panel.extension is extension
        with pytest.raises(RetentionRefused) as refused:
            holds.extend_case(
                session,
                keystore(),
                retention_policy(),
                workflow(),
                case,
                reason="Nog een keer",
                person_id=handler.id,
                actor=ACTOR,
                now=at(CLOSED),
            )
        assert refused.value.reason == holds.ALREADY_EXTENDED
        [event] = audit_events(session, "retention.extended")
        assert event.details == {
            "reference": made.reference,
            "rule": "confidant-closed",
            "due_on": "2029-03-02",
        }
        assert session.scalar(sa.select(sa.func.count()).select_from(RetentionExtension)) == 1


def test_only_a_handler_of_a_finished_case_extends(app: Flask, people: dict[str, Person]) -> None:
    made = finished(app, people)
    with app_session(app) as session:
        case = session.get_one(Case, made.id)

        def extend(person: str) -> str:
            with pytest.raises(RetentionRefused) as refused:
                holds.extend_case(
                    session,
                    keystore(),
                    retention_policy(),
                    workflow(),
                    case,
                    reason="Nodig",
                    person_id=people[person].id,
                    actor=ACTOR,
                    now=at(CLOSED),
                )
            return refused.value.reason

        assert extend(OTHER_CONFIDANT) == holds.NO_GRANT
        assert extend(OFFICER) == holds.NO_GRANT
        case.state, case.closed_at = "supporting", None
        session.flush()
        assert extend(CONFIDANT) == holds.NOT_FINISHED
        assert (
            holds.retention_panel(session, retention_policy(), workflow(), made.id, CLOSED) is None
        )
        assert audit_events(session, "retention.extended") == []


def test_no_extension_where_the_next_rule_allows_none(
    app: Flask, people: dict[str, Person]
) -> None:
    made = finished(app, people)
    policy = app.extensions["complaints.retention"]
    strict = dataclasses.replace(
        policy, rules=tuple(dataclasses.replace(r, extension=None) for r in policy.rules)
    )
    with app_session(app) as session:
        with pytest.raises(RetentionRefused) as refused:
            holds.extend_case(
                session,
                keystore(),
                strict,
                workflow(),
                session.get_one(Case, made.id),
                reason="Nodig",
                person_id=people[CONFIDANT].id,
                actor=ACTOR,
                now=at(CLOSED),
            )
        assert refused.value.reason == holds.NO_EXTENSION
        panel = holds.retention_panel(session, strict, workflow(), made.id, CLOSED)
        assert panel is not None
        assert not panel.may_extend


def test_an_integrity_case_extends_its_redaction_and_destruction(
    app: Flask, people: dict[str, Person]
) -> None:
    """The next rule due is the redaction; the extension moves every rule that allows one."""
    with app_session(app) as session:
        made = make_finished_case(
            session,
            handler=people[CONFIDANT],
            filed_at=at(CLOSED - timedelta(days=30)),
            closed_at=at(CLOSED),
            route=Route.INTEGRITY,
        )
        holds.extend_case(
            session,
            keystore(),
            retention_policy(),
            workflow(),
            session.get_one(Case, made.id),
            reason="Nodig",
            person_id=people[CONFIDANT].id,
            actor=ACTOR,
            now=at(CLOSED),
        )
        schedule = case_schedule(session, retention_policy(), workflow(), made.id, CLOSED)
        assert schedule is not None
        assert [(i.rule.name, i.due_on, i.extended) for i in schedule.items] == [
            ("integrity-redact", date(2028, 3, 2), True),
            ("integrity-closed", date(2032, 3, 2), True),
        ]
        [event] = audit_events(session, "retention.extended")
        assert event.details["rule"] == "integrity-redact"
