"""Legal holds and extensions: the two ways a case's retention is changed by a person.

The privacy officer places and lifts a legal hold by case reference, without ever opening the
case; a handler with a grant on a finished case extends its retention once, by the period its
rule allows. Both are audited by reference and rule only: the reason stays in the retention
tables (the forms say it must not name anyone or tell the case), never in the audit log.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.audit.services import Actor, record_event
from complaints.cases.models import Case, CaseAccessGrant
from complaints.crypto.keystore import KeyStore
from complaints.directory.models import Person
from complaints.retention.models import REASON_LENGTH, RetentionExtension, RetentionHold
from complaints.retention.policy import RetentionPolicy, Rule
from complaints.retention.schedule import CaseSchedule, Scheduled, case_schedule
from complaints.web.i18n import _
from complaints.workflow.config import Workflow
from complaints.workflow.services import local_date


class RetentionRefused(Exception):
    """A hold or an extension that the rules do not allow; ``reason`` says which rule."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Why a request was refused (the views turn these into sentences).
NO_REASON = "no_reason"
REASON_TOO_LONG = "reason_too_long"
UNTIL_IN_PAST = "until_in_past"
UNKNOWN_CASE = "unknown_case"
ALREADY_HELD = "already_held"
HOLD_NOT_FOUND = "hold_not_found"
NOT_FINISHED = "not_finished"
ALREADY_EXTENDED = "already_extended"
NO_EXTENSION = "no_extension"
NO_GRANT = "no_grant"


@dataclass(frozen=True)
class HoldView:
    """A standing hold as the privacy officer sees it: reference, why, until, who placed it."""

    id: int
    reference: str
    reason: str
    until: date | None
    placed_at: datetime
    placed_by: str | None


def case_by_reference(session: Session, reference: str) -> Case | None:
    """The case with this reference (typed by a person: spaces and case do not matter)."""
    return session.scalar(sa.select(Case).where(Case.reference == reference.strip().upper()))


def place_hold(
    session: Session,
    keys: KeyStore,
    case: Case,
    *,
    reason: str,
    until: date | None,
    person_id: int,
    actor: Actor,
    now: datetime,
) -> RetentionHold:
    """Suspend the case's retention until ``until`` (inclusive) or until the hold is lifted."""
    text = checked_reason(reason)
    if until is not None and until < local_date(now):
        raise RetentionRefused(UNTIL_IN_PAST)
    standing = session.scalar(
        sa.select(RetentionHold.id).where(
            RetentionHold.case_id == case.id,
            RetentionHold.lifted_at.is_(None),
            sa.or_(RetentionHold.until.is_(None), RetentionHold.until >= local_date(now)),
        )
    )
    if standing is not None:
        raise RetentionRefused(ALREADY_HELD)
    hold = RetentionHold(
        case_id=case.id,
        reason=text,
        until=until,
        placed_at=now,
        placed_by_person_id=person_id,
    )
    session.add(hold)
    session.flush()
    _audit(
        session,
        keys,
        actor,
        "retention.hold_placed",
        case,
        now,
        hold=hold.id,
        until=until.isoformat() if until else None,
    )
    return hold


def lift_hold(
    session: Session,
    keys: KeyStore,
    hold_id: int,
    *,
    person_id: int,
    actor: Actor,
    now: datetime,
) -> RetentionHold:
    """End a standing hold; the case's retention runs again from its own dates."""
    hold = session.get(RetentionHold, hold_id)
    if hold is None or hold.lifted_at is not None:
        raise RetentionRefused(HOLD_NOT_FOUND)
    case = session.get_one(Case, hold.case_id)  # the hold goes with its case (CASCADE)
    hold.lifted_at = now
    hold.lifted_by_person_id = person_id
    session.flush()
    _audit(session, keys, actor, "retention.hold_lifted", case, now, hold=hold.id)
    return hold


def standing_holds(session: Session, *, as_of: date) -> list[HoldView]:
    """Holds not lifted and not run out on ``as_of``, newest first."""
    rows = session.execute(
        sa.select(RetentionHold, Case.reference, Person.name)
        .join(Case, Case.id == RetentionHold.case_id)
        .outerjoin(Person, Person.id == RetentionHold.placed_by_person_id)
        .where(
            RetentionHold.lifted_at.is_(None),
            sa.or_(RetentionHold.until.is_(None), RetentionHold.until >= as_of),
        )
        .order_by(RetentionHold.placed_at.desc(), RetentionHold.id.desc())
    ).all()
    return [
        HoldView(hold.id, reference, hold.reason, hold.until, hold.placed_at, name)
        for hold, reference, name in rows
    ]


