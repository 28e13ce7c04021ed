"""The complainant's mailbox: opened with the receipt code, held in a short server-side session.

The mailbox shows the state of the report in plain words, the deadlines and whether they were
met, and the conversation with the handler; the complainant can add information and files,
give or withdraw consents, and withdraw the report. Every opening is audited with the case
reference as the actor, never the receipt code.

Outcomes arrive as messages from the handler that name their workflow step, so the mailbox
says in the reader's language what each is (the feedback, the decision and its outcome); the
committee's letters are downloads. After closing, the mailbox stays readable for as long as
retention keeps the case, and takes messages for ``closed_reply_days``.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.audit.models import ActorKind, AuditOutcome
from complaints.audit.services import ANONYMOUS, Actor, record_event
from complaints.cases.models import (
    Attachment,
    AuthorKind,
    Case,
    CaseAccessGrant,
    CaseEvent,
    Consent,
    ConsentKind,
    Disclosure,
    Message,
    Route,
)
from complaints.cases.receipts import receipt_index
from complaints.cases.services import (
    NewAttachment,
    add_attachment,
    attachment_file_name,
    complainant_letters,
    content_for_complainant,
    letter_file_names,
    open_as_complainant,
)
from complaints.checkins.services import (
    LinkedCase,
    NoHandlerLeft,
    checkin_message_ids,
    file_linked_case,
    open_checkin,
    record_answer,
    reopen_case,
    switch_checkins,
)
from complaints.crypto.blind_index import BlindIndexer
from complaints.crypto.envelope import FieldCipher
from complaints.crypto.keystore import KeyStore
from complaints.crypto.services import case_cipher
from complaints.followup.models import ComplainantSession
from complaints.notify.services import queue_notification
from complaints.settings import Settings
from complaints.stats.services import record_stat
from complaints.web.i18n import Localized
from complaints.workflow.config import WITHDRAWN, Retaliation, RouteWorkflow, Workflow
from complaints.workflow.services import (
    DeadlineView,
    deadline_views,
    enter_state,
    may_write,
    writing_closes_at,
)
from complaints.workflow.transitions import event_values

MAX_MESSAGE = 20_000
# Which consents a complainant can give on which route.
CONSENTS_BY_ROUTE = {
    Route.MANAGER: (ConsentKind.SHARE_IDENTITY,),
    Route.CONFIDANT: (ConsentKind.REFERRAL, ConsentKind.SHARE_IDENTITY),
    Route.INTEGRITY: (ConsentKind.SHARE_IDENTITY,),
    Route.COMMITTEE: (ConsentKind.MEDIATION, ConsentKind.EXTENSION),
}


class MailboxClosed(Exception):
    """The report is closed or withdrawn: it can be read, not changed."""


class CheckinClosed(Exception):
    """There is no check-in to answer: answered already, switched off, or the report reopened."""


class CheckinRefused(Exception):
    """The answer cannot be taken like this; ``reason`` is a message key for the page."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class MailboxPolicy:
    idle_timeout: timedelta
    absolute_timeout: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> MailboxPolicy:
        return cls(
            idle_timeout=timedelta(minutes=settings.followup_idle_timeout_minutes),
            absolute_timeout=timedelta(minutes=settings.followup_absolute_timeout_minutes),
        )


@dataclass(frozen=True)
class OpenedMailbox:
    token: str
    session: ComplainantSession


@dataclass(frozen=True)
class MessageView:
    id: uuid.UUID
    from_complainant: bool
    body: str
    created_at: datetime
    # An outcome: what the step means for the complainant (its state's public text) and the
    # outcome chosen with it, each printing in the reader's language.
    about: Localized | None = None
    outcome: Localized | None = None
    # A check-in question: the mailbox asks it in the reader's language.
    checkin: bool = False


@dataclass(frozen=True)
class LetterView:
    ordinal: int
    title: str
    filename: str
    created_at: datetime


@dataclass(frozen=True)
class AttachmentView:
    id: uuid.UUID
    ordinal: int
    filename: str
    name: str
    content_type: str
    size: int
    created_at: datetime
    from_complainant: bool


@dataclass(frozen=True)
class ConsentView:
    kind: ConsentKind
    given: bool
    since: datetime | None


