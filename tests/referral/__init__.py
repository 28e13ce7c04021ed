"""Shared set-up for the referral, proxy and handover tests: real reports, real people."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from complaints.cases.models import Disclosure, Route
from complaints.directory.models import Person
from complaints.intake.services import AccusedPerson, Submission
from tests.factories import file_report

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
    """A report filed through the real submission service (``tests.factories.file_report``)."""
    filed = file_report(
        session,
        now,
        filer=complainant,
        route=route,
        disclosure=disclosure,
        unit_code=unit_code,
        description=description,
        place="vergaderzaal 4.12",
        desired_outcome="Een gesprek met mijn leidinggevende.",
        accused=tuple(
            AccusedPerson(people[email].name, "collega", people[email].id) for email in accused
        )
        + tuple(AccusedPerson(name, "collega") for name in accused_names),
        manager_person_id=people[complainant].manager_id,
        chosen_confidant_id=people[chosen_confidant].id if chosen_confidant else None,
    )
    return Submission(filed.case, filed.code, filed.recipients)