def extend_case(
    session: Session,
    keys: KeyStore,
    policy: RetentionPolicy,
    workflow: Workflow,
    case: Case,
    *,
    reason: str,
    person_id: int,
    actor: Actor,
    now: datetime,
) -> RetentionExtension:
    """A handler's one extension of a finished case: every rule of the case that allows an
    extension moves by its period. The next rule due must allow one."""
    text = checked_reason(reason)
    has_grant = session.scalar(
        sa.select(
            sa.exists().where(
                CaseAccessGrant.case_id == case.id,
                CaseAccessGrant.person_id == person_id,
                CaseAccessGrant.revoked_at.is_(None),
            )
        )
    )
    if not has_grant:
        raise RetentionRefused(NO_GRANT)
    as_of = local_date(now)
    schedule = case_schedule(session, policy, workflow, case.id, as_of)
    if schedule is None or not schedule.items:
        raise RetentionRefused(NOT_FINISHED)
    if _extension_of(session, case.id) is not None:
        raise RetentionRefused(ALREADY_EXTENDED)
    next_item = schedule.items[0]
    if next_item.rule.extension is None:
        raise RetentionRefused(NO_EXTENSION)
    extension = RetentionExtension(
        case_id=case.id,
        rule=next_item.rule.name,
        reason=text,
        extended_at=now,
        person_id=person_id,
    )
    session.add(extension)
    session.flush()
    moved = case_schedule(session, policy, workflow, case.id, as_of)
    due_on = moved.items[0].due_on if moved and moved.items else None
    _audit(
        session,
        keys,
        actor,
        "retention.extended",
        case,
        now,
        rule=next_item.rule.name,
        due_on=due_on.isoformat() if due_on else None,
    )
    return extension


@dataclass(frozen=True)
class RetentionPanel:
    """What the case page shows about a finished case's retention."""

    items: tuple[Scheduled, ...]
    extension: RetentionExtension | None
    may_extend: bool  # not extended yet, and the next rule allows it
    next_rule: Rule | None

    @property
    def held(self) -> bool:
        return any(item.hold is not None for item in self.items)


def retention_panel(
    session: Session, policy: RetentionPolicy, workflow: Workflow, case_id: uuid.UUID, as_of: date
) -> RetentionPanel | None:
    """The retention of a finished case for its handlers; none while the case is open."""
    schedule: CaseSchedule | None = case_schedule(session, policy, workflow, case_id, as_of)
    if schedule is None or not schedule.items:
        return None
    extension = _extension_of(session, case_id)
    next_rule = schedule.items[0].rule
    return RetentionPanel(
        items=schedule.items,
        extension=extension,
        may_extend=extension is None and next_rule.extension is not None,
        next_rule=next_rule,
    )


def refusal_message(reason: str) -> str:
    """Why a hold or an extension was refused, in words."""
    messages = {
        NO_REASON: _("Give the reason."),
        REASON_TOO_LONG: _("This reason is too long: write at most 300 characters."),
        UNTIL_IN_PAST: _("The day the hold ends cannot lie in the past."),
        UNKNOWN_CASE: _("There is no case with this reference."),
        ALREADY_HELD: _("This case is already on hold."),
        HOLD_NOT_FOUND: _("This hold does not exist or has been lifted already."),
        NOT_FINISHED: _(
            "Only a closed or withdrawn case can be kept longer; this case is still open."
        ),
        ALREADY_EXTENDED: _("This case's retention has been extended already."),
        NO_EXTENSION: _("The retention rule of this case allows no extension."),
        NO_GRANT: _("Only a handler of the case can extend its retention."),
    }
    return messages.get(reason, reason)


def checked_reason(reason: str) -> str:
    text = " ".join(reason.split())
    if not text:
        raise RetentionRefused(NO_REASON)
    if len(text) > REASON_LENGTH:
        raise RetentionRefused(REASON_TOO_LONG)
    return text


def _extension_of(session: Session, case_id: uuid.UUID) -> RetentionExtension | None:
    return session.scalar(
        sa.select(RetentionExtension).where(RetentionExtension.case_id == case_id)
    )


def _audit(
    session: Session,
    keys: KeyStore,
    actor: Actor,
    action: str,
    case: Case,
    now: datetime,
    **details: str | int | None,
) -> None:
    record_event(
        session,
        keys,
        actor=actor,
        action=action,
        now=now,
        object_type="case",
        object_id=str(case.id),
        details={"reference": case.reference, **details},
    )
