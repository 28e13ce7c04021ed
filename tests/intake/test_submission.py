"""Submitting a report through the service: the whole transaction, routed and encrypted."""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from complaints import db
from complaints.audit.models import ActorKind, AuditEvent
from complaints.audit.services import Actor
from complaints.cases.models import (
    Attachment,
    Case,
    CaseAccessGrant,
    CaseEvent,
    CaseParty,
    Deadline,
    Disclosure,
    GrantRole,
    PartyKind,
    Route,
)
from complaints.cases.receipts import normalise_receipt, receipt_index
from complaints.cases.services import NewAttachment, open_case
from complaints.cases.taxonomy import taxonomy
from complaints.crypto.models import KeySlot
from complaints.crypto.services import indexer, keystore
from complaints.directory.models import Person
from complaints.intake import services as intake
from complaints.intake.services import (
    AccusedPerson,
    Identity,
    RecipientsChanged,
    Report,
    ReportRefused,
    Submission,
    Witness,
    preview_recipients,
    recipients_summary,
    submit_report,
)
from complaints.models import metadata
from complaints.notify.models import Notification, NotificationStatus
from complaints.stats.models import StatEvent
from complaints.workflow.config import workflow
from complaints.workflow.services import enter_state
from tests.conftest import Clock, app_session
from tests.factories import build_report, import_demo_directory, unit


def test_a_confidant_report_is_routed_and_recorded(app: Flask, clock: Clock) -> None:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        report = Report(
            category="discrimination",
            grounds=("race",),
            when="2 maart 2026",
            last_incident_on=None,
            ongoing=False,
            unit_id=unit(session, "BZK-APS").id,
            place="koffiehoek",
            description="Een collega maakte een racistische grap over mij.",
            accused=(AccusedPerson("Lotte Bakker", "collega", people["l.bakker@bzk.example"].id),),
            witnesses=(),
            desired_outcome="Een gesprek.",
            route=Route.CONFIDANT,
            disclosure=Disclosure.CONFIDENTIAL,
            identity=Identity("Sanne de Vries", "s.devries@bzk.example"),
        )
        submission = submit_report(
            session,
            keystore(),
            indexer(),
            taxonomy(),
            workflow(),
            report,
            expected_recipients=None,
            now=clock(),
        )
        assert normalise_receipt(submission.receipt_code)
        assert [r.name for r in submission.recipients] == ["Ingrid Hoekstra"]
        grants = session.scalars(sa.select(CaseAccessGrant)).all()
        assert [g.person_id for g in grants] == [people["i.hoekstra@bzk.example"].id]
        deadline = session.scalars(sa.select(Deadline)).one()
        assert deadline.name == "acknowledge"
        assert str(deadline.due_on) == "2026-03-09"
        assert session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 1
        stat = session.scalars(sa.select(StatEvent)).one()
        assert (stat.kind, stat.category, stat.route) == (
            "submitted",
            "discrimination",
            "confidant",
        )


# Helpers ------------------------------------------------------------------------------------

COMPLAINANT = "Rahul Ramsaran"
DESCRIPTION = "Tijdens het teamoverleg van 2 maart zei mijn teamleider iets kwetsends over mij."
PNG_BODY = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201ad9cd8"
    "7e0000000049454e44ae426082"
)


@dataclass
class RecordingMailer:
    """Stands in for SMTP here: what was handed over for sending (tests/notify uses a server)."""

    batches: list[list[EmailMessage]] = field(default_factory=list)

    def send(self, messages: Sequence[EmailMessage]) -> list[BaseException | None]:
        self.batches.append(list(messages))
        return [None for _ in messages]


@pytest.fixture(autouse=True)
def mailer(app: Flask) -> RecordingMailer:
    recording = RecordingMailer()
    app.extensions["complaints.mailer"] = recording
    return recording


@pytest.fixture
def session(app: Flask, mailer: RecordingMailer) -> Iterator[Session]:
    with app.app_context():
        yield db.session()


@pytest.fixture
def people(session: Session, clock: Clock) -> dict[str, Person]:
    found = import_demo_directory(session, clock())
    return {email.split("@")[0]: person for email, person in found.items()}


