"""The web shell: security headers everywhere, honest error pages, languages, health checks."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Clock, app_session
from tests.factories import StaffLogin, csrf_token, log_in, make_account, make_org, make_person

STATIC_CACHE = "public, max-age=3600"


@pytest.fixture
def staff(app: Flask, clock: Clock) -> StaffLogin:
    with app_session(app) as session:
        org = make_org(session, clock())
        return make_account(session, make_person(session, org.directorate, clock()), clock())


def _assert_security_headers(response: object, path: str) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    csp = headers.get("Content-Security-Policy", "")
    assert "unsafe-inline" not in csp, path
    assert "unsafe-eval" not in csp, path
    assert "frame-ancestors 'none'" in csp, path
    assert "default-src 'none'" in csp, path
    assert headers.get("Strict-Transport-Security", "").startswith("max-age="), path
    assert headers.get("X-Content-Type-Options") == "nosniff", path
    assert headers.get("Referrer-Policy") == "no-referrer", path
    assert headers.get("X-Frame-Options") == "DENY", path


def test_every_route_sends_the_security_headers(
    app: Flask, client: FlaskClient, staff: StaffLogin, clock: Clock
) -> None:
    log_in(client, staff, clock())
    visited = 0
    for rule in app.url_map.iter_rules():
        if rule.arguments - {"filename"}:
            continue
        path = "/static/css/app.css" if rule.endpoint == "static" else rule.rule
        # POST-only routes get no CSRF token: refused, but still with headers.
        response = client.get(path) if "GET" in (rule.methods or ()) else client.post(path, data={})
        _assert_security_headers(response, path)
        if rule.endpoint == "static":
            assert response.headers["Cache-Control"] == STATIC_CACHE
        else:
            assert response.headers["Cache-Control"] == "no-store", path
        response.close()
        visited += 1
    assert visited >= 10
    _assert_security_headers(client.get("/bestaat-niet"), "404")


def test_unknown_page_gives_a_dutch_404_without_details(client: FlaskClient) -> None:
    response = client.get("/zaken/../../etc/passwd")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert '<html lang="nl">' in html
    assert "Pagina niet gevonden" in html


@pytest.fixture
def failing_app(app: Flask) -> Flask:
    @app.get("/__test/crash")
    def crash() -> str:
        raise RuntimeError("geheime-inhoud-uit-een-melding")

    @app.get("/__test/database-down")
    def database_down() -> str:
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    return app


def test_a_crash_shows_no_stack_trace_and_no_content(
    failing_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    response = failing_app.test_client().get("/__test/crash")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Er ging iets mis" in html
    for leak in ("Traceback", "RuntimeError", "geheime-inhoud", "crash()", ".py"):
        assert leak not in html
    _assert_security_headers(response, "/__test/crash")


def test_database_outage_is_a_503(failing_app: Flask) -> None:
    response = failing_app.test_client().get("/__test/database-down")
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert "Tijdelijk niet beschikbaar" in html
    assert "connection refused" not in html


def test_dutch_by_default_and_english_on_request(client: FlaskClient) -> None:
    page = client.get("/aanmelden")
    html = page.get_data(as_text=True)
    assert '<html lang="nl">' in html
    assert "Inloggen medewerkers" in html
    switched = client.post(
        "/taal", data={"language": "en", "next": "/aanmelden", "csrf_token": csrf_token(page)}
    )
    assert switched.status_code == 303
    assert switched.headers["Location"] == "/aanmelden"
    english = client.get("/aanmelden").get_data(as_text=True)
    assert '<html lang="en">' in english
    assert "Staff log-in" in english
    assert "Inloggen medewerkers" not in english
    back = client.post(
        "/taal",
        data={"language": "nl", "next": "https://evil.example/", "csrf_token": csrf_token(english)},
    )
    assert back.headers["Location"] == "/"
    assert '<html lang="nl">' in client.get("/").get_data(as_text=True)


def _switch_target(html: str) -> str | None:
    match = re.search(r'<input type="hidden" name="next" value="([^"]*)">', html)
    return match.group(1) if match else None


def test_the_language_switch_on_an_error_page_leads_somewhere_that_loads(
    client: FlaskClient,
) -> None:
    # An error page reached by its address can be loaded again in the other language...
    missing = client.get("/bestaat-niet")
    assert missing.status_code == 404
    assert _switch_target(missing.get_data(as_text=True)) == "/bestaat-niet"
    # ...an error in answer to a form cannot: the switch goes home instead of to a 405.
    refused = client.post("/aanmelden", data={"email": "x@example.org", "password": "x"})
    assert refused.status_code == 400
    assert _switch_target(refused.get_data(as_text=True)) == "/"


def test_language_switch_needs_a_csrf_token(client: FlaskClient) -> None:
    assert client.post("/taal", data={"language": "en", "next": "/"}).status_code == 400


def test_pages_load_nothing_from_elsewhere_and_nothing_inline(
    app: Flask, client: FlaskClient, staff: StaffLogin, clock: Clock
) -> None:
    pages = [
        client.get("/").get_data(as_text=True),
        client.get("/aanmelden").get_data(as_text=True),
    ]
    log_in(client, staff, clock())
    pages.append(client.get("/account").get_data(as_text=True))
    for html in pages:
        for attribute in re.findall(r'(?:src|href|action)="([^"]*)"', html):
            assert not re.match(r"^(https?:)?//", attribute), attribute
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
        assert " style=" not in html, "inline style"
        assert "<style" not in html


def test_static_files_are_served_locally(client: FlaskClient) -> None:
    with client.get("/static/css/app.css") as css:
        assert css.status_code == 200
        assert css.mimetype == "text/css"
    with client.get("/static/favicon.svg") as icon:
        assert icon.status_code == 200


def test_health_and_readiness(app: Flask, client: FlaskClient, keystore_path: Path) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {
        "status": "ready",
        "checks": {"database": "ok", "keystore": "ok", "ratelimit": "ok"},
    }
    shutil.rmtree(keystore_path)
    not_ready = client.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.get_json()["checks"]["keystore"] == "unavailable"
    assert client.get("/healthz").status_code == 200  # alive, just not ready


def test_readiness_reports_pending_migrations(app: Flask) -> None:
    from complaints import db

    class Behind(db.Database):
        def schema_revision(self) -> str | None:
            return "0000older"

    app.extensions["complaints.db"].__class__ = Behind
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "migrations pending"


def test_readiness_reports_a_database_outage(app: Flask) -> None:
    from complaints import db

    class Down(db.Database):
        def schema_revision(self) -> str | None:
            raise sa.exc.OperationalError("SELECT 1", {}, Exception("down"))

    app.extensions["complaints.db"].__class__ = Down
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "unavailable"