@dataclass(frozen=True)
class Mailbox:
    case: Case
    is_open: bool
    deadlines: list[DeadlineView]
    messages: list[MessageView]
    attachments: list[AttachmentView]
    consents: list[ConsentView]
    letters: list[LetterView]
    # Closed: whether messages are still taken, and until when (None while open).
    can_write: bool
    writing_until: datetime | None
    # Closed on a route with check-ins: the question asked now and the switch.
    checkin: CheckinState | None = None


@dataclass(frozen=True)
class CheckinState:
    """The check-ins as the mailbox shows them."""

    asked: bool  # a question waits for an answer
    stopped: bool  # the complainant switched them off
    retaliation: Retaliation  # what reporting retaliation does on this route


@dataclass(frozen=True)
class CheckinAnswered:
    """What became of an answer: reopened, a linked case (with its code, shown once), or
    neither (an answer without retaliation)."""

    reopened: bool = False
    linked: LinkedCase | None = None


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _actor(case: Case) -> Actor:
    return Actor(ActorKind.COMPLAINANT, case.reference)


def open_mailbox(
    session: Session,
    keys: KeyStore,
    blind: BlindIndexer,
    policy: MailboxPolicy,
    *,
    code: str,
    now: datetime,
) -> OpenedMailbox | None:
    """A new mailbox session for a valid receipt code, or None (audited without the code)."""
    index = receipt_index(blind, code)
    case = session.scalar(sa.select(Case).where(Case.receipt_index == index)) if index else None
    if case is None:
        record_event(
            session,
            keys,
            actor=ANONYMOUS,
            action="followup.code_rejected",
            now=now,
            outcome=AuditOutcome.FAILURE,
        )
        return None
    return start_mailbox_session(session, keys, policy, case, now=now, via="receipt")


def start_mailbox_session(
    session: Session, keys: KeyStore, policy: MailboxPolicy, case: Case, *, now: datetime, via: str
) -> OpenedMailbox:
    """A new mailbox session for ``case``; the token goes to the browser, only its hash is kept."""
    token = secrets.token_urlsafe(32)
    record = ComplainantSession(
        token_hash=_token_hash(token),
        case_id=case.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.absolute_timeout,
    )
    session.add(record)
    record_event(
        session,
        keys,
        actor=_actor(case),
        action="followup.opened",
        now=now,
        object_type="case",
        object_id=str(case.id),
        details={"via": via},
    )
    session.flush()
    return OpenedMailbox(token, record)


def resolve_mailbox(
    session: Session, token: str, policy: MailboxPolicy, now: datetime
) -> ComplainantSession | None:
    """The live mailbox session for a token; an idle or expired one is ended and refused."""
    record = session.scalar(
        sa.select(ComplainantSession).where(ComplainantSession.token_hash == _token_hash(token))
    )
    if record is None or record.revoked_at is not None:
        return None
    if now >= record.expires_at or now - record.last_seen_at > policy.idle_timeout:
        record.revoked_at = now
        return None
    record.last_seen_at = now
    return record


def mailbox_case(session: Session, record: ComplainantSession) -> Case:
    """The report a live mailbox session was opened for."""
    case = session.get(Case, record.case_id)
    if case is None:  # the foreign key cascades, so a session never outlives its case
        raise LookupError(str(record.case_id))
    return case


def close_mailbox(
    session: Session, keys: KeyStore, record: ComplainantSession, *, now: datetime
) -> None:
    """End a mailbox session on the server (the complainant closed it); audited."""
    if record.revoked_at is not None:
        return
    record.revoked_at = now
    record_event(
        session,
        keys,
        actor=_actor(mailbox_case(session, record)),
        action="followup.closed",
        now=now,
        object_type="case",
        object_id=str(record.case_id),
    )
    session.flush()


def open_own_report(
    session: Session,
    keys: KeyStore,
    policy: MailboxPolicy,
    *,
    case_id: uuid.UUID,
    blind_index: bytes,
    actor: Actor,
    now: datetime,
) -> OpenedMailbox | None:
    """A mailbox session for a report the logged-in employee filed under their own name.

    The case must carry the employee's own complainant index; anything else (another person's
    report, an anonymous one, a made-up id) is refused and audited as a failure. The success is
    audited with the case as the actor only, so the audit log does not tie the account to it.
    """
    case = session.get(Case, case_id)
    if case is None or case.complainant_index is None or case.complainant_index != blind_index:
        record_event(
            session,
            keys,
            actor=actor,
            action="followup.account_refused",
            now=now,
            outcome=AuditOutcome.FAILURE,
        )
        return None
    return start_mailbox_session(session, keys, policy, case, now=now, via="account")


