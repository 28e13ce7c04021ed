"""Who receives a report: the routing rules of DESIGN §3, with conflicts of interest excluded.

Everyone named as accused is excluded on every route — by directory id, and by name when the
complainant typed a name that matches someone in the directory. The complainant is excluded
too (a confidant reporting about their own workplace gets a colleague). What comes out is the
list of people who will get a grant, shown to the complainant before they submit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.accounts.models import Role, RoleAssignment
from complaints.cases.models import Case, CaseAccessGrant, GrantRole, Route
from complaints.crypto.blind_index import normalise_name
from complaints.directory.models import OrgUnit, Person
from complaints.workflow.config import Workflow

# Routes and the role whose holders handle them (the manager route uses the directory instead).
ROUTE_ROLES = {
    Route.CONFIDANT: Role.CONFIDANT,
    Route.INTEGRITY: Role.INTEGRITY_COORDINATOR,
    Route.COMMITTEE: Role.COMMITTEE_SECRETARY,
}
GRANT_ROLES = {
    Route.MANAGER: GrantRole.MANAGER,
    Route.CONFIDANT: GrantRole.CONFIDANT,
    Route.INTEGRITY: GrantRole.INTEGRITY_COORDINATOR,
    Route.COMMITTEE: GrantRole.COMMITTEE_SECRETARY,
}
MAX_CHAIN = 50  # manager chains longer than this are a data error, not an organisation


class Basis(StrEnum):
    """Why someone receives the report (shown to the complainant)."""

    LINE_MANAGER = "line_manager"
    HIGHER_MANAGER = "higher_manager"  # the line manager is involved, so the next one up
    CHOSEN = "chosen"  # picked by name by the complainant
    ORGANISATION = "organisation"  # serves the complainant's organisation
    GOVERNMENT_WIDE = "government_wide"  # none of the organisation's own could take it
    SECRETARIAT = "secretariat"


class NoEligibleHandler(Exception):
    """Nobody can receive this report on this route; ``reason`` says why (a message key)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Recipient:
    person_id: int
    name: str
    role: GrantRole
    basis: Basis


@dataclass(frozen=True)
class RoutingRequest:
    route: Route
    organisation_id: int | None  # the ministry (or unit) the report concerns
    manager_person_id: int | None = None  # manager route: the complainant's line manager
    chosen_person_id: int | None = None  # confidant route: picked by name
    complainant_person_id: int | None = None
    accused_person_ids: frozenset[int] = frozenset()
    accused_names: tuple[str, ...] = ()


@dataclass
class _Exclusions:
    person_ids: set[int] = field(default_factory=set)
    names: set[str] = field(default_factory=set)

    def excludes(self, person: Person) -> bool:
        return (
            person.id in self.person_ids
            or normalise_name(person.name) in self.names
            or not person.active
        )


def resolve_recipients(
    session: Session, workflow: Workflow, request: RoutingRequest
) -> list[Recipient]:
    """The people who get access to a new report on ``request.route``."""
    exclusions = _Exclusions(
        person_ids=set(request.accused_person_ids)
        | ({request.complainant_person_id} if request.complainant_person_id else set()),
        names={normalise_name(n) for n in request.accused_names if normalise_name(n)},
    )
    ministry_id = _ministry_id(session, request.organisation_id)
    if request.route is Route.MANAGER:
        return [_manager(session, request, exclusions)]
    if request.route is Route.CONFIDANT:
        return [_confidant(session, workflow, request, ministry_id, exclusions)]
    if request.route is Route.INTEGRITY:
        return _role_holders(session, Role.INTEGRITY_COORDINATOR, ministry_id, exclusions)
    return _secretariat(session, exclusions)


def is_excluded(
    person: Person, accused_person_ids: Iterable[int], accused_names: Iterable[str]
) -> bool:
    """Whether a person may never receive this report (used again at every reassignment)."""
    exclusions = _Exclusions(set(accused_person_ids), {normalise_name(n) for n in accused_names})
    return exclusions.excludes(person)


def _manager(session: Session, request: RoutingRequest, exclusions: _Exclusions) -> Recipient:
    if request.manager_person_id is None:
        raise NoEligibleHandler("manager_unknown")
    candidate = session.get(Person, request.manager_person_id)
    basis = Basis.LINE_MANAGER
    for _ in range(MAX_CHAIN):
        if candidate is None:
            raise NoEligibleHandler("no_manager_available")
        if not exclusions.excludes(candidate):
            return Recipient(candidate.id, candidate.name, GrantRole.MANAGER, basis)
        basis = Basis.HIGHER_MANAGER
        candidate = session.get(Person, candidate.manager_id) if candidate.manager_id else None
    raise NoEligibleHandler("no_manager_available")


