"""Case data keys in key slots, and key rotation.

A case's data key (DEK) exists in the database only wrapped by a KEK from the key store.
Rotating the KEK rewraps the slots; no field is ever re-encrypted for a rotation.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Session

from complaints.audit.services import Actor, record_event
from complaints.crypto.blind_index import BlindIndexer
from complaints.crypto.envelope import FieldCipher, new_data_key
from complaints.crypto.keystore import (
    EPOCH_PREFIX,
    KekStatus,
    KeyStore,
    LocalKeyStore,
    UnknownKey,
    WrappedKey,
)
from complaints.crypto.models import KeySlot, KeySlotKind
from complaints.settings import Settings

STORE_HOLDER = "store"


class MissingCaseKey(LookupError):
    """The case has no key slot the server can open (destroyed by retention, or never made)."""


def open_keystore(settings: Settings) -> KeyStore:
    """The key store named by the settings. Opening reads nothing; ``check()`` does."""
    return LocalKeyStore(settings.resolved_keystore_path)


def init_app(app: Flask, keys: KeyStore) -> None:
    app.extensions["complaints.keystore"] = keys
    app.extensions["complaints.indexer"] = BlindIndexer(keys)


def keystore() -> KeyStore:
    keys: KeyStore = current_app.extensions["complaints.keystore"]
    return keys


def indexer() -> BlindIndexer:
    blind: BlindIndexer = current_app.extensions["complaints.indexer"]
    return blind


def _slot_context(case_id: uuid.UUID) -> bytes:
    return f"key_slots:{case_id}".encode()


def issue_case_key(
    session: Session, keys: KeyStore, case_id: uuid.UUID, now: datetime
) -> FieldCipher:
    """Give a new case its own data key, stored wrapped in a KEK slot."""
    dek = new_data_key()
    wrapped = keys.wrap(dek, _slot_context(case_id))
    session.add(
        KeySlot(
            case_id=case_id,
            kind=KeySlotKind.KEK,
            holder=STORE_HOLDER,
            key_id=wrapped.key_id,
            wrapped_key=wrapped.blob,
            created_at=now,
        )
    )
    return FieldCipher(dek)


def case_cipher(session: Session, keys: KeyStore, case_id: uuid.UUID) -> FieldCipher:
    """Unwrap the case's data key. Raises MissingCaseKey or an UnwrapFailed/KeyStore error."""
    slot = session.scalar(
        sa.select(KeySlot).where(
            KeySlot.case_id == case_id,
            KeySlot.kind == KeySlotKind.KEK,
            KeySlot.holder == STORE_HOLDER,
        )
    )
    if slot is None:
        raise MissingCaseKey(str(case_id))
    return FieldCipher(
        keys.unwrap(WrappedKey(slot.key_id, slot.wrapped_key), _slot_context(case_id))
    )


@dataclass(frozen=True)
class KeyUsage:
    key_id: str
    status: KekStatus | None  # None: slots refer to a key the store does not hold or can't read
    created_at: str | None
    slots: int


def key_usage(session: Session, keys: KeyStore) -> list[KeyUsage]:
    """Every KEK the store knows or a slot names, with the number of slots wrapped by it."""
    counts = dict(
        session.execute(
            sa.select(KeySlot.key_id, sa.func.count())
            .where(KeySlot.kind == KeySlotKind.KEK)
            .group_by(KeySlot.key_id)
        ).all()
    )
    usage = []
    for info in keys.keks():
        slots = counts.pop(info.key_id, 0)
        status: KekStatus | None = info.status
        if slots and status != KekStatus.DESTROYED and not keys.readable(info.key_id):
            status = None  # listed, but its file is gone or damaged: those cases cannot open
        usage.append(KeyUsage(info.key_id, status, info.created_at, slots))
    usage.extend(KeyUsage(key_id, None, None, count) for key_id, count in sorted(counts.items()))
    return usage


