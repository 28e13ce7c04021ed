"""Check-ins against retaliation: after closing, the handler asks whether anything has happened.

When a workflow step closes a case (not when the complainant withdraws it), a check-in is
planned for each of the route's ``checkin_months`` after the closing day (Amsterdam calendar).
When one falls due, ``checkins remind`` e-mails the case's handlers once (no content: the
reference and the number of months); a handler sends it from the case page, and the mailbox asks
"Is er sinds de afhandeling iets gebeurd?" in the reader's language. The complainant answers,
and may report retaliation: the case then opens again or a linked case is filed on the same
route (the route's ``retaliation``). The complainant can switch check-ins off (and on again).

A check-in is due only while the complainant can read it: the case is closed, check-ins are on,
and the mailbox can still be opened (the case has a receipt code or an account to open it with;
retention may remove both). Check-ins never keep a case longer than the retention policy says:
they do not touch the case's ``updated_at``, the policy counts from closing or the decision as
before, and the rows are destroyed with the case (a check-in due after that never happens).

Three stat events count them: ``checkin_sent``, ``checkin_answered`` and
``retaliation_reported``; like every stat event they hold no case id, no check-in id and no day.
Sealing and opening what is written (the question, the answer) is done by the callers through
the existing entry points: ``casework.services`` for the handler, ``cases.open_as_complainant``
for the complainant. Nothing here unwraps a key.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.audit.services import Actor, record_event
from complaints.cases.models import Case, CaseAccessGrant, CaseEvent, Deadline, Message
from complaints.cases.receipts import new_receipt_code, receipt_index
from complaints.cases.services import CaseContent, NewCase, NewGrant, NewParty, create_case
from complaints.checkins.models import CheckIn
from complaints.crypto.blind_index import BlindIndexer
from complaints.crypto.keystore import KeyStore
from complaints.directory.models import Person
from complaints.notify.services import queue_notification
from complaints.stats.services import record_stat
from complaints.web.i18n import _l
from complaints.workflow.config import WITHDRAWN, Period, RouteWorkflow, Workflow
from complaints.workflow.services import add_period, enter_state, local_date

# What the mailbox asks; printed in the reader's language, sealed in Dutch as the message.
QUESTION = _l("Has anything happened since your report was dealt with?")
SENT = "checkin_sent"
ANSWERED = "checkin_answered"
RETALIATION = "retaliation_reported"
REOPENED = "reopened"


class NoHandlerLeft(Exception):
    """Nobody holds the closed case any more, so a linked case would reach nobody."""


@dataclass(frozen=True)
class LinkedCase:
    """A case filed for retaliation reported in a check-in, and its receipt code (shown once)."""

    case: Case
    code: str


# Planning ------------------------------------------------------------------------------------


def checkin_due_on(closed_at: datetime, months: int) -> date:
    """The day a check-in ``months`` after a closing falls due: the one calculation."""
    return add_period(local_date(closed_at), Period(months=months))


def plan_checkins(session: Session, route: RouteWorkflow, case: Case) -> list[CheckIn]:
    """A check-in for each of the route's ``checkin_months`` after the case closed."""
    if case.closed_at is None or case.state == WITHDRAWN:
        return []
    rows = [
        CheckIn(
            case_id=case.id,
            months=months,
            closed_at=case.closed_at,
            due_on=checkin_due_on(case.closed_at, months),
        )
        for months in route.checkin_months
    ]
    session.add_all(rows)
    session.flush()
    return rows


def checkins_of(session: Session, case_id: uuid.UUID) -> list[CheckIn]:
    """Every check-in of a case, oldest closing and soonest first."""
    return list(
        session.scalars(
            sa.select(CheckIn)
            .where(CheckIn.case_id == case_id)
            .order_by(CheckIn.closed_at, CheckIn.months, CheckIn.id)
        )
    )


def readable_by_complainant() -> sa.ColumnElement[bool]:
    """The case's mailbox can still be opened: with a receipt code or from an account."""
    return sa.or_(Case.receipt_index.is_not(None), Case.complainant_index.is_not(None))


def may_check_in(workflow: Workflow, case: Case) -> bool:
    """Whether check-ins can reach the complainant now: closed, switched on, readable."""
    return (
        not workflow[case.route].is_open(case.state)
        and case.state != WITHDRAWN
        and case.checkins_stopped_at is None
        and (case.receipt_index is not None or case.complainant_index is not None)
    )


def due_checkins(session: Session, workflow: Workflow, case: Case, today: date) -> list[CheckIn]:
    """The case's check-ins that are due on ``today`` and not sent (none if it cannot check in)."""
    if not may_check_in(workflow, case):
        return []
    return list(
        session.scalars(
            sa.select(CheckIn)
            .where(CheckIn.case_id == case.id, CheckIn.sent_at.is_(None), CheckIn.due_on <= today)
            .order_by(CheckIn.due_on, CheckIn.id)
        )
    )


