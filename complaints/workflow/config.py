"""The workflow policy: per route its states, final states, outcomes, deadlines and transitions.

``config/workflow.toml`` documents the file's shape in its header. Everything is checked when
the application starts; a mistake raises ConfigurationError naming the file and the place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from flask import current_app

from complaints.cases.models import ConsentKind, Disclosure, GrantRole, Route
from complaints.configfiles import Section, parsed_once, read_toml
from complaints.web.i18n import Localized

# The state every route must have: the complainant's own withdrawal (followup.withdraw_case).
WITHDRAWN = "withdrawn"
FIELD_KINDS = frozenset({"text", "outcome", "date", "boolean"})
STAT_KINDS = frozenset({"acknowledged", "not_admissible", "decided", "closed"})
# Case event kinds written elsewhere; a transition (whose name is its event kind) may not reuse.
# Case events written outside the workflow: a transition may not take their names.
RESERVED_NAMES = frozenset(
    {
        "submitted",
        "withdrawn",
        "withdraw",
        "referred",
        "filed_by_proxy",
        "handed_over",
        "member_assigned",
        "member_excluded",
        "checkin_sent",
        "checkin_answered",
        "reopened",
        "retaliation_reported",
    }
)
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_PERIOD_KEYS = ("days", "weeks", "months")
# Check-ins come after closing, while the case is kept: never later than this after closing.
MAX_CHECKIN_MONTHS = 24


class Retaliation(StrEnum):
    """What a report of retaliation in answer to a check-in does (``retaliation``)."""

    REOPEN = "reopen"  # the closed case opens again, in the route's initial state
    LINKED = "linked"  # a new case on the same route, linked to the closed one


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
    # Met only when, besides entering a met_by state, a handler's message has reached the
    # complainant's mailbox since the deadline started ("the complainant was told").
    met_by_message: bool = False


@dataclass(frozen=True)
class FieldSpec:
    """Something the handler fills in when taking a transition."""

    name: str  # e.g. "outcome", "reasons", "departure_reason"
    kind: str  # "text" | "outcome" | "date" | "boolean"
    label: Localized
    required: bool
    # Required only when this boolean field of the same transition is ticked.
    required_if: str | None = None
    # Kind "outcome": the route's outcomes that may be chosen.
    choices: tuple[str, ...] = ()
    # Kind "text": the text is also sent to the complainant's mailbox as the handler's message.
    to_complainant: bool = False


@dataclass(frozen=True)
class DeadlineEffects:
    """What a transition does to running deadlines (by deadline name)."""

    pause: frozenset[str] = frozenset()
    resume: frozenset[str] = frozenset()
    postpone: Mapping[str, Period] = field(default_factory=dict)
    extend: Mapping[str, Period] = field(default_factory=dict)
    # Only while each extended deadline has been extended fewer times than this ...
    max_extensions: int | None = None
    # ... and only once it has been extended at least this many times.
    after_extensions: int = 0

    @property
    def names(self) -> frozenset[str]:
        return self.pause | self.resume | set(self.postpone) | set(self.extend)

    def __bool__(self) -> bool:
        return bool(self.names)


@dataclass(frozen=True)
class TransitionSpec:
    name: str  # e.g. "acknowledge", "decide", "extend_decision"
    label: Localized  # the button text for handlers
    from_states: frozenset[str]
    to: str | None  # None: the state stays (an action such as an extension)
    roles: frozenset[GrantRole]  # grant roles allowed to take it
    fields: tuple[FieldSpec, ...]
    requires_consent: ConsentKind | None  # a live complainant consent needed
    outcome: str | None = None  # the case outcome this transition sets
    stat: str | None = None  # the stat event kind it counts as
    effects: DeadlineEffects = field(default_factory=DeadlineEffects)

    def field_spec(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def tells_complainant(self) -> bool:
        """Whether a required field of this step goes to the complainant's mailbox."""
        return any(f.to_complainant and f.required for f in self.fields)


