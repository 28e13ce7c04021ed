"""Handover: a handler's open cases move to other eligible handlers (DESIGN §3).

Used when an administrator re-assigns a handler's cases (someone on leave, or who turns out to
be involved) and when an account is deactivated. For each active grant the handler holds on an
open case, the routing rules pick a successor, exactly as for a new report: never anyone named
as accused, never the complainant, never someone whose account was deactivated, and never the
handler the case is moving away from. The old grant is revoked with a reason (kept for the
record), the new one is granted, the successor is e-mailed, and the case's history and the
audit log say what happened.

Who may be a successor, per capacity:

- manager: the next manager up from the one leaving (the manager route's own rule);
- confidant, integrity coordinator, committee secretary: an eligible holder of that role for
  the case's organisation (or government-wide), the one with the fewest open cases;
- committee member: another committee member, the one with the fewest open cases.

When nobody is eligible but others still hold the case, the grant is simply revoked: the case
stays with them. When nobody would be left, the case is *not* moved and the handover names it.
A deactivation is then refused as a whole, so that no open case silently ends up with nobody
able to act on it; the administrator first makes someone eligible (gives the role to a
colleague), or — only on the command line, for an emergency such as a stolen account —
deactivates with ``--force``, which leaves those grants with the deactivated account, flagged
in the audit log.

An administrator never reads a case: the plan holds references, routes, states and the names
of handlers, and the conflict check decrypts parties only inside this service.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.accounts.models import Account, Role, RoleAssignment
from complaints.accounts.services import deactivate_account
from complaints.audit.services import Actor, record_event
from complaints.cases.models import (
    Case,
    CaseAccessGrant,
    CaseEvent,
    CaseParty,
    GrantRole,
    PartyKind,
    Route,
)
from complaints.crypto.keystore import KeyStore
from complaints.crypto.services import case_cipher
from complaints.directory.models import Person
from complaints.notify.services import queue_notification
from complaints.routing.services import (
    NoEligibleHandler,
    RoutingRequest,
    deactivated_people,
    is_excluded,
    open_caseload,
    resolve_recipients,
)
from complaints.workflow.config import Workflow

# The route whose rules pick a successor for each capacity (members are handled apart).
ROUTE_OF_ROLE = {
    GrantRole.MANAGER: Route.MANAGER,
    GrantRole.CONFIDANT: Route.CONFIDANT,
    GrantRole.INTEGRITY_COORDINATOR: Route.INTEGRITY,
    GrantRole.COMMITTEE_SECRETARY: Route.COMMITTEE,
}
REVOKE_REASSIGNED = "handover"
REVOKE_DEACTIVATED = "handover_deactivated"


class MoveKind(StrEnum):
    MOVE = "move"  # to a successor
    STAYS = "stays"  # nobody new, but others still hold the case
    UNRESOLVED = "unresolved"  # nobody new and nobody left: not moved


class HandoverBlocked(Exception):
    """A deactivation that would leave open cases with nobody able to act on them."""

    def __init__(self, plan: HandoverPlan) -> None:
        super().__init__(", ".join(m.reference for m in plan.unresolved))
        self.plan = plan


@dataclass(frozen=True)
class PlannedMove:
    """One grant and where it goes. References and names of handlers only, no content."""

    grant_id: int
    case_id: uuid.UUID
    reference: str
    route: Route
    state: str
    role: GrantRole
    kind: MoveKind
    to_person_id: int | None = None
    to_name: str | None = None
    reason: str | None = None  # why nobody is eligible (a routing reason key)


@dataclass(frozen=True)
class HandoverPlan:
    person: Person
    account: Account | None
    moves: list[PlannedMove]

    @property
    def unresolved(self) -> list[PlannedMove]:
        return [m for m in self.moves if m.kind is MoveKind.UNRESOLVED]

    def counts_by_route(self) -> dict[Route, int]:
        return dict(Counter(m.route for m in self.moves))

    def counts_by_state(self) -> dict[tuple[Route, str], int]:
        return dict(Counter((m.route, m.state) for m in self.moves))


@dataclass(frozen=True)
class HandoverResult:
    plan: HandoverPlan
    moved: list[PlannedMove] = field(default_factory=list)
    left: list[PlannedMove] = field(default_factory=list)  # unresolved, still with the handler
    deactivated: bool = False
    sessions_ended: int = 0


@dataclass(frozen=True)
class HandlerLoad:
    person_id: int
    name: str
    email: str
    open_cases: int
    by_route: dict[Route, int]
    account_active: bool | None  # None: no staff account


# Overview --------------------------------------------------------------------------------------


def _open_clause(workflow: Workflow) -> sa.ColumnElement[bool]:
    return sa.or_(
        *(
            sa.and_(Case.route == route, Case.state.in_(sorted(states)))
            for route, states in workflow.open_states().items()
        )
    )


def handlers_with_open_cases(session: Session, workflow: Workflow) -> list[HandlerLoad]:
    """Everyone holding an active grant on an open case, with counts per route; by name."""
    rows = session.execute(
        sa.select(CaseAccessGrant.person_id, Case.route, sa.func.count(sa.distinct(Case.id)))
        .join(Case, Case.id == CaseAccessGrant.case_id)
        .where(CaseAccessGrant.revoked_at.is_(None), _open_clause(workflow))
        .group_by(CaseAccessGrant.person_id, Case.route)
    ).all()
    by_person: dict[int, dict[Route, int]] = {}
    for person_id, route, count in rows:
        by_person.setdefault(person_id, {})[route] = int(count)
    if not by_person:
        return []
    people = session.execute(
        sa.select(Person, Account.active)
        .outerjoin(Account, Account.person_id == Person.id)
        .where(Person.id.in_(sorted(by_person)))
        .order_by(Person.name, Person.id)
    ).all()
    return [
        HandlerLoad(
            person_id=person.id,
            name=person.name,
            email=person.email,
            open_cases=sum(by_person[person.id].values()),
            by_route=by_person[person.id],
            account_active=active,
        )
        for person, active in people
    ]


# Planning --------------------------------------------------------------------------------------


def plan_handover(
    session: Session, keys: KeyStore, workflow: Workflow, person_id: int
) -> HandoverPlan | None:
    """Where each of the person's open cases would go; None if there is no such person."""
    person = session.get(Person, person_id)
    if person is None:
        return None
    account = session.scalar(sa.select(Account).where(Account.person_id == person_id))
    grants = session.execute(
        sa.select(CaseAccessGrant, Case)
        .join(Case, Case.id == CaseAccessGrant.case_id)
        .where(
            CaseAccessGrant.person_id == person_id,
            CaseAccessGrant.revoked_at.is_(None),
            _open_clause(workflow),
        )
        .order_by(Case.submitted_at, Case.reference, CaseAccessGrant.id)
    ).all()
    deactivated = frozenset(deactivated_people(session))
    moves = [
        _plan_move(session, keys, workflow, person, grant, case, deactivated)
        for grant, case in grants
    ]
    return HandoverPlan(person, account, moves)


