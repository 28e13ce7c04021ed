"""Every model, imported in one place so the metadata is complete (Alembic, tests)."""

from __future__ import annotations

from complaints.accounts.models import Account, RoleAssignment, StaffSession
from complaints.audit.models import AuditEvent
from complaints.cases.models import Case, CaseAccessGrant, CaseEvent, CaseParty
from complaints.crypto.models import KeySlot
from complaints.db import Base
from complaints.directory.models import OrgUnit, Person

metadata = Base.metadata

__all__ = [
    "Account",
    "AuditEvent",
    "Case",
    "CaseAccessGrant",
    "CaseEvent",
    "CaseParty",
    "KeySlot",
    "OrgUnit",
    "Person",
    "RoleAssignment",
    "StaffSession",
    "metadata",
]