def rewrap_batch(session: Session, keys: KeyStore, now: datetime, batch_size: int) -> int:
    """Rewrap up to ``batch_size`` slots that are not under the active KEK; returns how many.

    Slots under an epoch key stay there: retention put them there so that destroying the
    epoch key reaches the backups (complaints/retention/epochs.py)."""
    return _rewrap_after(session, keys, now, batch_size, after_id=0)[0]


def _rewrap_after(
    session: Session, keys: KeyStore, now: datetime, batch_size: int, after_id: int
) -> tuple[int, int]:
    """Rewrap the next ``batch_size`` slots past ``after_id`` that are not under the active
    KEK; returns how many and the last slot id, where the next batch goes on from (a batch
    that started at the first slot every time would read past every slot done already)."""
    active = keys.active_kek_id()
    slots = session.execute(
        sa.select(KeySlot.id, KeySlot.case_id, KeySlot.key_id, KeySlot.wrapped_key)
        .where(
            KeySlot.id > after_id,
            KeySlot.kind == KeySlotKind.KEK,
            KeySlot.key_id != active,
            ~KeySlot.key_id.startswith(EPOCH_PREFIX),
        )
        .order_by(KeySlot.id)
        .limit(batch_size)
    ).all()
    if not slots:
        return 0, after_id
    updates = []
    for slot in slots:
        context = _slot_context(slot.case_id)
        dek = keys.unwrap(WrappedKey(slot.key_id, slot.wrapped_key), context)
        wrapped = keys.wrap(dek, context)
        updates.append((slot.id, wrapped))
    _store_rewrapped(session, updates, now)
    return len(updates), slots[-1].id


# Three arrays as parameters: the statement stays the same whatever the size of the batch,
# so it is compiled and planned once (a VALUES list of a thousand rows costs more to compile
# than to run).
_UPDATE_SLOTS_FROM_ARRAYS = sa.text(
    "UPDATE key_slots SET key_id = rewrapped.key_id, wrapped_key = rewrapped.blob, "
    "rewrapped_at = :now "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:key_ids AS varchar[]), CAST(:blobs AS bytea[])) "
    "AS rewrapped (slot_id, key_id, blob) "
    "WHERE key_slots.id = rewrapped.slot_id "
    # Said twice so that the planner looks the slots up by id instead of reading them all.
    "AND key_slots.id = ANY(CAST(:ids AS bigint[]))"
)


def _store_rewrapped(
    session: Session, updates: list[tuple[int, WrappedKey]], now: datetime
) -> None:
    """Write rewrapped keys to their slots: on PostgreSQL in one statement for the batch,
    elsewhere one statement per slot."""
    if not updates:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            _UPDATE_SLOTS_FROM_ARRAYS,
            {
                "ids": [slot_id for slot_id, _ in updates],
                "key_ids": [wrapped.key_id for _, wrapped in updates],
                "blobs": [wrapped.blob for _, wrapped in updates],
                "now": now,
            },
        )
        # The statement went past the ORM: slots this session holds must not keep the old
        # wrapping (the bulk update below keeps them in step by itself).
        rewrapped = {slot_id for slot_id, _ in updates}
        for held in list(session.identity_map.values()):
            if not isinstance(held, KeySlot):
                continue
            # The identity, not ``held.id``: reading an expired attribute would load the row.
            identity = sa.inspect(held).identity
            if identity is not None and identity[0] in rewrapped:
                session.expire(held)
        return
    session.execute(
        sa.update(KeySlot),
        [
            {"id": slot_id, "key_id": w.key_id, "wrapped_key": w.blob, "rewrapped_at": now}
            for slot_id, w in updates
        ],
    )


