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
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Generic, TypeVar

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
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_KINDS = {kind.value for kind in OrgUnitKind}
_ROLES = {role.value for role in Role}
MAX_NAME = 200
MAX_EMAIL = 254


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

    def count(self, changed: bool) -> None:
        if changed:
            self.updated += 1
        else:
            self.unchanged += 1

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


RowT = TypeVar("RowT", UnitRow, PersonRow)


@dataclass
class ParsedFile(Generic[RowT]):
    """The good rows of one file, and what was wrong with the others."""

    name: str
    rows: list[RowT] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)
    # Codes (or employee numbers) on refused rows: references to them are not reported again.
    refused: set[str] = field(default_factory=set)
    # False when the file could not be read to its end, so references into it cannot be checked.
    readable: bool = True

    def read(
        self, data: bytes, columns: Sequence[str], required: Sequence[str]
    ) -> list[tuple[int, dict[str, str]]]:
        try:
            rows, problems = read_rows(self.name, data, columns, required)
        except DirectoryImportError as exc:
            self.problems += exc.problems
            self.readable = False
            return []
        self.problems += problems
        return rows

    def refuse(self, line: int, message: str, key: str = "") -> None:
        self.problems.append(ImportProblem(self.name, line, message))
        if key:
            self.refused.add(key)


# Reading -------------------------------------------------------------------------------------


