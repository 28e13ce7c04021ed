"""Storing and opening cases: the one place where case content is encrypted and decrypted.

Opening a case is an act that is recorded: :func:`open_case` checks the caller's grant, refuses
anyone named as accused, and writes an audit event whether it succeeds or not.
"""

from __future__ import annotations

import json
import secrets
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.audit.models import AuditOutcome
from complaints.audit.services import Actor, record_event
from complaints.cases.attachments import EXTENSIONS
from complaints.cases.models import (
    Attachment,
    AuthorKind,
    Case,
    CaseAccessGrant,
    CaseDocument,
    CaseEvent,
    CaseNote,
    CaseParty,
    Disclosure,
    DocumentKind,
    GrantRole,
    Message,
    PartyKind,
    Route,
)
from complaints.crypto.blind_index import BlindIndexer, normalise_name
from complaints.crypto.envelope import DecryptionFailed, FieldCipher
from complaints.crypto.keystore import KeyStore, KeyStoreError
from complaints.crypto.services import MissingCaseKey, case_cipher, issue_case_key
from complaints.directory.models import Person

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class CaseNotFound(LookupError):
    """No such case for this caller. Deliberately the same whether it exists or not."""


class CaseUnreadable(RuntimeError):
    """The case exists and the caller may open it, but its content does not decrypt."""


@dataclass(frozen=True)
class NewParty:
    kind: PartyKind
    person_id: int | None = None
    name: str | None = None
    relation_to_complainant: str | None = None
    contact: str | None = None


@dataclass(frozen=True)
class NewGrant:
    person_id: int
    role: GrantRole


@dataclass(frozen=True)
class NewAttachment:
    name: str
    content_type: str
    body: bytes


@dataclass(frozen=True)
class NewCase:
    route: Route
    category: str
    disclosure: Disclosure
    description: str
    organisation_id: int | None = None
    grounds: tuple[str, ...] = ()
    incident_period: str = ""
    incident_place: str = ""
    desired_outcome: str = ""
    complainant: Mapping[str, str] | None = None
    parties: tuple[NewParty, ...] = ()
    attachments: tuple[NewAttachment, ...] = ()
    initial_state: str = "submitted"
    out_of_term: bool = False


@dataclass(frozen=True)
class PartyContent:
    id: uuid.UUID
    kind: PartyKind
    person_id: int | None
    name: str | None
    relation_to_complainant: str | None
    contact: str | None = None


@dataclass(frozen=True)
class CaseContent:
    """A decrypted case, as one reader saw it at one moment. Never cached, never logged."""

    case: Case
    description: str
    incident_period: str
    incident_place: str
    desired_outcome: str
    complainant: dict[str, str] | None
    parties: list[PartyContent] = field(default_factory=list)


def new_reference(now: datetime) -> str:
    """A short, unguessable case reference such as ``2026-7KQ3-M9XD`` (no content, no count)."""
    body = "".join(secrets.choice(CROCKFORD) for _ in range(8))
    return f"{now:%Y}-{body[:4]}-{body[4:]}"


def create_case(
    session: Session,
    keys: KeyStore,
    blind: BlindIndexer,
    draft: NewCase,
    *,
    grants: Sequence[NewGrant],
    now: datetime,
    receipt_index: bytes | None = None,
    complainant_index: bytes | None = None,
) -> Case:
    """Store a new case with a fresh data key; everything that tells the story is encrypted."""
    _refuse_accused_grants(session, blind, draft.parties, grants)

    case_id = uuid.uuid4()
    # Look the reference up before the key slot is pending: the query's autoflush would
    # otherwise insert the slot ahead of the case row it refers to.
    reference = _unused_reference(session, now)
    cipher = issue_case_key(session, keys, case_id, now)

    def seal(column: str, text: str) -> bytes:
        return cipher.seal_text("cases", column, case_id, text)

    case = Case(
        id=case_id,
        reference=reference,
        route=draft.route,
        state=draft.initial_state,
        category=draft.category,
        grounds=list(draft.grounds),
        organisation_id=draft.organisation_id,
        disclosure=draft.disclosure,
        submitted_at=now,
        updated_at=now,
        receipt_index=receipt_index,
        complainant_index=complainant_index,
        out_of_term=draft.out_of_term,
        description=seal("description", draft.description),
        incident_period=seal("incident_period", draft.incident_period),
        incident_place=seal("incident_place", draft.incident_place),
        desired_outcome=seal("desired_outcome", draft.desired_outcome),
        complainant=(
            seal("complainant", json.dumps(dict(draft.complainant), ensure_ascii=False))
            if draft.complainant is not None
            else None
        ),
    )
    session.add(case)
    session.flush()  # the key slot and parties refer to the case row
    for party in draft.parties:
        session.add(_sealed_party(cipher, blind, case_id, party, now))
    for attachment in draft.attachments:
        add_attachment(session, cipher, case_id, attachment, AuthorKind.COMPLAINANT, now)
    for grant in grants:
        session.add(
            CaseAccessGrant(
                case_id=case_id, person_id=grant.person_id, role=grant.role, granted_at=now
            )
        )
    session.add(
        CaseEvent(case_id=case_id, occurred_at=now, kind="submitted", to_state=draft.initial_state)
    )
    session.flush()
    return case


