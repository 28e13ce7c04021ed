"""The workflow policy file: the shipped one loads, and every kind of mistake stops the start."""

from __future__ import annotations

import copy
import json
import re
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from complaints import create_app
from complaints.cases.models import ConsentKind, GrantRole, Route
from complaints.settings import ConfigurationError
from complaints.workflow.config import Period, Workflow, load_workflow
from tests.conftest import ROOT, make_settings

SHIPPED = ROOT / "config"
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def dump_toml(data: dict[str, Any]) -> str:
    """Just enough of a TOML writer for the policy files: tables, arrays of tables, values."""
    lines: list[str] = []

    def key(name: str) -> str:
        return name if _BARE_KEY.match(name) else json.dumps(name, ensure_ascii=False)

    def value(item: Any) -> str:
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, int | float):
            return repr(item)
        if isinstance(item, str):
            return json.dumps(item, ensure_ascii=False)
        if isinstance(item, list):
            return "[" + ", ".join(value(i) for i in item) + "]"
        if isinstance(item, dict):  # inside an array of tables: an inline table
            return "{ " + ", ".join(f"{key(k)} = {value(v)}" for k, v in item.items()) + " }"
        raise TypeError(type(item))

    def is_table_array(item: Any) -> bool:
        return isinstance(item, list) and bool(item) and all(isinstance(i, dict) for i in item)

    def table(path: str, content: dict[str, Any]) -> None:
        if path:
            lines.append(f"\n[{path}]")
        for name, item in content.items():
            if not isinstance(item, dict) and not is_table_array(item):
                lines.append(f"{key(name)} = {value(item)}")
        for name, item in content.items():
            inner = f"{path}.{key(name)}" if path else key(name)
            if isinstance(item, dict):
                table(inner, item)
            elif is_table_array(item):
                for entry in item:
                    lines.append(f"\n[[{inner}]]")
                    lines.extend(f"{key(k)} = {value(v)}" for k, v in entry.items())

    table("", data)
    return "\n".join(lines) + "\n"


def shipped(name: str) -> dict[str, Any]:
    with (SHIPPED / name).open("rb") as handle:
        return tomllib.load(handle)


