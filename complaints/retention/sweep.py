"""The retention sweep: destroy or redact what the policy says is due, and the plan of what will be.

A batch of finished cases is two transactions: their slots are first rewrapped under the epoch key
of the day they fall due (see ``epochs``; a case due already goes under today's)
and that commits, then each due case is destroyed or redacted whole, with its ledger row and
audit event, and the batch commits. A sweep killed halfway therefore
leaves every case either untouched or completely done, and running it again finishes the rest
(a destroyed case is gone, a redaction already in the ledger is not scheduled again).

Destruction deletes the key slots first (crypto-shredding), then every row that belongs to the
case (its check-ins too, due or not: they never keep a case longer), then the case.
Statistics never refer to cases and stay as they are.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute, Session

from complaints.accounts.models import StaffSession
from complaints.audit.models import AuditCheckpoint, AuditEvent
from complaints.audit.services import (
    PRUNED_ACTION,
    Actor,
    NewEvent,
    record_event,
    record_events,
)
from complaints.cases.models import (
    Attachment,
    Case,
    CaseAccessGrant,
    CaseDocument,
    CaseEvent,
    CaseNote,
    CaseParty,
    Consent,
    Deadline,
    Message,
    PartyKind,
)
from complaints.checkins.models import CheckIn
from complaints.crypto.keystore import EPOCH_PREFIX, KeyStore
from complaints.crypto.models import KeySlot
from complaints.db import among_ids
from complaints.followup.models import ComplainantSession
from complaints.intake.models import DraftAttachment, IntakeDraft
from complaints.notify.models import Notification, NotificationStatus
from complaints.retention.epochs import destroy_swept_epochs, place_in_epochs
from complaints.retention.ledger import write_entries, write_entry
from complaints.retention.models import (
    LedgerAction,
    RetentionExtension,
    RetentionHold,
    RetentionReminder,
)
from complaints.retention.policy import Action, Category, RetentionPolicy, Rule
from complaints.retention.schedule import CaseSchedule, Scheduled, iter_schedules
from complaints.workflow.config import Period, Workflow
from complaints.workflow.services import AMSTERDAM, add_period, local_date

DEFAULT_PLAN_DAYS = 90
# In a destroyed case's ledger row: how many of its key slots were under an epoch key.
EPOCH_SLOTS = "key_slots_under_epoch_key"

# Every table that holds a case's rows, in the order destruction deletes them: the key slots
# first, so that from the first statement on nothing of the case can be decrypted.
CASE_TABLES: tuple[Any, ...] = (
    KeySlot,
    CaseParty,
    CaseEvent,
    Deadline,
    Attachment,
    # Before the messages it names (the foreign key would clear them anyway).
    CheckIn,
    Message,
    Consent,
    CaseNote,
    CaseDocument,
    CaseAccessGrant,
    ComplainantSession,
    RetentionHold,
    RetentionExtension,
    RetentionReminder,
    # Its e-mails, sent or not: their parameters name the case.
    Notification,
)

# Every table the sweep deletes from or rewrites: what is vacuumed or checkpointed after it.
SWEPT_TABLES: tuple[str, ...] = (
    *(model.__tablename__ for model in CASE_TABLES),
    Case.__tablename__,
    IntakeDraft.__tablename__,
    DraftAttachment.__tablename__,
    StaffSession.__tablename__,
    AuditEvent.__tablename__,
)

# What each redactable field clears: columns of the case row set to NULL, and child rows
# deleted or cleared. Keys match policy.REDACTABLE_FIELDS.
_CASE_COLUMNS: dict[str, tuple[InstrumentedAttribute[Any], ...]] = {
    "complainant": (Case.complainant, Case.complainant_index),
    "receipt": (Case.receipt_index,),
    "description": (Case.description,),
    "incident": (Case.incident_period, Case.incident_place),
    "desired_outcome": (Case.desired_outcome,),
}
_DELETED_ROWS: dict[str, tuple[Any, tuple[sa.ColumnElement[bool], ...]]] = {
    "receipt": (ComplainantSession, ()),
    "parties": (CaseParty, ()),
    "witnesses": (CaseParty, (CaseParty.kind == PartyKind.WITNESS,)),
    "attachments": (Attachment, ()),
    "messages": (Message, ()),
    "notes": (CaseNote, ()),
    "documents": (CaseDocument, ()),
}
_CLEARED_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "remarks": CaseEvent.remark,
    "consent_details": Consent.details,
}


@dataclass
class SweepReport:
    """What one sweep did; counts only."""

    as_of: date
    cases_destroyed: int = 0
    cases_redacted: int = 0  # redactions applied (a case may have more than one rule)
    held: int = 0  # actions due but suspended by a legal hold
    rewrapped: int = 0  # slots placed under an epoch key (or back under the active key)
    batches: int = 0
    # Other categories and the records of destroyed cases: kind of record -> count.
    records: Counter[str] = field(default_factory=Counter)
    epoch_keys_destroyed: list[str] = field(default_factory=list)


def apply(
    session: Session,
    policy: RetentionPolicy,
    workflow: Workflow,
    keys: KeyStore,
    *,
    as_of: date,
    now: datetime,
    actor: Actor,
    batch_size: int,
    commit: Callable[[], None],
    on_batch: Callable[[SweepReport], None] | None = None,
) -> SweepReport:
    """Carry out the policy as of ``as_of``: cases in committed batches, then the other
    categories, then the epoch keys of the days that are swept. Safe to run again at any time."""
    report = SweepReport(as_of=as_of)
    for schedules in iter_schedules(session, policy, workflow, as_of=as_of, batch_size=batch_size):
        report.rewrapped += place_in_epochs(session, keys, schedules, as_of=as_of, now=now)
        # Placed for good before anything is destroyed: a copy taken between the two has the
        # slots of this batch under an epoch key, never only under the active KEK.
        commit()
        _sweep_cases(session, keys, schedules, as_of=as_of, now=now, actor=actor, report=report)
        commit()
        report.batches += 1
        if on_batch is not None:
            on_batch(report)
    for category in (Category.DRAFT, Category.SESSION, Category.NOTIFICATION):
        _sweep_category(
            session, keys, policy.destroy_rule(category), as_of=as_of, now=now, actor=actor,
            report=report,
        )  # fmt: skip
        commit()
    _prune_audit(
        session, keys, policy.destroy_rule(Category.AUDIT), as_of=as_of, now=now, actor=actor,
        report=report,
    )  # fmt: skip
    commit()
    # Today's key too: every case due today has just been destroyed.
    report.epoch_keys_destroyed = destroy_swept_epochs(
        session, keys, through=as_of, as_of=as_of, now=now, actor=actor, commit=commit
    )
    commit()
    return report


# Cases -------------------------------------------------------------------------------------


def _sweep_cases(
    session: Session,
    keys: KeyStore,
    schedules: Sequence[CaseSchedule],
    *,
    as_of: date,
    now: datetime,
    actor: Actor,
    report: SweepReport,
) -> None:
    destroy: list[Scheduled] = []
    redact: dict[str, list[Scheduled]] = defaultdict(list)
    for schedule in schedules:
        report.held += sum(
            1 for item in schedule.items if item.hold is not None and item.due_on <= as_of
        )
        due = [item for item in schedule.items if item.is_due(as_of)]
        destruction = next((item for item in due if item.action is Action.DESTROY), None)
        if destruction is not None:
            # Destruction takes everything; a redaction due on the same day is not separate.
            destroy.append(destruction)
            continue
        for item in due:
            redact[item.rule.name].append(item)
    if destroy:
        _destroy_cases(session, keys, destroy, as_of=as_of, now=now, actor=actor, report=report)
    for items in redact.values():
        _redact_cases(session, keys, items, as_of=as_of, now=now, actor=actor, report=report)


def _destroy_cases(
    session: Session,
    keys: KeyStore,
    items: Sequence[Scheduled],
    *,
    as_of: date,
    now: datetime,
    actor: Actor,
    report: SweepReport,
) -> None:
    ids = [item.case_id for item in items]
    counts: dict[uuid.UUID, Counter[str]] = {case_id: Counter() for case_id in ids}
    # The ledger says which slots went from under an epoch key (placed before this batch),
    # so that a copy of the database from before destruction is known to be covered by it.
    for case_id in session.scalars(
        sa.select(KeySlot.case_id).where(
            among_ids(session, KeySlot.case_id, ids), KeySlot.key_id.startswith(EPOCH_PREFIX)
        )
    ):
        counts[case_id][EPOCH_SLOTS] += 1
    for model in CASE_TABLES:
        _delete_counted(session, _table(model), model.case_id, ids, counts)
    _delete_counted(session, _table(Case), Case.id, ids, counts)
    # Objects this session may hold for these rows are stale now.
    session.expire_all()
    done = []
    for item in items:
        records = dict(counts[item.case_id])
        if not records.get(Case.__tablename__):
            continue  # gone already: another sweep destroyed it
        done.append((item, records))
        report.cases_destroyed += 1
        report.records.update(records)
    _record_cases(session, keys, done, LedgerAction.DESTROYED, as_of=as_of, now=now, actor=actor)


def _redact_cases(
    session: Session,
    keys: KeyStore,
    items: Sequence[Scheduled],
    *,
    as_of: date,
    now: datetime,
    actor: Actor,
    report: SweepReport,
) -> None:
    """Apply one redact rule to several cases: the fields go, the skeleton stays."""
    rule = items[0].rule
    ids = [item.case_id for item in items]
    counts: dict[uuid.UUID, Counter[str]] = {case_id: Counter() for case_id in ids}
    for name in rule.fields:
        for column in _CASE_COLUMNS.get(name, ()):
            _clear_counted(session, _table(Case).c[column.key], Case.id, ids, counts, name)
        if name in _DELETED_ROWS:
            model, conditions = _DELETED_ROWS[name]
            _delete_counted(session, _table(model), model.case_id, ids, counts, *conditions)
        if name in _CLEARED_COLUMNS:
            column = _CLEARED_COLUMNS[name]
            owner = column.class_
            _clear_counted(session, _table(owner).c[column.key], owner.case_id, ids, counts, name)
    session.expire_all()
    done = [(item, dict(counts[item.case_id])) for item in items]
    _record_cases(session, keys, done, LedgerAction.REDACTED, as_of=as_of, now=now, actor=actor)
    report.cases_redacted += len(done)


def _table(model: Any) -> sa.Table:
    return cast(sa.Table, model.__table__)


def _delete_counted(
    session: Session,
    table: sa.Table,
    case_column: InstrumentedAttribute[Any],
    ids: list[uuid.UUID],
    counts: dict[uuid.UUID, Counter[str]],
    *conditions: sa.ColumnElement[bool],
) -> None:
    """Delete the rows of ``table`` that belong to the cases, counting them per case."""
    key = table.c[case_column.key]
    deleted = session.execute(
        sa.delete(table).where(among_ids(session, key, ids), *conditions).returning(key)
    ).scalars()
    for case_id in deleted:
        counts[case_id][table.name] += 1


def _clear_counted(
    session: Session,
    column: sa.Column[Any],
    case_column: InstrumentedAttribute[Any],
    ids: list[uuid.UUID],
    counts: dict[uuid.UUID, Counter[str]],
    name: str,
) -> None:
    """Set ``column`` to NULL where it holds something, counting the rows per case under
    ``name`` (a case column cleared counts once per field)."""
    table = column.table
    key = table.c[case_column.key]
    cleared = session.execute(
        sa.update(table)
        .where(among_ids(session, key, ids), column.is_not(None))
        .values({column.name: None})
        .returning(key)
    ).scalars()
    for case_id in cleared:
        counts[case_id][name] += 1
    if table.name == Case.__tablename__:
        # Two columns of one field (incident: period and place) are one field cleared.
        for case_id in ids:
            if counts[case_id][name] > 1:
                counts[case_id][name] = 1


def _record_cases(
    session: Session,
    keys: KeyStore,
    done: Sequence[tuple[Scheduled, dict[str, int]]],
    action: str,
    *,
    as_of: date,
    now: datetime,
    actor: Actor,
) -> None:
    """A ledger row and an audit event per case: the reference and the rule, no content."""
    if not done:
        return
    write_entries(
        session,
        now=now,
        as_of=as_of,
        category=Category.CASE.value,
        action=action,
        entries=[(item.reference, item.rule.name, records) for item, records in done],
    )
    record_events(
        session,
        keys,
        actor=actor,
        now=now,
        events=[
            NewEvent(
                action=f"retention.case_{action}",
                object_type="case",
                object_id=str(item.case_id),
                details={"reference": item.reference, "rule": item.rule.name},
            )
            for item, _records in done
        ],
    )


# Other categories --------------------------------------------------------------------------


def cutoff(as_of: date, period: Period) -> datetime:
    """Records whose moment is before this are due on ``as_of`` under a rule of ``period``: the
    same day arithmetic as for cases (the day of the moment plus the period is ``as_of``)."""
    last_due_day = add_period(
        as_of, Period(days=-period.days, weeks=-period.weeks, months=-period.months)
    )
    return datetime.combine(last_due_day + timedelta(days=1), time(), tzinfo=AMSTERDAM)


def _sweep_category(
    session: Session,
    keys: KeyStore,
    rule: Rule,
    *,
    as_of: date,
    now: datetime,
    actor: Actor,
    report: SweepReport,
) -> None:
    before = cutoff(as_of, rule.period)
    records: dict[str, int] = {}
    if rule.category is Category.DRAFT:
        # Last activity long enough ago, and expired: nobody can be writing it any more.
        drafts = sa.select(IntakeDraft.id).where(
            IntakeDraft.updated_at < before, IntakeDraft.expires_at <= now
        )
        records[DraftAttachment.__tablename__] = _delete_count(
            session, sa.delete(DraftAttachment).where(DraftAttachment.draft_id.in_(drafts))
        )
        records[IntakeDraft.__tablename__] = _delete_count(
            session, sa.delete(IntakeDraft).where(IntakeDraft.id.in_(drafts))
        )
    elif rule.category is Category.SESSION:
        # Only sessions that ended (logged out, revoked or expired), never a live one.
        for model in (StaffSession, ComplainantSession):
            records[model.__tablename__] = _delete_count(
                session,
                sa.delete(model).where(
                    model.last_seen_at < before,
                    sa.or_(model.revoked_at.is_not(None), model.expires_at <= now),
                ),
            )
    elif rule.category is Category.NOTIFICATION:
        # Pending e-mails are still to be sent.
        records[Notification.__tablename__] = _delete_count(
            session,
            sa.delete(Notification).where(
                Notification.created_at < before,
                Notification.status.in_([NotificationStatus.SENT, NotificationStatus.FAILED]),
            ),
        )
    records = {kind: count for kind, count in records.items() if count}
    if records:
        _record_bulk(session, keys, rule, records, as_of=as_of, now=now, actor=actor)
        report.records.update(records)


def _delete_count(session: Session, statement: sa.Delete) -> int:
    result = session.execute(statement.execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


def _prune_audit(
    session: Session,
    keys: KeyStore,
    rule: Rule,
    *,
    as_of: date,
    now: datetime,
    actor: Actor,
    report: SweepReport,
) -> None:
    """Delete the oldest audit events, from the start of the chain, up to the first one that
    is to be kept. A checkpoint records where the chain now starts; the event that records the
    pruning names that checkpoint, inside the chain, so a later change to it is found too."""
    # Never later than the clock allows: with ``as_of`` ahead of the clock (a preview, a test)
    # the events this very sweep writes would otherwise be old enough to go on the next run.
    before = min(cutoff(as_of, rule.period), cutoff(local_date(now), rule.period))
    first_kept = session.scalar(
        sa.select(sa.func.min(AuditEvent.seq)).where(AuditEvent.occurred_at >= before)
    )
    last_old = session.execute(
        sa.select(AuditEvent.seq, AuditEvent.hash)
        .where(AuditEvent.occurred_at < before)
        .where(AuditEvent.seq < first_kept if first_kept is not None else sa.true())
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()
    if last_old is None:
        return
    # Recorded first, so the chain keeps a head even when every older event goes.
    record_event(
        session,
        keys,
        actor=actor,
        action=PRUNED_ACTION,
        now=now,
        object_type="audit",
        details={"through_seq": last_old.seq, "hash": last_old.hash, "rule": rule.name},
    )
    session.add(AuditCheckpoint(through_seq=last_old.seq, hash=last_old.hash, created_at=now))
    deleted = _delete_count(session, sa.delete(AuditEvent).where(AuditEvent.seq <= last_old.seq))
    records = {AuditEvent.__tablename__: deleted}
    write_entry(
        session,
        now=now,
        as_of=as_of,
        category=Category.AUDIT.value,
        subject=None,
        rule=rule.name,
        action=LedgerAction.DESTROYED,
        records=records,
    )
    report.records.update(records)


def _record_bulk(
    session: Session,
    keys: KeyStore,
    rule: Rule,
    records: dict[str, int],
    *,
    as_of: date,
    now: datetime,
    actor: Actor,
) -> None:
    write_entry(
        session,
        now=now,
        as_of=as_of,
        category=rule.category.value,
        subject=None,
        rule=rule.name,
        action=LedgerAction.DESTROYED,
        records=records,
    )
    record_event(
        session,
        keys,
        actor=actor,
        action="retention.records_destroyed",
        now=now,
        object_type=rule.category.value,
        details={"rule": rule.name, **records},
    )


# The plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanEntry:
    """One action in the plan: no content, only what the privacy officer needs to see."""

    reference: str
    rule: str
    action: Action
    due_on: date
    held: bool
    hold_until: date | None
    extended: bool


def plan(
    session: Session,
    policy: RetentionPolicy,
    workflow: Workflow,
    *,
    as_of: date,
    days: int = DEFAULT_PLAN_DAYS,
    batch_size: int = 1000,
) -> list[PlanEntry]:
    """What falls due up to ``as_of`` + ``days`` (overdue included), and every held case; by
    due date."""
    entries = list(
        iter_plan(session, policy, workflow, as_of=as_of, days=days, batch_size=batch_size)
    )
    return sorted(entries, key=lambda e: (e.due_on, e.reference, e.action is Action.DESTROY))


def iter_plan(
    session: Session,
    policy: RetentionPolicy,
    workflow: Workflow,
    *,
    as_of: date,
    days: int = DEFAULT_PLAN_DAYS,
    batch_size: int = 1000,
) -> Iterator[PlanEntry]:
    horizon = as_of + timedelta(days=days)
    for schedules in iter_schedules(session, policy, workflow, as_of=as_of, batch_size=batch_size):
        for schedule in schedules:
            yield from _plan_items(schedule.items, horizon)


def _plan_items(items: Iterable[Scheduled], horizon: date) -> Iterator[PlanEntry]:
    for item in items:
        if item.hold is None and item.due_on > horizon:
            continue
        yield PlanEntry(
            reference=item.reference,
            rule=item.rule.name,
            action=item.action,
            due_on=item.due_on,
            held=item.hold is not None,
            hold_until=item.hold.until if item.hold is not None else None,
            extended=item.extended,
        )
