"""The committee procedure (Awb chapter 9): members, exclusion, hearings, advice, decision, letters.

Only those holding a committee grant on a committee-route case take part: the secretary
assigns members (never anyone named as accused, never the complainant) and records what the
committee does; a member may hear parties, write reports and step aside. Everything that tells
the story is sealed under the case key; an anonymous witness's identity is sealed apart, in
``restricted_identity``, and opened for committee grants only. Every step is audited.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from flask import render_template
from flask_babel import force_locale
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from complaints.accounts.models import Role, RoleAssignment
from complaints.audit.models import AuditOutcome
from complaints.audit.services import Actor, record_event
from complaints.cases.models import (
    Attachment,
    AuthorKind,
    Case,
    CaseAccessGrant,
    CaseDocument,
    CaseEvent,
    DocumentKind,
    GrantRole,
    PartyKind,
    Route,
)
from complaints.cases.services import COPY_FOR_ACCUSED, CaseContent, CaseNotFound, open_case
from complaints.crypto.blind_index import BlindIndexer, normalise_name
from complaints.crypto.envelope import FieldCipher
from complaints.crypto.keystore import KeyStore
from complaints.crypto.services import case_cipher
from complaints.directory.models import Person
from complaints.intake.services import complainant_index
from complaints.notify.services import queue_notification
from complaints.routing.services import is_excluded
from complaints.web.i18n import LANGUAGES, Localized, _
from complaints.workflow.config import Workflow
from complaints.workflow.services import DeadlineStatus, deadline_views
from complaints.workflow.transitions import (
    ChangedMeanwhile,
    TransitionRefused,
    apply_transition,
    event_values,
)

COMMITTEE_ROLES = frozenset({GrantRole.COMMITTEE_SECRETARY, GrantRole.COMMITTEE_MEMBER})
MAX_TEXT = 20_000
MAX_REASON = 5_000
MAX_SHORT = 200
# Fixed names of this route's workflow transitions (config/workflow.toml) that documents drive.
SEND_ADVICE = "send_advice"
DECIDE = "decide"
# Steps taken on the committee page only, because they come with their documents.
WITH_DOCUMENTS = frozenset({SEND_ADVICE, DECIDE})
RUNNING = frozenset({DeadlineStatus.OPEN, DeadlineStatus.OVERDUE, DeadlineStatus.PAUSED})
# An exclusion event's id is derived from the grant it ends, so the page can show each
# excluded member with the reason recorded for them without another column.
_EXCLUSION_EVENTS = uuid.UUID("9b1f3c52-6a0e-4f57-9d43-3b8f6f0c2e71")


class Exclusion(StrEnum):
    """Why a member no longer takes part; stored as the grant's ``revoke_reason``."""

    CHALLENGE = "wraking"  # a party challenged the member
    RECUSAL = "verschoning"  # the member stepped aside


class HeardParty(StrEnum):
    COMPLAINANT = "complainant"
    ACCUSED = "accused"
    WITNESS = "witness"


class LetterKind(StrEnum):
    ACKNOWLEDGEMENT = "acknowledgement"
    NOT_ADMISSIBLE = "not_admissible"
    EXTENSION = "extension"
    DECISION = "decision"
    COPY_FOR_ACCUSED = COPY_FOR_ACCUSED  # to the person complained about (Awb 9:9)


def decision_outcomes(workflow: Workflow) -> tuple[str, ...]:
    """What the committee can advise and the competent authority decide after the hearings:
    the choices of the "decide" step in workflow.toml ("not admissible" comes earlier)."""
    spec = workflow[Route.COMMITTEE].transition(DECIDE)
    outcome = spec.field_spec("outcome") if spec is not None else None
    return outcome.choices if outcome is not None else ()


class CommitteeRefused(Exception):
    """The step is not allowed like this; ``reason`` is a message key for the page, or
    ``message`` the workflow engine's own explanation (already translated)."""

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class CommitteeCase:
    """A committee case opened by someone with a committee grant, decrypted for this request."""

    content: CaseContent
    person_id: int
    roles: frozenset[GrantRole]
    actor: Actor

    @property
    def case(self) -> Case:
        return self.content.case

    @property
    def is_secretary(self) -> bool:
        return GrantRole.COMMITTEE_SECRETARY in self.roles


