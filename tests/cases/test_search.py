"""Searching the decrypted text of cases: only cases the reader may open, one audit event."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa
from flask import Flask

from complaints.audit.models import ActorKind, AuditEvent, AuditOutcome
from complaints.audit.services import Actor
from complaints.cases import services as case_services
from complaints.cases.models import CaseAccessGrant, GrantRole
from complaints.cases.services import CaseSearch, search_cases, search_words
from complaints.casework.services import add_note
from complaints.crypto.envelope import FieldCipher
from complaints.crypto.models import KeySlot
from complaints.crypto.services import indexer, keystore
from complaints.directory.models import Person
from complaints.followup.services import post_message
from complaints.workflow.config import workflow
from tests.conftest import Clock, app_session
from tests.factories import accused, make_case, make_org, make_person

READER = Actor(ActorKind.STAFF, "7")
WORD = "Vogelzang-Marker"


@pytest.fixture
def cast(app: Flask, clock: Clock) -> dict[str, Person]:
    with app_session(app) as session:
        org = make_org(session, clock())
        return {
            name: make_person(session, org.directorate, clock(), name=name)
            for name in ("Reader Een", "Other Twee", "Accused Drie")
        }


@pytest.fixture
def decrypted(monkeypatch: pytest.MonkeyPatch) -> list[uuid.UUID]:
    """The ids of the cases whose data key the search unwrapped, in order."""
    unwrapped: list[uuid.UUID] = []
    real = case_services.case_cipher

    def spy(session: object, keys: object, case_id: uuid.UUID) -> FieldCipher:
        unwrapped.append(case_id)
        return real(session, keys, case_id)  # type: ignore[arg-type]

    monkeypatch.setattr(case_services, "case_cipher", spy)
    return unwrapped


def search(app: Flask, clock: Clock, reader: Person, ids: list[uuid.UUID], text: str) -> CaseSearch:
    with app_session(app) as session:
        return search_cases(
            session,
            keystore(),
            indexer(),
            case_ids=ids,
            text=text,
            reader_person_id=reader.id,
            actor=READER,
            now=clock(),
        )


def events(app: Flask, action: str | None = None) -> list[AuditEvent]:
    with app_session(app) as session:
        query = sa.select(AuditEvent).order_by(AuditEvent.seq)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        return list(session.scalars(query))


def test_words_are_found_in_the_report_parties_messages_and_notes_of_an_own_case(
    app: Flask, clock: Clock, cast: dict[str, Person]
) -> None:
    reader = cast["Reader Een"]
    with app_session(app) as session:
        plain = make_case(session, clock(), handler=reader).id
        in_description = make_case(
            session, clock(), handler=reader, description=f"Mevrouw {WORD} schold mij uit."
        ).id
        in_party = make_case(
            session, clock(), handler=reader, accused=(accused(name="Joost Ünal"),)
        ).id
        in_complainant = make_case(
            session, clock(), handler=reader, complainant={"name": "Zoë Achterberg"}
        ).id
        with_message = make_case(session, clock(), handler=reader)
        post_message(
            session, keystore(), workflow(), with_message, body="De fietsenstalling.", now=clock()
        )
        with_note = make_case(session, clock(), handler=reader).id
        add_note(
            session,
            keystore(),
            indexer(),
            case_id=with_note,
            person_id=reader.id,
            actor=READER,
            body="Gebeld met de teamleider over het rooster.",
            now=clock(),
        )
    everything = [plain, in_description, in_party, in_complainant, with_message.id, with_note]

    def found(text: str) -> list[uuid.UUID]:
        return search(app, clock, reader, everything, text).matched

    assert found(WORD.lower()) == [in_description]
    # Capitals and accents do not matter, either way round.
    assert found("joost unal") == [in_party]
    assert found("ZOE") == [in_complainant]
    assert found("fietsenstalling") == [with_message.id]
    assert found("teamleider rooster") == [with_note]
    # Every word must occur: one that does not, and nothing matches.
    assert found("teamleider onbekendwoord") == []
    # Without words, every case the reader may open matches, in the order asked.
    assert found("  ") == everything
    assert search_words("  Zoë   ÜNAL ") == ["zoe", "unal"]


def test_a_case_without_a_grant_is_never_decrypted_or_returned(
    app: Flask,
    clock: Clock,
    cast: dict[str, Person],
    decrypted: list[uuid.UUID],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reader, other = cast["Reader Een"], cast["Other Twee"]
    with app_session(app) as session:
        mine = make_case(session, clock(), handler=reader, description=f"{WORD} op de gang.").id
        theirs = make_case(session, clock(), handler=other, description=f"{WORD} in de kantine.").id
        revoked = make_case(session, clock(), handler=reader, description=f"{WORD} bij de lift.")
        grant = session.scalars(
            sa.select(CaseAccessGrant).where(CaseAccessGrant.case_id == revoked.id)
        ).one()
        grant.revoked_at = clock()
    asked = [theirs, mine, revoked.id]

    found = search(app, clock, reader, asked, WORD)
    assert found.matched == [mine]
    assert decrypted == [mine]
    assert (found.searched, found.refused) == (1, 2)

    # Control: the same search with the access rule left out (a variant that searches every
    # case it is handed) finds the others' cases, so the assertions above can fail.
    decrypted.clear()
    monkeypatch.setattr(
        case_services,
        "_reader_access",
        lambda session, _blind, case_id, _person: (
            session.get(case_services.Case, case_id),
            [],
            None,
        ),
    )
    leaky = search(app, clock, reader, asked, WORD)
    assert set(leaky.matched) == {mine, theirs, revoked.id}
    assert theirs in decrypted


def test_a_reader_named_as_accused_is_refused_even_with_a_stray_grant(
    app: Flask, clock: Clock, cast: dict[str, Person], decrypted: list[uuid.UUID]
) -> None:
    reader, named = cast["Reader Een"], cast["Accused Drie"]
    with app_session(app) as session:
        case = make_case(
            session, clock(), handler=reader, description=WORD, accused=(accused(named),)
        )
        session.add(
            CaseAccessGrant(
                case_id=case.id, person_id=named.id, role=GrantRole.MANAGER, granted_at=clock()
            )
        )
    assert search(app, clock, named, [case.id], WORD).matched == []
    assert decrypted == []
    # Control: the reader who is not accused finds it.
    assert search(app, clock, reader, [case.id], WORD).matched == [case.id]


def test_one_search_is_one_audit_event_with_counts_and_never_the_words(
    app: Flask, clock: Clock, cast: dict[str, Person]
) -> None:
    reader, other = cast["Reader Een"], cast["Other Twee"]
    with app_session(app) as session:
        mine = [
            make_case(session, clock(), handler=reader, description=f"{WORD} zei het.").id,
            make_case(session, clock(), handler=reader).id,
            make_case(session, clock(), handler=reader).id,
        ]
        theirs = make_case(session, clock(), handler=other, description=WORD).id
    before = len(events(app))

    search(app, clock, reader, [*mine, theirs], f"  {WORD} zei ")

    new = events(app)[before:]
    assert [e.action for e in new] == ["case.search"]  # no case.open per case searched
    event = new[0]
    assert event.outcome is AuditOutcome.SUCCESS
    assert (event.actor_kind, event.actor_id) == (ActorKind.STAFF, "7")
    assert event.object_id is None  # which cases matched is not recorded either
    assert event.details == {
        "free_text": True,
        "searched": 3,
        "matched": 1,
        "refused": 1,
        "unreadable": 0,
    }
    stored = json.dumps(event.details).casefold()
    assert WORD.casefold() not in stored
    assert "zei" not in stored


def test_a_case_whose_key_is_gone_is_skipped_and_counted(
    app: Flask, clock: Clock, cast: dict[str, Person]
) -> None:
    reader = cast["Reader Een"]
    with app_session(app) as session:
        kept = make_case(session, clock(), handler=reader, description=WORD).id
        shredded = make_case(session, clock(), handler=reader, description=WORD).id
        session.execute(sa.delete(KeySlot).where(KeySlot.case_id == shredded))

    found = search(app, clock, reader, [shredded, kept], WORD)

    assert found.matched == [kept]
    assert (found.searched, found.unreadable, found.complete) == (2, 1, False)
    assert events(app, "case.search")[-1].details["unreadable"] == 1