def make_report(session: Session, people: dict[str, Person], **changes: Any) -> Report:
    report = build_report(
        category="bullying",
        grounds=(),
        when="sinds januari, nog steeds",
        last_incident_on=date(2026, 2, 27),
        unit_id=unit(session, "BZK-APS").id,
        place="vergaderzaal 4.12",
        description=DESCRIPTION,
        accused=(AccusedPerson("Mohamed el Idrissi", "teamleider", people["m.elidrissi"].id),),
        witnesses=(Witness("Lotte Bakker", "toestel 1234", people["l.bakker"].id),),
        desired_outcome="Excuses en een gesprek.",
        identity=Identity(COMPLAINANT, "r.ramsaran@bzk.example", "06 12345678"),
        manager_person_id=people["m.elidrissi"].id,
        attachments=(
            NewAttachment("verslag.txt", "text/plain", b"Aantekeningen van 2 maart."),
            NewAttachment("foto.png", "image/png", PNG_BODY),
        ),
    )
    return replace(report, **changes)


def submit(
    session: Session, report: Report, now: datetime, expected: frozenset[int] | None = None
) -> Submission:
    return submit_report(
        session,
        keystore(),
        indexer(),
        taxonomy(),
        workflow(),
        report,
        expected_recipients=expected,
        now=now,
    )


def row_counts(session: Session) -> dict[str, int]:
    return {
        table.name: session.scalar(sa.select(sa.func.count()).select_from(table)) or 0
        for table in metadata.sorted_tables
    }


def growth(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in before if after[name] != before[name]}


# What one submission writes --------------------------------------------------------------------


def test_one_submission_writes_exactly_its_rows(
    session: Session, clock: Clock, people: dict[str, Person]
) -> None:
    before = row_counts(session)
    submission = submit(session, make_report(session, people, route=Route.COMMITTEE), clock())
    after = row_counts(session)
    assert growth(before, after) == {
        "cases": 1,
        "case_parties": 2,  # the accused and the witness
        "attachments": 2,
        "key_slots": 1,
        "case_access_grants": 2,  # both committee secretaries
        "case_events": 1,
        "deadlines": 3,  # acknowledge, admissibility, decision
        "audit_events": 3,  # submitted, and access granted twice
        "notifications": 2,
        "stat_events": 1,
    }
    case = submission.case
    assert [r.name for r in submission.recipients] == ["Wim de Boer", "Noor Haddou"]
    assert case.state == "submitted"
    assert case.organisation_id == unit(session, "BZK").id  # the ministry, not the directorate

    parties = session.scalars(sa.select(CaseParty).where(CaseParty.case_id == case.id)).all()
    assert sorted(p.kind for p in parties) == [PartyKind.ACCUSED, PartyKind.WITNESS]
    assert {a.content_type for a in session.scalars(sa.select(Attachment))} == {
        "text/plain",
        "image/png",
    }
    slot = session.scalars(sa.select(KeySlot)).one()
    assert slot.case_id == case.id
    grants = session.scalars(sa.select(CaseAccessGrant).order_by(CaseAccessGrant.id)).all()
    assert [(g.person_id, g.role) for g in grants] == [
        (people["w.deboer"].id, GrantRole.COMMITTEE_SECRETARY),
        (people["n.haddou"].id, GrantRole.COMMITTEE_SECRETARY),
    ]
    event = session.scalars(sa.select(CaseEvent)).one()
    assert (event.kind, event.from_state, event.to_state) == ("submitted", None, "submitted")

    # The content went in encrypted and comes out again for a handler.
    content = open_case(
        session,
        keystore(),
        indexer(),
        case_id=case.id,
        reader_person_id=people["n.haddou"].id,
        actor=Actor(ActorKind.STAFF, "1"),
        now=clock(),
    )
    assert content.description == DESCRIPTION
    assert content.complainant == {
        "name": COMPLAINANT,
        "email": "r.ramsaran@bzk.example",
        "phone": "06 12345678",
    }


def test_deadlines_come_from_the_workflow_with_their_due_dates(
    session: Session, clock: Clock, people: dict[str, Person]
) -> None:
    clock.current = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    case = submit(session, make_report(session, people, route=Route.COMMITTEE), clock()).case
    deadlines = session.scalars(sa.select(Deadline).where(Deadline.case_id == case.id)).all()
    assert {(d.name, d.due_on, d.started_at) for d in deadlines} == {
        ("acknowledge", date(2026, 3, 9), clock()),
        ("admissibility", date(2026, 3, 16), clock()),
        ("decision", date(2026, 5, 11), clock()),  # Awb 9:11: ten weeks
    }
    assert all(d.met_at is None and d.cancelled_at is None for d in deadlines)


