"""Shared set-up for the casework tests: real reports, a handler who logs in like a browser."""

from __future__ import annotations

import uuid
from datetime import datetime

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from complaints.accounts.models import Role
from complaints.cases.models import Disclosure, Route
from complaints.cases.services import NewAttachment
from complaints.cases.taxonomy import taxonomy
from complaints.crypto.services import indexer, keystore
from complaints.directory.models import Person
from complaints.intake.services import AccusedPerson, Identity, Report, Witness, submit_report
from complaints.workflow.config import workflow
from tests.factories import StaffLogin, csrf_token, log_in, make_account, unit

CONFIDANT = "i.hoekstra@bzk.example"  # BZK confidant: receives the BZK confidant reports
OTHER_CONFIDANT = "g.verbeek@bzk.example"  # government-wide: no grant on BZK reports
INTEGRITY = "k.dijkstra@bzk.example"
ACCUSED = "l.bakker@bzk.example"
FILER = "s.devries@bzk.example"
SECRETARY = "w.deboer@bzk.example"


def file_case(
    session: Session,
    people: dict[str, Person],
    now: datetime,
    *,
    route: Route = Route.CONFIDANT,
    disclosure: Disclosure = Disclosure.CONFIDENTIAL,
    description: str = "Een collega maakte een racistische grap over mij.",
    when: str = "2 maart 2026",
    place: str = "koffiehoek",
    desired_outcome: str = "Een gesprek.",
    witnesses: tuple[Witness, ...] = (),
    attachments: tuple[NewAttachment, ...] = (),
    name: str | None = None,
) -> tuple[uuid.UUID, str, str]:
    """A report filed through ``submit_report``; returns (case id, reference, receipt code)."""
    identity = None
    if disclosure is not Disclosure.ANONYMOUS:
        filer = people[FILER]
        identity = Identity(name or filer.name, filer.email, "06-12345678", person_id=filer.id)
    report = Report(
        category="discrimination",
        grounds=("race",),
        when=when,
        last_incident_on=None,
        ongoing=False,
        unit_id=unit(session, "BZK-APS").id,
        place=place,
        description=description,
        accused=(AccusedPerson("Lotte Bakker", "collega", people[ACCUSED].id),),
        witnesses=witnesses,
        desired_outcome=desired_outcome,
        route=route,
        disclosure=disclosure,
        identity=identity,
        attachments=attachments,
    )
    submission = submit_report(
        session,
        keystore(),
        indexer(),
        taxonomy(),
        workflow(),
        report,
        expected_recipients=None,
        now=now,
    )
    return submission.case.id, submission.case.reference, submission.receipt_code


def handler(
    session: Session,
    people: dict[str, Person],
    now: datetime,
    email: str = CONFIDANT,
    roles: tuple[tuple[Role, str | None], ...] = (),
) -> StaffLogin:
    """An account for a person of the demo organisation (extra roles by unit code)."""
    return make_account(
        session,
        people[email],
        now,
        roles=tuple((role, unit(session, code) if code else None) for role, code in roles),
    )


def logged_in(app: Flask, staff: StaffLogin, now: datetime) -> FlaskClient:
    """A browser reading English, logged in as ``staff``."""
    browser = app.test_client()
    browser.set_cookie("taal", "en")
    log_in(browser, staff, now)
    return browser


def post_form(client: FlaskClient, page: TestResponse, url: str, **data: str) -> TestResponse:
    return client.post(url, data={"csrf_token": csrf_token(page), **data})


def html(response: TestResponse) -> str:
    return response.get_data(as_text=True)