@dataclass(frozen=True)
class MemberView:
    grant_id: int
    person_id: int
    name: str
    role: GrantRole
    granted_at: datetime
    excluded: Exclusion | None = None
    excluded_at: datetime | None = None
    reason: str | None = None

    @property
    def active(self) -> bool:
        return self.excluded_at is None


@dataclass(frozen=True)
class DocumentView:
    """A procedure document, opened. ``identity`` is only ever filled for committee readers."""

    id: uuid.UUID
    kind: DocumentKind
    template: str | None
    author_name: str | None
    created_at: datetime
    title: str | None
    fields: dict[str, str] = field(default_factory=dict)
    identity: str | None = None


# Opening ---------------------------------------------------------------------------------------


def committee_roles(session: Session, case_id: uuid.UUID, person_id: int) -> frozenset[GrantRole]:
    """The committee roles a person holds on a case through active grants."""
    roles = session.scalars(
        sa.select(CaseAccessGrant.role).where(
            CaseAccessGrant.case_id == case_id,
            CaseAccessGrant.person_id == person_id,
            CaseAccessGrant.revoked_at.is_(None),
        )
    )
    return frozenset(roles) & COMMITTEE_ROLES


def open_committee_case(
    session: Session,
    keys: KeyStore,
    blind: BlindIndexer,
    *,
    case_id: uuid.UUID,
    person_id: int,
    actor: Actor,
    now: datetime,
) -> CommitteeCase:
    """Decrypt a committee-route case for a committee grant holder; anyone else: CaseNotFound.

    A manager or confidant who holds a grant on the same case is refused here as well: the
    committee's pages show what only the committee may see. Both outcomes are audited.
    """
    case = session.get(Case, case_id)
    roles = committee_roles(session, case_id, person_id) if case is not None else frozenset()
    if case is None or case.route is not Route.COMMITTEE or not roles:
        record_event(
            session,
            keys,
            actor=actor,
            action="case.open",
            now=now,
            outcome=AuditOutcome.DENIED,
            object_type="case",
            object_id=str(case_id),
            details={"reason": "no_committee_grant", "purpose": "committee"},
        )
        raise CaseNotFound(str(case_id))
    content = open_case(
        session, keys, blind, case_id=case_id, reader_person_id=person_id, actor=actor, now=now
    )
    return CommitteeCase(content, person_id, roles, actor)


# Members ---------------------------------------------------------------------------------------


def exclusion_event_id(grant_id: int) -> uuid.UUID:
    return uuid.uuid5(_EXCLUSION_EVENTS, str(grant_id))


def members(session: Session, keys: KeyStore, case: Case) -> list[MemberView]:
    """The secretariat and the members, current and excluded (with the reason, decrypted)."""
    rows = session.execute(
        sa.select(CaseAccessGrant, Person.name)
        .join(Person, Person.id == CaseAccessGrant.person_id)
        .where(CaseAccessGrant.case_id == case.id, CaseAccessGrant.role.in_(COMMITTEE_ROLES))
        .order_by(CaseAccessGrant.granted_at, CaseAccessGrant.id)
    ).all()
    # The secretariat first, then the members in the order they were assigned.
    rows = sorted(rows, key=lambda row: row[0].role is not GrantRole.COMMITTEE_SECRETARY)
    cipher: FieldCipher | None = None
    views = []
    for grant, name in rows:
        excluded = _exclusion_of(grant)
        if grant.revoked_at is not None and excluded is None:
            continue  # handed over or otherwise ended: not part of the committee's record
        reason = None
        if excluded is not None:
            event = session.get(CaseEvent, exclusion_event_id(grant.id))
            if event is not None:
                cipher = cipher or case_cipher(session, keys, case.id)
                value = event_values(cipher, event).get("reason")
                reason = value if isinstance(value, str) else None
        views.append(
            MemberView(
                grant_id=grant.id,
                person_id=grant.person_id,
                name=name,
                role=grant.role,
                granted_at=grant.granted_at,
                excluded=excluded,
                excluded_at=grant.revoked_at if excluded is not None else None,
                reason=reason,
            )
        )
    return views


