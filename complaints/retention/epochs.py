"""Crypto-shredding that reaches backups: epoch keys per month of destruction.

A finished case's data key is rewrapped under the epoch key of the month in which it is due to
be destroyed (or under the active KEK while a legal hold stands, so that no month's key decides
its fate). Once a month has passed and the sweep has destroyed its cases, no slot uses its
epoch key any more and the key is destroyed in the key store: a database backup made after the
rewrap holds those cases' data keys wrapped by a key that no longer exists anywhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.audit.services import Actor, record_event
from complaints.crypto.keystore import EPOCH_PREFIX, KekStatus, KeyStore
from complaints.crypto.models import KeySlot
from complaints.crypto.services import rewrap_cases
from complaints.retention.ledger import EPOCH_RULE, KEY_CATEGORY, write_entry
from complaints.retention.models import LedgerAction, LedgerEntry
from complaints.retention.schedule import CaseSchedule


def month_of(day: date) -> str:
    return f"{day:%Y-%m}"


def place_in_epochs(
    session: Session,
    keys: KeyStore,
    schedules: Iterable[CaseSchedule],
    *,
    as_of: date,
    now: datetime,
) -> int:
    """Rewrap each case's slot under the epoch key of its destruction month, or under the
    active KEK while it is held. Cases whose destruction is due now are left to the sweep."""
    current = month_of(as_of)
    targets: dict[uuid.UUID, str | None] = {}
    epoch_ids: dict[str, str] = {}
    for schedule in schedules:
        destruction = schedule.destruction
        if destruction is None or destruction.is_due(as_of):
            continue
        month = schedule.epoch_month
        if month is None:
            targets[schedule.case_id] = None
            continue
        # A month already swept has no key any more; the current month's will do.
        month = max(month, current)
        if month not in epoch_ids:
            epoch_ids[month] = keys.epoch_kek(month, now)
        targets[schedule.case_id] = epoch_ids[month]
    return rewrap_cases(session, keys, targets, now, skip_destroyed=True)


def destroy_swept_epochs(
    session: Session,
    keys: KeyStore,
    *,
    as_of: date,
    now: datetime,
    actor: Actor,
    commit: Callable[[], None],
) -> list[str]:
    """Destroy the epoch keys of months before ``as_of``'s that no slot uses any more.

    The ledger row and the audit event are committed first, then the key is destroyed: if
    that fails, the next sweep destroys it (and does not write a second row)."""
    current = month_of(as_of)
    destroyed = []
    for info in keys.keks():
        if info.status is not KekStatus.EPOCH:
            continue
        if info.key_id.removeprefix(EPOCH_PREFIX) >= current:
            continue
        in_use = session.scalar(
            sa.select(sa.func.count()).select_from(KeySlot).where(KeySlot.key_id == info.key_id)
        )
        if in_use:
            continue
        recorded = session.scalar(
            sa.select(LedgerEntry.id).where(
                LedgerEntry.category == KEY_CATEGORY,
                LedgerEntry.subject == info.key_id,
                LedgerEntry.action == LedgerAction.KEY_DESTROYED,
            )
        )
        if recorded is None:
            write_entry(
                session,
                now=now,
                as_of=as_of,
                category=KEY_CATEGORY,
                subject=info.key_id,
                rule=EPOCH_RULE,
                action=LedgerAction.KEY_DESTROYED,
                records={"epoch_keys": 1},
            )
            record_event(
                session,
                keys,
                actor=actor,
                action="retention.epoch_key_destroyed",
                now=now,
                object_type="kek",
                object_id=info.key_id,
            )
            commit()
        keys.destroy_kek(info.key_id, now)
        destroyed.append(info.key_id)
    return destroyed
