"""Looking people and units up in the directory, for forms that let someone pick a colleague.

Directory entries are what every colleague can already look up (see ``models``); these
functions only ever return active people and units, a few at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from complaints.accounts.models import Role, RoleAssignment
from complaints.directory.models import OrgUnit, OrgUnitKind, Person

MIN_FRAGMENT = 2
MAX_FRAGMENT = 100
DEFAULT_LIMIT = 10


@dataclass(frozen=True)
class PersonMatch:
    id: int
    name: str
    unit_name: str
    job_title: str


@dataclass(frozen=True)
class UnitChoice:
    id: int
    name: str


@dataclass(frozen=True)
class MinistryUnits:
    ministry: UnitChoice
    units: list[UnitChoice]  # the ministry itself first, then its units by name


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _matches(rows: Sequence[tuple[Person, OrgUnit]]) -> list[PersonMatch]:
    return [PersonMatch(p.id, p.name, u.name, p.job_title) for p, u in rows]


def search_people(
    session: Session, fragment: str, *, limit: int = DEFAULT_LIMIT
) -> list[PersonMatch]:
    """Active people whose name contains ``fragment`` (ignoring case), with their unit.

    Fragments shorter than two characters find nobody: listing the whole directory is not a
    search. At most ``limit`` people come back, ordered by name.
    """
    text = " ".join(fragment.split())[:MAX_FRAGMENT]
    if len(text) < MIN_FRAGMENT:
        return []
    pattern = f"%{_escape_like(text)}%"
    rows = session.execute(
        sa.select(Person, OrgUnit)
        .join(OrgUnit, OrgUnit.id == Person.unit_id)
        .where(Person.active.is_(True), Person.name.ilike(pattern, escape="\\"))
        .order_by(Person.name, Person.id)
        .limit(limit)
    ).all()
    return _matches([(p, u) for p, u in rows])


def active_person(session: Session, person_id: int) -> PersonMatch | None:
    """One active person by id, or None (unknown or no longer active)."""
    row = session.execute(
        sa.select(Person, OrgUnit)
        .join(OrgUnit, OrgUnit.id == Person.unit_id)
        .where(Person.id == person_id, Person.active.is_(True))
    ).first()
    return _matches([(row[0], row[1])])[0] if row is not None else None


def units_by_ministry(session: Session) -> list[MinistryUnits]:
    """Active org units grouped by ministry (ministries by name), for a picker."""
    units = session.scalars(
        sa.select(OrgUnit)
        .where(OrgUnit.active.is_(True), OrgUnit.ministry_id.is_not(None))
        .order_by(OrgUnit.name, OrgUnit.id)
    ).all()
    ministries = {u.id: u for u in units if u.kind is OrgUnitKind.MINISTRY}
    groups = {
        m.id: MinistryUnits(UnitChoice(m.id, m.name), [UnitChoice(m.id, m.name)])
        for m in ministries.values()
    }
    for unit in units:
        if unit.kind is not OrgUnitKind.MINISTRY and unit.ministry_id in groups:
            groups[unit.ministry_id].units.append(UnitChoice(unit.id, unit.name))
    return sorted(groups.values(), key=lambda g: (g.ministry.name, g.ministry.id))


def active_unit(session: Session, unit_id: int) -> UnitChoice | None:
    unit = session.get(OrgUnit, unit_id)
    if unit is None or not unit.active or unit.ministry_id is None:
        return None
    return UnitChoice(unit.id, unit.name)


def role_holders(session: Session, role: Role, ministry_id: int | None) -> list[PersonMatch]:
    """Active people holding ``role`` for this ministry or government-wide, by name."""
    scope: sa.ColumnElement[bool] = RoleAssignment.scope_unit_id.is_(None)
    if ministry_id is not None:
        scope = sa.or_(scope, RoleAssignment.scope_unit_id == ministry_id)
    rows = session.execute(
        sa.select(Person, OrgUnit)
        .join(OrgUnit, OrgUnit.id == Person.unit_id)
        .where(
            Person.active.is_(True),
            Person.id.in_(
                sa.select(RoleAssignment.person_id).where(RoleAssignment.role == role, scope)
            ),
        )
        .order_by(Person.name, Person.id)
    ).all()
    return _matches([(p, u) for p, u in rows])


def ministry_of(session: Session, unit_id: int | None) -> int | None:
    unit = session.get(OrgUnit, unit_id) if unit_id else None
    return unit.ministry_id if unit is not None else None


@dataclass(frozen=True)
class RoleContact:
    name: str
    email: str
    job_title: str
    unit_name: str
    serves: str | None  # the unit the role serves (a ministry, say); None: government-wide


def role_contacts(session: Session, role: Role) -> list[RoleContact]:
    """Every active holder of ``role`` with their directory contact details, once per unit
    they serve: government-wide first, then by the unit's name, then by name."""
    served = aliased(OrgUnit)
    rows = session.execute(
        sa.select(Person, OrgUnit, served)
        .join(RoleAssignment, RoleAssignment.person_id == Person.id)
        .join(OrgUnit, OrgUnit.id == Person.unit_id)
        .outerjoin(served, served.id == RoleAssignment.scope_unit_id)
        .where(Person.active.is_(True), RoleAssignment.role == role)
        .order_by(served.id.is_not(None), served.name, Person.name, Person.id)
    ).all()
    return [
        RoleContact(p.name, p.email, p.job_title, u.name, s.name if s is not None else None)
        for p, u, s in rows
    ]