def _exclusion_of(grant: CaseAccessGrant) -> Exclusion | None:
    if grant.revoked_at is None or grant.revoke_reason is None:
        return None
    try:
        return Exclusion(grant.revoke_reason)
    except ValueError:
        return None


def eligible_members(
    session: Session, blind: BlindIndexer, committee: CommitteeCase
) -> list[Person]:
    """Committee members the secretary may still assign to this case, by name."""
    people = session.scalars(
        sa.select(Person)
        .join(RoleAssignment, RoleAssignment.person_id == Person.id)
        .where(RoleAssignment.role == Role.COMMITTEE_MEMBER, Person.active.is_(True))
        .distinct()
        .order_by(Person.name, Person.id)
    ).all()
    taken = _taken_people(session, committee.case)
    return [
        p for p in people if p.id not in taken and _conflict(blind, committee.content, p) is None
    ]


def _taken_people(session: Session, case: Case) -> set[int]:
    """Members already on the case, and those excluded from it (they do not come back)."""
    rows = session.execute(
        sa.select(
            CaseAccessGrant.person_id, CaseAccessGrant.revoked_at, CaseAccessGrant.revoke_reason
        ).where(
            CaseAccessGrant.case_id == case.id, CaseAccessGrant.role == GrantRole.COMMITTEE_MEMBER
        )
    ).all()
    excluded = {e.value for e in Exclusion}
    return {
        person_id
        for person_id, revoked_at, reason in rows
        if revoked_at is None or reason in excluded
    }


def _conflict(blind: BlindIndexer, content: CaseContent, person: Person) -> str | None:
    """Why this person may never sit on this case, or None: named as accused (by directory id
    or by name), or the complainant (by directory id, by name, or as the logged-in filer)."""
    accused = [p for p in content.parties if p.kind is PartyKind.ACCUSED]
    if is_excluded(
        person,
        [p.person_id for p in accused if p.person_id is not None],
        [p.name for p in accused if p.name],
    ):
        return "accused" if person.active else "inactive"
    complainant = content.complainant or {}
    if complainant.get("person_id") == str(person.id):
        return "complainant"
    name = normalise_name(complainant.get("name", ""))
    if name and normalise_name(person.name) == name:
        return "complainant"
    filer = content.case.complainant_index
    if filer is not None and filer == complainant_index(blind, person.id):
        return "complainant"
    return None


def assign_member(
    session: Session,
    keys: KeyStore,
    blind: BlindIndexer,
    workflow: Workflow,
    committee: CommitteeCase,
    *,
    person_id: int,
    now: datetime,
) -> CaseAccessGrant:
    """The secretary gives a committee member access to the case; audited and e-mailed."""
    _require_secretary(committee)
    _require_open(workflow, committee.case)
    case = committee.case
    person = session.get(Person, person_id)
    if person is None or not _holds_member_role(session, person_id) or not person.active:
        raise CommitteeRefused("not_a_member")
    conflict = _conflict(blind, committee.content, person)
    if conflict is not None:
        _audit(
            session,
            keys,
            committee,
            "committee.member_refused",
            now,
            AuditOutcome.DENIED,
            person_id=person_id,
            reason=conflict,
        )
        raise CommitteeRefused(conflict)
    if person_id in _taken_people(session, case):
        raise CommitteeRefused("already_assigned")
    grant = CaseAccessGrant(
        case_id=case.id,
        person_id=person_id,
        role=GrantRole.COMMITTEE_MEMBER,
        granted_at=now,
        granted_by_person_id=committee.person_id,
    )
    session.add(grant)
    _add_event(session, keys, committee, "member_assigned", now, values={"member": person.name})
    _audit(
        session,
        keys,
        committee,
        "case.access_granted",
        now,
        person_id=person_id,
        role=GrantRole.COMMITTEE_MEMBER.value,
        basis="committee_assignment",
    )
    queue_notification(
        session,
        recipient_person_id=person_id,
        kind="case_assigned",
        params={"reference": case.reference},
        now=now,
        case_id=case.id,
    )
    _touch(case, now)
    _flush(session)
    return grant


