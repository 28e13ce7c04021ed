"""Drafts of a report in progress, so a long form survives page by page and loses nothing.

The answers and uploaded files are encrypted with a random key that is kept only in the
writer's (signed) session cookie; the database holds ciphertext it cannot read on its own.
Submitting or abandoning the report deletes the draft; expired drafts are purged.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, undefer

from complaints.cases.attachments import CheckedFile
from complaints.cases.services import NewAttachment
from complaints.crypto.envelope import DecryptionFailed, FieldCipher
from complaints.crypto.keystore import KEY_BYTES
from complaints.intake.models import DraftAttachment, IntakeDraft


@dataclass(frozen=True)
class DraftRef:
    """What the browser keeps: which draft, and the key to it."""

    draft_id: uuid.UUID
    key: bytes

    def to_cookie(self) -> dict[str, str]:
        return {"id": str(self.draft_id), "key": base64.urlsafe_b64encode(self.key).decode()}

    @classmethod
    def from_cookie(cls, value: Any) -> DraftRef | None:
        try:
            key = base64.urlsafe_b64decode(value["key"])
            ref = cls(uuid.UUID(value["id"]), key)
        except (KeyError, TypeError, ValueError):
            return None
        return ref if len(key) == KEY_BYTES else None


@dataclass(frozen=True)
class DraftFile:
    id: uuid.UUID
    name: str
    content_type: str
    size: int


def start_draft(session: Session, *, now: datetime, lifetime: timedelta) -> DraftRef:
    ref = DraftRef(uuid.uuid4(), os.urandom(KEY_BYTES))
    session.add(
        IntakeDraft(
            id=ref.draft_id,
            payload=_cipher(ref).seal_text("intake_drafts", "payload", ref.draft_id, "{}"),
            created_at=now,
            updated_at=now,
            expires_at=now + lifetime,
        )
    )
    session.flush()
    return ref


def load_answers(
    session: Session, ref: DraftRef, *, now: datetime, for_update: bool = False
) -> dict[str, Any] | None:
    """The answers so far, or None if the draft is gone, expired, or the key does not fit.

    ``for_update`` locks the draft row until the transaction ends, so a report sent twice at
    once (a double click) is filed once: the second request finds the draft gone.
    """
    draft = session.get(IntakeDraft, ref.draft_id, with_for_update=for_update)
    if draft is None or draft.expires_at <= now:
        return None
    try:
        text = _cipher(ref).open_text("intake_drafts", "payload", ref.draft_id, draft.payload)
    except DecryptionFailed:
        return None
    answers: dict[str, Any] = json.loads(text)
    return answers


def save_answers(
    session: Session,
    ref: DraftRef,
    answers: dict[str, Any],
    *,
    now: datetime,
    lifetime: timedelta,
) -> None:
    """Replace the stored answers; each save extends the draft's life."""
    draft = session.get(IntakeDraft, ref.draft_id)
    if draft is None:
        raise LookupError("draft gone")
    text = json.dumps(answers, ensure_ascii=False, sort_keys=True)
    draft.payload = _cipher(ref).seal_text("intake_drafts", "payload", ref.draft_id, text)
    draft.updated_at = now
    draft.expires_at = now + lifetime
    session.flush()


def add_file(session: Session, ref: DraftRef, checked: CheckedFile, *, now: datetime) -> DraftFile:
    cipher = _cipher(ref)
    file_id = uuid.uuid4()
    session.add(
        DraftAttachment(
            id=file_id,
            draft_id=ref.draft_id,
            content_type=checked.content_type,
            size=len(checked.body),
            name=cipher.seal_text("intake_draft_attachments", "name", file_id, checked.name),
            body=cipher.seal_bytes("intake_draft_attachments", "body", file_id, checked.body),
            created_at=now,
        )
    )
    session.flush()
    return DraftFile(file_id, checked.name, checked.content_type, len(checked.body))


def remove_file(session: Session, ref: DraftRef, file_id: uuid.UUID) -> bool:
    result = session.execute(
        sa.delete(DraftAttachment).where(
            DraftAttachment.id == file_id, DraftAttachment.draft_id == ref.draft_id
        )
    )
    return bool(getattr(result, "rowcount", 0))


def list_files(session: Session, ref: DraftRef) -> list[DraftFile]:
    cipher = _cipher(ref)
    rows = session.scalars(
        sa.select(DraftAttachment)
        .where(DraftAttachment.draft_id == ref.draft_id)
        .order_by(DraftAttachment.created_at, DraftAttachment.id)
    )
    return [
        DraftFile(
            row.id,
            cipher.open_text("intake_draft_attachments", "name", row.id, row.name),
            row.content_type,
            row.size,
        )
        for row in rows
    ]


def file_contents(session: Session, ref: DraftRef) -> tuple[NewAttachment, ...]:
    """The uploaded files, decrypted, ready to be stored with the case."""
    cipher = _cipher(ref)
    rows = session.scalars(
        sa.select(DraftAttachment)
        .options(undefer(DraftAttachment.body))
        .where(DraftAttachment.draft_id == ref.draft_id)
        .order_by(DraftAttachment.created_at, DraftAttachment.id)
    )
    return tuple(
        NewAttachment(
            name=cipher.open_text("intake_draft_attachments", "name", row.id, row.name),
            content_type=row.content_type,
            body=cipher.open_bytes("intake_draft_attachments", "body", row.id, row.body),
        )
        for row in rows
    )


def discard_draft(session: Session, ref: DraftRef) -> None:
    session.execute(sa.delete(DraftAttachment).where(DraftAttachment.draft_id == ref.draft_id))
    session.execute(sa.delete(IntakeDraft).where(IntakeDraft.id == ref.draft_id))


def purge_expired_drafts(session: Session, *, now: datetime) -> int:
    """Delete drafts nobody finished; returns how many."""
    expired = sa.select(IntakeDraft.id).where(IntakeDraft.expires_at <= now)
    session.execute(sa.delete(DraftAttachment).where(DraftAttachment.draft_id.in_(expired)))
    result = session.execute(sa.delete(IntakeDraft).where(IntakeDraft.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)


def _cipher(ref: DraftRef) -> FieldCipher:
    return FieldCipher(ref.key)
