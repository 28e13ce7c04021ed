"""Sending a report: limits that let an office behind one address through and still stop a
flood. Per client (30 an hour), per draft (5 an hour, keyed by a hash of the draft's id) and
for everyone together (600 an hour); a refusal says when to try again and that the draft is
kept, and leads back to it."""

from __future__ import annotations

import math
import re
import time
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from limits.errors import StorageError

from complaints.cases.models import Case
from complaints.directory.models import Person
from complaints.intake import views as intake_views
from complaints.settings import Settings
from complaints.web.limits import limiter
from tests.conftest import Clock, app_session
from tests.factories import import_demo_directory
from tests.intake.test_views import Answers, Browser, fill_in, send, text

OFFICE = "203.0.113.40"  # one address for a whole office (NAT)


@pytest.fixture
def people(app: Flask, clock: Clock) -> dict[str, Person]:
    with app_session(app) as session:
        return import_demo_directory(session, clock())


def office_browser(app: Flask, address: str = OFFICE) -> Browser:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    client.set_cookie("taal", "en")
    return Browser(client)


def cases(app: Flask) -> int:
    with app_session(app) as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Case)) or 0


def send_reports(app: Flask, number: int) -> list[int]:
    """``number`` colleagues in one office each fill in and send a report, one after another."""
    statuses = []
    for _ in range(number):
        browser = office_browser(app)
        review = fill_in(app, browser, Answers(route="confidant"))
        statuses.append(send(browser, review).status_code)
    return statuses


def test_the_defaults(app: Flask) -> None:
    defaults = Settings.model_fields
    assert defaults["intake_rate_limit"].default == "30 per hour"
    assert defaults["intake_draft_rate_limit"].default == "5 per hour"
    assert defaults["intake_global_rate_limit"].default == "600 per hour"


class TestAnOffice:
    @pytest.fixture(params=["shipped", "old per-client limit"])
    def variant(self, request: pytest.FixtureRequest) -> str:
        return str(request.param)

    @pytest.fixture
    def settings_overrides(self, variant: str) -> dict[str, Any]:
        shipped = {
            name: Settings.model_fields[name].default
            for name in ("intake_rate_limit", "intake_draft_rate_limit", "intake_global_rate_limit")
        }
        if variant == "old per-client limit":  # the control: what locked offices out
            shipped["intake_rate_limit"] = "5 per hour"
        return shipped

    def test_fifteen_reports_from_one_address_in_an_hour_go_through(
        self, app: Flask, people: dict[str, Person], variant: str
    ) -> None:
        statuses = send_reports(app, 15)
        if variant == "shipped":
            assert statuses == [200] * 15
            assert cases(app) == 15
        else:
            assert statuses == [200] * 5 + [429] * 10
            assert cases(app) == 5


class TestPerDraft:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"intake_rate_limit": "100 per hour", "intake_global_rate_limit": "100 per hour"}

    def test_one_draft_is_sent_at_most_five_times_an_hour_from_any_address(
        self, app: Flask, people: dict[str, Person]
    ) -> None:
        browser = office_browser(app)
        review = fill_in(app, browser, Answers(route="confidant"))
        # A robot posting the same draft over and over (the trap field: refused, kept).
        statuses = [send(browser, review, internal_ref="bot").status_code for _ in range(5)]
        assert statuses == [400] * 5
        # The same draft from another address meets the same counter.
        elsewhere = office_browser(app, "198.51.100.99")
        elsewhere.client.set_cookie("session", browser.client.get_cookie("session").value)  # type: ignore[union-attr]
        refused = send(elsewhere, review)
        assert refused.status_code == 429
        # Another draft from the first address is not held up by it.
        other = office_browser(app)
        assert send(other, fill_in(app, other, Answers(route="confidant"))).status_code == 200

    def test_the_counter_holds_no_draft_reference(
        self, app: Flask, people: dict[str, Person]
    ) -> None:
        browser = office_browser(app)
        review = fill_in(app, browser, Answers(route="confidant"))
        send(browser, review, internal_ref="bot")
        with browser.client.session_transaction() as cookie:
            draft_id = cookie["intake_draft"]["id"]
        keys = [str(k) for k in limiter.storage.expirations]  # type: ignore[attr-defined]
        assert [k for k in keys if "intake-draft" in k], "no per-draft counter: proves nothing"
        assert not [k for k in keys if draft_id in k or draft_id.replace("-", "") in k]