@dataclass(frozen=True)
class _Conflicts:
    """Who may never handle the case: the accused and the complainant (ids and names)."""

    person_ids: frozenset[int]
    names: tuple[str, ...]
    accused_ids: frozenset[int]
    accused_names: tuple[str, ...]
    complainant_id: int | None
    complainant_name: str | None


def _conflicts(session: Session, keys: KeyStore, case: Case) -> _Conflicts:
    """Decrypted here and never returned to a page: the administrator reads no case."""
    cipher = case_cipher(session, keys, case.id)
    accused_ids: set[int] = set()
    accused_names: list[str] = []
    for party in session.scalars(
        sa.select(CaseParty).where(
            CaseParty.case_id == case.id, CaseParty.kind == PartyKind.ACCUSED
        )
    ):
        if party.person_ref is not None:
            ref = cipher.open_text("case_parties", "person_ref", party.id, party.person_ref)
            if ref.isdigit():
                accused_ids.add(int(ref))
        if party.name is not None:
            accused_names.append(cipher.open_text("case_parties", "name", party.id, party.name))
    complainant_id, complainant_name = None, None
    if case.complainant is not None:
        identity = json.loads(cipher.open_text("cases", "complainant", case.id, case.complainant))
        value = str(identity.get("person_id", ""))
        complainant_id = int(value) if value.isdigit() else None
        complainant_name = identity.get("name") or None
    ids = set(accused_ids) | ({complainant_id} if complainant_id is not None else set())
    names = (*accused_names, *((complainant_name,) if complainant_name else ()))
    return _Conflicts(
        frozenset(ids),
        tuple(names),
        frozenset(accused_ids),
        tuple(accused_names),
        complainant_id,
        complainant_name,
    )


