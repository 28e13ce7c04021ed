"""Shared set-up for the casework tests: real reports, a handler who logs in like a browser."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from complaints.accounts.models import Role
from complaints.directory.models import Person
from tests.factories import StaffLogin, csrf_token, file_report, log_in, make_account, unit

CONFIDANT = "i.hoekstra@bzk.example"  # BZK confidant: receives the BZK confidant reports
OTHER_CONFIDANT = "g.verbeek@bzk.example"  # government-wide: no grant on BZK reports
INTEGRITY = "k.dijkstra@bzk.example"
ACCUSED = "l.bakker@bzk.example"
FILER = "s.devries@bzk.example"
SECRETARY = "w.deboer@bzk.example"


def file_case(
    session: Session, people: dict[str, Person], now: datetime, **overrides: Any
) -> tuple[uuid.UUID, str, str]:
    """A report filed by Sanne de Vries through ``tests.factories.file_report`` (any of its
    overrides, e.g. ``route=``, ``disclosure=``, ``attachments=``, ``name=``); returns (case id,
    reference, receipt code)."""
    filed = file_report(session, now, **overrides)
    return filed.case_id, filed.reference, filed.code


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