def open_case(
    session: Session,
    keys: KeyStore,
    blind: BlindIndexer,
    *,
    case_id: uuid.UUID,
    reader_person_id: int,
    actor: Actor,
    now: datetime,
    action: str = "case.open",
) -> CaseContent:
    """Decrypt a case for someone with an active grant who is not named as accused; audited
    under ``action`` (``case.open``; ``case.export`` for the print view), refusals too."""

    def audit(outcome: AuditOutcome, **details: str | int) -> None:
        record_event(
            session,
            keys,
            actor=actor,
            action=action,
            now=now,
            outcome=outcome,
            object_type="case",
            object_id=str(case_id),
            details=details,
        )

    case, parties, refusal = _reader_access(session, blind, case_id, reader_person_id)
    if case is None or refusal is not None:
        audit(AuditOutcome.DENIED, reason=refusal or "no_grant")
        raise CaseNotFound(str(case_id))
    try:
        content = _decrypt(session, keys, case, parties)
    except (MissingCaseKey, KeyStoreError, DecryptionFailed) as exc:
        audit(AuditOutcome.FAILURE, reason=type(exc).__name__)
        raise CaseUnreadable(case.reference) from exc
    audit(AuditOutcome.SUCCESS)
    return content


# Searching -------------------------------------------------------------------------------------

SEARCH_ACTION = "case.search"
# Enough for a phrase or a few names; a longer text is a paste, not a search.
MAX_SEARCH_TEXT = 200


@dataclass(frozen=True)
class CaseSearch:
    """What one search found: the matching case ids in the order asked, and counts."""

    matched: list[uuid.UUID]
    searched: int  # cases the reader may open that were looked through
    refused: int  # ids asked for that the reader may not open: skipped, never decrypted
    unreadable: int  # cases whose content did not decrypt: skipped, counted

    @property
    def complete(self) -> bool:
        return self.unreadable == 0


def search_words(text: str) -> list[str]:
    """The words of a search, folded as the case texts are (case, accents, spacing)."""
    return _folded(text).split()


def search_cases(
    session: Session,
    keys: KeyStore,
    blind: BlindIndexer,
    *,
    case_ids: Sequence[uuid.UUID],
    text: str,
    reader_person_id: int,
    actor: Actor,
    now: datetime,
) -> CaseSearch:
    """The cases among ``case_ids`` that the reader may open (the rule of :func:`open_case`) and
    whose decrypted text holds every word of ``text`` (any case, without words).

    The text searched is what the case page shows as written: the report, the complainant's
    name and contact details, the parties, the messages and the internal notes. Decrypting for
    a search is not an opening: the whole search is one ``case.search`` audit event with its
    counts, never the words and never which cases matched.
    """
    words = search_words(text)
    matched: list[uuid.UUID] = []
    searched = refused = unreadable = 0
    for case_id in dict.fromkeys(case_ids):
        case, parties, refusal = _reader_access(session, blind, case_id, reader_person_id)
        if case is None or refusal is not None:
            refused += 1
            continue
        searched += 1
        if not words:
            matched.append(case.id)
            continue
        try:
            haystack = _folded("\n".join(_searchable_texts(session, keys, case, parties)))
        except (MissingCaseKey, KeyStoreError, DecryptionFailed):
            unreadable += 1
            continue
        if all(word in haystack for word in words):
            matched.append(case.id)
    record_event(
        session,
        keys,
        actor=actor,
        action=SEARCH_ACTION,
        now=now,
        outcome=AuditOutcome.SUCCESS,
        details={
            "free_text": bool(words),
            "searched": searched,
            "matched": len(matched),
            "refused": refused,
            "unreadable": unreadable,
        },
    )
    return CaseSearch(matched, searched, refused, unreadable)