@dataclass(frozen=True)
class AccusedCopy:
    """The person complained about receives a copy of the complaint (Awb 9:9)."""

    state: str  # sent when the case enters this state
    with_name: frozenset[Disclosure]  # the disclosure levels whose name the copy carries


@dataclass(frozen=True)
class RouteWorkflow:
    route: Route
    label: Localized
    initial: str
    final: frozenset[str]
    states: dict[str, StateSpec]
    deadlines: tuple[DeadlineSpec, ...]
    transitions: tuple[TransitionSpec, ...] = ()
    outcomes: dict[str, Localized] = field(default_factory=dict)
    copy_to_accused: AccusedCopy | None = None
    # Months after closing at which the handler is reminded to send a check-in (none: empty).
    checkin_months: tuple[int, ...] = ()
    retaliation: Retaliation = Retaliation.REOPEN

    def state(self, key: str) -> StateSpec:
        return self.states[key]

    def transition(self, name: str) -> TransitionSpec | None:
        return next((t for t in self.transitions if t.name == name), None)

    def deadline(self, name: str) -> DeadlineSpec | None:
        return next((d for d in self.deadlines if d.name == name), None)

    def is_open(self, state: str) -> bool:
        return state not in self.final


@dataclass(frozen=True)
class Workflow:
    routes: dict[Route, RouteWorkflow]

    def __getitem__(self, route: Route) -> RouteWorkflow:
        return self.routes[route]

    def open_states(self) -> dict[Route, set[str]]:
        return {r: set(w.states) - w.final for r, w in self.routes.items()}


@parsed_once
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
    section.allow(
        {
            "nl",
            "en",
            "initial",
            "final",
            "states",
            "outcomes",
            "deadlines",
            "transitions",
            "copy_to_accused",
            "checkin_months",
            "retaliation",
        }
    )
    states = _states(section)
    initial = section.text("initial")
    if initial not in states:
        section.fail(f"initial state {initial!r} is not one of its states")
    final = frozenset(section.strings("final"))
    if not final or not final <= set(states):
        section.fail("final must list some of its states")
    if initial in final:
        section.fail("the initial state cannot be final")
    if WITHDRAWN not in final:
        section.fail(f"final must include {WITHDRAWN!r} (the complainant's withdrawal)")
    deadlines = _deadlines(section, states, final)
    outcomes = _outcomes(section)
    places = _Places(section, states, final, {d.name for d in deadlines}, outcomes)
    transitions = _transitions(section, places)
    _check_paths(section, initial, final, states, transitions)
    _check_told(section, deadlines, transitions)
    return RouteWorkflow(
        route=route,
        label=section.localized(),
        initial=initial,
        final=final,
        states=states,
        deadlines=deadlines,
        transitions=transitions,
        outcomes=outcomes,
        copy_to_accused=_accused_copy(section, initial, final, transitions),
        checkin_months=_checkin_months(section),
        retaliation=_retaliation(section),
    )


def _accused_copy(
    section: Section, initial: str, final: frozenset[str], transitions: tuple[TransitionSpec, ...]
) -> AccusedCopy | None:
    if "copy_to_accused" not in section.table:
        return None
    item = section.child("copy_to_accused")
    item.allow({"state", "with_name"})
    state = item.text("state")
    if state == initial or state in final or all(t.to != state for t in transitions):
        item.fail(f"state {state!r} must be an open state that a transition leads to")
    named = {Disclosure.NAMED.value, Disclosure.CONFIDENTIAL.value}
    with_name = item.strings("with_name", default=[])
    unknown = sorted(set(with_name) - named)
    if unknown:
        item.fail(
            f"with_name: only named and confidential reports carry a name ({', '.join(unknown)})"
        )
    return AccusedCopy(state, frozenset(Disclosure(d) for d in with_name))


