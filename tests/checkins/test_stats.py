"""Check-ins sent, answered and retaliation reported are counted as stat events that cannot be
linked back to the case: no case id, no check-in or message id, no reference, no day."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from complaints.cases.models import Case, Message, Route
from complaints.checkins.models import CheckIn
from complaints.stats.models import StatEvent
from complaints.stats.tables import KINDS
from tests.checkins.test_mailbox import answer, open_box
from tests.checkins.test_retaliation import TOLD, closed_and_asked
from tests.conftest import Clock, app_session

CHECKIN_KINDS = ("checkin_sent", "checkin_answered", "retaliation_reported")
LINKING_TYPES = (sa.DateTime, sa.Date)


def structural_links(table: sa.Table) -> list[str]:
    """Columns through which a row could point at a case: a foreign key to a case's table, a
    column named after one, or a time finer than the quarter."""
    case_tables = {"cases", "checkins", "messages", "case_events"}
    found = []
    for column in table.columns:
        if any(fk.column.table.name in case_tables for fk in column.foreign_keys):
            found.append(f"{column.name}: foreign key")
        if "case" in column.name or "checkin" in column.name or "message" in column.name:
            found.append(f"{column.name}: named after a case")
        if isinstance(column.type, LINKING_TYPES):
            found.append(f"{column.name}: a moment")
    return found


def value_links(
    session: Session, rows: list[dict[str, Any]], case_ids: set[uuid.UUID]
) -> list[str]:
    """Values in ``rows`` that equal something of those cases: an id, a reference, the id of a
    check-in or message, or one of their days and moments."""
    known: set[str] = set()
    for case in session.scalars(sa.select(Case).where(Case.id.in_(case_ids))):
        known |= {str(case.id), case.reference}
    for checkin in session.scalars(sa.select(CheckIn).where(CheckIn.case_id.in_(case_ids))):
        moments: list[date | datetime | None] = [
            checkin.due_on,
            checkin.sent_at,
            checkin.answered_at,
            checkin.closed_at,
        ]
        known |= {m.isoformat() for m in moments if m is not None}
        known |= {str(checkin.message_id)} if checkin.message_id else set()
    known |= {
        str(m) for m in session.scalars(sa.select(Message.id).where(Message.case_id.in_(case_ids)))
    }
    found = []
    for row in rows:
        for name, value in row.items():
            values = value if isinstance(value, list) else [value]
            for item in values:
                if item is not None and str(item) in known:
                    found.append(f"{row['kind']}.{name} = {item}")
    return found


def checkin_stats(session: Session) -> list[dict[str, Any]]:
    return [
        dict(row._mapping)
        for row in session.execute(
            sa.select(StatEvent.__table__).where(StatEvent.kind.in_(CHECKIN_KINDS))
        )
    ]


def test_the_three_kinds_are_counted_without_a_link_to_the_case(app: Flask, clock: Clock) -> None:
    case_id, code, _handler = closed_and_asked(app, clock, Route.CONFIDANT)
    browser, _page = open_box(app, code)
    assert answer(browser, TOLD, retaliation=True).status_code == 303
    with app_session(app) as session:
        rows = checkin_stats(session)
        assert sorted(row["kind"] for row in rows) == sorted(CHECKIN_KINDS)
        case = session.get(Case, case_id)
        assert case is not None
        for row in rows:  # counted by the case's dimensions, so they can be tabled
            assert (row["route"], row["category"], row["disclosure"]) == (
                "confidant",
                case.category,
                case.disclosure.value,
            )
            assert row["quarter"] == "2026-Q2"
        assert structural_links(StatEvent.__table__) == []
        assert value_links(session, rows, {case_id}) == []
    assert set(CHECKIN_KINDS) <= set(KINDS)  # and the statistics pages offer them


def test_the_detector_finds_a_row_that_names_its_case(app: Flask, clock: Clock) -> None:
    """Control: the checks above catch a stat row carrying the case id, a check-in's day, or a
    table with a case column."""
    case_id, code, _handler = closed_and_asked(app, clock, Route.CONFIDANT)
    browser, _page = open_box(app, code)
    assert answer(browser, TOLD).status_code == 303
    with app_session(app) as session:
        rows = checkin_stats(session)
        leaky = [
            {**rows[0], "outcome": str(case_id)},
            {**rows[1], "id": case_id},
        ]
        checkin = session.scalars(
            sa.select(CheckIn).where(CheckIn.case_id == case_id).order_by(CheckIn.due_on)
        ).first()
        assert checkin is not None
        assert checkin.sent_at is not None
        leaky.append({**rows[0], "deadline": checkin.sent_at.isoformat()})
        assert len(value_links(session, leaky, {case_id})) == 3
    linked = sa.Table(
        "leaky_stats",
        sa.MetaData(),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("case_id", sa.Uuid, sa.ForeignKey(Case.__table__.c.id)),
        sa.Column("sent_at", sa.DateTime),
    )
    assert structural_links(linked) == [
        "case_id: foreign key",
        "case_id: named after a case",
        "sent_at: a moment",
    ]