def _searchable_texts(
    session: Session, keys: KeyStore, case: Case, parties: Sequence[CaseParty]
) -> list[str]:
    cipher = case_cipher(session, keys, case.id)
    content = _decrypt_with(cipher, case, parties)
    who = content.complainant or {}
    texts = [
        content.description,
        content.incident_period,
        content.incident_place,
        content.desired_outcome,
        *(str(who.get(key) or "") for key in ("name", "email", "phone")),
    ]
    for party in content.parties:
        texts += [party.name or "", party.relation_to_complainant or "", party.contact or ""]
    for message in session.scalars(sa.select(Message).where(Message.case_id == case.id)):
        texts.append(cipher.open_text("messages", "body", message.id, message.body))
    for note in session.scalars(sa.select(CaseNote).where(CaseNote.case_id == case.id)):
        texts.append(cipher.open_text("case_notes", "body", note.id, note.body))
    return texts


def _folded(text: str) -> str:
    """Lower case without accents, one space between words: "Zoë  Ünal" finds "zoe unal"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.split())


def open_as_complainant(
    session: Session, keys: KeyStore, case: Case, *, actor: Actor, now: datetime
) -> FieldCipher:
    """The case's cipher for the complainant whose mailbox session holds ``case`` (the session
    is their access check); audited as an opening, a key that is gone as a failure
    (CaseUnreadable)."""
    try:
        cipher = case_cipher(session, keys, case.id)
    except (MissingCaseKey, KeyStoreError) as exc:
        outcome, details = AuditOutcome.FAILURE, {"reason": type(exc).__name__}
        failure: Exception | None = exc
    else:
        outcome, details, failure = AuditOutcome.SUCCESS, {}, None
    record_event(
        session,
        keys,
        actor=actor,
        action="case.open",
        now=now,
        outcome=outcome,
        object_type="case",
        object_id=str(case.id),
        details={"by": "complainant", **details},
    )
    if failure is not None:
        raise CaseUnreadable(case.reference) from failure
    return cipher


def content_for_complainant(session: Session, cipher: FieldCipher, case: Case) -> CaseContent:
    """The case as ``open_as_complainant`` opened it for the complainant (that opening is the
    access check and the audit): for filing a linked case with the same people in it."""
    parties = session.scalars(sa.select(CaseParty).where(CaseParty.case_id == case.id)).all()
    return _decrypt_with(cipher, case, parties)


def _decrypt(
    session: Session, keys: KeyStore, case: Case, parties: Sequence[CaseParty]
) -> CaseContent:
    return _decrypt_with(case_cipher(session, keys, case.id), case, parties)


def _decrypt_with(cipher: FieldCipher, case: Case, parties: Sequence[CaseParty]) -> CaseContent:
    def text(column: str) -> str:
        sealed: bytes | None = getattr(case, column)
        return cipher.open_text("cases", column, case.id, sealed) if sealed is not None else ""

    complainant = json.loads(text("complainant")) if case.complainant is not None else None
    return CaseContent(
        case=case,
        description=text("description"),
        incident_period=text("incident_period"),
        incident_place=text("incident_place"),
        desired_outcome=text("desired_outcome"),
        complainant=complainant,
        parties=[_open_party(cipher, party) for party in parties],
    )


def _named_as_accused(
    session: Session, blind: BlindIndexer, parties: Sequence[CaseParty], person_id: int
) -> bool:
    """Whether an accused party is this person: picked from the directory (person index), or
    typed as free text that normalises to their directory name (name index), the same match
    routing and ``_refuse_accused_grants`` make. A grant can exist all the same (added by
    hand, or a name corrected in the directory later); opening is the last check."""
    accused = [p for p in parties if p.kind is PartyKind.ACCUSED]
    if not accused:
        return False
    if any(p.person_index == blind.person(person_id) for p in accused):
        return True
    person = session.get(Person, person_id)
    # A name that normalises to nothing ("-") names nobody, as in routing.
    if person is None or not normalise_name(person.name):
        return False
    name_index = blind.name(person.name)
    return any(p.name_index == name_index for p in accused)


def _reader_access(
    session: Session, blind: BlindIndexer, case_id: uuid.UUID, person_id: int
) -> tuple[Case | None, Sequence[CaseParty], str | None]:
    """The one rule for reading a case's content: the case, its parties, and why the reader
    may not (``no_grant``, ``accused``) or None. Opening and searching both ask it."""
    case = session.get(Case, case_id)
    if case is None or not _has_grant(session, case_id, person_id):
        return None, (), "no_grant"
    parties = session.scalars(sa.select(CaseParty).where(CaseParty.case_id == case_id)).all()
    if _named_as_accused(session, blind, parties, person_id):
        return case, parties, "accused"
    return case, parties, None


def _has_grant(session: Session, case_id: uuid.UUID, person_id: int) -> bool:
    return (
        session.scalar(
            sa.select(CaseAccessGrant.id)
            .where(
                CaseAccessGrant.case_id == case_id,
                CaseAccessGrant.person_id == person_id,
                CaseAccessGrant.revoked_at.is_(None),
            )
            .limit(1)
        )
        is not None
    )


def _refuse_accused_grants(
    session: Session, blind: BlindIndexer, parties: Sequence[NewParty], grants: Sequence[NewGrant]
) -> None:
    """The last line of defence: routing should never have proposed these people."""
    accused = [p for p in parties if p.kind is PartyKind.ACCUSED]
    ids = {p.person_id for p in accused if p.person_id is not None}
    names = {normalise_name(p.name) for p in accused if p.name}
    for grant in grants:
        person = session.get(Person, grant.person_id)
        if grant.person_id in ids or (person is not None and normalise_name(person.name) in names):
            raise ValueError("a person named as accused can never be granted access")


def add_attachment(
    session: Session,
    cipher: FieldCipher,
    case_id: uuid.UUID,
    attachment: NewAttachment,
    added_by: AuthorKind,
    now: datetime,
) -> Attachment:
    """Store a checked file on a case, name and body encrypted under the case key."""
    attachment_id = uuid.uuid4()
    row = Attachment(
        id=attachment_id,
        case_id=case_id,
        added_by=added_by,
        content_type=attachment.content_type,
        size=len(attachment.body),
        name=cipher.seal_text("attachments", "name", attachment_id, attachment.name),
        body=cipher.seal_bytes("attachments", "body", attachment_id, attachment.body),
        created_at=now,
    )
    session.add(row)
    return row


# What a letter is called when the complainant downloads it, by its template.
LETTER_FILE_NAMES = {
    "acknowledgement": "ontvangstbevestiging",
    "not_admissible": "niet-ontvankelijk",
    "extension": "verlenging",
    "decision": "besluit",
}
OCTET_STREAM = "application/octet-stream"


@dataclass(frozen=True)
class ComplainantFile:
    """A file of the complainant's own case, decrypted for download under a name of ours."""

    filename: str
    content_type: str
    body: bytes


