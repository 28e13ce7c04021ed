"""Writing the destruction ledger: proof of what retention removed, without personal data."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from sqlalchemy.orm import Session

from complaints.retention.models import LedgerEntry

KEY_CATEGORY = "key"
EPOCH_RULE = "epoch-keys"


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
    for kind, count in records.items():
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError(f"ledger count for {kind!r} must be a whole number")
    entry = LedgerEntry(
        occurred_at=now,
        as_of=as_of,
        category=category,
        subject=subject,
        rule=rule,
        action=action,
        records=dict(sorted(records.items())),
    )
    session.add(entry)
    return entry
