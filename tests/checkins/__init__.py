"""Shared set-up for the check-in tests: reports filed and closed through the real services."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.cases.models import Case, CaseAccessGrant, Route
from complaints.checkins.models import CheckIn
from complaints.crypto.services import keystore
from complaints.workflow.config import Workflow, workflow
from complaints.workflow.transitions import apply_transition
from tests.committee import file_complaint
from tests.factories import Filed, file_report, import_demo_directory

# The steps that take a fresh report on each route to "closed".
CLOSING: dict[Route, tuple[tuple[str, dict[str, str]], ...]] = {
    Route.MANAGER: (
        ("acknowledge", {}),
        ("start", {}),
        ("resolve", {"summary": "Ik heb met uw collega gesproken."}),
        ("close", {}),
    ),
    Route.CONFIDANT: (
        ("acknowledge", {}),
        ("close", {"closing": "Sterkte; u kunt altijd terugkomen."}),
    ),
    Route.INTEGRITY: (
        ("acknowledge", {}),
        ("assess", {}),
        ("give_feedback", {"feedback": "Er zijn maatregelen genomen."}),
        ("close", {}),
    ),
    Route.COMMITTEE: (
        ("acknowledge", {}),
        ("declare_not_admissible", {"reasons": "De klacht is ouder dan een jaar."}),
        ("close_not_admissible", {}),
    ),
}


def file_on(session: Session, now: datetime, route: Route) -> Filed:
    """A confidential report (on the committee route a named complaint) on ``route``."""
    people = import_demo_directory(session, now)
    if route is Route.COMMITTEE:
        return file_complaint(session, people, now)
    return file_report(session, now, route=route)


def take_step(
    session: Session,
    case_id: uuid.UUID,
    name: str,
    now: datetime,
    flow: Workflow | None = None,
    **values: str,
) -> None:
    """Take a workflow step as the case's first handler whose grant allows it."""
    case = session.get(Case, case_id)
    assert case is not None
    flow = flow or workflow()
    spec = flow[case.route].transition(name)
    assert spec is not None, name
    grant = session.scalars(
        sa.select(CaseAccessGrant)
        .where(CaseAccessGrant.case_id == case_id, CaseAccessGrant.role.in_(list(spec.roles)))
        .order_by(CaseAccessGrant.id)
    ).first()
    assert grant is not None
    apply_transition(
        session,
        keystore(),
        flow,
        case,
        name,
        actor_person_id=grant.person_id,
        roles={grant.role},
        values=dict(values),
        expected_version=case.version,
        now=now,
    )


def close(
    session: Session, case_id: uuid.UUID, route: Route, at: datetime, flow: Workflow | None = None
) -> None:
    """Take the route's steps to "closed", the last one at ``at`` (the others just before)."""
    steps = CLOSING[route]
    for number, (name, values) in enumerate(steps, start=1):
        moment = at - timedelta(minutes=len(steps) - number)
        take_step(session, case_id, name, moment, flow, **values)


def checkins(session: Session, case_id: uuid.UUID) -> list[CheckIn]:
    return list(
        session.scalars(
            sa.select(CheckIn).where(CheckIn.case_id == case_id).order_by(CheckIn.due_on)
        )
    )