def read_rows(
    file_name: str, data: bytes, columns: Sequence[str], required: Sequence[str]
) -> tuple[list[tuple[int, dict[str, str]]], list[ImportProblem]]:
    """Rows of a UTF-8 CSV file as dicts with their line numbers, and problems with other rows.

    Comma or semicolon separated (whichever the header uses). A file that cannot be read at all
    (encoding, header, CSV syntax) raises :class:`DirectoryImportError`.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DirectoryImportError(
            [ImportProblem(file_name, line, "not UTF-8 text (save the file as 'CSV UTF-8')")]
        ) from None
    if not text.strip():
        raise DirectoryImportError([ImportProblem(file_name, 1, "the file is empty")])
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[tuple[int, dict[str, str]]] = []
    problems: list[ImportProblem] = []
    try:
        header = [name.strip().lower() for name in next(reader)]
        _check_header(file_name, header, columns, required)
        end = reader.line_num
        for values in reader:
            # A quoted field may span lines: report the line the row starts on.
            line, end = end + 1, reader.line_num
            if not any(value.strip() for value in values):
                continue
            if len(values) != len(header):
                problems.append(
                    ImportProblem(
                        file_name, line, f"expected {len(header)} fields, found {len(values)}"
                    )
                )
            else:
                rows.append((line, {n: v.strip() for n, v in zip(header, values, strict=True)}))
    except csv.Error as exc:
        raise DirectoryImportError(
            [ImportProblem(file_name, reader.line_num, f"not valid CSV ({exc})")]
        ) from None
    if not rows and not problems:
        raise DirectoryImportError([ImportProblem(file_name, 2, "no rows below the header")])
    return rows, problems


def _check_header(
    file_name: str, header: Sequence[str], columns: Sequence[str], required: Sequence[str]
) -> None:
    faults = []
    if missing := [name for name in required if name not in header]:
        faults.append(f"missing column(s) {', '.join(missing)}")
    if unknown := [name for name in header if name not in columns]:
        faults.append(f"unknown column(s) {', '.join(repr(name) for name in unknown)}")
    if twice := sorted({name for name in header if header.count(name) > 1}):
        faults.append(f"column(s) {', '.join(twice)} appear twice")
    if faults:
        message = "; ".join(faults) + f" (the columns are: {', '.join(columns)})"
        raise DirectoryImportError([ImportProblem(file_name, 1, message)])


def parse_units(file_name: str, data: bytes) -> ParsedFile[UnitRow]:
    """The org units in an org file, each checked on its own (the tree is checked later)."""
    parsed = ParsedFile[UnitRow](file_name)
    seen: set[str] = set()
    for line, raw in parsed.read(data, ORG_COLUMNS, ORG_REQUIRED):
        try:
            row = _unit_row(line, raw, seen)
        except ValueError as exc:
            parsed.refuse(line, str(exc), raw["code"])
            continue
        seen.add(row.code)
        parsed.rows.append(row)
    return parsed


def _unit_row(line: int, raw: dict[str, str], seen: Collection[str]) -> UnitRow:
    _check_fields(raw, ORG_REQUIRED)
    code, kind = raw["code"], raw["kind"].lower()
    if not _CODE.fullmatch(code):
        raise ValueError(
            f"code {code!r} may hold only letters, digits, '.', '_' and '-' (at most 40)"
        )
    if code in seen:
        raise ValueError(f"code {code!r} appears twice")
    if kind not in _KINDS:
        raise ValueError(f"unknown kind {raw['kind']!r} (one of {', '.join(OrgUnitKind)})")
    if len(raw["name"]) > MAX_NAME:
        raise ValueError(f"name is longer than {MAX_NAME} characters")
    return UnitRow(line, code, raw["name"], OrgUnitKind(kind), raw.get("parent_code") or None)


def parse_people(file_name: str, data: bytes) -> ParsedFile[PersonRow]:
    """The people in a people file, each checked on its own (references are checked later)."""
    parsed = ParsedFile[PersonRow](file_name)
    numbers: set[str] = set()
    emails: set[str] = set()
    for line, raw in parsed.read(data, PEOPLE_COLUMNS, PEOPLE_REQUIRED):
        try:
            row = _person_row(line, raw, numbers, emails)
        except ValueError as exc:
            parsed.refuse(line, str(exc), raw["employee_number"])
            continue
        numbers.add(row.employee_number)
        emails.add(row.email)
        parsed.rows.append(row)
    return parsed


def _person_row(
    line: int, raw: dict[str, str], numbers: Collection[str], emails: Collection[str]
) -> PersonRow:
    _check_fields(raw, PEOPLE_REQUIRED)
    number, email = raw["employee_number"], raw["email"].lower()
    manager = raw.get("manager_employee_number") or None
    job_title = raw.get("job_title", "")
    if not _CODE.fullmatch(number):
        raise ValueError(
            f"employee number {number!r} may hold only letters, digits, '.', '_' and '-' "
            "(at most 40)"
        )
    if number in numbers:
        raise ValueError(f"employee number {number!r} appears twice")
    if len(email) > MAX_EMAIL or not _EMAIL.fullmatch(email):
        raise ValueError(f"{raw['email']!r} is not an e-mail address")
    if email in emails:
        raise ValueError(f"e-mail address {email!r} appears twice")
    if len(raw["name"]) > MAX_NAME:
        raise ValueError(f"name is longer than {MAX_NAME} characters")
    if len(job_title) > MAX_NAME:
        raise ValueError(f"job_title is longer than {MAX_NAME} characters")
    if manager == number:
        raise ValueError("a person cannot be their own manager")
    roles = _parse_roles(raw.get("roles", ""))
    return PersonRow(line, number, raw["name"], email, raw["unit_code"], manager, job_title, roles)


def _parse_roles(text: str) -> frozenset[tuple[Role, str | None]]:
    """``confidant@BZK; auditor`` -> {(confidant, "BZK"), (auditor, None)}."""
    roles = set()
    for item in filter(None, (part.strip() for part in text.replace(",", ";").split(";"))):
        name, at, scope = (part.strip() for part in item.partition("@"))
        if name.lower() not in _ROLES:
            raise ValueError(f"unknown role {name!r} (one of {', '.join(Role)})")
        if at and not scope:
            raise ValueError(f"role {item!r} has no unit code after '@'")
        roles.add((Role(name.lower()), scope or None))
    return frozenset(roles)


def _check_fields(raw: Mapping[str, str], required: Iterable[str]) -> None:
    if empty := [name for name in required if not raw[name]]:
        raise ValueError(f"{', '.join(empty)} must not be empty")
    if broken := [name for name, value in raw.items() if _CONTROL.search(value)]:
        raise ValueError(f"{', '.join(broken)} must not hold a line break or control character")


# Checking references, against the files and what is already there -------------------------------


def _check_tree(units: ParsedFile[UnitRow], known: Mapping[str, OrgUnit]) -> None:
    """One government unit; ministries directly under it; everything else under a ministry."""
    code_of = {unit.id: code for code, unit in known.items()}
    kind_of = {code: unit.kind for code, unit in known.items()}
    kind_of.update({row.code: row.kind for row in units.rows})
    parent_of = {code: code_of.get(unit.parent_id or 0) for code, unit in known.items()}
    parent_of.update({row.code: row.parent_code for row in units.rows})
    listed = {row.code for row in units.rows}
    # A government unit that was deactivated (after the root was renamed, say) no longer counts.
    governments = sorted(
        {row.code for row in units.rows if row.kind is OrgUnitKind.GOVERNMENT}
        | {
            code
            for code, unit in known.items()
            if code not in listed and unit.active and unit.kind is OrgUnitKind.GOVERNMENT
        }
    )
    for row in units.rows:
        parent_kind = kind_of.get(row.parent_code or "")
        if row.kind is OrgUnitKind.GOVERNMENT:
            others = [code for code in governments if code != row.code]
            if row.parent_code:
                units.refuse(row.line, "the government unit has no parent")
            elif others:
                units.refuse(
                    row.line, f"there can be only one government unit (also {others[0]!r})"
                )
            continue
        if not row.parent_code:
            units.refuse(row.line, "parent_code must not be empty (only the government has none)")
        elif parent_kind is None:
            if row.parent_code not in units.refused:
                units.refuse(row.line, f"unknown parent code {row.parent_code!r}")
        elif row.kind is OrgUnitKind.MINISTRY and parent_kind is not OrgUnitKind.GOVERNMENT:
            units.refuse(row.line, "a ministry must sit directly under the government unit")
        elif row.kind is not OrgUnitKind.MINISTRY and parent_kind is OrgUnitKind.GOVERNMENT:
            units.refuse(row.line, "only a ministry may sit directly under the government unit")
        elif _loops(row.code, parent_of):
            units.refuse(row.line, f"unit {row.code!r} would be its own ancestor")


def _check_people(
    people: ParsedFile[PersonRow],
    units: ParsedFile[UnitRow],
    known_units: Collection[str],
    known_people: Mapping[str, Person],
    taken_emails: Mapping[str, str],
) -> None:
    """Units, role scopes and managers exist; managers do not loop; addresses are free."""
    unit_codes = {*known_units, *(row.code for row in units.rows), *units.refused}
    number_of = {person.id: number for number, person in known_people.items()}
    manager_of = {n: number_of.get(p.manager_id or 0) for n, p in known_people.items()}
    manager_of.update({row.employee_number: row.manager_number for row in people.rows})
    manager_numbers = {*manager_of, *people.refused}
    for row in people.rows:
        scopes = sorted(scope for _, scope in row.roles if scope)
        owner = taken_emails.get(row.email)
        if row.unit_code not in unit_codes:
            people.refuse(row.line, f"unknown unit code {row.unit_code!r}")
        elif unknown_scopes := [scope for scope in scopes if scope not in unit_codes]:
            people.refuse(row.line, f"unknown role scope {unknown_scopes[0]!r}")
        elif owner is not None:
            people.refuse(
                row.line,
                f"e-mail address {row.email!r} belongs to employee {owner}, "
                "who is not in this file",
            )
        elif row.manager_number and row.manager_number not in manager_numbers:
            people.refuse(row.line, f"unknown manager {row.manager_number!r}")
        elif _loops(row.employee_number, manager_of):
            people.refuse(row.line, "the manager chain loops back to this person")


def _loops(start: str, up: Mapping[str, str | None]) -> bool:
    """Whether following ``up`` from ``start`` comes back to ``start``."""
    seen: set[str] = set()
    cursor = up.get(start)
    while cursor is not None and cursor not in seen:
        if cursor == start:
            return True
        seen.add(cursor)
        cursor = up.get(cursor)
    return False


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
    """Check both files completely, then bring the directory in line with them.

    Raises :class:`DirectoryImportError` before writing anything if any row is bad.
    """
    units = parse_units(org_file.name, org_file.read_bytes())
    people = parse_people(people_file.name, people_file.read_bytes())
    existing_units = {unit.code: unit for unit in session.scalars(sa.select(OrgUnit))}
    existing_people = {p.employee_number: p for p in session.scalars(sa.select(Person))}
    if units.readable and people.readable:
        # With --deactivate-missing the files are the whole directory: every reference must
        # point inside them, or it would point at something this import deactivates.
        known_units = {} if deactivate_missing else existing_units
        known_people = {} if deactivate_missing else existing_people
        _check_tree(units, known_units)
        listed = {row.employee_number for row in people.rows} | people.refused
        # Addresses are unique, so one held by someone the file does not list stays theirs.
        # Addresses held by listed people may move between them (two people may swap).
        taken_emails = {
            person.email.lower(): number
            for number, person in existing_people.items()
            if number not in listed
        }
        _check_people(people, units, known_units, known_people, taken_emails)
    problems = [
        *sorted(units.problems, key=lambda p: p.line),
        *sorted(people.problems, key=lambda p: p.line),
    ]
    if problems:
        raise DirectoryImportError(problems)

    report = ImportReport()
    all_units = _apply_units(session, units.rows, existing_units, report.units, now)
    accounts = {account.person_id: account for account in session.scalars(sa.select(Account))}
    all_people = _apply_people(
        session, people.rows, all_units, existing_people, accounts, report.people, now
    )
    report.roles_added, report.roles_removed = _apply_roles(
        session, people.rows, all_units, all_people, now
    )
    if deactivate_missing:
        _deactivate_missing(
            session,
            keys,
            units.rows,
            people.rows,
            all_units,
            all_people,
            accounts,
            report,
            actor=actor,
            now=now,
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
            "units_deactivated": report.units.deactivated,
            "people_created": report.people.created,
            "people_updated": report.people.updated,
            "people_deactivated": report.people.deactivated,
            "roles_added": report.roles_added,
            "roles_removed": report.roles_removed,
        },
    )
    return report


def _apply_units(
    session: Session,
    rows: Sequence[UnitRow],
    existing: Mapping[str, OrgUnit],
    tally: Tally,
    now: datetime,
) -> dict[str, OrgUnit]:
    units = dict(existing)
    for row in rows:
        if row.code not in units:
            units[row.code] = OrgUnit(
                code=row.code, name=row.name, kind=row.kind, active=True, updated_at=now
            )
            session.add(units[row.code])
            tally.created += 1
    session.flush()  # every unit has an id now, so parents and ministries can be linked

    code_of = {unit.id: code for code, unit in existing.items()}
    parent_of = {code: code_of.get(unit.parent_id or 0) for code, unit in existing.items()}
    parent_of.update({row.code: row.parent_code for row in rows})
    kind_of = {code: unit.kind for code, unit in units.items()} | {r.code: r.kind for r in rows}

    def ministry_id(code: str) -> int | None:
        cursor: str | None = code
        while cursor is not None and kind_of[cursor] is not OrgUnitKind.MINISTRY:
            cursor = parent_of[cursor]
        return None if cursor is None else units[cursor].id

    listed = set()
    for row in rows:
        listed.add(row.code)
        changed = _update(
            units[row.code],
            {
                "name": row.name,
                "kind": row.kind,
                "parent_id": units[row.parent_code].id if row.parent_code else None,
                "ministry_id": ministry_id(row.code),
                "active": True,
            },
            now,
        )
        if row.code in existing:
            tally.count(changed)
    # A unit the files no longer list may still have moved to another ministry with its parent.
    for code in existing.keys() - listed:
        if _update(units[code], {"ministry_id": ministry_id(code)}, now):
            tally.updated += 1
    return units


def _apply_people(
    session: Session,
    rows: Sequence[PersonRow],
    units: Mapping[str, OrgUnit],
    existing: Mapping[str, Person],
    accounts: Mapping[int, Account],
    tally: Tally,
    now: datetime,
) -> dict[str, Person]:
    people = dict(existing)
    # Addresses and log-ins are unique: park the ones that change, so two people can swap.
    for row in rows:
        person = people.get(row.employee_number)
        if person is not None and person.email != row.email:
            person.email = f"moving-{person.id}@invalid"
            if (account := accounts.get(person.id)) is not None:
                account.login = f"moving-{account.id}@invalid"
    session.flush()
    for row in rows:
        if row.employee_number not in people:
            people[row.employee_number] = Person(
                employee_number=row.employee_number,
                name=row.name,
                email=row.email,
                unit_id=units[row.unit_code].id,
                active=True,
                updated_at=now,
            )
            session.add(people[row.employee_number])
            tally.created += 1
    session.flush()  # every person has an id now, so managers can be linked

    for row in rows:
        person = people[row.employee_number]
        changed = _update(
            person,
            {
                "name": row.name,
                "email": row.email,
                "job_title": row.job_title,
                "unit_id": units[row.unit_code].id,
                "manager_id": people[row.manager_number].id if row.manager_number else None,
                "active": True,
            },
            now,
        )
        if row.employee_number in existing:
            tally.count(changed)
        if (account := accounts.get(person.id)) is not None:
            account.login = row.email  # the log-in name is the e-mail address
    return people


def _apply_roles(
    session: Session,
    rows: Sequence[PersonRow],
    units: Mapping[str, OrgUnit],
    people: Mapping[str, Person],
    now: datetime,
) -> tuple[int, int]:
    """Give each listed person the directory roles in their row; returns (added, removed).

    Roles given by hand stay; a role the row asks for that was given by hand is not added again.
    """
    held: dict[int, list[RoleAssignment]] = defaultdict(list)
    for assignment in session.scalars(sa.select(RoleAssignment)):
        held[assignment.person_id].append(assignment)
    added = removed = 0
    for row in rows:
        person = people[row.employee_number]
        wanted = {(role, units[scope].id if scope else None) for role, scope in row.roles}
        have = {(a.role, a.scope_unit_id): a for a in held[person.id]}
        for key, assignment in have.items():
            if assignment.source is RoleSource.DIRECTORY and key not in wanted:
                session.delete(assignment)
                removed += 1
        for role, scope_id in sorted(wanted - have.keys(), key=lambda k: (k[0], k[1] or 0)):
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
    units: Mapping[str, OrgUnit],
    people: Mapping[str, Person],
    accounts: Mapping[int, Account],
    report: ImportReport,
    *,
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
    for number, person in people.items():
        if number in listed_people or not person.active:
            continue
        person.active = False
        person.updated_at = now
        report.people.deactivated += 1
        account = accounts.get(person.id)
        if account is not None and account.active:
            deactivate_account(session, keys, account, actor=actor, now=now)


def _update(record: OrgUnit | Person, values: Mapping[str, object], now: datetime) -> bool:
    """Set what differs; touch ``updated_at`` only if something did."""
    changed = False
    for name, value in values.items():
        if getattr(record, name) != value:
            setattr(record, name, value)
            changed = True
    if changed:
        record.updated_at = now
    return changed
