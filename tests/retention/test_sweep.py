"""The retention sweep: destroy, redact, holds, extensions, other categories, the audit log, the
plan; idempotent, statistics untouched, the audit chain verifiable afterwards."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from complaints import db
from complaints.accounts.models import SessionStage, StaffSession
from complaints.audit.models import AuditCheckpoint, AuditEvent
from complaints.audit.services import Actor, record_event, verify_chain
from complaints.cases.models import Case, CaseParty, PartyKind, Route
from complaints.cases.services import CaseNotFound, open_case
from complaints.clock import now
from complaints.crypto.keystore import KekStatus
from complaints.crypto.models import KeySlot
from complaints.crypto.services import case_cipher, indexer, keystore
from complaints.directory.models import Person
from complaints.followup.models import ComplainantSession
from complaints.intake.models import DraftAttachment, IntakeDraft
from complaints.models import metadata
from complaints.notify.models import Notification, NotificationStatus
from complaints.retention.models import (
    LedgerAction,
    LedgerEntry,
    RetentionExtension,
    RetentionHold,
)
from complaints.retention.policy import Action, retention_policy
from complaints.retention.sweep import (
    CASE_TABLES,
    EPOCH_SLOTS,
    SweepReport,
    apply,
    cutoff,
    plan,
)
from complaints.stats.models import StatEvent
from complaints.workflow.config import Period, workflow
from tests.conftest import Clock, app_session
from tests.factories import make_account, make_org, make_person
from tests.retention.conftest import (
    CASE_ROW_TABLES,
    SECRET_WORDS,
    Made,
    at,
    case_rows,
    ledger_text,
    make_finished_case,
)

CLOSED = date(2026, 3, 12)
CONFIDANT_DUE = date(2028, 3, 12)  # two years after closing
INTEGRITY_REDACT_DUE = date(2027, 3, 12)
INTEGRITY_DUE = date(2031, 3, 12)


@pytest.fixture
def handler(app: Flask, clock: Clock) -> Person:
    with app_session(app) as session:
        org = make_org(session, clock())
        return make_person(session, org.directorate, clock())


def _case(app: Flask, handler: Person, **kwargs: object) -> Made:
    with app_session(app) as session:
        return make_finished_case(
            session,
            handler=handler,
            filed_at=at(date(2026, 3, 2)),
            closed_at=at(CLOSED),
            **kwargs,  # type: ignore[arg-type]
        )


def _sweep(app: Flask, as_of: date, *, batch_size: int = 50) -> SweepReport:
    with app.app_context():
        report = apply(
            db.session(),
            retention_policy(),
            workflow(),
            keystore(),
            as_of=as_of,
            now=now(),
            actor=Actor.operator(),
            batch_size=batch_size,
            commit=db.commit,
        )
        db.commit()
    return report


def _rows(app: Flask, made: Made) -> dict[str, int]:
    with app_session(app) as session:
        return case_rows(session, made.id)


def _ledger(app: Flask) -> list[tuple[str, str | None, str, str, dict[str, int]]]:
    with app_session(app) as session:
        return [
            (e.category, e.subject, e.rule, e.action, e.records)
            for e in session.scalars(sa.select(LedgerEntry).order_by(LedgerEntry.id))
        ]


def _verify(app: Flask) -> tuple[bool, int | None, str | None]:
    with app_session(app) as session:
        report = verify_chain(session, keystore())
    return report.ok, report.broken_seq, report.reason


def _snapshot(app: Flask) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, to show that a second sweep changes nothing."""
    with app_session(app) as session:
        return {
            name: sorted(
                (tuple(str(v) for v in row) for row in session.execute(sa.select(table))),
            )
            for name, table in metadata.tables.items()
        }


# Destruction -----------------------------------------------------------------------------------


def test_the_sweep_knows_every_table_that_holds_case_rows() -> None:
    assert sorted(model.__tablename__ for model in CASE_TABLES) == CASE_ROW_TABLES


