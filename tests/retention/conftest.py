"""Finished cases with every kind of record, for the retention tests."""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.cases.models import (
    AuthorKind,
    Case,
    CaseDocument,
    CaseEvent,
    CaseNote,
    Consent,
    ConsentKind,
    Deadline,
    Disclosure,
    DocumentKind,
    GrantRole,
    Message,
    PartyKind,
    Route,
)
from complaints.cases.services import NewAttachment, NewCase, NewGrant, NewParty, create_case
from complaints.checkins.models import CheckIn
from complaints.crypto.services import case_cipher, indexer, keystore
from complaints.directory.models import Person
from complaints.followup.models import ComplainantSession
from complaints.models import metadata
from complaints.stats.services import record_stat

# Words that must never reach the ledger, the audit log or the plan.
SECRET_WORDS = ("Jansen", "racistische", "vergaderzaal", "getuige-Pietersen", "geheimbericht")

# Every table with a case_id column: what destruction must empty for a case.
CASE_ROW_TABLES = sorted(
    name for name, table in metadata.tables.items() if "case_id" in table.c and name != "cases"
)


@dataclass(frozen=True)
class Made:
    id: uuid.UUID
    reference: str


def make_finished_case(
    session: Session,
    *,
    handler: Person,
    filed_at: datetime,
    closed_at: datetime,
    route: Route = Route.CONFIDANT,
    state: str = "closed",
    outcome: str | None = None,
    referred_from: uuid.UUID | None = None,
    extras: bool = True,
) -> Made:
    """A case filed at ``filed_at`` and finished at ``closed_at``, with a record of every kind:
    parties, an attachment, messages, a note, a document, a consent, a deadline, remarks, a
    mailbox session, a grant, two check-ins and a stat event."""
    keys = keystore()
    draft = NewCase(
        route=route,
        category="discrimination",
        grounds=("race",),
        disclosure=Disclosure.CONFIDENTIAL,
        description="Er werd een racistische opmerking gemaakt.",
        incident_period="maart 2026",
        incident_place="vergaderzaal 4.12",
        desired_outcome="Dat het stopt.",
        complainant={"name": "A. Jansen", "email": "jansen@example.org"},
        parties=(
            NewParty(kind=PartyKind.ACCUSED, name="B. de Boer", relation_to_complainant="collega"),
            NewParty(kind=PartyKind.WITNESS, name="getuige-Pietersen", contact="toestel 123"),
        )
        if extras
        else (),
        attachments=(NewAttachment("verslag.txt", "text/plain", b"geheimbericht bijlage"),)
        if extras
        else (),
    )
    case = create_case(
        session,
        keys,
        indexer(),
        draft,
        grants=[NewGrant(handler.id, GrantRole.CONFIDANT)],
        now=filed_at,
        receipt_index=secrets.token_bytes(32),
        complainant_index=secrets.token_bytes(32),
    )
    record_stat(session, case, "submitted", now=filed_at)
    if extras:
        cipher = case_cipher(session, keys, case.id)
        for author in (AuthorKind.COMPLAINANT, AuthorKind.HANDLER):
            message_id = uuid.uuid4()
            session.add(
                Message(
                    id=message_id,
                    case_id=case.id,
                    author_kind=author,
                    body=cipher.seal_text("messages", "body", message_id, "geheimbericht"),
                    created_at=filed_at,
                )
            )
        session.flush()
        # A check-in sent as the handler's message, and one still due (the sweep takes both).
        for months, sent in ((1, True), (6, False)):
            session.add(
                CheckIn(
                    case_id=case.id,
                    months=months,
                    closed_at=closed_at,
                    due_on=closed_at.date(),
                    sent_at=closed_at if sent else None,
                    message_id=message_id if sent else None,
                )
            )
        note_id, document_id = uuid.uuid4(), uuid.uuid4()
        session.add(
            CaseNote(
                id=note_id,
                case_id=case.id,
                body=cipher.seal_text("case_notes", "body", note_id, "notitie Jansen"),
                created_at=filed_at,
            )
        )
        session.add(
            CaseDocument(
                id=document_id,
                case_id=case.id,
                kind=DocumentKind.LETTER,
                body=cipher.seal_text("case_documents", "body", document_id, "brief Jansen"),
                created_at=filed_at,
            )
        )
        consent = Consent(case_id=case.id, kind=ConsentKind.REFERRAL, given_at=filed_at)
        session.add(consent)
        session.flush()
        consent.details = cipher.seal_text("consents", "details", consent.id, "mondeling")
        session.add(
            Deadline(
                case_id=case.id,
                name="acknowledge",
                started_at=filed_at,
                due_on=filed_at.date(),
                met_at=filed_at,
            )
        )
        event_id = uuid.uuid4()
        session.add(
            CaseEvent(
                id=event_id,
                case_id=case.id,
                occurred_at=closed_at,
                kind="state_changed",
                from_state="submitted",
                to_state=state,
                remark=cipher.seal_text("case_events", "remark", event_id, "afgerond, Jansen"),
            )
        )
        session.add(
            ComplainantSession(
                token_hash=secrets.token_bytes(32),
                case_id=case.id,
                created_at=filed_at,
                last_seen_at=filed_at,
                expires_at=filed_at,
            )
        )
    case.state = state
    case.outcome = outcome
    case.closed_at = closed_at
    case.updated_at = closed_at
    case.referred_from_id = referred_from
    session.flush()
    return Made(case.id, case.reference)


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def case_rows(session: Session, case_id: uuid.UUID) -> dict[str, int]:
    """How many rows each table holds for the case (the case row itself under "cases")."""
    counts = {
        name: session.scalar(
            sa.select(sa.func.count())
            .select_from(metadata.tables[name])
            .where(metadata.tables[name].c.case_id == case_id)
        )
        or 0
        for name in CASE_ROW_TABLES
    }
    counts["cases"] = (
        session.scalar(sa.select(sa.func.count()).select_from(Case).where(Case.id == case_id)) or 0
    )
    return counts


def ledger_text(session: Session) -> str:
    from complaints.retention.models import LedgerEntry

    return json.dumps(
        [
            [e.category, e.subject, e.rule, e.action, e.records]
            for e in session.scalars(sa.select(LedgerEntry))
        ]
    )
