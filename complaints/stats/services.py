"""Writing stat events, in the same transaction as what they count."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from complaints.cases.models import Case
from complaints.stats.models import StatEvent

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def quarter_of(moment: datetime) -> str:
    local = moment.astimezone(AMSTERDAM)
    return f"{local.year}-Q{(local.month - 1) // 3 + 1}"


def record_stat(
    session: Session,
    case: Case,
    kind: str,
    *,
    now: datetime,
    outcome: str | None = None,
    days_taken: int | None = None,
    deadline: str | None = None,
    deadline_met: bool | None = None,
) -> StatEvent:
    """Count ``kind`` for this case's dimensions. The event keeps no link to the case."""
    event = StatEvent(
        kind=kind,
        quarter=quarter_of(now),
        organisation_id=case.organisation_id,
        category=case.category,
        grounds=sorted(case.grounds),
        route=case.route.value,
        disclosure=case.disclosure.value,
        outcome=outcome,
        days_taken=days_taken,
        deadline=deadline,
        deadline_met=deadline_met,
    )
    session.add(event)
    return event
