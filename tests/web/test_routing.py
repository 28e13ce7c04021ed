"""URL builders compiled once per process: a later application reuses them, and every URL
comes out exactly as werkzeug's own rules build it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from werkzeug.routing import Map, Rule
from werkzeug.routing.converters import (
    IntegerConverter,
    PathConverter,
    UnicodeConverter,
    UUIDConverter,
)

from complaints import create_app
from complaints.web.routing import SharedBuilderRule
from tests.conftest import make_settings

# Values that need quoting, so a builder that quotes differently shows.
SAMPLES: dict[type, Any] = {
    IntegerConverter: 7,
    UUIDConverter: uuid.UUID("0b6a4f4e-5d1c-4f1e-9a56-3f0c3c1d2e7a"),
    PathConverter: "map/één twee?",
    UnicodeConverter: "één twee&drie",
}


def _another_app(shared_engine: sa.Engine, tmp_path: Path, keystore_path: Path) -> Flask:
    url = shared_engine.url.render_as_string(hide_password=False)
    application = create_app(make_settings(tmp_path, url, keystore_path))
    application.extensions["complaints.db"].engine.dispose()
    return application


def test_a_later_application_reuses_the_compiled_builders(
    app: Flask, shared_engine: sa.Engine, tmp_path: Path, keystore_path: Path
) -> None:
    later = _another_app(shared_engine, tmp_path, keystore_path)
    ours = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
    theirs = [r for r in later.url_map.iter_rules() if r.endpoint != "static"]
    assert len(ours) > 50
    assert [r.rule for r in ours] == [r.rule for r in theirs]
    for first, second in zip(ours, theirs, strict=True):
        assert isinstance(second, SharedBuilderRule)
        assert first is not second
        assert second._build.__func__ is first._build.__func__, first.rule  # type: ignore[attr-defined]
        assert second._build_unknown.__func__ is first._build_unknown.__func__, first.rule  # type: ignore[attr-defined]


def test_every_url_is_built_as_by_werkzeugs_own_rules(app: Flask) -> None:
    rules = list(app.url_map.iter_rules())
    plain = Map(
        [Rule(r.rule, **r.get_empty_kwargs()) for r in rules],
        converters=dict(app.url_map.converters),
    )
    checked = 0
    for shared, own in zip(rules, plain.iter_rules(), strict=True):
        assert shared.rule == own.rule
        values = {name: SAMPLES[type(c)] for name, c in shared._converters.items()}
        for extra in ({}, {"q": "a b", "pagina": 2}):
            for append_unknown in (True, False):
                built = shared.build({**values, **extra}, append_unknown)
                assert built == own.build({**values, **extra}, append_unknown), shared.rule
                checked += 1
    assert checked == 4 * len(rules)


def test_rules_that_differ_only_in_defaults_keep_their_own_builders() -> None:
    # The same text with and without a default for its variable: a cache keyed on the text alone
    # would hand one the other's builder.
    with_default = Map(
        [SharedBuilderRule("/routing-check/<part>", endpoint="a", defaults={"part": "fixed"})]
    )
    without = Map([SharedBuilderRule("/routing-check/<part>", endpoint="b")])
    assert with_default.bind("localhost").build("a") == "/routing-check/fixed"
    assert without.bind("localhost").build("b", {"part": "chosen"}) == "/routing-check/chosen"
