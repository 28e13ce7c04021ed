"""The annual reports: the confidants' overview and the committee's report, as a page and as a
PDF, for auditors only; both carry the engine's protected numbers and never a suppressed one."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from werkzeug.test import TestResponse

from complaints.stats.labels import label
from complaints.stats.models import StatEvent
from complaints.stats.pdf import report_pdf
from complaints.stats.reports import AnnualReport, committee_report, confidants_report
from complaints.stats.tables import Table, deadline_shares, protected_table
from tests.conftest import Clock, app_session
from tests.factories import StaffLogin, import_demo_directory, log_in, make_account

AUDITOR = "b.koster@fin.example"
ADMIN = "t.groen@bzk.example"
CONFIDANT = "i.hoekstra@bzk.example"
YEAR = 2025
K = 5
PAGES = (
    "/statistieken/jaarverslag",
    f"/statistieken/jaarverslag/{YEAR}/vertrouwenspersonen",
    f"/statistieken/jaarverslag/{YEAR}/vertrouwenspersonen.pdf",
    f"/statistieken/jaarverslag/{YEAR}/commissie",
    f"/statistieken/jaarverslag/{YEAR}/commissie.pdf",
)


@dataclass
class World:
    staff: dict[str, StaffLogin]


def seed(session: Any, kind: str, count: int, **dims: Any) -> None:
    values = {
        "quarter": f"{YEAR}-Q2",
        "category": "bullying",
        "grounds": [],
        "route": "confidant",
        "disclosure": "named",
        "organisation_id": None,
        **dims,
    }
    session.add_all(StatEvent(kind=kind, **values) for _ in range(count))


@pytest.fixture
def world(app: Flask, clock: Clock) -> World:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        staff = {
            email: make_account(session, people[email], clock())
            for email in (AUDITOR, ADMIN, CONFIDANT)
        }
        # The confidants: 11 bullying, 3 aggression (suppressed), 6 sexual harassment.
        seed(session, "submitted", 11, category="bullying")
        seed(session, "submitted", 3, category="aggression")
        seed(session, "submitted", 6, category="sexual_harassment", quarter=f"{YEAR}-Q4")
        seed(session, "submitted", 8, category="bullying", route="manager")
        seed(session, "referred", 6, outcome="committee")
        seed(session, "referred", 2, outcome="integrity")
        seed(session, "acknowledged", 9, days_taken=4, deadline="ack", deadline_met=True)
        # The committee: 13 bullying, 7 discrimination naming race, 2 aggression.
        seed(session, "submitted", 13, category="bullying", route="committee")
        seed(
            session,
            "submitted",
            7,
            category="discrimination",
            route="committee",
            grounds=["race", "age"],
        )
        seed(session, "submitted", 2, category="aggression", route="committee")
        seed(session, "decided", 9, route="committee", outcome="unfounded")
        seed(session, "decided", 6, route="committee", outcome="founded")
        seed(session, "decided", 1, route="committee", outcome="partly_founded")
        for met, count in ((True, 8), (False, 4)):
            seed(
                session,
                "acknowledged",
                count,
                route="committee",
                deadline="ack",
                deadline_met=met,
                days_taken=3,
            )
        seed(session, "closed", 6, route="committee", outcome="unfounded", days_taken=40)
        seed(session, "closed", 5, route="committee", outcome="founded", days_taken=90)
        return World(staff)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    browser = app.test_client()
    browser.set_cookie("taal", "en")
    return browser


def html(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def lines_of(page: str) -> list[tuple[str, str]]:
    """(label, shown count) for every line and total of every report table on the page."""
    found = re.findall(
        r'<th scope="row">([^<]*)</th>\s*<td class="numeric" (data-suppressed|data-count="\d+")'
        r"[^>]*>([^<]*)</td>",
        page,
    )
    return [(name, shown) for name, _marker, shown in found]


def expected_column(table: Table, column: str, dimension: str | None = None) -> dict[str, str]:
    def shown(value: int | None) -> str:
        return "x" if value is None else str(value)

    lines = {
        str(escape(label(dimension or table.rows, row))): shown(table.cell(row, column))
        for row in table.row_keys
        if table.cell(row, column) != 0
    }
    total = table.column_totals.get(column, 0) if column else table.total
    return {**lines, "Total": shown(total)}


def pdf_strings(data: bytes) -> list[str]:
    """The text shown by the PDF, string by string, read from its (deflated) content streams."""
    assert data.startswith(b"%PDF-")
    texts = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.DOTALL):
        try:
            content = zlib.decompress(stream)
        except zlib.error:
            content = stream
        for raw in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", content):
            unescaped = re.sub(rb"\\(.)", rb"\1", raw)
            texts.append(unescaped.decode("cp1252"))
    return texts


def signed_in(client: FlaskClient, world: World, clock: Clock, who: str = AUDITOR) -> None:
    log_in(client, world.staff[who], clock())


# Who may come --------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(client: FlaskClient, world: World) -> None:
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 302, page
        assert response.headers["Location"].startswith("/aanmelden")


@pytest.mark.parametrize("who", [ADMIN, CONFIDANT])
def test_other_staff_are_refused(client: FlaskClient, world: World, clock: Clock, who: str) -> None:
    signed_in(client, world, clock, who)
    for page in PAGES:
        assert client.get(page).status_code == 403, page


def test_a_year_without_statistics_is_not_found(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    signed_in(client, world, clock)
    for which in ("vertrouwenspersonen", "commissie"):
        assert client.get(f"/statistieken/jaarverslag/2019/{which}").status_code == 404
        assert client.get(f"/statistieken/jaarverslag/2019/{which}.pdf").status_code == 404


def test_the_index_lists_the_years(client: FlaskClient, world: World, clock: Clock) -> None:
    signed_in(client, world, clock)
    page = html(client.get("/statistieken/jaarverslag"))
    assert f"/statistieken/jaarverslag/{YEAR}/commissie.pdf" in page
    assert f"/statistieken/jaarverslag/{YEAR}/vertrouwenspersonen" in page


# The numbers ---------------------------------------------------------------------------------


def test_the_confidants_overview_shows_the_protected_numbers(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    signed_in(client, world, clock)
    response = client.get(f"/statistieken/jaarverslag/{YEAR}/vertrouwenspersonen")
    assert response.status_code == 200
    page = html(response)
    with app.test_request_context(headers={"Cookie": "taal=en"}), app_session(app) as session:
        by_category = protected_table(
            session, kind="submitted", year=YEAR, rows="category", columns="route", k=K
        )
        by_route = protected_table(session, kind="submitted", year=YEAR, rows="route", k=K)
        referred = protected_table(session, kind="referred", year=YEAR, rows="outcome", k=K)
        expected = [
            expected_column(by_category, "confidant"),
            expected_column(by_route, ""),
            expected_column(referred, "", "route"),
        ]
        aggression = str(escape(label("category", "aggression")))
        integrity = label("route", "integrity")
    tables = re.findall(r"<table.*?</table>", page, re.DOTALL)
    assert [dict(lines_of(table)) for table in tables] == expected
    # The small count of aggression reports is shown as suppressed, not as itself.
    assert (aggression, "x") in lines_of(tables[0])
    assert 'data-count="3"' not in page
    # Two integrity referrals: suppressed, and with them their complement; the total is shown.
    assert dict(lines_of(tables[2]))[integrity] == "x"
    assert dict(lines_of(tables[2]))["Total"] == "8"
    assert 'data-count="2"' not in page


def test_the_committee_report_shows_the_protected_numbers(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    signed_in(client, world, clock)
    page = html(client.get(f"/statistieken/jaarverslag/{YEAR}/commissie"))
    with app.test_request_context(headers={"Cookie": "taal=en"}), app_session(app) as session:

        def table(kind: str, rows: str) -> Table:
            return protected_table(session, kind=kind, year=YEAR, rows=rows, columns="route", k=K)

        expected = [
            expected_column(table("submitted", "category"), "committee"),
            expected_column(table("submitted", "grounds"), "committee"),
            expected_column(table("decided", "outcome"), "committee"),
        ]
        share = deadline_shares(session, year=YEAR, by="route", k=K)["committee"]
        names = {
            "bullying": label("category", "bullying"),
            "race": str(escape(label("grounds", "race"))),
            "partly": label("outcome", "partly_founded"),
        }
    tables = re.findall(r"<table.*?</table>", page, re.DOTALL)
    assert [dict(lines_of(table)) for table in tables] == expected
    assert expected[0][names["bullying"]] == "13"
    assert expected[1][names["race"]] == "7"
    assert expected[2][names["partly"]] == "x"  # one decision: never shown as 1
    assert 'data-count="1"' not in page
    assert 'data-count="2"' not in page  # two aggression complaints
    assert share.total == 12
    assert f"{round(share.share * 100)}% of 12 deadlines" in page  # type: ignore[operator]
    assert "Median time to close a case" in page


def report_lines(report: AnnualReport) -> list[tuple[str, str]]:
    found = []
    for section in report.sections:
        for table in section.tables:
            found += [(line.label, report.shown(line.count)) for line in table.lines]
            found.append(("Total", report.shown(table.total)))
    return found


@pytest.mark.parametrize(
    ("path", "build"),
    [("vertrouwenspersonen", confidants_report), ("commissie", committee_report)],
)
def test_the_pdf_carries_the_same_numbers(
    app: Flask, client: FlaskClient, world: World, clock: Clock, path: str, build: Any
) -> None:
    signed_in(client, world, clock)
    response = client.get(f"/statistieken/jaarverslag/{YEAR}/{path}.pdf")
    assert response.status_code == 200
    assert response.content_type == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    strings = pdf_strings(response.get_data())
    with app.test_request_context(headers={"Cookie": "taal=en"}), app_session(app) as session:
        report: AnnualReport = build(session, YEAR, k=K)
    assert report.title in strings
    expected = report_lines(report)
    assert any(shown == "x" for _label, shown in expected)  # the check below means something
    # Each label is followed by its number, in order.
    position = 0
    for name, shown in expected:
        position = strings.index(name, position)
        assert strings[position + 1] == shown, (name, strings[position : position + 2])
        position += 2


def test_the_pdf_has_no_suppressed_value(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    signed_in(client, world, clock)
    strings = pdf_strings(client.get(f"/statistieken/jaarverslag/{YEAR}/commissie.pdf").data)
    with app.test_request_context(headers={"Cookie": "taal=en"}):
        at = strings.index(label("outcome", "partly_founded"))
    assert strings[at + 1] == "x"
    assert "1" not in strings
    assert "2" not in strings


def test_an_uncompressed_pdf_can_be_read_as_it_is(app: Flask, world: World) -> None:
    with app.test_request_context(), app_session(app) as session:
        report = committee_report(session, YEAR, k=K)
        data = report_pdf(report, compress=False)
    assert b"FlateDecode" not in data
    assert report.title.encode("cp1252") in data


def test_the_report_page_is_printable_and_offers_the_pdf(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    signed_in(client, world, clock)
    page = html(client.get(f"/statistieken/jaarverslag/{YEAR}/commissie"))
    assert f'href="/statistieken/jaarverslag/{YEAR}/commissie.pdf"' in page
    assert "data-suppression-note" in page
    assert 'method="post"' not in page.split("<main", 1)[-1]  # nothing to post on a report
