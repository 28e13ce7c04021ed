"""Shared set-up for the referral, proxy and handover tests: real reports, real people."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from complaints.cases.models import Disclosure, Route
from complaints.cases.taxonomy import taxonomy
from complaints.crypto.services import indexer, keystore
from complaints.directory.models import Person
from complaints.intake.services import AccusedPerson, Identity, Report, Submission, submit_report
from complaints.workflow.config import workflow
from tests.factories import unit

CONFIDANT = "i.hoekstra@bzk.example"  # confidant@BZK
WIDE_CONFIDANT = "g.verbeek@bzk.example"  # government-wide confidant
COORDINATOR = "k.dijkstra@bzk.example"  # integrity_coordinator@BZK
SECRETARIES = ("w.deboer@bzk.example", "n.haddou@bzk.example")
EMPLOYEE = "s.devries@bzk.example"  # manager: a.demir@bzk.example
MANAGER = "a.demir@bzk.example"  # manager: h.jansen@bzk.example
ACCUSED = "l.bakker@bzk.example"
ADMIN = "t.groen@bzk.example"
STORY = "Tijdens het teamoverleg maakte een collega een racistische grap over mij."


def file(
    session: Session,
    people: dict[str, Person],
    now: datetime,
    *,
    route: Route = Route.CONFIDANT,
    disclosure: Disclosure = Disclosure.CONFIDENTIAL,
    complainant: str = EMPLOYEE,
    accused: tuple[str, ...] = (ACCUSED,),
    accused_names: tuple[str, ...] = (),
    unit_code: str = "BZK-APS",
    description: str = STORY,
    chosen_confidant: str | None = None,
) -> Submission:
    """A report filed through the real submission service."""
    who = people[complainant]
    identity = (
        None
        if disclosure is Disclosure.ANONYMOUS
        else Identity(who.name, who.email, "06 12345678", who.id)
    )
    report = Report(
        category="discrimination",
        grounds=("race",),
        when="2 maart 2026",
        last_incident_on=None,
        ongoing=False,
        unit_id=unit(session, unit_code).id,
        place="vergaderzaal 4.12",
        description=description,
        accused=tuple(
            AccusedPerson(people[email].name, "collega", people[email].id) for email in accused
        )
        + tuple(AccusedPerson(name, "collega") for name in accused_names),
        witnesses=(),
        desired_outcome="Een gesprek met mijn leidinggevende.",
        route=route,
        disclosure=disclosure,
        identity=identity,
        manager_person_id=who.manager_id,
        chosen_confidant_id=people[chosen_confidant].id if chosen_confidant else None,
    )
    return submit_report(
        session,
        keystore(),
        indexer(),
        taxonomy(),
        workflow(),
        report,
        expected_recipients=None,
        now=now,
    )
