"""What the help page says, gathered from the workflow configuration and the directory."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

from sqlalchemy.orm import Session

from complaints.accounts.models import Role
from complaints.cases.models import Route
from complaints.directory.search import RoleContact, role_contacts
from complaints.intake.wording import RouteInfo, route_infos
from complaints.workflow.config import Workflow


@dataclass(frozen=True)
class CounsellorGroup:
    serves: str | None  # the organisation they serve; None: all of central government
    people: list[RoleContact]


@dataclass(frozen=True)
class HelpContent:
    routes: list[RouteInfo]  # what each route means, what happens next, its deadlines
    counsellors: list[CounsellorGroup]


def help_content(session: Session, flow: Workflow) -> HelpContent:
    """Everything /hulp shows: the routes of ``flow`` in words and the confidential counsellors
    in the directory, grouped by the organisation they serve (government-wide first)."""
    contacts = role_contacts(session, Role.CONFIDANT)
    groups = [
        CounsellorGroup(serves, list(people))
        for serves, people in groupby(contacts, key=lambda c: c.serves)
    ]
    return HelpContent(route_infos(flow, list(Route)), groups)
