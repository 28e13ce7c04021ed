"""Shared set-up for the follow-up tests: reports filed through the real submission service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from complaints.cases.models import AuthorKind, Case, Disclosure, Message, Route
from complaints.cases.taxonomy import taxonomy
from complaints.crypto.services import case_cipher, indexer, keystore
from complaints.directory.models import Person
from complaints.intake.services import AccusedPerson, Identity, Report, submit_report
from complaints.workflow.config import workflow
from tests.factories import unit

CONFIDANT_EMAIL = "i.hoekstra@bzk.example"  # the demo confidant of BZK, who handles the reports
FILER_EMAIL = "s.devries@bzk.example"


@dataclass(frozen=True)
class Filed:
    code: str
    case_id: uuid.UUID
    reference: str
    handler_id: int


def file_report(
    session: Session,
    people: dict[str, Person],
    now: datetime,
    *,
    disclosure: Disclosure = Disclosure.CONFIDENTIAL,
    filer: Person | None = None,
    description: str = "Een collega maakte een racistische grap over mij.",
) -> Filed:
    """A discrimination report to the BZK confidant, filed through ``submit_report``.

    With ``filer`` it is filed by that logged-in employee under their own name.
    """
    identity = None
    if disclosure is not Disclosure.ANONYMOUS:
        who = filer or people[FILER_EMAIL]
        identity = Identity(who.name, who.email, person_id=who.id)
    report = Report(
        category="discrimination",
        grounds=("race",),
        when="2 maart 2026",
        last_incident_on=None,
        ongoing=False,
        unit_id=unit(session, "BZK-APS").id,
        place="koffiehoek",
        description=description,
        accused=(AccusedPerson("Lotte Bakker", "collega", people["l.bakker@bzk.example"].id),),
        witnesses=(),
        desired_outcome="Een gesprek.",
        route=Route.CONFIDANT,
        disclosure=disclosure,
        identity=identity,
        filer_person_id=filer.id if filer else None,
    )
    submission = submit_report(
        session,
        keystore(),
        indexer(),
        taxonomy(),
        workflow(),
        report,
        expected_recipients=None,
        now=now,
    )
    return Filed(
        submission.receipt_code,
        submission.case.id,
        submission.case.reference,
        people[CONFIDANT_EMAIL].id,
    )


def handler_reply(
    session: Session, case_id: uuid.UUID, handler_id: int, text: str, now: datetime
) -> Message:
    """A message from the handler, sealed under the case key as casework will store it."""
    case = session.get(Case, case_id)
    assert case is not None
    message_id = uuid.uuid4()
    message = Message(
        id=message_id,
        case_id=case_id,
        author_kind=AuthorKind.HANDLER,
        author_person_id=handler_id,
        body=case_cipher(session, keystore(), case_id).seal_text(
            "messages", "body", message_id, text
        ),
        created_at=now,
    )
    session.add(message)
    session.flush()
    return message
