"""The receipt-code limit stops guessing, not people: it counts codes that opened nothing.

With the default settings (10 failures an hour per client, 1000 for everyone), someone who
opens their mailbox often and mistypes now and then is never held up; ten wrong codes are.
"""

from __future__ import annotations

import math
import re
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from complaints.followup import views as followup_views
from complaints.settings import Settings
from complaints.web.limits import limiter
from tests.conftest import Clock, app_session
from tests.factories import csrf_token, import_demo_directory
from tests.followup import Filed, file_report

WRONG_CODE = "ABCD-EFGH-JKMN-PQRS-TVWX-YZ01"
MAILBOX = "/opvolgen/melding"


@pytest.fixture
def filed(app: Flask, clock: Clock) -> Filed:
    with app_session(app) as session:
        return file_report(session, import_demo_directory(session, clock()), clock())


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # The shipped limits, whatever the test settings otherwise say.
    return {
        "receipt_rate_limit": Settings.model_fields["receipt_rate_limit"].default,
        "receipt_global_rate_limit": Settings.model_fields["receipt_global_rate_limit"].default,
    }


def enter_code(client: FlaskClient, code: str) -> TestResponse:
    page = client.get("/opvolgen")
    return client.post("/opvolgen", data={"code": code, "csrf_token": csrf_token(page)})


def close_mailbox(client: FlaskClient) -> None:
    page = client.get(MAILBOX)
    assert page.status_code == 200
    closed = client.post("/opvolgen/sluiten", data={"csrf_token": csrf_token(page)})
    assert closed.status_code == 303


def text(response: TestResponse) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def typo(code: str) -> str:
    """The code with its last character mistyped."""
    return code[:-1] + ("0" if code[-1] != "0" else "1")


def twenty_opens_with_two_typos(client: FlaskClient, code: str) -> list[int]:
    """Open the mailbox twenty times in an hour, mistyping the code on the 7th and 15th try."""
    statuses = []
    for number in range(1, 21):
        if number in (7, 15):
            statuses.append(enter_code(client, typo(code)).status_code)
        opened = enter_code(client, code)
        statuses.append(opened.status_code)
        if opened.status_code == 303:
            close_mailbox(client)
    return statuses


def test_the_defaults_are_ten_failures_an_hour(app: Flask) -> None:
    settings: Settings = app.extensions["complaints.settings"]
    assert settings.receipt_rate_limit == "10 per hour"
    assert settings.receipt_global_rate_limit == "1000 per hour"


def test_twenty_successful_opens_with_two_typos_are_not_refused(app: Flask, filed: Filed) -> None:
    client = app.test_client()
    statuses = twenty_opens_with_two_typos(client, filed.code)
    assert statuses.count(303) == 20
    assert statuses.count(200) == 2  # the typos: "we could not open a report with this code"
    assert 429 not in statuses


def test_control_counting_every_attempt_refuses_the_same_person(
    app: Flask, filed: Filed, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The old limit counted every post: a successful open is then counted like a guess.
    monkeypatch.setattr(followup_views, "spare_this_request", lambda: None)
    client = app.test_client()
    statuses = twenty_opens_with_two_typos(client, filed.code)
    assert 429 in statuses
    assert statuses.index(429) == 10  # the eleventh attempt of the hour


def test_ten_wrong_codes_are_refused_and_then_even_the_right_code_waits(
    app: Flask, filed: Filed
) -> None:
    client = app.test_client()
    statuses = [enter_code(client, WRONG_CODE).status_code for _ in range(10)]
    assert statuses == [200] * 10
    refused = enter_code(client, filed.code)
    assert refused.status_code == 429
    assert client.get(MAILBOX).status_code == 303  # nothing opened
    # Someone else, elsewhere, is not held up by this guesser.
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert enter_code(other, filed.code).status_code == 303


def test_a_successful_open_takes_nothing_off_the_failures(app: Flask, filed: Filed) -> None:
    """An attacker who holds one real code cannot use it to wipe out their wrong guesses."""
    client = app.test_client()
    assert [enter_code(client, WRONG_CODE).status_code for _ in range(9)] == [200] * 9
    assert enter_code(client, filed.code).status_code == 303
    close_mailbox(client)
    assert enter_code(client, WRONG_CODE).status_code == 200  # the tenth failure
    assert enter_code(client, filed.code).status_code == 429


class TestTheCeiling:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"receipt_rate_limit": "2 per hour", "receipt_global_rate_limit": "5 per hour"}

    def test_refused_attempts_do_not_use_up_the_ceiling_everyone_shares(self, app: Flask) -> None:
        """One client hammering after its refusal counts against neither limit."""
        hammer = app.test_client()
        statuses = [enter_code(hammer, WRONG_CODE).status_code for _ in range(8)]
        assert statuses == [200, 200] + [429] * 6
        # Three more failures from elsewhere fit under the ceiling of five; the next does not.
        others = []
        for number in range(4):
            client = app.test_client()
            client.environ_base["REMOTE_ADDR"] = f"198.51.100.{number + 1}"
            others.append(enter_code(client, WRONG_CODE).status_code)
        assert others == [200, 200, 200, 429]


def test_the_refusal_says_when_to_try_again_from_the_limiters_window(
    app: Flask, filed: Filed
) -> None:
    client = app.test_client()
    for _ in range(10):
        enter_code(client, WRONG_CODE)
    first = enter_code(client, filed.code)
    assert first.status_code == 429
    wait = int(first.headers["Retry-After"])
    assert 3480 <= wait <= 3600  # the hour's window began with the first failure
    assert f"over {math.ceil(wait / 60)} minuten opnieuw proberen" in text(first)
    assert "enkele minuten" not in text(first)
    assert 'href="/opvolgen"' in text(first)  # back to the code page
    assert "Terug naar de codepagina" in text(first)

    # Move the end of the window: the page and the header follow the limiter's reset time.
    storage = limiter.storage
    keys = [key for key in storage.expirations if "followup.enter_code" in key]  # type: ignore[attr-defined]
    assert keys, "no counter found: the check would prove nothing"
    for key in keys:
        storage.expirations[key] = time.time() + 42 * 60 - 30  # type: ignore[attr-defined]
    later = enter_code(client, filed.code)
    assert later.status_code == 429
    assert abs(int(later.headers["Retry-After"]) - (42 * 60 - 30)) <= 2
    assert "U kunt het over 42 minuten opnieuw proberen." in text(later)

    client.set_cookie("taal", "en")
    english = enter_code(client, filed.code)
    assert "You can try again in 42 minutes." in text(english)
    assert "Back to the code page" in text(english)