@pytest.mark.parametrize(
    ("filed", "due"),
    [
        # 23:30 in Amsterdam on Saturday 28 March, the night summer time starts (still CET).
        (datetime(2026, 3, 28, 22, 30, tzinfo=UTC), date(2026, 4, 4)),
        # 00:30 in Amsterdam on 29 March: still the 28th in UTC, but the 29th where it counts.
        (datetime(2026, 3, 28, 23, 30, tzinfo=UTC), date(2026, 4, 5)),
        # 23:30 in summer time on 29 March (21:30 UTC).
        (datetime(2026, 3, 29, 21, 30, tzinfo=UTC), date(2026, 4, 5)),
        # 00:30 on 25 October, the night summer time ends: 22:30 UTC the day before.
        (datetime(2026, 10, 24, 22, 30, tzinfo=UTC), date(2026, 11, 1)),
        # 23:30 on 31 December in Amsterdam is 22:30 UTC: the year does not move.
        (datetime(2026, 12, 31, 22, 30, tzinfo=UTC), date(2027, 1, 7)),
    ],
)
def test_acknowledgement_is_due_seven_calendar_days_later_in_amsterdam(
    session: Session, clock: Clock, people: dict[str, Person], filed: datetime, due: date
) -> None:
    clock.current = filed
    case = submit(session, make_report(session, people), clock()).case
    deadline = session.scalars(sa.select(Deadline).where(Deadline.case_id == case.id)).one()
    assert (deadline.name, deadline.due_on) == ("acknowledge", due)


def test_integrity_feedback_starts_only_at_acknowledgement(
    session: Session, clock: Clock, people: dict[str, Person]
) -> None:
    clock.current = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    report = make_report(session, people, route=Route.INTEGRITY, category="integrity")
    case = submit(session, report, clock()).case
    names = session.scalars(sa.select(Deadline.name).where(Deadline.case_id == case.id)).all()
    assert names == ["acknowledge"]
    acknowledged_at = clock.advance(days=10)  # 30 November
    case.state = "acknowledged"
    enter_state(session, workflow(), case, "acknowledged", acknowledged_at)
    deadlines = {
        d.name: d for d in session.scalars(sa.select(Deadline).where(Deadline.case_id == case.id))
    }
    assert deadlines["acknowledge"].met_at == acknowledged_at
    assert deadlines["feedback"].started_at == acknowledged_at
    assert deadlines["feedback"].due_on == date(2027, 2, 28)  # 3 months, February is short


def test_audit_events_hold_ids_only(
    session: Session, clock: Clock, people: dict[str, Person]
) -> None:
    report = make_report(session, people, route=Route.COMMITTEE)
    submission = submit(session, report, clock())
    case = submission.case
    events = session.scalars(sa.select(AuditEvent).where(AuditEvent.action.like("case.%"))).all()
    assert [e.action for e in events] == [
        "case.submitted",
        "case.access_granted",
        "case.access_granted",
    ]
    assert {(e.object_type, e.object_id, e.actor_kind) for e in events} == {
        ("case", str(case.id), ActorKind.COMPLAINANT)
    }
    assert events[0].details == {
        "route": "committee",
        "disclosure": "confidential",
        "grants": 2,
        "attachments": 2,
    }
    assert [e.details for e in events[1:]] == [
        {
            "person_id": people[handler].id,
            "role": "committee_secretary",
            "basis": "secretariat",
        }
        for handler in ("w.deboer", "n.haddou")
    ]
    stored = json.dumps([[e.actor_id, e.details] for e in events], ensure_ascii=False).lower()
    for secret in _secrets(report, submission):
        assert secret.lower() not in stored


def test_one_notification_per_recipient_with_a_reference_and_a_date_only(
    session: Session, clock: Clock, people: dict[str, Person]
) -> None:
    report = make_report(session, people, route=Route.COMMITTEE)
    submission = submit(session, report, clock())
    notifications = session.scalars(sa.select(Notification).order_by(Notification.id)).all()
    assert [n.recipient_person_id for n in notifications] == [
        people["w.deboer"].id,
        people["n.haddou"].id,
    ]
    for notification in notifications:
        assert notification.kind == "case_assigned"
        assert notification.status is NotificationStatus.PENDING
        assert notification.params == {
            "reference": submission.case.reference,
            "acknowledge_by": "2026-03-09",
        }
        stored = json.dumps(notification.params).lower()
        for secret in _secrets(report, submission):
            assert secret.lower() not in stored


