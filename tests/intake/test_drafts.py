"""Drafts of reports: encrypted with a key only the writer's browser holds, and short-lived."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from complaints.cases.attachments import CheckedFile
from complaints.intake.drafts import (
    DraftRef,
    add_file,
    discard_draft,
    file_contents,
    list_files,
    load_answers,
    purge_expired_drafts,
    remove_file,
    save_answers,
    start_draft,
)
from complaints.intake.models import DraftAttachment, IntakeDraft
from tests.conftest import Clock, app_session

LIFETIME = timedelta(hours=6)
STORY = "Mijn leidinggevende maakte een opmerking over mijn hoofddoek — geheim-verhaal-7431"
ANSWERS = {
    "category": "discrimination",
    "grounds": ["religion"],
    "description": STORY,
    "accused": [{"name": "Kwaadwillige Collega-Marker", "relation": "manager", "person_id": 2}],
    "ongoing": True,
}


def test_answers_round_trip(app: Flask, clock: Clock) -> None:
    with app_session(app) as session:
        ref = start_draft(session, now=clock(), lifetime=LIFETIME)
        assert load_answers(session, ref, now=clock()) == {}
        save_answers(session, ref, ANSWERS, now=clock(), lifetime=LIFETIME)
    with app_session(app) as session:
        assert load_answers(session, ref, now=clock()) == ANSWERS
        # The cookie form of the reference leads to the same draft.
        again = DraftRef.from_cookie(ref.to_cookie())
        assert again == ref
        assert load_answers(session, again, now=clock()) == ANSWERS


@pytest.mark.parametrize(
    "cookie",
    [None, "text", {}, {"id": "not-a-uuid", "key": "AAAA"}, {"id": str(uuid.uuid4()), "key": "AA"}],
)
def test_a_broken_cookie_is_no_reference(cookie: object) -> None:
    assert DraftRef.from_cookie(cookie) is None


def test_the_wrong_key_cannot_read_a_draft(app: Flask, clock: Clock) -> None:
    with app_session(app) as session:
        ref = start_draft(session, now=clock(), lifetime=LIFETIME)
        save_answers(session, ref, ANSWERS, now=clock(), lifetime=LIFETIME)
        add_file(session, ref, CheckedFile("brief.txt", "text/plain", b"bewijs"), now=clock())
    stolen = DraftRef(ref.draft_id, os.urandom(32))
    with app_session(app) as session:
        assert load_answers(session, stolen, now=clock()) is None
        # Another draft's key does not open this one either.
        other = start_draft(session, now=clock(), lifetime=LIFETIME)
        assert load_answers(session, DraftRef(ref.draft_id, other.key), now=clock()) is None
        # Nor can it list or remove the files of a draft it does not hold the id of.
        assert list_files(session, other) == []
        file_id = list_files(session, ref)[0].id
        assert remove_file(session, other, file_id) is False
        assert [f.name for f in list_files(session, ref)] == ["brief.txt"]


def test_expired_drafts_are_not_loaded_and_are_purged(app: Flask, clock: Clock) -> None:
    with app_session(app) as session:
        old = start_draft(session, now=clock(), lifetime=LIFETIME)
        add_file(session, old, CheckedFile("a.txt", "text/plain", b"x"), now=clock())
    clock.advance(hours=5)
    with app_session(app) as session:
        fresh = start_draft(session, now=clock(), lifetime=LIFETIME)
        # Saving extends a draft's life: this one was saved an hour before the other expires.
        kept = start_draft(session, now=clock() - timedelta(hours=5), lifetime=LIFETIME)
        save_answers(session, kept, {"description": "bewaard"}, now=clock(), lifetime=LIFETIME)
    clock.advance(hours=1)
    with app_session(app) as session:
        assert load_answers(session, old, now=clock()) is None
        assert load_answers(session, fresh, now=clock()) == {}
        assert load_answers(session, kept, now=clock()) == {"description": "bewaard"}
        assert purge_expired_drafts(session, now=clock()) == 1
    with app_session(app) as session:
        ids = set(session.scalars(sa.select(IntakeDraft.id)))
        assert ids == {fresh.draft_id, kept.draft_id}
        assert session.scalar(sa.select(sa.func.count()).select_from(DraftAttachment)) == 0
        assert purge_expired_drafts(session, now=clock()) == 0


def test_the_database_holds_no_typed_text(app: Flask, clock: Clock) -> None:
    body = b"screenshot-inhoud-9921"
    with app_session(app) as session:
        ref = start_draft(session, now=clock(), lifetime=LIFETIME)
        save_answers(session, ref, ANSWERS, now=clock(), lifetime=LIFETIME)
        add_file(
            session,
            ref,
            CheckedFile("gesprek-met-Kwaadwillige.txt", "text/plain", body),
            now=clock(),
        )
    with app_session(app) as session:
        rows = session.execute(sa.text("SELECT * FROM intake_drafts")).all()
        files = session.execute(sa.text("SELECT * FROM intake_draft_attachments")).all()
    raw = b"".join(
        value if isinstance(value, bytes) else str(value).encode()
        for row in [*rows, *files]
        for value in row
    )
    assert len(rows) == 1
    assert len(files) == 1
    for secret in (STORY, "geheim-verhaal-7431", "Kwaadwillige", "hoofddoek", "religion"):
        assert secret.encode() not in raw, secret
    assert body not in raw
    # Nor is the key: it lives only in the browser's cookie.
    assert ref.key not in raw


def test_files_round_trip_and_go_with_a_discarded_draft(app: Flask, clock: Clock) -> None:
    with app_session(app) as session:
        ref = start_draft(session, now=clock(), lifetime=LIFETIME)
        first = add_file(session, ref, CheckedFile("a.txt", "text/plain", b"eerste"), now=clock())
        clock.advance(seconds=1)
        add_file(session, ref, CheckedFile("b.pdf", "application/pdf", b"%PDF-1.4"), now=clock())
    with app_session(app) as session:
        assert [(f.name, f.size) for f in list_files(session, ref)] == [("a.txt", 6), ("b.pdf", 8)]
        contents = file_contents(session, ref)
        assert [(a.name, a.content_type, a.body) for a in contents] == [
            ("a.txt", "text/plain", b"eerste"),
            ("b.pdf", "application/pdf", b"%PDF-1.4"),
        ]
        assert remove_file(session, ref, first.id) is True
        assert [f.name for f in list_files(session, ref)] == ["b.pdf"]
        discard_draft(session, ref)
    with app_session(app) as session:
        assert load_answers(session, ref, now=clock()) is None
        assert session.scalar(sa.select(sa.func.count()).select_from(DraftAttachment)) == 0


def test_saving_a_draft_that_is_gone_fails(app: Flask, clock: Clock) -> None:
    with app_session(app) as session:
        ref = start_draft(session, now=clock(), lifetime=LIFETIME)
        discard_draft(session, ref)
        with pytest.raises(LookupError):
            save_answers(session, ref, ANSWERS, now=clock(), lifetime=LIFETIME)
