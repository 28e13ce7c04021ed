"""Storing and opening cases: encrypted at rest, opened only with a grant, always audited."""

from __future__ import annotations

import re
import sqlite3
import uuid
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from complaints.audit.models import ActorKind, AuditEvent, AuditOutcome
from complaints.audit.services import Actor, verify_chain
from complaints.cases.models import (
    Case,
    CaseAccessGrant,
    CaseEvent,
    CaseParty,
    Disclosure,
    GrantRole,
    PartyKind,
    Route,
)
from complaints.cases.services import (
    CaseContent,
    CaseNotFound,
    CaseUnreadable,
    NewCase,
    NewGrant,
    NewParty,
    create_case,
    open_case,
)
from complaints.crypto.models import KeySlot
from complaints.crypto.services import indexer, keystore
from complaints.directory.models import OrgUnit, Person
from complaints.models import metadata
from tests.conftest import Clock, app_session
from tests.factories import make_org, make_person

CASES = metadata.tables["cases"]
CASE_PARTIES = metadata.tables["case_parties"]
AUDIT_EVENTS = metadata.tables["audit_events"]

READER_ACTOR = Actor(ActorKind.STAFF, "41")
CASE_TEXT_COLUMNS = [
    "description",
    "incident_period",
    "incident_place",
    "desired_outcome",
    "complainant",
]
PARTY_TEXT_COLUMNS = ["person_ref", "name", "relation_to_complainant"]


@dataclass(frozen=True)
class People:
    handler: int
    accused: int
    witness: int
    outsider: int


@pytest.fixture
def people(app: Flask, clock: Clock) -> People:
    with app_session(app) as session:
        return _people(session, clock)


def _people(session: Session, clock: Clock) -> People:
    org = make_org(session, clock())
    ids = [make_person(session, org.directorate, clock()).id for _ in range(4)]
    return People(*ids)


def _draft(people: People, **changes: object) -> NewCase:
    draft = NewCase(
        route=Route.CONFIDANT,
        category="discrimination",
        disclosure=Disclosure.CONFIDENTIAL,
        description="Tijdens het werkoverleg zei hij dat 'mensen zoals ik' hier niet horen.",
        grounds=("race", "religion"),
        incident_period="februari 2026, meerdere keren",
        incident_place="Rijnstraat 50, vergaderzaal 4.12",
        desired_outcome="Een gesprek met een vertrouwenspersoon erbij.",
        complainant={"name": "Aïcha Öztürk-Janssen", "email": "a.ozturk@example.org"},
        parties=(
            NewParty(PartyKind.ACCUSED, person_id=people.accused, relation_to_complainant="chef"),
            NewParty(
                PartyKind.ACCUSED, name="Kees van der Berg", relation_to_complainant="collega"
            ),
            NewParty(PartyKind.WITNESS, name="Fatima El Amrani"),
        ),
    )
    return replace(draft, **changes)  # type: ignore[arg-type]


def _create(
    app: Flask,
    clock: Clock,
    people: People,
    draft: NewCase | None = None,
    grants: tuple[NewGrant, ...] | None = None,
) -> uuid.UUID:
    with app_session(app) as session:
        case = create_case(
            session,
            keystore(),
            indexer(),
            draft or _draft(people),
            grants=grants
            if grants is not None
            else (NewGrant(people.handler, GrantRole.CONFIDANT),),
            now=clock(),
        )
        return case.id


def _open(session: Session, clock: Clock, case_id: uuid.UUID, reader: int) -> CaseContent:
    return open_case(
        session,
        keystore(),
        indexer(),
        case_id=case_id,
        reader_person_id=reader,
        actor=READER_ACTOR,
        now=clock(),
    )


def _open_events(session: Session) -> list[AuditEvent]:
    return list(
        session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "case.open").order_by(AuditEvent.seq)
        )
    )


def _set_column(session: Session, table: sa.Table, row_id: uuid.UUID, **values: object) -> None:
    session.execute(sa.update(table).where(table.c.id == row_id).values(**values))


def _flip_last_byte(value: bytes) -> bytes:
    return value[:-1] + bytes([value[-1] ^ 0x01])


# Round trip ---------------------------------------------------------------------------------


