"""``flask directory import``: what the operator sees, and what really reaches the database."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask

from tests.conftest import app_session
from tests.directory.conftest import DirectoryFiles, snapshot

pytestmark = pytest.mark.committing


def invoke(app: Flask, *args: str | Path) -> Result:
    return app.test_cli_runner().invoke(args=["directory", "import", *map(str, args)])


def rows_in(app: Flask) -> dict[str, int]:
    with app_session(app) as session:
        return {table: len(rows) for table, rows in snapshot(session).items() if rows}


def test_an_import_reports_its_counts_and_commits(
    committed_app: Flask, files: DirectoryFiles
) -> None:
    result = invoke(committed_app, *files.write())

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "org units: 14 created, 0 updated, 0 unchanged, 0 deactivated",
        "people: 33 created, 0 updated, 0 unchanged, 0 deactivated",
        "roles: 12 added, 0 removed",
    ]
    assert rows_in(committed_app) == {
        "org_units": 14,
        "people": 33,
        "role_assignments": 12,
        "audit_events": 1,
    }

    again = invoke(committed_app, *files.write())

    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines() == [
        "org units: 0 created, 0 updated, 14 unchanged, 0 deactivated",
        "people: 0 created, 0 updated, 33 unchanged, 0 deactivated",
        "roles: 0 added, 0 removed",
    ]


def test_a_bad_row_is_named_and_nothing_is_imported(
    committed_app: Flask, files: DirectoryFiles
) -> None:
    assert invoke(committed_app, *files.write(suffix="-demo")).exit_code == 0
    with app_session(committed_app) as session:
        before = snapshot(session)
    files.person("100001")["name"] = "Henk Jansen-de Wit"  # a good change, on line 2
    files.unit("FIN")["kind"] = "ministerie"
    last = files.add_person("100099", unit_code="BZK-NOPE")

    result = invoke(committed_app, *files.write())

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "org.csv line 12: unknown kind 'ministerie' (one of government, ministry, "
        "directorate_general, directorate, agency, department, team)",
        f"people.csv line {last}: unknown unit code 'BZK-NOPE'",
        "Error: 2 problem(s); nothing was imported",
    ]
    with app_session(committed_app) as session:
        assert snapshot(session) == before


def test_a_non_utf8_file_is_refused(committed_app: Flask, files: DirectoryFiles) -> None:
    org, people = files.write()
    people.write_bytes(people.read_bytes().decode().encode("utf-16"))

    result = invoke(committed_app, org, people)

    assert result.exit_code == 1
    assert "people.csv line 1: not UTF-8 text (save the file as 'CSV UTF-8')" in result.stderr
    assert "nothing was imported" in result.stderr
    assert rows_in(committed_app) == {}


def test_a_dry_run_reports_but_writes_nothing(committed_app: Flask, files: DirectoryFiles) -> None:
    result = invoke(committed_app, *files.write(), "--dry-run")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "dry run, nothing changed: org units: 14 created, 0 updated, 0 unchanged, 0 deactivated",
        "dry run, nothing changed: people: 33 created, 0 updated, 0 unchanged, 0 deactivated",
        "dry run, nothing changed: roles: 12 added, 0 removed",
    ]
    assert rows_in(committed_app) == {}


def test_a_dry_run_of_a_bad_file_fails_like_the_real_thing(
    committed_app: Flask, files: DirectoryFiles
) -> None:
    files.person("100005")["email"] = "geen adres"

    result = invoke(committed_app, *files.write(), "--dry-run")

    assert result.exit_code == 1
    assert "people.csv line 6: 'geen adres' is not an e-mail address" in result.stderr


def test_deactivate_missing_is_reported(committed_app: Flask, files: DirectoryFiles) -> None:
    assert invoke(committed_app, *files.write(suffix="-demo")).exit_code == 0
    files.drop_person("300005")
    files.drop_unit("FIN-ADR")

    result = invoke(committed_app, *files.write(), "--deactivate-missing")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:2] == [
        "org units: 0 created, 0 updated, 13 unchanged, 1 deactivated",
        "people: 0 created, 0 updated, 32 unchanged, 1 deactivated",
    ]


def test_a_missing_file_is_a_usage_error(committed_app: Flask, files: DirectoryFiles) -> None:
    org, _ = files.write()

    result = invoke(committed_app, org, files.root / "nope.csv")

    assert result.exit_code == 2
    assert "does not exist" in result.stderr