def write(tmp_path: Path, name: str, data: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(dump_toml(data), encoding="utf-8")
    return path


def test_the_shipped_workflow_loads() -> None:
    workflow = load_workflow(SHIPPED / "workflow.toml")
    assert set(workflow.routes) == set(Route)
    for route in Route:
        spec = workflow[route]
        assert spec.initial == "submitted"
        assert spec.final == {"closed", "withdrawn"}
        assert spec.label.nl
        assert spec.label.en
        assert all(s.public.nl and s.public.en for s in spec.states.values())
        acknowledge = spec.deadlines[0]
        assert (acknowledge.name, acknowledge.starts, acknowledge.period) == (
            "acknowledge",
            "submitted",
            Period(days=7),
        )
        assert "withdrawn" not in acknowledge.met_by
    feedback = {d.name: d for d in workflow[Route.INTEGRITY].deadlines}["feedback"]
    assert (feedback.starts, feedback.period) == ("acknowledged", Period(months=3))
    assert feedback.met_by == {"feedback_given", "closed"}
    committee = {d.name: d for d in workflow[Route.COMMITTEE].deadlines}
    assert committee["decision"].period == Period(weeks=10)
    assert committee["admissibility"].period == Period(days=14)
    assert workflow.open_states()[Route.CONFIDANT] == {"submitted", "acknowledged", "supporting"}


def test_the_test_writer_reproduces_the_shipped_files(tmp_path: Path) -> None:
    for name in ("workflow.toml", "taxonomy.toml"):
        data = shipped(name)
        assert tomllib.loads(dump_toml(data)) == data
    assert load_workflow(write(tmp_path, "workflow.toml", shipped("workflow.toml"))) == (
        load_workflow(SHIPPED / "workflow.toml")
    )


Edit = Callable[[dict[str, Any]], None]


def set_value(path: str, item: Any) -> Edit:
    *parents, last = path.split(".")

    def edit(data: dict[str, Any]) -> None:
        for part in parents:
            data = data[int(part)] if isinstance(data, list) else data[part]
        if isinstance(data, list):
            data[int(last)] = item
        else:
            data[last] = item

    return edit


def delete_key(path: str) -> Edit:
    *parents, last = path.split(".")

    def edit(data: dict[str, Any]) -> None:
        for part in parents:
            data = data[int(part)] if isinstance(data, list) else data[part]
        del data[last]

    return edit


MANAGER = "routes.manager"
ACK = "routes.manager.deadlines.0"


@pytest.mark.parametrize(
    ("edit", "place", "message"),
    [
        (set_value("colour", "blauw"), "", "unknown key(s) colour"),
        (set_value("routes.manager.owner", "x"), MANAGER, "unknown key(s) owner"),
        (
            set_value("routes.manager.states.closed.colour", "x"),
            f"{MANAGER}.states.closed",
            "colour",
        ),
        (set_value(f"{ACK}.hours", 3), "routes.manager.deadlines[0]", "unknown key(s) hours"),
        (set_value("routes.postal", {}), "routes.postal", "unknown route"),
        (delete_key("routes.committee"), "routes", "missing route(s) committee"),
        (delete_key("routes"), "routes", "must be a table"),
        (set_value("routes.manager.states", {}), MANAGER, "has no states"),
        (set_value("routes.manager.initial", "new"), MANAGER, "initial state 'new' is not"),
        (set_value("routes.manager.initial", "closed"), MANAGER, "initial state cannot be final"),
        (delete_key("routes.manager.initial"), MANAGER, "initial must be a non-empty text"),
        (set_value("routes.manager.final", []), MANAGER, "final must list some of its states"),
        (set_value("routes.manager.final", ["closed", "archived"]), MANAGER, "final must list"),
        (set_value("routes.manager.final", "closed"), MANAGER, "final must be a list of texts"),
        (set_value(f"{ACK}.met_by", ["acknowledgd"]), "routes.manager.deadlines[0]", "acknowledgd"),
        (set_value(f"{ACK}.met_by", []), "routes.manager.deadlines[0]", "at least one state"),
        (delete_key(f"{ACK}.met_by"), "routes.manager.deadlines[0]", "met_by must be a list"),
        (
            set_value(f"{ACK}.starts", "filed"),
            "routes.manager.deadlines[0]",
            "unknown state(s) filed",
        ),
        (set_value(f"{ACK}.starts", "withdrawn"), "routes.manager.deadlines[0]", "final state"),
        (set_value(f"{ACK}.starts", "acknowledged"), "routes.manager.deadlines[0]", "both starts"),
        (set_value(f"{ACK}.weeks", 1), "routes.manager.deadlines[0]", "exactly one of days"),
        (delete_key(f"{ACK}.days"), "routes.manager.deadlines[0]", "exactly one of days"),
        (set_value(f"{ACK}.days", -7), "routes.manager.deadlines[0]", "days must be a positive"),
        (set_value(f"{ACK}.days", 0), "routes.manager.deadlines[0]", "days must be a positive"),
        (set_value(f"{ACK}.days", 7.5), "routes.manager.deadlines[0]", "days must be a positive"),
        (set_value(f"{ACK}.days", True), "routes.manager.deadlines[0]", "days must be a positive"),
        (set_value(f"{ACK}.days", "7"), "routes.manager.deadlines[0]", "days must be a positive"),
        (delete_key(f"{ACK}.nl"), "routes.manager.deadlines[0]", "nl must be a non-empty text"),
        (
            set_value(f"{ACK}.en", "  "),
            "routes.manager.deadlines[0]",
            "en must be a non-empty text",
        ),
        (delete_key(f"{ACK}.name"), "routes.manager.deadlines[0]", "name must be"),
        (set_value("routes.manager.deadlines", {"a": 1}), MANAGER, "deadlines must be a list"),
        (delete_key("routes.manager.nl"), MANAGER, "nl must be a non-empty text"),
        (delete_key("routes.manager.states.closed.en"), f"{MANAGER}.states.closed", "en must be"),
        (
            delete_key("routes.manager.states.closed.public_nl"),
            f"{MANAGER}.states.closed",
            "public_nl must be",
        ),
        (
            set_value("routes.manager.states.closed", "Gesloten"),
            f"{MANAGER}.states.closed",
            "table",
        ),
    ],
)
def test_each_mistake_is_named_with_its_file_and_place(
    tmp_path: Path, edit: Edit, place: str, message: str
) -> None:
    data = copy.deepcopy(shipped("workflow.toml"))
    edit(data)
    path = write(tmp_path, "workflow.toml", data)
    with pytest.raises(ConfigurationError) as refused:
        load_workflow(path)
    text = str(refused.value)
    assert text.startswith(f"{path}: {place}: " if place else f"{path}: "), text
    assert message in text
    assert "\n" not in text


def test_a_deadline_named_twice_is_refused(tmp_path: Path) -> None:
    data = shipped("workflow.toml")
    deadlines = data["routes"]["committee"]["deadlines"]
    deadlines.append(dict(deadlines[0]))
    with pytest.raises(ConfigurationError, match=r"deadlines\[5\]: deadline 'acknowledge' appears"):
        load_workflow(write(tmp_path, "workflow.toml", data))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[routes.manager\nnl = 'x'", "is not valid TOML"),
        (b"routes = 'x' \xff\xfe", "is not UTF-8 text"),
    ],
)
def test_a_file_that_is_not_toml_is_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "workflow.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigurationError) as refused:
        load_workflow(path)
    assert str(refused.value).startswith(f"{path} {message}")


