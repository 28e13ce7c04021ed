"""A limit is written the same way wherever it is shown: in the hint beside a field and in the
error when the text is too long ("maximaal 20.000 tekens", not "20000"), through Babel."""

from __future__ import annotations

import html
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import StringField
from wtforms.validators import Length

from complaints.followup.services import MAX_MESSAGE
from complaints.intake.services import MAX_TEXT
from complaints.web.forms import MaxLength
from tests.conftest import Clock, app_session
from tests.factories import csrf_token, import_demo_directory
from tests.followup import file_report
from tests.intake.test_views import Browser, answer, begin


def text_of(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def _error(app: Flask, language: str, validator: object, data: str) -> list[str]:
    class OneField(FlaskForm):
        text = StringField(validators=[validator])

    with app.test_request_context("/", headers={"Cookie": f"taal={language}"}):
        form = OneField(formdata=MultiDict({"text": data}), meta={"csrf": False})
        form.validate()
        return [str(e) for e in form.text.errors]


@pytest.mark.parametrize(("language", "number"), [("nl", "20.000"), ("en", "20,000")])
def test_the_error_writes_the_limit_as_the_language_does(
    app: Flask, language: str, number: str
) -> None:
    for message in ("At most %(max)s characters.", "At most %(max)d characters."):
        assert _error(app, language, MaxLength(20_000, message), "x" * 20_001) == [
            f"At most {number} characters."
        ]
        assert _error(app, language, MaxLength(20_000, message), "x" * 20_000) == []
    # Control: WTForms' own Length puts in the bare number.
    bare = _error(
        app, language, Length(max=20_000, message="At most %(max)d characters."), "x" * 20_001
    )
    assert bare == ["At most 20000 characters."]


@pytest.fixture
def dutch_browser(app: Flask, clock: Clock) -> Browser:
    with app_session(app) as session:
        import_demo_directory(session, clock())
    client = app.test_client()
    client.set_cookie("taal", "nl")
    return Browser(client)


def test_the_report_form_gives_the_same_limit_in_hint_and_error(
    app: Flask, dutch_browser: Browser
) -> None:
    begin(dutch_browser)
    answer(dutch_browser, "/melden/wat", category="bullying")
    answer(dutch_browser, "/melden/wanneer-waar", when_text="elke maandag", place="kantoor")
    too_long = "Een collega kleineert mij. " * (MAX_TEXT // 27 + 1)
    assert len(too_long) > MAX_TEXT
    page = dutch_browser.post(
        "/melden/beschrijving", {"action": "continue", "description": too_long}
    )
    assert page.status_code == 200
    shown = text_of(page.get_data(as_text=True))
    assert "Maximaal 20.000 tekens." in shown  # the hint
    assert "Maak die korter: maximaal 20.000 tekens." in shown  # the error
    assert "20000" not in shown
    assert too_long.strip() in html.unescape(page.get_data(as_text=True))  # kept as typed


def test_the_mailbox_gives_the_limit_in_dutch_numbers(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        filed = file_report(session, people, clock())
    client.set_cookie("taal", "nl")
    page = client.get("/opvolgen")
    opened = client.post("/opvolgen", data={"code": filed.code, "csrf_token": csrf_token(page)})
    assert opened.status_code == 303
    mailbox = client.get("/opvolgen/melding")
    response = client.post(
        "/opvolgen/melding/bericht",
        data={"message": "x" * (MAX_MESSAGE + 1), "csrf_token": csrf_token(mailbox)},
    )
    shown = text_of(response.get_data(as_text=True))
    assert "20.000" in shown, shown[-2000:]
    assert "20000" not in shown
