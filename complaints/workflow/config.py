"""The workflow policy: per route its states, final states and deadlines."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import current_app

from complaints.cases.models import Route
from complaints.configfiles import Section, read_toml
from complaints.web.i18n import Localized


@dataclass(frozen=True)
class Period:
    days: int = 0
    weeks: int = 0
    months: int = 0


@dataclass(frozen=True)
class StateSpec:
    key: str
    label: Localized
    public: Localized


@dataclass(frozen=True)
class DeadlineSpec:
    name: str
    label: Localized
    starts: str
    met_by: frozenset[str]
    period: Period


@dataclass(frozen=True)
class RouteWorkflow:
    route: Route
    label: Localized
    initial: str
    final: frozenset[str]
    states: dict[str, StateSpec]
    deadlines: tuple[DeadlineSpec, ...]

    def state(self, key: str) -> StateSpec:
        return self.states[key]

    def is_open(self, state: str) -> bool:
        return state not in self.final


@dataclass(frozen=True)
class Workflow:
    routes: dict[Route, RouteWorkflow]

    def __getitem__(self, route: Route) -> RouteWorkflow:
        return self.routes[route]

    def open_states(self) -> dict[Route, set[str]]:
        return {r: set(w.states) - w.final for r, w in self.routes.items()}


def load_workflow(path: Path) -> Workflow:
    """Read and check the workflow; raises ConfigurationError naming the first problem."""
    root = Section(path, "", read_toml(path))
    root.allow({"routes"})
    routes_section = root.child("routes")
    routes: dict[Route, RouteWorkflow] = {}
    for name in routes_section.table:
        section = routes_section.child(name)
        try:
            route = Route(name)
        except ValueError:
            section.fail("unknown route")
        routes[route] = _route(route, section)
    missing = sorted(r.value for r in Route if r not in routes)
    if missing:
        routes_section.fail(f"missing route(s) {', '.join(missing)}")
    return Workflow(routes)


def _route(route: Route, section: Section) -> RouteWorkflow:
    section.allow({"nl", "en", "initial", "final", "states", "deadlines"})
    states_section = section.child("states")
    states = {}
    for key in states_section.table:
        state = states_section.child(key)
        state.allow({"nl", "en", "public_nl", "public_en"})
        states[key] = StateSpec(key, state.localized(), state.localized("public_"))
    if not states:
        section.fail("has no states")
    initial = section.text("initial")
    if initial not in states:
        section.fail(f"initial state {initial!r} is not one of its states")
    final = frozenset(section.strings("final"))
    if not final or not final <= set(states):
        section.fail("final must list some of its states")
    if initial in final:
        section.fail("the initial state cannot be final")
    deadlines = []
    raw = section.table.get("deadlines", [])
    if not isinstance(raw, list):
        section.fail("deadlines must be a list of tables")
    seen = set()
    for index, table in enumerate(raw):
        item = Section(section.path, f"{section.where}.deadlines[{index}]", table)
        item.allow({"name", "nl", "en", "starts", "met_by", "days", "weeks", "months"})
        name = item.text("name")
        if name in seen:
            item.fail(f"deadline {name!r} appears twice")
        seen.add(name)
        starts = item.text("starts")
        met_by = frozenset(item.strings("met_by"))
        unknown = sorted(({starts} | met_by) - set(states))
        if unknown:
            item.fail(f"unknown state(s) {', '.join(unknown)}")
        if not met_by:
            item.fail("met_by must name at least one state")
        if starts in final:
            item.fail(f"starts in the final state {starts!r}, so it could never be met")
        if starts in met_by:
            item.fail(f"{starts!r} both starts and meets it")
        amounts = {k: item.positive_int(k) for k in ("days", "weeks", "months")}
        given = {k: v for k, v in amounts.items() if v is not None}
        if len(given) != 1:
            item.fail("give exactly one of days, weeks or months (a positive number)")
        deadlines.append(DeadlineSpec(name, item.localized(), starts, met_by, Period(**given)))
    return RouteWorkflow(
        route=route,
        label=section.localized(),
        initial=initial,
        final=final,
        states=states,
        deadlines=tuple(deadlines),
    )


def workflow() -> Workflow:
    loaded: Workflow = current_app.extensions["complaints.workflow"]
    return loaded
