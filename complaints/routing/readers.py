"""Who can read a report of a route and disclosure level, as facts taken from the rules that
decide it; ``routing/wording.py`` puts them into words for the complainant.

The facts come from where the behaviour lives: the role routing grants at filing
(``GRANT_ROLES``) and every other role the route's workflow lets take a step (the committee's
secretary assigns members, who then hold a grant of their own); the manager route's walk up the
line when the manager is named (``_manager``); the consents the mailbox asks for
(``followup.services.consents_offered``); and the workflow's ``copy_to_accused`` (Awb 9:9).
Nobody named as accused ever gets a grant, on any route, and administrators never read a case.
"""

from __future__ import annotations

from dataclasses import dataclass

from complaints.cases.models import ConsentKind, Disclosure, GrantRole, Route
from complaints.followup.services import CONSENTS_BY_ROUTE, consents_offered
from complaints.routing.services import GRANT_ROLES
from complaints.web.i18n import Localized
from complaints.workflow.config import RouteWorkflow, Workflow

# Routes that cannot take an anonymous report: on the committee route the person complained
# about must be able to respond to who complains (Awb 9:8), so a formal complaint needs a name.
NAME_REQUIRED = frozenset({Route.COMMITTEE})


def accepts(route: Route, disclosure: Disclosure) -> bool:
    """Whether ``route`` takes a report of this disclosure level at all."""
    return not (route in NAME_REQUIRED and disclosure is Disclosure.ANONYMOUS)


@dataclass(frozen=True)
class Readers:
    """Who can read a report of ``route`` and ``disclosure`` (None: not chosen yet)."""

    route: Route
    route_label: Localized
    disclosure: Disclosure | None
    accepted: bool = True  # False: the route does not take such a report, nobody reads it
    # The capacities in which people read it: the one routed at filing first, then the ones
    # given access later (committee members, assigned by the secretary).
    roles: tuple[GrantRole, ...] = ()
    next_manager_up: bool = False  # the manager named in the report: the next one up reads it
    readers_see_name: bool | None = None  # None: the disclosure level is not known yet
    # A confidential report whose name the readers pass on only with the complainant's consent.
    name_kept_without_consent: bool = False
    referral_with_consent: bool = False  # may go to another route with the complainant's consent
    copy_step: Localized | None = None  # the accused receives a copy once the case reaches it
    copy_with_name: bool | None = None  # ... with the complainant's name (None: level unknown)


def reader_roles(flow: RouteWorkflow) -> tuple[GrantRole, ...]:
    """The grant roles whose holders read reports on this route: routed at filing first, then
    every other role the route's steps are given to (it needs a grant to take them)."""
    routed = GRANT_ROLES[flow.route]
    stepping = {role for t in flow.transitions for role in t.roles} - {routed}
    return (routed, *(role for role in GrantRole if role in stepping))


def readers(workflow: Workflow, route: Route, disclosure: Disclosure | None) -> Readers:
    """Who can read a report of ``route`` filed at ``disclosure``, from the rules that decide it."""
    flow = workflow[route]
    if disclosure is not None and not accepts(route, disclosure):
        return Readers(route, flow.label, disclosure, accepted=False)
    offered = set(
        CONSENTS_BY_ROUTE[route] if disclosure is None else consents_offered(route, disclosure)
    )
    copy = flow.copy_to_accused
    return Readers(
        route,
        flow.label,
        disclosure,
        roles=reader_roles(flow),
        # Routing walks up the line past a manager who is named (routing.services._manager).
        next_manager_up=route is Route.MANAGER,
        # The identity is part of the case every grant holder opens; an anonymous one has none.
        readers_see_name=None if disclosure is None else disclosure is not Disclosure.ANONYMOUS,
        name_kept_without_consent=disclosure is Disclosure.CONFIDENTIAL
        and ConsentKind.SHARE_IDENTITY in offered,
        referral_with_consent=ConsentKind.REFERRAL in offered,
        copy_step=flow.states[copy.state].label if copy is not None else None,
        copy_with_name=(
            disclosure in copy.with_name if copy is not None and disclosure is not None else None
        ),
    )
