"""The privacy officer's pages at /privacy (plan, holds, ledger, register, CSV) and the
retention panel on the case page, through the real log-in and with CSRF on.

The privacy officer sees references, rules, dates and counts, never what a case is about, and
cannot open a case; everyone else is refused the privacy pages."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from werkzeug.test import TestResponse

from complaints.audit.models import AuditEvent, AuditOutcome
from complaints.retention.models import LedgerEntry, RetentionExtension, RetentionHold
from tests.conftest import Clock, app_session
from tests.factories import StaffLogin, csrf_token, import_demo_directory, log_in, make_account
from tests.retention.conftest import SECRET_WORDS, at, make_finished_case

OFFICER = "h.wolters@bzk.example"
CONFIDANT = "i.hoekstra@bzk.example"
OTHER_CONFIDANT = "g.verbeek@bzk.example"
ADMIN = "t.groen@bzk.example"
AUDITOR = "b.koster@fin.example"
TODAY = date(2026, 3, 2)  # the clock of the tests (START)
PAGES = (
    "/privacy",
    "/privacy/plan.csv",
    "/privacy/bewaarplicht",
    "/privacy/logboek",
    "/privacy/logboek.csv",
    "/privacy/register",
    "/privacy/register.csv",
)


@dataclass
class World:
    due: uuid.UUID  # closed two years ago: destroyed within the plan's horizon
    due_reference: str
    later: uuid.UUID  # closed a year ago: not in the plan's horizon
    later_reference: str
    staff: dict[str, StaffLogin]


@pytest.fixture
def world(app: Flask, clock: Clock) -> World:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        due = make_finished_case(
            session,
            handler=people[CONFIDANT],
            filed_at=at(date(2024, 2, 1)),
            closed_at=at(date(2024, 3, 20)),
        )
        later = make_finished_case(
            session,
            handler=people[CONFIDANT],
            filed_at=at(date(2025, 2, 1)),
            closed_at=at(date(2025, 3, 1)),
        )
        staff = {
            email: make_account(session, people[email], clock())
            for email in (OFFICER, CONFIDANT, OTHER_CONFIDANT, ADMIN, AUDITOR)
        }
        return World(due.id, due.reference, later.id, later.reference, staff)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    browser = app.test_client()
    browser.set_cookie("taal", "en")
    return browser


def html(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def signed_in(client: FlaskClient, world: World, clock: Clock, who: str = OFFICER) -> str:
    log_in(client, world.staff[who], clock())
    return csrf_token(client.get("/account"))


def assert_no_content(text: str) -> None:
    for secret in SECRET_WORDS:
        assert secret not in text


def count(app: Flask, model: type) -> int:
    with app_session(app) as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def audited(app: Flask, action: str) -> list[AuditEvent]:
    with app_session(app) as session:
        return list(session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


def rows_of(response: TestResponse) -> list[list[str]]:
    return list(csv.reader(io.StringIO(html(response))))


# Who may come --------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(client: FlaskClient, world: World) -> None:
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 302, page
        assert response.headers["Location"].startswith("/aanmelden")


@pytest.mark.parametrize("who", [CONFIDANT, ADMIN, AUDITOR])
def test_only_the_privacy_officer_may_come(
    app: Flask, client: FlaskClient, world: World, clock: Clock, who: str
) -> None:
    token = signed_in(client, world, clock, who)
    for page in PAGES:
        assert client.get(page).status_code == 403, page
    hold = {"csrf_token": token, "reference": world.due_reference, "reason": "Rechtszaak"}
    assert client.post("/privacy/bewaarplicht", data=hold).status_code == 403
    assert count(app, RetentionHold) == 0


def test_the_privacy_officer_cannot_open_a_case(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    signed_in(client, world, clock)
    assert client.get(f"/zaken/{world.due}").status_code == 404
    assert client.get("/zaken").status_code == 403
    [refused] = audited(app, "case.open")
    assert refused.outcome is AuditOutcome.DENIED


# The plan --------------------------------------------------------------------------------------


def test_the_plan_shows_what_falls_due_and_nothing_of_the_case(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    signed_in(client, world, clock)
    page = client.get("/privacy")
    text = html(page)
    assert page.status_code == 200
    assert f'data-reference="{world.due_reference}" data-rule="confidant-closed"' in text
    assert "Closed confidential counsellor files" in text
    assert "20 March 2026" in text
    assert world.later_reference not in text
    assert_no_content(text)
    # A longer horizon shows the later case too; nonsense is ignored.
    assert world.later_reference in html(client.get("/privacy?dagen=400"))
    assert world.later_reference not in html(client.get("/privacy?dagen=abc"))
    assert world.later_reference not in html(client.get("/privacy?dagen=-5"))
    export = client.get("/privacy/plan.csv?dagen=400")
    assert export.status_code == 200
    assert export.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in export.headers["Content-Disposition"]
    assert rows_of(export) == [
        ["Reference", "Rule", "Action", "Due on", "Extended", "Held", "Held until"],
        [world.due_reference, "confidant-closed", "destroy", "2026-03-20", "no", "no", ""],
        [world.later_reference, "confidant-closed", "destroy", "2027-03-01", "no", "no", ""],
    ]
    assert_no_content(html(export))
    assert audited(app, "case.open") == []  # the plan opens no case


# Holds -----------------------------------------------------------------------------------------


def test_the_privacy_officer_places_and_lifts_a_hold(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    token = signed_in(client, world, clock)
    form = client.get("/privacy/bewaarplicht")
    assert form.status_code == 200
    assert "No case is on hold." in html(form)
    response = client.post(
        "/privacy/bewaarplicht",
        data={
            "csrf_token": token,
            "reference": f" {world.later_reference.lower()} ",
            "reason": "Verzoek van juridische zaken, procedure bij de rechtbank",
            "until": "31-12-2027",
        },
    )
    assert response.status_code == 303
    page = html(client.get(response.headers["Location"]))
    assert f"The hold on {world.later_reference} has been placed" in page
    assert f'data-reference="{world.later_reference}"' in page
    assert "Verzoek van juridische zaken" in page
    with app_session(app) as session:
        hold = session.scalars(sa.select(RetentionHold)).one()
        assert (hold.case_id, hold.until) == (world.later, date(2027, 12, 31))
    [event] = audited(app, "retention.hold_placed")
    assert event.details == {
        "reference": world.later_reference,
        "hold": hold.id,
        "until": "2027-12-31",
    }
    # The plan now shows the held case, with its end, whatever the horizon.
    plan = html(client.get("/privacy?dagen=0"))
    assert world.later_reference in plan
    assert "On hold until 31 December 2027" in plan
    assert rows_of(client.get("/privacy/plan.csv?dagen=0"))[1][-2:] == ["yes", "2027-12-31"]

    response = client.post(
        "/privacy/bewaarplicht/opheffen", data={"csrf_token": token, "hold_id": str(hold.id)}
    )
    assert response.status_code == 303
    page = html(client.get(response.headers["Location"]))
    assert "The hold has been lifted" in page
    assert "No case is on hold." in page
    assert len(audited(app, "retention.hold_lifted")) == 1
    # Lifting again, or a hold that does not exist, changes nothing.
    for hold_id in (str(hold.id), "999999"):
        response = client.post(
            "/privacy/bewaarplicht/opheffen", data={"csrf_token": token, "hold_id": hold_id}
        )
        assert "does not exist or has been lifted already" in html(
            client.get("/privacy/bewaarplicht")
        )
    assert (
        client.post(
            "/privacy/bewaarplicht/opheffen", data={"csrf_token": token, "hold_id": "x"}
        ).status_code
        == 400
    )
    assert len(audited(app, "retention.hold_lifted")) == 1


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"reference": "2026-XXXX-XXXX", "reason": "Rechtszaak"}, 409, "There is no case"),
        ({"reason": "Rechtszaak"}, 400, "Enter the reference of the case"),
        ({"reference": "{due}"}, 400, "Give the reason for the hold."),
        ({"reference": "{due}", "reason": "x" * 301}, 400, "at most 300 characters"),
        ({"reference": "{due}", "reason": "Rechtszaak", "until": "1-1-2026"}, 409, "in the past"),
        ({"reference": "{due}", "reason": "Rechtszaak", "until": "morgen"}, 400, "Not a valid"),
    ],
)
def test_a_wrong_hold_is_refused_with_the_reason(
    app: Flask,
    client: FlaskClient,
    world: World,
    clock: Clock,
    fields: dict[str, str],
    status: int,
    message: str,
) -> None:
    token = signed_in(client, world, clock)
    data = {k: v.replace("{due}", world.due_reference) for k, v in fields.items()}
    response = client.post("/privacy/bewaarplicht", data={"csrf_token": token, **data})
    assert response.status_code == status
    assert message in html(response)
    assert 'class="error-summary"' in html(response)
    assert count(app, RetentionHold) == 0


def test_a_forged_csrf_token_is_refused(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    signed_in(client, world, clock)
    response = client.post(
        "/privacy/bewaarplicht",
        data={"csrf_token": "forged", "reference": world.due_reference, "reason": "Rechtszaak"},
    )
    assert response.status_code == 400
    assert count(app, RetentionHold) == 0


# The ledger ------------------------------------------------------------------------------------


def test_the_ledger_pages_newest_first_and_exports_safely(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    with app_session(app) as session:
        for number in range(60):
            session.add(
                LedgerEntry(
                    occurred_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=number),
                    as_of=date(2026, 1, 1),
                    category="case",
                    subject=f"2024-{number:04d}-TEST",
                    rule="withdrawn",
                    action="destroyed",
                    records={"messages": number, "key_slots": 1},
                )
            )
        # Whatever a subject holds, a spreadsheet must show it as text.
        session.add(
            LedgerEntry(
                occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
                as_of=date(2025, 1, 1),
                category="key",
                subject='=HYPERLINK("http://x")',
                rule="epoch",
                action="key_destroyed",
                records={"-cmd": 1},
            )
        )
    signed_in(client, world, clock)
    first = html(client.get("/privacy/logboek"))
    assert first.index("2024-0059-TEST") < first.index("2024-0050-TEST")
    assert "2024-0010-TEST" in first
    assert "2024-0009-TEST" not in first
    assert "Withdrawn reports" in first
    assert "Destroyed" in first
    assert "Page 1 of 2" in first
    second = html(client.get("/privacy/logboek?pagina=2"))
    assert "2024-0009-TEST" in second
    assert "2024-0010-TEST" not in second
    assert "Epoch key destroyed" in second
    assert client.get("/privacy/logboek?pagina=999").status_code == 200

    rows = rows_of(client.get("/privacy/logboek.csv"))
    assert rows[0] == [
        "Occurred at (UTC)",
        "Policy day",
        "Category",
        "Subject",
        "Rule",
        "Action",
        "Records",
    ]
    assert len(rows) == 62
    assert rows[1][3] == "2024-0059-TEST"
    assert rows[1][6] == "key_slots 1; messages 59"
    assert rows[-1][3] == '\'=HYPERLINK("http://x")'
    assert rows[-1][6] == "'-cmd 1"


# The register ----------------------------------------------------------------------------------


def test_the_register_lists_every_category_and_rule(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    signed_in(client, world, clock)
    page = html(client.get("/privacy/register"))
    policy = app.extensions["complaints.retention"]
    for info in policy.categories.values():
        assert info.name.en in page
        assert info.purpose.en in page
    for rule in policy.rules:
        assert f'data-rule="{rule.name}"' in page
        assert str(escape(rule.basis.en)) in page
    assert "2 years" in page
    assert "90 days" in page
    assert "1 year" in page
    rows = rows_of(client.get("/privacy/register.csv"))
    assert len(rows) == 1 + len(policy.rules)
    by_rule = {row[6]: row for row in rows[1:]}
    assert by_rule["integrity-redact"][8:12] == [
        "1 year",
        "closed",
        "redact",
        "complainant receipt messages",
    ]
    assert by_rule["integrity-redact"][12] == "4.4"
    assert by_rule["withdrawn"][15:] == ["14 days", "6 months"]
    assert by_rule["audit"][15:] == ["", ""]
    # In Dutch, by the same file.
    client.set_cookie("taal", "nl")
    dutch = rows_of(client.get("/privacy/register.csv"))
    assert {row[6]: row for row in dutch[1:]}["confidant-closed"][8] == "2 jaar"


# The case page ---------------------------------------------------------------------------------


def test_a_handler_extends_once_from_the_case_page(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    token = signed_in(client, world, clock, CONFIDANT)
    page = html(client.get(f"/zaken/{world.due}"))
    assert 'id="bewaartermijn"' in page
    assert 'data-rule="confidant-closed" data-due="2026-03-20"' in page
    assert "by 1 year" in page
    url = f"/zaken/{world.due}/bewaartermijn"
    empty = client.post(url, data={"retention-csrf_token": token, "retention-reason": " "})
    assert empty.status_code == 400
    assert "Give the reason for keeping the case longer." in html(empty)
    response = client.post(
        url,
        data={"retention-csrf_token": token, "retention-reason": "Nieuwe melding, zelfde afdeling"},
    )
    assert response.status_code == 303
    page = html(client.get(response.headers["Location"]))
    assert 'data-rule="confidant-closed" data-due="2027-03-20"' in page
    assert "Nieuwe melding, zelfde afdeling" in page
    assert 'action="' + url not in page
    again = client.post(url, data={"retention-csrf_token": token, "retention-reason": "Nog eens"})
    assert again.status_code == 409
    assert "has been extended already" in html(again)
    assert count(app, RetentionExtension) == 1
    [event] = audited(app, "retention.extended")
    assert event.details == {
        "reference": world.due_reference,
        "rule": "confidant-closed",
        "due_on": "2027-03-20",
    }


def test_no_extension_for_an_outsider_or_an_open_case(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    token = signed_in(client, world, clock, OTHER_CONFIDANT)
    data = {"retention-csrf_token": token, "retention-reason": "Nodig"}
    assert client.post(f"/zaken/{world.due}/bewaartermijn", data=data).status_code == 404
    assert client.post(f"/zaken/{uuid.uuid4()}/bewaartermijn", data=data).status_code == 404
    with app_session(app) as session:
        from complaints.cases.models import Case

        case = session.get_one(Case, world.later)
        case.state, case.closed_at = "supporting", None
    client = app.test_client()
    client.set_cookie("taal", "en")
    token = signed_in(client, world, clock, CONFIDANT)
    page = html(client.get(f"/zaken/{world.later}"))
    assert 'id="bewaartermijn"' not in page
    response = client.post(
        f"/zaken/{world.later}/bewaartermijn",
        data={"retention-csrf_token": token, "retention-reason": "Nodig"},
    )
    assert response.status_code == 409
    assert "this case is still open" in html(response)
    assert count(app, RetentionExtension) == 0


def test_the_case_page_shows_a_hold(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    with app_session(app) as session:
        session.add(
            RetentionHold(case_id=world.due, reason="Rechtszaak", until=None, placed_at=clock())
        )
    signed_in(client, world, clock, CONFIDANT)
    page = html(client.get(f"/zaken/{world.due}"))
    assert "data-retention-held" in page
