"""The audit chain: every event linked to the one before and keyed, so any edit is found."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from complaints.audit.models import ActorKind, AuditEvent, AuditOutcome
from complaints.audit.services import (
    ANONYMOUS,
    GENESIS_HASH,
    SYSTEM,
    Actor,
    ChainReport,
    _event_hash,
    record_event,
    verify_chain,
)
from complaints.crypto.keystore import LocalKeyStore, SecretPurpose
from complaints.crypto.services import keystore
from complaints.directory.models import OrgUnit
from complaints.models import metadata
from tests.conftest import START, Clock, app_session
from tests.factories import make_org

AUDIT_EVENTS = metadata.tables["audit_events"]

EVENTS = 6
TARGET = 3  # the event the tamper tests edit: not the first, not the last


def _record_some(app: Flask, clock: Clock, count: int = EVENTS) -> None:
    actors = [SYSTEM, ANONYMOUS, Actor.staff(7), Actor(ActorKind.COMPLAINANT, "2026-AB12-CD34")]
    with app_session(app) as session:
        for number in range(count):
            record_event(
                session,
                keystore(),
                actor=actors[number % len(actors)],
                action=f"test.step{number + 1}",
                now=clock.advance(seconds=1, microseconds=123),
                outcome=list(AuditOutcome)[number % len(AuditOutcome)],
                object_type="case",
                object_id=f"object-{number + 1}",
                details={"n": number + 1, "flag": number % 2 == 0, "code": "x", "none": None},
            )


def _verify(app: Flask, **kwargs: Any) -> ChainReport:
    with app_session(app) as session:
        return verify_chain(session, keystore(), **kwargs)


def _raw_update(app: Flask, seq: int, **values: Any) -> None:
    """Edit a stored event behind the application's back (table-level SQL, no ORM)."""
    table = AUDIT_EVENTS
    with app_session(app) as session:
        result = session.execute(sa.update(table).where(table.c.seq == seq).values(**values))
        assert isinstance(result, sa.CursorResult)
        assert result.rowcount == 1


# Writing ------------------------------------------------------------------------------------


def test_events_form_a_chain(app: Flask, clock: Clock) -> None:
    _record_some(app, clock)
    with app_session(app) as session:
        events = session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert [e.seq for e in events] == list(range(1, EVENTS + 1))
    assert events[0].prev_hash == GENESIS_HASH
    for previous, event in itertools.pairwise(events):
        assert event.prev_hash == previous.hash
    assert len({e.hash for e in events}) == EVENTS
    assert all(len(e.hash) == 64 and int(e.hash, 16) >= 0 for e in events)
    first = events[0]
    assert (first.actor_kind, first.actor_id) == (ActorKind.SYSTEM, None)
    assert (events[2].actor_kind, events[2].actor_id) == (ActorKind.STAFF, "7")
    assert first.details == {"n": 1, "flag": True, "code": "x", "none": None}
    assert first.occurred_at == START + timedelta(seconds=1, microseconds=123)


def test_intact_chain_verifies(app: Flask, clock: Clock) -> None:
    _record_some(app, clock)
    report = _verify(app)
    assert report.ok
    assert (report.checked, report.first_seq, report.last_seq) == (EVENTS, 1, EVENTS)
    assert report.broken_seq is None
    assert report.reason is None


def test_empty_chain_verifies(app: Flask) -> None:
    report = _verify(app)
    assert report.ok
    assert (report.checked, report.first_seq, report.last_seq) == (0, None, None)


@pytest.mark.parametrize("batch_size", [1, 2, EVENTS - 1, EVENTS, 1000])
def test_verification_in_batches(app: Flask, clock: Clock, batch_size: int) -> None:
    _record_some(app, clock)
    assert _verify(app, batch_size=batch_size).checked == EVENTS
    _raw_update(app, EVENTS, action="test.forged")
    report = _verify(app, batch_size=batch_size)
    assert report.broken_seq == EVENTS
    assert report.checked == EVENTS - 1


def test_hash_uses_the_audit_key_from_the_store(app: Flask, clock: Clock) -> None:
    _record_some(app, clock, 1)
    with app_session(app) as session:
        event = session.get_one(AuditEvent, 1)
        assert _event_hash(keystore().secret(SecretPurpose.AUDIT_CHAIN), event) == event.hash
        assert _event_hash(b"\x00" * 32, event) != event.hash


def test_chain_from_another_key_store_does_not_verify(
    app: Flask, clock: Clock, tmp_path: Path
) -> None:
    _record_some(app, clock)
    other = LocalKeyStore.initialise(tmp_path / "other-keys", START)
    with app_session(app) as session:
        report = verify_chain(session, other)
    assert (report.broken_seq, report.checked) == (1, 0)


