"""Writing and verifying the audit chain.

Each event stores the previous event's hash and its own HMAC-SHA256 over its fields and that
previous hash, with a key from the key store (not from the database), so an edit, a deletion
or an insertion anywhere in the chain is found by :func:`verify_chain`.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.audit.models import ActorKind, AuditCheckpoint, AuditEvent, AuditOutcome
from complaints.crypto.keystore import KeyStore, SecretPurpose

GENESIS_HASH = "0" * 64
# The event retention records before it deletes the oldest events; its details name the
# checkpoint (through_seq, hash) where the chain then starts.
PRUNED_ACTION = "retention.audit_pruned"
# Any constant will do; it names the one advisory lock that serialises chain appends.
_CHAIN_LOCK_ID = 0x636F6D706C61696E  # "complain"
_ALLOWED_DETAIL_TYPES = (str, int, bool, type(None))


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: str | None = None

    @classmethod
    def staff(cls, account_id: int) -> Actor:
        return cls(ActorKind.STAFF, str(account_id))

    @classmethod
    def operator(cls) -> Actor:
        """The person running a CLI command, by operating-system account."""
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return cls(ActorKind.OPERATOR, user[:64])


SYSTEM = Actor(ActorKind.SYSTEM)
ANONYMOUS = Actor(ActorKind.ANONYMOUS)


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_seq: int | None
    last_seq: int | None
    broken_seq: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


def record_event(
    session: Session,
    keys: KeyStore,
    *,
    actor: Actor,
    action: str,
    now: datetime,
    outcome: AuditOutcome = AuditOutcome.SUCCESS,
    object_type: str | None = None,
    object_id: str | int | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain, in the caller's transaction."""
    if now.tzinfo is None:
        raise ValueError("naive datetime given; use an aware UTC datetime")
    clean_details = _checked_details(details or {})
    _lock_chain(session)
    head = session.execute(
        sa.select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (head.seq + 1, head.hash) if head else (1, GENESIS_HASH)
    event = AuditEvent(
        seq=seq,
        occurred_at=now,
        actor_kind=actor.kind,
        actor_id=actor.id,
        action=action,
        outcome=outcome,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        details=clean_details,
        prev_hash=prev_hash,
    )
    event.hash = _event_hash(keys.secret(SecretPurpose.AUDIT_CHAIN), event)
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class NewEvent:
    """One event for :func:`record_events`."""

    action: str
    object_type: str | None = None
    object_id: str | int | None = None
    details: Mapping[str, Any] | None = None
    outcome: AuditOutcome = AuditOutcome.SUCCESS


def record_events(
    session: Session, keys: KeyStore, *, actor: Actor, now: datetime, events: Sequence[NewEvent]
) -> None:
    """Append several events in this order with one lock and one insert, in the caller's
    transaction: for batch work (the retention sweep) that would otherwise append one by one."""
    if not events:
        return
    if now.tzinfo is None:
        raise ValueError("naive datetime given; use an aware UTC datetime")
    key = keys.secret(SecretPurpose.AUDIT_CHAIN)
    checked = [_checked_details(new.details or {}) for new in events]
    _lock_chain(session)
    head = session.execute(
        sa.select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    rows = []
    for new, details in zip(events, checked, strict=True):
        seq += 1
        event = _EventFields(
            seq=seq,
            occurred_at=now,
            actor_kind=actor.kind,
            actor_id=actor.id,
            action=new.action,
            outcome=new.outcome,
            object_type=new.object_type,
            object_id=None if new.object_id is None else str(new.object_id),
            details=details,
            prev_hash=prev_hash,
        )
        prev_hash = _event_hash(key, event)
        rows.append({**vars(event), "hash": prev_hash})
    session.execute(sa.insert(AuditEvent), rows)


def verify_chain(session: Session, keys: KeyStore, *, batch_size: int = 2000) -> ChainReport:
    """Walk the chain in order and name the first event that is missing, moved or altered.

    After retention deleted the oldest events, the chain starts at the latest checkpoint: the
    first event must follow it, and the checkpoint must be the one the last pruning event (an
    event of the chain itself) names, so deleting more events, or moving the checkpoint, is
    found as well."""
    key = keys.secret(SecretPurpose.AUDIT_CHAIN)
    checkpoint = session.execute(
        sa.select(AuditCheckpoint.through_seq, AuditCheckpoint.hash)
        .order_by(AuditCheckpoint.through_seq.desc())
        .limit(1)
    ).first()
    start = (checkpoint.through_seq, checkpoint.hash) if checkpoint else (0, GENESIS_HASH)
    checked = 0
    first_seq: int | None = None
    previous: AuditEvent | None = None
    pruned: AuditEvent | None = None
    last_seq = 0
    while True:
        # populate_existing: check what the database holds, not the copies this session
        # may already have of the same events.
        events = session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.seq > last_seq)
            .order_by(AuditEvent.seq)
            .limit(batch_size)
            .execution_options(populate_existing=True)
        ).all()
        if not events:
            break
        for event in events:
            problem = _check_link(key, previous, event, start)
            if problem:
                return ChainReport(checked, first_seq, event.seq, event.seq, problem)
            if first_seq is None:
                first_seq = event.seq
            if event.action == PRUNED_ACTION:
                pruned = event
            previous = event
            checked += 1
        # No expunge_all(): the session is the caller's. The identity map holds only weak
        # references, so checked events are freed once this loop drops them.
        last_seq = events[-1].seq
    if checkpoint is not None and first_seq is None:
        # Pruning records its own event before it deletes, and that event stays: a chain with
        # a checkpoint is never empty. Without this, deleting every event and inserting a
        # checkpoint past the last anchor would pass for pruning.
        return ChainReport(
            0,
            None,
            None,
            checkpoint.through_seq + 1,
            f"no events after the checkpoint (seq {checkpoint.through_seq}): the pruning "
            "event and every later one are missing",
        )
    if checkpoint is not None and first_seq is not None:
        named = (pruned.details.get("through_seq"), pruned.details.get("hash")) if pruned else None
        if named != start:
            return ChainReport(
                checked,
                first_seq,
                previous.seq if previous else None,
                first_seq,
                "the chain starts at a checkpoint that no pruning in the chain recorded",
            )
    return ChainReport(checked, first_seq, previous.seq if previous else None)


