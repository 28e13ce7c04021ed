"""Check-ins in config/workflow.toml: ``checkin_months`` and ``retaliation`` per route."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from complaints.cases.models import Route
from complaints.settings import ConfigurationError
from complaints.workflow.config import Retaliation, load_workflow
from tests.workflow.test_config import SHIPPED, Edit, delete_key, set_value, shipped, write


def test_the_shipped_routes_check_in_at_one_three_and_six_months() -> None:
    flow = load_workflow(SHIPPED / "workflow.toml")
    assert {route: flow[route].checkin_months for route in Route} == dict.fromkeys(Route, (1, 3, 6))
    assert {route: flow[route].retaliation for route in Route} == {
        Route.MANAGER: Retaliation.REOPEN,
        Route.CONFIDANT: Retaliation.REOPEN,
        Route.INTEGRITY: Retaliation.LINKED,
        Route.COMMITTEE: Retaliation.LINKED,
    }


def _load(tmp_path: Path, *edits: Edit) -> Any:
    data = copy.deepcopy(shipped("workflow.toml"))
    for edit in edits:
        edit(data)
    return load_workflow(write(tmp_path, "workflow.toml", data))


def test_absent_or_empty_means_no_check_ins_and_reopening(tmp_path: Path) -> None:
    flow = _load(
        tmp_path,
        delete_key("routes.manager.checkin_months"),
        delete_key("routes.manager.retaliation"),
        set_value("routes.committee.checkin_months", []),
    )
    assert flow[Route.MANAGER].checkin_months == ()
    assert flow[Route.MANAGER].retaliation is Retaliation.REOPEN
    assert flow[Route.COMMITTEE].checkin_months == ()
    # Control: the routes left alone keep theirs.
    assert flow[Route.CONFIDANT].checkin_months == (1, 3, 6)


def test_other_months_are_taken_as_written(tmp_path: Path) -> None:
    flow = _load(tmp_path, set_value("routes.integrity.checkin_months", [2, 12, 24]))
    assert flow[Route.INTEGRITY].checkin_months == (2, 12, 24)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([3, 1, 6], "must rise"),
        ([1, 1, 3], "must rise"),
        ([0, 3], "between 1 and 24"),
        ([1, 25], "between 1 and 24"),
        ([-1], "between 1 and 24"),
        ([1.5], "whole numbers"),
        ([True], "whole numbers"),
        (["1"], "whole numbers"),
        (3, "whole numbers"),
    ],
)
def test_wrong_months_are_named_with_file_and_place(
    tmp_path: Path, value: Any, message: str
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        _load(tmp_path, set_value("routes.manager.checkin_months", value))
    text = str(refused.value)
    assert text.startswith(f"{tmp_path / 'workflow.toml'}: routes.manager: checkin_months")
    assert message in text


@pytest.mark.parametrize("value", ["close", "", "REOPEN", 1])
def test_an_unknown_retaliation_is_refused(tmp_path: Path, value: Any) -> None:
    with pytest.raises(ConfigurationError) as refused:
        _load(tmp_path, set_value("routes.committee.retaliation", value))
    text = str(refused.value)
    assert text.startswith(f"{tmp_path / 'workflow.toml'}: routes.committee: retaliation")


def test_a_transition_may_not_take_a_check_in_event_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="reserved"):
        _load(tmp_path, set_value("routes.manager.transitions.0.name", "reopened"))