def attachment_file_name(reference: str, ordinal: int, content_type: str) -> str:
    """``<REF>-bijlage-<n>.<ext>``: never the name the uploader gave the file."""
    return f"{reference}-bijlage-{ordinal}{EXTENSIONS.get(content_type, '.bin')}"


def letter_file_names(reference: str, templates: Sequence[str | None]) -> list[str]:
    """``<REF>-besluit.html`` and so on, in order; a second letter of a kind gets ``-2``."""
    names, seen = [], dict[str, int]()
    for template in templates:
        word = LETTER_FILE_NAMES.get(template or "", "brief")
        seen[word] = seen.get(word, 0) + 1
        suffix = f"-{seen[word]}" if seen[word] > 1 else ""
        names.append(f"{reference}-{word}{suffix}.html")
    return names


# The committee's copy of the complaint for the person complained about (Awb 9:9): a letter of
# the case, but not one to the complainant.
COPY_FOR_ACCUSED = "copy_for_accused"


def complainant_letters(session: Session, case_id: uuid.UUID) -> list[CaseDocument]:
    """The letters of a case addressed to the complainant, oldest first."""
    return list(
        session.scalars(
            sa.select(CaseDocument)
            .where(
                CaseDocument.case_id == case_id,
                CaseDocument.kind == DocumentKind.LETTER,
                sa.or_(CaseDocument.template.is_(None), CaseDocument.template != COPY_FOR_ACCUSED),
            )
            .order_by(CaseDocument.created_at, CaseDocument.id)
        )
    )


