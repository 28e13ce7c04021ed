"""The retention policy file: the shipped defaults load, and every mistake stops the application
with a message that names the file and the rule."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flask import Flask

from complaints import create_app
from complaints.cases.models import Route
from complaints.retention.policy import Action, Category, CountsFrom, load_retention
from complaints.settings import ConfigurationError
from complaints.workflow.config import Period, Workflow
from tests.conftest import ROOT, make_settings

DEFAULTS = (ROOT / "config" / "retention.toml").read_text(encoding="utf-8")


@pytest.fixture
def workflow(app: Flask) -> Workflow:
    flow: Workflow = app.extensions["complaints.workflow"]
    return flow


def _load(tmp_path: Path, workflow: Workflow, text: str) -> None:
    path = tmp_path / "retention.toml"
    path.write_text(text, encoding="utf-8")
    load_retention(path, workflow)


def _edit(old: str, new: str, *, count: int = 1) -> str:
    assert DEFAULTS.count(old) >= count, old
    return DEFAULTS.replace(old, new, count)


def test_the_defaults_load(tmp_path: Path, workflow: Workflow) -> None:
    policy = load_retention(ROOT / "config" / "retention.toml", workflow)
    by_name = {rule.name: rule for rule in policy.rules}
    assert by_name["withdrawn"].period == Period(days=90)
    assert by_name["withdrawn"].counts_from is CountsFrom.WITHDRAWN
    assert by_name["confidant-closed"].period == Period(months=24)
    assert by_name["committee-decided"].counts_from is CountsFrom.DECIDED
    assert by_name["integrity-redact"].action is Action.REDACT
    assert by_name["integrity-redact"].fields == ("complainant", "receipt", "messages")
    assert by_name["audit"].period == Period(months=60)
    assert set(policy.categories) == set(Category)
    # Every rule carries its basis.
    assert all(rule.dpia_section and rule.legal_ground and rule.basis for rule in policy.rules)
    # A closed integrity case: first redacted, then destroyed.
    assert [r.name for r in policy.case_rules(Route.INTEGRITY, "closed", None)] == [
        "integrity-redact",
        "integrity-closed",
    ]


@pytest.mark.parametrize(
    ("old", "new", "rule", "message"),
    [
        (
            'fields = ["complainant", "receipt", "messages"]',
            'fields = ["complainant", "shoe_size"]',
            "integrity-redact",
            "unknown field(s) shoe_size",
        ),
        (
            "period = { days = 90 }\naction",
            "period = { days = -90 }\naction",
            "withdrawn",
            "days is negative (-90)",
        ),
        (
            'dpia_section = "4.1"',
            'dpia_section = "4.1"\nkeep_forever = true',
            "withdrawn",
            "unknown key(s) keep_forever",
        ),
        (
            'routes = ["manager"]',
            'routes = ["manager", "confidant"]',
            None,
            "destroyed by more than one rule: confidant-closed, manager-closed",
        ),
        (
            'outcomes = ["not_admissible", "none"]',
            'outcomes = ["not_admissible"]',
            None,
            "no rule destroys committee cases in state 'closed' without an outcome",
        ),
        (
            'states = ["withdrawn"]',
            'states = ["withdrawn", "open"]',
            "withdrawn",
            "are not final states",
        ),
        (
            'action = "redact"',
            'action = "shred"',
            "integrity-redact",
            "action 'shred' is not one of destroy, redact",
        ),
        (
            'from = "last_activity"\nperiod = { days = 3 }',
            'from = "closed"\nperiod = { days = 3 }',
            "drafts",
            "a draft rule counts from last_activity",
        ),
        (
            'name = "sessions"',
            'name = "drafts"',
            "drafts",
            "used by another rule",
        ),
    ],
    ids=[
        "unknown-field",
        "negative-period",
        "unknown-key",
        "two-destroyers",
        "uncovered-case-kind",
        "state-not-final",
        "unknown-action",
        "wrong-start",
        "duplicate-name",
    ],
)
def test_a_mistake_names_the_rule(
    tmp_path: Path, workflow: Workflow, old: str, new: str, rule: str | None, message: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        _load(tmp_path, workflow, _edit(old, new))
    text = str(raised.value)
    assert str(tmp_path / "retention.toml") in text
    assert message in text
    if rule is not None:
        assert f"rule {rule!r}" in text


def test_a_category_without_a_rule_is_refused(tmp_path: Path, workflow: Workflow) -> None:
    start = DEFAULTS.index('[[rules]]\nname = "notifications"')
    end = DEFAULTS.index('[[rules]]\nname = "audit"')
    with pytest.raises(ConfigurationError, match="no rule covers the category 'notification'"):
        _load(tmp_path, workflow, DEFAULTS[:start] + DEFAULTS[end:])


def test_removing_a_destroy_rule_leaves_cases_uncovered(tmp_path: Path, workflow: Workflow) -> None:
    start = DEFAULTS.index('[[rules]]\nname = "withdrawn"')
    end = DEFAULTS.index('[[rules]]\nname = "confidant-closed"')
    with pytest.raises(ConfigurationError, match="no rule destroys manager cases in state"):
        _load(tmp_path, workflow, DEFAULTS[:start] + DEFAULTS[end:])


def test_the_application_refuses_to_start_on_an_invalid_policy(
    tmp_path: Path, keystore_path: Path
) -> None:
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    (config / "retention.toml").write_text(
        _edit("period = { days = 90 }\naction", "period = { days = -1 }\naction"),
        encoding="utf-8",
    )
    settings = make_settings(
        tmp_path, f"sqlite:///{tmp_path / 'unused.db'}", keystore_path, config_dir=config
    )
    with pytest.raises(ConfigurationError, match=r"rule 'withdrawn'.*negative"):
        create_app(settings)
