"""Referral: a confidant passes a report on to another route, with the complainant's consent.

A referral never moves the case. It creates a *new* case on the new route, with a data key of
its own, linked back through ``Case.referred_from_id``; the original stays with the confidant.
Only what the consent covers is copied:

- ``with_identity``: the report (what, when, where, the story, the people named, what the
  complainant hopes for), who filed it, and the files the complainant added;
- ``without_identity``: the report only. The new case is anonymous; the files stay behind,
  because a document or a screenshot can easily show who wrote it.

Never copied: messages, internal notes, documents of the confidant, consents.

Consent is either given by the complainant in the mailbox or recorded by the confidant as given
in person or by phone (who recorded it, on which day it was given, how, and its scope; the
details are encrypted). A consent given in the mailbox has no scope of its own: it covers the
identity when the complainant already allowed it to be used — a report under their own name,
or a confidential one with the live "share who I am" consent.

Who receives the new case follows the routing rules, so nobody named as accused (nor the
complainant) ever gets access; the same rules as the report form decide whether the new route
can take it (a formal complaint to the committee cannot be anonymous).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Session, undefer

from complaints.audit.models import ActorKind, AuditOutcome
from complaints.audit.services import Actor, record_event
from complaints.cases.models import (
    Attachment,
    AuthorKind,
    Case,
    CaseAccessGrant,
    CaseEvent,
    Consent,
    ConsentKind,
    Disclosure,
    GrantRole,
    PartyKind,
    Route,
)
from complaints.cases.receipts import new_receipt_code, receipt_index
from complaints.cases.services import (
    CaseContent,
    CaseNotFound,
    NewAttachment,
    NewCase,
    NewGrant,
    NewParty,
    create_case,
    open_case,
)
from complaints.cases.taxonomy import Taxonomy
from complaints.crypto.blind_index import BlindIndexer
from complaints.crypto.keystore import KeyStore
from complaints.crypto.services import case_cipher
from complaints.directory.models import Person
from complaints.intake.services import (
    AccusedPerson,
    Identity,
    Report,
    ReportRefused,
    Witness,
    announce_grants,
    check_report,
)
from complaints.routing.services import (
    NoEligibleHandler,
    Recipient,
    RoutingRequest,
    resolve_recipients,
)
from complaints.stats.services import record_stat
from complaints.workflow.config import Workflow
from complaints.workflow.services import AMSTERDAM, enter_state, local_date

# The routes a confidant can pass a report on to.
REFERRAL_ROUTES = (Route.MANAGER, Route.INTEGRITY, Route.COMMITTEE)


class ReferralScope(StrEnum):
    WITH_IDENTITY = "with_identity"  # the report, who filed it, and their files
    WITHOUT_IDENTITY = "without_identity"  # the report only; the new case is anonymous


class ConsentChannel(StrEnum):
    """How the complainant gave a consent that a confidant recorded."""

    IN_PERSON = "in_person"
    PHONE = "phone"


class ReferralRefused(Exception):
    """The referral cannot be made like this; ``reason`` is a message key for the page."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ReferralConsent:
    """The complainant's live consent to a referral, decrypted for the confidant."""

    consent_id: int
    given_at: datetime
    scope: ReferralScope
    recorded_by_person_id: int | None  # None: given by the complainant in the mailbox
    channel: ConsentChannel | None = None
    given_on: date | None = None


@dataclass(frozen=True)
class Referral:
    original: Case
    case: Case
    recipients: list[Recipient]
    scope: ReferralScope


@dataclass(frozen=True)
class ReferralNotice:
    """What the complainant's mailbox says about a referral of their report."""

    case_id: uuid.UUID
    reference: str
    route: Route
    referred_at: datetime
    identity_shared: bool
    code_issued: bool
    in_my_reports: bool


# Access ----------------------------------------------------------------------------------------


def confidant_case(session: Session, case_id: uuid.UUID, person_id: int) -> Case | None:
    """The case if it is on the confidant route and ``person_id`` holds it as its confidant."""
    case = session.get(Case, case_id)
    if case is None or case.route is not Route.CONFIDANT:
        return None
    grant = session.scalar(
        sa.select(CaseAccessGrant.id)
        .where(
            CaseAccessGrant.case_id == case_id,
            CaseAccessGrant.person_id == person_id,
            CaseAccessGrant.role == GrantRole.CONFIDANT,
            CaseAccessGrant.revoked_at.is_(None),
        )
        .limit(1)
    )
    return case if grant is not None else None


