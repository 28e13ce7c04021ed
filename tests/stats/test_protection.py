"""Small-cell protection, attacked: an adversary who sees every published table of a kind and
year (all of them at once, margins included, knowing that a suppressed count is at least 1
because zeros are shown) solves for each suppressed cell with linear programming. The tables
of a grid with its margins form a network, so the LP's bounds are the exact integer bounds:
if the least and the greatest value of a cell agree, the cell has been recovered."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from complaints.stats.tables import DIMENSIONS, QUARTERS, CellId, _Record, _System

CATEGORIES = ("discrimination", "harassment", "bullying")
ROUTES = ("manager", "confidant", "integrity")
ORGANISATIONS = ("1", "2", "3", "")
OUTCOMES = ("", "founded", "unfounded")
DISCLOSURES = ("anonymous", "named")
GROUNDS = ("race", "religion", "sexual_orientation")


@st.composite
def records(draw: st.DrawFn) -> list[_Record]:
    made = []
    for _ in range(draw(st.integers(1, 14))):
        keys = {
            "category": draw(st.sampled_from(CATEGORIES)),
            "route": draw(st.sampled_from(ROUTES)),
            "organisation": draw(st.sampled_from(ORGANISATIONS)),
            "outcome": draw(st.sampled_from(OUTCOMES)),
            "disclosure": draw(st.sampled_from(DISCLOSURES)),
            "quarter": draw(st.sampled_from(QUARTERS)),
        }
        grounds = tuple(sorted(draw(st.sets(st.sampled_from(GROUNDS), max_size=2))))
        made.append(_Record(keys, grounds, draw(st.integers(1, 12))))
    return made


def recovered(system: _System) -> list[tuple[CellId, float]]:
    """Every suppressed cell whose value the published numbers fix, with that value."""
    hidden = sorted(system.suppressed)
    index = {cell: i for i, cell in enumerate(hidden)}
    rows: list[list[float]] = []
    rhs: list[float] = []
    for line in system._lines():
        coefficients = [0.0] * len(hidden)
        known = 0.0
        for position, cell in enumerate(line):
            sign = 1.0 if position == 0 else -1.0  # the first cell is the sum of the others
            if cell in index:
                coefficients[index[cell]] += sign
            else:
                known += sign * system.values.get(cell, 0)
        if any(coefficients):
            rows.append(coefficients)
            rhs.append(-known)
    found = []
    for cell, i in index.items():
        objective = [0.0] * len(hidden)
        objective[i] = 1.0
        bounds: Sequence[tuple[float, float | None]] = [(1, None)] * len(hidden)
        low = linprog(objective, A_eq=rows or None, b_eq=rhs or None, bounds=bounds)
        high = linprog([-x for x in objective], A_eq=rows or None, b_eq=rhs or None, bounds=bounds)
        assert low.status == 0, "the true values are a solution, so the system is feasible"
        if high.status == 0 and abs(-high.fun - low.fun) < 0.5:
            found.append((cell, low.fun))
    return found


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=records(), k=st.sampled_from([3, 5]))
def test_no_suppressed_cell_can_be_recovered(data: list[_Record], k: int) -> None:
    system = _System("submitted", 2026, k, data)
    assert recovered(system) == []


@settings(max_examples=60, deadline=None)
@given(data=records(), k=st.sampled_from([3, 5]))
def test_small_counts_are_hidden_and_the_rest_shown_as_they_are(
    data: list[_Record], k: int
) -> None:
    system = _System("submitted", 2026, k, data)
    for cell, value in system.values.items():
        if 0 < value < k:
            assert system.shown(cell) is None, cell
        elif cell not in system.suppressed:
            assert system.shown(cell) == value
    for rows in DIMENSIONS:
        for columns in (None, *DIMENSIONS):
            if rows == columns:
                continue
            table = system.table(rows, columns)
            shown = [*table.cells.values(), *table.row_totals.values(), table.total]
            assert all(v is None or v == 0 or v >= k for v in shown)


def test_the_difference_of_all_and_all_but_one_organisation_gives_nothing_away() -> None:
    """Organisation 3 has 2 reports: hidden, and so must be one more, or 'all' minus the
    others would tell."""
    data = [
        _Record({"category": "bullying", "route": "manager", "organisation": "1", "outcome": "",
                 "disclosure": "named", "quarter": "Q1"}, (), 20),
        _Record({"category": "bullying", "route": "manager", "organisation": "2", "outcome": "",
                 "disclosure": "named", "quarter": "Q1"}, (), 9),
        _Record({"category": "bullying", "route": "manager", "organisation": "3", "outcome": "",
                 "disclosure": "named", "quarter": "Q1"}, (), 2),
    ]  # fmt: skip
    table = _System("submitted", 2026, 5, data).table("organisation", None)
    assert table.total == 31
    assert table.cell("3") is None
    assert sum(1 for v in table.cells.values() if v is None) >= 2
    assert table.cell("1") == 20, "the largest stays visible"


def test_a_zero_is_shown_and_never_suppressed() -> None:
    data = [
        _Record({"category": "bullying", "route": "manager", "organisation": "1", "outcome": "",
                 "disclosure": "named", "quarter": "Q2"}, (), 30),
    ]  # fmt: skip
    table = _System("submitted", 2026, 5, data).table("quarter", None)
    assert [table.cell(q) for q in QUARTERS] == [0, 30, 0, 0]


@pytest.mark.parametrize("k", [2, 5, 10])
def test_everything_below_k_in_one_table_is_hidden(k: int) -> None:
    data = [
        _Record({"category": c, "route": "manager", "organisation": "1", "outcome": "",
                 "disclosure": "named", "quarter": "Q1"}, (), n)
        for c, n in (("bullying", 1), ("harassment", k - 1), ("discrimination", 40))
    ]  # fmt: skip
    table = _System("submitted", 2026, k, data).table("category", None)
    assert table.cell("bullying") is None
    assert table.cell("harassment") is None
    assert recovered(_System("submitted", 2026, k, data)) == []