def test_time_given_in_another_zone_is_stored_as_utc_and_verifies(app: Flask, clock: Clock) -> None:
    amsterdam = timezone(timedelta(hours=1), "CET")
    local = datetime(2026, 3, 2, 10, 30, 0, 500, tzinfo=amsterdam)
    with app_session(app) as session:
        event = record_event(session, keystore(), actor=SYSTEM, action="test.zone", now=local)
        assert event.occurred_at == local
    with app_session(app) as session:
        stored = session.get_one(AuditEvent, 1)
        assert stored.occurred_at == local
        assert stored.occurred_at.utcoffset() == timedelta(0)
    assert _verify(app).ok


def test_naive_time_is_refused(app: Flask, clock: Clock) -> None:
    with app_session(app) as session:
        with pytest.raises(ValueError, match="naive"):
            record_event(
                session,
                keystore(),
                actor=SYSTEM,
                action="test.naive",
                now=datetime(2026, 3, 2, 9, 30),  # noqa: DTZ001 - the point of the test
            )
        record_event(session, keystore(), actor=SYSTEM, action="test.aware", now=clock())
    with app_session(app) as session:
        assert session.scalars(sa.select(AuditEvent.action)).all() == ["test.aware"]


def test_object_ids_are_stored_as_text(app: Flask, clock: Clock) -> None:
    with app_session(app) as session:
        record_event(
            session, keystore(), actor=SYSTEM, action="test.int", now=clock(), object_id=42
        )
    with app_session(app) as session:
        assert session.get_one(AuditEvent, 1).object_id == "42"
    assert _verify(app).ok


def test_operator_actor_names_the_os_user() -> None:
    actor = Actor.operator()
    assert actor.kind is ActorKind.OPERATOR
    assert actor.id
    assert len(actor.id) <= 64


# Details ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(1.5, id="float"),
        pytest.param(["a"], id="list"),
        pytest.param({"a": 1}, id="dict"),
        pytest.param(b"bytes", id="bytes"),
        pytest.param(("a",), id="tuple"),
        pytest.param(START, id="datetime"),
        pytest.param(object(), id="object"),
    ],
)
def test_details_must_be_plain_values(app: Flask, clock: Clock, value: object) -> None:
    with app_session(app) as session:
        with pytest.raises(TypeError, match="plain value"):
            record_event(
                session,
                keystore(),
                actor=SYSTEM,
                action="test.rich",
                now=clock(),
                details={"value": value},
            )
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 0


def test_long_text_details_are_refused(app: Flask, clock: Clock) -> None:
    with app_session(app) as session:
        record_event(
            session,
            keystore(),
            actor=SYSTEM,
            action="test.long",
            now=clock(),
            details={"code": "x" * 200},
        )
        with pytest.raises(ValueError, match="too long"):
            record_event(
                session,
                keystore(),
                actor=SYSTEM,
                action="test.long",
                now=clock(),
                details={"code": "x" * 201},
            )
        with pytest.raises(ValueError, match="too long"):
            record_event(
                session,
                keystore(),
                actor=SYSTEM,
                action="test.long",
                now=clock(),
                details={"code": "Het volledige verhaal van de melder. " * 100},
            )
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 1


# Tampering ----------------------------------------------------------------------------------


EDITS: dict[str, dict[str, Any]] = {
    "action": {"action": "case.export"},
    "details": {"details": {"n": 999, "flag": True, "code": "x", "none": None}},
    "details-key-added": {"details": {"n": 3, "flag": True, "code": "x", "none": None, "y": 1}},
    "occurred_at": {"occurred_at": START + timedelta(days=1)},
    "occurred_at-one-microsecond": {
        "occurred_at": START + timedelta(seconds=TARGET, microseconds=123 * TARGET + 1)
    },
    "actor_id": {"actor_id": "8"},
    "actor_id-cleared": {"actor_id": None},
    "actor_kind": {"actor_kind": ActorKind.OPERATOR},
    "outcome": {"outcome": AuditOutcome.SUCCESS},
    "object_type": {"object_type": "account"},
    "object_id": {"object_id": "object-4"},
    "prev_hash": {"prev_hash": "f" * 64},
    "hash": {"hash": "0" * 64},
}


@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
def test_editing_one_event_is_named(app: Flask, clock: Clock, edit: dict[str, Any]) -> None:
    _record_some(app, clock)
    with app_session(app) as session:
        before = session.get_one(AuditEvent, TARGET)
        field = next(iter(edit))
        assert getattr(before, field) != edit[field], "the edit changes something"
    _raw_update(app, TARGET, **edit)
    report = _verify(app)
    assert not report.ok
    assert report.broken_seq == TARGET
    assert report.checked == TARGET - 1
    assert report.reason