def open_as_confidant(
    session: Session,
    keys: KeyStore,
    blind: BlindIndexer,
    *,
    case_id: uuid.UUID,
    person_id: int,
    actor: Actor,
    now: datetime,
) -> CaseContent:
    """Open a case for its confidant (audited); CaseNotFound for anyone else, also audited."""
    if confidant_case(session, case_id, person_id) is None:
        record_event(
            session,
            keys,
            actor=actor,
            action="case.open",
            now=now,
            outcome=AuditOutcome.DENIED,
            object_type="case",
            object_id=str(case_id),
            details={"reason": "not_confidant"},
        )
        raise CaseNotFound(str(case_id))
    return open_case(
        session, keys, blind, case_id=case_id, reader_person_id=person_id, actor=actor, now=now
    )


# Consent ---------------------------------------------------------------------------------------


def _live_referral_consent(session: Session, case_id: uuid.UUID) -> Consent | None:
    return session.scalar(
        sa.select(Consent)
        .where(
            Consent.case_id == case_id,
            Consent.kind == ConsentKind.REFERRAL,
            Consent.withdrawn_at.is_(None),
        )
        .order_by(Consent.given_at.desc(), Consent.id.desc())
        .limit(1)
    )


def referral_consent(session: Session, keys: KeyStore, case: Case) -> ReferralConsent | None:
    """The live referral consent on ``case`` with its scope, or None."""
    consent = _live_referral_consent(session, case.id)
    if consent is None:
        return None
    if consent.details is None:
        return ReferralConsent(consent.id, consent.given_at, _mailbox_scope(session, case), None)
    text = case_cipher(session, keys, case.id).open_text(
        "consents", "details", consent.id, consent.details
    )
    details = json.loads(text)
    return ReferralConsent(
        consent_id=consent.id,
        given_at=consent.given_at,
        scope=ReferralScope(details["scope"]),
        recorded_by_person_id=consent.recorded_by_person_id,
        channel=ConsentChannel(details["channel"]),
        given_on=date.fromisoformat(details["given_on"]),
    )


def _mailbox_scope(session: Session, case: Case) -> ReferralScope:
    """A consent given in the mailbox covers the identity only where its use was allowed."""
    if case.disclosure is Disclosure.NAMED:
        return ReferralScope.WITH_IDENTITY
    if case.disclosure is Disclosure.CONFIDENTIAL:
        shared = session.scalar(
            sa.select(Consent.id)
            .where(
                Consent.case_id == case.id,
                Consent.kind == ConsentKind.SHARE_IDENTITY,
                Consent.withdrawn_at.is_(None),
            )
            .limit(1)
        )
        if shared is not None:
            return ReferralScope.WITH_IDENTITY
    return ReferralScope.WITHOUT_IDENTITY


def record_consent(
    session: Session,
    keys: KeyStore,
    workflow: Workflow,
    case: Case,
    *,
    scope: ReferralScope,
    channel: ConsentChannel,
    given_on: date,
    recorder_person_id: int,
    actor: Actor,
    now: datetime,
) -> Consent:
    """Record a referral consent the complainant gave the confidant in person or by phone.

    It replaces a consent that is live (the complainant may widen or narrow it in a
    conversation); the history is kept, and the complainant can withdraw it in the mailbox.
    """
    if not workflow[case.route].is_open(case.state):
        raise ReferralRefused("case_closed")
    if given_on > local_date(now) or given_on < local_date(case.submitted_at):
        raise ReferralRefused("consent_date")
    previous = _live_referral_consent(session, case.id)
    if previous is not None:
        previous.withdrawn_at = now
    given_at = now if given_on == local_date(now) else _midday(given_on)
    consent = Consent(
        case_id=case.id,
        kind=ConsentKind.REFERRAL,
        given_at=given_at,
        recorded_by_person_id=recorder_person_id,
    )
    session.add(consent)
    session.flush()  # the details are sealed to the row's id
    details = {"scope": scope.value, "channel": channel.value, "given_on": given_on.isoformat()}
    consent.details = case_cipher(session, keys, case.id).seal_text(
        "consents", "details", consent.id, json.dumps(details)
    )
    case.updated_at = now
    record_event(
        session,
        keys,
        actor=actor,
        action="consent.recorded",
        now=now,
        object_type="case",
        object_id=str(case.id),
        details={
            "kind": ConsentKind.REFERRAL.value,
            "consent_id": consent.id,
            "channel": channel.value,
            "scope": scope.value,
            "replaces": previous.id if previous is not None else None,
        },
    )
    session.flush()
    return consent