def test_a_missing_or_unreadable_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"workflow\.toml is missing"):
        load_workflow(tmp_path / "workflow.toml")
    (tmp_path / "workflow.toml").mkdir()
    with pytest.raises(ConfigurationError, match=r"workflow\.toml cannot be read"):
        load_workflow(tmp_path / "workflow.toml")


def test_a_workflow_with_another_deadline_loads(tmp_path: Path) -> None:
    data = shipped("workflow.toml")
    data["routes"]["manager"]["deadlines"].append(
        {
            "name": "resolve",
            "nl": "Afhandelen",
            "en": "Resolve",
            "starts": "acknowledged",
            "met_by": ["resolved", "closed"],
            "months": 2,
        }
    )
    workflow: Workflow = load_workflow(write(tmp_path, "workflow.toml", data))
    assert [d.name for d in workflow[Route.MANAGER].deadlines] == ["acknowledge", "resolve"]
    assert workflow[Route.MANAGER].deadlines[1].period == Period(months=2)


@pytest.mark.parametrize("broken", ["workflow.toml", "taxonomy.toml"])
def test_the_application_refuses_to_start_with_a_broken_policy_file(
    tmp_path: Path, keystore_path: Path, broken: str
) -> None:
    config = tmp_path / "config"
    shutil.copytree(SHIPPED, config)
    path = config / broken
    path.write_text("surprise = true\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    settings = make_settings(
        tmp_path, f"sqlite:///{tmp_path / 'app.db'}", keystore_path, config_dir=config
    )
    with pytest.raises(ConfigurationError) as refused:
        create_app(settings)
    assert str(refused.value) == f"{path}: unknown key(s) surprise"
    # The same copy, repaired, starts.
    shutil.copyfile(SHIPPED / broken, path)
    app = create_app(settings)
    assert app.extensions["complaints.workflow"] == load_workflow(SHIPPED / "workflow.toml")


# Transitions, outcomes and deadline effects ---------------------------------------------------


def _list_at(data: Any, path: str) -> list[Any]:
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    assert isinstance(data, list)
    return data


def remove_item(path: str, index: int) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        del _list_at(data, path)[index]

    return edit


def append_copy(path: str, index: int) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        items = _list_at(data, path)
        items.append(copy.deepcopy(items[index]))

    return edit


MT = "routes.manager.transitions"
CT = "routes.committee.transitions"
EXTEND = f"{CT}.10"  # extend_decision
DECIDE = f"{CT}.9"


def place(path: str) -> str:
    """``x.transitions.3.fields.1`` as the error names it: ``x.transitions[3].fields[1]``."""
    return re.sub(r"\.(\d+)", r"[\1]", path)


