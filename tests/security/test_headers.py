"""Security headers on every answer: every GET route of ``app.url_map`` asked for by someone
who may see it (case pages by a holder of the case, role pages by the role, the API with and
without its token, the mailbox with a code), downloads (attachments, letters, CSV, PDF), static
files, and the error pages 400, 403, 404, 405, 413, 429 and 500."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from complaints.web.security import CONTENT_SECURITY_POLICY
from tests import test_authorization as matrix
from tests.security.conftest import attacker, mailbox_client

STATIC = "/static/css/app.css"


def header_problems(response: TestResponse, where: str, *, static: bool = False) -> list[str]:
    headers = response.headers
    wanted = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cache-Control": "public, max-age=3600" if static else "no-store",
    }
    problems = [
        f"{where} ({response.status_code}): {name} is {headers.get(name)!r}"
        for name, value in wanted.items()
        if headers.get(name) != value
    ]
    csp = headers.get("Content-Security-Policy", "")
    for needed in ("default-src 'none'", "frame-ancestors 'none'", "script-src 'self'"):
        if needed not in csp:
            problems.append(f"{where}: CSP lacks {needed}")
    for forbidden in ("unsafe-inline", "unsafe-eval", "*"):
        if forbidden in csp:
            problems.append(f"{where}: CSP allows {forbidden}")
    hsts = headers.get("Strict-Transport-Security", "")
    if not hsts.startswith("max-age=") or int(hsts.split("=")[1].split(";")[0]) < 86400:
        problems.append(f"{where}: HSTS is {hsts!r}")
    if not static and "no-cache" not in headers.get("Pragma", ""):
        problems.append(f"{where}: no Pragma: no-cache")
    return problems


def visitor(
    world: matrix.World, rule: Rule, mailbox: FlaskClient
) -> tuple[FlaskClient, dict[str, object]]:
    page = matrix.EXPECTATIONS[rule.endpoint]
    if isinstance(page, matrix.Inbox | matrix.CaseSearch):
        return world.clients["confidant"], {}
    if isinstance(page, matrix.BearerToken):
        return world.clients["auditor"], {}  # a session but no token: the JSON 401
    _, client, _, values, _ = attacker(world, rule, mailbox)
    return client, values


def test_every_get_route_sends_the_security_headers(world: matrix.World) -> None:
    mailbox = mailbox_client(world)
    problems: list[str] = []
    statuses: dict[str, int] = {}
    for rule in world.rules:
        if "GET" not in (rule.methods or set()):
            continue
        client, values = visitor(world, rule, mailbox)
        url = matrix.url_for_rule(world, rule, values)
        response = client.get(url)
        statuses[rule.endpoint] = response.status_code
        problems += header_problems(response, f"GET {url}")
        # Anonymous, the same route sends them too (mostly a log-in redirect or a 404).
        problems += header_problems(world.app.test_client().get(url), f"anonymous GET {url}")
    static = world.app.test_client().get(STATIC)
    problems += header_problems(static, STATIC, static=True)
    static.close()
    assert not problems, "\n".join(problems)
    # The walk really reached the pages, not just refusals: every page of a case, of a role
    # and of one's own account opened for the one who may see it.
    kinds = (matrix.CasePage, matrix.RolePage, matrix.SignedIn, matrix.Inbox, matrix.CaseSearch)
    reached = {e: s for e, s in statuses.items() if isinstance(matrix.EXPECTATIONS[e], kinds)}
    assert set(reached.values()) == {200}, reached
    assert len(statuses) >= 45, len(statuses)
    for download in (
        "casework.attachment",
        "committee.download_letter",
        "followup.download_attachment",
        "privacy.plan_csv",
        "stats.table_csv",
        "stats_reports.confidants_pdf",
    ):
        assert statuses[download] == 200, download
    assert statuses["stats_api.table"] == 401


def test_downloads_are_attachments_of_a_safe_type(world: matrix.World) -> None:
    """Files from a case and exports open as downloads, never as a page of the site."""
    mailbox = mailbox_client(world)
    problems = []
    for rule in world.rules:
        if rule.endpoint not in {
            "casework.attachment",
            "committee.download_letter",
            "followup.download_attachment",
            "privacy.plan_csv",
            "privacy.ledger_csv",
            "privacy.register_csv",
            "stats.table_csv",
            "stats_reports.confidants_pdf",
            "stats_reports.committee_pdf",
        }:
            continue
        client, values = visitor(world, rule, mailbox)
        response = client.get(matrix.url_for_rule(world, rule, values))
        disposition = response.headers.get("Content-Disposition", "")
        if response.status_code != 200 or not disposition.startswith("attachment"):
            problems.append(f"{rule.endpoint}: {response.status_code} {disposition!r}")
        # A letter is an HTML document meant to be saved and printed; as a download, under a
        # CSP that runs no inline script, it never acts as a page of the site.
        html_allowed = rule.endpoint == "committee.download_letter"
        if response.mimetype in {"image/svg+xml", "application/xhtml+xml"} or (
            response.mimetype == "text/html" and not html_allowed
        ):
            problems.append(f"{rule.endpoint}: served as {response.mimetype}")
    assert not problems, "\n".join(problems)


def test_error_pages_send_the_security_headers(world: matrix.World) -> None:
    client = world.app.test_client()
    answers = {
        "404": client.get("/bestaat-niet"),
        "404 case": world.clients["confidant"].get("/zaken/00000000-0000-0000-0000-000000000000"),
        "405": client.get("/afmelden"),
        "400": client.post("/taal", data={}),
        "403": world.clients["employee"].get("/zaken"),
        "403 cross-site": client.post(
            "/taal",
            data={"csrf_token": matrix.token(client, False), "language": "nl"},
            headers={"Sec-Fetch-Site": "cross-site"},
        ),
        "413": client.post("/opvolgen", data=b"x" * (world.app.config["MAX_CONTENT_LENGTH"] + 1)),
    }
    problems = []
    for name, response in answers.items():
        if str(response.status_code) != name.split()[0]:
            problems.append(f"{name}: got {response.status_code}")
        problems += header_problems(response, name)
    assert not problems, "\n".join(problems)


class TestRarerErrors:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"receipt_rate_limit": "1 per minute"}

    def test_429_and_500_send_the_security_headers(self, app: Flask) -> None:
        @app.get("/__test/crash")
        def crash() -> str:
            raise RuntimeError("boom")

        client = app.test_client()
        crashed = client.get("/__test/crash")
        assert crashed.status_code == 500
        page = client.get("/opvolgen")
        token = page.get_data(as_text=True).split('name="csrf_token" type="hidden" value="')
        data = {"code": "AAAA", "csrf_token": token[1].split('"')[0] if len(token) > 1 else ""}
        statuses = [client.post("/opvolgen", data=data).status_code for _ in range(3)]
        assert statuses[-1] == 429, statuses
        limited = client.post("/opvolgen", data=data)
        problems = header_problems(crashed, "500") + header_problems(limited, "429")
        assert not problems, "\n".join(problems)