def open_complainant_file(
    session: Session,
    keys: KeyStore,
    case: Case,
    *,
    letter: bool,
    ordinal: int,
    actor: Actor,
    now: datetime,
) -> ComplainantFile:
    """File number ``ordinal`` (from 1) of the case's attachments, or of its letters, for the
    complainant whose mailbox session holds ``case``; audited, refusals too.

    The ordinal counts within this one case only, so no number reaches another case's file:
    anything beyond the case's files is CaseNotFound, a key that is gone CaseUnreadable.
    """

    def audit(outcome: AuditOutcome, **details: str | int) -> None:
        record_event(
            session,
            keys,
            actor=actor,
            action="case.file_downloaded",
            now=now,
            outcome=outcome,
            object_type="case",
            object_id=str(case.id),
            details={"by": "complainant", "kind": "letter" if letter else "attachment", **details},
        )

    letters = complainant_letters(session, case.id) if letter else []
    attachments = (
        []
        if letter
        else list(
            session.scalars(
                sa.select(Attachment)
                .where(Attachment.case_id == case.id)
                .order_by(Attachment.created_at, Attachment.id)
            )
        )
    )
    count = len(letters) if letter else len(attachments)
    if not 1 <= ordinal <= count:
        audit(AuditOutcome.DENIED, reason="not_on_case")
        raise CaseNotFound(str(case.id))
    try:
        cipher = case_cipher(session, keys, case.id)
        if letter:
            document = letters[ordinal - 1]
            html = cipher.open_text("case_documents", "body", document.id, document.body)
        else:
            attachment = attachments[ordinal - 1]
            body = cipher.open_bytes("attachments", "body", attachment.id, attachment.body)
    except (MissingCaseKey, KeyStoreError, DecryptionFailed) as exc:
        audit(AuditOutcome.FAILURE, ordinal=ordinal, reason=type(exc).__name__)
        raise CaseUnreadable(case.reference) from exc
    audit(AuditOutcome.SUCCESS, ordinal=ordinal)
    if letter:
        names = letter_file_names(case.reference, [d.template for d in letters])
        return ComplainantFile(names[ordinal - 1], "text/html; charset=utf-8", html.encode())
    known = attachment.content_type in EXTENSIONS
    return ComplainantFile(
        attachment_file_name(case.reference, ordinal, attachment.content_type),
        attachment.content_type if known else OCTET_STREAM,
        body,
    )


def _sealed_party(
    cipher: FieldCipher, blind: BlindIndexer, case_id: uuid.UUID, party: NewParty, now: datetime
) -> CaseParty:
    party_id = uuid.uuid4()

    def seal(column: str, text: str | None) -> bytes | None:
        return cipher.seal_text("case_parties", column, party_id, text) if text else None

    return CaseParty(
        id=party_id,
        case_id=case_id,
        kind=party.kind,
        person_index=blind.person(party.person_id) if party.person_id is not None else None,
        name_index=blind.name(party.name) if party.name else None,
        person_ref=seal(
            "person_ref", str(party.person_id) if party.person_id is not None else None
        ),
        name=seal("name", party.name),
        relation_to_complainant=seal("relation_to_complainant", party.relation_to_complainant),
        contact=seal("contact", party.contact),
        created_at=now,
    )


def _open_party(cipher: FieldCipher, party: CaseParty) -> PartyContent:
    def text(column: str) -> str | None:
        sealed: bytes | None = getattr(party, column)
        # ``is not None``, not truthiness: an emptied ciphertext is damage, not a missing value.
        if sealed is None:
            return None
        return cipher.open_text("case_parties", column, party.id, sealed)

    person_ref = text("person_ref")
    return PartyContent(
        id=party.id,
        kind=party.kind,
        person_id=int(person_ref) if person_ref else None,
        name=text("name"),
        relation_to_complainant=text("relation_to_complainant"),
        contact=text("contact"),
    )


def _unused_reference(session: Session, now: datetime) -> str:
    while True:
        reference = new_reference(now)
        if session.scalar(sa.select(Case.id).where(Case.reference == reference)) is None:
            return reference