def read_mailbox(
    session: Session,
    keys: KeyStore,
    workflow: Workflow,
    case: Case,
    *,
    now: datetime,
    closed_reply_days: int = 0,
) -> Mailbox:
    """Everything the complainant may see of their report, decrypted; audited as an opening
    (CaseUnreadable when the case's key is gone)."""
    cipher = open_as_complainant(session, keys, case, actor=_actor(case), now=now)
    messages = session.scalars(
        sa.select(Message)
        .where(Message.case_id == case.id)
        .order_by(Message.created_at, Message.id)
    ).all()
    for message in messages:
        if message.author_kind is not AuthorKind.COMPLAINANT and message.read_at is None:
            message.read_at = now
    route = workflow[case.route]
    questions = checkin_message_ids(session, case.id)
    steps = {
        e.id: e
        for e in session.scalars(
            sa.select(CaseEvent).where(
                CaseEvent.id.in_({m.event_id for m in messages if m.event_id is not None})
            )
        )
    }
    return Mailbox(
        case=case,
        is_open=route.is_open(case.state),
        deadlines=deadline_views(session, workflow, case, now),
        messages=[
            _message_view(
                cipher, route, m, steps.get(m.event_id) if m.event_id else None, m.id in questions
            )
            for m in messages
        ],
        attachments=_attachment_views(session, cipher, case),
        consents=consent_states(session, case),
        letters=_letter_views(session, cipher, case),
        can_write=may_write(session, workflow, case, closed_reply_days, now),
        writing_until=writing_closes_at(session, case, closed_reply_days),
        checkin=_checkin_state(session, workflow, case),
    )


def _checkin_state(session: Session, workflow: Workflow, case: Case) -> CheckinState | None:
    route = workflow[case.route]
    if route.is_open(case.state) or case.state == WITHDRAWN or not route.checkin_months:
        return None
    return CheckinState(
        asked=open_checkin(session, workflow, case) is not None,
        stopped=case.checkins_stopped_at is not None,
        retaliation=route.retaliation,
    )


def answer_checkin(
    session: Session,
    keys: KeyStore,
    blind: BlindIndexer,
    workflow: Workflow,
    case: Case,
    *,
    body: str,
    retaliation: bool,
    now: datetime,
) -> CheckinAnswered:
    """The complainant's answer to the check-in the mailbox asks, as a message to the
    handlers; with ``retaliation`` the report opens again or a linked case is filed (the
    route's ``retaliation``). Taken whether or not the mailbox still takes other messages.

    CheckinClosed when no check-in waits; CheckinRefused("no_handler") when a linked case
    would reach nobody (nothing is stored then); CaseUnreadable when the case's key is gone.
    """
    checkin = open_checkin(session, workflow, case)
    if checkin is None:
        raise CheckinClosed(case.reference)
    text = body.strip()
    if not text or len(text) > MAX_MESSAGE:
        raise ValueError("message length")
    actor = _actor(case)
    cipher = open_as_complainant(session, keys, case, actor=actor, now=now)
    try:
        with session.begin_nested():
            message_id = uuid.uuid4()
            session.add(
                Message(
                    id=message_id,
                    case_id=case.id,
                    author_kind=AuthorKind.COMPLAINANT,
                    body=cipher.seal_text("messages", "body", message_id, text),
                    created_at=now,
                )
            )
            # Not _touch: an answer must not move the day retention counts from.
            record_answer(
                session, keys, case, checkin, retaliation=retaliation, actor=actor, now=now
            )
            if not retaliation:
                _notify_handlers(session, case, "case_message", now)
                return CheckinAnswered()
            if workflow[case.route].retaliation is Retaliation.REOPEN:
                reopen_case(session, keys, workflow, case, actor=actor, now=now)
                return CheckinAnswered(reopened=True)
            linked = file_linked_case(
                session,
                keys,
                blind,
                workflow,
                content_for_complainant(session, cipher, case),
                description=text,
                checkin=checkin,
                actor=actor,
                now=now,
            )
            return CheckinAnswered(linked=linked)
    except NoHandlerLeft as exc:
        raise CheckinRefused("no_handler") from exc