def _midday(day: date) -> datetime:
    """A day told in a conversation, as a moment: noon in Amsterdam (never another day)."""
    return datetime.combine(day, time(12), tzinfo=AMSTERDAM)


# Referring -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferralChoice:
    """One way to pass the report on: a route and what goes with it, and who would receive it.

    ``refused`` is None for a choice the consent and the rules allow, and otherwise why not (a
    message key, as ``ReferralRefused.reason``).
    """

    route: Route
    scope: ReferralScope
    recipients: tuple[Recipient, ...] = ()
    refused: str | None = None

    @property
    def offered(self) -> bool:
        return self.refused is None

    @property
    def value(self) -> str:
        """The choice as one form value, e.g. ``integrity:without_identity``."""
        return f"{self.route.value}:{self.scope.value}"


def parse_choice(value: str | None) -> tuple[Route, ReferralScope] | None:
    """A form value made by ``ReferralChoice.value``, or None for anything else."""
    route, _, scope = (value or "").partition(":")
    if route not in {r.value for r in REFERRAL_ROUTES}:
        return None
    if scope not in {s.value for s in ReferralScope}:
        return None
    return Route(route), ReferralScope(scope)


def referral_choices(
    session: Session,
    taxonomy: Taxonomy,
    workflow: Workflow,
    content: CaseContent,
    consent: ReferralConsent | None,
) -> list[ReferralChoice]:
    """Every route and scope a referral could take, each offered or refused with the reason.

    The one rule for what can be passed on where: the referral page offers exactly the
    choices offered here, and ``refer_case`` refuses any other, whatever a form sends.
    """
    original = content.case
    category = taxonomy.categories.get(original.category)
    allowed_routes = category.routes if category is not None else ()
    taken = {c.route for c in referrals_from(session, original.id)}
    choices = []
    for route in REFERRAL_ROUTES:
        for scope in ReferralScope:
            refused = _refusal(route, scope, consent, allowed_routes, taken)
            recipients: tuple[Recipient, ...] = ()
            if refused is None:
                report = _report_for(session, content, route, scope)
                try:
                    check_report(taxonomy, report)
                    recipients = tuple(
                        resolve_recipients(session, workflow, _routing_request(content, report))
                    )
                except (ReportRefused, NoEligibleHandler) as exc:
                    refused = exc.reason
            choices.append(ReferralChoice(route, scope, recipients, refused))
    return choices


def _refusal(
    route: Route,
    scope: ReferralScope,
    consent: ReferralConsent | None,
    allowed_routes: Collection[Route],
    taken: Collection[Route],
) -> str | None:
    """Why a choice is refused before the report form's rules and the routing are asked."""
    if consent is None:
        return "no_consent"
    if route not in allowed_routes:
        return "route_not_for_category"
    if route in taken:
        return "already_referred"
    if scope is ReferralScope.WITH_IDENTITY and consent.scope is ReferralScope.WITHOUT_IDENTITY:
        return "scope_not_covered"
    return None


def referrals_from(session: Session, case_id: uuid.UUID) -> list[Case]:
    """The cases this case was referred to, oldest first."""
    return list(
        session.scalars(
            sa.select(Case)
            .where(Case.referred_from_id == case_id)
            .order_by(Case.submitted_at, Case.reference)
        )
    )


