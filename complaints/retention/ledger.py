"""Writing the destruction ledger: proof of what retention removed, without personal data."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
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
