"""Importing the organisation directory from two CSV files, all or nothing.

``ORG.csv`` lists org units, ``PEOPLE.csv`` the people in them (see ``docs/directory-import.md``
for the columns). Both files are read and checked completely before anything is written; any
bad row stops the import with a message naming its file and line. Importing the same files
again changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.accounts.models import Account, Role, RoleAssignment, RoleSource
from complaints.accounts.services import deactivate_account
from complaints.audit.services import Actor, record_event
from complaints.crypto.keystore import KeyStore
from complaints.directory.models import OrgUnit, OrgUnitKind, Person

ORG_COLUMNS = ("code", "name", "kind", "parent_code")
ORG_REQUIRED = ("code", "name", "kind")
PEOPLE_COLUMNS = (
    "employee_number",
    "name",
    "email",
    "unit_code",
    "manager_employee_number",
    "job_title",
    "roles",
)
PEOPLE_REQUIRED = ("employee_number", "name", "email", "unit_code")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
MAX_NAME = 200


@dataclass(frozen=True)
class ImportProblem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file} line {self.line}: {self.message}"


class DirectoryImportError(Exception):
    """The files were refused; nothing was written."""

    def __init__(self, problems: Sequence[ImportProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the directory files")
        self.problems = list(problems)


@dataclass
class Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0

    def __str__(self) -> str:
        return (
            f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.deactivated} deactivated"
        )


@dataclass
class ImportReport:
    units: Tally = field(default_factory=Tally)
    people: Tally = field(default_factory=Tally)
    roles_added: int = 0
    roles_removed: int = 0


@dataclass(frozen=True)
class UnitRow:
    line: int
    code: str
    name: str
    kind: OrgUnitKind
    parent_code: str | None


@dataclass(frozen=True)
class PersonRow:
    line: int
    employee_number: str
    name: str
    email: str
    unit_code: str
    manager_number: str | None
    job_title: str
    roles: frozenset[tuple[Role, str | None]]


# Reading -------------------------------------------------------------------------------------


def read_rows(
    file_name: str, text: str, columns: Sequence[str], required: Sequence[str]
) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a CSV file as dicts with their line numbers; comma or semicolon separated."""
    text = text.removeprefix("\ufeff")
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise DirectoryImportError([ImportProblem(file_name, 1, "the file is empty")]) from None
    missing = [name for name in required if name not in header]
    unknown = [name for name in header if name not in columns]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown column(s) {', '.join(unknown)}")
        raise DirectoryImportError([ImportProblem(file_name, 1, "; ".join(parts))])
    try:
        for values in reader:
            if not any(value.strip() for value in values):
                continue
            if len(values) != len(header):
                raise DirectoryImportError(
                    [
                        ImportProblem(
                            file_name,
                            reader.line_num,
                            f"expected {len(header)} fields, found {len(values)}",
                        )
                    ]
                )
            yield (
                reader.line_num,
                {name: value.strip() for name, value in zip(header, values, strict=True)},
            )
    except csv.Error as exc:
        raise DirectoryImportError(
            [ImportProblem(file_name, reader.line_num, f"not valid CSV ({exc})")]
        ) from None


def parse_units(file_name: str, text: str) -> tuple[list[UnitRow], list[ImportProblem]]:
    rows: list[UnitRow] = []
    problems: list[ImportProblem] = []
    seen: set[str] = set()
    for line, raw in read_rows(file_name, text, ORG_COLUMNS, ORG_REQUIRED):
        problem = _missing(raw, ORG_REQUIRED)
        if problem is None and not _CODE.match(raw["code"]):
            problem = (
                f"code {raw['code']!r} may hold only letters, digits, '.', '_' and '-' (at most 40)"
            )
        if problem is None and raw["code"].upper() in seen:
            problem = f"code {raw['code']!r} appears twice"
        if problem is None and raw["kind"] not in {kind.value for kind in OrgUnitKind}:
            problem = (
                f"unknown kind {raw['kind']!r} (one of {', '.join(k.value for k in OrgUnitKind)})"
            )
        if problem is None and len(raw["name"]) > MAX_NAME:
            problem = f"name is longer than {MAX_NAME} characters"
        if problem:
            problems.append(ImportProblem(file_name, line, problem))
            continue
        seen.add(raw["code"].upper())
        rows.append(
            UnitRow(
                line,
                raw["code"],
                raw["name"],
                OrgUnitKind(raw["kind"]),
                raw.get("parent_code") or None,
            )
        )
    return rows, problems


