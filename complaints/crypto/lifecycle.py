"""The key lifecycle that ends: rotate, rewrap, retire, and destroy after the backup horizon.

A case's data key is only ever stored wrapped. A copy of the database (a file copy, a dump, a
base backup, a WAL archive, a freed page) keeps the slot as it was wrapped at the time of the
copy. Such a copy can be read for as long as the key that wrapped the slot exists. So every key
must end:

- the active KEK is replaced once it is ``kek_rotation_days`` old, and every slot is rewrapped
  under the new one at once (slots under an epoch key stay there);
- a KEK whose last slot has left it is retired, and the moment is recorded in the key store;
- a retired KEK is destroyed ``backup_retention_days`` after that moment: by then every backup
  made while a slot still used it has itself been deleted (docs/operations.md keeps backups
  exactly that long), and a backup older than that can no longer be restored, by design;
- an epoch key is destroyed by the rule of ``retention/epochs.py`` (its day swept, no slot
  uses it), without waiting: copies made after a case went under it must die with the case.

Hence docs/keys.md's guarantee: a destroyed case cannot be decrypted from any copy later than
``kek_rotation_days + backup_retention_days`` after its destruction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.audit.models import AuditEvent
from complaints.audit.services import Actor, record_event
from complaints.crypto.keystore import KekInfo, KekStatus, KeyStore, epoch_last_day
from complaints.crypto.models import KeySlot
from complaints.crypto.services import create_active_kek, retire_unused_keks, rewrap_all
from complaints.retention.epochs import destroy_swept_epochs, slots_using, swept_epochs
from complaints.retention.ledger import KEK_RULE, destroy_key

# How many case ids a refusal names; the count says how many more there are.
NAMED_SLOTS = 20


@dataclass(frozen=True)
class KeyLifecycle:
    """Where one key stands, and when it will be destroyed (None: never while a slot uses
    it, or not decided yet for the active key)."""

    key_id: str
    status: KekStatus
    created_at: str
    released_at: str | None
    destroyed_at: str | None
    slots: int
    rotates_on: date | None = None  # the active key only
    destroyed_on: date | None = None


@dataclass(frozen=True)
class KeyInUse:
    """A key due for destruction that slots still use: it is kept, and the run fails."""

    key_id: str
    slots: int
    case_ids: tuple[str, ...]  # at most NAMED_SLOTS of them


@dataclass
class MaintenanceReport:
    as_of: datetime
    rotated_to: str | None = None
    rewrapped: int = 0
    retired: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    destroyed: list[str] = field(default_factory=list)
    in_use: list[KeyInUse] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.in_use


def _day(moment: str) -> date:
    return datetime.fromisoformat(moment).date()


def _slot_counts(session: Session) -> dict[str, int]:
    rows = session.execute(sa.select(KeySlot.key_id, sa.func.count()).group_by(KeySlot.key_id))
    return {key_id: int(count) for key_id, count in rows}


def key_lifecycle(
    session: Session,
    keys: KeyStore,
    *,
    as_of: date,
    rotation_days: int,
    backup_retention_days: int,
) -> list[KeyLifecycle]:
    """Every key in the store with its state and the day it will be destroyed (or rotated).

    The one place that says when a key ends; ``maintain_keys`` acts on exactly these days."""
    counts = _slot_counts(session)
    retention = timedelta(days=backup_retention_days)
    return [
        _lifecycle(info, counts.get(info.key_id, 0), as_of, rotation_days, retention)
        for info in keys.keks()
    ]


def _lifecycle(
    info: KekInfo, slots: int, as_of: date, rotation_days: int, retention: timedelta
) -> KeyLifecycle:
    rotates_on = destroyed_on = None
    if info.status is KekStatus.ACTIVE:
        rotates_on = _day(info.created_at) + timedelta(days=rotation_days)
    elif info.status is KekStatus.RETIRED and not slots:
        # Not recorded yet (a store from before this was recorded): the next run records today.
        released = _day(info.released_at) if info.released_at else as_of
        destroyed_on = released + retention
    elif info.status is KekStatus.EPOCH:
        # The sweep of its day destroys its cases and then the key (or the next run does).
        destroyed_on = max(epoch_last_day(info.key_id), as_of)
    elif info.status is KekStatus.DESTROYED and info.destroyed_at:
        destroyed_on = _day(info.destroyed_at)
    return KeyLifecycle(
        info.key_id,
        info.status,
        info.created_at,
        info.released_at,
        info.destroyed_at,
        slots,
        rotates_on,
        destroyed_on,
    )


def maintain_keys(
    session: Session,
    keys: KeyStore,
    *,
    as_of: datetime,
    now: datetime,
    actor: Actor,
    rotation_days: int,
    backup_retention_days: int,
    batch_size: int,
    commit: Callable[[], None],
    on_progress: Callable[[int], None] | None = None,
) -> MaintenanceReport:
    """The daily run: rotate the active KEK when it is due, rewrap every slot in committed
    batches, retire what no slot uses, and destroy the keys whose day has come.

    ``as_of`` is the moment the lifecycle is judged at and dated with in the key store (a
    rehearsal runs it ahead); ``now`` dates the audit events and ledger rows. Idempotent, and
    safe to kill at any point: every step is committed before the next, and a destruction is
    in the ledger before the key goes (a re-run destroys it without a second row). A key due
    for destruction that a slot still uses is never destroyed: it is named in ``in_use``.
    """
    report = MaintenanceReport(as_of=as_of)
    today = as_of.date()
    active_id = keys.active_kek_id()
    active = next(info for info in keys.keks() if info.key_id == active_id)
    if today >= _day(active.created_at) + timedelta(days=rotation_days):
        report.rotated_to = create_active_kek(session, keys, actor=actor, now=now, created_at=as_of)
        commit()
    elif not _creation_audited(session, active_id):
        # A run killed between making the key and committing its event: record it now.
        record_event(
            session,
            keys,
            actor=actor,
            action="keys.kek_created",
            now=now,
            object_type="kek",
            object_id=active_id,
            details={"recorded_late": True},
        )
        commit()

    before = _slot_counts(session)
    report.rewrapped = rewrap_all(
        session, keys, now=now, batch_size=batch_size, commit=commit, on_progress=on_progress
    )
    report.retired = retire_unused_keks(session, keys, as_of)
    after = _slot_counts(session)
    for info in keys.keks():
        if info.status is not KekStatus.RETIRED or after.get(info.key_id):
            continue
        # Slots that came back (a restored backup) and were rewrapped just now: copies made
        # until now hold them under this key, so its time starts again.
        again = bool(before.get(info.key_id)) and info.key_id not in report.retired
        if info.released_at is None or again:
            keys.mark_released(info.key_id, as_of, again=again)
            report.released.append(info.key_id)

    for item in key_lifecycle(
        session,
        keys,
        as_of=today,
        rotation_days=rotation_days,
        backup_retention_days=backup_retention_days,
    ):
        if item.status is not KekStatus.RETIRED or item.released_at is None:
            continue
        if _day(item.released_at) + timedelta(days=backup_retention_days) > today:
            continue
        if item.slots:
            report.in_use.append(_in_use(session, item.key_id))
            continue
        destroy_key(
            session,
            keys,
            item.key_id,
            rule=KEK_RULE,
            action="keys.kek_destroyed",
            as_of=today,
            now=now,
            actor=actor,
            commit=commit,
        )
        report.destroyed.append(item.key_id)

    # Epoch keys: the retention sweep's rule, applied here too so that a day without a sweep
    # does not keep one; the key of a day before today that slots still use is named, not kept
    # quietly (today's is the sweep's, which may not have run yet).
    yesterday = today - timedelta(days=1)
    for key_id in swept_epochs(keys, yesterday):
        if slots_using(session, key_id):
            report.in_use.append(_in_use(session, key_id))
        else:
            keys.mark_released(key_id, as_of)
    report.destroyed += destroy_swept_epochs(
        session, keys, through=yesterday, as_of=today, now=now, actor=actor, commit=commit
    )

    record_event(
        session,
        keys,
        actor=actor,
        action="keys.maintained",
        now=now,
        object_type="kek",
        object_id=keys.active_kek_id(),
        details={
            "as_of": today.isoformat(),
            "rotated": bool(report.rotated_to),
            "slots": report.rewrapped,
            "retired": ",".join(report.retired),
            "destroyed": ",".join(report.destroyed),
            "in_use": ",".join(item.key_id for item in report.in_use),
        },
    )
    commit()
    return report


def _creation_audited(session: Session, key_id: str) -> bool:
    return (
        session.scalar(
            sa.select(AuditEvent.seq).where(
                AuditEvent.object_type == "kek",
                AuditEvent.object_id == key_id,
                AuditEvent.action.in_(["keys.kek_created", "keys.initialised"]),
            )
        )
        is not None
    )


def _in_use(session: Session, key_id: str) -> KeyInUse:
    case_ids = session.scalars(
        sa.select(KeySlot.case_id)
        .where(KeySlot.key_id == key_id)
        .order_by(KeySlot.case_id)
        .limit(NAMED_SLOTS)
    ).all()
    return KeyInUse(key_id, slots_using(session, key_id), tuple(str(c) for c in case_ids))
