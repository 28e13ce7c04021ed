"""Case data keys in key slots, and rotating the key-encryption key without losing a case."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from complaints import db
from complaints.audit.models import ActorKind, AuditEvent
from complaints.audit.services import Actor, verify_chain
from complaints.cases.models import Case, Disclosure, Route
from complaints.cases.services import CaseUnreadable, open_case
from complaints.crypto.envelope import DecryptionFailed
from complaints.crypto.keystore import KekStatus, UnknownKey, UnwrapFailed
from complaints.crypto.models import KeySlot, KeySlotKind
from complaints.crypto.services import (
    STORE_HOLDER,
    MissingCaseKey,
    case_cipher,
    indexer,
    issue_case_key,
    key_usage,
    keystore,
    retire_unused_keks,
    rewrap_batch,
    rewrap_cases,
    rotate_keys,
)
from complaints.directory.models import Person
from complaints.models import metadata
from tests.conftest import Clock, app_session
from tests.factories import make_case, make_org, make_person

KEY_SLOTS = metadata.tables["key_slots"]
CASES = metadata.tables["cases"]

OPERATOR = Actor(ActorKind.OPERATOR, "beheerder")


@dataclass(frozen=True)
class StoredCase:
    id: uuid.UUID
    description: str


def _handler(session: Session, clock: Clock) -> Person:
    org = make_org(session, clock(), code=f"M{uuid.uuid4().hex[:6]}")
    return make_person(session, org.directorate, clock())


def _make_cases(app: Flask, clock: Clock, count: int) -> tuple[int, list[StoredCase]]:
    with app_session(app) as session:
        handler = _handler(session, clock)
        cases = []
        for number in range(count):
            description = f"Melding {number}: {uuid.uuid4().hex}"
            case = make_case(session, clock(), handler=handler, description=description)
            cases.append(StoredCase(case.id, description))
        return handler.id, cases


def _open_description(session: Session, clock: Clock, case_id: uuid.UUID, reader: int) -> str:
    content = open_case(
        session,
        keystore(),
        indexer(),
        case_id=case_id,
        reader_person_id=reader,
        actor=OPERATOR,
        now=clock(),
    )
    return content.description


def _slots(session: Session) -> list[tuple[uuid.UUID, str, bytes]]:
    """The key slots as the database holds them (columns, not possibly stale objects)."""
    rows = session.execute(
        sa.select(KeySlot.case_id, KeySlot.key_id, KeySlot.wrapped_key).order_by(KeySlot.id)
    ).all()
    return [(row.case_id, row.key_id, row.wrapped_key) for row in rows]


# Key slots ----------------------------------------------------------------------------------


def test_issued_key_opens_what_it_sealed_after_a_round_trip(app: Flask, clock: Clock) -> None:
    case_id = uuid.uuid4()
    with app_session(app) as session:
        session.add(
            Case(
                id=case_id,
                reference="2026-TEST-0001",
                route=Route.CONFIDANT,
                state="submitted",
                category="discrimination",
                disclosure=Disclosure.ANONYMOUS,
                submitted_at=clock(),
                updated_at=clock(),
            )
        )
        session.flush()
        cipher = issue_case_key(session, keystore(), case_id, clock())
        session.get_one(Case, case_id).description = cipher.seal_text(
            "cases", "description", case_id, "Het gebeurde in de kantine."
        )
        session.flush()
    with app_session(app) as session:
        slot = session.scalars(sa.select(KeySlot).where(KeySlot.case_id == case_id)).one()
        assert slot.kind is KeySlotKind.KEK
        assert slot.holder == STORE_HOLDER
        assert slot.key_id == keystore().active_kek_id()
        assert slot.created_at == clock()
        assert slot.rewrapped_at is None
        stored = session.get_one(Case, case_id).description
        assert stored is not None
        reopened = case_cipher(session, keystore(), case_id)
        assert reopened.open_text("cases", "description", case_id, stored) == (
            "Het gebeurde in de kantine."
        )


def test_each_case_has_its_own_data_key(app: Flask, clock: Clock) -> None:
    _, (first, second) = _make_cases(app, clock, 2)
    with app_session(app) as session:
        one = session.get_one(Case, first.id)
        assert one.description is not None
        other_cipher = case_cipher(session, keystore(), second.id)
        with pytest.raises(DecryptionFailed):
            other_cipher.open_text("cases", "description", first.id, one.description)
        assert (
            case_cipher(session, keystore(), first.id).open_text(
                "cases", "description", first.id, one.description
            )
            == first.description
        )


def test_key_slot_copied_to_another_case_does_not_unwrap(app: Flask, clock: Clock) -> None:
    reader, (first, second) = _make_cases(app, clock, 2)
    with app_session(app) as session:
        source = session.scalars(sa.select(KeySlot).where(KeySlot.case_id == first.id)).one()
        session.execute(
            sa.update(KEY_SLOTS)
            .where(KeySlot.case_id == second.id)
            .values(key_id=source.key_id, wrapped_key=source.wrapped_key)
        )
    with app_session(app) as session:
        with pytest.raises(UnwrapFailed):
            case_cipher(session, keystore(), second.id)
        with pytest.raises(CaseUnreadable):
            _open_description(session, clock, second.id, reader)
        assert _open_description(session, clock, first.id, reader) == first.description


@pytest.mark.parametrize("position", [0, 1, 12, 13, 44, 60])
def test_tampered_wrapped_key_does_not_unwrap(app: Flask, clock: Clock, position: int) -> None:
    _, (case,) = _make_cases(app, clock, 1)
    with app_session(app) as session:
        slot = session.scalars(sa.select(KeySlot).where(KeySlot.case_id == case.id)).one()
        assert len(slot.wrapped_key) == 61
        tampered = bytearray(slot.wrapped_key)
        tampered[position] ^= 0x01
        session.execute(
            sa.update(KEY_SLOTS).where(KeySlot.id == slot.id).values(wrapped_key=bytes(tampered))
        )
    with app_session(app) as session, pytest.raises(UnwrapFailed):
        case_cipher(session, keystore(), case.id)


def test_slot_naming_an_unknown_key_is_refused(app: Flask, clock: Clock) -> None:
    _, (case,) = _make_cases(app, clock, 1)
    with app_session(app) as session:
        session.execute(
            sa.update(KEY_SLOTS)
            .where(KeySlot.case_id == case.id)
            .values(key_id="kek-20990101-deadbeef")
        )
    with app_session(app) as session:
        with pytest.raises(UnknownKey):
            case_cipher(session, keystore(), case.id)
        usage = {u.key_id: u for u in key_usage(session, keystore())}
        assert usage["kek-20990101-deadbeef"].status is None
        assert usage["kek-20990101-deadbeef"].slots == 1


def test_case_without_a_slot_has_no_key(app: Flask, clock: Clock) -> None:
    _, (case,) = _make_cases(app, clock, 1)
    with app_session(app) as session:
        session.execute(sa.delete(KEY_SLOTS).where(KeySlot.case_id == case.id))
    with app_session(app) as session, pytest.raises(MissingCaseKey):
        case_cipher(session, keystore(), case.id)


def test_data_key_is_never_stored_in_clear(app: Flask, clock: Clock) -> None:
    _, cases = _make_cases(app, clock, 3)
    with app_session(app) as session:
        for case in cases:
            dek = case_cipher(session, keystore(), case.id)._dek
            for _, _, wrapped in _slots(session):
                assert dek not in wrapped
            for row in session.execute(sa.select(CASES)).all():
                assert all(dek not in value for value in row if isinstance(value, bytes))


def test_key_usage_counts_slots_per_key(app: Flask, clock: Clock) -> None:
    _make_cases(app, clock, 3)
    with app.app_context():
        first = keystore().active_kek_id()
        second = keystore().create_kek(clock.advance(days=1))
    _make_cases(app, clock, 2)
    with app_session(app) as session:
        usage = key_usage(session, keystore())
        assert [(u.key_id, u.status, u.slots) for u in usage] == [
            (first, KekStatus.PREVIOUS, 3),
            (second, KekStatus.ACTIVE, 2),
        ]


# Rotation -----------------------------------------------------------------------------------


def test_rotation_loses_no_case(app: Flask, clock: Clock) -> None:
    reader, cases = _make_cases(app, clock, 7)
    progress: list[int] = []
    with app_session(app) as session:
        keys = keystore()
        old_key = keys.active_kek_id()
        before = {case_id: blob for case_id, _, blob in _slots(session)}
        report = rotate_keys(
            session,
            keys,
            actor=OPERATOR,
            now=clock.advance(days=90),
            batch_size=2,
            commit=db.commit,
            on_progress=progress.append,
        )
    assert progress == [2, 4, 6, 7], "several committed batches"
    assert report.rewrapped == 7
    assert report.new_key_id is not None
    assert report.new_key_id != old_key
    assert report.retired == [old_key]
    with app_session(app) as session:
        keys = keystore()
        assert keys.active_kek_id() == report.new_key_id
        statuses = {info.key_id: info.status for info in keys.keks()}
        assert statuses == {old_key: KekStatus.RETIRED, report.new_key_id: KekStatus.ACTIVE}
        slots = _slots(session)
        assert len(slots) == 7
        assert {key_id for _, key_id, _ in slots} == {report.new_key_id}
        assert all(blob != before[case_id] for case_id, _, blob in slots)
        assert session.scalars(sa.select(KeySlot.rewrapped_at)).all() == [clock()] * 7
        for case in cases:
            assert _open_description(session, clock, case.id, reader) == case.description


def test_rotation_updates_slots_the_session_already_holds(app: Flask, clock: Clock) -> None:
    """The ORM objects of the rotating session must not keep the old wrapping."""
    reader, cases = _make_cases(app, clock, 3)
    with app_session(app) as session:
        held = session.scalars(sa.select(KeySlot)).all()
        report = rotate_keys(
            session, keystore(), actor=OPERATOR, now=clock(), batch_size=2, commit=db.commit
        )
        assert {slot.key_id for slot in held} == {report.new_key_id}
        assert {slot.wrapped_key for slot in held} == {blob for _, _, blob in _slots(session)}
        keystore().check()
        for case in cases:
            assert _open_description(session, clock, case.id, reader) == case.description


def test_interrupted_rotation_is_finished_without_a_new_key(app: Flask, clock: Clock) -> None:
    reader, cases = _make_cases(app, clock, 5)
    with app_session(app) as session:
        keys = keystore()
        old_key = keys.active_kek_id()
        new_key = keys.create_kek(clock.advance(days=1))
        assert rewrap_batch(session, keys, clock(), batch_size=2) == 2
    # ... the process dies here; half the slots are under each key, every case still opens.
    with app_session(app) as session:
        usage = {u.key_id: (u.status, u.slots) for u in key_usage(session, keystore())}
        assert usage == {old_key: (KekStatus.PREVIOUS, 3), new_key: (KekStatus.ACTIVE, 2)}
        for case in cases:
            assert _open_description(session, clock, case.id, reader) == case.description
    with app_session(app) as session:
        report = rotate_keys(
            session,
            keystore(),
            actor=OPERATOR,
            now=clock(),
            batch_size=2,
            create_new=False,
            commit=db.commit,
        )
    assert report.new_key_id is None
    assert report.rewrapped == 3
    assert report.retired == [old_key]
    with app_session(app) as session:
        assert keystore().active_kek_id() == new_key
        assert {key_id for _, key_id, _ in _slots(session)} == {new_key}
        for case in cases:
            assert _open_description(session, clock, case.id, reader) == case.description


def test_rewrap_batch_takes_at_most_the_batch_and_stops(app: Flask, clock: Clock) -> None:
    _make_cases(app, clock, 3)
    with app_session(app) as session:
        keys = keystore()
        assert rewrap_batch(session, keys, clock(), batch_size=2) == 0, "nothing to do"
        keys.create_kek(clock())
        assert rewrap_batch(session, keys, clock(), batch_size=2) == 2
        assert rewrap_batch(session, keys, clock(), batch_size=2) == 1
        assert rewrap_batch(session, keys, clock(), batch_size=2) == 0


def test_previous_key_with_slots_is_not_retired(app: Flask, clock: Clock) -> None:
    _make_cases(app, clock, 2)
    with app_session(app) as session:
        keys = keystore()
        old_key = keys.active_kek_id()
        keys.create_kek(clock())
        assert retire_unused_keks(session, keys) == []
        assert {i.key_id: i.status for i in keys.keks()}[old_key] is KekStatus.PREVIOUS


def test_rotation_without_cases_retires_the_old_key(app: Flask, clock: Clock) -> None:
    with app_session(app) as session:
        keys = keystore()
        old_key = keys.active_kek_id()
        report = rotate_keys(
            session, keys, actor=OPERATOR, now=clock(), batch_size=10, commit=db.commit
        )
        assert report.rewrapped == 0
        assert report.retired == [old_key]
        assert keys.active_kek_id() == report.new_key_id


def test_two_rotations_in_a_row(app: Flask, clock: Clock) -> None:
    reader, cases = _make_cases(app, clock, 3)
    keys_seen: list[str] = []
    for _ in range(2):
        with app_session(app) as session:
            report = rotate_keys(
                session,
                keystore(),
                actor=OPERATOR,
                now=clock.advance(days=1),
                batch_size=2,
                commit=db.commit,
            )
            assert report.new_key_id is not None
            keys_seen.append(report.new_key_id)
            assert report.rewrapped == 3
    with app_session(app) as session:
        statuses = {i.key_id: i.status for i in keystore().keks()}
        assert list(statuses.values()).count(KekStatus.RETIRED) == 2
        assert statuses[keys_seen[-1]] is KekStatus.ACTIVE
        for case in cases:
            assert _open_description(session, clock, case.id, reader) == case.description


def test_rotation_is_recorded_in_the_audit_chain(app: Flask, clock: Clock) -> None:
    _make_cases(app, clock, 3)
    with app_session(app) as session:
        keys = keystore()
        old_key = keys.active_kek_id()
        first_seq = session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) or 0
        report = rotate_keys(
            session, keys, actor=OPERATOR, now=clock(), batch_size=2, commit=db.commit
        )
    with app_session(app) as session:
        events = session.scalars(
            sa.select(AuditEvent).where(AuditEvent.seq > first_seq).order_by(AuditEvent.seq)
        ).all()
        assert [(e.action, e.object_type, e.object_id) for e in events] == [
            ("keys.kek_created", "kek", report.new_key_id),
            ("keys.rewrapped", "kek", report.new_key_id),
        ]
        assert all(e.actor_kind is ActorKind.OPERATOR for e in events)
        assert all(e.actor_id == "beheerder" for e in events)
        assert events[1].details == {"slots": 3, "retired": old_key}
        assert verify_chain(session, keystore()).ok


def test_rotation_leaves_slots_under_epoch_keys_alone(app: Flask, clock: Clock) -> None:
    """Retention put these slots under the key of their destruction month; a rotation that
    moved them back to the active key would let backups outlive the cases."""
    reader, cases = _make_cases(app, clock, 3)
    with app_session(app) as session:
        keys = keystore()
        epoch = keys.epoch_kek(date(2029, 1, 31), clock())
        assert rewrap_cases(session, keys, {cases[0].id: epoch}, clock()) == 1
        assert rewrap_cases(session, keys, {cases[0].id: epoch}, clock()) == 0, "already there"
    with app_session(app) as session:
        report = rotate_keys(
            session,
            keystore(),
            actor=OPERATOR,
            now=clock.advance(days=1),
            batch_size=10,
            commit=db.commit,
        )
    assert report.rewrapped == 2
    with app_session(app) as session:
        slots = {case_id: key_id for case_id, key_id, _ in _slots(session)}
        assert slots[cases[0].id] == epoch
        assert {slots[c.id] for c in cases[1:]} == {report.new_key_id}
        statuses = {u.key_id: u.status for u in key_usage(session, keystore())}
        assert statuses[epoch] is KekStatus.EPOCH, "an epoch key is never retired by rotation"
        for case in cases:
            assert _open_description(session, clock, case.id, reader) == case.description
        # Back under the active key (a legal hold): readable, and the epoch key is free.
        assert rewrap_cases(session, keystore(), {cases[0].id: None}, clock()) == 1
        assert _slots(session)[0][1] == keystore().active_kek_id()
        assert _open_description(session, clock, cases[0].id, reader) == cases[0].description


def test_a_slot_under_a_destroyed_epoch_key_is_skipped_not_fatal(app: Flask, clock: Clock) -> None:
    """A case restored from a backup whose day has been swept cannot be read any more; moving
    the other cases must go on."""
    _, cases = _make_cases(app, clock, 2)
    with app_session(app) as session:
        keys = keystore()
        epoch = keys.epoch_kek(date(2029, 1, 31), clock())
        rewrap_cases(session, keys, {cases[0].id: epoch}, clock())
        keys.destroy_kek(epoch, clock())
        later = keys.epoch_kek(date(2029, 2, 28), clock())
        targets = {case.id: later for case in cases}
        with pytest.raises(UnknownKey):
            rewrap_cases(session, keys, targets, clock())
        assert rewrap_cases(session, keys, targets, clock(), skip_destroyed=True) == 1
        assert {key_id for _, key_id, _ in _slots(session)} == {epoch, later}