def rewrap_cases(
    session: Session,
    keys: KeyStore,
    targets: Mapping[uuid.UUID, str | None],
    now: datetime,
    *,
    skip_destroyed: bool = False,
) -> int:
    """Rewrap the KEK slots of the given cases under the key named for each (None: the active
    KEK). Slots already there are left alone; returns how many were rewrapped."""
    if not targets:
        return 0
    active = keys.active_kek_id()
    slots = session.execute(
        sa.select(KeySlot.id, KeySlot.case_id, KeySlot.key_id, KeySlot.wrapped_key).where(
            KeySlot.case_id.in_(list(targets)),
            KeySlot.kind == KeySlotKind.KEK,
            KeySlot.holder == STORE_HOLDER,
        )
    ).all()
    updates = []
    for slot in slots:
        wanted = targets[slot.case_id] or active
        if slot.key_id == wanted:
            continue
        context = _slot_context(slot.case_id)
        try:
            dek = keys.unwrap(WrappedKey(slot.key_id, slot.wrapped_key), context)
        except UnknownKey:
            # Under an epoch key destroyed already (a case restored from a backup, say): its
            # content is gone for good; the sweep removes the rows when they fall due.
            if not skip_destroyed:
                raise
            continue
        updates.append((slot.id, keys.wrap(dek, context, key_id=targets[slot.case_id])))
    _store_rewrapped(session, updates, now)
    return len(updates)


@dataclass(frozen=True)
class RotationReport:
    new_key_id: str | None
    rewrapped: int
    retired: list[str]


def rotate_keys(
    session: Session,
    keys: KeyStore,
    *,
    actor: Actor,
    now: datetime,
    batch_size: int,
    create_new: bool = True,
    commit: Callable[[], None],
    on_progress: Callable[[int], None] | None = None,
) -> RotationReport:
    """Make a new KEK active, rewrap every slot to it in committed batches, retire the old KEKs.

    Safe to run again after an interruption (``create_new=False`` only finishes the rewrap):
    each batch commits on its own, and a slot is readable under its old or its new KEK.
    """
    new_key_id = create_active_kek(session, keys, actor=actor, now=now) if create_new else None
    if new_key_id:
        commit()
    total = rewrap_all(
        session, keys, now=now, batch_size=batch_size, commit=commit, on_progress=on_progress
    )
    retired = retire_unused_keks(session, keys, now)
    record_event(
        session,
        keys,
        actor=actor,
        action="keys.rewrapped",
        now=now,
        object_type="kek",
        object_id=keys.active_kek_id(),
        details={"slots": total, "retired": ",".join(retired)},
    )
    commit()
    return RotationReport(new_key_id, total, retired)


def create_active_kek(
    session: Session,
    keys: KeyStore,
    *,
    actor: Actor,
    now: datetime,
    created_at: datetime | None = None,
) -> str:
    """A new active KEK (the old one becomes previous), audited; ``created_at`` dates it in
    the key store when that is not ``now`` (``keys maintain --as-of``)."""
    key_id = keys.create_kek(created_at or now)
    record_event(
        session,
        keys,
        actor=actor,
        action="keys.kek_created",
        now=now,
        object_type="kek",
        object_id=key_id,
    )
    return key_id


def rewrap_all(
    session: Session,
    keys: KeyStore,
    *,
    now: datetime,
    batch_size: int,
    commit: Callable[[], None],
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Rewrap every KEK slot that is not under the active KEK (nor under an epoch key), a
    committed batch at a time; returns how many."""
    total = 0
    after_id = 0
    while True:
        done, last_id = _rewrap_after(session, keys, now, batch_size, after_id)
        if not done:
            if after_id == 0:
                break
            # One more pass from the first slot: a worker that had not yet seen the new key
            # may have wrapped a new case's key under the old one behind this pass.
            after_id = 0
            continue
        after_id = last_id
        commit()
        total += done
        if on_progress:
            on_progress(total)
    return total


def retire_unused_keks(session: Session, keys: KeyStore, now: datetime | None = None) -> list[str]:
    """Mark previous KEKs that no slot uses any more as retired, since ``now``."""
    retired = []
    for usage in key_usage(session, keys):
        if usage.status is KekStatus.PREVIOUS and usage.slots == 0:
            keys.retire_kek(usage.key_id, now)
            retired.append(usage.key_id)
    return retired