def open_checkin(session: Session, workflow: Workflow, case: Case) -> CheckIn | None:
    """The check-in the mailbox asks now: the last one sent, if it is not answered yet."""
    if not may_check_in(workflow, case):
        return None
    last = session.scalar(
        sa.select(CheckIn)
        .where(CheckIn.case_id == case.id, CheckIn.sent_at.is_not(None))
        .order_by(CheckIn.sent_at.desc(), CheckIn.id.desc())
        .limit(1)
    )
    return last if last is not None and last.answered_at is None else None


def checkin_message_ids(session: Session, case_id: uuid.UUID) -> set[uuid.UUID]:
    """The messages of a case that are check-in questions (shown as the question itself)."""
    return set(
        session.scalars(
            sa.select(CheckIn.message_id).where(
                CheckIn.case_id == case_id, CheckIn.message_id.is_not(None)
            )
        )
    )


@dataclass(frozen=True)
class CheckinPanel:
    """What the case page shows a handler about the case's check-ins."""

    checkins: list[CheckIn]
    due: list[CheckIn]  # can be sent now
    stopped_at: datetime | None  # the complainant switched them off
    readable: bool  # the complainant can still open the mailbox
    linked: list[Case]  # cases filed from these check-ins
    linked_from: Case | None  # the case whose check-in filed this one


def checkin_panel(
    session: Session, workflow: Workflow, case: Case, today: date
) -> CheckinPanel | None:
    """The case's check-ins as the case page shows them; None when there is nothing to say."""
    rows = checkins_of(session, case.id)
    linked = linked_cases(session, case.id)
    origin = linked_from(session, case.id)
    if not rows and not linked and origin is None:
        return None
    return CheckinPanel(
        checkins=rows,
        due=due_checkins(session, workflow, case, today),
        stopped_at=case.checkins_stopped_at,
        readable=case.receipt_index is not None or case.complainant_index is not None,
        linked=linked,
        linked_from=origin,
    )


# Sending and answering -----------------------------------------------------------------------


def record_sent(
    session: Session,
    keys: KeyStore,
    case: Case,
    due: list[CheckIn],
    *,
    message: Message,
    person_id: int,
    actor: Actor,
    now: datetime,
) -> None:
    """The due check-ins went out as ``message``: one question answers for all of them (a
    late 1-month check-in sent in the fourth month covers the 3-month one too)."""
    for row in due:
        row.sent_at = now
        row.sent_by_person_id = person_id
        row.message_id = message.id
    session.add(CaseEvent(case_id=case.id, occurred_at=now, kind=SENT, actor_person_id=person_id))
    _audit(session, keys, actor, "checkin.sent", case, now, months=due[-1].months)
    record_stat(session, case, SENT, now=now)
    session.flush()


def record_answer(
    session: Session,
    keys: KeyStore,
    case: Case,
    checkin: CheckIn,
    *,
    retaliation: bool,
    actor: Actor,
    now: datetime,
) -> None:
    """The complainant answered ``checkin`` (their message is stored by the caller)."""
    checkin.answered_at = now
    if retaliation:
        checkin.retaliation_at = now
    session.add(CaseEvent(case_id=case.id, occurred_at=now, kind=ANSWERED))
    _audit(session, keys, actor, "checkin.answered", case, now, retaliation=retaliation)
    record_stat(session, case, ANSWERED, now=now)
    if retaliation:
        record_stat(session, case, RETALIATION, now=now)
    session.flush()


def switch_checkins(
    session: Session, keys: KeyStore, case: Case, *, on: bool, actor: Actor, now: datetime
) -> bool:
    """The complainant's switch: off stops reminders and questions, on lets them come again.
    Returns whether anything changed."""
    if on == (case.checkins_stopped_at is None):
        return False
    case.checkins_stopped_at = None if on else now
    _audit(session, keys, actor, "checkin.switched_on" if on else "checkin.switched_off", case, now)
    session.flush()
    return True


# Retaliation ---------------------------------------------------------------------------------


def reopen_case(
    session: Session, keys: KeyStore, workflow: Workflow, case: Case, *, actor: Actor, now: datetime
) -> None:
    """Retaliation on a "reopen" route: the case opens again in its initial state, where its
    deadlines start again; the check-ins not sent yet go (closing again plans new ones)."""
    route = workflow[case.route]
    previous = case.state
    case.state = route.initial
    case.closed_at = None
    # The outcome was the closed case's; the next closing sets its own (history keeps the old).
    case.outcome = None
    case.updated_at = now
    session.execute(sa.delete(CheckIn).where(CheckIn.case_id == case.id, CheckIn.sent_at.is_(None)))
    session.add(
        CaseEvent(
            case_id=case.id,
            occurred_at=now,
            kind=REOPENED,
            from_state=previous,
            to_state=route.initial,
        )
    )
    session.flush()
    enter_state(session, workflow, case, route.initial, now)
    _audit(session, keys, actor, "case.reopened", case, now, from_state=previous)
    for person_id in _handlers(session, case.id):
        queue_notification(
            session,
            recipient_person_id=person_id,
            kind="case_reopened",
            params={"reference": case.reference},
            now=now,
            case_id=case.id,
        )
    session.flush()