def _confidant(
    session: Session,
    workflow: Workflow,
    request: RoutingRequest,
    ministry_id: int | None,
    exclusions: _Exclusions,
) -> Recipient:
    serving = _holders(session, Role.CONFIDANT, ministry_id)
    if request.chosen_person_id is not None:
        chosen = next((p for p, _ in serving if p.id == request.chosen_person_id), None)
        if chosen is None:
            raise NoEligibleHandler("chosen_confidant_unavailable")
        if exclusions.excludes(chosen):
            raise NoEligibleHandler("chosen_confidant_involved")
        return Recipient(chosen.id, chosen.name, GrantRole.CONFIDANT, Basis.CHOSEN)
    for government_wide in (False, True):
        pool = [p for p, wide in serving if wide is government_wide and not exclusions.excludes(p)]
        if pool:
            load = open_caseload(session, workflow, [p.id for p in pool], GrantRole.CONFIDANT)
            person = min(pool, key=lambda p: (load.get(p.id, 0), p.id))
            basis = Basis.GOVERNMENT_WIDE if government_wide else Basis.ORGANISATION
            return Recipient(person.id, person.name, GrantRole.CONFIDANT, basis)
    raise NoEligibleHandler("no_confidant_available")


def _role_holders(
    session: Session, role: Role, ministry_id: int | None, exclusions: _Exclusions
) -> list[Recipient]:
    serving = _holders(session, role, ministry_id)
    for government_wide in (False, True):
        people = [
            p for p, wide in serving if wide is government_wide and not exclusions.excludes(p)
        ]
        if people:
            basis = Basis.GOVERNMENT_WIDE if government_wide else Basis.ORGANISATION
            return [Recipient(p.id, p.name, GrantRole.INTEGRITY_COORDINATOR, basis) for p in people]
    raise NoEligibleHandler("no_integrity_coordinator_available")


def _secretariat(session: Session, exclusions: _Exclusions) -> list[Recipient]:
    people = [
        p
        for p, _wide in _holders(session, Role.COMMITTEE_SECRETARY, None, any_scope=True)
        if not exclusions.excludes(p)
    ]
    if not people:
        raise NoEligibleHandler("no_secretary_available")
    return [
        Recipient(p.id, p.name, GrantRole.COMMITTEE_SECRETARY, Basis.SECRETARIAT) for p in people
    ]


def _holders(
    session: Session, role: Role, ministry_id: int | None, *, any_scope: bool = False
) -> list[tuple[Person, bool]]:
    """People holding ``role`` for this ministry or government-wide, with "is government-wide"."""
    query = (
        sa.select(Person, RoleAssignment.scope_unit_id)
        .join(RoleAssignment, RoleAssignment.person_id == Person.id)
        .where(RoleAssignment.role == role, Person.active.is_(True))
        .order_by(Person.id)
    )
    if not any_scope:
        scope: sa.ColumnElement[bool] = RoleAssignment.scope_unit_id.is_(None)
        if ministry_id is not None:
            scope = sa.or_(scope, RoleAssignment.scope_unit_id == ministry_id)
        query = query.where(scope)
    seen: dict[int, tuple[Person, bool]] = {}
    for person, scope_id in session.execute(query):
        wide = scope_id is None
        # Someone serving both the ministry and the whole government counts as the ministry's.
        if person.id not in seen or not wide:
            seen[person.id] = (person, wide)
    return list(seen.values())


def open_caseload(
    session: Session, workflow: Workflow, person_ids: Sequence[int], role: GrantRole
) -> dict[int, int]:
    """How many open cases each person holds an active grant for, in ``role``."""
    open_clauses = [
        sa.and_(Case.route == route, Case.state.in_(states))
        for route, states in workflow.open_states().items()
    ]
    rows = session.execute(
        sa.select(CaseAccessGrant.person_id, sa.func.count())
        .join(Case, Case.id == CaseAccessGrant.case_id)
        .where(
            CaseAccessGrant.person_id.in_(list(person_ids)),
            CaseAccessGrant.role == role,
            CaseAccessGrant.revoked_at.is_(None),
            sa.or_(*open_clauses),
        )
        .group_by(CaseAccessGrant.person_id)
    )
    return {person_id: int(count) for person_id, count in rows}


def _ministry_id(session: Session, unit_id: int | None) -> int | None:
    if unit_id is None:
        return None
    unit = session.get(OrgUnit, unit_id)
    return unit.ministry_id if unit is not None else None
