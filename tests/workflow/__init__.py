"""Shared set-up for the workflow tests: reports filed on each route through ``submit_report``,
and a short way to take a step."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.audit.models import AuditEvent
from complaints.cases.models import (
    Case,
    CaseAccessGrant,
    CaseEvent,
    Consent,
    ConsentKind,
    Deadline,
    Disclosure,
    GrantRole,
    Route,
)
from complaints.crypto.services import keystore
from complaints.directory.models import Person
from complaints.notify.models import Notification
from complaints.stats.models import StatEvent
from complaints.workflow.config import workflow
from complaints.workflow.transitions import apply_transition
from tests.factories import file_report

FILER = "s.devries@bzk.example"
ACCUSED = "l.bakker@bzk.example"
# Who the routing gives the report to, per route, in the demo organisation.
HANDLER = {
    Route.MANAGER: "a.demir@bzk.example",
    Route.CONFIDANT: "i.hoekstra@bzk.example",
    Route.INTEGRITY: "k.dijkstra@bzk.example",
    Route.COMMITTEE: "w.deboer@bzk.example",
}
ROLE = {
    Route.MANAGER: GrantRole.MANAGER,
    Route.CONFIDANT: GrantRole.CONFIDANT,
    Route.INTEGRITY: GrantRole.INTEGRITY_COORDINATOR,
    Route.COMMITTEE: GrantRole.COMMITTEE_SECRETARY,
}
MEMBER = "a.kok@bzk.example"
BULLYING = {
    "category": "bullying",
    "grounds": (),
    "when": "februari 2026",
    "ongoing": True,
    "place": "kantoor",
    "description": "Mijn collega kleineert mij in elk overleg.",
    "desired_outcome": "Dat het stopt.",
}


@dataclass(frozen=True)
class Filed:
    case_id: uuid.UUID
    code: str
    handler: Person


def file_on(session: Session, people: dict[str, Person], route: Route, now: datetime) -> Filed:
    """A named report of bullying by a colleague, filed on ``route`` as the form would."""
    filed = file_report(
        session,
        now,
        route=route,
        disclosure=Disclosure.NAMED,
        filer_person_id=people[FILER].id,
        **BULLYING,
    )
    return Filed(filed.case_id, filed.code, people[HANDLER[route]])


def add_member(session: Session, case_id: uuid.UUID, person: Person, now: datetime) -> None:
    session.add(
        CaseAccessGrant(
            case_id=case_id, person_id=person.id, role=GrantRole.COMMITTEE_MEMBER, granted_at=now
        )
    )
    session.flush()


def give_consent(session: Session, case_id: uuid.UUID, kind: ConsentKind, now: datetime) -> Consent:
    consent = Consent(case_id=case_id, kind=kind, given_at=now)
    session.add(consent)
    session.flush()
    return consent


def step(
    session: Session,
    case: Case,
    name: str,
    now: datetime,
    *,
    person: Person,
    roles: set[GrantRole],
    **values: str,
) -> CaseEvent:
    return apply_transition(
        session,
        keystore(),
        workflow(),
        case,
        name,
        actor_person_id=person.id,
        roles=roles,
        values=values,
        expected_version=case.version,
        now=now,
    )


def deadlines(session: Session, case_id: uuid.UUID) -> dict[str, Deadline]:
    return {
        d.name: d for d in session.scalars(sa.select(Deadline).where(Deadline.case_id == case_id))
    }


def snapshot(session: Session, case_id: uuid.UUID) -> dict[str, object]:
    """Everything a step could write, to show that a refused one wrote nothing."""
    session.expire_all()
    case = session.get(Case, case_id)
    assert case is not None

    def count(model: type) -> int:
        return session.scalar(sa.select(sa.func.count()).select_from(model)) or 0

    return {
        "case": (case.state, case.version, case.outcome, case.closed_at, case.updated_at),
        "deadlines": sorted(
            (d.name, d.due_on, d.met_at, d.cancelled_at, d.paused_at, d.extensions)
            for d in deadlines(session, case_id).values()
        ),
        "events": count(CaseEvent),
        "audit": count(AuditEvent),
        "stats": count(StatEvent),
        "notifications": count(Notification),
    }
