"""What the privacy officer reads at /privacy besides the plan (``sweep.plan``): the ledger and
the processing register (AVG art. 30) generated from the policy file, and CSV exports.

Nothing here opens a case: the plan is references, rules and dates; the ledger is references,
rules and counts; the register is the policy file itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.retention.models import LedgerEntry
from complaints.retention.policy import CategoryInfo, RetentionPolicy, Rule
from complaints.web.i18n import _, ngettext
from complaints.workflow.config import Period

LEDGER_PAGE_SIZE = 50
MAX_HORIZON_DAYS = 3660


# The ledger ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerPage:
    entries: list[LedgerEntry]
    total: int
    page: int
    pages: int


def ledger_page(session: Session, *, page: int = 1, per_page: int = LEDGER_PAGE_SIZE) -> LedgerPage:
    """One page of the ledger, newest first."""
    total = session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    entries = list(
        session.scalars(
            sa.select(LedgerEntry)
            .order_by(LedgerEntry.occurred_at.desc(), LedgerEntry.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return LedgerPage(entries, total, page, pages)


def iter_ledger(session: Session, *, batch_size: int = 1000) -> Iterator[LedgerEntry]:
    """The whole ledger in the page's order (newest first), a batch at a time (keyset), for
    the export."""
    last: LedgerEntry | None = None
    while True:
        query = (
            sa.select(LedgerEntry)
            .order_by(LedgerEntry.occurred_at.desc(), LedgerEntry.id.desc())
            .limit(batch_size)
        )
        if last is not None:
            query = query.where(
                sa.or_(
                    LedgerEntry.occurred_at < last.occurred_at,
                    sa.and_(LedgerEntry.occurred_at == last.occurred_at, LedgerEntry.id < last.id),
                )
            )
        entries = list(session.scalars(query))
        yield from entries
        if len(entries) < batch_size:
            return
        last = entries[-1]


def records_text(records: dict[str, Any]) -> str:
    """``{"messages": 5, "case_events": 3}`` as ``case_events 3; messages 5``."""
    return "; ".join(f"{kind} {count}" for kind, count in sorted(records.items()))


# The register ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterEntry:
    """One category of personal data, as the processing register lists it, with its rules."""

    info: CategoryInfo
    rules: tuple[Rule, ...]


def processing_register(policy: RetentionPolicy) -> list[RegisterEntry]:
    """The processing register generated from the policy: every category and its rules."""
    return [
        RegisterEntry(info, tuple(r for r in policy.rules if r.category is category))
        for category, info in policy.categories.items()
    ]


def period_text(period: Period | None) -> str:
    """A period as words in the current language: "2 years", "1 year and 6 months", "90 days"."""
    if period is None:
        return ""
    years, months = divmod(period.months, 12)
    days = period.days + 7 * period.weeks
    parts = []
    if years:
        parts.append(ngettext("%(num)d year", "%(num)d years", years))
    if months:
        parts.append(ngettext("%(num)d month", "%(num)d months", months))
    if days or not parts:
        parts.append(ngettext("%(num)d day", "%(num)d days", days))
    if len(parts) == 1:
        return parts[0]
    return _("%(first)s and %(last)s", first=", ".join(parts[:-1]), last=parts[-1])
