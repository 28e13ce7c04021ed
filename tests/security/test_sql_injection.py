"""SQL injection strings in every search, filter and query parameter.

The inbox filters and paging, the privacy plan's filter and paging, the statistics dashboard,
CSV export and API parameters, the directory searches of the report form (accused, witness,
manager) and of a report filed on someone's behalf, the receipt-code field, the log-in e-mail
and the retention-hold reference: each gets every payload. The answers must be ordinary (no
500, no rows beyond what the user may see, the whole directory never listed by a wildcard),
and afterwards every table is still there with the same rows.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from complaints.accounts.models import Account
from complaints.crypto.services import keystore
from complaints.stats import tokens
from tests import test_authorization as matrix
from tests.conftest import START, app_session
from tests.factories import csrf_token
from tests.security.conftest import body, changed, database_state

PAYLOADS = [
    "' OR 1=1 --",
    '"; DROP TABLE cases; --',
    "1' UNION SELECT id, reference, NULL FROM cases --",
    "1; SELECT pg_sleep(5)",
    "' AND 1=CAST((SELECT reference FROM cases LIMIT 1) AS int) --",
    "%' OR name LIKE '%",
    "\\'; --",
    "-1",
    "99999999999999999999999",
    "\x00",
    "Bakker\x00' OR 1=1 --",  # PostgreSQL refuses NUL in text: must be a 400, not a 500
    "%",
    "_",
]
PICK = re.compile(r'name="(?:accused|witness|manager|employee)_pick" value="(\d+)"')


def ordinary(response: TestResponse, allowed: tuple[int, ...] = (200, 400)) -> bool:
    return response.status_code in allowed


def listed(world: matrix.World, response: TestResponse) -> set[str]:
    text = body(response)
    return {c.key for c in world.cases if c.reference in text}


def test_inbox_and_privacy_filters(world: matrix.World) -> None:
    confidant, officer = world.clients["confidant"], world.clients["privacy_officer"]
    plain = listed(world, confidant.get("/zaken?gesloten=y"))
    assert plain == {"CONF"}
    before = database_state(world.app)
    problems = []
    for payload in PAYLOADS:
        for name in ("route", "status", "verlopen", "ongelezen", "gesloten", "pagina"):
            response = confidant.get("/zaken", query_string={name: payload, "gesloten": "y"})
            if not ordinary(response) or not listed(world, response) <= plain:
                problems.append(f"/zaken {name}={payload!r}: {response.status_code}")
        for name in ("dagen", "pagina"):
            response = officer.get("/privacy", query_string={name: payload})
            if not ordinary(response, (200, 400)) or listed(world, response) - {"CONF"}:
                problems.append(f"/privacy {name}={payload!r}: {response.status_code}")
    assert not problems, "\n".join(problems)
    assert changed(before, database_state(world.app)) == []


def test_statistics_filters_and_api_parameters(world: matrix.World) -> None:
    auditor = world.clients["auditor"]
    with app_session(world.app) as session:
        account = session.scalars(
            sa.select(Account).where(Account.person_id == world.person_ids["auditor"])
        ).one()
        token = tokens.create_token(session, keystore(), account, label="sqli", now=START).token
    api = world.app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    problems = []
    before = database_state(world.app)
    for payload in PAYLOADS:
        for name in ("jaar", "soort", "rijen", "kolommen"):
            for url in ("/statistieken", "/statistieken/tabel.csv"):
                response = auditor.get(url, query_string={name: payload})
                if not ordinary(response, (200, 400)):
                    problems.append(f"{url} {name}={payload!r}: {response.status_code}")
        for name in ("year", "kind", "rows", "columns", "lang"):
            query = {"year": str(START.year), "kind": "reports", "rows": "route", name: payload}
            response = api.get("/api/v1/stats", query_string=query, headers=headers)
            if response.status_code not in (200, 400, 404) or not response.is_json:
                problems.append(f"API {name}={payload!r}: {response.status_code}")
        response = api.get("/api/v1/stats/years", query_string={"lang": payload}, headers=headers)
        if response.status_code not in (200, 400):
            problems.append(f"API years lang={payload!r}: {response.status_code}")
    assert not problems, "\n".join(problems)
    # Only the use of the token was recorded (its last use, and the audit of creating it).
    assert set(changed(before, database_state(world.app))) <= {"api_tokens", "audit_events"}


def _report_at_people_step(client: FlaskClient) -> None:
    def post(url: str, **data: str) -> TestResponse:
        page = client.get(url if url != "/melden" else "/melden")
        response = client.post(url, data={"csrf_token": csrf_token(page), **data})
        assert response.status_code in (200, 303), (url, response.status_code)
        return response

    post("/melden")
    post("/melden/wat", action="continue", category="bullying")
    post("/melden/wanneer-waar", action="continue")
    post("/melden/beschrijving", action="continue", description="Zie hieronder.")


def test_directory_searches(world: matrix.World) -> None:
    client = world.app.test_client()
    _report_at_people_step(client)
    found = PICK.findall(
        body(
            client.post(
                "/melden/betrokkenen",
                data={
                    "csrf_token": csrf_token(client.get("/melden/betrokkenen")),
                    "action": "search",
                    "accused_query": "Bakker",
                },
            )
        )
    )
    assert len(found) == 1  # the control: a real search finds Lotte Bakker
    confidant = world.clients["confidant"]
    problems = []
    before = database_state(world.app)
    for payload in PAYLOADS:
        searches = [
            (client, "/melden/betrokkenen", {"action": "search", "accused_query": payload}),
            (client, "/melden/betrokkenen", {"action": "search_witness", "witness_query": payload}),
            (confidant, "/zaken/namens-melden", {"action": "search", "accused_query": payload}),
            (
                confidant,
                "/zaken/namens-melden",
                {"action": "search_employee", "employee_query": payload},
            ),
        ]
        for who, url, data in searches:
            token = csrf_token(who.get(url))
            response = who.post(url, data={"csrf_token": token, **data})
            hits = PICK.findall(body(response))
            if response.status_code not in (200, 400) or hits:
                problems.append(f"{url} {data}: {response.status_code}, {len(hits)} people")
    assert not problems, "\n".join(problems)
    assert changed(before, database_state(world.app)) == ["intake_drafts"] or not changed(
        before, database_state(world.app)
    )


def test_receipt_code_log_in_and_hold_reference(world: matrix.World) -> None:
    problems = []
    officer = world.clients["privacy_officer"]
    before = database_state(world.app)
    for number, payload in enumerate(PAYLOADS):
        guesser = world.app.test_client()
        guesser.environ_base["REMOTE_ADDR"] = f"198.51.100.{number + 1}"
        page = guesser.get("/opvolgen")
        response = guesser.post("/opvolgen", data={"code": payload, "csrf_token": csrf_token(page)})
        if not ordinary(response) or guesser.get("/opvolgen/melding").status_code != 303:
            problems.append(f"receipt code {payload!r}: {response.status_code}")
        page = guesser.get("/aanmelden")
        response = guesser.post(
            "/aanmelden",
            data={"email": payload, "password": payload, "csrf_token": csrf_token(page)},
        )
        if not ordinary(response) or guesser.get("/account").status_code != 302:
            problems.append(f"log-in e-mail {payload!r}: {response.status_code}")
        page = officer.get("/privacy/bewaarplicht")
        response = officer.post(
            "/privacy/bewaarplicht",
            data={
                "csrf_token": csrf_token(page),
                "reference": payload,
                "reason": "Rechtszaak.",
                "until": "2027-01-01",
            },
        )
        if response.status_code not in (200, 400, 409):  # 409: no such case
            problems.append(f"hold reference {payload!r}: {response.status_code}")
    assert not problems, "\n".join(problems)
    after = database_state(world.app)
    # Failed attempts are audited and counted for the log-in throttle; nothing else changed (no
    # hold was placed, no session made).
    assert changed(before, after) == ["audit_events", "login_failures"]
    with app_session(world.app) as session:
        assert session.execute(sa.text("SELECT COUNT(*) FROM cases")).scalar_one() >= 7
