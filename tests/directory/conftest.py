"""Helpers for the directory import tests: editable copies of the demo files, row snapshots."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from complaints import db
from complaints.audit.services import Actor
from complaints.clock import now
from complaints.crypto.services import keystore
from complaints.demo.services import DEMO_FILES
from complaints.directory.services import (
    ORG_COLUMNS,
    PEOPLE_COLUMNS,
    DirectoryImportError,
    ImportReport,
    import_directory,
)
from complaints.models import metadata
from tests.conftest import app_session

Snapshot = dict[str, dict[tuple[Any, ...], tuple[Any, ...]]]


def _demo_rows(name: str) -> list[dict[str, str]]:
    with (DEMO_FILES / name).open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


class DirectoryFiles:
    """The demo org and people files as rows to edit, written to ``root`` on demand."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.org_columns = list(ORG_COLUMNS)
        self.people_columns = list(PEOPLE_COLUMNS)
        self.org = _demo_rows("org.csv")
        self.people = _demo_rows("people.csv")
        # Files given as raw bytes, written instead of the rows (``org.csv``, ``people.csv``).
        self.raw: dict[str, bytes] = {}

    def unit(self, code: str) -> dict[str, str]:
        return next(row for row in self.org if row["code"] == code)

    def person(self, number: str) -> dict[str, str]:
        return next(row for row in self.people if row["employee_number"] == number)

    def unit_line(self, code: str) -> int:
        return self.org.index(self.unit(code)) + 2  # line 1 is the header

    def person_line(self, number: str) -> int:
        return self.people.index(self.person(number)) + 2

    def add_unit(self, code: str, name: str, kind: str, parent_code: str = "") -> int:
        """Append a unit; returns its line number."""
        self.org.append({"code": code, "name": name, "kind": kind, "parent_code": parent_code})
        return len(self.org) + 1

    def add_person(self, number: str, unit_code: str = "BZK-APS", **columns: str) -> int:
        """Append a person; returns its line number."""
        row = dict.fromkeys(PEOPLE_COLUMNS, "")
        row.update(employee_number=number, name=f"Persoon {number}", email=f"p{number}@bzk.example")
        row.update(unit_code=unit_code, **columns)
        self.people.append(row)
        return len(self.people) + 1

    def drop_person(self, number: str) -> None:
        self.people.remove(self.person(number))

    def drop_unit(self, code: str) -> None:
        self.org.remove(self.unit(code))

    def write(
        self, *, delimiter: str = ",", encoding: str = "utf-8", suffix: str = ""
    ) -> tuple[Path, Path]:
        """Write ``org{suffix}.csv`` and ``people{suffix}.csv``; returns their paths."""
        org = _to_csv(self.org_columns, self.org, delimiter).encode(encoding)
        people = _to_csv(self.people_columns, self.people, delimiter).encode(encoding)
        return (
            self.write_bytes(f"org{suffix}.csv", self.raw.get("org.csv", org)),
            self.write_bytes(f"people{suffix}.csv", self.raw.get("people.csv", people)),
        )

    def write_bytes(self, name: str, data: bytes) -> Path:
        path = self.root / name
        path.write_bytes(data)
        return path

    def org_text(self) -> str:
        return _to_csv(self.org_columns, self.org, ",")

    def people_text(self) -> str:
        return _to_csv(self.people_columns, self.people, ",")


def _to_csv(columns: list[str], rows: list[dict[str, str]], delimiter: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(column, "") for column in columns])
    return out.getvalue()


@pytest.fixture
def files(tmp_path: Path) -> DirectoryFiles:
    root = tmp_path / "files"
    root.mkdir()
    return DirectoryFiles(root)


def snapshot(session: Session, *, skip: tuple[str, ...] = ()) -> Snapshot:
    """Every row of every table, by primary key."""
    tables: Snapshot = {}
    for table in metadata.sorted_tables:
        if table.name in skip:
            continue
        columns = list(table.columns)
        key = [columns.index(column) for column in table.primary_key.columns]
        tables[table.name] = {
            tuple(row[i] for i in key): tuple(row) for row in session.execute(sa.select(table))
        }
    return tables


def changed_rows(before: Snapshot, after: Snapshot) -> dict[str, set[tuple[Any, ...]]]:
    """Primary keys of the rows added, removed or changed, per table (tables with none left out)."""
    changes = {}
    for table, rows in after.items():
        old = before[table]
        keys = {key for key in rows.keys() | old.keys() if rows.get(key) != old.get(key)}
        if keys:
            changes[table] = keys
    return changes


def run_import(app: Flask, org: Path, people: Path, **options: Any) -> ImportReport:
    """Import and commit, as the CLI does."""
    with app_session(app) as session:
        return import_directory(
            session,
            keystore(),
            org_file=org,
            people_file=people,
            actor=Actor.operator(),
            now=now(),
            **options,
        )


def refused(app: Flask, org: Path, people: Path, **options: Any) -> list[str]:
    """The problems an import reports, having checked that it wrote nothing at all."""
    with app.app_context():
        session = db.session()
        before = snapshot(session)
        with pytest.raises(DirectoryImportError) as caught:
            import_directory(
                session,
                keystore(),
                org_file=org,
                people_file=people,
                actor=Actor.operator(),
                now=now(),
                **options,
            )
        # Same session, no rollback: not even a flush may have happened.
        assert snapshot(session) == before, "a refused import wrote something"
    return [str(problem) for problem in caught.value.problems]
