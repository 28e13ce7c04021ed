"""Handover: open cases move to an eligible successor; never an accused, never the complainant."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from complaints import db
from complaints.accounts.models import Role, RoleAssignment, RoleSource
from complaints.audit.models import AuditEvent
from complaints.audit.services import Actor
from complaints.cases.models import Case, CaseAccessGrant, CaseEvent, Disclosure, GrantRole, Route
from complaints.crypto.services import keystore
from complaints.directory.models import Person
from complaints.followup.services import withdraw_case
from complaints.handover.services import (
    HandoverBlocked,
    HandoverResult,
    MoveKind,
    hand_over,
    handlers_with_open_cases,
    plan_handover,
)
from complaints.notify.models import Notification
from complaints.workflow.config import workflow
from tests.conftest import Clock
from tests.factories import import_demo_directory, make_account, make_person, unit
from tests.referral import (
    ACCUSED,
    CONFIDANT,
    COORDINATOR,
    EMPLOYEE,
    MANAGER,
    SECRETARIES,
    WIDE_CONFIDANT,
    file,
)

ADMIN_PERSON = "t.groen@bzk.example"


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.app_context():
        yield db.session()


@pytest.fixture
def people(session: Session, clock: Clock) -> dict[str, Person]:
    return import_demo_directory(session, clock())


def _active(session: Session, case_id: uuid.UUID) -> dict[int, GrantRole]:
    return {
        g.person_id: g.role
        for g in session.scalars(
            sa.select(CaseAccessGrant).where(
                CaseAccessGrant.case_id == case_id, CaseAccessGrant.revoked_at.is_(None)
            )
        )
    }


def _hand_over(
    session: Session,
    people: dict[str, Person],
    clock: Clock,
    who: str,
    *,
    deactivate: bool = False,
    force: bool = False,
) -> HandoverResult:
    return hand_over(
        session,
        keystore(),
        workflow(),
        people[who].id,
        deactivate=deactivate,
        actor=Actor.staff(99),
        actor_person_id=people[ADMIN_PERSON].id,
        now=clock(),
        force=force,
    )


def _give_role(
    session: Session, person: Person, role: Role, scope: str | None, clock: Clock
) -> None:
    session.add(
        RoleAssignment(
            person_id=person.id,
            role=role,
            scope_unit_id=unit(session, scope).id if scope else None,
            source=RoleSource.MANUAL,
            created_at=clock(),
        )
    )
    session.flush()


def test_a_confidants_open_cases_move_to_the_next_eligible_confidant(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    first = file(session, people, clock()).case
    second = file(session, people, clock()).case
    closed = file(session, people, clock()).case
    withdraw_case(session, keystore(), workflow(), closed, now=clock())
    clock.advance(days=1)

    plan = plan_handover(session, keystore(), workflow(), people[CONFIDANT].id)
    assert plan is not None
    assert sorted((m.reference, m.kind, m.to_person_id) for m in plan.moves) == sorted(
        [
            (first.reference, MoveKind.MOVE, people[WIDE_CONFIDANT].id),
            (second.reference, MoveKind.MOVE, people[WIDE_CONFIDANT].id),
        ]
    )
    _hand_over(session, people, clock, CONFIDANT)

    for case in (first, second):
        assert _active(session, case.id) == {people[WIDE_CONFIDANT].id: GrantRole.CONFIDANT}
        old = session.scalars(
            sa.select(CaseAccessGrant).where(
                CaseAccessGrant.case_id == case.id,
                CaseAccessGrant.person_id == people[CONFIDANT].id,
            )
        ).one()
        assert (old.revoked_at, old.revoke_reason) == (clock(), "handover")
        new = session.scalars(
            sa.select(CaseAccessGrant).where(
                CaseAccessGrant.case_id == case.id,
                CaseAccessGrant.person_id == people[WIDE_CONFIDANT].id,
            )
        ).one()
        assert new.granted_by_person_id == people[ADMIN_PERSON].id
        event = session.scalars(
            sa.select(CaseEvent).where(
                CaseEvent.case_id == case.id, CaseEvent.kind == "handed_over"
            )
        ).one()
        assert event.actor_person_id == people[ADMIN_PERSON].id
    # A closed case stays where it was.
    assert people[CONFIDANT].id in _active(session, closed.id)
    notes = session.scalars(
        sa.select(Notification).where(
            Notification.recipient_person_id == people[WIDE_CONFIDANT].id,
            Notification.created_at == clock(),
        )
    ).all()
    assert sorted(n.params["reference"] for n in notes) == sorted(
        [first.reference, second.reference]
    )
    assert {n.kind for n in notes} == {"case_assigned"}
    actions = [e.action for e in session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq))]
    assert actions.count("case.access_revoked") == 2
    assert actions.count("case.access_granted") >= 2
    assert actions[-1] == "handover.completed"
    assert "case.open" not in actions  # nobody read the cases


def test_an_accused_confidant_is_never_the_successor_and_the_case_is_not_dropped(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case = file(session, people, clock(), accused=(ACCUSED, WIDE_CONFIDANT)).case
    plan = plan_handover(session, keystore(), workflow(), people[CONFIDANT].id)
    assert plan is not None
    [move] = plan.moves
    assert move.kind is MoveKind.UNRESOLVED
    assert move.reason == "no_confidant_available"

    # Deactivating is refused as a whole: nothing changes.
    staff = make_account(session, people[CONFIDANT], clock())
    with pytest.raises(HandoverBlocked) as blocked:
        _hand_over(session, people, clock, CONFIDANT, deactivate=True)
    assert [m.reference for m in blocked.value.plan.unresolved] == [case.reference]
    assert staff.account.active
    assert _active(session, case.id) == {people[CONFIDANT].id: GrantRole.CONFIDANT}

    # Re-assigning leaves it with the confidant, flagged in the audit log.
    result = _hand_over(session, people, clock, CONFIDANT)
    assert _active(session, case.id) == {people[CONFIDANT].id: GrantRole.CONFIDANT}
    assert [m.reference for m in result.left] == [case.reference]
    flagged = session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "case.handover_unresolved")
    ).one()
    assert flagged.object_id == str(case.id)

    # A newly appointed confidant for BZK takes it over.
    colleague = make_person(session, unit(session, "BZK-CIO"), clock(), name="Mila Janssen")
    _give_role(session, colleague, Role.CONFIDANT, "BZK", clock)
    _hand_over(session, people, clock, CONFIDANT, deactivate=True)
    assert _active(session, case.id) == {colleague.id: GrantRole.CONFIDANT}
    assert not staff.account.active
    assert people[WIDE_CONFIDANT].id not in {
        g.person_id
        for g in session.scalars(
            sa.select(CaseAccessGrant).where(CaseAccessGrant.case_id == case.id)
        )
    }


def test_the_complainant_is_never_the_successor(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    # The government-wide confidant reported to the BZK confidant themself.
    case = file(session, people, clock(), complainant=WIDE_CONFIDANT).case
    plan = plan_handover(session, keystore(), workflow(), people[CONFIDANT].id)
    assert plan is not None
    assert [m.kind for m in plan.moves] == [MoveKind.UNRESOLVED]
    assert people[WIDE_CONFIDANT].id not in _active(session, case.id)


def test_an_accused_integrity_coordinator_is_never_the_successor(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    colleague = make_person(session, unit(session, "BZK-DGOO"), clock(), name="Nadia Yilmaz")
    _give_role(session, colleague, Role.INTEGRITY_COORDINATOR, "BZK", clock)
    # Filed to both coordinators; the report names Kees by name only, typed differently.
    case = file(
        session,
        people,
        clock(),
        route=Route.INTEGRITY,
        accused=(),
        accused_names=("Lotte Bakker",),
    ).case
    assert set(_active(session, case.id)) == {people[COORDINATOR].id, colleague.id}
    accusing = file(
        session,
        people,
        clock(),
        route=Route.INTEGRITY,
        accused=(),
        accused_names=("DIJKSTRA kees",),
    ).case
    assert set(_active(session, accusing.id)) == {colleague.id}
    # Nadia leaves: the first case stays with Kees; the second may never go to him.
    plan = hand_over(
        session,
        keystore(),
        workflow(),
        colleague.id,
        deactivate=False,
        actor=Actor.operator(),
        actor_person_id=None,
        now=clock(),
    )
    kinds = {m.reference: m.kind for m in plan.plan.moves}
    assert kinds == {case.reference: MoveKind.STAYS, accusing.reference: MoveKind.UNRESOLVED}
    assert _active(session, case.id) == {people[COORDINATOR].id: GrantRole.INTEGRITY_COORDINATOR}
    assert _active(session, accusing.id) == {colleague.id: GrantRole.INTEGRITY_COORDINATOR}
    assert people[COORDINATOR].id not in {
        g.person_id
        for g in session.scalars(
            sa.select(CaseAccessGrant).where(CaseAccessGrant.case_id == accusing.id)
        )
    }


def test_a_committee_secretary_leaving_leaves_the_case_with_the_others(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case = file(session, people, clock(), route=Route.COMMITTEE).case
    assert set(_active(session, case.id)) == {people[e].id for e in SECRETARIES}
    _hand_over(session, people, clock, SECRETARIES[0])
    assert set(_active(session, case.id)) == {people[SECRETARIES[1]].id}


def test_a_committee_member_is_replaced_by_another_eligible_member(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case = file(
        session, people, clock(), route=Route.COMMITTEE, accused=(ACCUSED, "y.amrani@bzk.example")
    ).case
    session.add(
        CaseAccessGrant(
            case_id=case.id,
            person_id=people["a.kok@bzk.example"].id,
            role=GrantRole.COMMITTEE_MEMBER,
            granted_at=clock(),
        )
    )
    session.flush()
    _hand_over(session, people, clock, "a.kok@bzk.example")
    members = {
        p for p, role in _active(session, case.id).items() if role is GrantRole.COMMITTEE_MEMBER
    }
    # Youssef Amrani is accused; Eva Lammers takes the seat.
    assert members == {people["e.lammers@bzk.example"].id}


def test_a_manager_case_goes_to_the_next_manager_up_unless_they_are_accused(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case = file(session, people, clock(), route=Route.MANAGER, disclosure=Disclosure.NAMED).case
    assert _active(session, case.id) == {people[MANAGER].id: GrantRole.MANAGER}
    accusing = file(
        session,
        people,
        clock(),
        route=Route.MANAGER,
        disclosure=Disclosure.NAMED,
        accused=("h.jansen@bzk.example",),
    ).case
    result = _hand_over(session, people, clock, MANAGER)
    assert _active(session, case.id) == {people["h.jansen@bzk.example"].id: GrantRole.MANAGER}
    assert _active(session, accusing.id) == {people[MANAGER].id: GrantRole.MANAGER}
    assert [m.reference for m in result.left] == [accusing.reference]


def test_a_deactivated_handler_is_not_a_successor(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case = file(session, people, clock()).case
    wide = make_account(session, people[WIDE_CONFIDANT], clock())
    wide.account.active = False
    session.flush()
    plan = plan_handover(session, keystore(), workflow(), people[CONFIDANT].id)
    assert plan is not None
    assert [m.kind for m in plan.moves] == [MoveKind.UNRESOLVED]
    assert people[WIDE_CONFIDANT].id not in _active(session, case.id)


def test_forced_deactivation_leaves_the_unmovable_cases_flagged(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case = file(session, people, clock(), accused=(WIDE_CONFIDANT,)).case
    movable = file(session, people, clock(), accused=(ACCUSED,)).case
    staff = make_account(session, people[CONFIDANT], clock())
    result = _hand_over(session, people, clock, CONFIDANT, deactivate=True, force=True)
    assert not staff.account.active
    assert result.deactivated
    assert _active(session, case.id) == {people[CONFIDANT].id: GrantRole.CONFIDANT}
    assert _active(session, movable.id) == {people[WIDE_CONFIDANT].id: GrantRole.CONFIDANT}
    flagged = session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "case.handover_unresolved")
    ).one()
    assert flagged.details["forced"] is True


def test_the_overview_counts_open_cases_per_handler_without_content(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    file(session, people, clock())
    file(session, people, clock(), route=Route.COMMITTEE)
    loads = {h.person_id: h for h in handlers_with_open_cases(session, workflow())}
    assert loads[people[CONFIDANT].id].open_cases == 1
    assert loads[people[CONFIDANT].id].by_route == {Route.CONFIDANT: 1}
    assert loads[people[SECRETARIES[0]].id].by_route == {Route.COMMITTEE: 1}
    assert loads[people[CONFIDANT].id].account_active is None
    assert people[EMPLOYEE].id not in loads
    case_count = session.scalar(sa.select(sa.func.count()).select_from(Case))
    assert case_count == 2