def test_create_and_open_round_trip(app: Flask, clock: Clock, people: People) -> None:
    case_id = _create(app, clock, people)
    with app_session(app) as session:
        content = _open(session, clock, case_id, people.handler)
    draft = _draft(people)
    assert content.case.id == case_id
    assert content.description == draft.description
    assert content.incident_period == draft.incident_period
    assert content.incident_place == draft.incident_place
    assert content.desired_outcome == draft.desired_outcome
    assert content.complainant == {"name": "Aïcha Öztürk-Janssen", "email": "a.ozturk@example.org"}
    parties = {
        (p.kind.value, p.person_id, p.name, p.relation_to_complainant) for p in content.parties
    }
    assert len(content.parties) == 3
    assert parties == {
        ("accused", people.accused, None, "chef"),
        ("accused", None, "Kees van der Berg", "collega"),
        ("witness", None, "Fatima El Amrani", None),
    }
    assert content.case.category == "discrimination"
    assert content.case.grounds == ["race", "religion"]
    assert content.case.route is Route.CONFIDANT
    assert content.case.state == "submitted"


def test_empty_and_missing_fields_round_trip(app: Flask, clock: Clock, people: People) -> None:
    draft = NewCase(
        route=Route.MANAGER,
        category="bullying",
        disclosure=Disclosure.ANONYMOUS,
        description="Kort.",
    )
    case_id = _create(app, clock, people, draft)
    with app_session(app) as session:
        stored = session.get_one(Case, case_id)
        assert stored.complainant is None
        assert stored.incident_place is not None, "empty text is sealed too, not left out"
        content = _open(session, clock, case_id, people.handler)
    assert content.description == "Kort."
    assert content.incident_period == content.incident_place == content.desired_outcome == ""
    assert content.complainant is None
    assert content.parties == []


def test_stored_case_holds_ciphertext_and_blind_indexes(
    app: Flask, clock: Clock, people: People
) -> None:
    case_id = _create(app, clock, people)
    draft = _draft(people)
    with app_session(app) as session:
        case = session.get_one(Case, case_id)
        for column in CASE_TEXT_COLUMNS:
            value = getattr(case, column)
            assert isinstance(value, bytes)
            assert value[:1] == b"\x01"
        assert case.description is not None
        assert draft.description.encode() not in case.description
        assert re.fullmatch(r"2026-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", case.reference)
        parties = session.scalars(sa.select(CaseParty).where(CaseParty.case_id == case_id)).all()
        by_index = {p.person_index: p for p in parties if p.person_index is not None}
        assert set(by_index) == {indexer().person(people.accused)}
        named = {p.name_index for p in parties if p.name_index is not None}
        assert named == {indexer().name("Kees van der Berg"), indexer().name("Fatima El Amrani")}
        assert indexer().name("berg, Kees van der") in named, "normalised before hashing"
        for party in parties:
            for column in PARTY_TEXT_COLUMNS:
                value = getattr(party, column)
                assert value is None or (isinstance(value, bytes) and b"Kees" not in value)
        grants = session.scalars(
            sa.select(CaseAccessGrant).where(CaseAccessGrant.case_id == case_id)
        ).all()
        assert [(g.person_id, g.role) for g in grants] == [(people.handler, GrantRole.CONFIDANT)]
        events = session.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case_id)).all()
        assert [(e.kind, e.to_state) for e in events] == [("submitted", "submitted")]
        assert (
            session.scalar(
                sa.select(sa.func.count()).select_from(KeySlot).where(KeySlot.case_id == case_id)
            )
            == 1
        )


def test_references_differ(app: Flask, clock: Clock, people: People) -> None:
    ids = [_create(app, clock, people) for _ in range(5)]
    with app_session(app) as session:
        references = session.scalars(sa.select(Case.reference).where(Case.id.in_(ids))).all()
    assert len(set(references)) == 5


# Who may open -------------------------------------------------------------------------------


def test_opening_is_audited(app: Flask, clock: Clock, people: People) -> None:
    case_id = _create(app, clock, people)
    with app_session(app) as session:
        _open(session, clock, case_id, people.handler)
    with app_session(app) as session:
        (event,) = _open_events(session)
        assert event.outcome is AuditOutcome.SUCCESS
        assert (event.object_type, event.object_id) == ("case", str(case_id))
        assert (event.actor_kind, event.actor_id) == (ActorKind.STAFF, "41")
        assert event.occurred_at == clock()
        assert event.details == {}
        assert verify_chain(session, keystore()).ok