def set_checkins(
    session: Session, keys: KeyStore, workflow: Workflow, case: Case, *, on: bool, now: datetime
) -> bool:
    """The complainant switches check-ins off (or on again); returns whether it changed."""
    if _checkin_state(session, workflow, case) is None:
        raise MailboxClosed(case.reference)
    return switch_checkins(session, keys, case, on=on, actor=_actor(case), now=now)


def post_message(
    session: Session,
    keys: KeyStore,
    workflow: Workflow,
    case: Case,
    *,
    body: str,
    now: datetime,
    closed_reply_days: int = 0,
) -> Message:
    """A message (or added information) from the complainant to the handlers; after closing
    only for ``closed_reply_days`` (MailboxClosed afterwards)."""
    if not may_write(session, workflow, case, closed_reply_days, now):
        raise MailboxClosed(case.reference)
    text = body.strip()
    if not text or len(text) > MAX_MESSAGE:
        raise ValueError("message length")
    cipher = case_cipher(session, keys, case.id)
    message_id = uuid.uuid4()
    message = Message(
        id=message_id,
        case_id=case.id,
        author_kind=AuthorKind.COMPLAINANT,
        body=cipher.seal_text("messages", "body", message_id, text),
        created_at=now,
    )
    session.add(message)
    _touch(case, now)
    record_event(
        session,
        keys,
        actor=_actor(case),
        action="case.message_added",
        now=now,
        object_type="case",
        object_id=str(case.id),
    )
    _notify_handlers(session, case, "case_message", now)
    session.flush()
    return message


def add_files(
    session: Session,
    keys: KeyStore,
    workflow: Workflow,
    case: Case,
    *,
    files: Sequence[NewAttachment],
    now: datetime,
) -> list[Attachment]:
    """Files from the complainant, already checked (``check_upload``), stored encrypted."""
    _require_open(workflow, case)
    cipher = case_cipher(session, keys, case.id)
    rows = [add_attachment(session, cipher, case.id, f, AuthorKind.COMPLAINANT, now) for f in files]
    _touch(case, now)
    record_event(
        session,
        keys,
        actor=_actor(case),
        action="case.attachments_added",
        now=now,
        object_type="case",
        object_id=str(case.id),
        details={"count": len(rows)},
    )
    _notify_handlers(session, case, "case_message", now)
    session.flush()
    return rows


def consents_for(case: Case) -> tuple[ConsentKind, ...]:
    """The consents the complainant is asked for on this case."""
    return consents_offered(case.route, case.disclosure)


def consents_offered(route: Route, disclosure: Disclosure) -> tuple[ConsentKind, ...]:
    """The consents asked for on a report of this route and disclosure level.

    Sharing who filed only means something for a confidential report: nobody knows who filed
    an anonymous one, and a named report already allows the name to be used.
    """
    return tuple(
        kind
        for kind in CONSENTS_BY_ROUTE[route]
        if kind is not ConsentKind.SHARE_IDENTITY or disclosure is Disclosure.CONFIDENTIAL
    )


def consent_states(session: Session, case: Case) -> list[ConsentView]:
    """For each consent asked on this case: given or not, and since when."""
    current = {
        c.kind: c
        for c in session.scalars(
            sa.select(Consent).where(Consent.case_id == case.id, Consent.withdrawn_at.is_(None))
        )
    }
    return [
        ConsentView(kind, kind in current, current[kind].given_at if kind in current else None)
        for kind in consents_for(case)
    ]


def set_consent(
    session: Session,
    keys: KeyStore,
    workflow: Workflow,
    case: Case,
    *,
    kind: ConsentKind,
    given: bool,
    now: datetime,
) -> bool:
    """Give or withdraw a consent; returns whether anything changed. History is kept."""
    _require_open(workflow, case)
    if kind not in consents_for(case):
        raise ValueError("consent not asked on this case")
    active = session.scalar(
        sa.select(Consent).where(
            Consent.case_id == case.id, Consent.kind == kind, Consent.withdrawn_at.is_(None)
        )
    )
    if given == (active is not None):
        return False
    if given:
        session.add(Consent(case_id=case.id, kind=kind, given_at=now))
    else:
        assert active is not None  # noqa: S101 - given is False and the states differ
        active.withdrawn_at = now
    _touch(case, now)
    record_event(
        session,
        keys,
        actor=_actor(case),
        action="consent.given" if given else "consent.withdrawn",
        now=now,
        object_type="case",
        object_id=str(case.id),
        details={"kind": kind.value},
    )
    _notify_handlers(session, case, "case_message", now)
    session.flush()
    return True