def _checkin_months(section: Section) -> tuple[int, ...]:
    """``checkin_months``: rising whole months after closing, each at most 24; absent or empty
    means no check-ins on the route."""
    raw = section.table.get("checkin_months", [])
    if not isinstance(raw, list) or not all(
        isinstance(m, int) and not isinstance(m, bool) for m in raw
    ):
        section.fail("checkin_months must be a list of whole numbers of months")
    months = tuple(int(m) for m in raw)
    if any(not 1 <= m <= MAX_CHECKIN_MONTHS for m in months):
        section.fail(f"checkin_months must lie between 1 and {MAX_CHECKIN_MONTHS} months")
    if list(months) != sorted(set(months)):
        section.fail("checkin_months must rise, each month once (e.g. [1, 3, 6])")
    return months


def _retaliation(section: Section) -> Retaliation:
    """``retaliation``: "reopen" (the default) or "linked"."""
    if "retaliation" not in section.table:
        return Retaliation.REOPEN
    value = section.text("retaliation")
    try:
        return Retaliation(value)
    except ValueError:
        known = ", ".join(r.value for r in Retaliation)
        section.fail(f"retaliation {value!r} is not one of {known}")


def _states(section: Section) -> dict[str, StateSpec]:
    states_section = section.child("states")
    states = {}
    for key in states_section.table:
        state = states_section.child(key)
        state.allow({"nl", "en", "public_nl", "public_en"})
        states[key] = StateSpec(key, state.localized(), state.localized("public_"))
    if not states:
        section.fail("has no states")
    return states


def _items(section: Section, key: str) -> list[Section]:
    """The tables of an array of tables ``key`` (none when it is absent)."""
    raw = section.table.get(key, [])
    if not isinstance(raw, list):
        section.fail(f"{key} must be a list of tables")
    return [Section(section.path, f"{section.where}.{key}[{i}]", t) for i, t in enumerate(raw)]


def _period(item: Section) -> Period:
    amounts = {k: item.positive_int(k) for k in _PERIOD_KEYS}
    given = {k: v for k, v in amounts.items() if v is not None}
    if len(given) != 1:
        item.fail("give exactly one of days, weeks or months (a positive number)")
    return Period(**given)


def _deadlines(
    section: Section, states: Mapping[str, StateSpec], final: frozenset[str]
) -> tuple[DeadlineSpec, ...]:
    deadlines = []
    seen = set()
    for item in _items(section, "deadlines"):
        item.allow({"name", "nl", "en", "starts", "met_by", "met_by_message", *_PERIOD_KEYS})
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
        deadlines.append(
            DeadlineSpec(
                name,
                item.localized(),
                starts,
                met_by,
                _period(item),
                met_by_message=item.flag("met_by_message", False),
            )
        )
    return tuple(deadlines)


def _outcomes(section: Section) -> dict[str, Localized]:
    if "outcomes" not in section.table:
        return {}
    outcomes_section = section.child("outcomes")
    outcomes = {}
    for key in outcomes_section.table:
        outcome = outcomes_section.child(key)
        outcome.allow({"nl", "en"})
        if not _NAME.match(key):
            outcome.fail("an outcome is named with lower-case letters, digits and _")
        outcomes[key] = outcome.localized()
    return outcomes


@dataclass(frozen=True)
class _Places:
    """What a transition of one route may refer to."""

    route: Section
    states: Mapping[str, StateSpec]
    final: frozenset[str]
    deadlines: set[str]
    outcomes: Mapping[str, Localized]


_TRANSITION_KEYS = {
    "name",
    "nl",
    "en",
    "from",
    "to",
    "roles",
    "fields",
    "requires_consent",
    "outcome",
    "stat",
    "pause",
    "resume",
    "postpone",
    "extend",
    "max_extensions",
    "after_extensions",
}


def _transitions(section: Section, places: _Places) -> tuple[TransitionSpec, ...]:
    transitions = []
    seen = set()
    for item in _items(section, "transitions"):
        spec = _transition(item, places)
        if spec.name in seen:
            item.fail(f"transition {spec.name!r} appears twice")
        seen.add(spec.name)
        transitions.append(spec)
    return tuple(transitions)


