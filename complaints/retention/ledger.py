"""Writing the destruction ledger: proof of what retention removed, without personal data."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.audit.services import Actor, record_event
from complaints.crypto.keystore import KeyStore
from complaints.retention.models import LedgerAction, LedgerEntry

KEY_CATEGORY = "key"
EPOCH_RULE = "epoch-keys"
# A retired KEK, destroyed backup_retention_days after its last slot left it.
KEK_RULE = "kek-lifecycle"


def destroy_key(
    session: Session,
    keys: KeyStore,
    key_id: str,
    *,
    rule: str,
    action: str,
    as_of: date,
    now: datetime,
    actor: Actor,
    commit: Callable[[], None],
) -> None:
    """Destroy a key in the store, with its ledger row and audit event.

    The row and the event are committed first, then the key is destroyed: a crash in between
    leaves a key that the next run destroys without writing a second row, never a destroyed
    key that nothing records."""
    recorded = session.scalar(
        sa.select(LedgerEntry.id).where(
            LedgerEntry.category == KEY_CATEGORY,
            LedgerEntry.subject == key_id,
            LedgerEntry.action == LedgerAction.KEY_DESTROYED,
        )
    )
    if recorded is None:
        write_entry(
            session,
            now=now,
            as_of=as_of,
            category=KEY_CATEGORY,
            subject=key_id,
            rule=rule,
            action=LedgerAction.KEY_DESTROYED,
            records={"epoch_keys" if rule == EPOCH_RULE else "keks": 1},
        )
        record_event(
            session, keys, actor=actor, action=action, now=now, object_type="kek", object_id=key_id
        )
        commit()
    keys.destroy_kek(key_id, now)


def write_entry(
    session: Session,
    *,
    now: datetime,
    as_of: date,
    category: str,
    subject: str | None,
    rule: str,
    action: str,
    records: Mapping[str, int],
) -> LedgerEntry:
    """One ledger row, in the caller's transaction. ``records``: kinds of records and counts."""
    entry = LedgerEntry(**_row(now, as_of, category, subject, rule, action, records))
    session.add(entry)
    return entry


def write_entries(
    session: Session,
    *,
    now: datetime,
    as_of: date,
    category: str,
    action: str,
    entries: Iterable[tuple[str | None, str, Mapping[str, int]]],
) -> int:
    """Many rows in one statement (the sweep's batches): ``(subject, rule, records)`` each."""
    rows = [
        _row(now, as_of, category, subject, rule, action, records)
        for subject, rule, records in entries
    ]
    if rows:
        session.execute(sa.insert(LedgerEntry), rows)
    return len(rows)


def _row(
    now: datetime,
    as_of: date,
    category: str,
    subject: str | None,
    rule: str,
    action: str,
    records: Mapping[str, int],
) -> dict[str, Any]:
    for kind, count in records.items():
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError(f"ledger count for {kind!r} must be a whole number")
    return {
        "occurred_at": now,
        "as_of": as_of,
        "category": category,
        "subject": subject,
        "rule": rule,
        "action": action,
        "records": dict(sorted(records.items())),
    }
