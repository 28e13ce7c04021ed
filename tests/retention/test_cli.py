"""``flask --app wsgi retention plan | remind | apply``."""

from __future__ import annotations

import csv
import fcntl
import io
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import Result
from flask import Flask

from complaints import db
from complaints.cases.models import Case, Route
from complaints.directory.models import Person
from complaints.notify.models import Notification
from complaints.retention.cli import _SWEEP_LOCK_ID
from complaints.retention.models import LedgerEntry, RetentionHold
from tests.conftest import Clock, app_session
from tests.factories import make_org, make_person
from tests.retention.conftest import SECRET_WORDS, Made, at, make_finished_case

pytestmark = pytest.mark.committing

CLOSED = date(2026, 3, 12)
DUE = date(2028, 3, 12)


def _invoke(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=["retention", *args])


@pytest.fixture
def handler(committed_app: Flask, clock: Clock) -> Person:
    with app_session(committed_app) as session:
        org = make_org(session, clock())
        return make_person(session, org.directorate, clock())


def _case(app: Flask, handler: Person, route: Route = Route.CONFIDANT) -> Made:
    with app_session(app) as session:
        return make_finished_case(
            session,
            handler=handler,
            filed_at=at(date(2026, 3, 2)),
            closed_at=at(CLOSED),
            route=route,
        )


def test_plan_lists_reference_rule_action_and_day(committed_app: Flask, handler: Person) -> None:
    soon = _case(committed_app, handler)
    held = _case(committed_app, handler, Route.MANAGER)
    with app_session(committed_app) as session:
        session.add(
            RetentionHold(
                case_id=held.id, reason="Rechtszaak", until=date(2029, 1, 1), placed_at=at(CLOSED)
            )
        )
    result = _invoke(committed_app, "plan", "--as-of", "2028-01-01", "--days", "90")
    assert result.exit_code == 0, result.output
    assert "as of 2028-01-01: 2 action(s) due by 2028-03-31 or held" in result.output
    lines = {line.split()[0]: line.split() for line in result.output.splitlines()[2:]}
    assert lines[soon.reference] == [
        soon.reference, "confidant-closed", "destroy", "2028-03-12", "no", "-", "no"
    ]  # fmt: skip
    assert lines[held.reference][1:] == [
        "manager-closed", "destroy", "2028-03-12", "yes", "2029-01-01", "no"
    ]  # fmt: skip
    for word in SECRET_WORDS:
        assert word not in result.output


def test_plan_looks_ahead_as_far_as_asked(committed_app: Flask, handler: Person) -> None:
    _case(committed_app, handler)
    short = _invoke(committed_app, "plan", "--as-of", "2028-01-01", "--days", "70")
    assert "0 action(s)" in short.output
    today = _invoke(committed_app, "plan", "--as-of", DUE.isoformat(), "--days", "0")
    assert "1 action(s)" in today.output


def test_plan_as_csv(committed_app: Flask, handler: Person) -> None:
    made = _case(committed_app, handler, Route.INTEGRITY)
    result = _invoke(committed_app, "plan", "--as-of", "2027-03-01", "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows == [
        ["reference", "rule", "action", "due_on", "held", "held_until", "extended"],
        [made.reference, "integrity-redact", "redact", "2027-03-12", "no", "", "no"],
    ]


def test_plan_defaults_to_today(committed_app: Flask, handler: Person, clock: Clock) -> None:
    _case(committed_app, handler)
    clock.current = at(DUE - timedelta(days=10))
    result = _invoke(committed_app, "plan")
    assert f"as of {(DUE - timedelta(days=10)).isoformat()}: 1 action(s)" in result.output


def test_apply_prints_counts_and_is_idempotent(committed_app: Flask, handler: Person) -> None:
    made = _case(committed_app, handler)
    _case(committed_app, handler, Route.INTEGRITY)
    result = _invoke(
        committed_app, "apply", "--as-of", DUE.isoformat(), "--allow-future", "--batch-size", "1"
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        f"as of {DUE.isoformat()}: 1 case(s) destroyed, 1 redaction(s), 0 held, "
        "2 case key(s) placed under an epoch key"
    )
    assert "  key_slots: 1" in result.output
    with app_session(committed_app) as session:
        assert session.get(Case, made.id) is None
        rows = session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry))
    again = _invoke(committed_app, "apply", "--as-of", DUE.isoformat(), "--allow-future")
    assert again.exit_code == 0
    assert "0 case(s) destroyed, 0 redaction(s)" in again.output
    with app_session(committed_app) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == rows


