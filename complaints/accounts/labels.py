"""Translated names of roles, for pages and e-mails."""

from __future__ import annotations

from complaints.accounts.models import Role
from complaints.web.i18n import _


def role_label(role: Role) -> str:
    labels = {
        Role.CONFIDANT: _("Confidential counsellor"),
        Role.INTEGRITY_COORDINATOR: _("Integrity coordinator"),
        Role.COMMITTEE_SECRETARY: _("Complaints committee secretary"),
        Role.COMMITTEE_MEMBER: _("Complaints committee member"),
        Role.AUDITOR: _("Auditor"),
        Role.PRIVACY_OFFICER: _("Privacy officer"),
        Role.ADMIN: _("Administrator"),
    }
    return str(labels[role])