def test_no_grant_no_case_and_the_attempt_is_recorded(
    app: Flask, clock: Clock, people: People
) -> None:
    case_id = _create(app, clock, people)
    with app_session(app) as session, pytest.raises(CaseNotFound):
        _open(session, clock, case_id, people.outsider)
    with app_session(app) as session:
        (event,) = _open_events(session)
        assert event.outcome is AuditOutcome.DENIED
        assert event.object_id == str(case_id)
        assert event.details == {"reason": "no_grant"}


def test_unknown_case_looks_the_same_as_a_case_without_grant(
    app: Flask, clock: Clock, people: People
) -> None:
    missing = uuid.uuid4()
    with app_session(app) as session:
        with pytest.raises(CaseNotFound) as caught:
            _open(session, clock, missing, people.handler)
        assert str(caught.value) == str(missing)
    with app_session(app) as session:
        (event,) = _open_events(session)
        assert (event.outcome, event.object_id) == (AuditOutcome.DENIED, str(missing))
        assert event.details == {"reason": "no_grant"}


def test_revoked_grant_or_a_grant_elsewhere_does_not_open(
    app: Flask, clock: Clock, people: People
) -> None:
    case_id = _create(app, clock, people)
    other_id = _create(app, clock, people, grants=(NewGrant(people.outsider, GrantRole.MANAGER),))
    with app_session(app) as session:
        session.execute(
            sa.update(CaseAccessGrant)
            .where(CaseAccessGrant.case_id == case_id)
            .values(revoked_at=clock(), revoke_reason="handed_over")
        )
    with app_session(app) as session:
        with pytest.raises(CaseNotFound):
            _open(session, clock, case_id, people.handler)
        with pytest.raises(CaseNotFound):
            _open(session, clock, case_id, people.outsider)
        assert _open(session, clock, other_id, people.outsider).case.id == other_id
    with app_session(app) as session:
        outcomes = [e.outcome for e in _open_events(session)]
        assert outcomes == [AuditOutcome.DENIED, AuditOutcome.DENIED, AuditOutcome.SUCCESS]


def test_accused_person_cannot_be_granted(app: Flask, clock: Clock, people: People) -> None:
    with app_session(app) as session:
        before = {
            model.__tablename__: session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Case, KeySlot, CaseParty, CaseAccessGrant, AuditEvent)
        }
        with pytest.raises(ValueError, match="accused"):
            create_case(
                session,
                keystore(),
                indexer(),
                _draft(people),
                grants=[
                    NewGrant(people.handler, GrantRole.CONFIDANT),
                    NewGrant(people.accused, GrantRole.MANAGER),
                ],
                now=clock(),
            )
        session.flush()
        after = {
            model.__tablename__: session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Case, KeySlot, CaseParty, CaseAccessGrant, AuditEvent)
        }
        assert after == before, "nothing of the refused case is stored"


def test_accused_person_cannot_open_even_with_a_grant_row(
    app: Flask, clock: Clock, people: People
) -> None:
    case_id = _create(app, clock, people)
    with app_session(app) as session:
        session.add(
            CaseAccessGrant(
                case_id=case_id,
                person_id=people.accused,
                role=GrantRole.MANAGER,
                granted_at=clock(),
            )
        )
    with app_session(app) as session:
        with pytest.raises(CaseNotFound):
            _open(session, clock, case_id, people.accused)
        assert _open(session, clock, case_id, people.handler).case.id == case_id
    with app_session(app) as session:
        denied, allowed = _open_events(session)
        assert (denied.outcome, denied.details) == (AuditOutcome.DENIED, {"reason": "accused"})
        assert allowed.outcome is AuditOutcome.SUCCESS


def test_witness_and_name_only_accused_are_no_obstacle_to_the_handler(
    app: Flask, clock: Clock, people: People
) -> None:
    draft = _draft(
        people,
        parties=(
            NewParty(PartyKind.WITNESS, person_id=people.witness),
            NewParty(PartyKind.ACCUSED, name="Iemand Anders"),
        ),
    )
    case_id = _create(
        app,
        clock,
        people,
        draft,
        grants=(
            NewGrant(people.handler, GrantRole.CONFIDANT),
            NewGrant(people.witness, GrantRole.COMMITTEE_MEMBER),
        ),
    )
    with app_session(app) as session:
        assert _open(session, clock, case_id, people.handler).case.id == case_id


def _grant_by_hand(app: Flask, clock: Clock, case_id: uuid.UUID, person_id: int) -> None:
    """A grant row as a mistake or a later directory change could leave it: ``create_case``
    itself refuses to grant anyone named as accused."""
    with app_session(app) as session:
        session.add(
            CaseAccessGrant(
                case_id=case_id, person_id=person_id, role=GrantRole.MANAGER, granted_at=clock()
            )
        )


