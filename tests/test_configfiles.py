"""Policy files parsed once per process: the same bytes give the same checked object, and any
change to a file, or to what it is checked against, is read and checked again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from complaints import create_app
from complaints.cases.taxonomy import load_taxonomy
from complaints.retention.policy import load_retention
from complaints.settings import ConfigurationError
from complaints.workflow.config import load_workflow
from tests.conftest import ROOT, make_settings

SHIPPED = ROOT / "config"


def test_applications_built_from_the_same_files_share_what_was_parsed(
    tmp_path: Path, keystore_path: Path
) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'app.db'}", keystore_path)
    first, second = create_app(settings), create_app(settings)
    for name in ("taxonomy", "workflow", "retention"):
        assert first.extensions[f"complaints.{name}"] is second.extensions[f"complaints.{name}"]


def test_an_edited_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "taxonomy.toml"
    shutil.copyfile(SHIPPED / "taxonomy.toml", path)
    before = load_taxonomy(path)
    label = before.categories["bullying"].label.nl
    path.write_text(
        path.read_text(encoding="utf-8").replace(f'"{label}"', '"Treiteren"', 1), encoding="utf-8"
    )
    after = load_taxonomy(path)
    assert after.categories["bullying"].label.nl == "Treiteren"
    assert before.categories["bullying"].label.nl == label


def test_a_file_broken_after_a_good_read_is_refused_every_time(tmp_path: Path) -> None:
    path = tmp_path / "workflow.toml"
    shutil.copyfile(SHIPPED / "workflow.toml", path)
    good = load_workflow(path)
    path.write_text(
        "surprise = true\n" + (SHIPPED / "workflow.toml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    for _ in range(2):
        with pytest.raises(ConfigurationError, match="unknown key\\(s\\) surprise"):
            load_workflow(path)
    shutil.copyfile(SHIPPED / "workflow.toml", path)
    assert load_workflow(path) is good
    path.unlink()
    with pytest.raises(ConfigurationError, match="is missing"):
        load_workflow(path)


def test_the_retention_policy_is_checked_again_against_another_workflow(tmp_path: Path) -> None:
    shipped = load_workflow(SHIPPED / "workflow.toml")
    policy = load_retention(SHIPPED / "retention.toml", shipped)
    assert load_retention(SHIPPED / "retention.toml", shipped) is policy
    # A workflow with an outcome no retention rule covers: the same retention file, unchanged
    # and read before, must now be refused.
    path = tmp_path / "workflow.toml"
    path.write_text(
        (SHIPPED / "workflow.toml")
        .read_text(encoding="utf-8")
        .replace(
            "[routes.committee.outcomes.founded]",
            '[routes.committee.outcomes.settled]\nnl = "Geschikt"\nen = "Settled"\n'
            "[routes.committee.outcomes.founded]",
            1,
        ),
        encoding="utf-8",
    )
    wider = load_workflow(path)
    with pytest.raises(ConfigurationError, match="outcome 'settled'"):
        load_retention(SHIPPED / "retention.toml", wider)