def test_apply_refuses_a_bad_date_or_batch_size(committed_app: Flask) -> None:
    assert _invoke(committed_app, "apply", "--as-of", "12-03-2028").exit_code == 2
    assert _invoke(committed_app, "apply", "--batch-size", "0").exit_code == 2


def test_apply_fails_closed_without_the_key_store(
    committed_app: Flask, handler: Person, keystore_path: Path
) -> None:
    made = _case(committed_app, handler)
    (keystore_path / "keystore.json").rename(keystore_path / "moved.json")
    result = _invoke(committed_app, "apply", "--as-of", DUE.isoformat(), "--allow-future")
    assert result.exit_code == 1
    assert "key store unavailable" in result.output
    with app_session(committed_app) as session:
        assert session.get(Case, made.id) is not None


def test_apply_refuses_a_day_in_the_future_unless_told(
    committed_app: Flask, handler: Person, clock: Clock
) -> None:
    """A mistyped year must not destroy cases years early."""
    made = _case(committed_app, handler)
    clock.current = at(DUE - timedelta(days=1))
    result = _invoke(committed_app, "apply", "--as-of", DUE.isoformat())
    assert result.exit_code == 1
    assert "later than today" in result.output
    with app_session(committed_app) as session:
        assert session.get(Case, made.id) is not None
        assert session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == 0
    clock.current = at(DUE)
    assert _invoke(committed_app, "apply").exit_code == 0, "on its day it goes"
    with app_session(committed_app) as session:
        assert session.get(Case, made.id) is None


def test_a_second_sweep_does_not_start_while_one_runs(
    committed_app: Flask, handler: Person, clock: Clock
) -> None:
    made = _case(committed_app, handler)
    clock.current = at(DUE)
    with committed_app.app_context():
        engine = db.database().engine
        if engine.dialect.name == "postgresql":
            holder = engine.connect()
            holder.scalar(sa.select(sa.func.pg_advisory_lock(_SWEEP_LOCK_ID)))

            def release() -> None:
                holder.scalar(sa.select(sa.func.pg_advisory_unlock(_SWEEP_LOCK_ID)))
                holder.close()

        else:
            handle = open(Path(committed_app.instance_path) / "retention-sweep.lock", "a")  # noqa: SIM115
            fcntl.flock(handle, fcntl.LOCK_EX)
            release = handle.close
    try:
        result = _invoke(committed_app, "apply")
        assert result.exit_code == 1
        assert "another retention sweep or key rewrap is running" in result.output
        with app_session(committed_app) as session:
            assert session.get(Case, made.id) is not None
    finally:
        release()
    assert _invoke(committed_app, "apply").exit_code == 0
    with app_session(committed_app) as session:
        assert session.get(Case, made.id) is None


def test_remind_queues_one_e_mail_per_handler_once(
    committed_app: Flask, handler: Person, clock: Clock
) -> None:
    made = _case(committed_app, handler)
    clock.current = at(DUE - timedelta(days=10))
    first = _invoke(committed_app, "remind")
    assert first.exit_code == 0, first.output
    assert first.output.strip() == (
        # No mail server listens here: the e-mail waits for 'notify send', and it says so.
        f"as of {(DUE - timedelta(days=10)).isoformat()}: 0 reminder e-mail(s) sent, "
        "1 waiting for 'notify send'"
    )
    again = _invoke(committed_app, "remind").output
    assert "0 reminder e-mail(s) sent, 0 waiting" in again, "once per case and day"
    with app_session(committed_app) as session:
        (params,) = session.scalars(
            sa.select(Notification.params).where(Notification.kind == "retention_reminder")
        ).all()
    assert made.reference in str(params.values())
    assert not any(word in str(params) for word in SECRET_WORDS)