def test_a_handler_typed_as_free_text_accused_cannot_open_even_with_a_grant_row(
    app: Flask, clock: Clock, people: People
) -> None:
    with app_session(app) as session:
        handler = session.get(Person, people.handler)
        assert handler is not None
        unit = session.get(OrgUnit, handler.unit_id)
        assert unit is not None
        named = make_person(session, unit, clock(), name="Jan-Willem de Vries").id
        bystander = make_person(session, unit, clock(), name="Jan Willem Vos").id
    # Typed, not picked: other case, word order and punctuation, no directory id at all.
    draft = _draft(people, parties=(NewParty(PartyKind.ACCUSED, name="de VRIES, jan willem"),))
    case_id = _create(app, clock, people, draft)
    _grant_by_hand(app, clock, case_id, named)
    _grant_by_hand(app, clock, case_id, bystander)
    with app_session(app) as session:
        (party,) = session.scalars(sa.select(CaseParty).where(CaseParty.case_id == case_id))
        # Weakened set-up: a check by directory id alone sees nobody it knows, so it would
        # let the accused in.
        assert party.person_index is None
        assert party.name_index is not None
        with pytest.raises(CaseNotFound):
            _open(session, clock, case_id, named)
        # Control: a similar but different name is no obstacle, nor is the handler's own grant.
        assert _open(session, clock, case_id, bystander).case.id == case_id
        assert _open(session, clock, case_id, people.handler).case.id == case_id
    with app_session(app) as session:
        denied, *allowed = _open_events(session)
        assert (denied.outcome, denied.details) == (AuditOutcome.DENIED, {"reason": "accused"})
        assert denied.object_id == str(case_id)
        assert [event.outcome for event in allowed] == [AuditOutcome.SUCCESS] * 2


# Tampering ----------------------------------------------------------------------------------


@pytest.mark.parametrize("column", CASE_TEXT_COLUMNS)
def test_tampered_case_column_is_unreadable_and_recorded(
    app: Flask, clock: Clock, people: People, column: str
) -> None:
    case_id = _create(app, clock, people)
    cases = CASES
    with app_session(app) as session:
        value = session.scalar(sa.select(cases.c[column]).where(cases.c.id == case_id))
        assert isinstance(value, bytes)
        _set_column(session, cases, case_id, **{column: _flip_last_byte(value)})
    with app_session(app) as session:
        with pytest.raises(CaseUnreadable) as caught:
            _open(session, clock, case_id, people.handler)
        reference = session.get_one(Case, case_id).reference
        assert str(caught.value) == reference, "the error names the case, not its content"
    with app_session(app) as session:
        (event,) = _open_events(session)
        assert event.outcome is AuditOutcome.FAILURE
        assert event.details == {"reason": "DecryptionFailed"}


@pytest.mark.parametrize("column", PARTY_TEXT_COLUMNS)
@pytest.mark.parametrize("damage", ["flip", "truncate", "empty"])
def test_tampered_party_column_is_unreadable(
    app: Flask, clock: Clock, people: People, column: str, damage: str
) -> None:
    draft = _draft(
        people,
        parties=(
            NewParty(
                PartyKind.ACCUSED,
                person_id=people.accused,
                name="Kees van der Berg",
                relation_to_complainant="collega",
            ),
        ),
    )
    case_id = _create(app, clock, people, draft)
    parties = CASE_PARTIES
    with app_session(app) as session:
        party_id, value = session.execute(
            sa.select(parties.c.id, parties.c[column]).where(parties.c.case_id == case_id)
        ).one()
        damaged = {"flip": _flip_last_byte(value), "truncate": value[:-1], "empty": b""}[damage]
        _set_column(session, parties, party_id, **{column: damaged})
    with app_session(app) as session, pytest.raises(CaseUnreadable):
        _open(session, clock, case_id, people.handler)
    with app_session(app) as session:
        assert [e.outcome for e in _open_events(session)] == [AuditOutcome.FAILURE]


