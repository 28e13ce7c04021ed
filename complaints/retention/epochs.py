"""Crypto-shredding that reaches backups: epoch keys per day of destruction.

A finished case's data key is rewrapped under the epoch key of the day on which it is due to
be destroyed (or under the active KEK while a legal hold stands, so that no day's key decides
its fate). The sweep of that day destroys the day's cases and then, no slot using it any more,
the day's key: a copy of the database made after the rewrap holds those cases' data keys
wrapped by a key that no longer exists anywhere from the moment the cases are destroyed. Only
a copy made before the rewrap, under a KEK, stays readable until that KEK is destroyed too
(``complaints.crypto.lifecycle``).

Stores from before day keys may hold keys of a whole month ("epoch-2028-11"); they are kept
until their month's last sweep, and the next sweep moves their cases to day keys.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.audit.services import Actor
from complaints.crypto.keystore import KekStatus, KeyStore, epoch_last_day
from complaints.crypto.models import KeySlot
from complaints.crypto.services import rewrap_cases
from complaints.retention.ledger import EPOCH_RULE, destroy_key
from complaints.retention.schedule import CaseSchedule


def place_in_epochs(
    session: Session,
    keys: KeyStore,
    schedules: Iterable[CaseSchedule],
    *,
    as_of: date,
    now: datetime,
) -> int:
    """Rewrap each case's slot under the epoch key of its day of destruction, or under the
    active KEK while it is held.

    A case whose destruction is due already (a sweep catching up, or due today) goes under
    today's key: the sweep commits this placement before it destroys the case, so a copy of
    the database taken in between holds the slot under a key that this same sweep destroys,
    not under a long-lived KEK."""
    targets: dict[uuid.UUID, str | None] = {}
    epoch_ids: dict[date, str] = {}
    for schedule in schedules:
        if schedule.destruction is None:
            continue
        day = schedule.epoch_day
        if day is None:
            targets[schedule.case_id] = None
            continue
        # A day already swept has no key any more; today's will do.
        day = max(day, as_of)
        if day not in epoch_ids:
            epoch_ids[day] = keys.epoch_kek(day, now)
        targets[schedule.case_id] = epoch_ids[day]
    return rewrap_cases(session, keys, targets, now, skip_destroyed=True)


def destroy_swept_epochs(
    session: Session,
    keys: KeyStore,
    *,
    through: date,
    as_of: date,
    now: datetime,
    actor: Actor,
    commit: Callable[[], None],
) -> list[str]:
    """Destroy the epoch keys of days up to ``through`` that no slot uses any more.

    The ledger row and the audit event are committed first, then the key is destroyed: if
    that fails, the next sweep destroys it (and does not write a second row)."""
    destroyed = []
    for key_id in swept_epochs(keys, through):
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


def swept_epochs(keys: KeyStore, through: date) -> list[str]:
    """The epoch keys still in the store whose last day is ``through`` or earlier: the sweep
    of that day has destroyed every case due then, so none should need the key."""
    return [
        info.key_id
        for info in keys.keks()
        if info.status is KekStatus.EPOCH and epoch_last_day(info.key_id) <= through
    ]


def slots_using(session: Session, key_id: str) -> int:
    """How many key slots, of any kind, are wrapped by ``key_id``."""
    return (
        session.scalar(
            sa.select(sa.func.count()).select_from(KeySlot).where(KeySlot.key_id == key_id)
        )
        or 0
    )