def test_nothing_happens_before_the_day(app: Flask, handler: Person) -> None:
    made = _case(app, handler)
    before = _rows(app, made)
    report = _sweep(app, CONFIDANT_DUE - timedelta(days=1))
    assert (report.cases_destroyed, report.cases_redacted) == (0, 0)
    assert _rows(app, made) == before
    assert _ledger(app) == []


def test_destruction_removes_the_key_then_every_row_and_writes_one_ledger_row(
    app: Flask, handler: Person
) -> None:
    made = _case(app, handler)
    kept = _case(app, handler, route=Route.INTEGRITY)  # five years: stays
    before = _rows(app, made)
    assert all(before[name] for name in ("key_slots", "messages", "attachments", "case_parties"))

    report = _sweep(app, CONFIDANT_DUE)

    assert report.cases_destroyed == 1
    assert set(_rows(app, made).values()) == {0}
    assert _rows(app, kept)["cases"] == 1
    [entry] = [e for e in _ledger(app) if e[3] == LedgerAction.DESTROYED]
    _category, subject, rule, action, records = entry
    assert (subject, rule, action) == (made.reference, "confidant-closed", LedgerAction.DESTROYED)
    # Counts per kind of record, exactly what was there; its slot went under an epoch key
    # first (the sweep caught up: the case was never placed ahead of its day).
    assert records == {name: count for name, count in before.items() if count} | {EPOCH_SLOTS: 1}
    with app_session(app) as session:
        text = ledger_text(session)
        audit = session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "retention.case_destroyed")
        ).one()
        audit_text = json.dumps(audit.details)
    assert audit.object_type == "case"
    assert audit.object_id == str(made.id)
    assert audit.details == {"reference": made.reference, "rule": "confidant-closed"}
    for word in SECRET_WORDS:
        assert word not in text
        assert word not in audit_text
    assert _verify(app) == (True, None, None)


def test_a_destroyed_case_cannot_be_opened(app: Flask, handler: Person, clock: Clock) -> None:
    made = _case(app, handler)
    _sweep(app, CONFIDANT_DUE)
    with app_session(app) as session, pytest.raises(CaseNotFound):
        open_case(
            session,
            keystore(),
            indexer(),
            case_id=made.id,
            reader_person_id=handler.id,
            actor=Actor.operator(),
            now=clock(),
        )


def test_a_referral_survives_the_destruction_of_the_case_it_came_from(
    app: Flask, handler: Person
) -> None:
    origin = _case(app, handler)
    referred = _case(app, handler, route=Route.INTEGRITY, referred_from=origin.id)
    _sweep(app, CONFIDANT_DUE)
    assert _rows(app, origin)["cases"] == 0
    with app_session(app) as session:
        case = session.get(Case, referred.id)
        assert case is not None
        assert case.referred_from_id is None


def test_withdrawn_cases_go_after_ninety_days(app: Flask, handler: Person) -> None:
    made = _case(app, handler, state="withdrawn")
    assert _sweep(app, CLOSED + timedelta(days=89)).cases_destroyed == 0
    assert _sweep(app, CLOSED + timedelta(days=90)).cases_destroyed == 1
    assert _rows(app, made)["cases"] == 0
    assert _ledger(app)[0][2] == "withdrawn"


def test_committee_cases_count_from_the_decision(app: Flask, handler: Person) -> None:
    made = _case(app, handler, route=Route.COMMITTEE, outcome="founded")
    decided = at(date(2026, 3, 5))
    with app_session(app) as session:
        from complaints.cases.models import CaseEvent

        session.add(
            CaseEvent(
                case_id=made.id, occurred_at=decided, kind="state_changed", to_state="decided"
            )
        )
    assert _sweep(app, date(2029, 3, 4)).cases_destroyed == 0
    assert _sweep(app, date(2029, 3, 5)).cases_destroyed == 1