def test_the_stat_event_cannot_be_linked_to_the_case(
    session: Session, clock: Clock, people: dict[str, Person]
) -> None:
    report = make_report(session, people, category="discrimination", grounds=("race", "age"))
    submission = submit(session, report, clock())
    stat = session.scalars(sa.select(StatEvent)).one()
    assert "case_id" not in StatEvent.__table__.columns
    assert (stat.kind, stat.quarter, stat.category, stat.grounds) == (
        "submitted",
        "2026-Q1",
        "discrimination",
        ["age", "race"],
    )
    assert (stat.route, stat.disclosure, stat.organisation_id) == (
        "confidant",
        "confidential",
        unit(session, "BZK").id,
    )
    values = [str(getattr(stat, c.key)) for c in StatEvent.__table__.columns]
    case = submission.case
    for link in (str(case.id), case.id.hex, case.reference, case.reference.split("-", 1)[1]):
        assert not any(link in value for value in values)


def test_a_failure_at_the_last_step_leaves_no_row_anywhere(
    app: Flask,
    session: Session,
    clock: Clock,
    people: dict[str, Person],
    mailer: RecordingMailer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db.commit()  # the directory is there before and after
    report = make_report(session, people, route=Route.COMMITTEE)
    before = row_counts(session)

    def failing_record_stat(*_args: object, **_kwargs: object) -> None:
        # Everything else has been written by now: this is the submission's last step.
        assert row_counts(db.session())["notifications"] == before["notifications"] + 2
        raise RuntimeError("statistics unavailable")

    monkeypatch.setattr(intake, "record_stat", failing_record_stat)
    with pytest.raises(RuntimeError, match="statistics unavailable"), db.unit_of_work() as work:
        submit(work, report, clock())
    assert row_counts(db.session()) == before
    assert mailer.batches == []
    # The same submission without the failure commits, and only then is e-mail sent.
    monkeypatch.undo()
    with db.unit_of_work() as work:
        submit(work, report, clock())
    assert growth(before, row_counts(db.session()))["cases"] == 1
    assert [len(batch) for batch in mailer.batches] == [2]  # one connection for both


# The receipt code and the complainant's address -------------------------------------------------


def _sqlite_files(database: Path) -> bytes:
    files = [database, *(database.with_name(database.name + s) for s in ("-wal", "-journal"))]
    return b"".join(path.read_bytes() for path in files if path.exists())


def _postgresql_dump(engine: sa.Engine) -> bytes:
    """Every table as binary and as text COPY (bytea escaped), as a backup would hold it."""
    dump = bytearray()
    raw = engine.raw_connection()
    try:
        connection = raw.driver_connection
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
    assert "cases" in tables
    return bytes(dump)


def _database_bytes(app: Flask, backend: str) -> list[bytes]:
    engine: sa.Engine = app.extensions["complaints.db"].engine
    if backend != "sqlite":
        return [_postgresql_dump(engine)]
    assert engine.url.database is not None
    database = Path(engine.url.database)
    files = _sqlite_files(database)
    engine.dispose()  # outside SQLAlchemy's BEGIN IMMEDIATE, so the checkpoint can run
    with closing(sqlite3.connect(database, isolation_level=None)) as connection:
        busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0
    return [files, database.read_bytes()]


def _code_forms(code: str) -> list[bytes]:
    forms = {code, code.replace("-", ""), code.lower(), code.replace("-", "").lower()}
    forms |= {code.replace("-", " "), code.split("-")[0] + code.split("-")[1]}
    return [
        encoded
        for form in sorted(forms)
        for encoded in (form.encode(), form.encode("utf-16-le"), form.encode("utf-16-be"))
    ]


@pytest.mark.committing
def test_the_receipt_code_and_client_address_are_never_stored(
    committed_app: Flask, clock: Clock, backend: str
) -> None:
    client_address = "198.51.100.77"
    committed_app.extensions["complaints.mailer"] = RecordingMailer()
    with app_session(committed_app) as session:
        found = import_demo_directory(session, clock())
    people = {email.split("@")[0]: person for email, person in found.items()}
    with (
        committed_app.test_request_context("/melden", environ_base={"REMOTE_ADDR": client_address}),
        db.unit_of_work() as session,
    ):
        submission = submit(session, make_report(session, people), clock())
    code = submission.receipt_code
    with app_session(committed_app) as session:
        stored = session.scalar(sa.select(Case.receipt_index))
        assert stored == receipt_index(indexer(), code)
        # Typed any way the complainant likes, the code finds the case through its index.
        for typed in (code.lower(), code.replace("-", ""), f"  {code.replace('-', ' ')} "):
            index = receipt_index(indexer(), typed)
            assert session.scalar(sa.select(Case.id).where(Case.receipt_index == index))
    for where, dump in enumerate(_database_bytes(committed_app, backend)):
        assert submission.case.reference.encode() in dump, "the scan sees the stored rows"
        for form in _code_forms(code):
            assert form not in dump, (where, form)
        assert client_address.encode() not in dump
        assert socket.inet_aton(client_address) not in dump


# Columns whose name says "client" but hold no address: the log-in throttle keeps the rate
# limiter's keyed hash of the client (tests/accounts checks the stored values are 32-hex hashes).
KEYED_CLIENT_HASHES = {("login_failures", "client_key")}


def test_no_column_is_made_for_addresses() -> None:
    suspicious = {"ip", "ipaddr", "ip_address", "addr", "address", "remote", "host", "client"}
    for table in metadata.sorted_tables:
        for column in table.columns:
            if (table.name, column.name) in KEYED_CLIENT_HASHES:
                continue
            words = set(column.name.lower().split("_")) | {column.name.lower()}
            assert not words & suspicious, f"{table.name}.{column.name}"


# What is refused ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason", "field_name"),
    [
        (
            {"route": Route.COMMITTEE, "disclosure": Disclosure.ANONYMOUS},
            "committee_needs_identity",
            "disclosure",
        ),
        ({"category": "integrity", "route": Route.COMMITTEE}, "route_not_for_category", "route"),
        ({"category": "discrimination", "grounds": ()}, "grounds_required", "grounds"),
        (
            {"category": "discrimination", "grounds": ("race", "astrology")},
            "unknown_ground",
            "grounds",
        ),
        ({"grounds": ("horoscope",)}, "unknown_ground", "grounds"),
        ({"category": "parking"}, "unknown_category", "category"),
        ({"description": "  \n "}, "description_required", "description"),
        ({"description": "x" * 20_001}, "text_too_long", "description"),
        ({"desired_outcome": "x" * 20_001}, "text_too_long", "desired_outcome"),
        ({"place": "x" * 501}, "text_too_long", "place"),
        ({"when": "x" * 501}, "text_too_long", "when"),
        ({"accused": (AccusedPerson("x" * 501),)}, "text_too_long", "accused"),
        ({"witnesses": (Witness("Lotte", "x" * 501),)}, "text_too_long", "witnesses"),
        ({"identity": Identity("Rahul", "x" * 501)}, "text_too_long", "email"),
        ({"identity": None}, "identity_required", "name"),
        ({"identity": Identity("   ")}, "identity_required", "name"),
        ({"route": Route.MANAGER, "manager_person_id": None}, "manager_required", "manager"),
    ],
)
def test_a_report_that_breaks_a_rule_is_refused_and_writes_nothing(
    session: Session,
    clock: Clock,
    people: dict[str, Person],
    changes: dict[str, Any],
    reason: str,
    field_name: str,
) -> None:
    before = row_counts(session)
    with pytest.raises(ReportRefused) as refused:
        submit(session, make_report(session, people, **changes), clock())
    assert (refused.value.reason, refused.value.field) == (reason, field_name)
    assert row_counts(session) == before


