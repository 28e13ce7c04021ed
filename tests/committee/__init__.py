"""Shared set-up for the committee tests: formal complaints filed through ``submit_report`` on
the demo organisation, and the secretariat and members logging in like a browser."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from complaints.audit.services import Actor
from complaints.cases.models import Case, Disclosure, GrantRole, Route
from complaints.committee.services import CommitteeCase, open_committee_case
from complaints.crypto.services import indexer, keystore
from complaints.directory.models import Person
from complaints.intake.services import AccusedPerson, Identity, Witness
from complaints.workflow.config import workflow
from complaints.workflow.transitions import apply_transition
from tests.conftest import app_session
from tests.factories import (
    FILER_PHONE,
    Filed,
    StaffLogin,
    csrf_token,
    file_report,
    log_in,
    make_account,
)

SECRETARY = "w.deboer@bzk.example"  # Wim de Boer
SECOND_SECRETARY = "n.haddou@bzk.example"  # Noor Haddou
KOK = "a.kok@bzk.example"  # Annemiek Kok, committee member
AMRANI = "y.amrani@bzk.example"  # Youssef Amrani, committee member
LAMMERS = "e.lammers@bzk.example"  # Eva Lammers, committee member
CONFIDANT = "i.hoekstra@bzk.example"
FILER = "s.devries@bzk.example"  # Sanne de Vries
ACCUSED = "l.bakker@bzk.example"  # Lotte Bakker
DESCRIPTION = "Mijn teamleider kleineert mij al maanden in elk werkoverleg."


Complaint = Filed  # the case, its reference and the receipt code the complainant logs in with


def file_complaint(
    session: Session,
    people: dict[str, Person],
    now: datetime,
    *,
    filer: str = FILER,
    accused: tuple[AccusedPerson, ...] | None = None,
    witnesses: tuple[Witness, ...] = (),
    description: str = DESCRIPTION,
    name: str | None = None,
    linked: bool = True,
) -> Complaint:
    """A formal complaint to the committee (bullying, by name), filed through ``submit_report``:
    the secretariat (Wim de Boer, Noor Haddou) gets the grants. ``filer`` files it while logged
    in, under ``name`` (default: their own); ``linked=False`` leaves the directory id out of
    the identity, as when the complainant typed their details by hand."""
    who = people[filer]
    overrides: dict[str, Any] = {}
    if not linked:
        overrides["identity"] = Identity(name or who.name, who.email, FILER_PHONE)
    return file_report(
        session,
        now,
        route=Route.COMMITTEE,
        disclosure=Disclosure.NAMED,
        filer=who,
        name=name,
        filer_person_id=who.id,
        category="bullying",
        grounds=(),
        when="sinds januari 2026",
        ongoing=True,
        place="werkoverleg",
        description=description,
        accused=accused
        if accused is not None
        else (AccusedPerson("Lotte Bakker", "leidinggevende", people[ACCUSED].id),),
        witnesses=witnesses,
        desired_outcome="Dat het ophoudt.",
        **overrides,
    )


def advance(
    session: Session, case_id: uuid.UUID, person: Person, now: datetime, *steps: str
) -> None:
    """Take workflow steps as the secretary, through the engine (e.g. up to the hearing)."""
    case = session.get(Case, case_id)
    assert case is not None
    for step in steps:
        apply_transition(
            session,
            keystore(),
            workflow(),
            case,
            step,
            actor_person_id=person.id,
            roles={GrantRole.COMMITTEE_SECRETARY},
            values={},
            expected_version=case.version,
            now=now,
        )


TO_HEARING = ("acknowledge", "accept", "start_hearing")


def opened(session: Session, case_id: uuid.UUID, person: Person, now: datetime) -> CommitteeCase:
    return open_committee_case(
        session,
        keystore(),
        indexer(),
        case_id=case_id,
        person_id=person.id,
        actor=Actor.operator(),
        now=now,
    )


def browser(app: Flask) -> FlaskClient:
    """A browser that reads English, so tests can check wording before Dutch is translated."""
    client = app.test_client()
    client.set_cookie("taal", "en")
    return client


def staff(app: Flask, email: str, now: datetime) -> StaffLogin:
    with app_session(app) as session:
        person = session.scalar(sa.select(Person).where(Person.email == email))
        assert person is not None
        return make_account(session, person, now)


def logged_in(app: Flask, email: str, now: datetime) -> FlaskClient:
    client = browser(app)
    log_in(client, staff(app, email, now), now)
    return client


def post_form(
    client: FlaskClient, url: str, prefix: str, page_url: str, **data: str | int
) -> TestResponse:
    """Post one of the page's forms, with the CSRF token the page carries."""
    page = client.get(page_url)
    assert page.status_code == 200, page.status_code
    fields = {f"{prefix}-{name}": value for name, value in data.items()}
    return client.post(url, data={f"{prefix}-csrf_token": csrf_token(page), **fields})


def page_url(case_id: uuid.UUID) -> str:
    return f"/zaken/{case_id}/commissie"