def test_editing_by_plain_sql_text_is_found(app: Flask, clock: Clock) -> None:
    _record_some(app, clock)
    with app_session(app) as session:
        session.execute(
            sa.text("UPDATE audit_events SET action = 'case.open' WHERE seq = :seq"),
            {"seq": TARGET},
        )
    assert _verify(app).broken_seq == TARGET


def test_verification_reads_the_database_not_the_session(app: Flask, clock: Clock) -> None:
    """An edit made behind the session's back is found even if the session holds the events."""
    with app_session(app) as session:
        held = [
            record_event(session, keystore(), actor=SYSTEM, action=f"test.{number}", now=clock())
            for number in range(3)
        ]
        session.execute(sa.text("UPDATE audit_events SET action = 'test.forged' WHERE seq = 2"))
        assert held[1] in session
        report = verify_chain(session, keystore())
    assert report.broken_seq == 2


def test_rehashing_with_a_guessed_key_is_found(app: Flask, clock: Clock) -> None:
    _record_some(app, clock)
    with app_session(app) as session:
        event = session.get_one(AuditEvent, TARGET)
        event_hash = _event_hash(b"guessed key, not the store's one", event)
        session.expunge(event)
    _raw_update(app, TARGET, hash=event_hash)
    assert _verify(app).broken_seq == TARGET


def test_forging_with_a_wrong_key_after_editing_is_found(app: Flask, clock: Clock) -> None:
    _record_some(app, clock)
    with app_session(app) as session:
        event = session.get_one(AuditEvent, TARGET)
        session.expunge(event)
    event.action = "case.export"
    _raw_update(app, TARGET, action="case.export", hash=_event_hash(b"k" * 32, event))
    assert _verify(app).broken_seq == TARGET


def test_rehashing_one_event_with_the_real_key_breaks_the_next_link(
    app: Flask, clock: Clock
) -> None:
    """Even with the key, an edit shows unless every later event is rewritten too."""
    _record_some(app, clock)
    with app_session(app) as session:
        key = keystore().secret(SecretPurpose.AUDIT_CHAIN)
        event = session.get_one(AuditEvent, TARGET)
        session.expunge(event)
    event.action = "case.export"
    _raw_update(app, TARGET, action="case.export", hash=_event_hash(key, event))
    report = _verify(app)
    assert report.broken_seq == TARGET + 1
    assert "previous hash" in (report.reason or "")


def test_deleting_a_middle_event_is_found(app: Flask, clock: Clock) -> None:
    _record_some(app, clock)
    with app_session(app) as session:
        session.execute(sa.delete(AUDIT_EVENTS).where(AuditEvent.seq == TARGET))
    report = _verify(app)
    assert report.broken_seq == TARGET + 1
    assert report.reason == f"events {TARGET}..{TARGET} are missing"
    assert report.checked == TARGET - 1


def test_deleting_several_events_is_found(app: Flask, clock: Clock) -> None:
    _record_some(app, clock)
    with app_session(app) as session:
        session.execute(sa.delete(AUDIT_EVENTS).where(AuditEvent.seq.in_([TARGET, TARGET + 1])))
    report = _verify(app, batch_size=2)
    assert report.broken_seq == TARGET + 2
    assert report.reason == f"events {TARGET}..{TARGET + 1} are missing"


def test_swapping_two_events_is_found(app: Flask, clock: Clock) -> None:
    _record_some(app, clock)
    table = AUDIT_EVENTS
    columns = [c for c in table.c if c.name != "seq"]
    with app_session(app) as session:
        rows = {
            row.seq: {c.name: row._mapping[c] for c in columns}
            for row in session.execute(sa.select(table).where(table.c.seq.in_([2, 3])))
        }
    _raw_update(app, 2, **rows[3])
    _raw_update(app, 3, **rows[2])
    assert _verify(app).broken_seq == 2


def test_verification_leaves_the_callers_session_usable(app: Flask, clock: Clock) -> None:
    """verify_chain shares the caller's session: it must not detach the caller's objects."""
    _record_some(app, clock, 3)
    with app_session(app) as session:
        unit = make_org(session, clock()).ministry
        assert verify_chain(session, keystore(), batch_size=1).ok
        unit.name = "Ministerie van Proef"
        session.flush()
        unit_id = unit.id
    with app_session(app) as session:
        assert session.get_one(OrgUnit, unit_id).name == "Ministerie van Proef"


def test_events_hold_json_that_survives_the_database(app: Flask, clock: Clock) -> None:
    details = {"ü": "ümlaut", "big": 2**53 + 1, "neg": -1, "empty": "", "t": True, "f": False}
    with app_session(app) as session:
        record_event(
            session, keystore(), actor=SYSTEM, action="test.json", now=clock(), details=details
        )
    with app_session(app) as session:
        stored = session.get_one(AuditEvent, 1).details
    assert stored == details
    assert json.dumps(stored, sort_keys=True) == json.dumps(details, sort_keys=True)
    assert _verify(app).ok
