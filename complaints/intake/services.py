"""Submitting a report: checked, routed, encrypted and recorded in one transaction.

Everything a submission writes — the case, its parties and attachments, key slot, access
grants, history event, deadlines, audit events, notifications and the statistics event —
is flushed here and committed by the caller at once, so a failure anywhere leaves nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.audit.models import ActorKind
from complaints.audit.services import Actor, record_event
from complaints.cases.models import Case, Deadline, Disclosure, PartyKind, Route
from complaints.cases.receipts import new_receipt_code, receipt_index
from complaints.cases.services import NewAttachment, NewCase, NewGrant, NewParty, create_case
from complaints.cases.taxonomy import Taxonomy
from complaints.crypto.blind_index import BlindIndexer
from complaints.crypto.keystore import KeyStore, SecretPurpose
from complaints.directory.models import OrgUnit
from complaints.notify.services import queue_notification
from complaints.routing.readers import accepts
from complaints.routing.services import Recipient, RoutingRequest, resolve_recipients
from complaints.stats.services import record_stat
from complaints.workflow.config import Period, Workflow
from complaints.workflow.services import AMSTERDAM, due_date, enter_state, local_date

FILING_TERM = Period(months=12)  # Awb 9:8(1)(c): within a year of the conduct
MAX_TEXT = 20_000
MAX_SHORT = 500


class ReportRefused(ValueError):
    """The report cannot be filed like this; ``reason`` is a message key for the form."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


class RecipientsChanged(Exception):
    """Between the review and the submission, who would receive the report changed."""


@dataclass(frozen=True)
class AccusedPerson:
    name: str
    relation: str = ""
    person_id: int | None = None  # when picked from the directory


@dataclass(frozen=True)
class Witness:
    name: str
    contact: str = ""
    person_id: int | None = None


@dataclass(frozen=True)
class Identity:
    name: str
    email: str = ""
    phone: str = ""
    person_id: int | None = None  # when the complainant is in the directory


@dataclass(frozen=True)
class Report:
    """A complete report as the complainant wrote it, before it is stored."""

    category: str
    grounds: tuple[str, ...]
    when: str  # as written, e.g. "3 maart 2026" or "sinds januari, nog steeds"
    last_incident_on: date | None  # the latest date given, for the filing period
    ongoing: bool
    unit_id: int | None  # where it happened, from the directory
    place: str
    description: str
    accused: tuple[AccusedPerson, ...]
    witnesses: tuple[Witness, ...]
    desired_outcome: str
    route: Route
    disclosure: Disclosure
    identity: Identity | None
    manager_person_id: int | None = None
    chosen_confidant_id: int | None = None
    attachments: tuple[NewAttachment, ...] = ()
    filer_person_id: int | None = None  # a logged-in employee filing under their own name


@dataclass(frozen=True)
class Submission:
    case: Case
    receipt_code: str
    recipients: list[Recipient]


def check_report(taxonomy: Taxonomy, report: Report) -> None:
    """The rules a report must meet; raises ReportRefused with the first one broken."""
    category = taxonomy.categories.get(report.category)
    if category is None or not category.offered:
        raise ReportRefused("unknown_category", "category")
    unknown = [g for g in report.grounds if g not in taxonomy.grounds]
    if unknown:
        raise ReportRefused("unknown_ground", "grounds")
    if category.asks_grounds and not report.grounds:
        raise ReportRefused("grounds_required", "grounds")
    if report.route not in category.routes:
        raise ReportRefused("route_not_for_category", "route")
    if not report.description.strip():
        raise ReportRefused("description_required", "description")
    if len(report.description) > MAX_TEXT:
        raise ReportRefused("text_too_long", "description")
    if len(report.desired_outcome) > MAX_TEXT:
        raise ReportRefused("text_too_long", "desired_outcome")
    for field, value in _short_texts(report):
        if len(value) > MAX_SHORT:
            raise ReportRefused("text_too_long", field)
    if not accepts(report.route, report.disclosure):
        # Awb 9:8: the accused must be able to respond, so a formal complaint needs a name.
        raise ReportRefused("committee_needs_identity", "disclosure")
    if report.disclosure is not Disclosure.ANONYMOUS and (
        report.identity is None or not report.identity.name.strip()
    ):
        raise ReportRefused("identity_required", "name")
    if report.route is Route.MANAGER and report.manager_person_id is None:
        raise ReportRefused("manager_required", "manager")


def _short_texts(report: Report) -> list[tuple[str, str]]:
    """The one-line answers, with the form field each comes from."""
    texts = [("when", report.when), ("place", report.place)]
    texts += [("accused", text) for a in report.accused for text in (a.name, a.relation)]
    texts += [("witnesses", text) for w in report.witnesses for text in (w.name, w.contact)]
    if report.identity is not None:
        identity = report.identity
        texts += [("name", identity.name), ("email", identity.email), ("phone", identity.phone)]
    return texts


def routing_request(report: Report) -> RoutingRequest:
    return RoutingRequest(
        route=report.route,
        organisation_id=report.unit_id,
        manager_person_id=report.manager_person_id,
        chosen_person_id=report.chosen_confidant_id,
        complainant_person_id=(report.identity.person_id if report.identity else None)
        or report.filer_person_id,
        accused_person_ids=frozenset(a.person_id for a in report.accused if a.person_id),
        accused_names=tuple(a.name for a in report.accused if a.name),
        complainant_name=report.identity.name if report.identity else None,
    )


def preview_recipients(session: Session, workflow: Workflow, report: Report) -> list[Recipient]:
    """Who would receive the report if it were sent now (shown on the review page)."""
    return resolve_recipients(session, workflow, routing_request(report))


