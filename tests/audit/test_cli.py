"""``flask --app wsgi audit verify``: OK on an intact chain, the first broken link otherwise.
(The checks against the anchor file are in test_anchor.py.)"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import Result
from flask import Flask

from complaints import create_app
from complaints.audit.models import AuditEvent
from complaints.audit.services import Actor, record_event
from complaints.cases.services import open_case
from complaints.crypto.services import indexer, keystore
from complaints.models import metadata
from tests.conftest import Clock, app_session, make_settings
from tests.factories import make_case, make_org, make_person

AUDIT_EVENTS = metadata.tables["audit_events"]

pytestmark = pytest.mark.committing


def _verify(app: Flask) -> Result:
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def _anchor(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["audit", "anchor"])
    assert result.exit_code == 0, result.output


def _record(app: Flask, clock: Clock, count: int) -> None:
    with app_session(app) as session:
        for number in range(count):
            record_event(
                session,
                keystore(),
                actor=Actor.staff(number),
                action="test.event",
                now=clock.advance(minutes=1),
                object_type="case",
                object_id=number,
                details={"n": number},
            )


def _execute(app: Flask, statement: sa.Executable) -> None:
    with app_session(app) as session:
        session.execute(statement)


def test_intact_chain_is_ok(committed_app: Flask, clock: Clock) -> None:
    _record(committed_app, clock, 4)
    _anchor(committed_app)
    result = _verify(committed_app)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "OK: 4 audit events verified (seq 1..4)"


def test_empty_chain_is_ok(committed_app: Flask) -> None:
    result = _verify(committed_app)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "OK: 0 audit events verified"


def test_chain_written_by_real_operations_is_ok(committed_app: Flask, clock: Clock) -> None:
    with app_session(committed_app) as session:
        org = make_org(session, clock())
        handler = make_person(session, org.directorate, clock())
        case = make_case(session, clock(), handler=handler)
        for reader in (handler.id, handler.id + 1000):
            # The second reader has no grant: a denied open is an event too.
            with contextlib.suppress(LookupError):
                open_case(
                    session,
                    keystore(),
                    indexer(),
                    case_id=case.id,
                    reader_person_id=reader,
                    actor=Actor.staff(reader),
                    now=clock.advance(seconds=1),
                )
    _anchor(committed_app)
    result = _verify(committed_app)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK: 2 audit events verified")


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"action": "case.export"}, id="action"),
        pytest.param({"details": {"n": 5}}, id="details"),
        pytest.param({"actor_id": "999"}, id="actor"),
        pytest.param({"object_id": "999"}, id="object"),
    ],
)
def test_edited_event_is_named(
    committed_app: Flask, clock: Clock, values: dict[str, object]
) -> None:
    _record(committed_app, clock, 4)
    table = AUDIT_EVENTS
    _execute(committed_app, sa.update(table).where(table.c.seq == 2).values(**values))
    result = _verify(committed_app)
    assert result.exit_code != 0
    lines = result.output.splitlines()
    assert lines[0] == "BROKEN: audit event seq=2: its contents do not match its hash (altered)"
    assert lines[1] == "1 events before it verified"


def test_edited_time_is_named(committed_app: Flask, clock: Clock) -> None:
    _record(committed_app, clock, 3)
    table = AUDIT_EVENTS
    _execute(
        committed_app,
        sa.update(table).where(table.c.seq == 3).values(occurred_at=clock() - timedelta(hours=1)),
    )
    result = _verify(committed_app)
    assert result.exit_code != 0
    assert result.output.startswith("BROKEN: audit event seq=3: ")


def test_deleted_event_is_named(committed_app: Flask, clock: Clock) -> None:
    _record(committed_app, clock, 5)
    _execute(committed_app, sa.delete(AUDIT_EVENTS).where(AuditEvent.seq == 3))
    result = _verify(committed_app)
    assert result.exit_code != 0
    assert result.output.splitlines() == [
        "BROKEN: audit event seq=4: events 3..3 are missing",
        "2 events before it verified",
    ]


@pytest.fixture
def app_without_store(committed_app: Flask, tmp_path: Path) -> Iterator[Flask]:
    engine: sa.Engine = committed_app.extensions["complaints.db"].engine
    settings = make_settings(
        tmp_path, engine.url.render_as_string(hide_password=False), tmp_path / "no" / "keys"
    )
    application = create_app(settings, strict_startup=False)
    yield application
    application.extensions["complaints.db"].engine.dispose()


def test_verify_fails_closed_without_the_key_store(
    committed_app: Flask, app_without_store: Flask, clock: Clock, tmp_path: Path
) -> None:
    _record(committed_app, clock, 2)
    result = _verify(app_without_store)
    assert result.exit_code == 1
    assert "key store unavailable" in result.output
    assert not (tmp_path / "no").exists()
    assert not result.output.startswith("OK")


def test_verify_does_not_write(committed_app: Flask, clock: Clock) -> None:
    _record(committed_app, clock, 2)
    _anchor(committed_app)
    with app_session(committed_app) as session:
        before = session.execute(sa.select(AUDIT_EVENTS)).all()
    assert _verify(committed_app).exit_code == 0
    with app_session(committed_app) as session:
        assert session.execute(sa.select(AUDIT_EVENTS)).all() == before
