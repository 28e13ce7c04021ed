"""Names of the statistics' dimensions and keys, in both languages, from the configuration and
the directory; an unknown or empty key never breaks a page."""

from __future__ import annotations

import pytest
from flask import Flask
from flask_babel import force_locale

from complaints.stats.labels import dimension_label, kind_label, label
from complaints.stats.tables import DIMENSIONS, KINDS
from tests.conftest import Clock, app_session
from tests.factories import make_org


@pytest.mark.parametrize(
    ("dimension", "key", "nl", "en"),
    [
        ("category", "bullying", "Pesten", "Bullying"),
        ("grounds", "religion", "Godsdienst", "Religion"),
        ("route", "confidant", "Vertrouwenspersoon", "Confidential counsellor"),
        ("outcome", "unfounded", "Ongegrond", "Unfounded"),
        ("category", "no_such_category", "no_such_category", "no_such_category"),
        ("route", "nowhere", "nowhere", "nowhere"),
    ],
)
def test_keys_are_named_from_the_configuration(
    app: Flask, dimension: str, key: str, nl: str, en: str
) -> None:
    with app.test_request_context():
        with force_locale("nl"):
            assert label(dimension, key) == nl
        with force_locale("en"):
            assert label(dimension, key) == en


def test_organisations_are_named_from_the_directory(app: Flask, clock: Clock) -> None:
    with app_session(app) as session:
        org = make_org(session, clock(), "STATMIN")
        ministry_id, name = org.ministry.id, org.ministry.name
    with app.test_request_context(), force_locale("en"):
        assert label("organisation", str(ministry_id)) == name
        assert label("organisation", "999999999") == "999999999"


def test_every_dimension_kind_quarter_and_empty_key_has_a_name(app: Flask) -> None:
    with app.test_request_context(), force_locale("en"):
        names = [dimension_label(d) for d in DIMENSIONS]
        assert all(names)
        assert len(set(names)) == len(DIMENSIONS)
        assert names[DIMENSIONS.index("grounds")] == "Grounds"
        kinds = [kind_label(k) for k in KINDS]
        assert len(set(kinds)) == len(KINDS)
        assert not set(kinds) & set(KINDS)
        assert label("quarter", "Q3") == "Quarter 3"
        assert label("disclosure", "anonymous") == "Anonymous"
        assert label("outcome", "") == "none"
        assert label("organisation", "") == "unknown"