class TestGlobalCeiling:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"intake_global_rate_limit": "3 per hour"}

    def test_the_ceiling_refuses_whoever_comes_next(
        self, app: Flask, people: dict[str, Person]
    ) -> None:
        statuses = []
        for number in range(4):
            browser = office_browser(app, f"192.0.2.{number + 1}")
            statuses.append(send(browser, fill_in(app, browser, Answers())).status_code)
        assert statuses == [200, 200, 200, 429]
        assert cases(app) == 3


class TestTheRefusal:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"intake_rate_limit": "1 per hour"}

    def test_it_says_when_and_that_the_draft_is_kept_and_leads_back_to_it(
        self, app: Flask, people: dict[str, Person]
    ) -> None:
        assert send_reports(app, 1) == [200]
        browser = office_browser(app)
        browser.client.set_cookie("taal", "nl")
        answers = Answers(route="confidant", description="Mijn-unieke-beschrijving in de lift.")
        review = fill_in(app, browser, answers)
        refused = send(browser, review)
        assert refused.status_code == 429
        wait = int(refused.headers["Retry-After"])
        assert 3480 <= wait <= 3600
        page = text(refused)
        assert f"U kunt het over {math.ceil(wait / 60)} minuten opnieuw proberen." in page
        assert "uw melding blijft in deze browser bewaard tot 6 uur na uw laatste wijziging" in page
        assert "enkele minuten" not in page
        assert re.search(
            r'<a class="button" href="/melden/controleren">Terug naar uw melding', page
        )
        assert "Mijn-unieke-beschrijving" not in page

        # The limiter's window decides the wait it gives.
        for key in [k for k in limiter.storage.expirations if "intake.submit" in k]:  # type: ignore[attr-defined]
            limiter.storage.expirations[key] = time.time() + 17 * 60 - 20  # type: ignore[attr-defined]
        again = send(browser, review)
        assert again.status_code == 429
        assert abs(int(again.headers["Retry-After"]) - (17 * 60 - 20)) <= 2
        assert "U kunt het over 17 minuten opnieuw proberen." in text(again)

        # The draft is still there, with what was typed, and goes once the window is over.
        back = browser.get("/melden/controleren")
        assert back.status_code == 200
        assert "Mijn-unieke-beschrijving in de lift." in text(back)
        limiter.reset()
        assert send(browser, back).status_code == 200
        assert cases(app) == 2


class TestCountersFailingMidway:
    """The counters answer the check but fail when the report is counted (Redis going down
    in between). The report must then not be saved behind a page saying nothing was: its
    receipt code is shown once, in that answer."""

    @pytest.fixture(params=["counted before saving", "control: counted after the answer"])
    def variant(self, request: pytest.FixtureRequest) -> str:
        return str(request.param)

    def test_nothing_is_saved_and_the_draft_is_kept(
        self,
        app: Flask,
        people: dict[str, Person],
        variant: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        browser = office_browser(app)
        browser.client.set_cookie("taal", "nl")
        review = fill_in(app, browser, Answers(route="confidant"))
        if variant.startswith("control"):
            monkeypatch.setattr(intake_views, "count_now", lambda: None)

        def storage_gone(*args: Any, **kwargs: Any) -> bool:
            raise StorageError(ConnectionError("gone"))

        with app.app_context():
            monkeypatch.setattr(limiter.limiter, "hit", storage_gone)
        answer = send(browser, review)
        assert answer.status_code == 503
        assert "Er gaat niets verloren" in text(answer)
        if variant.startswith("control"):
            assert cases(app) == 1  # sent, and its receipt code lost behind the 503
        else:
            assert cases(app) == 0
            assert browser.get("/melden/controleren").status_code == 200
