"""The statistics engine against the database: counting, caching, medians and shares."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from complaints.stats import tables
from complaints.stats.models import StatEvent, StatSnapshot
from complaints.stats.tables import (
    ALGORITHM,
    DIMENSIONS,
    UnknownQuery,
    available_years,
    deadline_shares,
    median_days,
    protected_table,
)
from tests.conftest import app_session


def _events(session: Session, number: int, **values: object) -> None:
    fields: dict[str, object] = {
        "kind": "submitted",
        "quarter": "2026-Q1",
        "category": "bullying",
        "grounds": [],
        "route": "confidant",
        "disclosure": "anonymous",
        **values,
    }
    session.add_all(StatEvent(**fields) for _ in range(number))
    session.flush()


def test_counts_by_route_and_quarter_with_small_cells_hidden(app: Flask) -> None:
    with app_session(app) as session:
        _events(session, 12, route="confidant")
        _events(session, 7, route="manager", quarter="2026-Q2")
        _events(session, 2, route="integrity", quarter="2026-Q3")
        _events(session, 30, quarter="2025-Q4")  # another year
        _events(session, 9, kind="closed")  # another kind
        table = protected_table(
            session, kind="submitted", year=2026, rows="route", columns="quarter", k=5
        )
        assert table.row_keys == ("confidant", "integrity", "manager")
        assert table.column_keys == ("Q1", "Q2", "Q3", "Q4")
        assert table.cell("confidant", "Q1") == 12
        assert table.cell("integrity", "Q3") is None
        assert table.row_totals["integrity"] is None
        assert table.cell("confidant", "Q4") == 0, "zero is shown"
        assert table.total == 21
        assert table.row_totals["confidant"] == 12
        # Two suppressed in every line that has one.
        assert [table.cell("integrity", q) for q in ("Q1", "Q2", "Q4")] == [0, 0, 0]
        assert table.column_totals["Q3"] is None


def test_a_new_event_is_counted_at_once(app: Flask) -> None:
    with app_session(app) as session:
        _events(session, 10)
        before = protected_table(session, kind="submitted", year=2026, rows="category", k=5)
        _events(session, 1)
        after = protected_table(session, kind="submitted", year=2026, rows="category", k=5)
        assert (before.total, after.total) == (10, 11)


def test_grounds_count_mentions(app: Flask) -> None:
    with app_session(app) as session:
        _events(session, 6, category="discrimination", grounds=["race", "religion"])
        _events(session, 5, category="discrimination", grounds=["race"])
        table = protected_table(session, kind="submitted", year=2026, rows="grounds", k=5)
        assert table.counts_mentions
        assert (table.cell("race"), table.cell("religion"), table.total) == (11, 6, 17)


@pytest.mark.parametrize(
    ("kind", "rows", "columns"),
    [("opened", "route", None), ("submitted", "name", None), ("submitted", "route", "route")],
)
def test_unknown_questions_are_refused(
    app: Flask, kind: str, rows: str, columns: str | None
) -> None:
    with app_session(app) as session, pytest.raises(UnknownQuery):
        protected_table(session, kind=kind, year=2026, rows=rows, columns=columns, k=5)


def test_medians_need_k_cases(app: Flask) -> None:
    with app_session(app) as session:
        for days in (1, 2, 3, 10, 40):
            _events(session, 1, kind="acknowledged", days_taken=days, route="confidant")
        for days in (5, 6):
            _events(session, 1, kind="acknowledged", days_taken=days, route="manager")
        assert median_days(session, kind="acknowledged", year=2026, by="route", k=5) == {
            "confidant": 3,
            "manager": None,
        }
        assert median_days(session, kind="acknowledged", year=2026, by=None, k=5) == {"": 5}


def test_deadline_shares_hide_small_numbers(app: Flask) -> None:
    with app_session(app) as session:
        _events(session, 8, kind="acknowledged", deadline="acknowledge", deadline_met=True)
        _events(session, 2, kind="acknowledged", deadline="acknowledge", deadline_met=False)
        _events(session, 3, kind="acknowledged", route="manager", deadline="x", deadline_met=True)
        shares = deadline_shares(session, year=2026, by="route", k=5)
        assert shares["confidant"].total == 10
        assert shares["confidant"].share == pytest.approx(0.8)
        assert shares["confidant"].met is None, "2 missed: the number met would tell"
        assert shares["manager"].share is None
        assert available_years(session) == [2026]


@pytest.mark.parametrize("settings_overrides", [{"stats_cache_seconds": 60}])
def test_figures_may_lag_new_events_by_the_cache_time(app: Flask) -> None:
    with app_session(app) as session:
        _events(session, 10)
        first = protected_table(session, kind="submitted", year=2026, rows="route", k=5)
        _events(session, 1)
        kept = protected_table(session, kind="submitted", year=2026, rows="route", k=5)
        assert (first.total, kept.total) == (10, 10)
        app.extensions["complaints.stats_cache"].clear()  # as if the minute had passed
        assert protected_table(session, kind="submitted", year=2026, rows="route", k=5).total == 11


def test_a_year_that_is_over_is_protected_once_and_read_back(app: Flask) -> None:
    """The clock is in 2026: 2025 is settled, its protected set is kept in the database."""
    with app_session(app) as session:
        _events(session, 12, quarter="2025-Q2")
        _events(session, 3, quarter="2025-Q3", route="manager")
        _events(session, 7, quarter="2025-Q4", route="integrity", category="discrimination",
                grounds=["race"])  # fmt: skip
        fresh = {
            (rows, columns): protected_table(
                session, kind="submitted", year=2025, rows=rows, columns=columns, k=5
            )
            for rows in DIMENSIONS
            for columns in (None, *DIMENSIONS)
            if rows != columns
        }
        stored = session.scalars(sa.select(StatSnapshot)).all()
        assert [(s.kind, s.year, s.k, s.algorithm) for s in stored] == [
            ("submitted", 2025, 5, ALGORITHM)
        ]
        assert 3 not in [value for _cell, value in stored[0].payload["values"]] or any(
            cell == ["m", "route", "manager"] for cell in stored[0].payload["suppressed"]
        )
        app.extensions["complaints.stats_cache"].clear()  # another worker
        for (rows, columns), table in fresh.items():
            assert (
                protected_table(
                    session, kind="submitted", year=2025, rows=rows, columns=columns, k=5
                )
                == table
            )
        assert protected_table(session, kind="submitted", year=2026, rows="route", k=5).total == 0
        assert len(session.scalars(sa.select(StatSnapshot)).all()) == 1, "the current year: none"


def test_two_workers_storing_the_same_snapshot_is_no_error(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    with app_session(app) as session:
        _events(session, 9, quarter="2025-Q1")
        first = protected_table(session, kind="submitted", year=2025, rows="route", k=5)
        # A second worker that looked before the first one stored its snapshot.
        app.extensions["complaints.stats_cache"].clear()
        monkeypatch.setattr(tables, "_load_snapshot", lambda *args: None)
        second = protected_table(session, kind="submitted", year=2025, rows="route", k=5)
        assert second == first
        assert len(session.scalars(sa.select(StatSnapshot)).all()) == 1
        # The session is still usable: the failed insert was only a savepoint's.
        assert session.scalar(sa.select(sa.func.count()).select_from(StatEvent)) == 9
