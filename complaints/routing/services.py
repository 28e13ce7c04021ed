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

from complaints.accounts.models import Account, Role, RoleAssignment
from complaints.cases.models import Case, CaseAccessGrant, GrantRole, Route
from complaints.crypto.blind_index import normalise_name
from complaints.directory.models import OrgUnit, OrgUnitKind, Person
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
MAX_CHAIN = 50  # manager chains or unit trees deeper than this are a data error


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
    organisation_id: int | None  # the unit the report concerns (any level of the tree)
    manager_person_id: int | None = None  # manager route: the complainant's line manager
    chosen_person_id: int | None = None  # confidant route: picked by name
    complainant_person_id: int | None = None
    accused_person_ids: frozenset[int] = frozenset()
    accused_names: tuple[str, ...] = ()
    # The name the complainant gave: someone in the directory by that name is not asked to
    # handle a report they may well have filed themselves.
    complainant_name: str | None = None
    # People who cannot take the report for another reason: the handler a case is being
    # handed over from, or someone already handling it.
    unavailable_person_ids: frozenset[int] = frozenset()


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
    excluded_ids = set(request.accused_person_ids) | request.unavailable_person_ids
    # A deactivated account cannot log in, so its holder cannot act on a report either.
    excluded_ids |= deactivated_people(session)
    if request.complainant_person_id is not None:
        excluded_ids.add(request.complainant_person_id)
    names = [*request.accused_names, request.complainant_name or ""]
    exclusions = _Exclusions(excluded_ids, _normalised(names))
    if request.route is Route.MANAGER:
        return [_manager(session, request, exclusions)]
    scopes = _scopes(session, request.organisation_id)
    if request.route is Route.CONFIDANT:
        return [_confidant(session, workflow, request, scopes, exclusions)]
    if request.route is Route.INTEGRITY:
        return _role_holders(session, request.route, scopes, exclusions)
    return _secretariat(session, exclusions)


def deactivated_people(session: Session) -> set[int]:
    """People whose staff account has been deactivated (they stay in the directory)."""
    return set(session.scalars(sa.select(Account.person_id).where(Account.active.is_(False))))


def is_excluded(
    person: Person, accused_person_ids: Iterable[int], accused_names: Iterable[str]
) -> bool:
    """Whether a person may never receive this report (used again at every reassignment)."""
    exclusions = _Exclusions(set(accused_person_ids), _normalised(accused_names))
    return exclusions.excludes(person)


def _normalised(names: Iterable[str]) -> set[str]:
    # A name that normalises to nothing ("-", "?") names nobody; it must not match anybody.
    return {normalised for normalised in map(normalise_name, names) if normalised}


def _manager(session: Session, request: RoutingRequest, exclusions: _Exclusions) -> Recipient:
    if request.manager_person_id is None:
        raise NoEligibleHandler("manager_unknown")
    candidate = session.get(Person, request.manager_person_id)
    basis = Basis.LINE_MANAGER
    seen: set[int] = set()
    # The import refuses manager loops, but a loop in the data must end the walk, not hang it.
    while candidate is not None and candidate.id not in seen and len(seen) < MAX_CHAIN:
        if not exclusions.excludes(candidate):
            return Recipient(candidate.id, candidate.name, GrantRole.MANAGER, basis)
        seen.add(candidate.id)
        basis = Basis.HIGHER_MANAGER
        candidate = session.get(Person, candidate.manager_id) if candidate.manager_id else None
    raise NoEligibleHandler("no_manager_available")


def _confidant(
    session: Session,
    workflow: Workflow,
    request: RoutingRequest,
    scopes: set[int],
    exclusions: _Exclusions,
) -> Recipient:
    serving = _holders(session, Role.CONFIDANT, scopes)
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
    session: Session, route: Route, scopes: set[int], exclusions: _Exclusions
) -> list[Recipient]:
    """Everyone eligible serving the organisation; if nobody, everyone government-wide."""
    role, grant_role = ROUTE_ROLES[route], GRANT_ROLES[route]
    serving = _holders(session, role, scopes)
    for government_wide in (False, True):
        people = [
            p for p, wide in serving if wide is government_wide and not exclusions.excludes(p)
        ]
        if people:
            basis = Basis.GOVERNMENT_WIDE if government_wide else Basis.ORGANISATION
            return [Recipient(p.id, p.name, grant_role, basis) for p in people]
    raise NoEligibleHandler(f"no_{role.value}_available")


def _secretariat(session: Session, exclusions: _Exclusions) -> list[Recipient]:
    people = [
        p
        for p, _wide in _holders(session, Role.COMMITTEE_SECRETARY, set(), any_scope=True)
        if not exclusions.excludes(p)
    ]
    if not people:
        raise NoEligibleHandler("no_secretary_available")
    return [
        Recipient(p.id, p.name, GrantRole.COMMITTEE_SECRETARY, Basis.SECRETARIAT) for p in people
    ]


def _holders(
    session: Session, role: Role, scopes: set[int], *, any_scope: bool = False
) -> list[tuple[Person, bool]]:
    """Active people holding ``role`` for one of ``scopes`` or government-wide, with "is
    government-wide" (no scope, or the government unit itself as scope)."""
    government = set(
        session.scalars(sa.select(OrgUnit.id).where(OrgUnit.kind == OrgUnitKind.GOVERNMENT))
    )
    query = (
        sa.select(Person, RoleAssignment.scope_unit_id)
        .join(RoleAssignment, RoleAssignment.person_id == Person.id)
        .where(RoleAssignment.role == role, Person.active.is_(True))
        .order_by(Person.id)
    )
    if not any_scope:
        query = query.where(
            sa.or_(
                RoleAssignment.scope_unit_id.is_(None),
                RoleAssignment.scope_unit_id.in_(sorted(scopes | government)),
            )
        )
    seen: dict[int, tuple[Person, bool]] = {}
    for person, scope_id in session.execute(query):
        wide = scope_id is None or scope_id in government
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


def _scopes(session: Session, unit_id: int | None) -> set[int]:
    """The report's unit and every unit above it, up to (not including) the government.

    A role scoped to any of them serves the report: ``confidant@BZK`` serves all of the
    ministry, ``confidant@BZK-APS`` only that directorate.
    """
    scopes: set[int] = set()
    unit = session.get(OrgUnit, unit_id) if unit_id is not None else None
    while (
        unit is not None
        and unit.kind is not OrgUnitKind.GOVERNMENT
        and unit.id not in scopes
        and len(scopes) < MAX_CHAIN
    ):
        scopes.add(unit.id)
        unit = session.get(OrgUnit, unit.parent_id) if unit.parent_id is not None else None
    return scopes
