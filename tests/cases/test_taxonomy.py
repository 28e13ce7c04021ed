"""The taxonomy policy file: what can be reported, checked strictly when the application starts."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from complaints.cases.models import Route
from complaints.cases.taxonomy import load_taxonomy
from complaints.settings import ConfigurationError
from complaints.web.i18n import Localized
from tests.workflow.test_config import SHIPPED, Edit, delete_key, set_value, shipped, write


def test_the_shipped_taxonomy_loads() -> None:
    taxonomy = load_taxonomy(SHIPPED / "taxonomy.toml")
    assert list(taxonomy.categories) == [
        "sexual_harassment",
        "aggression",
        "bullying",
        "discrimination",
        "other_undesirable",
        "integrity",
    ]
    assert [c.key for c in taxonomy.offered] == list(taxonomy.categories)
    discrimination = taxonomy.categories["discrimination"]
    assert discrimination.asks_grounds
    assert discrimination.label == Localized(
        "Discriminatie, waaronder racisme", "Discrimination, including racism"
    )
    assert [k for k, c in taxonomy.categories.items() if c.asks_grounds] == ["discrimination"]
    # The complaints committee handles undesirable behaviour, not integrity concerns.
    assert Route.COMMITTEE not in taxonomy.categories["integrity"].routes
    assert taxonomy.categories["bullying"].routes == tuple(Route)
    assert {"race", "religion", "sexual_orientation", "disability", "age"} <= set(taxonomy.grounds)
    assert all(g.label.nl and g.label.en for g in taxonomy.grounds.values())


CATEGORY = "categories.bullying"


@pytest.mark.parametrize(
    ("edit", "place", "message"),
    [
        (set_value("colour", "blauw"), "", "unknown key(s) colour"),
        (set_value(f"{CATEGORY}.severity", 3), CATEGORY, "unknown key(s) severity"),
        (set_value("grounds.age.hint_nl", "x"), "grounds.age", "unknown key(s) hint_nl"),
        (delete_key(f"{CATEGORY}.nl"), CATEGORY, "nl must be a non-empty text"),
        (set_value(f"{CATEGORY}.en", ""), CATEGORY, "en must be a non-empty text"),
        (delete_key(f"{CATEGORY}.hint_en"), CATEGORY, "hint_en must be a non-empty text"),
        (delete_key("grounds.age.nl"), "grounds.age", "nl must be a non-empty text"),
        (delete_key("grounds.age.en"), "grounds.age", "en must be a non-empty text"),
        (
            set_value(f"{CATEGORY}.routes", ["manager", "police"]),
            CATEGORY,
            "unknown route 'police'",
        ),
        (set_value(f"{CATEGORY}.routes", []), CATEGORY, "at least one route"),
        (delete_key(f"{CATEGORY}.routes"), CATEGORY, "routes must be a list of texts"),
        (set_value(f"{CATEGORY}.routes", "manager"), CATEGORY, "routes must be a list of texts"),
        (set_value(f"{CATEGORY}.grounds", "yes"), CATEGORY, "grounds must be true or false"),
        (set_value(f"{CATEGORY}.offered", 1), CATEGORY, "offered must be true or false"),
        (set_value("categories.Pesten", {}), "categories.Pesten", "lower-case letters"),
        (set_value("grounds.Age", {"nl": "x", "en": "y"}), "grounds.Age", "lower-case letters"),
        (delete_key("categories"), "categories", "must be a table"),
        (set_value("grounds", ["race"]), "grounds", "must be a table"),
        (set_value(f"{CATEGORY}", "Pesten"), CATEGORY, "must be a table"),
    ],
)
def test_each_mistake_is_named_with_its_file_and_place(
    tmp_path: Path, edit: Edit, place: str, message: str
) -> None:
    data = copy.deepcopy(shipped("taxonomy.toml"))
    edit(data)
    path = write(tmp_path, "taxonomy.toml", data)
    with pytest.raises(ConfigurationError) as refused:
        load_taxonomy(path)
    text = str(refused.value)
    assert text.startswith(f"{path}: {place}: " if place else f"{path}: "), text
    assert message in text


def test_a_category_asking_for_grounds_needs_grounds_listed(tmp_path: Path) -> None:
    data: dict[str, Any] = shipped("taxonomy.toml")
    del data["grounds"]
    path = write(tmp_path, "taxonomy.toml", data)
    with pytest.raises(ConfigurationError) as refused:
        load_taxonomy(path)
    assert str(refused.value).startswith(f"{path}: categories.discrimination: asks for")
    data["grounds"] = {}
    with pytest.raises(ConfigurationError, match=r"categories\.discrimination: asks for"):
        load_taxonomy(write(tmp_path, "taxonomy.toml", data))


def test_without_a_category_that_asks_for_them_grounds_may_be_left_out(tmp_path: Path) -> None:
    data: dict[str, Any] = shipped("taxonomy.toml")
    del data["grounds"]
    del data["categories"]["discrimination"]
    taxonomy = load_taxonomy(write(tmp_path, "taxonomy.toml", data))
    assert taxonomy.grounds == {}
    assert "discrimination" not in taxonomy.categories


def test_at_least_one_category_must_be_offered(tmp_path: Path) -> None:
    data: dict[str, Any] = shipped("taxonomy.toml")
    for category in data["categories"].values():
        category["offered"] = False
    path = write(tmp_path, "taxonomy.toml", data)
    with pytest.raises(ConfigurationError) as refused:
        load_taxonomy(path)
    assert str(refused.value) == f"{path}: categories: at least one category must be offered"


def test_a_retired_category_stays_known_but_is_not_offered(tmp_path: Path) -> None:
    data: dict[str, Any] = shipped("taxonomy.toml")
    data["categories"]["other_undesirable"]["offered"] = False
    data["categories"]["bullying"]["routes"] = ["confidant", "manager", "confidant"]
    taxonomy = load_taxonomy(write(tmp_path, "taxonomy.toml", data))
    assert "other_undesirable" in taxonomy.categories
    assert "other_undesirable" not in [c.key for c in taxonomy.offered]
    assert taxonomy.categories["bullying"].routes == (Route.CONFIDANT, Route.MANAGER)