def _check_link(
    key: bytes, previous: AuditEvent | None, event: AuditEvent, start: tuple[int, str]
) -> str | None:
    if previous is None:
        through_seq, start_hash = start
        if event.seq <= through_seq:
            return f"it should have gone with the events up to the checkpoint (seq {through_seq})"
        if event.seq != through_seq + 1:
            return f"events {through_seq + 1}..{event.seq - 1} are missing"
        if event.prev_hash != start_hash:
            return "the first event does not start the chain"
    elif event.seq != previous.seq + 1:
        return f"events {previous.seq + 1}..{event.seq - 1} are missing"
    elif event.prev_hash != previous.hash:
        return f"does not follow event {previous.seq} (previous hash differs)"
    if not hmac.compare_digest(_event_hash(key, event), event.hash):
        return "its contents do not match its hash (altered)"
    return None


@dataclass(frozen=True)
class _EventFields:
    """An event's hashed fields, for appending many without building ORM objects."""

    seq: int
    occurred_at: datetime
    actor_kind: ActorKind
    actor_id: str | None
    action: str
    outcome: AuditOutcome
    object_type: str | None
    object_id: str | None
    details: dict[str, Any]
    prev_hash: str


def _event_hash(key: bytes, event: AuditEvent | _EventFields) -> str:
    canonical = json.dumps(
        [
            event.seq,
            # In UTC, as the database gives it back, whatever zone ``now`` was given in.
            event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
            event.actor_kind.value,
            event.actor_id,
            event.action,
            event.outcome.value,
            event.object_type,
            event.object_id,
            event.details,
            event.prev_hash,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hmac.new(key, canonical.encode("utf-8"), hashlib.sha256).hexdigest()


def _lock_chain(session: Session) -> None:
    """Serialise appends until commit. SQLite already holds its write lock (BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name == "postgresql":
        # Take the chain lock before flushing the caller's pending changes: flushing first would
        # hold a case's row lock while waiting here, and a request that holds the chain lock
        # and then updates that case would deadlock with us (found by make security-scan).
        with session.no_autoflush:
            session.execute(sa.select(sa.func.pg_advisory_xact_lock(_CHAIN_LOCK_ID)))


def _checked_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """Details are flat ids, counts and codes: anything richer is a bug that could leak content."""
    for name, value in details.items():
        if not isinstance(value, _ALLOWED_DETAIL_TYPES):
            raise TypeError(f"audit detail {name!r} must be a plain value")
        if isinstance(value, str) and len(value) > 200:
            raise ValueError(f"audit detail {name!r} is too long to be an id or a code")
    return dict(details)