def _transition(item: Section, places: _Places) -> TransitionSpec:
    item.allow(_TRANSITION_KEYS)
    name = _identifier(item, "name")
    if name in RESERVED_NAMES:
        item.fail(f"{name!r} is reserved for another kind of case event")
    from_states = frozenset(item.strings("from"))
    to = item.text("to") if "to" in item.table else None
    unknown = sorted((from_states | ({to} if to else set())) - set(places.states))
    if unknown:
        item.fail(f"unknown state(s) {', '.join(unknown)}")
    if not from_states:
        item.fail("from must name at least one state")
    leaving_final = sorted(from_states & places.final)
    if leaving_final:
        item.fail(f"a final state has no way out: {', '.join(leaving_final)}")
    if to == WITHDRAWN:
        item.fail("withdrawing is the complainant's own act, not a transition")
    if to is not None and to in from_states:
        item.fail(f"leads from {to!r} to itself; leave out `to` for an action that keeps the state")
    fields = _fields(item, places)
    effects = _effects(item, places)
    outcome = _optional_choice(item, "outcome", set(places.outcomes), "outcome of the route")
    if outcome is not None and any(f.kind == "outcome" for f in fields):
        item.fail("sets an outcome and also asks for one")
    if to is None and not effects:
        item.fail("neither leads to another state nor changes a deadline")
    return TransitionSpec(
        name=name,
        label=item.localized(),
        from_states=from_states,
        to=to,
        roles=_roles(item),
        fields=fields,
        requires_consent=_consent(item),
        outcome=outcome,
        stat=_optional_choice(item, "stat", STAT_KINDS, "statistic"),
        effects=effects,
    )


def _identifier(item: Section, key: str) -> str:
    name = item.text(key)
    if not _NAME.match(name):
        item.fail(f"{key} {name!r} must be lower-case letters, digits and _ (at most 40)")
    return name


def _optional_choice(
    item: Section, key: str, allowed: set[str] | frozenset[str], what: str
) -> str | None:
    if key not in item.table:
        return None
    value = item.text(key)
    if value not in allowed:
        known = ", ".join(sorted(allowed)) or "none"
        item.fail(f"{key} {value!r} is not a known {what} (known: {known})")
    return value


def _roles(item: Section) -> frozenset[GrantRole]:
    names = item.strings("roles")
    if not names:
        item.fail("roles must name at least one grant role")
    roles = set()
    for name in names:
        try:
            roles.add(GrantRole(name))
        except ValueError:
            item.fail(f"unknown role {name!r}")
    return frozenset(roles)


def _consent(item: Section) -> ConsentKind | None:
    if "requires_consent" not in item.table:
        return None
    value = item.text("requires_consent")
    try:
        return ConsentKind(value)
    except ValueError:
        item.fail(f"unknown consent {value!r}")


def _fields(transition: Section, places: _Places) -> tuple[FieldSpec, ...]:
    fields: list[FieldSpec] = []
    for item in _items(transition, "fields"):
        item.allow(
            {"name", "kind", "nl", "en", "required", "required_if", "choices", "to_complainant"}
        )
        name = _identifier(item, "name")
        if any(f.name == name for f in fields):
            item.fail(f"field {name!r} appears twice")
        kind = item.text("kind")
        if kind not in FIELD_KINDS:
            item.fail(f"unknown field kind {kind!r} (known: {', '.join(sorted(FIELD_KINDS))})")
        choices = _choices(item, kind, places)
        required = item.flag("required", False)
        required_if = item.text("required_if") if "required_if" in item.table else None
        if required_if is not None and required:
            item.fail("required and required_if exclude each other")
        to_complainant = item.flag("to_complainant", False)
        if to_complainant and kind != "text":
            item.fail("only a field of kind text can go to the complainant")
        fields.append(
            FieldSpec(name, kind, item.localized(), required, required_if, choices, to_complainant)
        )
    for position, spec in enumerate(fields):
        if spec.required_if is None:
            continue
        condition = next((f for f in fields if f.name == spec.required_if), None)
        if condition is None or condition.kind != "boolean":
            Section(transition.path, f"{transition.where}.fields[{position}]", {}).fail(
                f"required_if must name a boolean field of this transition: {spec.required_if!r}"
            )
    return tuple(fields)


