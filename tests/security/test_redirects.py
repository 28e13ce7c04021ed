"""Open redirects: every parameter that says where to go next — the log-in's ``next`` (through
the whole log-in, password and code), the language switch's ``next``, the log-in redirect of a
page that needs one — given targets off the site, plain and encoded. The browser may only
ever be sent to a path on this site. A forged ``Host`` header does not leak into a redirect."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import Clock, app_session
from tests.factories import StaffLogin, csrf_token, log_in, make_account, make_org, make_person

EVIL = [
    "https://evil.example",
    "http://evil.example/zaken",
    "//evil.example",
    "///evil.example",
    "////evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\\/evil.example",
    "https:evil.example",
    "http:/evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.cookie)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/\t/evil.example",
    "/\r\n/evil.example",
    " //evil.example",
    "\x00//evil.example",
    "//evil.example@localhost",
    "//localhost@evil.example",
    "/%2F%2Fevil.example",
    "%2F%2Fevil.example",
    "https%3A%2F%2Fevil.example",
    "/%5Cevil.example",
    "//%65vil.example",
    "http://localhost.evil.example/",
    "/ /evil.example",
    "//evil。example",
]


def stays_on_site(response: TestResponse) -> bool:
    """The redirect's target, resolved the way a browser would, is on this site."""
    location = response.headers.get("Location", "")
    if not location:
        return True
    if any(ord(ch) < 0x20 or ch == "\\" for ch in location):
        return False  # browsers strip or reinterpret these; no legitimate target has them
    resolved = urlsplit(urljoin("http://localhost/start/", location))
    return (
        resolved.scheme == "http"
        and resolved.netloc == "localhost"
        and (not location.startswith("//"))
    )


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"login_rate_limit": "1000 per minute"}


@pytest.fixture
def staff(app: Flask, clock: Clock) -> StaffLogin:
    with app_session(app) as session:
        org = make_org(session, clock())
        return make_account(session, make_person(session, org.directorate, clock()), clock())


def test_the_judge_catches_a_redirect_off_the_site(app: Flask) -> None:
    """The control for ``stays_on_site``: a real off-site redirect is caught."""
    from flask import redirect

    with app.test_request_context():
        for target in ("https://evil.example", "//evil.example", "/\\evil.example"):
            assert not stays_on_site(redirect(target))  # type: ignore[arg-type]
        assert stays_on_site(redirect("/account"))  # type: ignore[arg-type]


def test_the_language_switch_stays_on_the_site(client: FlaskClient) -> None:
    token = csrf_token(client.get("/"))
    for target in EVIL:
        response = client.post(
            "/taal", data={"csrf_token": token, "language": "en", "next": target}
        )
        if "\x00" in target:  # refused outright, before any redirect is considered
            assert response.status_code == 400, target
            continue
        assert response.status_code == 303, target
        assert stays_on_site(response), (target, response.headers["Location"])
        if not target.startswith("/"):
            assert response.headers["Location"] == "/", target


def test_logging_in_stays_on_the_site(app: Flask, clock: Clock, staff: StaffLogin) -> None:
    for target in EVIL:
        clock.advance(seconds=30)  # a new TOTP code for each log-in
        client = app.test_client()
        # Through the address, as a link in a phishing mail would carry it.
        final = log_in(client, staff, clock(), next_url=quote(target, safe=""))
        assert stays_on_site(final), (target, final.headers["Location"])
        if not target.startswith("/"):
            assert final.headers["Location"] == "/account", target


def test_a_local_target_is_still_followed(app: Flask, clock: Clock, staff: StaffLogin) -> None:
    """The control: the filter is not so blunt that nothing gets through."""
    final = log_in(app.test_client(), staff, clock(), next_url="/account/wachtwoord")
    assert final.headers["Location"] == "/account/wachtwoord"
    client = app.test_client()
    token = csrf_token(client.get("/"))
    switched = client.post("/taal", data={"csrf_token": token, "language": "en", "next": "/melden"})
    assert switched.headers["Location"] == "/melden"


def test_the_log_in_redirect_of_a_protected_page_stays_on_the_site(client: FlaskClient) -> None:
    for path in ("//evil.example/zaken", "/zaken//evil.example", "/account?next=//evil.example"):
        response = client.get(path)
        assert response.status_code in (302, 404), path
        assert stays_on_site(response), response.headers.get("Location")
        location = response.headers.get("Location", "")
        assert "://" not in location, location


def test_a_forged_host_header_does_not_reach_a_redirect(
    app: Flask, clock: Clock, staff: StaffLogin
) -> None:
    client = app.test_client()
    for response in (
        client.get("/zaken", headers={"Host": "evil.example"}),
        client.get("/account", headers={"X-Forwarded-Host": "evil.example"}),
    ):
        assert response.status_code == 302
        assert "evil.example" not in response.headers["Location"]
    final = log_in(client, staff, clock())
    assert "evil.example" not in final.headers["Location"]
