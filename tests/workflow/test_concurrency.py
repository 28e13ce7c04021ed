"""Two handlers changing the same case at once: one wins, the other is told it changed meanwhile,
and nothing of the losing step is written. On PostgreSQL with two connections really at work at
the same moment; SQLite takes its write lock at BEGIN, so there two sessions can only overlap
one after the other, and the test shows the same outcome for a copy that went stale."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from complaints import db
from complaints.audit.models import AuditEvent
from complaints.audit.services import verify_chain
from complaints.cases.models import Case, CaseEvent, GrantRole, Route
from complaints.crypto.services import keystore
from complaints.stats.models import StatEvent
from complaints.workflow.config import workflow
from complaints.workflow.transitions import ChangedMeanwhile, apply_transition
from tests.conftest import Clock, app_session
from tests.factories import import_demo_directory
from tests.workflow import deadlines, file_on, step

pytestmark = pytest.mark.committing

SECRETARY = {GrantRole.COMMITTEE_SECRETARY}
STEPS = {
    "accept": {},
    "declare_not_admissible": {"reasons": "Buiten de termijn ingediend."},
}


@dataclass
class Attempt:
    name: str
    now: datetime
    loaded_version: int | None = None
    outcome: str | None = None
    errors: list[BaseException] = field(default_factory=list)


def acknowledged_case(app: Flask, clock: Clock) -> tuple[uuid.UUID, int]:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        filed = file_on(session, people, Route.COMMITTEE, clock())
        case = session.get(Case, filed.case_id)
        assert case is not None
        step(session, case, "acknowledge", clock(), person=filed.handler, roles=SECRETARY)
        return filed.case_id, filed.handler.id


def load(session: Session, case_id: uuid.UUID) -> Case:
    case = session.get(Case, case_id)
    assert case is not None
    return case


def take(session: Session, case: Case, attempt: Attempt, person_id: int) -> None:
    apply_transition(
        session,
        keystore(),
        workflow(),
        case,
        attempt.name,
        actor_person_id=person_id,
        roles=SECRETARY,
        values=dict(STEPS.get(attempt.name, {})),
        expected_version=attempt.loaded_version or 0,
        now=attempt.now,
    )


def waiting_on_a_lock(app: Flask) -> bool:
    """Whether some other connection to this database waits for a row lock right now."""
    with app.app_context(), db.database().engine.connect() as probe:
        waiting = probe.scalar(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return bool(waiting)


def test_two_handlers_at_once_one_wins_and_the_other_is_told(
    committed_app: Flask, clock: Clock, backend: str
) -> None:
    case_id, secretary_id = acknowledged_case(committed_app, clock)
    first = Attempt("accept", clock.advance(hours=1))
    second = Attempt("declare_not_admissible", clock.advance(minutes=1))
    if backend == "postgresql":
        at_the_same_time(committed_app, case_id, secretary_id, first, second)
    else:
        one_after_the_other(committed_app, case_id, secretary_id, first, second)

    assert (first.errors, second.errors) == ([], [])
    assert (first.outcome, second.outcome) == ("committed", "changed_meanwhile")
    assert first.loaded_version == second.loaded_version
    with app_session(committed_app) as session:
        case = load(session, case_id)
        assert (case.state, case.outcome, case.version) == (
            "accepted",
            None,
            (first.loaded_version or 0) + 1,
        )
        kinds = session.scalars(sa.select(CaseEvent.kind).where(CaseEvent.case_id == case_id)).all()
        assert sorted(kinds) == ["accept", "acknowledge", "submitted"]
        transitions = session.scalars(
            sa.select(AuditEvent.details).where(AuditEvent.action == "case.transition")
        ).all()
        assert [d["transition"] for d in transitions] == ["acknowledge", "accept"]
        assert session.scalars(sa.select(StatEvent.kind)).all().count("not_admissible") == 0
        after = deadlines(session, case_id)
        assert after["admissibility"].met_at == first.now
        assert after["decision"].met_at is None
        assert "notice" not in after
        assert verify_chain(session, keystore()).ok


def at_the_same_time(
    app: Flask, case_id: uuid.UUID, person_id: int, first: Attempt, second: Attempt
) -> None:
    """Both load version N; the first updates and holds its transaction open until the second
    is seen waiting for the row; then the first commits and the second's UPDATE finds nothing."""
    loaded = threading.Barrier(2, timeout=30)
    first_applied = threading.Event()
    first_may_commit = threading.Event()

    def run(attempt: Attempt, before: threading.Event | None) -> None:
        try:
            with app.app_context():
                session = db.session()
                case = load(session, case_id)
                attempt.loaded_version = case.version
                loaded.wait()
                if before is not None:
                    before.wait(30)
                try:
                    take(session, case, attempt, person_id)
                except ChangedMeanwhile:
                    session.rollback()
                    attempt.outcome = "changed_meanwhile"
                    return
                if attempt is first:
                    first_applied.set()
                    first_may_commit.wait(30)
                session.commit()
                attempt.outcome = "committed"
        except BaseException as exc:  # reported by the test, not lost in the thread
            attempt.errors.append(exc)
            first_applied.set()

    threads = [
        threading.Thread(target=run, args=(first, None)),
        threading.Thread(target=run, args=(second, first_applied)),
    ]
    for thread in threads:
        thread.start()
    first_applied.wait(30)
    deadline = time.monotonic() + 20
    while not waiting_on_a_lock(app) and time.monotonic() < deadline:
        time.sleep(0.05)
    # The second handler's UPDATE is blocked behind the first's uncommitted one.
    assert waiting_on_a_lock(app)
    first_may_commit.set()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive()


