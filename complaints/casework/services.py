"""The handlers' workspace: the inbox, the case file, replies to the complainant and notes.

Every function here that touches one case first checks that the caller holds an active grant
on it and is not named as accused; anything else is :class:`CaseNotFound`, the same answer as
for a case that does not exist. Reading the case file goes through ``cases.services.open_case``,
so every opening is audited; so are downloads, replies, notes and refusals.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from flask_babel import force_locale
from sqlalchemy.orm import Session

from complaints.accounts.models import Role, RoleAssignment
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
    Deadline,
    DocumentKind,
    GrantRole,
    Message,
    PartyKind,
    Route,
)
from complaints.cases.services import (
    CaseContent,
    CaseNotFound,
    CaseUnreadable,
    open_case,
    search_cases,
)
from complaints.checkins.services import QUESTION, checkin_message_ids, due_checkins, record_sent
from complaints.crypto.blind_index import BlindIndexer
from complaints.crypto.envelope import DecryptionFailed, FieldCipher
from complaints.crypto.keystore import KeyStore, KeyStoreError
from complaints.crypto.services import MissingCaseKey, case_cipher
from complaints.directory.models import Person
from complaints.followup.services import ConsentView, consent_states
from complaints.workflow.config import Workflow
from complaints.workflow.services import (
    DeadlineView,
    deadline_views,
    local_date,
    may_write,
    writing_closes_at,
)
from complaints.workflow.transitions import event_values

# What stored ciphertext that fails to open raises: tampered or damaged data, or a lost key.
UNREADABLE = (DecryptionFailed, MissingCaseKey, KeyStoreError)

PAGE_SIZE = 25
MAX_TEXT = 20_000
# Functional roles whose holders handle cases; a line manager handles them through a grant.
HANDLER_ROLES = frozenset(
    {
        Role.CONFIDANT,
        Role.INTEGRITY_COORDINATOR,
        Role.COMMITTEE_SECRETARY,
        Role.COMMITTEE_MEMBER,
    }
)
OCTET_STREAM = "application/octet-stream"
# A case printed or saved from the print view has left the application: recorded as such.
EXPORT_ACTION = "case.export"


class CaseClosed(Exception):
    """The case has ended: its file can be read, but no more messages go to the complainant."""


class CheckinNotDue(Exception):
    """No check-in of this case can be sent now."""


# The inbox -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxFilter:
    route: Route | None = None
    state: str | None = None  # a state key; None means every open state
    overdue_only: bool = False
    unread_only: bool = False
    include_closed: bool = False


@dataclass(frozen=True)
class InboxRow:
    case_id: uuid.UUID
    reference: str
    route: Route
    category: str
    state: str
    submitted_at: datetime
    next_due_on: date | None
    next_deadline: str | None
    overdue: bool
    unread: int


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    total: int
    page: int
    pages: int
    per_page: int


def _inbox_row(row: sa.Row[Any], today: date) -> InboxRow:
    """One line of the inbox (or of search results) from the inbox query's row."""
    return InboxRow(
        case_id=row.id,
        reference=row.reference,
        route=row.route,
        category=row.category,
        state=row.state,
        submitted_at=row.submitted_at,
        next_due_on=row.next_due_on,
        next_deadline=row.next_deadline,
        overdue=row.next_due_on is not None and row.next_due_on < today,
        unread=row.unread or 0,
    )


def may_use_casework(session: Session, person_id: int) -> bool:
    """Whether someone has a place in the workspace: a handler role, or a grant on a case."""
    has_role = sa.exists().where(
        RoleAssignment.person_id == person_id, RoleAssignment.role.in_(HANDLER_ROLES)
    )
    has_grant = sa.exists().where(
        CaseAccessGrant.person_id == person_id, CaseAccessGrant.revoked_at.is_(None)
    )
    return bool(session.scalar(sa.select(sa.or_(has_role, has_grant))))