def file_linked_case(
    session: Session,
    keys: KeyStore,
    blind: BlindIndexer,
    workflow: Workflow,
    content: CaseContent,
    *,
    description: str,
    checkin: CheckIn,
    actor: Actor,
    now: datetime,
) -> LinkedCase:
    """Retaliation on a "linked" route: a new case on the same route for the same handlers,
    with the complainant and the people named as before and the answer as its story.

    ``content`` is the closed case as the complainant's opening gave it. The new case has a
    receipt code of its own (returned, to be shown once) and, for a named filer, shows in their
    reports. Raises NoHandlerLeft when nobody active holds the closed case any more.
    """
    original = content.case
    grants = _active_grants(session, original.id)
    if not grants:
        raise NoHandlerLeft(original.reference)
    route = workflow[original.route]
    draft = NewCase(
        route=original.route,
        category=original.category,
        grounds=tuple(original.grounds),
        disclosure=original.disclosure,
        description=description,
        organisation_id=original.organisation_id,
        complainant=content.complainant,
        # The accused stay accused: nobody named in the first case gets the second.
        parties=tuple(
            NewParty(p.kind, p.person_id, p.name, p.relation_to_complainant, p.contact)
            for p in content.parties
        ),
        initial_state=route.initial,
    )
    code = new_receipt_code()
    case = create_case(
        session,
        keys,
        blind,
        draft,
        grants=grants,
        now=now,
        receipt_index=receipt_index(blind, code),
        complainant_index=original.complainant_index,
    )
    enter_state(session, workflow, case, case.state, now)
    checkin.linked_case_id = case.id
    for this in (original, case):
        session.add(CaseEvent(case_id=this.id, occurred_at=now, kind=RETALIATION))
    _audit(session, keys, actor, "case.filed_after_checkin", case, now, from_case=str(original.id))
    acknowledge_by = session.scalar(
        sa.select(Deadline.due_on).where(
            Deadline.case_id == case.id, Deadline.name == "acknowledge"
        )
    )
    for grant in grants:
        _audit(
            session,
            keys,
            actor,
            "case.access_granted",
            case,
            now,
            person_id=grant.person_id,
            role=grant.role.value,
            via="checkin",
        )
        params: dict[str, str | int | bool] = {"reference": case.reference}
        if acknowledge_by is not None:
            params["acknowledge_by"] = acknowledge_by.isoformat()
        queue_notification(
            session,
            recipient_person_id=grant.person_id,
            kind="case_assigned",
            params=params,
            now=now,
            case_id=case.id,
        )
    session.flush()
    return LinkedCase(case, code)


def linked_from(session: Session, case_id: uuid.UUID) -> Case | None:
    """The closed case whose check-in filed this one, if it was filed that way."""
    return session.scalar(
        sa.select(Case)
        .join(CheckIn, CheckIn.case_id == Case.id)
        .where(CheckIn.linked_case_id == case_id)
    )


def linked_cases(session: Session, case_id: uuid.UUID) -> list[Case]:
    """The cases filed from this case's check-ins, oldest first."""
    return list(
        session.scalars(
            sa.select(Case)
            .join(CheckIn, CheckIn.linked_case_id == Case.id)
            .where(CheckIn.case_id == case_id)
            .order_by(Case.submitted_at, Case.reference)
        )
    )


# Helpers -------------------------------------------------------------------------------------


def _active_grants(session: Session, case_id: uuid.UUID) -> list[NewGrant]:
    rows = session.execute(
        sa.select(CaseAccessGrant.person_id, CaseAccessGrant.role)
        .join(Person, Person.id == CaseAccessGrant.person_id)
        .where(
            CaseAccessGrant.case_id == case_id,
            CaseAccessGrant.revoked_at.is_(None),
            Person.active.is_(True),
        )
        .order_by(CaseAccessGrant.id)
    )
    seen: dict[tuple[int, str], NewGrant] = {}
    for person_id, role in rows:
        seen.setdefault((person_id, role.value), NewGrant(person_id, role))
    return list(seen.values())


def _handlers(session: Session, case_id: uuid.UUID) -> list[int]:
    return sorted({grant.person_id for grant in _active_grants(session, case_id)})


def _audit(
    session: Session,
    keys: KeyStore,
    actor: Actor,
    action: str,
    case: Case,
    now: datetime,
    **details: str | int | bool,
) -> None:
    record_event(
        session,
        keys,
        actor=actor,
        action=action,
        now=now,
        object_type="case",
        object_id=str(case.id),
        details=details,
    )