def test_ciphertext_copied_from_another_case_does_not_open(
    app: Flask, clock: Clock, people: People
) -> None:
    source = _create(app, clock, people, _draft(people, description="Bron."))
    target = _create(app, clock, people)
    cases = CASES
    with app_session(app) as session:
        value = session.scalar(sa.select(cases.c.description).where(cases.c.id == source))
        _set_column(session, cases, target, description=value)
    with app_session(app) as session:
        with pytest.raises(CaseUnreadable):
            _open(session, clock, target, people.handler)
        assert _open(session, clock, source, people.handler).description == "Bron."


def test_ciphertext_copied_to_another_column_does_not_open(
    app: Flask, clock: Clock, people: People
) -> None:
    case_id = _create(app, clock, people)
    cases = CASES
    with app_session(app) as session:
        value = session.scalar(sa.select(cases.c.incident_place).where(cases.c.id == case_id))
        _set_column(session, cases, case_id, description=value)
    with app_session(app) as session, pytest.raises(CaseUnreadable):
        _open(session, clock, case_id, people.handler)


def test_party_ciphertext_copied_to_another_party_does_not_open(
    app: Flask, clock: Clock, people: People
) -> None:
    case_id = _create(app, clock, people)
    parties = CASE_PARTIES
    with app_session(app) as session:
        rows = session.execute(
            sa.select(parties.c.id, parties.c.name)
            .where(parties.c.case_id == case_id, parties.c.name.is_not(None))
            .order_by(parties.c.id)
        ).all()
        assert len(rows) == 2
        (_, first_name), (second_id, _) = rows
        _set_column(session, parties, second_id, name=first_name)
    with app_session(app) as session, pytest.raises(CaseUnreadable):
        _open(session, clock, case_id, people.handler)


def test_case_without_key_slot_is_unreadable(app: Flask, clock: Clock, people: People) -> None:
    case_id = _create(app, clock, people)
    with app_session(app) as session:
        session.execute(sa.delete(KeySlot).where(KeySlot.case_id == case_id))
    with app_session(app) as session, pytest.raises(CaseUnreadable):
        _open(session, clock, case_id, people.handler)
    with app_session(app) as session:
        (event,) = _open_events(session)
        assert (event.outcome, event.details) == (
            AuditOutcome.FAILURE,
            {"reason": "MissingCaseKey"},
        )


def test_audit_events_hold_no_case_content(app: Flask, clock: Clock, people: People) -> None:
    case_id = _create(app, clock, people)
    with app_session(app) as session:
        _open(session, clock, case_id, people.handler)
        with pytest.raises(CaseNotFound):
            _open(session, clock, case_id, people.outsider)
    with app_session(app) as session:
        rows = session.execute(sa.select(AUDIT_EVENTS)).all()
        assert rows
        dump = repr([tuple(row) for row in rows])
        for secret in ("werkoverleg", "Rijnstraat", "Öztürk", "ozturk", "Kees", "chef"):
            assert secret not in dump


# The database itself ------------------------------------------------------------------------


@dataclass(frozen=True)
class Markers:
    secret: dict[str, str]  # field -> marker that must never reach the database in clear
    clear_text: str  # stored in a clear column on purpose: proves the scan finds text
    clear_bytes: str  # stored in clear in a binary column: proves binary columns are read
    clear_utf16: str  # stored as UTF-16 in a binary column: proves UTF-16 forms are found


def _markers() -> Markers:
    tag = uuid.uuid4().hex[:10].upper()
    return Markers(
        secret={
            field: f"ZQX{field.upper()}{tag}"
            for field in (
                "description",
                "period",
                "place",
                "outcome",
                "cname",
                "cemail",
                "aname",
                "relation",
                "wname",
            )
        },
        clear_text=f"ZQXCATEGORY{tag}",
        clear_bytes=f"ZQXREMARK{tag}",
        clear_utf16=f"ZQXUTF16REMARK{tag}",
    )


def _forms(marker: str) -> list[bytes]:
    return [marker.encode(enc) for enc in ("utf-8", "utf-16-le", "utf-16-be")]


