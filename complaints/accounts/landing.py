"""Where a staff member lands after logging in: their own work page, unless a safe ``next`` says
where they were going.

A case handler lands on their cases, an auditor on the statistics, a privacy officer on the
retention plan, an administrator on the handover of leaving handlers' cases; anyone else (a
line manager without a case, say) on their account page. Someone with several roles lands on
the first of these they hold: the cases come first, because they have deadlines.
"""

from __future__ import annotations

from flask import url_for
from sqlalchemy.orm import Session

from complaints.accounts.models import Role
from complaints.accounts.services import roles_of
from complaints.casework.services import may_use_casework
from complaints.web.navigation import is_safe_next

CASEWORK = "casework.inbox_page"
ACCOUNT = "accounts.overview"
# After the cases, in this order: the role, and the endpoint of its work page.
ROLE_PAGES = (
    (Role.AUDITOR, "stats.dashboard"),
    (Role.PRIVACY_OFFICER, "privacy.plan_page"),
    (Role.ADMIN, "handover.overview"),
)


def work_page(session: Session, person_id: int) -> str:
    """The endpoint of the page where ``person_id`` does their work."""
    if may_use_casework(session, person_id):
        return CASEWORK
    held = {assignment.role for assignment in roles_of(session, person_id)}
    return next((endpoint for role, endpoint in ROLE_PAGES if role in held), ACCOUNT)


def landing_url(session: Session, person_id: int, next_path: str | None) -> str:
    """Where to send someone who has just logged in: a safe ``next``, else their work page."""
    if next_path is not None and is_safe_next(next_path):
        return next_path
    return url_for(work_page(session, person_id))