@pytest.mark.parametrize(
    ("edit", "where", "message"),
    [
        (set_value(f"{MT}.0.from", ["submited"]), f"{MT}.0", "unknown state(s) submited"),
        (set_value(f"{MT}.0.to", "nowhere"), f"{MT}.0", "unknown state(s) nowhere"),
        # a state of another route is no state of this one
        (set_value(f"{MT}.0.to", "hearing"), f"{MT}.0", "unknown state(s) hearing"),
        (set_value(f"{MT}.0.from", []), f"{MT}.0", "from must name at least one state"),
        (delete_key(f"{MT}.0.from"), f"{MT}.0", "from must be a list of texts"),
        (set_value(f"{MT}.3.from", ["closed"]), f"{MT}.3", "a final state has no way out: closed"),
        (set_value(f"{MT}.3.to", "withdrawn"), f"{MT}.3", "withdrawing is the complainant's own"),
        (set_value(f"{MT}.0.to", "submitted"), f"{MT}.0", "leads from 'submitted' to itself"),
        (set_value(f"{MT}.0.roles", ["judge"]), f"{MT}.0", "unknown role 'judge'"),
        (set_value(f"{MT}.0.roles", []), f"{MT}.0", "roles must name at least one grant role"),
        (set_value(f"{MT}.0.roles", "manager"), f"{MT}.0", "roles must be a list of texts"),
        (append_copy(MT, 0), f"{MT}.4", "transition 'acknowledge' appears twice"),
        (set_value(f"{MT}.0.name", "Acknowledge!"), f"{MT}.0", "must be lower-case letters"),
        (set_value(f"{MT}.0.name", "x" * 41), f"{MT}.0", "at most 40"),
        (set_value(f"{MT}.0.name", "withdraw"), f"{MT}.0", "'withdraw' is reserved"),
        (set_value(f"{MT}.0.name", "submitted"), f"{MT}.0", "'submitted' is reserved"),
        (delete_key(f"{MT}.0.en"), f"{MT}.0", "en must be a non-empty text"),
        (set_value(f"{MT}.0.colour", "x"), f"{MT}.0", "unknown key(s) colour"),
        (set_value(f"{MT}.0.requires_consent", "blessing"), f"{MT}.0", "unknown consent 'bless"),
        (set_value(f"{MT}.0.outcome", "won"), f"{MT}.0", "outcome 'won' is not a known outcome"),
        (set_value(f"{MT}.0.stat", "celebrated"), f"{MT}.0", "'celebrated' is not a known stat"),
        (delete_key(f"{MT}.1.to"), f"{MT}.1", "neither leads to another state nor changes"),
        (
            set_value(f"{CT}.6.pause", ["decisoin"]),
            f"{CT}.6",
            "pause: unknown deadline(s) decisoin",
        ),
        # the integrity route's deadline is no deadline of the committee
        (
            set_value(f"{CT}.7.resume", ["feedback"]),
            f"{CT}.7",
            "resume: unknown deadline(s) feedback",
        ),
        (
            set_value(f"{CT}.6.resume", ["decision"]),
            f"{CT}.6",
            "pauses and resumes decision at once",
        ),
        (set_value(f"{EXTEND}.extend", {"decison": {"weeks": 4}}), EXTEND, "extend: unknown dead"),
        (
            set_value(f"{EXTEND}.extend", {"decision": {"hours": 4}}),
            f"{place(EXTEND)}.extend.decision",
            "unknown key(s) hours",
        ),
        (
            set_value(f"{EXTEND}.extend", {"decision": {"weeks": 4, "days": 2}}),
            f"{place(EXTEND)}.extend.decision",
            "exactly one of days, weeks or months",
        ),
        (
            set_value(f"{EXTEND}.extend", {"decision": {"weeks": -4}}),
            f"{place(EXTEND)}.extend.decision",
            "weeks must be a positive whole number",
        ),
        (set_value(f"{EXTEND}.extend", {}), f"{place(EXTEND)}.extend", "at least one deadline"),
        (set_value(f"{EXTEND}.extend", ["decision"]), f"{place(EXTEND)}.extend", "a table"),
        (
            set_value(f"{CT}.1.postpone", {"decision": {"fortnights": 1}}),
            f"{place(CT)}[1].postpone.decision",
            "unknown key(s) fortnights",
        ),
        (set_value(f"{EXTEND}.max_extensions", 0), EXTEND, "max_extensions must be a positive"),
        (set_value(f"{CT}.0.max_extensions", 1), f"{CT}.0", "need an extend"),
        (set_value(f"{EXTEND}.after_extensions", 1), EXTEND, "after_extensions must be below"),
        (set_value(f"{MT}.2.fields.0.kind", "number"), f"{MT}.2.fields.0", "unknown field kind"),
        (delete_key(f"{MT}.2.fields.0.kind"), f"{MT}.2.fields.0", "kind must be a non-empty"),
        (set_value(f"{MT}.2.fields.0.required", "yes"), f"{MT}.2.fields.0", "true or false"),
        (set_value(f"{MT}.2.fields.0.name", "Summary"), f"{MT}.2.fields.0", "lower-case"),
        (set_value(f"{MT}.2.fields.0.size", 3), f"{MT}.2.fields.0", "unknown key(s) size"),
        (append_copy(f"{MT}.2.fields", 0), f"{MT}.2.fields.1", "field 'summary' appears twice"),
        (set_value(f"{MT}.2.fields", {"a": 1}), f"{MT}.2", "fields must be a list of tables"),
        (
            set_value(f"{DECIDE}.fields.3.required_if", "reasons"),
            f"{DECIDE}.fields.3",
            "required_if must name a boolean field of this transition: 'reasons'",
        ),
        (
            set_value(f"{DECIDE}.fields.3.required_if", "nothing"),
            f"{DECIDE}.fields.3",
            "required_if must name a boolean field",
        ),
        (
            set_value(f"{DECIDE}.fields.3.required", True),
            f"{DECIDE}.fields.3",
            "exclude each other",
        ),
        (
            set_value(f"{DECIDE}.fields.1.choices", ["founded"]),
            f"{DECIDE}.fields.1",
            "only a field",
        ),
        (set_value(f"{DECIDE}.fields.0.choices", ["won"]), f"{DECIDE}.fields.0", "unknown: won"),
        (set_value(f"{DECIDE}.fields.0.choices", []), f"{DECIDE}.fields.0", "choices must be"),
        (set_value(f"{DECIDE}.outcome", "founded"), DECIDE, "sets an outcome and also asks"),
        (
            set_value("routes.committee.outcomes.founded.colour", "groen"),
            "routes.committee.outcomes.founded",
            "unknown key(s) colour",
        ),
        (
            delete_key("routes.committee.outcomes.founded.en"),
            "routes.committee.outcomes.founded",
            "en must be a non-empty text",
        ),
        (
            set_value("routes.committee.outcomes.Gegrond!", {"nl": "x", "en": "y"}),
            "routes.committee.outcomes.Gegrond!",
            "an outcome is named",
        ),
        (set_value("routes.manager.final", ["closed"]), MANAGER, "final must include 'withdrawn'"),
        (set_value(f"{MT}.1.to", "resolved"), MANAGER, "no transition leads to in_progress"),
        (remove_item(MT, 1), MANAGER, "no transition leads out of acknowledged"),
        (delete_key(MT), MANAGER, "has no transitions"),
        (set_value(MT, {"a": 1}), MANAGER, "transitions must be a list of tables"),
    ],
)
def test_each_mistake_in_a_transition_is_named_with_its_place(
    tmp_path: Path, edit: Edit, where: str, message: str
) -> None:
    data = copy.deepcopy(shipped("workflow.toml"))
    edit(data)
    path = write(tmp_path, "workflow.toml", data)
    with pytest.raises(ConfigurationError) as refused:
        load_workflow(path)
    text = str(refused.value)
    assert text.startswith(f"{path}: {place(where)}: "), text
    assert message in text, text
    assert "\n" not in text