def refer_case(
    session: Session,
    keys: KeyStore,
    blind: BlindIndexer,
    taxonomy: Taxonomy,
    workflow: Workflow,
    *,
    case_id: uuid.UUID,
    target: Route,
    scope: ReferralScope,
    referrer_person_id: int,
    actor: Actor,
    now: datetime,
    expected_recipients: frozenset[int] | None = None,
) -> Referral:
    """Pass a confidant's case on to ``target`` as a new, linked case; the caller commits.

    With ``expected_recipients`` (the people the page showed for this choice) the referral is
    held to them: when the routing picks anyone else now, ReferralRefused("recipients_changed").

    Raises ReferralRefused for anything ``referral_choices`` does not offer (no consent, a
    scope wider than the consent, a route the report cannot take, nobody eligible), whatever
    the form sent, and CaseNotFound when the referrer is not the case's confidant.
    """
    content = open_as_confidant(
        session, keys, blind, case_id=case_id, person_id=referrer_person_id, actor=actor, now=now
    )
    original = content.case
    if not workflow[original.route].is_open(original.state):
        raise ReferralRefused("case_closed")
    consent = referral_consent(session, keys, original)
    choice = next(
        (
            c
            for c in referral_choices(session, taxonomy, workflow, content, consent)
            if c.route is target and c.scope is scope
        ),
        None,
    )
    if choice is None:
        raise ReferralRefused("route_not_offered")
    if choice.refused is not None:
        raise ReferralRefused(choice.refused)
    assert consent is not None  # noqa: S101 - a choice is only offered with consent
    recipients = list(choice.recipients)
    if expected_recipients is not None and expected_recipients != {r.person_id for r in recipients}:
        raise ReferralRefused("recipients_changed")
    report = _report_for(session, content, target, scope)

    shares_identity = report.disclosure is not Disclosure.ANONYMOUS
    draft = NewCase(
        route=target,
        category=original.category,
        grounds=tuple(original.grounds),
        disclosure=report.disclosure,
        description=content.description,
        organisation_id=original.organisation_id,
        incident_period=content.incident_period,
        incident_place=content.incident_place,
        desired_outcome=content.desired_outcome,
        complainant=content.complainant if shares_identity else None,
        parties=_parties(content),
        attachments=(
            _complainant_files(session, keys, original)
            if scope is ReferralScope.WITH_IDENTITY
            else ()
        ),
        initial_state=workflow[target].initial,
    )
    case = create_case(
        session,
        keys,
        blind,
        draft,
        grants=[NewGrant(r.person_id, r.role) for r in recipients],
        now=now,
        # "My reports" of an employee who filed under their own name shows the new case too.
        complainant_index=original.complainant_index if shares_identity else None,
    )
    case.referred_from_id = original.id
    enter_state(session, workflow, case, case.state, now)
    original.updated_at = now  # also moves the version on: a second referral at once fails

    for this, other in ((original, case), (case, original)):
        # The remark names the other case by its reference: the link, in the timeline.
        event_id = uuid.uuid4()
        session.add(
            CaseEvent(
                id=event_id,
                case_id=this.id,
                occurred_at=now,
                kind="referred",
                actor_person_id=referrer_person_id,
                remark=case_cipher(session, keys, this.id).seal_text(
                    "case_events", "remark", event_id, other.reference
                ),
            )
        )
    record_event(
        session,
        keys,
        actor=actor,
        action="case.referred",
        now=now,
        object_type="case",
        object_id=str(original.id),
        details={
            "to_case": str(case.id),
            "route": target.value,
            "scope": scope.value,
            "consent_id": consent.consent_id,
        },
    )
    record_event(
        session,
        keys,
        actor=actor,
        action="case.created_by_referral",
        now=now,
        object_type="case",
        object_id=str(case.id),
        details={
            "from_case": str(original.id),
            "route": target.value,
            "disclosure": case.disclosure.value,
            "grants": len(recipients),
            "attachments": len(draft.attachments),
        },
    )
    announce_grants(session, keys, case, recipients, actor=actor, now=now, via="referral")
    # Counted on the confidant's case, with the route it went to: the new case is the same
    # report, so it is not counted as submitted a second time.
    record_stat(
        session,
        original,
        "referred",
        now=now,
        outcome=target.value,
        days_taken=max(0, (now - original.submitted_at).days),
    )
    session.flush()
    return Referral(original, case, recipients, scope)