def test_many_cases_in_small_batches(app: Flask, handler: Person) -> None:
    made = [_case(app, handler, extras=False) for _ in range(7)]
    batches: list[int] = []
    with app.app_context():
        report = apply(
            db.session(),
            retention_policy(),
            workflow(),
            keystore(),
            as_of=CONFIDANT_DUE,
            now=now(),
            actor=Actor.operator(),
            batch_size=2,
            commit=db.commit,
            on_batch=lambda r: batches.append(r.cases_destroyed),
        )
        db.commit()
    assert report.cases_destroyed == 7
    assert batches == [2, 4, 6, 7]
    with app_session(app) as session:
        audited = session.scalars(
            sa.select(AuditEvent.details)
            .where(AuditEvent.action == "retention.case_destroyed")
            .order_by(AuditEvent.seq)
        ).all()
    assert sorted(d["reference"] for d in audited) == sorted(m.reference for m in made)
    # Appended a batch at a time, the chain is whole.
    assert _verify(app) == (True, None, None)
    assert sorted(e[1] for e in _ledger(app) if e[0] == "case") == sorted(  # type: ignore[type-var]
        m.reference for m in made
    )


# Redaction ----------------------------------------------------------------------------------


def test_redaction_removes_the_named_fields_and_keeps_the_rest(app: Flask, handler: Person) -> None:
    made = _case(app, handler, route=Route.INTEGRITY)
    before = _rows(app, made)
    assert _sweep(app, INTEGRITY_REDACT_DUE - timedelta(days=1)).cases_redacted == 0

    report = _sweep(app, INTEGRITY_REDACT_DUE)

    assert (report.cases_redacted, report.cases_destroyed) == (1, 0)
    after = _rows(app, made)
    assert after["messages"] == 0
    assert after["complainant_sessions"] == 0
    assert {k: v for k, v in after.items() if k not in ("messages", "complainant_sessions")} == {
        k: v for k, v in before.items() if k not in ("messages", "complainant_sessions")
    }
    with app_session(app) as session:
        case = session.get(Case, made.id)
        assert case is not None
        assert (case.complainant, case.complainant_index, case.receipt_index) == (None, None, None)
        assert case.version == 2  # made, then closed: the redaction bumps nothing
        cipher = case_cipher(session, keystore(), made.id)
        assert case.description is not None
        assert "racistische" in cipher.open_text("cases", "description", made.id, case.description)
    [entry] = _ledger(app)
    assert entry == (
        "case",
        made.reference,
        "integrity-redact",
        LedgerAction.REDACTED,
        {"complainant": 1, "complainant_sessions": 1, "messages": 2, "receipt": 1},
    )
    # Done once: a second sweep neither redacts again nor writes a row.
    assert _sweep(app, INTEGRITY_REDACT_DUE + timedelta(days=30)).cases_redacted == 0
    assert len(_ledger(app)) == 1
    # The destroy rule still comes, four years later.
    assert _sweep(app, INTEGRITY_DUE).cases_destroyed == 1
    assert [e[3] for e in _ledger(app) if e[0] == "case"] == [
        LedgerAction.REDACTED,
        LedgerAction.DESTROYED,
    ]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (["witnesses"], {"case_parties": 1}),
        (["parties"], {"case_parties": 2}),
        (["description", "incident", "desired_outcome"], None),
        (["attachments", "notes", "documents"], {"attachments": 1, "case_notes": 1}),
        (["remarks", "consent_details"], {"remarks": 1, "consent_details": 1}),
    ],
)
def test_every_redactable_field(
    app: Flask, handler: Person, fields: list[str], expected: dict[str, int] | None
) -> None:
    from dataclasses import replace

    made = _case(app, handler, route=Route.INTEGRITY)
    original = app.extensions["complaints.retention"]
    rules = tuple(
        replace(r, fields=tuple(fields)) if r.name == "integrity-redact" else r
        for r in original.rules
    )
    app.extensions["complaints.retention"] = replace(original, rules=rules)
    _sweep(app, INTEGRITY_REDACT_DUE)
    [entry] = _ledger(app)
    with app_session(app) as session:
        case = session.get(Case, made.id)
        assert case is not None
        parties = session.scalars(sa.select(CaseParty).where(CaseParty.case_id == made.id)).all()
        events = session.execute(
            sa.text("SELECT remark FROM case_events WHERE case_id = :id AND remark IS NOT NULL"),
            {"id": made.id.hex if db.database().dialect == "sqlite" else made.id},
        ).all()
    if "witnesses" in fields:
        assert [p.kind for p in parties] == [PartyKind.ACCUSED]
    if "description" in fields:
        assert (case.description, case.incident_period, case.incident_place) == (None, None, None)
        assert case.desired_outcome is None
        assert case.complainant is not None
        assert entry[4] == {"description": 1, "incident": 1, "desired_outcome": 1}
    if "remarks" in fields:
        assert events == []
    if expected == {"attachments": 1, "case_notes": 1}:
        assert entry[4] == {"attachments": 1, "case_notes": 1, "case_documents": 1}
    elif expected is not None:
        assert entry[4] == expected


