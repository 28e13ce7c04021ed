"""Protected statistics: every number that leaves the application comes from here.

For one kind of event (submitted, closed, ...) and one calendar year, the counts are cut by
every pair of dimensions (category × route, route × quarter, ...) into tables that share their
margins: the count per route is the same number in every table that has routes. The whole set
is protected at once, so no table, and no two tables together, give a suppressed cell away:

- primary suppression: a count from 1 to k − 1 is never shown (zero is);
- complementary suppression: in every row and column (margins included) a suppressed count has
  company, the suppressed counts of a line do not add up to a number that fixes them (all ones),
  and no suppressed cell is a "bridge" — the one link between two groups of suppressed cells,
  whose value the row and column totals would then fix (the closed-table rule: a suppressed cell
  can be worked out exactly when it is a bridge in the graph of suppressed cells).

Periods are whole calendar years with the quarter as a protected dimension, so no two allowed
periods differ by a quarter's worth of cells. Filters are not offered: a table of "all but one
organisation" is not a question this module answers. Grounds are multi-valued (one report can
name several); their tables count mentions and have margins of their own.

Stat events are only ever added, so the number of events in a year tells whether figures
computed earlier are still current; they are kept per worker and recomputed when not (asked at
most every ``stats_cache_seconds``).
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any, TypeVar

import numpy as np
import sqlalchemy as sa
from flask import current_app
from scipy.linalg import null_space
from scipy.optimize import linprog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from complaints.clock import now
from complaints.settings import current_settings
from complaints.stats.models import StatEvent, StatSnapshot
from complaints.stats.services import quarter_of
from complaints.workflow.services import local_date

KINDS = (
    "submitted",
    "acknowledged",
    "referred",
    "withdrawn",
    "not_admissible",
    "decided",
    "closed",
    "checkin_sent",
    "checkin_answered",
    "retaliation_reported",
)
# Dimensions in their canonical order; a table (A, B) is stored with A before B in this order.
DIMENSIONS = ("category", "grounds", "route", "organisation", "outcome", "disclosure", "quarter")
QUARTERS = ("Q1", "Q2", "Q3", "Q4")
# The version of the protection below; snapshots made by another version are not used.
ALGORITHM = 1
_PLAIN = tuple(d for d in DIMENSIONS if d != "grounds")
_COLUMNS = {
    "category": StatEvent.category,
    "route": StatEvent.route,
    "organisation": StatEvent.organisation_id,
    "outcome": StatEvent.outcome,
    "disclosure": StatEvent.disclosure,
    "quarter": StatEvent.quarter,
}

CellId = tuple[str, ...]


class UnknownQuery(ValueError):
    """A kind, dimension or year that the statistics do not have."""


@dataclass(frozen=True)
class Table:
    """One protected table for one kind and one calendar year. ``None`` means suppressed."""

    kind: str
    year: int
    k: int
    rows: str
    columns: str | None
    row_keys: tuple[str, ...]
    column_keys: tuple[str, ...]
    cells: Mapping[tuple[str, str], int | None]
    row_totals: Mapping[str, int | None]
    column_totals: Mapping[str, int | None]
    total: int | None

    def cell(self, row: str, column: str = "") -> int | None:
        return self.cells.get((row, column), 0)

    @property
    def counts_mentions(self) -> bool:
        """Grounds tables count mentions: one report may name several grounds."""
        return "grounds" in (self.rows, self.columns)


@dataclass(frozen=True)
class Share:
    met: int | None
    total: int | None
    share: float | None


def protected_table(
    session: Session,
    *,
    kind: str,
    year: int,
    rows: str,
    columns: str | None = None,
    k: int,
) -> Table:
    """The table of ``kind`` in ``year`` by ``rows`` (and ``columns``), protected with the
    whole set of tables of that kind and year."""
    if kind not in KINDS:
        raise UnknownQuery(f"unknown kind {kind!r}")
    for dimension in (rows, columns):
        if dimension is not None and dimension not in DIMENSIONS:
            raise UnknownQuery(f"unknown dimension {dimension!r}")
    if rows == columns:
        raise UnknownQuery("rows and columns must be different dimensions")
    system = _system(session, kind, year, k)
    return system.table(rows, columns)


def available_years(session: Session) -> list[int]:
    quarters = session.scalars(sa.select(StatEvent.quarter).distinct())
    return sorted({int(q[:4]) for q in quarters}, reverse=True)


def median_days(
    session: Session, *, kind: str, year: int, by: str | None, k: int
) -> dict[str, int | None]:
    """The median of ``days_taken`` per key of ``by`` ("" for all); none below k cases."""
    if kind not in KINDS:
        raise UnknownQuery(f"unknown kind {kind!r}")
    if by is not None and by not in _COLUMNS:
        raise UnknownQuery(f"cannot take medians by {by!r}")
    return _cached(
        session, year, ("median", kind, by, k), lambda: _median_days(session, kind, year, by, k)
    )


def _median_days(
    session: Session, kind: str, year: int, by: str | None, k: int
) -> dict[str, int | None]:
    column: Any = _COLUMNS[by] if by else sa.literal("")
    days: dict[str, list[int]] = defaultdict(list)
    for key, value in session.execute(
        sa.select(column, StatEvent.days_taken).where(
            StatEvent.kind == kind,
            StatEvent.quarter.in_(_quarters(year)),
            StatEvent.days_taken.is_not(None),
        )
    ):
        days[_key(by or "", key)].append(int(value))
    return {
        key: int(statistics.median_low(values)) if len(values) >= k else None
        for key, values in sorted(days.items())
    }


def deadline_shares(session: Session, *, year: int, by: str = "route", k: int) -> dict[str, Share]:
    """The share of deadlines met per key of ``by``; none below k deadlines. The number met is
    shown only when neither it nor the number missed is a small count."""
    if by not in _COLUMNS:
        raise UnknownQuery(f"cannot count deadlines by {by!r}")
    return _cached(
        session, year, ("deadlines", by, k), lambda: _deadline_shares(session, year, by, k)
    )


def _deadline_shares(session: Session, year: int, by: str, k: int) -> dict[str, Share]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for key, was_met, number in session.execute(
        sa.select(_COLUMNS[by], StatEvent.deadline_met, sa.func.count())
        .where(StatEvent.quarter.in_(_quarters(year)), StatEvent.deadline_met.is_not(None))
        .group_by(_COLUMNS[by], StatEvent.deadline_met)
    ):
        counts[_key(by, key)][0 if was_met else 1] += int(number)
    shares = {}
    for key, (met, missed) in sorted(counts.items()):
        total = met + missed
        if total < k:
            shares[key] = Share(None, None, None)
            continue
        show_met = all(n == 0 or n >= k for n in (met, missed))
        shares[key] = Share(met if show_met else None, total, met / total)
    return shares


# The protected set ----------------------------------------------------------------------------

_cache_lock = threading.Lock()
_T = TypeVar("_T")


def _system(session: Session, kind: str, year: int, k: int) -> _System:
    def compute() -> _System:
        settled = year < local_date(now()).year
        if settled:
            stored = _load_snapshot(session, kind, year, k)
            if stored is not None:
                return stored
        system = _System(kind, year, k, _records(session, kind, _quarters(year)))
        if settled:
            _store_snapshot(session, system)
        return system

    return _cached(session, year, ("system", kind, k), compute)


def _load_snapshot(session: Session, kind: str, year: int, k: int) -> _System | None:
    payload = session.scalar(
        sa.select(StatSnapshot.payload).where(
            StatSnapshot.kind == kind,
            StatSnapshot.year == year,
            StatSnapshot.k == k,
            StatSnapshot.algorithm == ALGORITHM,
        )
    )
    return None if payload is None else _System.from_snapshot(kind, year, k, payload)


def _store_snapshot(session: Session, system: _System) -> None:
    """Keep a settled year's protected set. Another worker storing the same one at the same
    moment is fine: the unique constraint keeps one, and this one is let go."""
    try:
        with session.begin_nested():
            session.add(
                StatSnapshot(
                    kind=system.kind,
                    year=system.year,
                    k=system.k,
                    algorithm=ALGORITHM,
                    payload=system.snapshot(),
                    created_at=now(),
                )
            )
    except IntegrityError:
        pass


def _cached(session: Session, year: int, key: tuple[Any, ...], compute: Callable[[], _T]) -> _T:
    """``compute()``, kept per worker while the year's events are as they were."""
    cache: dict[Any, Any] = current_app.extensions.setdefault("complaints.stats_cache", {})
    version = _version(session, cache, year)
    with _cache_lock:
        entry = cache.get((year, key))
    if entry is not None and entry[0] == version:
        value: _T = entry[1]
        return value
    value = compute()
    with _cache_lock:
        cache[(year, key)] = (version, value)
    return value