def parse_people(file_name: str, text: str) -> tuple[list[PersonRow], list[ImportProblem]]:
    rows: list[PersonRow] = []
    problems: list[ImportProblem] = []
    numbers: set[str] = set()
    emails: set[str] = set()
    for line, raw in read_rows(file_name, text, PEOPLE_COLUMNS, PEOPLE_REQUIRED):
        problem = _missing(raw, PEOPLE_REQUIRED)
        email = raw.get("email", "").lower()
        if problem is None and not _CODE.match(raw["employee_number"]):
            problem = f"employee number {raw['employee_number']!r} is not valid"
        if problem is None and raw["employee_number"] in numbers:
            problem = f"employee number {raw['employee_number']!r} appears twice"
        if problem is None and not _EMAIL.match(email):
            problem = f"{raw['email']!r} is not an e-mail address"
        if problem is None and email in emails:
            problem = f"e-mail address {raw['email']!r} appears twice"
        if problem is None and len(raw["name"]) > MAX_NAME:
            problem = f"name is longer than {MAX_NAME} characters"
        roles: frozenset[tuple[Role, str | None]] = frozenset()
        if problem is None:
            try:
                roles = _parse_roles(raw.get("roles", ""))
            except ValueError as exc:
                problem = str(exc)
        manager = raw.get("manager_employee_number") or None
        if problem is None and manager == raw["employee_number"]:
            problem = "a person cannot be their own manager"
        if problem:
            problems.append(ImportProblem(file_name, line, problem))
            continue
        numbers.add(raw["employee_number"])
        emails.add(email)
        rows.append(
            PersonRow(
                line,
                raw["employee_number"],
                raw["name"],
                email,
                raw["unit_code"],
                manager,
                raw.get("job_title", ""),
                roles,
            )
        )
    return rows, problems


def _parse_roles(text: str) -> frozenset[tuple[Role, str | None]]:
    """``confidant@BZK; auditor`` -> {(confidant, "BZK"), (auditor, None)}."""
    roles = set()
    valid = ", ".join(role.value for role in Role)
    for item in filter(None, (part.strip() for part in text.replace(",", ";").split(";"))):
        name, _, scope = item.partition("@")
        try:
            role = Role(name.strip().lower())
        except ValueError:
            raise ValueError(f"unknown role {name.strip()!r} (one of {valid})") from None
        roles.add((role, scope.strip() or None))
    return frozenset(roles)


def _missing(raw: dict[str, str], required: Iterable[str]) -> str | None:
    empty = [name for name in required if not raw.get(name)]
    return f"{', '.join(empty)} must not be empty" if empty else None


# Checking against what is already there -----------------------------------------------------------


def _check_tree(
    file_name: str, rows: Sequence[UnitRow], existing: dict[str, OrgUnit]
) -> list[ImportProblem]:
    problems = []
    kind_of = {code: unit.kind for code, unit in existing.items()} | {r.code: r.kind for r in rows}
    parent_of = {
        code: (unit.parent.code if unit.parent else None) for code, unit in existing.items()
    }
    parent_of.update({row.code: row.parent_code for row in rows})
    for row in rows:
        if row.kind is OrgUnitKind.GOVERNMENT:
            if row.parent_code:
                problems.append(
                    ImportProblem(file_name, row.line, "the government unit has no parent")
                )
            continue
        if not row.parent_code:
            problems.append(ImportProblem(file_name, row.line, "parent_code must not be empty"))
            continue
        if row.parent_code not in kind_of:
            problems.append(
                ImportProblem(file_name, row.line, f"unknown parent code {row.parent_code!r}")
            )
            continue
        if (
            row.kind is OrgUnitKind.MINISTRY
            and kind_of[row.parent_code] is not OrgUnitKind.GOVERNMENT
        ):
            problems.append(
                ImportProblem(
                    file_name, row.line, "a ministry's parent must be the government unit"
                )
            )
            continue
        if (
            row.kind is not OrgUnitKind.MINISTRY
            and kind_of[row.parent_code] is OrgUnitKind.GOVERNMENT
        ):
            problems.append(
                ImportProblem(file_name, row.line, f"a {row.kind.value} must sit under a ministry")
            )
            continue
        seen = {row.code}
        cursor: str | None = row.parent_code
        while cursor is not None:
            if cursor in seen:
                problems.append(
                    ImportProblem(file_name, row.line, f"unit {row.code!r} is its own ancestor")
                )
                break
            seen.add(cursor)
            cursor = parent_of.get(cursor)
    return problems