def exclude_member(
    session: Session,
    keys: KeyStore,
    workflow: Workflow,
    committee: CommitteeCase,
    *,
    grant_id: int,
    exclusion: Exclusion,
    reason: str,
    now: datetime,
) -> CaseAccessGrant:
    """End a member's part in the case: challenged by a party (wraking) or stepping aside
    (verschoning), with the reason sealed in the case history. The secretary records either;
    a member may record their own recusal."""
    grant = session.get(CaseAccessGrant, grant_id)
    if (
        grant is None
        or grant.case_id != committee.case.id
        or grant.role is not GrantRole.COMMITTEE_MEMBER
        or grant.revoked_at is not None
    ):
        raise CommitteeRefused("no_such_member")
    _require_open(workflow, committee.case)
    own_recusal = exclusion is Exclusion.RECUSAL and grant.person_id == committee.person_id
    if not committee.is_secretary and not own_recusal:
        raise CommitteeRefused("secretary_only")
    text = reason.strip()
    if not text:
        raise CommitteeRefused("reason_required")
    if len(text) > MAX_REASON:
        raise CommitteeRefused("too_long")
    grant.revoked_at = now
    grant.revoke_reason = exclusion.value
    _add_event(
        session,
        keys,
        committee,
        "member_excluded",
        now,
        values={
            "member": _name(session, grant.person_id),
            "exclusion": exclusion.value,
            "reason": text,
        },
        event_id=exclusion_event_id(grant.id),
    )
    _audit(
        session,
        keys,
        committee,
        "case.access_revoked",
        now,
        person_id=grant.person_id,
        role=grant.role.value,
        reason=exclusion.value,
    )
    _touch(committee.case, now)
    _flush(session)
    return grant


def step_aside(
    session: Session,
    keys: KeyStore,
    workflow: Workflow,
    committee: CommitteeCase,
    *,
    reason: str,
    now: datetime,
) -> CaseAccessGrant:
    """A member recuses themselves (verschoning): their own member grant ends, with the reason."""
    grant = session.scalar(
        sa.select(CaseAccessGrant).where(
            CaseAccessGrant.case_id == committee.case.id,
            CaseAccessGrant.person_id == committee.person_id,
            CaseAccessGrant.role == GrantRole.COMMITTEE_MEMBER,
            CaseAccessGrant.revoked_at.is_(None),
        )
    )
    if grant is None:
        raise CommitteeRefused("no_such_member")
    return exclude_member(
        session,
        keys,
        workflow,
        committee,
        grant_id=grant.id,
        exclusion=Exclusion.RECUSAL,
        reason=reason,
        now=now,
    )


def _name(session: Session, person_id: int) -> str:
    person = session.get(Person, person_id)
    return person.name if person is not None else ""


def _holds_member_role(session: Session, person_id: int) -> bool:
    return (
        session.scalar(
            sa.select(RoleAssignment.id)
            .where(
                RoleAssignment.person_id == person_id, RoleAssignment.role == Role.COMMITTEE_MEMBER
            )
            .limit(1)
        )
        is not None
    )


# Documents -------------------------------------------------------------------------------------


def add_hearing_report(
    session: Session,
    keys: KeyStore,
    workflow: Workflow,
    committee: CommitteeCase,
    *,
    heard: HeardParty,
    heard_on: date,
    report: str,
    now: datetime,
) -> CaseDocument:
    """The report of hearing one party or witness (Awb 9:10); who, when and what are sealed."""
    _require_open(workflow, committee.case)
    text = _checked_text(report, MAX_TEXT)
    return _add_document(
        session,
        keys,
        committee,
        DocumentKind.HEARING_REPORT,
        now,
        body={"heard": heard.value, "heard_on": heard_on.isoformat(), "report": text},
    )