def _version(session: Session, cache: dict[Any, Any], year: int) -> Any:
    """What tells the state of a year's stat events.

    An event is counted in the quarter in which it happens and never changed or removed, so a
    year that is over is settled, and in the current year only the current quarter grows: its
    name and its number of events say it all. That number is asked at most every
    ``stats_cache_seconds``; in between, figures may lag new events by that long."""
    moment = now()
    if year < local_date(moment).year:
        return "settled"
    with _cache_lock:
        entry = cache.get(("version", year))
    tick = time.monotonic()
    if entry is not None and tick - entry[1] < current_settings().stats_cache_seconds:
        return entry[0]
    quarter = quarter_of(moment)
    quarters = [quarter] if quarter.startswith(f"{year}-") else _quarters(year)
    events = session.scalar(
        sa.select(sa.func.count()).select_from(StatEvent).where(StatEvent.quarter.in_(quarters))
    )
    version = (quarter, events)
    with _cache_lock:
        cache[("version", year)] = (version, tick)
    return version


def _quarters(year: int) -> list[str]:
    return [f"{year}-{q}" for q in QUARTERS]


def _key(dimension: str, value: Any) -> str:
    if value is None:
        return ""
    if dimension == "quarter":
        return str(value)[5:]
    return str(value)


@dataclass(frozen=True)
class _Record:
    keys: dict[str, str]  # plain dimension -> key
    grounds: tuple[str, ...]
    count: int