def submit_report(
    session: Session,
    keys: KeyStore,
    blind: BlindIndexer,
    taxonomy: Taxonomy,
    workflow: Workflow,
    report: Report,
    *,
    expected_recipients: frozenset[int] | None,
    now: datetime,
) -> Submission:
    """Store the report and everything that goes with it; the caller commits."""
    check_report(taxonomy, report)
    recipients = preview_recipients(session, workflow, report)
    if expected_recipients is not None and {r.person_id for r in recipients} != expected_recipients:
        raise RecipientsChanged
    code = new_receipt_code()
    # Grounds belong to a category that asks for them; a form that was switched to another
    # category may still send the boxes ticked before, and they must not reach the statistics.
    grounds = report.grounds if taxonomy.categories[report.category].asks_grounds else ()
    draft = NewCase(
        route=report.route,
        category=report.category,
        grounds=tuple(sorted(set(grounds))),
        disclosure=report.disclosure,
        description=report.description,
        organisation_id=_ministry_id(session, report.unit_id),
        incident_period=report.when,
        incident_place=_place(session, report),
        desired_outcome=report.desired_outcome,
        complainant=_identity(report),
        parties=_parties(report),
        attachments=report.attachments,
        initial_state=workflow[report.route].initial,
        out_of_term=_out_of_term(report, now),
    )
    case = create_case(
        session,
        keys,
        blind,
        draft,
        grants=[NewGrant(r.person_id, r.role) for r in recipients],
        now=now,
        receipt_index=receipt_index(blind, code),
        complainant_index=_complainant_index(blind, report),
    )
    enter_state(session, workflow, case, case.state, now)
    actor = Actor(ActorKind.COMPLAINANT, case.reference)
    record_event(
        session,
        keys,
        actor=actor,
        action="case.submitted",
        now=now,
        object_type="case",
        object_id=str(case.id),
        details={
            "route": case.route.value,
            "disclosure": case.disclosure.value,
            "grants": len(recipients),
            "attachments": len(report.attachments),
        },
    )
    announce_grants(session, keys, case, recipients, actor=actor, now=now)
    record_stat(session, case, "submitted", now=now)
    session.flush()
    return Submission(case, code, recipients)


def announce_grants(
    session: Session,
    keys: KeyStore,
    case: Case,
    recipients: Sequence[Recipient],
    *,
    actor: Actor,
    now: datetime,
    via: str | None = None,
) -> None:
    """Audit each new handler's access and tell them: "new case, acknowledge by" (no content)."""
    acknowledge_by = session.scalar(
        sa.select(Deadline.due_on).where(
            Deadline.case_id == case.id, Deadline.name == "acknowledge"
        )
    )
    for recipient in recipients:
        details: dict[str, str | int] = {
            "person_id": recipient.person_id,
            "role": recipient.role.value,
            "basis": recipient.basis.value,
        }
        if via is not None:
            details["via"] = via
        record_event(
            session,
            keys,
            actor=actor,
            action="case.access_granted",
            now=now,
            object_type="case",
            object_id=str(case.id),
            details=details,
        )
        params: dict[str, str | int | bool] = {"reference": case.reference}
        if acknowledge_by is not None:
            params["acknowledge_by"] = acknowledge_by.isoformat()
        queue_notification(
            session,
            recipient_person_id=recipient.person_id,
            kind="case_assigned",
            params=params,
            now=now,
            case_id=case.id,
        )


def _parties(report: Report) -> tuple[NewParty, ...]:
    accused = [
        NewParty(PartyKind.ACCUSED, a.person_id, a.name, a.relation or None) for a in report.accused
    ]
    witnesses = [
        NewParty(PartyKind.WITNESS, w.person_id, w.name, None, w.contact or None)
        for w in report.witnesses
    ]
    return tuple(accused + witnesses)


def _identity(report: Report) -> dict[str, str] | None:
    if report.disclosure is Disclosure.ANONYMOUS or report.identity is None:
        return None
    identity = report.identity
    values = {"name": identity.name, "email": identity.email, "phone": identity.phone}
    if identity.person_id is not None:
        values["person_id"] = str(identity.person_id)
    return values


def _place(session: Session, report: Report) -> str:
    """Where, as written, after the unit's name (which, below ministry level, stays encrypted)."""
    unit = session.get(OrgUnit, report.unit_id) if report.unit_id else None
    return " — ".join(part for part in (unit.name if unit else "", report.place.strip()) if part)


def _complainant_index(blind: BlindIndexer, report: Report) -> bytes | None:
    if report.filer_person_id is None or report.disclosure is Disclosure.ANONYMOUS:
        return None
    return complainant_index(blind, report.filer_person_id)


def complainant_index(blind: BlindIndexer, person_id: int) -> bytes:
    return blind.digest(SecretPurpose.COMPLAINANT_INDEX, f"person:{person_id}")


def _out_of_term(report: Report, now: datetime) -> bool:
    """Filed more than a year after the (last) incident, counted in calendar days in Amsterdam."""
    if report.route is not Route.COMMITTEE or report.ongoing or report.last_incident_on is None:
        return False
    incident = datetime.combine(report.last_incident_on, time(12), tzinfo=AMSTERDAM)
    return local_date(now) > due_date(incident, FILING_TERM)


def _ministry_id(session: Session, unit_id: int | None) -> int | None:
    unit = session.get(OrgUnit, unit_id) if unit_id else None
    return unit.ministry_id if unit is not None else None


def recipients_summary(recipients: Sequence[Recipient]) -> frozenset[int]:
    return frozenset(r.person_id for r in recipients)