def add_witness_statement(
    session: Session,
    keys: KeyStore,
    workflow: Workflow,
    committee: CommitteeCase,
    *,
    identity: str,
    pseudonym: str,
    heard_on: date,
    statement: str,
    now: datetime,
) -> CaseDocument:
    """A witness statement; who the witness is stays with the committee (restricted identity)."""
    _require_open(workflow, committee.case)
    who = _checked_text(identity, MAX_SHORT)
    text = _checked_text(statement, MAX_TEXT)
    alias = pseudonym.strip()
    if len(alias) > MAX_SHORT:
        raise CommitteeRefused("too_long")
    return _add_document(
        session,
        keys,
        committee,
        DocumentKind.WITNESS_STATEMENT,
        now,
        title=alias or None,
        body={"heard_on": heard_on.isoformat(), "statement": text},
        restricted_identity=who,
    )


def record_advice(
    session: Session,
    keys: KeyStore,
    workflow: Workflow,
    committee: CommitteeCase,
    *,
    summary: str,
    recommended: str,
    expected_version: int,
    now: datetime,
) -> CaseDocument:
    """The committee's advice to the competent authority; the case moves to "advice sent"."""
    text = _checked_text(summary, MAX_TEXT)
    if recommended not in decision_outcomes(workflow):
        raise CommitteeRefused("unknown_outcome")
    _transition(
        session,
        keys,
        workflow,
        committee,
        SEND_ADVICE,
        now=now,
        expected_version=expected_version,
        values={"advice_summary": text},
    )
    return _add_document(
        session,
        keys,
        committee,
        DocumentKind.ADVICE,
        now,
        body={"summary": text, "recommended_outcome": recommended},
    )


def latest_advice(session: Session, keys: KeyStore, case: Case) -> DocumentView | None:
    row = session.scalars(
        sa.select(CaseDocument)
        .where(CaseDocument.case_id == case.id, CaseDocument.kind == DocumentKind.ADVICE)
        .order_by(CaseDocument.created_at.desc(), CaseDocument.id)
        .limit(1)
    ).first()
    return _open_documents(session, keys, case, [row], committee=True)[0] if row else None


def record_decision(
    session: Session,
    keys: KeyStore,
    workflow: Workflow,
    committee: CommitteeCase,
    *,
    outcome: str,
    reasons: str,
    departure_reason: str = "",
    expected_version: int,
    now: datetime,
) -> CaseDocument:
    """The competent authority's decision (Awb 9:12), recorded by the secretariat.

    A decision that departs from the committee's advice must say why (Awb 9:15(3)).
    """
    text = _checked_text(reasons, MAX_TEXT)
    if outcome not in decision_outcomes(workflow):
        raise CommitteeRefused("unknown_outcome")
    advice = latest_advice(session, keys, committee.case)
    if advice is None:
        raise CommitteeRefused("no_advice")
    departs = advice.fields.get("recommended_outcome") != outcome
    departure = departure_reason.strip()
    if departs and not departure:
        raise CommitteeRefused("departure_reason_required")
    if len(departure) > MAX_TEXT:
        raise CommitteeRefused("too_long")
    values = {"outcome": outcome, "reasons": text}
    if departs:
        values["departs_from_advice"] = "true"
        values["departure_reason"] = departure
    _transition(
        session,
        keys,
        workflow,
        committee,
        DECIDE,
        now=now,
        expected_version=expected_version,
        values=values,
    )
    body = {"outcome": outcome, "reasons": text}
    if departs:
        body["departure_reason"] = departure
        body["advised_outcome"] = advice.fields.get("recommended_outcome", "")
    return _add_document(session, keys, committee, DocumentKind.DECISION, now, body=body)


def documents(
    session: Session,
    keys: KeyStore,
    case: Case,
    roles: Collection[GrantRole],
    kinds: Collection[DocumentKind] | None = None,
) -> list[DocumentView]:
    """The case's procedure documents, opened for a reader with ``roles`` on the case.

    The documents themselves may be shown to anyone with a grant on the case, but an
    anonymous witness's identity is opened only for committee grants: everyone else gets None.
    """
    query = sa.select(CaseDocument).where(CaseDocument.case_id == case.id)
    if kinds is not None:
        query = query.where(CaseDocument.kind.in_(list(kinds)))
    rows = session.scalars(query.order_by(CaseDocument.created_at, CaseDocument.id)).all()
    return _open_documents(session, keys, case, rows, committee=bool(set(roles) & COMMITTEE_ROLES))


