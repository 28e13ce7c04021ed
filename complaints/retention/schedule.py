"""When each finished case falls due under the retention policy: the one calculation behind the
plan, the sweep, the reminders, the privacy page and the case page.

A finished case gets every redact rule that covers it and has not been applied yet, and the one
destroy rule that covers it. The day counts from the rule's event (in Amsterdam), plus the
rule's period, plus the rule's extension when a handler extended the case. A legal hold that
stands on the day keeps the case as it is.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.cases.models import Case, CaseEvent, Route
from complaints.db import among_ids
from complaints.retention.models import (
    LedgerAction,
    LedgerEntry,
    RetentionExtension,
    RetentionHold,
)
from complaints.retention.policy import Action, CountsFrom, RetentionPolicy, Rule
from complaints.workflow.config import Workflow
from complaints.workflow.services import add_period, local_date

DECIDED_STATE = "decided"
DEFAULT_BATCH = 1000


@dataclass(frozen=True)
class Hold:
    id: int
    reason: str
    until: date | None
    placed_at: datetime


@dataclass(frozen=True)
class Scheduled:
    """One rule's action on one case, and when it is due."""

    case_id: uuid.UUID
    reference: str
    route: Route
    state: str
    outcome: str | None
    rule: Rule
    starts_on: date
    due_on: date  # including the extension, if any
    extended: bool
    hold: Hold | None

    @property
    def action(self) -> Action:
        return self.rule.action

    def is_due(self, as_of: date) -> bool:
        return self.hold is None and self.due_on <= as_of

    def remind_on(self) -> date | None:
        if self.rule.remind_before is None:
            return None
        period = self.rule.remind_before
        return add_period(self.due_on, type(period)(months=-period.months, days=-period.days))


@dataclass(frozen=True)
class CaseSchedule:
    """Everything still to happen to one finished case, in order of the day it falls due."""

    case_id: uuid.UUID
    reference: str
    items: tuple[Scheduled, ...]

    @property
    def destruction(self) -> Scheduled | None:
        return next((i for i in self.items if i.action is Action.DESTROY), None)

    @property
    def epoch_day(self) -> date | None:
        """The day whose epoch key should wrap this case's data key (the day it is due to be
        destroyed); none while a hold stands (the case's fate has no date then)."""
        destruction = self.destruction
        if destruction is None or destruction.hold is not None:
            return None
        return destruction.due_on


def finished_condition(workflow: Workflow) -> sa.ColumnElement[bool]:
    return sa.or_(
        *(
            sa.and_(Case.route == route, Case.state.in_(sorted(workflow[route].final)))
            for route in Route
        )
    )


def iter_schedules(
    session: Session,
    policy: RetentionPolicy,
    workflow: Workflow,
    *,
    as_of: date,
    batch_size: int = DEFAULT_BATCH,
    case_ids: Sequence[uuid.UUID] | None = None,
) -> Iterator[list[CaseSchedule]]:
    """The schedules of finished cases, a batch at a time (keyset by id, so memory stays flat
    and a batch can be committed before the next is read)."""
    last_id: uuid.UUID | None = None
    while True:
        query = (
            sa.select(
                Case.id,
                Case.reference,
                Case.route,
                Case.state,
                Case.outcome,
                Case.submitted_at,
                Case.updated_at,
                Case.closed_at,
            )
            .where(finished_condition(workflow))
            .order_by(Case.id)
            .limit(batch_size)
        )
        if case_ids is not None:
            query = query.where(Case.id.in_(list(case_ids)))
        if last_id is not None:
            query = query.where(Case.id > last_id)
        rows = session.execute(query).all()
        if not rows:
            return
        last_id = rows[-1].id
        yield _schedules(session, policy, rows, as_of)
        if len(rows) < batch_size:
            return


def case_schedule(
    session: Session, policy: RetentionPolicy, workflow: Workflow, case_id: uuid.UUID, as_of: date
) -> CaseSchedule | None:
    """One case's schedule; none while the case is not finished."""
    for batch in iter_schedules(session, policy, workflow, as_of=as_of, case_ids=[case_id]):
        return batch[0] if batch else None
    return None


def _schedules(
    session: Session, policy: RetentionPolicy, rows: Sequence[Any], as_of: date
) -> list[CaseSchedule]:
    ids = [row.id for row in rows]
    decided = dict(
        session.execute(
            sa.select(CaseEvent.case_id, sa.func.max(CaseEvent.occurred_at))
            .where(among_ids(session, CaseEvent.case_id, ids), CaseEvent.to_state == DECIDED_STATE)
            .group_by(CaseEvent.case_id)
        ).all()
    )
    extended = set(
        session.scalars(
            sa.select(RetentionExtension.case_id).where(
                among_ids(session, RetentionExtension.case_id, ids)
            )
        )
    )
    holds: dict[uuid.UUID, Hold] = {}
    for hold in session.execute(
        sa.select(
            RetentionHold.case_id,
            RetentionHold.id,
            RetentionHold.reason,
            RetentionHold.until,
            RetentionHold.placed_at,
        )
        .where(
            among_ids(session, RetentionHold.case_id, ids),
            RetentionHold.lifted_at.is_(None),
            sa.or_(RetentionHold.until.is_(None), RetentionHold.until >= as_of),
        )
        .order_by(RetentionHold.placed_at)
    ):
        holds.setdefault(hold.case_id, Hold(hold.id, hold.reason, hold.until, hold.placed_at))
    references = [row.reference for row in rows]
    redacted = {
        (subject, rule)
        for subject, rule in session.execute(
            sa.select(LedgerEntry.subject, LedgerEntry.rule).where(
                LedgerEntry.subject.in_(references),
                LedgerEntry.action == LedgerAction.REDACTED,
            )
        )
    }
    schedules = []
    for row in rows:
        items = []
        for rule in policy.case_rules(row.route, row.state, row.outcome):
            if rule.action is Action.REDACT and (row.reference, rule.name) in redacted:
                continue
            start = _start(rule, row, decided.get(row.id))
            starts_on = local_date(start)
            due_on = add_period(starts_on, rule.period)
            is_extended = row.id in extended and rule.extension is not None
            if is_extended:
                due_on = add_period(due_on, rule.extension)  # type: ignore[arg-type]
            items.append(
                Scheduled(
                    case_id=row.id,
                    reference=row.reference,
                    route=row.route,
                    state=row.state,
                    outcome=row.outcome,
                    rule=rule,
                    starts_on=starts_on,
                    due_on=due_on,
                    extended=is_extended,
                    hold=holds.get(row.id),
                )
            )
        items.sort(key=lambda item: (item.due_on, item.action is Action.DESTROY))
        schedules.append(CaseSchedule(row.id, row.reference, tuple(items)))
    return schedules


def _start(rule: Rule, row: Any, decided_at: datetime | None) -> datetime:
    closed_at: datetime = row.closed_at or row.updated_at
    filed_at: datetime = row.submitted_at
    match rule.counts_from:
        case CountsFrom.DECIDED:
            return decided_at or closed_at
        case CountsFrom.LAST_ACTIVITY:
            updated_at: datetime = row.updated_at
            return max(updated_at, closed_at)
        case CountsFrom.FILED:
            return filed_at
        case _:
            return closed_at
