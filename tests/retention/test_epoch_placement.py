"""A sweep that catches up places every case it destroys under an epoch key first, committed
before the destruction; and nothing of a destroyed case lingers in the outbox or the audit log."""

from __future__ import annotations

import ast
import json
import uuid
from datetime import date, timedelta

import sqlalchemy as sa
from flask import Flask

from complaints import db
from complaints.audit.models import AuditEvent
from complaints.audit.services import Actor
from complaints.cases.models import Case
from complaints.clock import now
from complaints.crypto.keystore import UnknownKey, WrappedKey
from complaints.crypto.models import KeySlot
from complaints.crypto.services import keystore
from complaints.directory.models import Person
from complaints.notify.models import Notification
from complaints.retention.models import LedgerAction, LedgerEntry
from complaints.retention.policy import retention_policy
from complaints.retention.reminders import send_retention_reminders
from complaints.retention.sweep import EPOCH_SLOTS, SweepReport, apply
from complaints.workflow.config import workflow
from tests.conftest import ROOT, Clock, app_session
from tests.factories import make_org, make_person
from tests.retention.conftest import Made, at, case_rows, make_finished_case

CLOSED = date(2026, 3, 12)
DUE = date(2028, 3, 12)  # confidant: two years after closing
LATE = date(2030, 6, 15)  # the first sweep ever runs long after


def _handler(app: Flask, clock: Clock) -> Person:
    with app_session(app) as session:
        org = make_org(session, clock())
        return make_person(session, org.directorate, clock())


def _case(app: Flask, handler: Person) -> Made:
    with app_session(app) as session:
        return make_finished_case(
            session, handler=handler, filed_at=at(date(2026, 3, 2)), closed_at=at(CLOSED)
        )


def _sweep(app: Flask, as_of: date, after_commit: list[object] | None = None) -> SweepReport:
    def commit() -> None:
        db.commit()
        if after_commit is not None:
            after_commit.append(_copy(app))

    with app.app_context():
        return apply(
            db.session(),
            retention_policy(),
            workflow(),
            keystore(),
            as_of=as_of,
            now=now(),
            actor=Actor.operator(),
            batch_size=10,
            commit=commit,
        )


def _copy(app: Flask) -> dict[uuid.UUID, tuple[str, bytes]]:
    """What a copy of the database made at this moment holds: every committed slot, read on a
    connection of its own (the sweep's transaction is not visible to it)."""
    engine = db.create_engine(
        app.extensions["complaints.db"].engine.url.render_as_string(hide_password=False)
    )
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(KeySlot.case_id, KeySlot.key_id, KeySlot.wrapped_key).join(
                    Case, Case.id == KeySlot.case_id
                )
            ).all()
    finally:
        engine.dispose()
    return {row.case_id: (row.key_id, row.wrapped_key) for row in rows}


def _opens(app: Flask, case_id: uuid.UUID, slot: tuple[str, bytes]) -> bool:
    with app.app_context():
        try:
            keystore().unwrap(WrappedKey(*slot), f"key_slots:{case_id}".encode())
        except UnknownKey:
            return False
    return True


def test_a_case_long_due_goes_under_an_epoch_key_before_it_is_destroyed(
    committed_app: Flask, clock: Clock
) -> None:
    app = committed_app
    made = _case(app, _handler(app, clock))
    before = _copy(app)
    # The control: a copy made before the sweep has the slot under the long-lived KEK.
    assert before[made.id][0].startswith("kek-")

    copies: list[object] = []
    report = _sweep(app, LATE, copies)
    assert report.cases_destroyed == 1
    assert report.rewrapped == 1
    with app_session(app) as session:
        assert set(case_rows(session, made.id).values()) == {0}
        [entry] = session.scalars(
            sa.select(LedgerEntry).where(LedgerEntry.action == LedgerAction.DESTROYED)
        ).all()
    assert entry.subject == made.reference
    assert entry.records[EPOCH_SLOTS] == 1, "the ledger says the slot went through an epoch key"

    # Every copy that still held the case after the sweep began holds it under the epoch key
    # of the day of the sweep (its own day was long ago), and there was one.
    held = [copy[made.id] for copy in copies if made.id in copy]  # type: ignore[operator, index]
    assert held, "the placement was committed before the destruction"
    assert {key_id for key_id, _ in held} == {"epoch-2030-06-15"}
    # ... and the same sweep destroyed that key after the case: the copy taken in between is
    # unreadable from the moment of destruction.
    assert report.epoch_keys_destroyed == ["epoch-2030-06-15"]
    assert not _opens(app, made.id, held[-1])
    # The control: the copy from before the sweep still opens, under the KEK that lives until
    # the key lifecycle destroys it (kek_rotation_days + backup_retention_days).
    assert _opens(app, made.id, before[made.id])


def test_a_destroyed_cases_emails_go_with_it(app: Flask, clock: Clock) -> None:
    handler = _handler(app, clock)
    made = _case(app, handler)
    kept = _case(app, handler)
    with app_session(app) as session:
        # A real reminder, through the service that queues it.
        sent = send_retention_reminders(
            session,
            retention_policy(),
            workflow(),
            as_of=DUE - timedelta(days=10),
            now=at(DUE - timedelta(days=10)),
        )
        assert len(sent) == 2
        linked = session.scalars(sa.select(Notification.case_id)).all()
        assert sorted(map(str, linked)) == sorted([str(made.id), str(kept.id)])
        # The other case goes another way than the sweep: the cascade takes its e-mail too.
        session.execute(sa.delete(Case).where(Case.id == kept.id))
    report = _sweep(app, DUE)
    assert report.cases_destroyed == 1
    assert report.records[Notification.__tablename__] == 1
    with app_session(app) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 0
        events = session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "retention.case_destroyed")
        ).all()
        ledger = session.scalars(
            sa.select(LedgerEntry).where(LedgerEntry.subject == made.reference)
        ).all()
    # What the audit log and the ledger keep of the case: ids, the rule, counts. No route, no
    # disclosure level, no category.
    [event] = events
    assert event.object_id == str(made.id)
    assert set(event.details) == {"reference", "rule"}
    [row] = ledger
    text = json.dumps([event.details, row.subject, row.rule, row.records, row.category, row.action])
    for word in ("confidant", "vertrouwens", "confidential", "discrimination", "race"):
        assert word not in text.replace("confidant-closed", "")


def test_every_email_about_a_case_is_queued_with_its_case() -> None:
    """Each place that queues an e-mail naming a case reference passes the case's id, so the
    sweep and the cascade can take the e-mail with the case. Read from the source, so that a
    new call site without it fails here rather than leaving references behind in production."""
    calls = []
    for path in sorted((ROOT / "complaints").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "queue_notification"
            ):
                calls.append((path.relative_to(ROOT), {k.arg for k in node.keywords}))
    assert len(calls) >= 6
    missing = [str(path) for path, keywords in calls if "case_id" not in keywords]
    assert missing == []