def test_an_anonymous_report_is_possible_outside_the_committee(
    session: Session, clock: Clock, people: dict[str, Person]
) -> None:
    report = make_report(session, people, disclosure=Disclosure.ANONYMOUS, identity=None)
    case = submit(session, report, clock()).case
    assert (case.disclosure, case.complainant, case.complainant_index) == (
        Disclosure.ANONYMOUS,
        None,
        None,
    )


def test_a_category_that_is_no_longer_offered_is_refused(
    app: Flask, session: Session, clock: Clock, people: dict[str, Person]
) -> None:
    current = taxonomy()
    retired = replace(current.categories["bullying"], offered=False)
    app.extensions["complaints.taxonomy"] = replace(
        current, categories={**current.categories, "bullying": retired}
    )
    with pytest.raises(ReportRefused) as refused:
        submit(session, make_report(session, people), clock())
    assert refused.value.reason == "unknown_category"


def test_grounds_are_kept_only_for_a_category_that_asks_for_them(
    session: Session, clock: Clock, people: dict[str, Person]
) -> None:
    # A form switched from discrimination to bullying may still send the ticked boxes.
    case = submit(session, make_report(session, people, grounds=("race",)), clock()).case
    assert case.grounds == []
    assert session.scalars(sa.select(StatEvent.grounds)).one() == []
    report = make_report(
        session, people, category="discrimination", grounds=("religion", "race", "race")
    )
    case = submit(session, report, clock()).case
    assert case.grounds == ["race", "religion"]