def test_the_shipped_transitions() -> None:
    workflow = load_workflow(SHIPPED / "workflow.toml")
    committee = workflow[Route.COMMITTEE]
    assert [t.name for t in workflow[Route.MANAGER].transitions] == [
        "acknowledge",
        "start",
        "resolve",
        "close",
    ]
    assert [t.name for t in workflow[Route.CONFIDANT].transitions] == [
        "acknowledge",
        "support",
        "close",
    ]
    assert [t.name for t in workflow[Route.INTEGRITY].transitions] == [
        "acknowledge",
        "assess",
        "investigate",
        "give_feedback",
        "close",
    ]
    assert set(committee.outcomes) == {
        "not_admissible",
        "manifestly_unfounded",
        "unfounded",
        "partly_founded",
        "founded",
    }
    deadlines = {d.name: d for d in committee.deadlines}
    assert (deadlines["cure"].starts, deadlines["cure"].period) == ("incomplete", Period(days=14))
    assert (deadlines["notice"].starts, deadlines["notice"].period) == (
        "not_admissible",
        Period(days=28),
    )
    incomplete = committee.transition("mark_incomplete")
    assert incomplete is not None
    assert incomplete.effects.postpone["decision"] == Period(days=14)
    mediation = committee.transition("start_mediation")
    assert mediation is not None
    assert mediation.requires_consent is ConsentKind.MEDIATION
    assert mediation.effects.pause == {"decision"}
    extend = committee.transition("extend_decision")
    further = committee.transition("extend_decision_with_consent")
    assert extend is not None
    assert further is not None
    assert (extend.to, extend.effects.extend, extend.effects.max_extensions) == (
        None,
        {"decision": Period(weeks=4)},
        1,
    )
    assert (further.requires_consent, further.effects.after_extensions) == (
        ConsentKind.EXTENSION,
        1,
    )
    decide = committee.transition("decide")
    assert decide is not None
    assert decide.roles == {GrantRole.COMMITTEE_SECRETARY}
    reason = decide.field_spec("departure_reason")
    assert reason is not None
    assert (reason.required, reason.required_if) == (False, "departs_from_advice")
    outcome = decide.field_spec("outcome")
    assert outcome is not None
    assert "not_admissible" not in outcome.choices
    not_admissible = committee.transition("declare_not_admissible")
    assert not_admissible is not None
    assert (not_admissible.outcome, not_admissible.stat) == ("not_admissible", "not_admissible")
    # No transition anywhere leads to the withdrawal: that is the complainant's own act.
    assert all(t.to != "withdrawn" for r in workflow.routes.values() for t in r.transitions)
