"""Shared set-up for the follow-up tests: reports filed through the real submission service."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from complaints.cases.models import AuthorKind, Case, Disclosure, Message
from complaints.crypto.services import case_cipher, keystore
from complaints.directory.models import Person
from tests import factories
from tests.factories import Filed

__all__ = ["CONFIDANT_EMAIL", "FILER_EMAIL", "Filed", "file_report", "handler_reply"]

CONFIDANT_EMAIL = "i.hoekstra@bzk.example"  # the demo confidant of BZK, who handles the reports
FILER_EMAIL = "s.devries@bzk.example"


def file_report(
    session: Session,
    people: dict[str, Person],
    now: datetime,
    *,
    disclosure: Disclosure = Disclosure.CONFIDENTIAL,
    filer: Person | None = None,
    description: str = "Een collega maakte een racistische grap over mij.",
) -> Filed:
    """A discrimination report to the BZK confidant (``tests.factories.file_report``); with
    ``filer`` it is filed by that logged-in employee under their own name."""
    return factories.file_report(
        session,
        now,
        filer=filer or people[FILER_EMAIL],
        disclosure=disclosure,
        description=description,
        filer_person_id=filer.id if filer else None,
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