@pytest.mark.parametrize(
    ("last_incident_on", "ongoing", "route", "now", "out_of_term"),
    [
        (date(2025, 3, 1), False, Route.COMMITTEE, datetime(2026, 3, 2, 9, 0, tzinfo=UTC), True),
        (date(2025, 3, 2), False, Route.COMMITTEE, datetime(2026, 3, 2, 9, 0, tzinfo=UTC), False),
        (date(2025, 3, 1), True, Route.COMMITTEE, datetime(2026, 3, 2, 9, 0, tzinfo=UTC), False),
        (date(2025, 3, 1), False, Route.CONFIDANT, datetime(2026, 3, 2, 9, 0, tzinfo=UTC), False),
        (None, False, Route.COMMITTEE, datetime(2026, 3, 2, 9, 0, tzinfo=UTC), False),
        (date(2020, 1, 1), False, Route.COMMITTEE, datetime(2026, 3, 2, 9, 0, tzinfo=UTC), True),
        # Exactly a year after 28 February 2024, across a leap day: still in term.
        (date(2024, 2, 28), False, Route.COMMITTEE, datetime(2025, 2, 28, 9, 0, tzinfo=UTC), False),
        (date(2024, 2, 28), False, Route.COMMITTEE, datetime(2025, 3, 1, 9, 0, tzinfo=UTC), True),
        # 23:30 on 2 March in Amsterdam is 22:30 UTC: the local day decides.
        (date(2025, 3, 2), False, Route.COMMITTEE, datetime(2026, 3, 2, 22, 30, tzinfo=UTC), False),
        (date(2025, 3, 2), False, Route.COMMITTEE, datetime(2026, 3, 2, 23, 30, tzinfo=UTC), True),
    ],
)
def test_a_committee_complaint_about_an_old_incident_is_out_of_term(
    session: Session,
    clock: Clock,
    people: dict[str, Person],
    last_incident_on: date | None,
    ongoing: bool,
    route: Route,
    now: datetime,
    out_of_term: bool,
) -> None:
    clock.current = now
    report = make_report(
        session, people, last_incident_on=last_incident_on, ongoing=ongoing, route=route
    )
    assert submit(session, report, clock()).case.out_of_term is out_of_term


def test_recipients_that_changed_since_the_review_stop_the_submission(
    session: Session, clock: Clock, people: dict[str, Person]
) -> None:
    report = make_report(session, people)
    reviewed = recipients_summary(preview_recipients(session, workflow(), report))
    assert reviewed == {people["i.hoekstra"].id}
    before = row_counts(session)
    # Between the review and "send", Ingrid Hoekstra left: Guus Verbeek would receive it.
    people["i.hoekstra"].active = False
    session.flush()
    with pytest.raises(RecipientsChanged):
        submit(session, report, clock(), expected=reviewed)
    assert row_counts(session) == before
    for expected in (frozenset(), frozenset({people["g.verbeek"].id, people["i.hoekstra"].id})):
        with pytest.raises(RecipientsChanged):
            submit(session, report, clock(), expected=expected)
    submission = submit(session, report, clock(), expected=frozenset({people["g.verbeek"].id}))
    assert [r.name for r in submission.recipients] == ["Guus Verbeek"]


def test_a_complainant_who_is_a_handler_does_not_receive_their_own_report(
    session: Session, clock: Clock, people: dict[str, Person]
) -> None:
    identity = Identity("Ingrid Hoekstra", "i.hoekstra@bzk.example")
    report = make_report(session, people, identity=identity)
    submission = submit(session, report, clock())
    assert [r.name for r in submission.recipients] == ["Guus Verbeek"]
    filed = make_report(
        session,
        people,
        identity=Identity("I. Hoekstra"),
        filer_person_id=people["i.hoekstra"].id,
    )
    assert [r.name for r in submit(session, filed, clock()).recipients] == ["Guus Verbeek"]


def _secrets(report: Report, submission: Submission) -> list[str]:
    """Everything a report says that must stay inside the encrypted case."""
    values = [report.description, report.place, report.when, report.desired_outcome]
    values += [a.name for a in report.accused] + [a.relation for a in report.accused]
    values += [w.name for w in report.witnesses] + [w.contact for w in report.witnesses]
    if report.identity is not None:
        values += [report.identity.name, report.identity.email, report.identity.phone]
    values += [submission.receipt_code, submission.receipt_code.replace("-", "")]
    return [v for v in values if v]