def _store_marked_case(app: Flask, clock: Clock, markers: Markers) -> uuid.UUID:
    m = markers.secret
    with app_session(app) as session:
        people = _people(session, clock)
        case = create_case(
            session,
            keystore(),
            indexer(),
            NewCase(
                route=Route.INTEGRITY,
                category=markers.clear_text,
                disclosure=Disclosure.NAMED,
                description=f"Beschrijving {m['description']} — één keer gebeurd.",
                incident_period=f"periode {m['period']}",
                incident_place=f"Plaats {m['place']}, Den Haag",
                desired_outcome=f"uitkomst {m['outcome']}",
                complainant={"name": f"Naam {m['cname']}", "email": f"{m['cemail']}@example.org"},
                parties=(
                    NewParty(
                        PartyKind.ACCUSED,
                        person_id=people.accused,
                        name=f"Beschuldigde {m['aname']}",
                        relation_to_complainant=f"relatie {m['relation']}",
                    ),
                    NewParty(PartyKind.WITNESS, name=f"Getuige {m['wname']}"),
                ),
            ),
            grants=[NewGrant(people.handler, GrantRole.INTEGRITY_COORDINATOR)],
            now=clock(),
        )
        session.add_all(
            [
                CaseEvent(
                    case_id=case.id,
                    occurred_at=clock(),
                    kind="control",
                    remark=markers.clear_bytes.encode("utf-8"),
                ),
                CaseEvent(
                    case_id=case.id,
                    occurred_at=clock(),
                    kind="control",
                    remark=markers.clear_utf16.encode("utf-16-le"),
                ),
            ]
        )
        session.flush()
        # Open it once, so that the audit event and anything a read writes are on disk too.
        open_case(
            session,
            keystore(),
            indexer(),
            case_id=case.id,
            reader_person_id=people.handler,
            actor=READER_ACTOR,
            now=clock(),
        )
        return case.id


def _sqlite_files(database: Path) -> bytes:
    files = [database, *(database.with_name(database.name + s) for s in ("-wal", "-journal"))]
    return b"".join(path.read_bytes() for path in files if path.exists())


def _postgresql_dump(engine: sa.Engine) -> tuple[bytes, list[str]]:
    """Every table, every column: once as raw binary COPY, once as text with escaped bytea."""
    dump = bytearray()
    raw = engine.raw_connection()
    try:
        connection = raw.driver_connection  # psycopg: COPY ... TO STDOUT
        assert connection is not None
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
            )
            tables = [row[0] for row in cursor.fetchall()]
            cursor.execute("SET bytea_output = 'escape'")
            for table in tables:
                for options in ("(FORMAT binary)", "(FORMAT text)"):
                    with cursor.copy(f'COPY "{table}" TO STDOUT {options}') as copy:
                        for chunk in copy:
                            dump += bytes(chunk)
        connection.rollback()
    finally:
        raw.close()
    return bytes(dump), tables


def _assert_scan(dump: bytes, markers: Markers, where: str) -> None:
    # The scan finds what is there: each control marker, in the form it was stored in.
    assert markers.clear_text.encode() in dump, f"{where}: scan misses clear text"
    assert markers.clear_bytes.encode() in dump, f"{where}: scan misses clear bytes"
    assert markers.clear_utf16.encode("utf-16-le") in dump, f"{where}: scan misses UTF-16"
    for field, marker in markers.secret.items():
        for form in _forms(marker):
            assert form not in dump, f"{where}: {field} stored in clear ({form!r})"


@pytest.mark.committing
def test_database_holds_no_case_content_in_clear(
    committed_app: Flask, clock: Clock, backend: str
) -> None:
    markers = _markers()
    case_id = _store_marked_case(committed_app, clock, markers)
    engine: sa.Engine = committed_app.extensions["complaints.db"].engine
    if backend == "sqlite":
        assert engine.url.database is not None
        database = Path(engine.url.database)
        _assert_scan(_sqlite_files(database), markers, "database file and WAL")
        engine.dispose()  # outside SQLAlchemy's BEGIN IMMEDIATE, so the checkpoint can run
        with closing(sqlite3.connect(database, isolation_level=None)) as connection:
            busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0
        _assert_scan(database.read_bytes(), markers, "checkpointed database file")
    else:
        dump, tables = _postgresql_dump(engine)
        assert {"cases", "case_parties", "case_events", "key_slots", "audit_events"} <= set(tables)
        assert str(case_id).encode() in dump, "the case's rows are in the dump"
        _assert_scan(dump, markers, "PostgreSQL dump")
    # And the content is really there, encrypted: it opens again from what was stored.
    with app_session(committed_app) as session:
        grant = session.scalars(
            sa.select(CaseAccessGrant).where(CaseAccessGrant.case_id == case_id)
        ).one()
        content = _open(session, clock, case_id, grant.person_id)
        assert markers.secret["description"] in content.description
        assert content.complainant == {
            "name": f"Naam {markers.secret['cname']}",
            "email": f"{markers.secret['cemail']}@example.org",
        }
