"""``copy_to_accused`` in workflow.toml: the committee's copy of the complaint (Awb 9:9)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from complaints.cases.models import Disclosure, Route
from complaints.settings import ConfigurationError
from complaints.workflow.config import AccusedCopy, load_workflow
from tests.workflow.test_config import SHIPPED, shipped, write

PLACE = "routes.committee.copy_to_accused"


def test_the_shipped_committee_route_sends_the_accused_a_copy_with_the_name() -> None:
    flow = load_workflow(SHIPPED / "workflow.toml")
    assert flow[Route.COMMITTEE].copy_to_accused == AccusedCopy(
        "accepted", frozenset({Disclosure.NAMED, Disclosure.CONFIDENTIAL})
    )
    for route in (Route.MANAGER, Route.CONFIDANT, Route.INTEGRITY):
        assert flow[route].copy_to_accused is None


def test_a_copy_without_the_name_can_be_configured(tmp_path: Path) -> None:
    data = copy.deepcopy(shipped("workflow.toml"))
    data["routes"]["committee"]["copy_to_accused"]["with_name"] = ["named"]
    flow = load_workflow(write(tmp_path, "workflow.toml", data))
    assert flow[Route.COMMITTEE].copy_to_accused == AccusedCopy(
        "accepted", frozenset({Disclosure.NAMED})
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"state": "accpeted"}, "state 'accpeted' must be an open state"),
        ({"state": "submitted"}, "state 'submitted' must be an open state"),
        ({"state": "closed"}, "state 'closed' must be an open state"),
        ({"with_name": ["anonymous"]}, "only named and confidential reports carry a name"),
        ({"with_name": "named"}, "with_name must be a list of texts"),
        ({"to": "everyone"}, "unknown key(s) to"),
    ],
)
def test_each_mistake_in_the_copy_is_named_with_its_place(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    data = copy.deepcopy(shipped("workflow.toml"))
    data["routes"]["committee"]["copy_to_accused"].update(change)
    path = write(tmp_path, "workflow.toml", data)
    with pytest.raises(ConfigurationError) as refused:
        load_workflow(path)
    assert str(refused.value).startswith(f"{path}: {PLACE}: ")
    assert message in str(refused.value)