def _open_documents(
    session: Session,
    keys: KeyStore,
    case: Case,
    rows: Collection[CaseDocument],
    *,
    committee: bool,
) -> list[DocumentView]:
    if not rows:
        return []
    cipher = case_cipher(session, keys, case.id)
    authors = dict(
        session.execute(
            sa.select(Person.id, Person.name).where(
                Person.id.in_({r.author_person_id for r in rows if r.author_person_id})
            )
        ).all()
    )
    views = []
    for row in rows:
        fields: dict[str, str] = {}
        if row.kind is not DocumentKind.LETTER:  # a letter's body is its HTML, opened on download
            fields = json.loads(cipher.open_text("case_documents", "body", row.id, row.body))
        identity = None
        if committee and row.restricted_identity is not None:
            identity = cipher.open_text(
                "case_documents", "restricted_identity", row.id, row.restricted_identity
            )
        views.append(
            DocumentView(
                id=row.id,
                kind=row.kind,
                template=row.template,
                author_name=authors.get(row.author_person_id) if row.author_person_id else None,
                created_at=row.created_at,
                title=(
                    cipher.open_text("case_documents", "title", row.id, row.title)
                    if row.title is not None
                    else None
                ),
                fields=fields,
                identity=identity,
            )
        )
    return views


# Letters ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Letter:
    """A generated letter, opened for download."""

    id: uuid.UUID
    template: str
    title: str
    html: str
    created_at: datetime


def generate_letter(
    session: Session,
    keys: KeyStore,
    workflow: Workflow,
    committee: CommitteeCase,
    *,
    kind: LetterKind,
    language: str,
    reasons: str = "",
    new_date: date | None = None,
    now: datetime,
) -> CaseDocument:
    """Write a letter from its template, in Dutch or English, and keep it with the case.

    Acknowledgement (a committee will advise, and the time limits), not-admissible notice
    (with reasons, Awb 9:8), extension notice (the new date, Awb 9:11(2)), the decision
    letter (outcome, reasons, the Nationale ombudsman within a year) and the copy of the
    complaint for the person complained about (Awb 9:9, as ``copy_to_accused`` says).
    """
    _require_secretary(committee)
    if language not in LANGUAGES:
        raise CommitteeRefused("unknown_language")
    case = committee.case
    route = workflow[case.route]
    complainant = (committee.content.complainant or {}).get("name", "")
    values: dict[str, Any] = {
        "case": case,
        "addressee": complainant,
        "today": now,
        "language": language,
    }
    if kind is LetterKind.COPY_FOR_ACCUSED:
        values |= _copy_for_accused(session, workflow, committee, complainant)
    elif kind is LetterKind.ACKNOWLEDGEMENT:
        # The clocks still running; the acknowledgement's own is met by this very letter.
        values["deadlines"] = [
            d
            for d in deadline_views(session, workflow, case, now)
            if d.status in RUNNING and d.name != "acknowledge"
        ]
    elif kind is LetterKind.NOT_ADMISSIBLE:
        values["reasons"] = _checked_text(reasons, MAX_TEXT)
    elif kind is LetterKind.EXTENSION:
        if new_date is None:
            raise CommitteeRefused("date_required")
        values["new_date"] = new_date
    else:
        decision = latest_document(session, keys, committee, DocumentKind.DECISION)
        if decision is None:
            raise CommitteeRefused("no_decision")
        outcome = decision.fields["outcome"]
        values["outcome_label"] = route.outcomes.get(outcome, Localized(outcome, outcome))
        values["reasons"] = decision.fields["reasons"]
        # Awb 9:15(3): a decision departing from the advice says why, and the advice goes with it.
        advised = decision.fields.get("advised_outcome")
        if advised:
            values["advised_label"] = route.outcomes.get(advised, Localized(advised, advised))
            values["departure_reason"] = decision.fields.get("departure_reason", "")
    with force_locale(language):
        title = letter_title(kind)
        html = render_template(f"committee/letters/{kind.value}.html", title=title, **values)
    return _add_document(
        session,
        keys,
        committee,
        DocumentKind.LETTER,
        now,
        title=title,
        text_body=html,
        template=kind.value,
        audit_action="committee.letter_generated",
    )


