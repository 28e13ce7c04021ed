"""Every 429 says, in the page's language, how long to wait (from the limiter's reset time,
rounded up), sends the same wait as ``Retry-After``, and leads back to where the attempt came
from. The receipt and intake pages are checked in tests/followup and tests/intake; here the
wording itself and the log-in."""

from __future__ import annotations

import math
import re
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from complaints.web.errors import wait_text
from complaints.web.limits import limiter
from tests.factories import csrf_token


@pytest.mark.parametrize(
    ("seconds", "dutch", "english"),
    [
        (1, "over 1 seconde", "in 1 second"),
        (42, "over 42 seconden", "in 42 seconds"),
        (119, "over 119 seconden", "in 119 seconds"),
        (121, "over 3 minuten", "in 3 minutes"),  # 2 min 1 s: rounded up, never down
        (2520, "over 42 minuten", "in 42 minutes"),
        (2521, "over 43 minuten", "in 43 minutes"),
        (3600, "over 60 minuten", "in 60 minutes"),
        (7199, "over 2 uur", "in 2 hours"),  # 120 minutes, said as 2 hours
        (7300, "over 3 uur", "in 3 hours"),  # Babel alone would say 2 hours: too soon
        (2 * 86400 + 1, "over 3 dagen", "in 3 days"),
    ],
)
def test_a_wait_is_worded_by_babel_and_never_shorter_than_it_is(
    app: Flask, seconds: int, dutch: str, english: str
) -> None:
    with app.test_request_context("/", headers={"Cookie": "taal=nl"}):
        assert wait_text(seconds) == dutch
    with app.test_request_context("/", headers={"Cookie": "taal=en"}):
        assert wait_text(seconds) == english


def text(response: TestResponse) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def post_login(client: FlaskClient) -> TestResponse:
    page = client.get("/aanmelden")
    return client.post(
        "/aanmelden",
        data={
            "email": "niemand@bzk.example",
            "password": "wrong password here",
            "csrf_token": csrf_token(page),
        },
    )


class TestLogIn:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"login_rate_limit": "3 per hour"}

    def test_the_refusal_says_when_and_leads_back_to_the_log_in(self, app: Flask) -> None:
        client = app.test_client()
        assert [post_login(client).status_code for _ in range(3)] == [200, 200, 200]
        refused = post_login(client)
        assert refused.status_code == 429
        wait = int(refused.headers["Retry-After"])
        assert 3480 <= wait <= 3600
        page = text(refused)
        assert "Er is in korte tijd te vaak geprobeerd in te loggen." in page
        assert f"U kunt het over {math.ceil(wait / 60)} minuten opnieuw proberen." in page
        assert "enkele minuten" not in page
        assert '<a class="button" href="/aanmelden">Terug naar de inlogpagina</a>' in page

        # Control: the wait follows the limiter's window, not a fixed text.
        keys = [k for k in limiter.storage.expirations if "accounts.login" in k]  # type: ignore[attr-defined]
        assert keys, "no counter found: the check would prove nothing"
        for key in keys:
            limiter.storage.expirations[key] = time.time() + 95  # type: ignore[attr-defined]
        soon = post_login(client)
        assert soon.status_code == 429
        assert abs(int(soon.headers["Retry-After"]) - 95) <= 2
        assert re.search(r"U kunt het over 9[4-6] seconden opnieuw proberen\.", text(soon))

        client.set_cookie("taal", "en")
        english = text(post_login(client))
        assert re.search(r"You can try again in 9[3-6] seconds\.", english)
        assert "Back to the log-in page" in english