def inbox(
    session: Session,
    blind: BlindIndexer,
    workflow: Workflow,
    *,
    person_id: int,
    filters: InboxFilter,
    today: date,
    page: int = 1,
    per_page: int = PAGE_SIZE,
) -> InboxPage:
    """One page of the cases ``person_id`` holds an active grant for, soonest deadline first.

    One statement whatever the number of cases: the page with the count of all matching cases
    alongside (a second one, the count, only when the page asked for is past the last), with
    the next deadline and the unread messages as correlated subqueries instead of a query per
    row.
    """
    next_due, next_name = _next_deadline_columns()
    unread = (
        sa.select(sa.func.count(Message.id))
        .where(
            Message.case_id == Case.id,
            Message.author_kind == AuthorKind.COMPLAINANT,
            Message.read_at.is_(None),
        )
        .scalar_subquery()
    )
    conditions = _own_cases(blind, person_id)
    if filters.route is not None:
        conditions.append(Case.route == filters.route)
    if filters.state is not None:
        conditions.append(Case.state == filters.state)
    elif not filters.include_closed:
        conditions.append(
            sa.or_(
                *(
                    sa.and_(Case.route == route, Case.state.not_in(sorted(flow.final)))
                    for route, flow in workflow.routes.items()
                )
            )
        )
    if filters.overdue_only:
        conditions.append(next_due < today)
    if filters.unread_only:
        conditions.append(unread > 0)

    due = next_due.label("next_due_on")

    def page_rows(number: int) -> list[sa.Row[Any]]:
        statement = (
            sa.select(
                Case.id,
                Case.reference,
                Case.route,
                Case.category,
                Case.state,
                Case.submitted_at,
                due,
                next_name.label("next_deadline"),
                unread.label("unread"),
                # The count comes with the page: the cases are found and sorted once.
                sa.func.count().over().label("total"),
            )
            .where(*conditions)
            # Cases without a running deadline last; then the oldest report first.
            .order_by(due.asc().nulls_last(), Case.submitted_at, Case.id)
            .limit(per_page)
            .offset((number - 1) * per_page)
        )
        return list(session.execute(statement))

    page = max(page, 1)
    found = page_rows(page)
    if found:
        total = found[0].total
    else:  # no cases, or a page past the last one: count, and show the last page
        total = session.scalar(sa.select(sa.func.count()).select_from(Case).where(*conditions))
        total = total or 0
        found = page_rows(max(1, -(-total // per_page))) if total else []
    pages = max(1, -(-total // per_page))
    page = min(page, pages)
    rows = [_inbox_row(row, today) for row in found]
    return InboxPage(rows=rows, total=total, page=page, pages=pages, per_page=per_page)


# Searching one's own cases ---------------------------------------------------------------------

# Matches shown at most; more means the search should be narrower (the count says how many).
SEARCH_SHOWN = 100
MAX_SEARCH_DAYS = 366


class DeadlineFilter(StrEnum):
    ANY = ""
    OVERDUE = "overdue"  # the soonest running deadline has passed
    DUE_WITHIN = "due_within"  # it falls due today or within the next N days


@dataclass(frozen=True)
class CaseQuery:
    """A search of one's own cases; an empty query finds all of them, in every state."""

    reference: str = ""  # any part of the reference
    route: Route | None = None
    state: str | None = None
    deadline: DeadlineFilter = DeadlineFilter.ANY
    within_days: int = 14
    text: str = ""  # words that must all occur in the decrypted case texts


@dataclass(frozen=True)
class SearchResult:
    rows: list[InboxRow]  # the first SEARCH_SHOWN matches, soonest deadline first
    matched: int
    searched: int
    unreadable: int  # own cases that matched the other criteria but did not decrypt


def search_own_cases(
    session: Session,
    keys: KeyStore,
    blind: BlindIndexer,
    *,
    person_id: int,
    query: CaseQuery,
    today: date,
    actor: Actor,
    now: datetime,
) -> SearchResult:
    """The caller's own cases (active grant, not accused) that match ``query``.

    The clear columns narrow the cases in SQL; the words are then looked for in the decrypted
    texts through ``cases.services.search_cases``, which checks each case again and writes the
    search's one audit event (counts only).
    """
    next_due, next_name = _next_deadline_columns()
    unread = (
        sa.select(sa.func.count(Message.id))
        .where(
            Message.case_id == Case.id,
            Message.author_kind == AuthorKind.COMPLAINANT,
            Message.read_at.is_(None),
        )
        .scalar_subquery()
    )
    conditions = _own_cases(blind, person_id)
    reference = "".join(query.reference.split()).upper()
    if reference:
        conditions.append(Case.reference.contains(reference, autoescape=True))
    if query.route is not None:
        conditions.append(Case.route == query.route)
    if query.state is not None:
        conditions.append(Case.state == query.state)
    if query.deadline is DeadlineFilter.OVERDUE:
        conditions.append(next_due < today)
    elif query.deadline is DeadlineFilter.DUE_WITHIN:
        conditions.append(next_due.between(today, today + timedelta(days=query.within_days)))
    due = next_due.label("next_due_on")
    candidates = list(
        session.execute(
            sa.select(
                Case.id,
                Case.reference,
                Case.route,
                Case.category,
                Case.state,
                Case.submitted_at,
                due,
                next_name.label("next_deadline"),
                unread.label("unread"),
            )
            .where(*conditions)
            .order_by(due.asc().nulls_last(), Case.submitted_at, Case.id)
        )
    )
    found = search_cases(
        session,
        keys,
        blind,
        case_ids=[row.id for row in candidates],
        text=query.text,
        reader_person_id=person_id,
        actor=actor,
        now=now,
    )
    matched = set(found.matched)
    rows = [_inbox_row(row, today) for row in candidates if row.id in matched]
    return SearchResult(
        rows=rows[:SEARCH_SHOWN],
        matched=len(rows),
        searched=found.searched,
        unreadable=found.unreadable,
    )


def _next_deadline_columns() -> tuple[sa.ScalarSelect[date], sa.ScalarSelect[str]]:
    """The due date and name of a case's soonest running deadline, as correlated subqueries."""
    running = (
        Deadline.case_id == Case.id,
        Deadline.met_at.is_(None),
        Deadline.cancelled_at.is_(None),
        Deadline.paused_at.is_(None),  # a paused clock (mediation) is not counting down
    )
    next_due = sa.select(sa.func.min(Deadline.due_on)).where(*running).scalar_subquery()
    next_name = (
        sa.select(Deadline.name)
        .where(*running)
        .order_by(Deadline.due_on, Deadline.name)
        .limit(1)
        .scalar_subquery()
    )
    return next_due, next_name


def _own_cases(blind: BlindIndexer, person_id: int) -> list[sa.ColumnElement[bool]]:
    """The cases someone holds an active grant on, as conditions on ``Case``."""
    return [
        sa.exists().where(
            CaseAccessGrant.case_id == Case.id,
            CaseAccessGrant.person_id == person_id,
            CaseAccessGrant.revoked_at.is_(None),
        ),
        # Defence in depth: routing never grants an accused person access, but if a grant
        # slipped through, the inbox must not even show that the case exists.
        ~sa.exists().where(
            CaseParty.case_id == Case.id,
            CaseParty.kind == PartyKind.ACCUSED,
            CaseParty.person_index == blind.person(person_id),
        ),
    ]


# The case file ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventView:
    occurred_at: datetime
    kind: str
    from_state: str | None
    to_state: str | None
    actor_name: str | None
    # What the handler filled in with a workflow step, by field name ...
    values: dict[str, str | bool]
    # ... or, for other events, a free-text remark.
    remark: str | None


@dataclass(frozen=True)
class ThreadMessage:
    id: uuid.UUID
    author_kind: AuthorKind
    author_name: str | None
    body: str
    created_at: datetime
    # A complainant's message no handler had seen before this opening.
    new: bool
    # A check-in question (shown as the question, in the reader's language).
    checkin: bool = False


@dataclass(frozen=True)
class NoteView:
    id: uuid.UUID
    author_name: str | None
    body: str
    created_at: datetime


@dataclass(frozen=True)
class AttachmentEntry:
    id: uuid.UUID
    name: str
    content_type: str
    size: int
    created_at: datetime
    added_by: AuthorKind
    download_name: str


@dataclass(frozen=True)
class CaseFile:
    """A case as one handler saw it at one opening, decrypted. Never cached, never logged."""

    content: CaseContent
    roles: frozenset[GrantRole]
    is_open: bool
    # Closed cases keep the conversation going for closed_reply_days, both ways.
    can_write: bool
    writing_until: datetime | None
    deadlines: list[DeadlineView]
    events: list[EventView]
    messages: list[ThreadMessage]
    notes: list[NoteView]
    attachments: list[AttachmentEntry]
    consents: list[ConsentView]

    @property
    def case(self) -> Case:
        return self.content.case


@dataclass(frozen=True)
class Download:
    filename: str
    content_type: str
    body: bytes


def case_roles(session: Session, case_id: uuid.UUID, person_id: int) -> frozenset[GrantRole]:
    """The capacities in which someone holds an active grant on a case (none: no access)."""
    return frozenset(
        session.scalars(
            sa.select(CaseAccessGrant.role).where(
                CaseAccessGrant.case_id == case_id,
                CaseAccessGrant.person_id == person_id,
                CaseAccessGrant.revoked_at.is_(None),
            )
        )
    )


def read_case(
    session: Session,
    keys: KeyStore,
    blind: BlindIndexer,
    workflow: Workflow,
    *,
    case_id: uuid.UUID,
    person_id: int,
    actor: Actor,
    now: datetime,
    closed_reply_days: int = 0,
    export: bool = False,
) -> CaseFile:
    """Open a case for a handler (grant checked, audited) with everything around it.

    The complainant's messages count as read from this opening on. ``export`` is the print
    view: audited as ``case.export`` instead of ``case.open``, and it marks nothing read.
    """
    action = EXPORT_ACTION if export else "case.open"
    content = open_case(
        session,
        keys,
        blind,
        case_id=case_id,
        reader_person_id=person_id,
        actor=actor,
        now=now,
        action=action,
    )
    case = content.case
    try:
        cipher = case_cipher(session, keys, case.id)
        messages = _thread(session, cipher, case.id)
        events = _events(session, cipher, case.id)
        notes = _notes(session, cipher, case.id)
        attachments = _attachments(session, cipher, case)
    except UNREADABLE as exc:
        # The case itself opened, but something kept with it did not: show none of it, and
        # record the failure beside the opening.
        _audit(
            session,
            keys,
            actor,
            action,
            case.id,
            now,
            AuditOutcome.FAILURE,
            reason=type(exc).__name__,
        )
        raise CaseUnreadable(case.reference) from exc
    if not export:  # printing a case is not reading the new messages in the workspace
        for message in session.scalars(
            sa.select(Message).where(
                Message.case_id == case.id,
                Message.author_kind == AuthorKind.COMPLAINANT,
                Message.read_at.is_(None),
            )
        ):
            message.read_at = now
    session.flush()
    return CaseFile(
        content=content,
        roles=case_roles(session, case.id, person_id),
        is_open=workflow[case.route].is_open(case.state),
        can_write=may_write(session, workflow, case, closed_reply_days, now),
        writing_until=writing_closes_at(session, case, closed_reply_days),
        deadlines=deadline_views(session, workflow, case, now),
        events=events,
        messages=messages,
        notes=notes,
        attachments=attachments,
        consents=consent_states(session, case),
    )


@dataclass(frozen=True)
class DocumentEntry:
    """A document of the procedure as a list names it: its kind and date, nothing inside."""

    kind: DocumentKind
    template: str | None
    created_at: datetime


def procedure_documents(session: Session, case_id: uuid.UUID) -> list[DocumentEntry]:
    """The case's documents (hearing reports, advice, decision, letters), oldest first; for
    a caller that has opened the case. Titles and bodies stay sealed: they are read on the
    committee page, which applies their visibility."""
    rows = session.execute(
        sa.select(CaseDocument.kind, CaseDocument.template, CaseDocument.created_at)
        .where(CaseDocument.case_id == case_id)
        .order_by(CaseDocument.created_at, CaseDocument.id)
    )
    return [DocumentEntry(row.kind, row.template, row.created_at) for row in rows]


def download_name(reference: str, number: int, content_type: str) -> str:
    """The name a download gets: chosen here, never the name the uploader gave the file."""
    return f"{reference}-{number}{EXTENSIONS.get(content_type, '.bin')}"


def download_attachment(
    session: Session,
    keys: KeyStore,
    blind: BlindIndexer,
    *,
    case_id: uuid.UUID,
    attachment_id: uuid.UUID,
    person_id: int,
    actor: Actor,
    now: datetime,
) -> Download:
    """An attachment of a case the caller may open, decrypted; audited, refusals too."""
    case = _authorised_case(
        session, keys, blind, case_id, person_id, actor, now, "case.attachment_downloaded"
    )
    ids = list(
        session.scalars(
            sa.select(Attachment.id)
            .where(Attachment.case_id == case.id)
            .order_by(Attachment.created_at, Attachment.id)
        )
    )
    if attachment_id not in ids:
        _audit(
            session,
            keys,
            actor,
            "case.attachment_downloaded",
            case_id,
            now,
            AuditOutcome.DENIED,
            reason="not_on_case",
        )
        raise CaseNotFound(str(case_id))
    attachment = session.get(Attachment, attachment_id)
    assert attachment is not None  # noqa: S101 - its id was just listed
    try:
        cipher = case_cipher(session, keys, case.id)
        body = cipher.open_bytes("attachments", "body", attachment.id, attachment.body)
    except UNREADABLE as exc:
        _audit(
            session,
            keys,
            actor,
            "case.attachment_downloaded",
            case.id,
            now,
            AuditOutcome.FAILURE,
            attachment_id=str(attachment.id),
            reason=type(exc).__name__,
        )
        raise CaseUnreadable(case.reference) from exc
    content_type = attachment.content_type if attachment.content_type in EXTENSIONS else None
    _audit(
        session,
        keys,
        actor,
        "case.attachment_downloaded",
        case.id,
        now,
        attachment_id=str(attachment.id),
    )
    return Download(
        filename=download_name(
            case.reference, ids.index(attachment.id) + 1, attachment.content_type
        ),
        content_type=content_type or OCTET_STREAM,
        body=body,
    )


def reply_to_complainant(
    session: Session,
    keys: KeyStore,
    blind: BlindIndexer,
    workflow: Workflow,
    *,
    case_id: uuid.UUID,
    person_id: int,
    actor: Actor,
    body: str,
    now: datetime,
    closed_reply_days: int = 0,
) -> Message:
    """A message from the handler to the complainant's mailbox, sealed under the case key;
    after closing only while the complainant can still write (``closed_reply_days``).

    Answering settles the complainant's messages: they count as read.
    """
    case = _authorised_case(session, keys, blind, case_id, person_id, actor, now, "case.replied")
    if not may_write(session, workflow, case, closed_reply_days, now):
        raise CaseClosed(case.reference)
    message = _handler_message(session, keys, case, person_id, _checked_text(body), now)
    for earlier in session.scalars(
        sa.select(Message).where(
            Message.case_id == case.id,
            Message.author_kind == AuthorKind.COMPLAINANT,
            Message.read_at.is_(None),
        )
    ):
        earlier.read_at = now
    case.updated_at = now
    _audit(session, keys, actor, "case.replied", case.id, now)
    session.flush()
    return message


def send_checkin(
    session: Session,
    keys: KeyStore,
    blind: BlindIndexer,
    workflow: Workflow,
    *,
    case_id: uuid.UUID,
    person_id: int,
    actor: Actor,
    now: datetime,
) -> Message:
    """Send the check-in that is due on a closed case: the question "Is er sinds de
    afhandeling iets gebeurd?" as a message from the handler (sealed in Dutch; the mailbox
    asks it in the reader's language). CheckinNotDue when none is due (not yet, sent already,
    switched off by the complainant, or the mailbox can no longer be opened); CaseUnreadable
    when the case's key is gone (nothing is sent, the failure is audited)."""
    case = _authorised_case(session, keys, blind, case_id, person_id, actor, now, "checkin.sent")
    due = due_checkins(session, workflow, case, local_date(now))
    if not due:
        raise CheckinNotDue(case.reference)
    with force_locale("nl"):
        question = str(QUESTION)
    try:
        message = _handler_message(session, keys, case, person_id, question, now)
    except UNREADABLE as exc:
        _audit(
            session,
            keys,
            actor,
            "checkin.sent",
            case.id,
            now,
            AuditOutcome.FAILURE,
            reason=type(exc).__name__,
        )
        raise CaseUnreadable(case.reference) from exc
    record_sent(
        session, keys, case, due, message=message, person_id=person_id, actor=actor, now=now
    )
    return message


def _handler_message(
    session: Session, keys: KeyStore, case: Case, person_id: int, text: str, now: datetime
) -> Message:
    """A message from the handler to the complainant's mailbox, sealed under the case key."""
    message_id = uuid.uuid4()
    message = Message(
        id=message_id,
        case_id=case.id,
        author_kind=AuthorKind.HANDLER,
        author_person_id=person_id,
        body=case_cipher(session, keys, case.id).seal_text("messages", "body", message_id, text),
        created_at=now,
    )
    session.add(message)
    session.flush()
    return message


def add_note(
    session: Session,
    keys: KeyStore,
    blind: BlindIndexer,
    *,
    case_id: uuid.UUID,
    person_id: int,
    actor: Actor,
    body: str,
    now: datetime,
) -> CaseNote:
    """An internal note for the handlers of a case; the complainant never sees it.

    A note does not touch the case row, so it never makes a colleague's state change fail
    as "changed meanwhile".
    """
    case = _authorised_case(session, keys, blind, case_id, person_id, actor, now, "case.note_added")
    text = _checked_text(body)
    note_id = uuid.uuid4()
    note = CaseNote(
        id=note_id,
        case_id=case.id,
        author_person_id=person_id,
        body=case_cipher(session, keys, case.id).seal_text("case_notes", "body", note_id, text),
        created_at=now,
    )
    session.add(note)
    _audit(session, keys, actor, "case.note_added", case.id, now)
    session.flush()
    return note


def authorised_case(
    session: Session,
    keys: KeyStore,
    blind: BlindIndexer,
    *,
    case_id: uuid.UUID,
    person_id: int,
    actor: Actor,
    now: datetime,
    action: str,
) -> tuple[Case, frozenset[GrantRole]]:
    """The case and the caller's roles on it, for an action on it; a refusal is audited
    under ``action`` and raises CaseNotFound."""
    case = _authorised_case(session, keys, blind, case_id, person_id, actor, now, action)
    return case, case_roles(session, case.id, person_id)


def _authorised_case(
    session: Session,
    keys: KeyStore,
    blind: BlindIndexer,
    case_id: uuid.UUID,
    person_id: int,
    actor: Actor,
    now: datetime,
    action: str,
) -> Case:
    case = session.get(Case, case_id)
    reason = None
    if case is None or not case_roles(session, case_id, person_id):
        reason = "no_grant"
    elif session.scalar(
        sa.select(
            sa.exists().where(
                CaseParty.case_id == case_id,
                CaseParty.kind == PartyKind.ACCUSED,
                CaseParty.person_index == blind.person(person_id),
            )
        )
    ):
        reason = "accused"
    if case is None or reason is not None:
        _audit(session, keys, actor, action, case_id, now, AuditOutcome.DENIED, reason=reason)
        raise CaseNotFound(str(case_id))
    return case


def _audit(
    session: Session,
    keys: KeyStore,
    actor: Actor,
    action: str,
    case_id: uuid.UUID,
    now: datetime,
    outcome: AuditOutcome = AuditOutcome.SUCCESS,
    **details: str | int | None,
) -> None:
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


def _checked_text(body: str) -> str:
    text = body.strip()
    if not text or len(text) > MAX_TEXT:
        raise ValueError("text length")
    return text


def _people_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(sa.select(Person.id, Person.name).where(Person.id.in_(wanted)))
    return {row.id: row.name for row in rows}


def _events(session: Session, cipher: FieldCipher, case_id: uuid.UUID) -> list[EventView]:
    rows = list(
        session.scalars(
            sa.select(CaseEvent)
            .where(CaseEvent.case_id == case_id)
            .order_by(CaseEvent.occurred_at, CaseEvent.id)
        )
    )
    names = _people_names(session, {e.actor_person_id for e in rows})
    views = []
    for event in rows:
        values = event_values(cipher, event)
        remark = None
        if event.remark is not None and not values:
            remark = cipher.open_text("case_events", "remark", event.id, event.remark)
        views.append(
            EventView(
                occurred_at=event.occurred_at,
                kind=event.kind,
                from_state=event.from_state,
                to_state=event.to_state,
                actor_name=names.get(event.actor_person_id) if event.actor_person_id else None,
                values=values,
                remark=remark,
            )
        )
    return views


def _thread(session: Session, cipher: FieldCipher, case_id: uuid.UUID) -> list[ThreadMessage]:
    rows = list(
        session.scalars(
            sa.select(Message)
            .where(Message.case_id == case_id)
            .order_by(Message.created_at, Message.id)
        )
    )
    names = _people_names(session, {m.author_person_id for m in rows})
    questions = checkin_message_ids(session, case_id)
    return [
        ThreadMessage(
            id=m.id,
            author_kind=m.author_kind,
            author_name=names.get(m.author_person_id) if m.author_person_id else None,
            body=cipher.open_text("messages", "body", m.id, m.body),
            created_at=m.created_at,
            new=m.author_kind is AuthorKind.COMPLAINANT and m.read_at is None,
            checkin=m.id in questions,
        )
        for m in rows
    ]


def _notes(session: Session, cipher: FieldCipher, case_id: uuid.UUID) -> list[NoteView]:
    rows = list(
        session.scalars(
            sa.select(CaseNote)
            .where(CaseNote.case_id == case_id)
            .order_by(CaseNote.created_at, CaseNote.id)
        )
    )
    names = _people_names(session, {n.author_person_id for n in rows})
    return [
        NoteView(
            id=n.id,
            author_name=names.get(n.author_person_id) if n.author_person_id else None,
            body=cipher.open_text("case_notes", "body", n.id, n.body),
            created_at=n.created_at,
        )
        for n in rows
    ]


def _attachments(session: Session, cipher: FieldCipher, case: Case) -> list[AttachmentEntry]:
    rows = session.scalars(
        sa.select(Attachment)
        .where(Attachment.case_id == case.id)
        .order_by(Attachment.created_at, Attachment.id)
    ).all()
    return [
        AttachmentEntry(
            id=a.id,
            name=cipher.open_text("attachments", "name", a.id, a.name),
            content_type=a.content_type,
            size=a.size,
            created_at=a.created_at,
            added_by=a.added_by,
            download_name=download_name(case.reference, number, a.content_type),
        )
        for number, a in enumerate(rows, start=1)
    ]