def _report_for(
    session: Session, content: CaseContent, target: Route, scope: ReferralScope
) -> Report:
    """The new case as a report, so the report form's rules decide whether the route fits."""
    original = content.case
    identity = None
    complainant = content.complainant
    shares = scope is ReferralScope.WITH_IDENTITY and complainant is not None
    if shares and complainant is not None:
        identity = Identity(
            complainant.get("name", ""),
            complainant.get("email", ""),
            complainant.get("phone", ""),
            _person_id(complainant),
        )
    manager_id = None
    if target is Route.MANAGER and identity is not None and identity.person_id is not None:
        person = session.get(Person, identity.person_id)
        manager_id = person.manager_id if person is not None else None
    return Report(
        category=original.category,
        grounds=tuple(original.grounds),
        when=content.incident_period,
        last_incident_on=None,
        ongoing=False,
        unit_id=original.organisation_id,
        place=content.incident_place,
        description=content.description,
        accused=tuple(
            AccusedPerson(p.name or "", p.relation_to_complainant or "", p.person_id)
            for p in content.parties
            if p.kind is PartyKind.ACCUSED
        ),
        witnesses=tuple(
            Witness(p.name or "", p.contact or "", p.person_id)
            for p in content.parties
            if p.kind is PartyKind.WITNESS
        ),
        desired_outcome=content.desired_outcome,
        route=target,
        disclosure=original.disclosure if shares else Disclosure.ANONYMOUS,
        identity=identity,
        manager_person_id=manager_id,
    )


def _routing_request(content: CaseContent, report: Report) -> RoutingRequest:
    """Who may receive the new case. The complainant is excluded by what the confidant's case
    knows of them, even when the new case will not say who they are."""
    accused = [p for p in content.parties if p.kind is PartyKind.ACCUSED]
    complainant = content.complainant or {}
    return RoutingRequest(
        route=report.route,
        organisation_id=content.case.organisation_id,
        manager_person_id=report.manager_person_id,
        complainant_person_id=_person_id(complainant),
        accused_person_ids=frozenset(p.person_id for p in accused if p.person_id is not None),
        accused_names=tuple(p.name for p in accused if p.name),
        complainant_name=complainant.get("name") or None,
    )


def _person_id(complainant: dict[str, str] | None) -> int | None:
    value = (complainant or {}).get("person_id", "")
    return int(value) if value.isdigit() else None


def _parties(content: CaseContent) -> tuple[NewParty, ...]:
    return tuple(
        NewParty(p.kind, p.person_id, p.name, p.relation_to_complainant, p.contact)
        for p in content.parties
    )


def _complainant_files(session: Session, keys: KeyStore, case: Case) -> tuple[NewAttachment, ...]:
    """The files the complainant added, decrypted to be sealed again under the new key."""
    cipher = case_cipher(session, keys, case.id)
    rows = session.scalars(
        sa.select(Attachment)
        .options(undefer(Attachment.body))
        .where(Attachment.case_id == case.id, Attachment.added_by == AuthorKind.COMPLAINANT)
        .order_by(Attachment.created_at, Attachment.id)
    )
    return tuple(
        NewAttachment(
            name=cipher.open_text("attachments", "name", row.id, row.name),
            content_type=row.content_type,
            body=cipher.open_bytes("attachments", "body", row.id, row.body),
        )
        for row in rows
    )


# The complainant's side ------------------------------------------------------------------------


def referral_notices(session: Session, case: Case) -> list[ReferralNotice]:
    """The referrals of the complainant's report, for the mailbox (no content)."""
    return [
        ReferralNotice(
            case_id=referred.id,
            reference=referred.reference,
            route=referred.route,
            referred_at=referred.submitted_at,
            identity_shared=referred.disclosure is not Disclosure.ANONYMOUS,
            code_issued=referred.receipt_index is not None,
            in_my_reports=referred.complainant_index is not None,
        )
        for referred in referrals_from(session, case.id)
    ]


def issue_referral_code(
    session: Session,
    keys: KeyStore,
    blind: BlindIndexer,
    original: Case,
    *,
    referred_id: uuid.UUID,
    now: datetime,
) -> str:
    """A receipt code for a case referred from ``original``, issued once, to the complainant.

    Only the complainant's mailbox of the original report can ask for it, so the code reaches
    nobody else — not even the confidant, who never sees it. Raises LookupError if the case was
    not referred from ``original`` or already has a code.
    """
    referred = session.get(Case, referred_id)
    if referred is None or referred.referred_from_id != original.id:
        raise LookupError(str(referred_id))
    if referred.receipt_index is not None:
        raise LookupError(str(referred_id))
    code = new_receipt_code()
    referred.receipt_index = receipt_index(blind, code)
    record_event(
        session,
        keys,
        actor=Actor(ActorKind.COMPLAINANT, original.reference),
        action="followup.referral_code_issued",
        now=now,
        object_type="case",
        object_id=str(referred.id),
    )
    session.flush()
    return code