# Holds and extensions -------------------------------------------------------------------------


def _hold(app: Flask, made: Made, *, until: date | None = None, lifted: bool = False) -> None:
    with app_session(app) as session:
        session.add(
            RetentionHold(
                case_id=made.id,
                reason="Rechtszaak",
                until=until,
                placed_at=at(date(2027, 1, 1)),
                lifted_at=at(date(2027, 6, 1)) if lifted else None,
            )
        )


def test_a_hold_suspends_destruction_and_redaction(app: Flask, handler: Person) -> None:
    held = _case(app, handler)
    held_integrity = _case(app, handler, route=Route.INTEGRITY)
    _hold(app, held)
    _hold(app, held_integrity)
    report = _sweep(app, INTEGRITY_DUE)
    assert (report.cases_destroyed, report.cases_redacted) == (0, 0)
    assert report.held == 3  # one destruction, one redaction and one destruction
    assert _rows(app, held)["cases"] == 1
    assert _rows(app, held_integrity)["messages"] == 2
    assert _ledger(app) == []
    with app_session(app) as session:
        # While held, the case's key is not under any month's epoch key.
        slot = session.scalars(sa.select(KeySlot).where(KeySlot.case_id == held.id)).one()
        assert slot.key_id == keystore().active_kek_id()


def test_a_hold_ends_on_its_day_or_when_lifted(app: Flask, handler: Person) -> None:
    until = _case(app, handler)
    lifted = _case(app, handler)
    _hold(app, until, until=CONFIDANT_DUE)
    _hold(app, lifted, lifted=True)
    assert _sweep(app, CONFIDANT_DUE).cases_destroyed == 1
    assert _rows(app, lifted)["cases"] == 0
    assert _sweep(app, CONFIDANT_DUE + timedelta(days=1)).cases_destroyed == 1
    assert _rows(app, until)["cases"] == 0


def test_an_extension_moves_the_day(app: Flask, handler: Person) -> None:
    made = _case(app, handler)
    with app_session(app) as session:
        session.add(
            RetentionExtension(
                case_id=made.id,
                rule="confidant-closed",
                reason="Nieuwe melding verwacht",
                extended_at=at(date(2028, 1, 1)),
            )
        )
    assert _sweep(app, CONFIDANT_DUE).cases_destroyed == 0
    assert _sweep(app, date(2029, 3, 11)).cases_destroyed == 0
    assert _sweep(app, date(2029, 3, 12)).cases_destroyed == 1


# Idempotence, statistics, the audit chain ---------------------------------------------------


