"""Every model, imported in one place so the metadata is complete (Alembic, tests)."""

from __future__ import annotations

from complaints.accounts.models import Account, RoleAssignment, StaffSession
from complaints.audit.models import AuditCheckpoint, AuditEvent
from complaints.cases.models import (
    Attachment,
    Case,
    CaseAccessGrant,
    CaseEvent,
    CaseParty,
    Consent,
    Deadline,
    Message,
)
from complaints.checkins.models import CheckIn
from complaints.crypto.models import KeySlot
from complaints.db import Base
from complaints.directory.models import OrgUnit, Person
from complaints.followup.models import ComplainantSession
from complaints.intake.models import DraftAttachment, IntakeDraft
from complaints.notify.models import Notification
from complaints.retention.models import (
    LedgerEntry,
    RetentionExtension,
    RetentionHold,
    RetentionReminder,
)
from complaints.stats.models import ApiToken, StatEvent, StatSnapshot

metadata = Base.metadata

__all__ = [
    "Account",
    "ApiToken",
    "Attachment",
    "AuditCheckpoint",
    "AuditEvent",
    "Case",
    "CaseAccessGrant",
    "CaseEvent",
    "CaseParty",
    "CheckIn",
    "ComplainantSession",
    "Consent",
    "Deadline",
    "DraftAttachment",
    "IntakeDraft",
    "KeySlot",
    "LedgerEntry",
    "Message",
    "Notification",
    "OrgUnit",
    "Person",
    "RetentionExtension",
    "RetentionHold",
    "RetentionReminder",
    "RoleAssignment",
    "StaffSession",
    "StatEvent",
    "StatSnapshot",
    "metadata",
]
