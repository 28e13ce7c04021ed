"""The statistics API (/api/v1): bearer tokens attacked (missing, guessed, revoked, expired, the
wrong role, a deactivated account, a session cookie instead of a token), the numbers equal to the
engine's protected numbers (suppressed counts stay null), JSON refusals, and the OpenAPI
description."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from limits import parse
from werkzeug.test import TestResponse

from complaints.accounts.models import Account, Role, RoleAssignment
from complaints.crypto.services import keystore
from complaints.settings import current_settings
from complaints.stats import tokens
from complaints.stats.labels import label
from complaints.stats.models import StatEvent
from complaints.stats.tables import DIMENSIONS, KINDS, protected_table
from tests.conftest import Clock, app_session
from tests.factories import StaffLogin, import_demo_directory, log_in, make_account

AUDITOR = "b.koster@fin.example"
ADMIN = "t.groen@bzk.example"
YEAR = 2025
TABLE = f"/api/v1/stats?kind=submitted&year={YEAR}&rows=category&columns=route"
YEARS = "/api/v1/stats/years"


@dataclass
class World:
    staff: dict[str, StaffLogin]
    token: str  # the auditor's
    admin_token: str  # made for the administrator, who is no auditor


def seed(session: Any, kind: str, count: int, quarter: str = f"{YEAR}-Q2", **dims: Any) -> None:
    values = {
        "category": "bullying",
        "grounds": [],
        "route": "confidant",
        "disclosure": "named",
        "organisation_id": None,
        **dims,
    }
    session.add_all(StatEvent(kind=kind, quarter=quarter, **values) for _ in range(count))


def seed_year(session: Any) -> None:
    """Large and small counts: aggression on the confidant route (3) must be suppressed."""
    seed(session, "submitted", 9, category="bullying", route="confidant", grounds=["age"])
    seed(session, "submitted", 3, category="aggression", route="confidant")
    seed(session, "submitted", 7, category="aggression", route="committee", grounds=["race"])
    seed(session, "submitted", 12, category="bullying", route="committee", quarter=f"{YEAR}-Q3")
    seed(session, "submitted", 6, category="discrimination", route="manager")
    seed(session, "decided", 8, route="committee", outcome="unfounded")
    seed(session, "submitted", 5, quarter="2024-Q1")


@pytest.fixture
def world(app: Flask, clock: Clock) -> World:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        staff = {email: make_account(session, people[email], clock()) for email in (AUDITOR, ADMIN)}
        token = tokens.create_token(
            session, keystore(), staff[AUDITOR].account, label="script", now=clock()
        ).token
        admin_token = tokens.create_token(
            session, keystore(), staff[ADMIN].account, label="script", now=clock()
        ).token
        seed_year(session)
        return World(staff, token, admin_token)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def body(response: TestResponse) -> Any:
    assert response.content_type == "application/json", response.get_data(as_text=True)[:200]
    return json.loads(response.get_data(as_text=True))


def assert_refused(response: TestResponse, status: int, code: str) -> None:
    assert response.status_code == status
    assert body(response)["error"]["code"] == code
    assert response.headers["Cache-Control"] == "no-store"
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


# Tokens, attacked ----------------------------------------------------------------------------


@pytest.mark.parametrize("url", [TABLE, YEARS])
def test_no_token_is_401(client: FlaskClient, world: World, url: str) -> None:
    assert_refused(client.get(url), 401, "missing_token")
    assert_refused(client.get(url, headers={"Authorization": "Bearer "}), 401, "missing_token")
    basic = {"Authorization": f"Basic {world.token}"}
    assert_refused(client.get(url, headers=basic), 401, "missing_token")


@pytest.mark.parametrize(
    "guess",
    [
        "kst_" + secrets.token_urlsafe(32),
        "kst_",
        "x" * 47,
        "kst_" + "A" * 500,
        "' OR 1=1 --",
    ],
)
def test_a_guessed_token_is_401(client: FlaskClient, world: World, guess: str) -> None:
    assert_refused(client.get(TABLE, headers=bearer(guess)), 401, "invalid_token")


def test_a_changed_token_is_401(client: FlaskClient, world: World) -> None:
    last = "A" if world.token[-1] != "A" else "B"
    assert_refused(client.get(TABLE, headers=bearer(world.token[:-1] + last)), 401, "invalid_token")
    assert_refused(client.get(TABLE, headers=bearer(world.token[4:])), 401, "invalid_token")


def test_the_token_opens_the_api(client: FlaskClient, world: World) -> None:
    response = client.get(TABLE, headers=bearer(world.token))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    # The scheme is case-insensitive (RFC 6750).
    assert client.get(YEARS, headers={"Authorization": f"bearer {world.token}"}).status_code == 200


def test_a_revoked_token_is_401(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    with app_session(app) as session:
        record = tokens.active_token(session, world.token, now=clock())
        assert record is not None
        tokens.revoke_token(
            session, keystore(), world.staff[AUDITOR].account, record.id, now=clock()
        )
    assert_refused(client.get(TABLE, headers=bearer(world.token)), 401, "invalid_token")


def test_an_expired_token_is_401(client: FlaskClient, world: World, clock: Clock) -> None:
    clock.advance(days=89, hours=23)
    assert client.get(YEARS, headers=bearer(world.token)).status_code == 200
    clock.advance(hours=1)
    assert_refused(client.get(YEARS, headers=bearer(world.token)), 401, "invalid_token")


def test_a_token_of_someone_who_is_no_auditor_is_403(client: FlaskClient, world: World) -> None:
    assert_refused(client.get(TABLE, headers=bearer(world.admin_token)), 403, "forbidden")
    assert "cells" not in client.get(TABLE, headers=bearer(world.admin_token)).get_data(
        as_text=True
    )


def test_a_token_stops_working_when_the_role_is_taken_away(
    app: Flask, client: FlaskClient, world: World
) -> None:
    with app_session(app) as session:
        session.execute(
            sa.delete(RoleAssignment).where(
                RoleAssignment.person_id == world.staff[AUDITOR].person.id,
                RoleAssignment.role == Role.AUDITOR,
            )
        )
    assert_refused(client.get(TABLE, headers=bearer(world.token)), 403, "forbidden")


def test_a_token_stops_working_when_the_account_is_deactivated(
    app: Flask, client: FlaskClient, world: World
) -> None:
    with app_session(app) as session:
        account = session.get(Account, world.staff[AUDITOR].account.id)
        assert account is not None
        account.active = False
    assert_refused(client.get(TABLE, headers=bearer(world.token)), 403, "forbidden")


def test_a_logged_in_auditor_still_needs_a_token(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    log_in(client, world.staff[AUDITOR], clock())
    assert_refused(client.get(TABLE), 401, "missing_token")


def test_use_is_recorded(app: Flask, client: FlaskClient, world: World, clock: Clock) -> None:
    clock.advance(hours=2)
    client.get(YEARS, headers=bearer(world.token))
    with app_session(app) as session:
        record = session.scalar(
            sa.select(tokens.ApiToken).where(
                tokens.ApiToken.token_hash == tokens.token_hash(world.token)
            )
        )
        assert record is not None
        assert record.last_used_at == clock()


def test_the_api_is_rate_limited(app: Flask, client: FlaskClient, world: World) -> None:
    limit = parse(app.extensions["complaints.settings"].stats_api_rate_limit).amount
    for _ in range(limit):
        assert client.get(YEARS, headers=bearer(world.token)).status_code == 200
    refused = client.get(YEARS, headers=bearer(world.token))
    assert_refused(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60  # the rest of the minute's window


def test_writing_is_not_allowed(client: FlaskClient, world: World) -> None:
    for method in (client.post, client.put, client.delete):
        response = method(TABLE, headers=bearer(world.token))
        assert_refused(response, 405, "method_not_allowed")
        assert "GET" in response.headers["Allow"]


def test_an_unknown_api_address_is_a_json_404(client: FlaskClient, world: World) -> None:
    assert_refused(client.get("/api/v1/cases", headers=bearer(world.token)), 404, "not_found")
    # Elsewhere a missing page is still the HTML error page.
    response = client.get("/bestaat-niet")
    assert response.status_code == 404
    assert response.content_type.startswith("text/html")


# The numbers ---------------------------------------------------------------------------------


def expected(app: Flask, **query: Any) -> Any:
    with app_session(app) as session:
        return protected_table(session, k=current_settings().stats_min_cell, **query)


@pytest.mark.parametrize(
    ("kind", "rows", "columns"),
    [
        ("submitted", "category", "route"),
        ("submitted", "route", "category"),
        ("submitted", "category", None),
        ("submitted", "grounds", "route"),
        ("submitted", "quarter", "route"),
        ("decided", "outcome", None),
        ("closed", "category", None),
    ],
)
def test_the_numbers_are_the_engines_protected_numbers(
    app: Flask, client: FlaskClient, world: World, kind: str, rows: str, columns: str | None
) -> None:
    url = f"/api/v1/stats?kind={kind}&year={YEAR}&rows={rows}" + (
        f"&columns={columns}" if columns else ""
    )
    got = body(client.get(url, headers=bearer(world.token)))
    table = expected(app, kind=kind, year=YEAR, rows=rows, columns=columns)
    assert got["kind"]["key"] == kind
    assert got["year"] == YEAR
    assert got["k"] == table.k == 5
    assert got["rows"]["dimension"] == rows
    assert [key["key"] for key in got["rows"]["keys"]] == list(table.row_keys)
    if columns:
        assert [key["key"] for key in got["columns"]["keys"]] == list(table.column_keys)
    else:
        assert got["columns"] is None
    column_keys = table.column_keys or ("",)
    cells = {(cell["row"], cell["column"]): cell for cell in got["cells"]}
    assert set(cells) == {(r, c) for r in table.row_keys for c in column_keys}
    for (row, column), cell in cells.items():
        assert cell["count"] == table.cell(row, column)
        assert cell["suppressed"] is (cell["count"] is None)
    assert {t["key"]: t["count"] for t in got["row_totals"]} == dict(table.row_totals)
    assert {t["key"]: t["count"] for t in got["column_totals"]} == dict(table.column_totals)
    assert got["total"] == {"count": table.total, "suppressed": table.total is None}
    assert got["counts_mentions"] is (rows == "grounds" or columns == "grounds")


def test_a_small_count_is_null_never_its_value(
    app: Flask, client: FlaskClient, world: World
) -> None:
    got = body(client.get(TABLE, headers=bearer(world.token)))
    cell = next(c for c in got["cells"] if (c["row"], c["column"]) == ("aggression", "confidant"))
    assert cell == {"row": "aggression", "column": "confidant", "count": None, "suppressed": True}
    # Its complement in the same row or column is hidden too, so the totals do not give it away.
    hidden = [c for c in got["cells"] if c["suppressed"]]
    assert len(hidden) >= 2
    # Zero is a count: discrimination never went to the committee.
    zero = next(
        c for c in got["cells"] if (c["row"], c["column"]) == ("discrimination", "committee")
    )
    assert zero["count"] == 0
    assert zero["suppressed"] is False


def test_labels_follow_the_language(client: FlaskClient, world: World, app: Flask) -> None:
    english = body(client.get(TABLE + "&lang=en", headers=bearer(world.token)))
    dutch = body(client.get(TABLE, headers=bearer(world.token)))
    with app.test_request_context(headers={"Cookie": "taal=en"}):
        assert english["rows"]["keys"][0]["label"] == label("category", "aggression")
    assert dutch["rows"]["keys"][0]["label"] != english["rows"]["keys"][0]["label"]
    assert english["kind"]["label"] == "Reports submitted"


def test_years(client: FlaskClient, world: World) -> None:
    got = body(client.get(YEARS + "?lang=en", headers=bearer(world.token)))
    assert got["years"] == [YEAR, 2024]
    assert got["k"] == 5
    assert [kind["key"] for kind in got["kinds"]] == list(KINDS)
    assert [dimension["key"] for dimension in got["dimensions"]] == list(DIMENSIONS)


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("year=2025&rows=category", 400, "missing_parameter"),
        ("kind=submitted&rows=category", 400, "missing_parameter"),
        ("kind=submitted&year=2025", 400, "missing_parameter"),
        ("kind=everything&year=2025&rows=category", 400, "invalid_parameter"),
        ("kind=submitted&year=2025&rows=name", 400, "invalid_parameter"),
        ("kind=submitted&year=2025&rows=category&columns=category", 400, "invalid_parameter"),
        ("kind=submitted&year=twenty&rows=category", 400, "invalid_parameter"),
        ("kind=submitted&year=2025&rows=category&lang=de", 400, "invalid_parameter"),
        ("kind=submitted&year=1999&rows=category", 404, "unknown_year"),
    ],
)
def test_a_bad_query_is_a_json_error(
    client: FlaskClient, world: World, query: str, status: int, code: str
) -> None:
    assert_refused(client.get(f"/api/v1/stats?{query}", headers=bearer(world.token)), status, code)


def test_refusals_do_not_depend_on_the_query_before_the_token(
    client: FlaskClient, world: World
) -> None:
    """Without a token, even a bad query is a 401: nothing is learnt before authentication."""
    assert_refused(client.get("/api/v1/stats?kind=nonsense"), 401, "missing_token")


# The description -----------------------------------------------------------------------------


def test_the_openapi_description(client: FlaskClient, world: World) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = body(response)
    assert spec["openapi"] == "3.1.0"
    assert set(spec["paths"]) == {"/stats", "/stats/years", "/openapi.json"}
    assert spec["servers"] == [{"url": "/api/v1"}]
    parameters = {p["name"]: p for p in spec["paths"]["/stats"]["get"]["parameters"] if "name" in p}
    assert parameters["kind"]["schema"]["enum"] == list(KINDS)
    assert parameters["rows"]["schema"]["enum"] == list(DIMENSIONS)
    assert parameters["columns"]["schema"]["enum"] == list(DIMENSIONS)
    assert spec["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"

    # Every reference resolves.
    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if "$ref" in node else []
            return own + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    for ref in refs(spec):
        target: Any = spec
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        assert isinstance(target, dict), ref


def test_the_description_matches_an_answer(client: FlaskClient, world: World) -> None:
    """The answer has exactly the fields the description requires."""
    spec = body(client.get("/api/v1/openapi.json"))
    schemas = spec["components"]["schemas"]
    got = body(client.get(TABLE, headers=bearer(world.token)))
    assert set(got) == set(schemas["Table"]["required"])
    assert set(got["cells"][0]) == {"row", "column", "count", "suppressed"}
    years = body(client.get(YEARS, headers=bearer(world.token)))
    assert set(years) == set(schemas["Years"]["required"])
    error = body(client.get(TABLE))
    assert (
        error["error"]["code"]
        in schemas["Error"]["properties"]["error"]["properties"]["code"]["enum"]
    )
    assert timedelta(days=tokens.TOKEN_DAYS).days == 90