def _plan_move(
    session: Session,
    keys: KeyStore,
    workflow: Workflow,
    person: Person,
    grant: CaseAccessGrant,
    case: Case,
    deactivated: frozenset[int],
) -> PlannedMove:
    holders = set(
        session.scalars(
            sa.select(CaseAccessGrant.person_id).where(
                CaseAccessGrant.case_id == case.id, CaseAccessGrant.revoked_at.is_(None)
            )
        )
    )
    others = holders - {person.id} - deactivated
    conflicts = _conflicts(session, keys, case)
    unavailable = frozenset(holders | {person.id})

    def planned(
        kind: MoveKind, successor: Person | None = None, reason: str | None = None
    ) -> PlannedMove:
        return PlannedMove(
            grant_id=grant.id,
            case_id=case.id,
            reference=case.reference,
            route=case.route,
            state=case.state,
            role=grant.role,
            kind=kind,
            to_person_id=successor.id if successor is not None else None,
            to_name=successor.name if successor is not None else None,
            reason=reason,
        )

    try:
        successor = _successor(session, workflow, case, person, grant.role, conflicts, unavailable)
    except NoEligibleHandler as exc:
        return planned(MoveKind.STAYS if others else MoveKind.UNRESOLVED, reason=exc.reason)
    return planned(MoveKind.MOVE, successor)


def _successor(
    session: Session,
    workflow: Workflow,
    case: Case,
    leaving: Person,
    role: GrantRole,
    conflicts: _Conflicts,
    unavailable: frozenset[int],
) -> Person:
    """The eligible person who takes the grant over; NoEligibleHandler if there is nobody."""
    if role is GrantRole.COMMITTEE_MEMBER:
        return _member_successor(session, workflow, conflicts, unavailable)
    route = ROUTE_OF_ROLE[role]
    request = RoutingRequest(
        route=route,
        organisation_id=case.organisation_id,
        # Manager route: the walk starts at the leaving manager, who is unavailable, so it
        # goes on to the next manager up.
        manager_person_id=leaving.id if route is Route.MANAGER else None,
        complainant_person_id=conflicts.complainant_id,
        accused_person_ids=conflicts.accused_ids,
        accused_names=conflicts.accused_names,
        complainant_name=conflicts.complainant_name,
        unavailable_person_ids=unavailable,
    )
    recipients = resolve_recipients(session, workflow, request)
    if len(recipients) > 1:
        load = open_caseload(session, workflow, [r.person_id for r in recipients], role)
        recipients.sort(key=lambda r: (load.get(r.person_id, 0), r.person_id))
    successor = session.get(Person, recipients[0].person_id)
    assert successor is not None  # noqa: S101 - routing returns people from the directory
    return successor


def _member_successor(
    session: Session, workflow: Workflow, conflicts: _Conflicts, unavailable: frozenset[int]
) -> Person:
    excluded = conflicts.person_ids | unavailable | deactivated_people(session)
    members = [
        person
        for person in session.scalars(
            sa.select(Person)
            .where(
                Person.active.is_(True),
                Person.id.in_(
                    sa.select(RoleAssignment.person_id).where(
                        RoleAssignment.role == Role.COMMITTEE_MEMBER
                    )
                ),
            )
            .order_by(Person.id)
        )
        if not is_excluded(person, excluded, conflicts.names)
    ]
    if not members:
        raise NoEligibleHandler("no_committee_member_available")
    load = open_caseload(session, workflow, [p.id for p in members], GrantRole.COMMITTEE_MEMBER)
    return min(members, key=lambda p: (load.get(p.id, 0), p.id))


# Carrying out ----------------------------------------------------------------------------------