def _copy_for_accused(
    session: Session, workflow: Workflow, committee: CommitteeCase, complainant: str
) -> dict[str, Any]:
    """What the copy of the complaint carries: what was written, the name where the workflow's
    ``copy_to_accused`` says so, and how many documents came with it; never the complainant's
    contact details or the witnesses named. Only once the case has reached the copy's state."""
    case, content = committee.case, committee.content
    copy = workflow[case.route].copy_to_accused
    reached = copy is not None and session.scalar(
        sa.select(CaseEvent.id)
        .where(CaseEvent.case_id == case.id, CaseEvent.to_state == copy.state)
        .limit(1)
    )
    if copy is None or not reached:
        raise CommitteeRefused("copy_not_yet")
    accused = [p.name for p in content.parties if p.kind is PartyKind.ACCUSED and p.name]
    documents = session.scalar(
        sa.select(sa.func.count())
        .select_from(Attachment)
        .where(Attachment.case_id == case.id, Attachment.added_by == AuthorKind.COMPLAINANT)
    )
    return {
        "addressee": ", ".join(accused),
        "filed_by": complainant if case.disclosure in copy.with_name else "",
        "description": content.description,
        "incident_period": content.incident_period,
        "incident_place": content.incident_place,
        "desired_outcome": content.desired_outcome,
        "documents": int(documents or 0),
    }


def letter_title(kind: LetterKind) -> str:
    return {
        LetterKind.ACKNOWLEDGEMENT: _("Acknowledgement of receipt"),
        LetterKind.NOT_ADMISSIBLE: _("Notice: complaint not admissible"),
        LetterKind.EXTENSION: _("Notice: decision postponed"),
        LetterKind.DECISION: _("Decision on your complaint"),
        LetterKind.COPY_FOR_ACCUSED: _("Copy of a complaint about you"),
    }[kind]


def latest_document(
    session: Session, keys: KeyStore, committee: CommitteeCase, kind: DocumentKind
) -> DocumentView | None:
    found = documents(session, keys, committee.case, committee.roles, kinds=[kind])
    return found[-1] if found else None


def open_letter(
    session: Session,
    keys: KeyStore,
    committee: CommitteeCase,
    *,
    letter_id: uuid.UUID,
    now: datetime,
) -> Letter:
    """A letter of this case for download; audited as an export. Anything else: CaseNotFound."""
    row = session.get(CaseDocument, letter_id)
    if row is None or row.case_id != committee.case.id or row.kind is not DocumentKind.LETTER:
        raise CaseNotFound(str(letter_id))
    cipher = case_cipher(session, keys, committee.case.id)
    _audit(
        session,
        keys,
        committee,
        "committee.letter_downloaded",
        now,
        document_id=str(row.id),
        template=row.template or "",
    )
    return Letter(
        id=row.id,
        template=row.template or "letter",
        title=(
            cipher.open_text("case_documents", "title", row.id, row.title)
            if row.title is not None
            else ""
        ),
        html=cipher.open_text("case_documents", "body", row.id, row.body),
        created_at=row.created_at,
    )


# Shared ----------------------------------------------------------------------------------------


def _transition(
    session: Session,
    keys: KeyStore,
    workflow: Workflow,
    committee: CommitteeCase,
    name: str,
    *,
    expected_version: int,
    values: Mapping[str, str],
    now: datetime,
) -> None:
    """Take a workflow transition on the case through the engine (it checks state, role,
    fields and version, and records the event, deadlines, audit and statistics)."""
    try:
        apply_transition(
            session,
            keys,
            workflow,
            committee.case,
            name,
            actor_person_id=committee.person_id,
            roles=set(committee.roles),
            values=dict(values),
            expected_version=expected_version,
            now=now,
            actor=committee.actor,
        )
    except TransitionRefused as exc:
        raise CommitteeRefused("transition_refused", exc.message) from exc
    except ChangedMeanwhile as exc:
        raise CommitteeRefused("changed_meanwhile") from exc