def _check_people(
    file_name: str,
    rows: Sequence[PersonRow],
    unit_codes: set[str],
    existing: dict[str, Person],
    existing_emails: dict[str, str],
) -> list[ImportProblem]:
    problems = []
    manager_of = {number: person.manager_id for number, person in existing.items()}
    numbers_by_id = {person.id: number for number, person in existing.items()}
    manager_number = {n: numbers_by_id.get(m) if m else None for n, m in manager_of.items()}
    manager_number.update({row.employee_number: row.manager_number for row in rows})
    for row in rows:
        if row.unit_code not in unit_codes:
            problems.append(
                ImportProblem(file_name, row.line, f"unknown unit code {row.unit_code!r}")
            )
            continue
        for _role, scope in row.roles:
            if scope is not None and scope not in unit_codes:
                problems.append(ImportProblem(file_name, row.line, f"unknown role scope {scope!r}"))
                break
        else:
            owner = existing_emails.get(row.email)
            if owner is not None and owner != row.employee_number:
                problems.append(
                    ImportProblem(
                        file_name,
                        row.line,
                        f"e-mail address {row.email!r} belongs to employee {owner}",
                    )
                )
                continue
            if row.manager_number and row.manager_number not in manager_number:
                problems.append(
                    ImportProblem(file_name, row.line, f"unknown manager {row.manager_number!r}")
                )
                continue
            seen = {row.employee_number}
            cursor: str | None = row.manager_number
            while cursor is not None:
                if cursor in seen:
                    problems.append(
                        ImportProblem(
                            file_name, row.line, "the manager chain loops back to this person"
                        )
                    )
                    break
                seen.add(cursor)
                cursor = manager_number.get(cursor)
    return problems


# Writing -------------------------------------------------------------------------------------


def import_directory(
    session: Session,
    keys: KeyStore,
    *,
    org_file: Path,
    people_file: Path,
    actor: Actor,
    now: datetime,
    deactivate_missing: bool = False,
) -> ImportReport:
    """Check both files completely, then bring the directory in line with them (one flush)."""
    units_text = _read_text(org_file)
    people_text = _read_text(people_file)
    unit_rows, problems = parse_units(org_file.name, units_text)
    people_rows, people_problems = parse_people(people_file.name, people_text)
    problems += people_problems

    existing_units = {
        unit.code: unit
        for unit in session.scalars(sa.select(OrgUnit).options(sa.orm.selectinload(OrgUnit.parent)))
    }
    existing_people = {p.employee_number: p for p in session.scalars(sa.select(Person))}
    problems += _check_tree(org_file.name, unit_rows, existing_units)
    unit_codes = set(existing_units) | {row.code for row in unit_rows}
    existing_emails = {p.email.lower(): number for number, p in existing_people.items()}
    filed_numbers = {row.employee_number for row in people_rows}
    # An address may move to someone else in the same import when its old owner also changes.
    moved = {row.email for row in people_rows}
    existing_emails = {
        email: number
        for email, number in existing_emails.items()
        if number not in filed_numbers or email in moved
    }
    problems += _check_people(
        people_file.name, people_rows, unit_codes, existing_people, existing_emails
    )
    if problems:
        raise DirectoryImportError(sorted(problems, key=lambda p: (p.file, p.line)))

    report = ImportReport()
    units = _apply_units(session, unit_rows, existing_units, report.units, now)
    _apply_people(session, people_rows, units, existing_people, report, now)
    if deactivate_missing:
        _deactivate_missing(
            session, keys, unit_rows, people_rows, units, existing_people, report, actor, now
        )
    session.flush()
    record_event(
        session,
        keys,
        actor=actor,
        action="directory.imported",
        now=now,
        details={
            "units_created": report.units.created,
            "units_updated": report.units.updated,
            "people_created": report.people.created,
            "people_updated": report.people.updated,
            "people_deactivated": report.people.deactivated,
            "roles_added": report.roles_added,
            "roles_removed": report.roles_removed,
        },
    )
    return report


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise DirectoryImportError(
            [ImportProblem(path.name, line, "not UTF-8 text (save the file as 'CSV UTF-8')")]
        ) from None


def _apply_units(
    session: Session,
    rows: Sequence[UnitRow],
    existing: dict[str, OrgUnit],
    tally: Tally,
    now: datetime,
) -> dict[str, OrgUnit]:
    units = dict(existing)
    parent_of = {
        code: (unit.parent.code if unit.parent else None) for code, unit in existing.items()
    }
    parent_of.update({row.code: row.parent_code for row in rows})

    def depth(code: str) -> int:
        parent = parent_of.get(code)
        return 0 if parent is None else 1 + depth(parent)

    # Parents before children, so each unit can take its ministry from its parent.
    for row in sorted(rows, key=lambda r: depth(r.code)):
        parent = units[row.parent_code] if row.parent_code else None
        unit = units.get(row.code)
        values: dict[str, object] = {
            "name": row.name,
            "kind": row.kind,
            "parent_id": parent.id if parent else None,
            "ministry_id": _ministry_of(row.kind, parent, unit),
            "active": True,
        }
        if unit is None:
            unit = OrgUnit(code=row.code, updated_at=now, **values)
            session.add(unit)
            session.flush()
            if row.kind is OrgUnitKind.MINISTRY:
                unit.ministry_id = unit.id
            units[row.code] = unit
            tally.created += 1
        elif _update(unit, values, now):
            tally.updated += 1
        else:
            tally.unchanged += 1
    session.flush()
    return units


