"""The directory import: what it writes, what it refuses, and that refusing writes nothing."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from complaints.accounts.models import (
    Account,
    Role,
    RoleAssignment,
    RoleSource,
    SessionStage,
    StaffSession,
)
from complaints.audit.models import ActorKind, AuditEvent
from complaints.directory.models import OrgUnit, OrgUnitKind, Person
from complaints.directory.services import ImportReport, Tally
from tests.conftest import Clock, app_session
from tests.directory.conftest import (
    DirectoryFiles,
    changed_rows,
    refused,
    run_import,
    snapshot,
)
from tests.factories import make_account, make_org

DEMO_UNITS = {  # code: (parent code, ministry code)
    "RIJK": (None, None),
    "BZK": ("RIJK", "BZK"),
    "BZK-DGOO": ("BZK", "BZK"),
    "BZK-APS": ("BZK-DGOO", "BZK"),
    "BZK-CIO": ("BZK-DGOO", "BZK"),
    "BZK-KOOR": ("BZK", "BZK"),
    "JENV": ("RIJK", "JENV"),
    "JENV-DGSB": ("JENV", "JENV"),
    "JENV-DJI": ("JENV-DGSB", "JENV"),
    "JENV-DRC": ("JENV", "JENV"),
    "FIN": ("RIJK", "FIN"),
    "FIN-DGFZ": ("FIN", "FIN"),
    "FIN-AFP": ("FIN-DGFZ", "FIN"),
    "FIN-ADR": ("FIN", "FIN"),
}
DEMO_ROLES = {  # (employee number, role, scope code)
    ("100011", "confidant", "BZK"),
    ("100012", "confidant", None),
    ("100013", "integrity_coordinator", "BZK"),
    ("100014", "committee_secretary", None),
    ("100015", "committee_secretary", None),
    ("100016", "committee_member", None),
    ("100017", "committee_member", None),
    ("100018", "committee_member", None),
    ("100019", "privacy_officer", None),
    ("100020", "admin", None),
    ("200008", "integrity_coordinator", "JENV"),
    ("300005", "auditor", None),
}


def units_by_code(session: Session) -> dict[str, OrgUnit]:
    return {unit.code: unit for unit in session.scalars(sa.select(OrgUnit))}


def people_by_number(session: Session) -> dict[str, Person]:
    return {person.employee_number: person for person in session.scalars(sa.select(Person))}


def roles_held(session: Session) -> set[tuple[str, str, str | None, RoleSource]]:
    code = {unit.id: unit.code for unit in session.scalars(sa.select(OrgUnit))}
    number = {p.id: p.employee_number for p in session.scalars(sa.select(Person))}
    return {
        (number[a.person_id], a.role.value, code.get(a.scope_unit_id or 0), a.source)
        for a in session.scalars(sa.select(RoleAssignment))
    }


def directory_roles(session: Session) -> set[tuple[str, str, str | None]]:
    return {
        (number, role, scope)
        for number, role, scope, source in roles_held(session)
        if source is RoleSource.DIRECTORY
    }


def give_account(app: Flask, clock: Clock, number: str, *, live_sessions: int = 0) -> int:
    """An account (and optionally live log-in sessions) for the person with ``number``."""
    with app_session(app) as session:
        person = people_by_number(session)[number]
        account = make_account(session, person, clock(), enrolled=False).account
        for _ in range(live_sessions):
            session.add(
                StaffSession(
                    token_hash=secrets.token_bytes(32),
                    account_id=account.id,
                    stage=SessionStage.FULL,
                    created_at=clock(),
                    last_seen_at=clock(),
                    expires_at=clock() + timedelta(hours=8),
                )
            )
        return account.id


def import_demo(app: Flask, files: DirectoryFiles) -> ImportReport:
    return run_import(app, *files.write(suffix="-demo"))


# The demo files ------------------------------------------------------------------------------


def test_demo_files_import(app: Flask, files: DirectoryFiles, clock: Clock) -> None:
    report = import_demo(app, files)

    assert report.units == Tally(created=14)
    assert report.people == Tally(created=33)
    assert (report.roles_added, report.roles_removed) == (12, 0)
    with app_session(app) as session:
        units = units_by_code(session)
        code_of = {unit.id: code for code, unit in units.items()}
        assert {
            code: (code_of.get(unit.parent_id or 0), code_of.get(unit.ministry_id or 0))
            for code, unit in units.items()
        } == DEMO_UNITS
        assert units["BZK"].ministry_id == units["BZK"].id
        assert units["JENV-DJI"].kind is OrgUnitKind.AGENCY
        assert units["BZK-KOOR"].name == (
            "Secretariaat Klachtencommissie Ongewenste Omgangsvormen Rijk"
        )
        assert all(unit.active and unit.updated_at == clock() for unit in units.values())

        people = people_by_number(session)
        number_of = {person.id: number for number, person in people.items()}
        assert {
            number: number_of.get(person.manager_id or 0) for number, person in people.items()
        } == {
            row["employee_number"]: row["manager_employee_number"] or None for row in files.people
        }
        assert number_of[people["200005"].manager_id or 0] == "200004"
        assert people["100001"].manager_id is None
        aylin = people["100002"]
        assert (aylin.name, aylin.email, aylin.job_title) == (
            "Aylin Demir",
            "a.demir@bzk.example",
            "Directeur",
        )
        assert aylin.unit_id == units["BZK-APS"].id
        assert people["300004"].name == "Ayşe Kaya"
        assert all(person.active for person in people.values())

        assert directory_roles(session) == DEMO_ROLES
        assert roles_held(session) == {(*role, RoleSource.DIRECTORY) for role in DEMO_ROLES}


def test_importing_the_same_files_again_changes_no_row(
    app: Flask, files: DirectoryFiles, clock: Clock
) -> None:
    import_demo(app, files)
    with app_session(app) as session:
        before = snapshot(session)
    clock.advance(days=1)  # a touched row would show the new updated_at

    report = import_demo(app, files)

    assert report.units == Tally(unchanged=14)
    assert report.people == Tally(unchanged=33)
    assert (report.roles_added, report.roles_removed) == (0, 0)
    with app_session(app) as session:
        after = snapshot(session)
    # The only new row is the audit event that says the import ran.
    assert changed_rows(before, after).keys() == {"audit_events"}
    assert len(after["audit_events"]) == len(before["audit_events"]) + 1


def test_a_change_is_an_update_and_only_that(
    app: Flask, files: DirectoryFiles, clock: Clock
) -> None:
    import_demo(app, files)
    give_account(app, clock, "100004")
    with app_session(app) as session:
        before = snapshot(session)
        units = units_by_code(session)
        people = people_by_number(session)
        unit_ids = {code: unit.id for code, unit in units.items()}
        person_ids = {number: person.id for number, person in people.items()}
        old_role = next(
            a.id
            for a in session.scalars(sa.select(RoleAssignment))
            if a.person_id == person_ids["100012"]
        )
    files.unit("FIN-ADR")["name"] = "Auditdienst Rijk (ADR)"
    files.person("100004")["name"] = "Sanne de Vries-Bakker"
    files.person("100006")["manager_employee_number"] = "100005"
    files.person("100008")["unit_code"] = "BZK-APS"
    files.person("100012")["roles"] = "confidant@JENV"
    clock.advance(hours=1)

    report = run_import(app, *files.write())

    assert report.units == Tally(updated=1, unchanged=13)
    assert report.people == Tally(updated=3, unchanged=30)  # a new role is not a new person
    assert (report.roles_added, report.roles_removed) == (1, 1)
    with app_session(app) as session:
        after = snapshot(session)
        units = units_by_code(session)
        people = people_by_number(session)
        assert units["FIN-ADR"].name == "Auditdienst Rijk (ADR)"
        assert units["FIN-ADR"].updated_at == clock()
        assert units["FIN"].updated_at < clock()
        assert people["100004"].name == "Sanne de Vries-Bakker"
        assert people["100006"].manager_id == person_ids["100005"]
        assert people["100008"].unit_id == unit_ids["BZK-APS"]
        assert {p.employee_number for p in people.values() if p.updated_at == clock()} == {
            "100004",
            "100006",
            "100008",
        }
        assert directory_roles(session) == (DEMO_ROLES - {("100012", "confidant", None)}) | {
            ("100012", "confidant", "JENV")
        }
        new_role = next(
            a.id
            for a in session.scalars(sa.select(RoleAssignment))
            if a.person_id == person_ids["100012"]
        )
    assert changed_rows(before, after) == {
        "org_units": {(unit_ids["FIN-ADR"],)},
        "people": {(person_ids[n],) for n in ("100004", "100006", "100008")},
        "role_assignments": {(old_role,), (new_role,)},
        "audit_events": {(len(before["audit_events"]) + 1,)},
    }


def test_a_unit_that_moves_takes_its_subtree_to_the_new_ministry(
    app: Flask, files: DirectoryFiles
) -> None:
    import_demo(app, files)
    files.unit("BZK-DGOO")["parent_code"] = "JENV"
    files.drop_unit("BZK-APS")  # no longer listed, but still there and still below BZK-DGOO
    for row in files.people:
        if row["unit_code"] == "BZK-APS":
            row["unit_code"] = "BZK-CIO"

    run_import(app, *files.write())

    with app_session(app) as session:
        units = units_by_code(session)
        jenv = units["JENV"].id
        assert units["BZK-DGOO"].parent_id == jenv
        assert [units[c].ministry_id for c in ("BZK-DGOO", "BZK-CIO", "BZK-APS")] == [jenv] * 3
        assert units["BZK-APS"].active  # not listed, but nobody asked to deactivate it
        assert units["BZK-KOOR"].ministry_id == units["BZK"].id


# Refused files: each names the file and line, and nothing is written -------------------------


def _missing_column(f: DirectoryFiles) -> list[str]:
    f.org_columns.remove("kind")
    return [
        "org.csv line 1: missing column(s) kind (the columns are: code, name, kind, parent_code)"
    ]


_PEOPLE_COLUMNS = (
    "employee_number, name, email, unit_code, manager_employee_number, job_title, roles"
)


def _unknown_column(f: DirectoryFiles) -> list[str]:
    f.people_columns.insert(2, "department")
    return [
        f"people.csv line 1: unknown column(s) 'department' (the columns are: {_PEOPLE_COLUMNS})"
    ]


def _column_twice(f: DirectoryFiles) -> list[str]:
    f.people_columns.append("name")
    return [f"people.csv line 1: column(s) name appear twice (the columns are: {_PEOPLE_COLUMNS})"]


def _empty_required_field(f: DirectoryFiles) -> list[str]:
    f.person("100005")["name"] = "  "
    f.person("100009")["email"] = ""
    f.person("100009")["unit_code"] = ""
    return [
        "people.csv line 6: name must not be empty",
        "people.csv line 10: email, unit_code must not be empty",
    ]


def _empty_kind(f: DirectoryFiles) -> list[str]:
    f.unit("FIN-ADR")["kind"] = ""
    return ["org.csv line 15: kind must not be empty"]


def _bad_code(f: DirectoryFiles) -> list[str]:
    line = f.add_unit("BZK APS!", "Spatie", "team", "BZK")
    long_line = f.add_unit("X" * 41, "Te lang", "team", "BZK")
    message = "may hold only letters, digits, '.', '_' and '-' (at most 40)"
    return [
        f"org.csv line {line}: code 'BZK APS!' {message}",
        f"org.csv line {long_line}: code '{'X' * 41}' {message}",
    ]


def _duplicate_code(f: DirectoryFiles) -> list[str]:
    line = f.add_unit("BZK-APS", "Nog een keer", "team", "BZK")
    return [f"org.csv line {line}: code 'BZK-APS' appears twice"]


def _unknown_kind(f: DirectoryFiles) -> list[str]:
    line = f.add_unit("BZK-X", "Afdeling X", "afdeling", "BZK")
    kinds = "government, ministry, directorate_general, directorate, agency, department, team"
    return [f"org.csv line {line}: unknown kind 'afdeling' (one of {kinds})"]


def _unknown_parent(f: DirectoryFiles) -> list[str]:
    line = f.add_unit("BZK-X", "Afdeling X", "team", "BZK-NOPE")
    return [f"org.csv line {line}: unknown parent code 'BZK-NOPE'"]


def _ministry_below_a_ministry(f: DirectoryFiles) -> list[str]:
    line = f.add_unit("OCW", "Ministerie van OCW", "ministry", "BZK")
    return [f"org.csv line {line}: a ministry must sit directly under the government unit"]


def _agency_under_the_government(f: DirectoryFiles) -> list[str]:
    f.unit("FIN-ADR")["parent_code"] = "RIJK"
    return ["org.csv line 15: only a ministry may sit directly under the government unit"]


def _second_government(f: DirectoryFiles) -> list[str]:
    line = f.add_unit("RIJK2", "Nog een Rijk", "government")
    return [
        "org.csv line 2: there can be only one government unit (also 'RIJK2')",
        f"org.csv line {line}: there can be only one government unit (also 'RIJK')",
    ]


def _root_that_is_not_the_government(f: DirectoryFiles) -> list[str]:
    f.unit("BZK-KOOR")["parent_code"] = ""
    return [
        "org.csv line 7: parent_code must not be empty (only the government has none)",
    ]


def _cycle(f: DirectoryFiles) -> list[str]:
    # BZK-DGOO -> BZK-CIO -> BZK-DGOO; BZK-APS hangs below the loop but is not part of it.
    f.unit("BZK-DGOO")["parent_code"] = "BZK-CIO"
    return [
        "org.csv line 4: unit 'BZK-DGOO' would be its own ancestor",
        "org.csv line 6: unit 'BZK-CIO' would be its own ancestor",
    ]


def _bad_email(f: DirectoryFiles) -> list[str]:
    f.person("100005")["email"] = "m.elidrissi-at-bzk.example"
    f.person("100009")["email"] = "f ouali@bzk.example"
    return [
        "people.csv line 6: 'm.elidrissi-at-bzk.example' is not an e-mail address",
        "people.csv line 10: 'f ouali@bzk.example' is not an e-mail address",
    ]


def _bad_employee_number(f: DirectoryFiles) -> list[str]:
    line = f.add_person("1000 99")
    return [
        f"people.csv line {line}: employee number '1000 99' may hold only letters, digits, "
        "'.', '_' and '-' (at most 40)"
    ]


def _duplicate_employee_number(f: DirectoryFiles) -> list[str]:
    line = f.add_person("100001")
    return [f"people.csv line {line}: employee number '100001' appears twice"]


def _duplicate_email(f: DirectoryFiles) -> list[str]:
    line = f.add_person("100099", email="H.Jansen@BZK.example")  # case does not matter
    return [f"people.csv line {line}: e-mail address 'h.jansen@bzk.example' appears twice"]


def _unknown_unit(f: DirectoryFiles) -> list[str]:
    f.person("100005")["unit_code"] = "BZK-NOPE"
    return ["people.csv line 6: unknown unit code 'BZK-NOPE'"]


def _unknown_manager(f: DirectoryFiles) -> list[str]:
    f.person("100005")["manager_employee_number"] = "999999"
    return ["people.csv line 6: unknown manager '999999'"]


def _manager_loop(f: DirectoryFiles) -> list[str]:
    # 100001 -> 100002 -> 100001; the people below them are not part of the loop.
    f.person("100001")["manager_employee_number"] = "100002"
    return [
        "people.csv line 2: the manager chain loops back to this person",
        "people.csv line 3: the manager chain loops back to this person",
    ]


def _own_manager(f: DirectoryFiles) -> list[str]:
    f.person("100005")["manager_employee_number"] = "100005"
    return ["people.csv line 6: a person cannot be their own manager"]


def _unknown_role(f: DirectoryFiles) -> list[str]:
    f.person("100005")["roles"] = "confidant; manager"
    roles = (
        "confidant, integrity_coordinator, committee_secretary, committee_member, auditor, "
        "privacy_officer, admin"
    )
    return [f"people.csv line 6: unknown role 'manager' (one of {roles})"]


def _unknown_role_scope(f: DirectoryFiles) -> list[str]:
    f.person("100005")["roles"] = "auditor; confidant@OCW"
    return ["people.csv line 6: unknown role scope 'OCW'"]


def _role_scope_left_empty(f: DirectoryFiles) -> list[str]:
    f.person("100005")["roles"] = "confidant@"
    return ["people.csv line 6: role 'confidant@' has no unit code after '@'"]


def _wrong_number_of_fields(f: DirectoryFiles) -> list[str]:
    # An unquoted comma in a name splits it in two.
    text = f.people_text() + "100099,Jansen, Henk,h.jansen2@bzk.example,BZK-APS,,,\r\n"
    f.raw["people.csv"] = text.encode()
    return ["people.csv line 35: expected 7 fields, found 8"]


def _not_utf8(f: DirectoryFiles) -> list[str]:
    # Excel's plain "CSV" is Windows-1252: the first non-ASCII letter is the ö on line 14.
    f.raw["people.csv"] = f.people_text().encode("cp1252", errors="replace")
    return ["people.csv line 14: not UTF-8 text (save the file as 'CSV UTF-8')"]


def _empty_file(f: DirectoryFiles) -> list[str]:
    f.raw["org.csv"] = b""
    return ["org.csv line 1: the file is empty"]


def _blank_file(f: DirectoryFiles) -> list[str]:
    f.raw["people.csv"] = b"\xef\xbb\xbf\r\n \r\n"
    return ["people.csv line 1: the file is empty"]


def _header_only(f: DirectoryFiles) -> list[str]:
    f.people.clear()
    return ["people.csv line 2: no rows below the header"]


def _broken_quotes(f: DirectoryFiles) -> list[str]:
    text = f.people_text() + '100099,"Henk" Jansen,h.jansen2@bzk.example,BZK-APS,,,\r\n'
    f.raw["people.csv"] = text.encode()
    return ["people.csv line 35: not valid CSV (',' expected after '\"')"]


def _line_break_in_a_field(f: DirectoryFiles) -> list[str]:
    f.person("100005")["name"] = "Mohamed\nel Idrissi"  # quoted, so the row spans lines 6-7
    f.person("100006")["unit_code"] = "BZK-NOPE"  # so Lotte Bakker's row is on line 8
    return [
        "people.csv line 6: name must not hold a line break or control character",
        "people.csv line 8: unknown unit code 'BZK-NOPE'",
    ]


def _too_long(f: DirectoryFiles) -> list[str]:
    f.unit("FIN")["name"] = "F" * 201
    f.person("100005")["job_title"] = "J" * 201
    return [
        "org.csv line 12: name is longer than 200 characters",
        "people.csv line 6: job_title is longer than 200 characters",
    ]


BAD_FILES: dict[str, Callable[[DirectoryFiles], list[str]]] = {
    "missing column": _missing_column,
    "unknown column": _unknown_column,
    "column twice": _column_twice,
    "empty required field": _empty_required_field,
    "empty kind": _empty_kind,
    "bad code": _bad_code,
    "duplicate code": _duplicate_code,
    "unknown kind": _unknown_kind,
    "unknown parent": _unknown_parent,
    "ministry below a ministry": _ministry_below_a_ministry,
    "agency under the government": _agency_under_the_government,
    "second government": _second_government,
    "root that is not the government": _root_that_is_not_the_government,
    "cycle": _cycle,
    "bad e-mail": _bad_email,
    "bad employee number": _bad_employee_number,
    "duplicate employee number": _duplicate_employee_number,
    "duplicate e-mail": _duplicate_email,
    "unknown unit": _unknown_unit,
    "unknown manager": _unknown_manager,
    "manager loop": _manager_loop,
    "own manager": _own_manager,
    "unknown role": _unknown_role,
    "unknown role scope": _unknown_role_scope,
    "role scope left empty": _role_scope_left_empty,
    "wrong number of fields": _wrong_number_of_fields,
    "not UTF-8": _not_utf8,
    "empty file": _empty_file,
    "blank file": _blank_file,
    "header only": _header_only,
    "broken quotes": _broken_quotes,
    "line break in a field": _line_break_in_a_field,
    "too long": _too_long,
}


@pytest.mark.parametrize("preloaded", [False, True], ids=["empty database", "after the demo"])
@pytest.mark.parametrize("make_bad", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_row_is_named_and_nothing_is_written(
    app: Flask,
    files: DirectoryFiles,
    make_bad: Callable[[DirectoryFiles], list[str]],
    preloaded: bool,
) -> None:
    if preloaded:
        import_demo(app, files)
    expected = make_bad(files)
    assert refused(app, *files.write()) == expected


def test_every_bad_row_is_reported_in_file_and_line_order(
    app: Flask, files: DirectoryFiles
) -> None:
    # Found in different passes (row checks first, references later), reported in line order.
    kind_line = files.add_unit("BZK-X", "Afdeling X", "afdeling", "BZK")
    files.unit("BZK-APS")["parent_code"] = "BZK-NOPE"
    files.person("300004")["email"] = "geen adres"
    files.person("100003")["manager_employee_number"] = "999999"
    files.person("200002")["roles"] = "boss"
    files.person("100002")["unit_code"] = "BZK-NOPE"

    problems = refused(app, *files.write())

    assert problems == [
        "org.csv line 5: unknown parent code 'BZK-NOPE'",
        f"org.csv line {kind_line}: unknown kind 'afdeling' (one of government, ministry, "
        "directorate_general, directorate, agency, department, team)",
        "people.csv line 3: unknown unit code 'BZK-NOPE'",
        "people.csv line 4: unknown manager '999999'",
        "people.csv line 23: unknown role 'boss' (one of confidant, integrity_coordinator, "
        "committee_secretary, committee_member, auditor, privacy_officer, admin)",
        "people.csv line 33: 'geen adres' is not an e-mail address",
    ]


def test_a_bad_last_row_after_many_good_ones_writes_nothing(
    app: Flask, files: DirectoryFiles
) -> None:
    import_demo(app, files)
    for n in range(500):
        files.add_person(f"4{n:05}", manager_employee_number="100002")
    files.add_unit("BZK-NIEUW", "Nieuwe directie", "directorate", "BZK-DGOO")
    files.person("100001")["name"] = "Henk Jansen-de Wit"
    last = files.add_person("499999", unit_code="BZK-NOPE")

    # ``refused`` compares every row of every table before and after.
    assert refused(app, *files.write()) == [f"people.csv line {last}: unknown unit code 'BZK-NOPE'"]
    assert last == 535


def test_semicolons_and_a_byte_order_mark_are_accepted(app: Flask, files: DirectoryFiles) -> None:
    # Excel's "CSV UTF-8" in a Dutch locale: semicolons, a BOM, fields quoted where needed.
    files.person("100011")["roles"] = "confidant@BZK; auditor"
    files.unit("FIN-ADR")["kind"] = "Agency"
    org, people = files.write(delimiter=";", encoding="utf-8-sig")
    assert people.read_bytes().startswith(b"\xef\xbb\xbfemployee_number;name;")
    assert b'"confidant@BZK; auditor"' in people.read_bytes()

    report = run_import(app, org, people)

    assert (report.units.created, report.people.created, report.roles_added) == (14, 33, 13)
    with app_session(app) as session:
        assert units_by_code(session)["FIN-ADR"].kind is OrgUnitKind.AGENCY
        assert people_by_number(session)["300004"].name == "Ayşe Kaya"
        assert directory_roles(session) == DEMO_ROLES | {("100011", "auditor", None)}


def test_comma_separated_roles_and_quoted_commas(app: Flask, files: DirectoryFiles) -> None:
    files.unit("BZK-APS")["name"] = "Directie Arbeidszaken, Publieke Sector"
    files.person("100005")["name"] = "Idrissi, Mohamed el"
    files.person("100011")["roles"] = "confidant@BZK, admin"
    files.person("100012")["employee_number"] = "000123"  # text, not a number
    org, people = files.write()
    assert b'"Idrissi, Mohamed el"' in people.read_bytes()

    run_import(app, org, people)

    with app_session(app) as session:
        assert units_by_code(session)["BZK-APS"].name == "Directie Arbeidszaken, Publieke Sector"
        people_now = people_by_number(session)
        assert people_now["100005"].name == "Idrissi, Mohamed el"
        assert "000123" in people_now
        assert {("100011", "confidant", "BZK"), ("100011", "admin", None)} <= directory_roles(
            session
        )


def test_two_people_can_swap_addresses_and_their_log_ins_follow(
    app: Flask, files: DirectoryFiles, clock: Clock
) -> None:
    import_demo(app, files)
    sanne = give_account(app, clock, "100004")
    mohamed = give_account(app, clock, "100005")
    sanne_row, mohamed_row = files.person("100004"), files.person("100005")
    sanne_row["email"], mohamed_row["email"] = mohamed_row["email"], sanne_row["email"]

    report = run_import(app, *files.write())

    assert report.people == Tally(updated=2, unchanged=31)
    with app_session(app) as session:
        people = people_by_number(session)
        assert people["100004"].email == "m.elidrissi@bzk.example"
        assert people["100005"].email == "s.devries@bzk.example"
        assert session.get_one(Account, sanne).login == "m.elidrissi@bzk.example"
        assert session.get_one(Account, mohamed).login == "s.devries@bzk.example"


def test_a_log_in_follows_a_changed_address(
    app: Flask, files: DirectoryFiles, clock: Clock
) -> None:
    import_demo(app, files)
    account_id = give_account(app, clock, "100004")
    files.person("100004")["email"] = "Sanne.de.Vries@Minbzk.example"
    # Someone new may take the old address in the same import.
    files.add_person("100099", email="s.devries@bzk.example")

    run_import(app, *files.write())

    with app_session(app) as session:
        people = people_by_number(session)
        assert people["100004"].email == "sanne.de.vries@minbzk.example"
        assert people["100099"].email == "s.devries@bzk.example"
        account = session.get_one(Account, account_id)
        assert account.login == "sanne.de.vries@minbzk.example"
        assert account.active


def test_an_address_of_someone_the_file_does_not_list_is_refused(
    app: Flask, files: DirectoryFiles
) -> None:
    import_demo(app, files)
    files.drop_person("100007")  # still in the database with r.ramsaran@bzk.example
    files.person("100006")["email"] = "R.Ramsaran@bzk.example"
    line = files.person_line("100006")

    assert refused(app, *files.write()) == [
        f"people.csv line {line}: e-mail address 'r.ramsaran@bzk.example' belongs to employee "
        "100007, who is not in this file"
    ]


def test_a_second_government_next_to_one_already_there_is_refused(
    app: Flask, files: DirectoryFiles, clock: Clock
) -> None:
    with app_session(app) as session:
        make_org(session, clock())  # a government unit called GOV

    assert refused(app, *files.write()) == [
        "org.csv line 2: there can be only one government unit (also 'GOV')"
    ]


def test_a_renamed_root_replaces_the_old_one_once_that_is_deactivated(
    app: Flask, files: DirectoryFiles
) -> None:
    import_demo(app, files)
    files.unit("RIJK")["code"] = "RO"
    for code in ("BZK", "JENV", "FIN"):
        files.unit(code)["parent_code"] = "RO"
    assert refused(app, *files.write()) == [
        "org.csv line 2: there can be only one government unit (also 'RIJK')"
    ]

    run_import(app, *files.write(), deactivate_missing=True)
    report = run_import(app, *files.write())  # the inactive RIJK no longer counts

    assert report.units == Tally(unchanged=14)
    with app_session(app) as session:
        units = units_by_code(session)
        assert (units["RIJK"].active, units["RO"].active) == (False, True)
        assert units["FIN"].parent_id == units["RO"].id


# --deactivate-missing ------------------------------------------------------------------------


def _drop_jenv_drc(files: DirectoryFiles) -> None:
    files.drop_unit("JENV-DRC")
    for number in ("200006", "200007", "200008"):
        files.drop_person(number)


def test_deactivate_missing_ends_unlisted_units_people_accounts_and_sessions(
    app: Flask, files: DirectoryFiles, clock: Clock
) -> None:
    import_demo(app, files)
    leaving = give_account(app, clock, "200007", live_sessions=2)
    staying = give_account(app, clock, "200003", live_sessions=1)
    _drop_jenv_drc(files)
    clock.advance(days=1)

    report = run_import(app, *files.write(), deactivate_missing=True)

    assert report.units == Tally(unchanged=13, deactivated=1)
    assert report.people == Tally(unchanged=30, deactivated=3)
    with app_session(app) as session:
        units = units_by_code(session)
        assert {code for code, unit in units.items() if not unit.active} == {"JENV-DRC"}
        assert units["JENV-DRC"].updated_at == clock()
        people = people_by_number(session)
        assert {n for n, p in people.items() if not p.active} == {"200006", "200007", "200008"}
        gone, kept = session.get_one(Account, leaving), session.get_one(Account, staying)
        assert (gone.active, gone.deactivated_at) == (False, clock())
        assert (kept.active, kept.deactivated_at) == (True, None)
        sessions = session.scalars(sa.select(StaffSession)).all()
        assert {(s.account_id, s.revoked_at) for s in sessions} == {
            (leaving, clock()),
            (staying, None),
        }
        # Their directory roles stay on record; the account that could use them is closed.
        assert ("200008", "integrity_coordinator", "JENV") in directory_roles(session)
        actions = session.scalars(sa.select(AuditEvent.action)).all()
        assert actions.count("account.deactivated") == 1


def test_without_the_flag_nothing_is_deactivated(
    app: Flask, files: DirectoryFiles, clock: Clock
) -> None:
    import_demo(app, files)
    account_id = give_account(app, clock, "200007", live_sessions=1)
    _drop_jenv_drc(files)

    report = run_import(app, *files.write())

    assert (report.units.deactivated, report.people.deactivated) == (0, 0)
    with app_session(app) as session:
        assert all(unit.active for unit in units_by_code(session).values())
        assert all(person.active for person in people_by_number(session).values())
        assert session.get_one(Account, account_id).active
        assert session.scalar(sa.select(StaffSession.revoked_at)) is None


def test_someone_listed_again_is_active_again_but_their_account_stays_closed(
    app: Flask, files: DirectoryFiles, clock: Clock
) -> None:
    import_demo(app, files)
    account_id = give_account(app, clock, "200007")
    org, people = files.write(suffix="-full")
    _drop_jenv_drc(files)
    run_import(app, *files.write(), deactivate_missing=True)

    report = run_import(app, org, people, deactivate_missing=True)

    assert (report.units.updated, report.people.updated) == (1, 3)
    with app_session(app) as session:
        assert units_by_code(session)["JENV-DRC"].active
        assert people_by_number(session)["200007"].active
        assert not session.get_one(Account, account_id).active


def test_with_the_flag_every_reference_must_be_in_the_files(
    app: Flask, files: DirectoryFiles
) -> None:
    import_demo(app, files)
    # The unit and the manager are in the database, but this import would deactivate them.
    files.drop_unit("FIN-ADR")
    files.drop_person("100014")
    problems = [
        f"people.csv line {files.person_line(n)}: unknown manager '100014'"
        for n in ("100015", "100016", "100017", "100018")
    ] + [f"people.csv line {files.person_line('300005')}: unknown unit code 'FIN-ADR'"]

    assert refused(app, *files.write(), deactivate_missing=True) == problems
    run_import(app, *files.write())  # without the flag the same files are fine


# Roles ---------------------------------------------------------------------------------------


def test_manual_roles_survive_and_directory_roles_the_file_drops_go(
    app: Flask, files: DirectoryFiles, clock: Clock
) -> None:
    import_demo(app, files)
    with app_session(app) as session:
        units = units_by_code(session)
        people = people_by_number(session)
        session.add_all(
            RoleAssignment(
                person_id=people[number].id,
                role=role,
                scope_unit_id=scope,
                source=RoleSource.MANUAL,
                created_at=clock(),
            )
            for number, role, scope in [
                ("100004", Role.AUDITOR, None),
                ("100012", Role.ADMIN, None),
                ("100005", Role.CONFIDANT, units["BZK"].id),
            ]
        )
    files.person("100012")["roles"] = ""  # was: confidant
    files.person("100019")["roles"] = "privacy_officer@BZK"  # was: privacy_officer
    # Already given by hand: not given again (and no clash with the unique constraint).
    files.person("100005")["roles"] = "confidant@BZK"

    report = run_import(app, *files.write())

    assert (report.roles_added, report.roles_removed) == (1, 2)
    with app_session(app) as session:
        assert roles_held(session) == {
            *((*role, RoleSource.DIRECTORY) for role in DEMO_ROLES),
            ("100019", "privacy_officer", "BZK", RoleSource.DIRECTORY),
            ("100004", "auditor", None, RoleSource.MANUAL),
            ("100012", "admin", None, RoleSource.MANUAL),
            ("100005", "confidant", "BZK", RoleSource.MANUAL),
        } - {
            ("100012", "confidant", None, RoleSource.DIRECTORY),
            ("100019", "privacy_officer", None, RoleSource.DIRECTORY),
        }

    report = run_import(app, *files.write())  # and again: nothing more to do

    assert (report.roles_added, report.roles_removed) == (0, 0)


# The audit trail ----------------------------------------------------------------------------


def test_the_import_is_audited_with_counts_only(app: Flask, files: DirectoryFiles) -> None:
    import_demo(app, files)

    with app_session(app) as session:
        event = session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "directory.imported")
        ).one()
    assert event.actor_kind is ActorKind.OPERATOR
    assert event.details == {
        "units_created": 14,
        "units_updated": 0,
        "units_deactivated": 0,
        "people_created": 33,
        "people_updated": 0,
        "people_deactivated": 0,
        "roles_added": 12,
        "roles_removed": 0,
    }