def one_after_the_other(
    app: Flask, case_id: uuid.UUID, person_id: int, first: Attempt, second: Attempt
) -> None:
    """Two sessions load version N; the first commits its step; the second's copy is stale."""
    with app.app_context():
        sessions = [db.database().new_session() for _ in range(2)]
        try:
            cases = []
            for session, attempt in zip(sessions, (first, second), strict=True):
                case = load(session, case_id)
                attempt.loaded_version = case.version
                session.commit()  # end the read; the copy stays (expire_on_commit=False)
                cases.append(case)
            take(sessions[0], cases[0], first, person_id)
            sessions[0].commit()
            first.outcome = "committed"
            try:
                take(sessions[1], cases[1], second, person_id)
            except ChangedMeanwhile:
                sessions[1].rollback()
                second.outcome = "changed_meanwhile"
            else:
                sessions[1].commit()
                second.outcome = "committed"
        finally:
            for session in sessions:
                session.close()


def test_a_stale_form_is_refused_on_either_database(committed_app: Flask, clock: Clock) -> None:
    """The version the form was loaded at is checked before anything else."""
    case_id, secretary_id = acknowledged_case(committed_app, clock)
    with app_session(committed_app) as session:
        case = load(session, case_id)
        version = case.version
        take(session, case, Attempt("accept", clock(), version), secretary_id)
    with committed_app.app_context():
        session = db.session()
        case = load(session, case_id)
        with pytest.raises(ChangedMeanwhile):
            take(session, case, Attempt("start_hearing", clock(), version), secretary_id)
        session.rollback()
    with app_session(committed_app) as session:
        assert (load(session, case_id).state, load(session, case_id).version) == (
            "accepted",
            version + 1,
        )


def test_a_step_whose_condition_changed_meanwhile_is_told_as_changed_not_refused(
    committed_app: Flask, clock: Clock
) -> None:
    """The loser's copy of the case was loaded before the winner committed, but what the step
    checks (the decision term may be extended once) is read afterwards: on PostgreSQL's READ
    COMMITTED that read already sees the winner's extension. The loser must hear "changed
    meanwhile", not a refusal as if they had misunderstood the case (the full run under load
    once answered the form with 200 instead of 409)."""
    case_id, secretary_id = acknowledged_case(committed_app, clock)
    reason = {"reason": "Hoorzitting verplaatst."}
    with committed_app.app_context():
        stale_session = db.database().new_session()
        try:
            stale = load(stale_session, case_id)
            version = stale.version
            stale_session.commit()  # end the read; the copy stays (expire_on_commit=False)
            with app_session(committed_app) as session:
                apply_transition(
                    session,
                    keystore(),
                    workflow(),
                    load(session, case_id),
                    "extend_decision",
                    actor_person_id=secretary_id,
                    roles=SECRETARY,
                    values=dict(reason),
                    expected_version=version,
                    now=clock(),
                )
            with pytest.raises(ChangedMeanwhile):
                apply_transition(
                    stale_session,
                    keystore(),
                    workflow(),
                    stale,
                    "extend_decision",
                    actor_person_id=secretary_id,
                    roles=SECRETARY,
                    values=dict(reason),
                    expected_version=version,
                    now=clock(),
                )
            stale_session.rollback()
        finally:
            stale_session.close()
    with app_session(committed_app) as session:
        kinds = session.scalars(sa.select(CaseEvent.kind).where(CaseEvent.case_id == case_id)).all()
        assert sorted(kinds).count("extend_decision") == 1