def test_a_second_sweep_changes_nothing(app: Flask, handler: Person) -> None:
    for route in Route:
        _case(app, handler, route=route, outcome="founded" if route is Route.COMMITTEE else None)
    _case(app, handler, state="withdrawn")
    for as_of in (date(2026, 6, 30), INTEGRITY_REDACT_DUE, CONFIDANT_DUE, date(2031, 4, 1)):
        first = _sweep(app, as_of)
        snapshot = _snapshot(app)
        with app.app_context():
            keks = keystore().keks()
        second = _sweep(app, as_of)
        assert (second.cases_destroyed, second.cases_redacted, second.rewrapped) == (0, 0, 0)
        assert not second.records
        assert not second.epoch_keys_destroyed
        assert _snapshot(app) == snapshot, as_of
        with app.app_context():
            assert keystore().keks() == keks
        assert first.batches >= 0


def _stat_counts(app: Flask) -> list[tuple[object, ...]]:
    with app_session(app) as session:
        return sorted(
            tuple(row)
            for row in session.execute(
                sa.select(
                    StatEvent.kind,
                    StatEvent.quarter,
                    StatEvent.route,
                    StatEvent.category,
                    StatEvent.disclosure,
                    sa.func.count(),
                ).group_by(
                    StatEvent.kind,
                    StatEvent.quarter,
                    StatEvent.route,
                    StatEvent.category,
                    StatEvent.disclosure,
                )
            )
        )


def test_statistics_are_untouched_by_destruction(app: Flask, handler: Person) -> None:
    for route in (Route.CONFIDANT, Route.MANAGER, Route.INTEGRITY):
        _case(app, handler, route=route)
    before = _stat_counts(app)
    assert sum(int(row[-1]) for row in before) == 3  # type: ignore[call-overload]
    assert _sweep(app, date(2031, 4, 1)).cases_destroyed == 3
    assert _stat_counts(app) == before


def test_the_audit_chain_verifies_after_destruction(app: Flask, handler: Person) -> None:
    with app_session(app) as session:
        record_event(session, keystore(), actor=Actor.operator(), action="test.before", now=now())
    _case(app, handler)
    _sweep(app, CONFIDANT_DUE)
    ok, broken, reason = _verify(app)
    assert ok, (broken, reason)


# Other categories -------------------------------------------------------------------------------


def test_drafts_sessions_and_notifications(app: Flask, handler: Person, clock: Clock) -> None:
    old = at(date(2026, 1, 1))
    as_of = date(2026, 4, 15)
    recent = at(as_of) - timedelta(days=2)
    made = _case(app, handler, extras=False)
    with app_session(app) as session:
        staff = make_account(session, handler, old, enrolled=False)
        for moment in (old, recent):
            draft = IntakeDraft(
                payload=b"x", created_at=moment, updated_at=moment, expires_at=moment
            )
            session.add(draft)
            session.flush()
            session.add(
                DraftAttachment(
                    draft_id=draft.id,
                    content_type="text/plain",
                    size=1,
                    name=b"n",
                    body=b"b",
                    created_at=moment,
                )
            )
        # Ended long ago; ended recently; revoked long ago; seen long ago but still valid.
        for seen, expires, revoked in (
            (old, old, None),
            (recent, recent, None),
            (old, at(date(2030, 1, 1)), old),
            (old, at(date(2030, 1, 1)), None),
        ):
            session.add(
                StaffSession(
                    token_hash=__import__("secrets").token_bytes(32),
                    account_id=staff.account.id,
                    stage=SessionStage.FULL,
                    created_at=seen,
                    last_seen_at=seen,
                    expires_at=expires,
                    revoked_at=revoked,
                )
            )
            session.add(
                ComplainantSession(
                    token_hash=__import__("secrets").token_bytes(32),
                    case_id=made.id,
                    created_at=seen,
                    last_seen_at=seen,
                    expires_at=expires,
                    revoked_at=revoked,
                )
            )
        for moment, status in (
            (old, NotificationStatus.SENT),
            (old, NotificationStatus.FAILED),
            (old, NotificationStatus.PENDING),
            (recent, NotificationStatus.SENT),
        ):
            session.add(
                Notification(
                    recipient_person_id=handler.id,
                    kind="case_assigned",
                    params={"reference": made.reference},
                    status=status,
                    created_at=moment,
                    next_attempt_at=moment,
                )
            )
    clock.current = at(as_of)
    report = _sweep(app, as_of)
    assert dict(report.records) == {
        "intake_drafts": 1,
        "intake_draft_attachments": 1,
        "staff_sessions": 2,
        "complainant_sessions": 2,
        "notifications": 2,
    }
    with app_session(app) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(IntakeDraft)) == 1
        pending = session.scalars(sa.select(Notification.status)).all()
        assert sorted(pending) == sorted([NotificationStatus.PENDING, NotificationStatus.SENT])
    ledger = [(e[0], e[2], e[4]) for e in _ledger(app)]
    assert ledger == [
        ("draft", "drafts", {"intake_draft_attachments": 1, "intake_drafts": 1}),
        ("session", "sessions", {"complainant_sessions": 2, "staff_sessions": 2}),
        ("notification", "notifications", {"notifications": 2}),
    ]
    assert not _sweep(app, as_of).records
    assert len(_ledger(app)) == 3