def _ministry_of(kind: OrgUnitKind, parent: OrgUnit | None, unit: OrgUnit | None) -> int | None:
    if kind is OrgUnitKind.MINISTRY:
        return unit.id if unit else None  # a new ministry gets its own id once it has one
    if kind is OrgUnitKind.GOVERNMENT or parent is None:
        return None
    return parent.ministry_id


def _apply_people(
    session: Session,
    rows: Sequence[PersonRow],
    units: dict[str, OrgUnit],
    existing: dict[str, Person],
    report: ImportReport,
    now: datetime,
) -> None:
    people = dict(existing)
    # E-mail addresses are unique: park the ones that change, so two people can swap addresses.
    for row in rows:
        person = people.get(row.employee_number)
        if person is not None and person.email != row.email:
            person.email = f"moving-{person.id}@invalid"
    session.flush()
    created = set()
    for row in rows:
        if row.employee_number not in people:
            person = Person(
                employee_number=row.employee_number,
                name=row.name,
                email=row.email,
                unit_id=units[row.unit_code].id,
                updated_at=now,
            )
            session.add(person)
            people[row.employee_number] = person
            created.add(row.employee_number)
            report.people.created += 1
    session.flush()  # every person has an id now, so managers can be linked
    for row in rows:
        person = people[row.employee_number]
        values: dict[str, object] = {
            "name": row.name,
            "email": row.email,
            "job_title": row.job_title,
            "unit_id": units[row.unit_code].id,
            "manager_id": people[row.manager_number].id if row.manager_number else None,
            "active": True,
        }
        changed = _update(person, values, now)
        if row.employee_number not in created:
            if changed:
                report.people.updated += 1
            else:
                report.people.unchanged += 1
        session.execute(
            sa.update(Account)
            .where(Account.person_id == person.id, Account.login != row.email)
            .values(login=row.email)
        )
        added, removed = _apply_roles(session, person, row.roles, units, now)
        report.roles_added += added
        report.roles_removed += removed


def _apply_roles(
    session: Session,
    person: Person,
    wanted: frozenset[tuple[Role, str | None]],
    units: dict[str, OrgUnit],
    now: datetime,
) -> tuple[int, int]:
    target = {(role, units[scope].id if scope else None) for role, scope in wanted}
    current = session.scalars(
        sa.select(RoleAssignment).where(
            RoleAssignment.person_id == person.id, RoleAssignment.source == RoleSource.DIRECTORY
        )
    ).all()
    have = {(a.role, a.scope_unit_id): a for a in current}
    removed = 0
    for key, assignment in have.items():
        if key not in target:
            session.delete(assignment)
            removed += 1
    added = 0
    for role, scope_id in sorted(
        target - set(have), key=lambda item: (item[0].value, item[1] or 0)
    ):
        session.add(
            RoleAssignment(
                person_id=person.id,
                role=role,
                scope_unit_id=scope_id,
                source=RoleSource.DIRECTORY,
                created_at=now,
            )
        )
        added += 1
    return added, removed


def _deactivate_missing(
    session: Session,
    keys: KeyStore,
    unit_rows: Sequence[UnitRow],
    people_rows: Sequence[PersonRow],
    units: dict[str, OrgUnit],
    existing_people: dict[str, Person],
    report: ImportReport,
    actor: Actor,
    now: datetime,
) -> None:
    listed_units = {row.code for row in unit_rows}
    for code, unit in units.items():
        if code not in listed_units and unit.active:
            unit.active = False
            unit.updated_at = now
            report.units.deactivated += 1
    listed_people = {row.employee_number for row in people_rows}
    for number, person in existing_people.items():
        if number in listed_people or not person.active:
            continue
        person.active = False
        person.updated_at = now
        report.people.deactivated += 1
        account = session.scalar(sa.select(Account).where(Account.person_id == person.id))
        if account is not None and account.active:
            deactivate_account(session, keys, account, actor=actor, now=now)


def _update(record: OrgUnit | Person, values: dict[str, object], now: datetime) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(record, name) != value:
            setattr(record, name, value)
            changed = True
    if changed:
        record.updated_at = now
    return changed