def _add_document(
    session: Session,
    keys: KeyStore,
    committee: CommitteeCase,
    kind: DocumentKind,
    now: datetime,
    *,
    body: Mapping[str, str] | None = None,
    text_body: str | None = None,
    title: str | None = None,
    restricted_identity: str | None = None,
    template: str | None = None,
    audit_action: str = "committee.document_added",
) -> CaseDocument:
    case = committee.case
    cipher = case_cipher(session, keys, case.id)
    document_id = uuid.uuid4()

    def seal(column: str, text: str) -> bytes:
        return cipher.seal_text("case_documents", column, document_id, text)

    plain = text_body if text_body is not None else json.dumps(dict(body or {}), ensure_ascii=False)
    document = CaseDocument(
        id=document_id,
        case_id=case.id,
        kind=kind,
        template=template,
        author_person_id=committee.person_id,
        title=seal("title", title) if title is not None else None,
        body=seal("body", plain),
        restricted_identity=(
            seal("restricted_identity", restricted_identity)
            if restricted_identity is not None
            else None
        ),
        created_at=now,
    )
    session.add(document)
    _audit(
        session,
        keys,
        committee,
        audit_action,
        now,
        document_id=str(document_id),
        kind=kind.value,
        template=template or "",
    )
    _touch(case, now)
    _flush(session)
    return document


def _add_event(
    session: Session,
    keys: KeyStore,
    committee: CommitteeCase,
    kind: str,
    now: datetime,
    *,
    values: Mapping[str, str],
    event_id: uuid.UUID | None = None,
) -> CaseEvent:
    """A step in the case history; what it concerns is sealed, as the workflow engine seals
    a transition's values (JSON), so the timeline reads both the same way."""
    case = committee.case
    event_id = event_id or uuid.uuid4()
    event = CaseEvent(
        id=event_id,
        case_id=case.id,
        occurred_at=now,
        kind=kind,
        actor_person_id=committee.person_id,
        remark=case_cipher(session, keys, case.id).seal_text(
            "case_events",
            "remark",
            event_id,
            json.dumps(dict(values), ensure_ascii=False, sort_keys=True),
        ),
    )
    session.add(event)
    return event


def _audit(
    session: Session,
    keys: KeyStore,
    committee: CommitteeCase,
    action: str,
    now: datetime,
    outcome: AuditOutcome = AuditOutcome.SUCCESS,
    **details: str | int,
) -> None:
    record_event(
        session,
        keys,
        actor=committee.actor,
        action=action,
        now=now,
        outcome=outcome,
        object_type="case",
        object_id=str(committee.case.id),
        details=details,
    )


def transition_available(workflow: Workflow, committee: CommitteeCase, name: str) -> bool:
    """Whether the case's state and the user's committee roles allow this transition now."""
    spec = workflow[committee.case.route].transition(name)
    return (
        spec is not None
        and committee.case.state in spec.from_states
        and bool(spec.roles & committee.roles)
    )


def _require_open(workflow: Workflow, case: Case) -> None:
    if not workflow[case.route].is_open(case.state):
        raise CommitteeRefused("case_closed")


def _require_secretary(committee: CommitteeCase) -> None:
    if not committee.is_secretary:
        raise CommitteeRefused("secretary_only")


def _checked_text(text: str, limit: int) -> str:
    value = text.strip()
    if not value:
        raise CommitteeRefused("text_required")
    if len(value) > limit:
        raise CommitteeRefused("too_long")
    return value


def _flush(session: Session) -> None:
    """Write the pending changes; a case another transaction changed meanwhile (its version
    moved on underneath) is refused, not overwritten."""
    try:
        session.flush()
    except StaleDataError as exc:
        raise CommitteeRefused("changed_meanwhile") from exc


def _touch(case: Case, now: datetime) -> None:
    """Mark the case changed. Always an UPDATE, so its version moves on: a step taken from a
    page loaded before (advice written before the last hearing report came in) is refused."""
    case.updated_at = now
    flag_modified(case, "updated_at")