def test_cutoff_counts_days_like_the_case_rules() -> None:
    # Due on as_of when the day of the moment plus the period is as_of: a record of
    # 2026-01-01 (any hour, Amsterdam) under 90 days is due on 2026-04-01, not before.
    edge = cutoff(date(2026, 4, 1), Period(days=90))
    assert edge.isoformat() == "2026-01-02T00:00:00+01:00"
    assert cutoff(date(2026, 3, 31), Period(days=90)) == edge - timedelta(days=1)


# The audit log ----------------------------------------------------------------------------------


def _old_events(app: Flask, clock: Clock, count: int) -> None:
    with app_session(app) as session:
        for number in range(count):
            record_event(
                session,
                keystore(),
                actor=Actor.operator(),
                action="test.old",
                now=clock() + timedelta(minutes=number),
            )


def _prune(app: Flask, clock: Clock) -> SweepReport:
    as_of = date(2031, 4, 1)
    clock.current = at(as_of)
    with app_session(app) as session:
        record_event(session, keystore(), actor=Actor.operator(), action="test.recent", now=now())
    return _sweep(app, as_of)


def test_audit_events_older_than_five_years_go_and_the_chain_still_verifies(
    app: Flask, clock: Clock
) -> None:
    _old_events(app, clock, 5)
    report = _prune(app, clock)
    assert report.records["audit_events"] == 5
    with app_session(app) as session:
        checkpoint = session.scalars(sa.select(AuditCheckpoint)).one()
        remaining = session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert checkpoint.through_seq == 5
    assert [e.action for e in remaining] == ["test.recent", "retention.audit_pruned"]
    assert remaining[0].prev_hash == checkpoint.hash
    assert _verify(app) == (True, None, None)
    assert [e[0] for e in _ledger(app)] == ["audit"]
    # Again: nothing older left, nothing happens.
    assert "audit_events" not in _sweep(app, date(2031, 4, 1)).records
    assert _verify(app) == (True, None, None)


def _raw(app: Flask, statement: str, **params: object) -> None:
    with app_session(app) as session:
        session.execute(sa.text(statement), params)


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("DELETE FROM audit_events WHERE seq = 6", "missing"),
        ("UPDATE audit_events SET action = 'test.forged' WHERE seq = 7", "altered"),
        ("UPDATE audit_checkpoints SET through_seq = 6", "checkpoint"),
        ("DELETE FROM audit_checkpoints", "missing"),
    ],
)
def test_tampering_after_pruning_is_found(
    app: Flask, clock: Clock, tamper: str, reason: str
) -> None:
    _old_events(app, clock, 5)
    _prune(app, clock)
    with app_session(app) as session:
        extra = session.scalar(sa.select(sa.func.max(AuditEvent.seq)))
        record_event(session, keystore(), actor=Actor.operator(), action="test.later", now=now())
    assert extra == 7
    assert _verify(app)[0]
    _raw(app, tamper)
    ok, _broken, why = _verify(app)
    assert not ok
    assert why is not None
    assert reason in why