def _records(session: Session, kind: str, quarters: list[str]) -> list[_Record]:
    grounds_text = sa.cast(StatEvent.grounds, sa.String)
    columns = [_COLUMNS[d] for d in _PLAIN]
    if session.get_bind().dialect.name == "postgresql":
        # A year's events of one kind sort in memory (~100,000 rows: 5x faster than on disk).
        session.execute(sa.text("SET LOCAL work_mem = '64MB'"))
    rows = session.execute(
        sa.select(*columns, grounds_text, sa.func.count())
        .where(StatEvent.kind == kind, StatEvent.quarter.in_(quarters))
        .group_by(*columns, grounds_text)
    )
    records = []
    for row in rows:
        *values, grounds_raw, count = row
        keys = {d: _key(d, v) for d, v in zip(_PLAIN, values, strict=True)}
        records.append(_Record(keys, _grounds(grounds_raw), int(count)))
    return records


def _grounds(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    value = json.loads(raw)
    return tuple(sorted(set(value))) if isinstance(value, list) else ()


class _System:
    """All tables of one kind and year, protected together."""

    def __init__(self, kind: str, year: int, k: int, records: list[_Record]) -> None:
        self.kind, self.year, self.k = kind, year, k
        self.values: dict[CellId, int] = defaultdict(int)
        self.keys: dict[str, set[str]] = defaultdict(set)
        self.pairs = list(combinations(DIMENSIONS, 2))
        self._add_all(records)
        self.keys["quarter"].update(QUARTERS)
        self.suppressed = _protect(self.values, self._lines(), self._tables(), k)

    @classmethod
    def from_snapshot(cls, kind: str, year: int, k: int, payload: dict[str, Any]) -> _System:
        system = cls.__new__(cls)
        system.kind, system.year, system.k = kind, year, k
        system.pairs = list(combinations(DIMENSIONS, 2))
        system.values = defaultdict(int, {tuple(cell): value for cell, value in payload["values"]})
        system.keys = defaultdict(set, {d: set(keys) for d, keys in payload["keys"].items()})
        system.suppressed = {tuple(cell) for cell in payload["suppressed"]}
        return system

    def snapshot(self) -> dict[str, Any]:
        return {
            "values": [[list(cell), value] for cell, value in self.values.items()],
            "keys": {d: sorted(keys) for d, keys in self.keys.items()},
            "suppressed": sorted(list(cell) for cell in self.suppressed),
        }

    # Counting ---------------------------------------------------------------------------------

    def _add_all(self, records: list[_Record]) -> None:
        values, seen = self.values, self.keys
        plain_pairs = [(a, b) for a, b in self.pairs if "grounds" not in (a, b)]
        # Each (grounds, d) table is stored in the canonical order of its two dimensions.
        grounds_first = {d: DIMENSIONS.index("grounds") < DIMENSIONS.index(d) for d in _PLAIN}
        for record in records:
            keys, count = record.keys, record.count
            values[("t",)] += count
            for dimension, key in keys.items():
                seen[dimension].add(key)
                values[("m", dimension, key)] += count
            for a, b in plain_pairs:
                values[("c", a, b, keys[a], keys[b])] += count
            # Grounds: mentions, with margins of their own ("gm", "gt").
            for ground in record.grounds:
                seen["grounds"].add(ground)
                values[("gt",)] += count
                values[("gm", "grounds", ground)] += count
                for dimension, key in keys.items():
                    values[("gm", dimension, key)] += count
                    if grounds_first[dimension]:
                        values[("c", "grounds", dimension, ground, key)] += count
                    else:
                        values[("c", dimension, "grounds", key, ground)] += count

    def _margin(self, dimension: str, key: str, mentions: bool) -> CellId:
        return ("gm" if mentions else "m", dimension, key)

    def _total(self, mentions: bool) -> CellId:
        return ("gt",) if mentions else ("t",)

    def _tables(self) -> list[_Grid]:
        grids = []
        for a, b in self.pairs:
            mentions = "grounds" in (a, b)
            grids.append(
                _Grid(
                    rows=sorted(self.keys[a]),
                    columns=sorted(self.keys[b]),
                    cell=lambda r, c, a=a, b=b: ("c", a, b, r, c),
                    row_margin=lambda r, a=a, m=mentions: self._margin(a, r, m),
                    column_margin=lambda c, b=b, m=mentions: self._margin(b, c, m),
                    total=self._total(mentions),
                )
            )
        return grids

    def _lines(self) -> list[list[CellId]]:
        lines: list[list[CellId]] = []
        for grid in self._tables():
            for r in grid.rows:
                lines.append([grid.row_margin(r), *(grid.cell(r, c) for c in grid.columns)])
            for c in grid.columns:
                lines.append([grid.column_margin(c), *(grid.cell(r, c) for r in grid.rows)])
        for mentions in (False, True):
            for dimension in DIMENSIONS if mentions else _PLAIN:
                lines.append(
                    [
                        self._total(mentions),
                        *(self._margin(dimension, key, mentions) for key in self.keys[dimension]),
                    ]
                )
        return lines

    # Reading ----------------------------------------------------------------------------------

    def shown(self, cell: CellId) -> int | None:
        return None if cell in self.suppressed else self.values.get(cell, 0)

    def table(self, rows: str, columns: str | None) -> Table:
        if columns is None:
            mentions = rows == "grounds"
            row_keys = tuple(sorted(self.keys[rows]))
            margins = {r: self.shown(self._margin(rows, r, mentions)) for r in row_keys}
            return Table(
                kind=self.kind,
                year=self.year,
                k=self.k,
                rows=rows,
                columns=None,
                row_keys=row_keys,
                column_keys=(),
                cells={(r, ""): v for r, v in margins.items()},
                row_totals=margins,
                column_totals={},
                total=self.shown(self._total(mentions)),
            )
        mentions = "grounds" in (rows, columns)
        a, b = sorted((rows, columns), key=DIMENSIONS.index)
        row_keys = tuple(sorted(self.keys[rows]))
        column_keys = tuple(sorted(self.keys[columns]))
        cells = {}
        for r in row_keys:
            for c in column_keys:
                pair = (r, c) if a == rows else (c, r)
                cells[(r, c)] = self.shown(("c", a, b, *pair))
        return Table(
            kind=self.kind,
            year=self.year,
            k=self.k,
            rows=rows,
            columns=columns,
            row_keys=row_keys,
            column_keys=column_keys,
            cells=cells,
            row_totals={r: self.shown(self._margin(rows, r, mentions)) for r in row_keys},
            column_totals={c: self.shown(self._margin(columns, c, mentions)) for c in column_keys},
            total=self.shown(self._total(mentions)),
        )


# Suppression ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Grid:
    """A two-way table with its margins, as cell ids: the unit of the bridge rule."""

    rows: list[str]
    columns: list[str]
    cell: Any
    row_margin: Any
    column_margin: Any
    total: CellId


def _protect(
    values: Mapping[CellId, int], lines: list[list[CellId]], grids: list[_Grid], k: int
) -> set[CellId]:
    """Primary suppression, then complementary suppression until no suppressed cell can be
    worked out: first the quick rules (lines, bridges), then the exact check."""
    suppressed = {cell for cell, value in values.items() if 0 < value < k}
    lines_of: dict[CellId, list[list[CellId]]] = defaultdict(list)
    for line in lines:
        for cell in line:
            lines_of[cell].append(line)
    while True:
        _quick_rules(values, lines, grids, suppressed)
        determined = _determined(values, lines, suppressed)
        if not determined:
            return suppressed
        added = False
        for cell in determined:
            extra = _nearest_candidate(cell, lines_of, values, suppressed)
            if extra is not None:
                suppressed.add(extra)
                added = True
        if not added:  # nothing left to hide anywhere near them: hide everything
            suppressed.update(cell for cell, value in values.items() if value > 0)
            return suppressed


def _nearest_candidate(
    cell: CellId,
    lines_of: Mapping[CellId, list[list[CellId]]],
    values: Mapping[CellId, int],
    suppressed: set[CellId],
) -> CellId | None:
    """The smallest cell to hide next to a cell that can still be worked out: in its own lines
    if any can be hidden there, else in the lines of the suppressed cells it is linked to,
    nearest first (its value follows from theirs, so one more unknown among them frees it)."""
    seen = {cell}
    frontier = [cell]
    while frontier:
        lines = [line for current in frontier for line in lines_of[current]]
        extra = _smallest((c for line in lines for c in line), values, suppressed)
        if extra is not None:
            return extra
        following = []
        for line in lines:
            for other in line:
                if other in suppressed and other not in seen:
                    seen.add(other)
                    following.append(other)
        frontier = following
    return None


def _quick_rules(
    values: Mapping[CellId, int],
    lines: list[list[CellId]],
    grids: list[_Grid],
    suppressed: set[CellId],
) -> None:
    changed = True
    while changed:
        changed = False
        for line in lines:
            extra = _line_needs(line, values, suppressed)
            if extra is not None:
                suppressed.add(extra)
                changed = True
        for grid in grids:
            for extra in _bridge_fixes(grid, values, suppressed):
                suppressed.add(extra)
                changed = True


def _determined(
    values: Mapping[CellId, int], lines: list[list[CellId]], suppressed: set[CellId]
) -> list[CellId]:
    """The suppressed cells whose value follows from what is shown, for an adversary who sees
    every table and knows that a suppressed count is at least 1 (zeros are shown).

    The equations are the lines (a margin is the sum of its cells). A cell is fixed when it is
    fixed in the affine hull of the solutions: by the equations together with the cells that
    can only be 1 (found with one LP for a point where as many cells as possible exceed 1,
    then one LP per cell left at 1)."""
    hidden = sorted(suppressed)
    if not hidden:
        return []
    index = {cell: i for i, cell in enumerate(hidden)}
    n = len(hidden)
    rows, rhs = [], []
    for line in lines:
        coefficients = np.zeros(n)
        known = 0.0
        for position, cell in enumerate(line):
            sign = 1.0 if position == 0 else -1.0
            if cell in index:
                coefficients[index[cell]] += sign
            else:
                known += sign * values.get(cell, 0)
        if coefficients.any():
            rows.append(coefficients)
            rhs.append(-known)
    equations = np.array(rows) if rows else np.zeros((0, n))
    targets = np.array(rhs)
    # Variables x (the cells) and s (how far above 1 each may go, capped at 1): maximise sum s.
    interior = linprog(
        np.concatenate([np.zeros(n), -np.ones(n)]),
        A_ub=np.hstack([-np.eye(n), np.eye(n)]),
        b_ub=-np.ones(n),
        A_eq=np.hstack([equations, np.zeros_like(equations)]) if rows else None,
        b_eq=targets if rows else None,
        bounds=[(1, None)] * n + [(0, 1)] * n,
        method="highs",
    )
    if interior.status != 0:  # the true counts are a solution: this cannot happen
        raise RuntimeError("statistics protection: the published system has no solution")
    at_one = [i for i in range(n) if interior.x[n + i] < 1e-7]
    fixed_rows = []
    for i in at_one:
        objective = np.zeros(n)
        objective[i] = -1.0
        highest = linprog(
            objective,
            A_eq=equations if rows else None,
            b_eq=targets if rows else None,
            bounds=[(1, None)] * n,
            method="highs",
        )
        if highest.status == 0 and -highest.fun < 1 + 1e-7:
            unit = np.zeros(n)
            unit[i] = 1.0
            fixed_rows.append(unit)
    system = np.vstack([equations, *fixed_rows]) if fixed_rows else equations
    free = null_space(system) if system.size else np.eye(n)
    return [cell for cell, i in index.items() if not np.any(np.abs(free[i]) > 1e-9)]


def _line_needs(
    line: list[CellId], values: Mapping[CellId, int], suppressed: set[CellId]
) -> CellId | None:
    """The cell to suppress next in this line, if it is not safe yet: a lone suppressed cell,
    or suppressed cells that can only all be 1 (suppressed means at least 1: zero is shown)."""
    hidden = [cell for cell in line if cell in suppressed]
    if not hidden:
        return None
    if len(hidden) > 1 and sum(values.get(c, 0) for c in hidden) > len(hidden):
        return None
    return _smallest(line, values, suppressed)


def _smallest(
    candidates: Iterable[CellId], values: Mapping[CellId, int], suppressed: set[CellId]
) -> CellId | None:
    best = [
        (values.get(c, 0), c) for c in candidates if c not in suppressed and values.get(c, 0) > 0
    ]
    return min(best)[1] if best else None


def _bridge_fixes(
    grid: _Grid, values: Mapping[CellId, int], suppressed: set[CellId]
) -> list[CellId]:
    """For each suppressed cell of the grid that is a bridge among the suppressed cells, one
    more cell in its row to suppress (the next pass checks again)."""
    rows = [("r", r) for r in grid.rows] + [("r", None)]
    columns = [("c", c) for c in grid.columns] + [("c", None)]

    def cell_of(row: Any, column: Any) -> CellId:
        if row[1] is None and column[1] is None:
            return grid.total
        if row[1] is None:
            return grid.column_margin(column[1])  # type: ignore[no-any-return]
        if column[1] is None:
            return grid.row_margin(row[1])  # type: ignore[no-any-return]
        return grid.cell(row[1], column[1])  # type: ignore[no-any-return]

    edges = [
        (row, column, cell_of(row, column))
        for row in rows
        for column in columns
        if cell_of(row, column) in suppressed
    ]
    if not edges:
        return []
    fixes = []
    for row, column, _cell in _bridges(edges):
        line = [cell_of(row, other) for other in columns if other != column]
        extra = _smallest(line, values, suppressed) or _smallest(
            [cell_of(other, column) for other in rows if other != row], values, suppressed
        )
        if extra is not None and extra not in fixes:
            fixes.append(extra)
    return fixes


def _bridges(edges: list[tuple[Any, Any, CellId]]) -> list[tuple[Any, Any, CellId]]:
    """The edges whose removal disconnects their two ends (Tarjan, iteratively)."""
    adjacency: dict[Any, list[tuple[Any, int]]] = defaultdict(list)
    for index, (u, v, _cell) in enumerate(edges):
        adjacency[u].append((v, index))
        adjacency[v].append((u, index))
    order: dict[Any, int] = {}
    low: dict[Any, int] = {}
    found = []
    counter = 0
    for root in list(adjacency):
        if root in order:
            continue
        order[root] = low[root] = counter
        counter += 1
        stack = [(root, -1, iter(adjacency[root]))]
        while stack:
            node, via, neighbours = stack[-1]
            advanced = False
            for neighbour, index in neighbours:
                if index == via:
                    continue
                if neighbour in order:
                    low[node] = min(low[node], order[neighbour])
                    continue
                order[neighbour] = low[neighbour] = counter
                counter += 1
                stack.append((neighbour, index, iter(adjacency[neighbour])))
                advanced = True
                break
            if advanced:
                continue
            stack.pop()
            if stack:
                parent = stack[-1][0]
                low[parent] = min(low[parent], low[node])
                if low[node] > order[parent]:
                    found.append(edges[via])
    return found
