"""What can be reported: categories and discrimination grounds, from ``config/taxonomy.toml``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from flask import current_app

from complaints.cases.models import Route
from complaints.configfiles import Section, parsed_once, read_toml
from complaints.web.i18n import Localized

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class Category:
    key: str
    label: Localized
    hint: Localized
    routes: tuple[Route, ...]
    asks_grounds: bool
    offered: bool


@dataclass(frozen=True)
class Ground:
    key: str
    label: Localized


@dataclass(frozen=True)
class Taxonomy:
    categories: dict[str, Category]
    grounds: dict[str, Ground]

    @property
    def offered(self) -> list[Category]:
        return [c for c in self.categories.values() if c.offered]


@parsed_once
def load_taxonomy(path: Path) -> Taxonomy:
    """Read and check the taxonomy; raises ConfigurationError naming the first problem."""
    root = Section(path, "", read_toml(path))
    root.allow({"categories", "grounds"})
    grounds_section = Section(path, "grounds", root.table.get("grounds", {}))
    grounds: dict[str, Ground] = {}
    for key in grounds_section.table:
        section = grounds_section.child(key)
        if not _KEY.match(key):
            section.fail("keys are lower-case letters, digits and _ (at most 40)")
        section.allow({"nl", "en"})
        grounds[key] = Ground(key=key, label=section.localized())
    categories_section = root.child("categories")
    categories: dict[str, Category] = {}
    for key in categories_section.table:
        section = categories_section.child(key)
        if not _KEY.match(key):
            section.fail("keys are lower-case letters, digits and _ (at most 40)")
        section.allow({"nl", "en", "hint_nl", "hint_en", "routes", "grounds", "offered"})
        routes = []
        for name in section.strings("routes"):
            try:
                routes.append(Route(name))
            except ValueError:
                section.fail(f"unknown route {name!r}")
        if not routes:
            section.fail("routes must name at least one route")
        asks_grounds = section.flag("grounds", False)
        if asks_grounds and not grounds:
            section.fail("asks for discrimination grounds, but no [grounds.KEY] tables are listed")
        categories[key] = Category(
            key=key,
            label=section.localized(),
            hint=section.localized("hint_"),
            routes=tuple(dict.fromkeys(routes)),
            asks_grounds=asks_grounds,
            offered=section.flag("offered", True),
        )
    if not any(c.offered for c in categories.values()):
        categories_section.fail("at least one category must be offered")
    return Taxonomy(categories, grounds)


def taxonomy() -> Taxonomy:
    loaded: Taxonomy = current_app.extensions["complaints.taxonomy"]
    return loaded