def test_deleting_more_events_and_moving_the_checkpoint_along_is_found(
    app: Flask, clock: Clock
) -> None:
    _old_events(app, clock, 5)
    _prune(app, clock)
    # Remove the first remaining event and forge a checkpoint that the next one follows.
    with app_session(app) as session:
        second = session.scalars(sa.select(AuditEvent).where(AuditEvent.seq == 7)).one()
        forged_hash = second.prev_hash
    _raw(app, "DELETE FROM audit_events WHERE seq = 6")
    _raw(app, "UPDATE audit_checkpoints SET through_seq = 6, hash = :h", h=forged_hash)
    ok, _broken, why = _verify(app)
    assert not ok
    assert why is not None
    assert "checkpoint" in why


# The plan ---------------------------------------------------------------------------------------


def test_the_plan_lists_what_falls_due_and_what_is_held(app: Flask, handler: Person) -> None:
    soon = _case(app, handler)
    later = _case(app, handler, route=Route.INTEGRITY)
    held = _case(app, handler, route=Route.MANAGER)
    _hold(app, held, until=date(2030, 1, 1))
    with app.app_context():
        entries = plan(
            db.session(), retention_policy(), workflow(), as_of=date(2028, 1, 1), days=90
        )
    by_reference = {(e.reference, e.rule): e for e in entries}
    assert by_reference[(soon.reference, "confidant-closed")].due_on == CONFIDANT_DUE
    assert by_reference[(soon.reference, "confidant-closed")].action is Action.DESTROY
    # Overdue redaction listed, the destruction years away not.
    assert (later.reference, "integrity-redact") in by_reference
    assert (later.reference, "integrity-closed") not in by_reference
    hold_entry = by_reference[(held.reference, "manager-closed")]
    assert hold_entry.held
    assert hold_entry.hold_until == date(2030, 1, 1)
    assert [e.due_on for e in entries] == sorted(e.due_on for e in entries)
    with app.app_context():
        short = plan(db.session(), retention_policy(), workflow(), as_of=date(2028, 1, 1), days=0)
    assert (soon.reference, "confidant-closed") not in {(e.reference, e.rule) for e in short}


def test_the_epoch_key_goes_in_the_sweep_that_destroys_its_cases(
    app: Flask, handler: Person
) -> None:
    made = _case(app, handler)
    _sweep(app, date(2026, 6, 1))
    with app_session(app) as session:
        slot = session.scalars(sa.select(KeySlot).where(KeySlot.case_id == made.id)).one()
    assert slot.key_id == "epoch-2028-03-12"
    # The day before: neither the case nor its key.
    day_before = _sweep(app, date(2028, 3, 11))
    assert (day_before.cases_destroyed, day_before.epoch_keys_destroyed) == (0, [])
    report = _sweep(app, CONFIDANT_DUE)
    assert report.cases_destroyed == 1
    assert report.epoch_keys_destroyed == ["epoch-2028-03-12"]
    with app.app_context():
        statuses = {k.key_id: k.status for k in keystore().keks()}
    assert statuses["epoch-2028-03-12"] is KekStatus.DESTROYED
    assert ("key", "epoch-2028-03-12") in {(e[0], e[1]) for e in _ledger(app)}


def test_the_clock_and_as_of_are_separate(app: Flask, handler: Person, clock: Clock) -> None:
    made = _case(app, handler)
    clock.current = datetime(2026, 3, 20, 12, tzinfo=clock.current.tzinfo)
    _sweep(app, CONFIDANT_DUE)
    with app_session(app) as session:
        entry = session.scalars(
            sa.select(LedgerEntry).where(LedgerEntry.action == LedgerAction.DESTROYED)
        ).one()
    assert entry.as_of == CONFIDANT_DUE
    assert entry.occurred_at == clock.current
    assert entry.subject == made.reference
