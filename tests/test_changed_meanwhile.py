"""A case changed by someone else in the same moment (the optimistic lock on ``cases``) is a
clear "nothing was saved, try again", never a server error, wherever the conflict surfaces.
Found by ``make security-scan``: wapiti's complainant and counsellor runs posting to the same
case at once got 500s (docs/security.md, triage S5)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm.exc import StaleDataError

from complaints.cases.models import Consent, Message
from complaints.casework import views as casework_views
from complaints.casework.services import reply_to_complainant
from complaints.directory.models import Person
from complaints.followup import views as followup_views
from complaints.followup.services import post_message
from complaints.referral import views as referral_views
from complaints.referral.services import record_consent
from tests.conftest import Clock, app_session
from tests.factories import csrf_token, import_demo_directory, log_in, make_account
from tests.followup import CONFIDANT_EMAIL, Filed, file_report

MAILBOX = "/opvolgen/melding"


@pytest.fixture
def filed(app: Flask, clock: Clock) -> Filed:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        return file_report(session, people, clock())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    browser = app.test_client()
    browser.set_cookie("taal", "en")
    return browser


def _then_conflict(real: Any) -> Any:
    """``real`` does its work (flushed, not committed), then the version check fails."""

    def conflicting(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)
        raise StaleDataError("UPDATE statement on table 'cases' expected to update 1 row(s)")

    return conflicting


def test_a_message_sent_while_the_case_changes_is_not_saved_and_the_mailbox_says_so(
    app: Flask, client: FlaskClient, filed: Filed, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = client.get("/opvolgen")
    opened = client.post("/opvolgen", data={"code": filed.code, "csrf_token": csrf_token(page)})
    assert opened.headers["Location"] == MAILBOX
    page = client.get(MAILBOX)
    monkeypatch.setattr(followup_views, "post_message", _then_conflict(post_message))

    response = client.post(
        MAILBOX + "/bericht", data={"message": "Nog iets.", "csrf_token": csrf_token(page)}
    )

    assert response.status_code == 303
    assert response.headers["Location"] == MAILBOX
    page = client.get(MAILBOX)
    assert page.status_code == 200
    assert "changed at the same moment, so nothing was saved" in page.get_data(as_text=True)
    with app_session(app) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Message)) == 0


def _confidant_logged_in(app: Flask, client: FlaskClient, clock: Clock) -> None:
    with app_session(app) as session:
        person = session.scalars(sa.select(Person).where(Person.email == CONFIDANT_EMAIL)).one()
        confidant = make_account(session, person, clock())
    log_in(client, confidant, clock())


def test_a_reply_sent_while_the_case_changes_is_not_saved_and_the_case_page_says_so(
    app: Flask,
    client: FlaskClient,
    filed: Filed,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _confidant_logged_in(app, client, clock)
    url = f"/zaken/{filed.case_id}"
    page = client.get(url)
    assert page.status_code == 200
    monkeypatch.setattr(
        casework_views, "reply_to_complainant", _then_conflict(reply_to_complainant)
    )

    response = client.post(
        url + "/bericht", data={"message": "Dank voor uw bericht.", "csrf_token": csrf_token(page)}
    )

    assert response.status_code == 303
    assert response.headers["Location"] == url
    page = client.get(url)
    assert "This case was changed by someone else meanwhile." in page.get_data(as_text=True)
    with app_session(app) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Message)) == 0


def test_consent_recorded_while_the_case_changes_is_not_saved_and_the_page_says_so(
    app: Flask,
    client: FlaskClient,
    filed: Filed,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _confidant_logged_in(app, client, clock)
    url = f"/zaken/{filed.case_id}/doorverwijzen"
    page = client.get(url)
    assert page.status_code == 200
    monkeypatch.setattr(referral_views, "record_consent", _then_conflict(record_consent))
    today = clock().date()

    response = client.post(
        url + "/toestemming",
        data={
            "csrf_token": csrf_token(page),
            "consent_scope": "with_identity",
            "channel": "phone",
            "given_on": f"{today.day}-{today.month}-{today.year}",
        },
    )

    assert response.status_code == 303
    assert response.headers["Location"] == url
    page = client.get(url)
    assert "This case was changed by someone else meanwhile." in page.get_data(as_text=True)
    with app_session(app) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Consent)) == 0
