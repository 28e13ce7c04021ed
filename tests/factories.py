"""Test data: org units, people, accounts, cases; and a client that logs in like a browser."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import pyotp
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from complaints.accounts.login import passwords
from complaints.accounts.models import Account, Role, RoleAssignment, RoleSource
from complaints.accounts.services import begin_totp_enrolment
from complaints.cases.models import Case, Disclosure, GrantRole, PartyKind, Route
from complaints.cases.services import NewCase, NewGrant, NewParty, create_case
from complaints.cases.taxonomy import taxonomy
from complaints.crypto.services import indexer, keystore
from complaints.directory.models import OrgUnit, OrgUnitKind, Person
from complaints.intake.services import AccusedPerson, Identity, Report, submit_report
from complaints.routing.services import Recipient
from complaints.workflow.config import workflow

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(page: TestResponse | str) -> str:
    html = page if isinstance(page, str) else page.get_data(as_text=True)
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


@dataclass
class Org:
    government: OrgUnit
    ministry: OrgUnit
    directorate: OrgUnit


def make_unit(
    session: Session, code: str, kind: OrgUnitKind, parent: OrgUnit | None, now: datetime
) -> OrgUnit:
    unit = OrgUnit(
        code=code,
        name=f"Unit {code}",
        kind=kind,
        parent_id=parent.id if parent else None,
        active=True,
        updated_at=now,
    )
    session.add(unit)
    session.flush()
    if kind is OrgUnitKind.MINISTRY:
        unit.ministry_id = unit.id
    elif parent is not None:
        unit.ministry_id = parent.ministry_id
    session.flush()
    return unit


def make_org(session: Session, now: datetime, code: str = "MIN") -> Org:
    government = session.scalar(sa.select(OrgUnit).where(OrgUnit.kind == OrgUnitKind.GOVERNMENT))
    if government is None:
        government = make_unit(session, "GOV", OrgUnitKind.GOVERNMENT, None, now)
    ministry = make_unit(session, code, OrgUnitKind.MINISTRY, government, now)
    directorate = make_unit(session, f"{code}-DIR", OrgUnitKind.DIRECTORATE, ministry, now)
    return Org(government, ministry, directorate)


def make_person(
    session: Session,
    unit: OrgUnit,
    now: datetime,
    *,
    name: str | None = None,
    manager: Person | None = None,
) -> Person:
    number = secrets.token_hex(4)
    person = Person(
        employee_number=number,
        name=name or f"Person {number}",
        email=f"p{number}@example.org",
        unit_id=unit.id,
        manager_id=manager.id if manager else None,
        active=True,
        updated_at=now,
    )
    session.add(person)
    session.flush()
    return person


@dataclass
class StaffLogin:
    account: Account
    person: Person
    password: str
    totp_secret: str | None


def make_account(
    session: Session,
    person: Person,
    now: datetime,
    *,
    roles: tuple[tuple[Role, OrgUnit | None], ...] = (),
    enrolled: bool = True,
    must_change_password: bool = False,
    password: str = PASSWORD,
) -> StaffLogin:
    account = Account(
        person_id=person.id,
        login=person.email.lower(),
        password_hash=passwords().hash(password),
        must_change_password=must_change_password,
        active=True,
        created_at=now,
    )
    session.add(account)
    session.flush()
    secret = None
    if enrolled:
        secret = begin_totp_enrolment(keystore(), account)
        account.totp_confirmed_at = now
    for role, scope in roles:
        session.add(
            RoleAssignment(
                person_id=person.id,
                role=role,
                scope_unit_id=scope.id if scope else None,
                source=RoleSource.MANUAL,
                created_at=now,
            )
        )
    session.flush()
    return StaffLogin(account, person, password, secret)


def make_case(
    session: Session,
    now: datetime,
    *,
    handler: Person,
    description: str = "Er werd een racistische opmerking gemaakt tijdens het overleg.",
    accused: tuple[NewParty, ...] = (),
    complainant: dict[str, str] | None = None,
    organisation: OrgUnit | None = None,
) -> Case:
    draft = NewCase(
        route=Route.CONFIDANT,
        category="discrimination",
        grounds=("race",),
        disclosure=Disclosure.CONFIDENTIAL if complainant else Disclosure.ANONYMOUS,
        description=description,
        organisation_id=organisation.id if organisation else None,
        incident_period="maart 2026",
        incident_place="vergaderzaal 4.12",
        desired_outcome="Dat het stopt.",
        complainant=complainant,
        parties=accused,
    )
    return create_case(
        session,
        keystore(),
        indexer(),
        draft,
        grants=[NewGrant(handler.id, GrantRole.CONFIDANT)],
        now=now,
    )


def accused(person: Person | None = None, name: str | None = None) -> NewParty:
    return NewParty(
        kind=PartyKind.ACCUSED,
        person_id=person.id if person else None,
        name=name,
        relation_to_complainant="collega",
    )


# One report factory --------------------------------------------------------------------------
# Every package that needs a real case files it like the intake form does: ``build_report``
# gives the complainant's answers (pure), ``file_report`` sends them through ``submit_report``,
# so grants, parties, deadlines, audit and statistics are exactly what filing makes.

FILER = "s.devries@bzk.example"  # Sanne de Vries, BZK employee; her manager is a.demir
ACCUSED = "l.bakker@bzk.example"  # Lotte Bakker, a colleague
FILER_PHONE = "06-12345678"


def build_report(**overrides: Any) -> Report:
    """The answers of a complete intake form, without touching the database.

    A confidential discrimination report on the confidant route; no unit, accused or identity
    (those need directory ids: ``file_report`` fills them in). Any ``Report`` field can be
    overridden.
    """
    report = Report(
        category="discrimination",
        grounds=("race",),
        when="2 maart 2026",
        last_incident_on=None,
        ongoing=False,
        unit_id=None,
        place="koffiehoek",
        description="Een collega maakte een racistische grap over mij.",
        accused=(),
        witnesses=(),
        desired_outcome="Een gesprek.",
        route=Route.CONFIDANT,
        disclosure=Disclosure.CONFIDENTIAL,
        identity=None,
    )
    return replace(report, **overrides)


@dataclass(frozen=True)
class Filed:
    """A filed report: the case, and the receipt code the complainant opens the mailbox with."""

    case: Case
    code: str
    recipients: list[Recipient]

    @property
    def case_id(self) -> uuid.UUID:
        return self.case.id

    @property
    def reference(self) -> str:
        return self.case.reference

    @property
    def handler_id(self) -> int:
        """The first person routing gave the report to (the only one on most routes)."""
        return self.recipients[0].person_id


def demo_person(session: Session, email: str) -> Person:
    found = session.scalar(sa.select(Person).where(Person.email == email))
    assert found is not None, f"{email} is not in the directory (import_demo_directory first)"
    return found


def file_report(
    session: Session,
    now: datetime,
    *,
    filer: Person | str | None = FILER,
    name: str | None = None,
    unit_code: str = "BZK-APS",
    expected_recipients: frozenset[int] | None = None,
    **overrides: Any,
) -> Filed:
    """A report filed through the real ``submit_report`` on the demo organisation, at ``now``.

    Defaults to ``build_report`` with: where it happened ``unit_code``; Lotte Bakker accused by
    directory id; unless anonymous, the identity of ``filer`` (a person or an e-mail address in
    the directory; ``name`` replaces the name on the report); on the manager route the filer's own
    manager as the recipient. ``overrides`` are ``Report`` fields and win over all of these
    (e.g. ``accused=``, ``witnesses=``, ``identity=``, ``manager_person_id=``,
    ``chosen_confidant_id=``, ``filer_person_id=``, ``attachments=``). Routing decides the
    grants, as for a real report; the caller commits.
    """
    disclosure = overrides.get("disclosure", Disclosure.CONFIDENTIAL)
    route = overrides.get("route", Route.CONFIDANT)
    who = demo_person(session, filer) if isinstance(filer, str) else filer
    defaults: dict[str, Any] = {
        "unit_id": unit(session, unit_code).id,
        "accused": (AccusedPerson("Lotte Bakker", "collega", demo_person(session, ACCUSED).id),),
        "identity": None
        if who is None or disclosure is Disclosure.ANONYMOUS
        else Identity(name or who.name, who.email, FILER_PHONE, person_id=who.id),
        "manager_person_id": who.manager_id if who and route is Route.MANAGER else None,
    }
    report = build_report(**(defaults | overrides))
    submission = submit_report(
        session,
        keystore(),
        indexer(),
        taxonomy(),
        workflow(),
        report,
        expected_recipients=expected_recipients,
        now=now,
    )
    return Filed(submission.case, submission.receipt_code, submission.recipients)


def totp_code(secret: str, when: datetime) -> str:
    return pyotp.TOTP(secret).at(when)


def log_in(
    client: FlaskClient, staff: StaffLogin, when: datetime, next_url: str | None = None
) -> TestResponse:
    """Log in through the real forms (CSRF included); returns the final redirect response."""
    assert staff.totp_secret is not None
    url = "/aanmelden" + (f"?next={next_url}" if next_url else "")
    page = client.get(url)
    response = client.post(
        "/aanmelden",
        data={
            "email": staff.account.login,
            "password": staff.password,
            "next": next_url or "",
            "csrf_token": csrf_token(page),
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.headers["Location"].endswith("/aanmelden/code")
    page = client.get("/aanmelden/code")
    response = client.post(
        "/aanmelden/code",
        data={"code": totp_code(staff.totp_secret, when), "csrf_token": csrf_token(page)},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


def app_now(app: Flask) -> datetime:
    from complaints.clock import now

    with app.app_context():
        return now()


def import_demo_directory(session: Session, now: datetime) -> dict[str, Person]:
    """The demo organisation (three ministries, every role), by e-mail address."""
    from complaints.audit.services import Actor
    from complaints.demo.services import DEMO_FILES
    from complaints.directory.services import import_directory

    import_directory(
        session,
        keystore(),
        org_file=DEMO_FILES / "org.csv",
        people_file=DEMO_FILES / "people.csv",
        actor=Actor.operator(),
        now=now,
    )
    return {p.email: p for p in session.scalars(sa.select(Person))}


def unit(session: Session, code: str) -> OrgUnit:
    found = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == code))
    assert found is not None, code
    return found


def pdf_document(size: int | None = None, *, author: str | None = None) -> bytes:
    """A real PDF with one blank page; ``size`` pads it to exactly that many bytes."""
    import io

    from pypdf import PdfWriter
    from pypdf.generic import NameObject, StreamObject

    def make(padding: int) -> bytes:
        writer = PdfWriter()
        writer.add_blank_page(595, 842)
        if author:
            writer.add_metadata({"/Author": author, "/Creator": author})
        if padding:
            stream = StreamObject()
            stream.set_data(b"0" * padding)
            writer._root_object[NameObject("/Padding")] = writer._add_object(stream)
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()

    data = make(0)
    if size is None:
        return data
    padding = size - len(data)
    for _ in range(5):  # the length written in the file has digits of its own
        data = make(max(padding, 0))
        if len(data) == size:
            return data
        padding += size - len(data)
    raise AssertionError(f"cannot make a PDF of exactly {size} bytes")