def _choices(item: Section, kind: str, places: _Places) -> tuple[str, ...]:
    if kind != "outcome":
        if "choices" in item.table:
            item.fail("only a field of kind outcome has choices")
        return ()
    choices = item.strings("choices")
    unknown = sorted(set(choices) - set(places.outcomes))
    if not choices or unknown:
        item.fail(f"choices must be outcomes of the route (unknown: {', '.join(unknown) or '-'})")
    return tuple(choices)


def _effects(item: Section, places: _Places) -> DeadlineEffects:
    def names(key: str) -> frozenset[str]:
        chosen = frozenset(item.strings(key, default=[]))
        _known_deadlines(item, key, chosen, places)
        return chosen

    pause, resume = names("pause"), names("resume")
    if pause & resume:
        item.fail(f"pauses and resumes {', '.join(sorted(pause & resume))} at once")
    postpone, extend = _periods(item, "postpone", places), _periods(item, "extend", places)
    max_extensions = item.positive_int("max_extensions")
    after_extensions = item.positive_int("after_extensions")
    if (max_extensions or after_extensions) and not extend:
        item.fail("max_extensions and after_extensions need an extend")
    if max_extensions and after_extensions and after_extensions >= max_extensions:
        item.fail("after_extensions must be below max_extensions")
    return DeadlineEffects(pause, resume, postpone, extend, max_extensions, after_extensions or 0)


def _periods(item: Section, key: str, places: _Places) -> dict[str, Period]:
    if key not in item.table:
        return {}
    table = item.child(key)
    if not table.table:
        table.fail("must name at least one deadline")
    _known_deadlines(item, key, set(table.table), places)
    periods = {}
    for name in table.table:
        period = table.child(name)
        period.allow(_PERIOD_KEYS)
        periods[name] = _period(period)
    return periods


def _known_deadlines(item: Section, key: str, chosen: Any, places: _Places) -> None:
    unknown = sorted(set(chosen) - places.deadlines)
    if unknown:
        item.fail(f"{key}: unknown deadline(s) {', '.join(unknown)}")


def _check_paths(
    section: Section,
    initial: str,
    final: frozenset[str],
    states: Mapping[str, StateSpec],
    transitions: tuple[TransitionSpec, ...],
) -> None:
    """Every open state has a way on, and every state but the withdrawal can be reached."""
    if not transitions:
        section.fail("has no transitions")
    stuck = sorted(s for s in states if s not in final and not _leaves(s, transitions))
    if stuck:
        section.fail(f"no transition leads out of {', '.join(stuck)}")
    reached = {initial, WITHDRAWN} | {t.to for t in transitions if t.to is not None}
    unreachable = sorted(set(states) - reached)
    if unreachable:
        section.fail(f"no transition leads to {', '.join(unreachable)}")


def _check_told(
    section: Section, deadlines: tuple[DeadlineSpec, ...], transitions: tuple[TransitionSpec, ...]
) -> None:
    """A deadline met only by a message needs a step that must send one, or it never is:
    one into a met_by state, or the step that starts it (its message counts from then on)."""
    for deadline in deadlines:
        telling = deadline.met_by | {deadline.starts}
        if deadline.met_by_message and not any(
            t.to in telling and t.tells_complainant for t in transitions
        ):
            section.fail(
                f"deadline {deadline.name!r} is met_by_message, but no transition into its "
                "starts or met_by states has a required to_complainant field"
            )


def _leaves(state: str, transitions: tuple[TransitionSpec, ...]) -> bool:
    return any(state in t.from_states and t.to is not None for t in transitions)


def workflow() -> Workflow:
    loaded: Workflow = current_app.extensions["complaints.workflow"]
    return loaded