def withdraw_case(
    session: Session, keys: KeyStore, workflow: Workflow, case: Case, *, now: datetime
) -> None:
    """The complainant withdraws: the case ends, its clocks stop, the handlers are told."""
    _require_open(workflow, case)
    previous = case.state
    case.state = "withdrawn"
    case.closed_at = now
    _touch(case, now)
    session.add(
        CaseEvent(
            case_id=case.id,
            occurred_at=now,
            kind="withdrawn",
            from_state=previous,
            to_state="withdrawn",
        )
    )
    enter_state(session, workflow, case, "withdrawn", now)
    record_event(
        session,
        keys,
        actor=_actor(case),
        action="case.withdrawn",
        now=now,
        object_type="case",
        object_id=str(case.id),
        details={"from_state": previous},
    )
    days = max(0, (now - case.submitted_at).days)
    record_stat(session, case, "withdrawn", now=now, days_taken=days)
    _notify_handlers(session, case, "case_withdrawn", now)
    session.flush()


def _require_open(workflow: Workflow, case: Case) -> None:
    if not workflow[case.route].is_open(case.state):
        raise MailboxClosed(case.reference)


def _touch(case: Case, now: datetime) -> None:
    case.updated_at = now


def _notify_handlers(session: Session, case: Case, kind: str, now: datetime) -> None:
    handlers = session.scalars(
        sa.select(CaseAccessGrant.person_id).where(
            CaseAccessGrant.case_id == case.id, CaseAccessGrant.revoked_at.is_(None)
        )
    ).all()
    for person_id in sorted(set(handlers)):
        queue_notification(
            session,
            recipient_person_id=person_id,
            kind=kind,
            params={"reference": case.reference},
            now=now,
            case_id=case.id,
        )


def _message_view(
    cipher: FieldCipher,
    route: RouteWorkflow,
    message: Message,
    step: CaseEvent | None,
    checkin: bool = False,
) -> MessageView:
    about = outcome = None
    spec = route.transition(step.kind) if step is not None else None
    if step is not None and spec is not None:
        if step.to_state in route.states:
            about = route.state(step.to_state).public
        chosen = spec.outcome or next(
            (
                str(value)
                for name, value in event_values(cipher, step).items()
                if (field := spec.field_spec(name)) is not None and field.kind == "outcome"
            ),
            None,
        )
        outcome = route.outcomes.get(chosen) if chosen else None
    return MessageView(
        id=message.id,
        from_complainant=message.author_kind is AuthorKind.COMPLAINANT,
        body=cipher.open_text("messages", "body", message.id, message.body),
        created_at=message.created_at,
        about=about,
        outcome=outcome,
        checkin=checkin,
    )


def _letter_views(session: Session, cipher: FieldCipher, case: Case) -> list[LetterView]:
    rows = complainant_letters(session, case.id)
    names = letter_file_names(case.reference, [r.template for r in rows])
    return [
        LetterView(
            ordinal=number,
            title=(
                cipher.open_text("case_documents", "title", row.id, row.title)
                if row.title is not None
                else name
            ),
            filename=name,
            created_at=row.created_at,
        )
        for number, (row, name) in enumerate(zip(rows, names, strict=True), start=1)
    ]


def _attachment_views(session: Session, cipher: FieldCipher, case: Case) -> list[AttachmentView]:
    rows = session.scalars(
        sa.select(Attachment)
        .where(Attachment.case_id == case.id)
        .order_by(Attachment.created_at, Attachment.id)
    ).all()
    return [
        AttachmentView(
            id=a.id,
            ordinal=number,
            filename=attachment_file_name(case.reference, number, a.content_type),
            name=cipher.open_text("attachments", "name", a.id, a.name),
            content_type=a.content_type,
            size=a.size,
            created_at=a.created_at,
            from_complainant=a.added_by is AuthorKind.COMPLAINANT,
        )
        for number, a in enumerate(rows, start=1)
    ]


def my_reports(session: Session, blind_index: bytes) -> list[Case]:
    """Reports a logged-in employee filed under their own name, newest first."""
    return list(
        session.scalars(
            sa.select(Case)
            .where(Case.complainant_index == blind_index)
            .order_by(Case.submitted_at.desc())
        )
    )
