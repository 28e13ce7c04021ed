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

from complaints.audit.services import Actor
from complaints.crypto.keystore import EPOCH_PREFIX, KekStatus, KeyStore
from complaints.crypto.models import KeySlot
from complaints.crypto.services import rewrap_cases
from complaints.retention.ledger import EPOCH_RULE, destroy_key
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
    active KEK while it is held.

    A case whose destruction is due already (a sweep catching up, or due today) goes under the
    current month's key too: the sweep commits this placement before it destroys the case, so
    a copy of the database taken in between holds the slot under a key that is destroyed once
    the month is over, not under a long-lived KEK."""
    current = month_of(as_of)
    targets: dict[uuid.UUID, str | None] = {}
    epoch_ids: dict[str, str] = {}
    for schedule in schedules:
        if schedule.destruction is None:
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
    destroyed = []
    for key_id in swept_epochs(keys, as_of):
        if slots_using(session, key_id):
            continue
        destroy_key(
            session,
            keys,
            key_id,
            rule=EPOCH_RULE,
            action="retention.epoch_key_destroyed",
            as_of=as_of,
            now=now,
            actor=actor,
            commit=commit,
        )
        destroyed.append(key_id)
    return destroyed


def swept_epochs(keys: KeyStore, as_of: date) -> list[str]:
    """The epoch keys still in the store whose month is over by ``as_of``: every case due in
    that month has been destroyed by a sweep on its day, so none should need the key."""
    current = month_of(as_of)
    return [
        info.key_id
        for info in keys.keks()
        if info.status is KekStatus.EPOCH and info.key_id.removeprefix(EPOCH_PREFIX) < current
    ]


def slots_using(session: Session, key_id: str) -> int:
    """How many key slots, of any kind, are wrapped by ``key_id``."""
    return (
        session.scalar(
            sa.select(sa.func.count()).select_from(KeySlot).where(KeySlot.key_id == key_id)
        )
        or 0
    )
