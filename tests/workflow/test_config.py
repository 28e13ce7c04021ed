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
from complaints.cases.models import Route
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
    with pytest.raises(ConfigurationError, match=r"deadlines\[3\]: deadline 'acknowledge' appears"):
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