def hand_over(
    session: Session,
    keys: KeyStore,
    workflow: Workflow,
    person_id: int,
    *,
    deactivate: bool,
    actor: Actor,
    actor_person_id: int | None,
    now: datetime,
    force: bool = False,
) -> HandoverResult:
    """Move the person's open cases (and deactivate their account if asked); the caller commits.

    A deactivation with cases nobody could take over raises HandoverBlocked before anything
    changes, unless ``force`` (the command line's emergency switch).
    """
    plan = plan_handover(session, keys, workflow, person_id)
    if plan is None:
        raise LookupError(str(person_id))
    if deactivate and plan.unresolved and not force:
        raise HandoverBlocked(plan)
    reason = REVOKE_DEACTIVATED if deactivate else REVOKE_REASSIGNED
    moved: list[PlannedMove] = []
    for move in plan.moves:
        if move.kind is MoveKind.UNRESOLVED:
            record_event(
                session,
                keys,
                actor=actor,
                action="case.handover_unresolved",
                now=now,
                object_type="case",
                object_id=str(move.case_id),
                details={
                    "person_id": person_id,
                    "role": move.role.value,
                    "reason": move.reason,
                    "forced": bool(deactivate and force),
                },
            )
            continue
        _move(session, keys, plan.person, move, reason, actor, actor_person_id, now)
        moved.append(move)
    ended = 0
    deactivated = False
    if deactivate and plan.account is not None and plan.account.active:
        ended = deactivate_account(session, keys, plan.account, actor=actor, now=now)
        deactivated = True
    record_event(
        session,
        keys,
        actor=actor,
        action="handover.completed",
        now=now,
        object_type="person",
        object_id=person_id,
        details={
            "moved": sum(1 for m in moved if m.kind is MoveKind.MOVE),
            "revoked_only": sum(1 for m in moved if m.kind is MoveKind.STAYS),
            "unresolved": len(plan.unresolved),
            "deactivated": deactivated,
        },
    )
    session.flush()
    return HandoverResult(plan, moved, plan.unresolved, deactivated, ended)


def _move(
    session: Session,
    keys: KeyStore,
    leaving: Person,
    move: PlannedMove,
    reason: str,
    actor: Actor,
    actor_person_id: int | None,
    now: datetime,
) -> None:
    grant = session.get(CaseAccessGrant, move.grant_id)
    case = session.get(Case, move.case_id)
    assert grant is not None  # noqa: S101 - just planned from it
    assert case is not None  # noqa: S101 - just planned from it
    grant.revoked_at = now
    grant.revoke_reason = reason
    record_event(
        session,
        keys,
        actor=actor,
        action="case.access_revoked",
        now=now,
        object_type="case",
        object_id=str(case.id),
        details={"person_id": leaving.id, "role": move.role.value, "reason": reason},
    )
    if move.to_person_id is not None:
        _refuse_conflicted(session, keys, case, move.to_person_id)
        session.add(
            CaseAccessGrant(
                case_id=case.id,
                person_id=move.to_person_id,
                role=move.role,
                granted_at=now,
                granted_by_person_id=actor_person_id,
            )
        )
        record_event(
            session,
            keys,
            actor=actor,
            action="case.access_granted",
            now=now,
            object_type="case",
            object_id=str(case.id),
            details={"person_id": move.to_person_id, "role": move.role.value, "basis": "handover"},
        )
        queue_notification(
            session,
            recipient_person_id=move.to_person_id,
            kind="case_assigned",
            params={"reference": case.reference},
            now=now,
            case_id=case.id,
        )
    session.add(
        CaseEvent(
            id=uuid.uuid4(),
            case_id=case.id,
            occurred_at=now,
            kind="handed_over",
            actor_person_id=actor_person_id,
        )
    )
    case.updated_at = now


def _refuse_conflicted(session: Session, keys: KeyStore, case: Case, person_id: int) -> None:
    """The last line of defence: the plan came from the routing rules, but check again."""
    person = session.get(Person, person_id)
    conflicts = _conflicts(session, keys, case)
    if person is None or is_excluded(person, conflicts.person_ids, conflicts.names):
        raise ValueError("a person named in the case can never be granted access")
