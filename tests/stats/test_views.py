"""The auditor's statistics page at /statistieken and its CSV, through the real log-in.

Stat events are seeded directly (they carry no case). The page and the CSV must show exactly the
engine's protected numbers: a small count is "x", never its value, and zero is 0."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from complaints import db
from complaints.stats.models import StatEvent
from complaints.stats.tables import protected_table
from tests.conftest import Clock, app_session
from tests.factories import StaffLogin, import_demo_directory, log_in, make_account

AUDITOR = "b.koster@fin.example"
CONFIDANT = "i.hoekstra@bzk.example"
ADMIN = "t.groen@bzk.example"
OFFICER = "h.wolters@bzk.example"
PAGES = ("/statistieken", "/statistieken/tabel.csv")
YEAR = 2025
# Submitted in 2025: aggression 12 (confidant), bullying 2 (confidant, a small count that must
# never show), sexual harassment 9 (committee). In 2024: 6 bullying.
SEED = (
    ("aggression", "confidant", "2025-Q1", 7),
    ("aggression", "confidant", "2025-Q3", 5),
    ("bullying", "confidant", "2025-Q2", 2),
    ("sexual_harassment", "committee", "2025-Q2", 9),
    ("bullying", "manager", "2024-Q4", 6),
)


@dataclass
class World:
    staff: dict[str, StaffLogin]


def seed_events(session: db.Session, rows: tuple[tuple[str, str, str, int], ...]) -> None:
    for category, route, quarter, number in rows:
        for _ in range(number):
            session.add(
                StatEvent(
                    kind="submitted",
                    quarter=quarter,
                    organisation_id=None,
                    category=category,
                    grounds=[],
                    route=route,
                    disclosure="confidential",
                    outcome=None,
                )
            )
    session.flush()


@pytest.fixture
def world(app: Flask, clock: Clock) -> World:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        seed_events(session, SEED)
        # Six acknowledgements on the confidant route, one of them late.
        for days in range(3, 9):
            session.add(
                StatEvent(
                    kind="acknowledged",
                    quarter="2025-Q1",
                    organisation_id=None,
                    category="aggression",
                    grounds=[],
                    route="confidant",
                    disclosure="confidential",
                    days_taken=days,
                    deadline="acknowledge",
                    deadline_met=days < 8,
                )
            )
        staff = {
            email: make_account(session, people[email], clock())
            for email in (AUDITOR, CONFIDANT, ADMIN, OFFICER)
        }
        return World(staff)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    browser = app.test_client()
    browser.set_cookie("taal", "en")
    return browser


def html(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def auditor(client: FlaskClient, world: World, clock: Clock, who: str = AUDITOR) -> FlaskClient:
    log_in(client, world.staff[who], clock())
    return client


def table_cells(page: str, marker: str = "data-stats-table") -> dict[str, list[str]]:
    """The rows of one table on the page: the row's key -> its cells' texts."""
    table = page.split(marker, 1)[1].split("</table>", 1)[0]
    rows: dict[str, list[str]] = {}
    for key, body in re.findall(r'<tr data-row="([^"]*)">(.*?)</tr>', table, re.S):
        rows[key] = [
            re.sub(r"\s+", " ", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)
        ]
    return rows


def engine_table(app: Flask, rows: str, columns: str | None = None) -> dict[str, list[str]]:
    with app.test_request_context(), app_session(app) as session:
        table = protected_table(
            session, kind="submitted", year=YEAR, rows=rows, columns=columns, k=5
        )
        shown = lambda n: "x" if n is None else str(n)  # noqa: E731
        if columns is None:
            return {r: [shown(table.cell(r))] for r in table.row_keys}
        return {
            r: [*(shown(table.cell(r, c)) for c in table.column_keys), shown(table.row_totals[r])]
            for r in table.row_keys
        }


# Who may come --------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(client: FlaskClient, world: World) -> None:
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 302, page
        assert response.headers["Location"].startswith("/aanmelden")


@pytest.mark.parametrize("who", [CONFIDANT, ADMIN, OFFICER])
def test_only_the_auditor_may_come(
    client: FlaskClient, world: World, clock: Clock, who: str
) -> None:
    auditor(client, world, clock, who)
    for page in PAGES:
        assert client.get(page).status_code == 403, page
    assert "/statistieken" not in html(client.get("/account"))


def test_the_menu_leads_the_auditor_to_the_statistics(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    auditor(client, world, clock)
    assert 'href="/statistieken"' in html(client.get("/account"))


# The numbers ---------------------------------------------------------------------------------


def test_the_page_shows_the_protected_table_and_never_a_small_count(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    page = html(auditor(client, world, clock).get("/statistieken?jaar=2025&soort=submitted"))
    cells = table_cells(page)
    assert cells == engine_table(app, "category")
    # Bullying's 2 is suppressed; so is one more, or 2 would follow from the total of 23.
    assert cells["bullying"] == ["x"]
    assert sum(row == ["x"] for row in cells.values()) >= 2
    assert "data-suppressed" in page
    assert "data-suppression-note" in page
    assert ">2<" not in page.split("data-stats-table", 1)[1].split("</table>", 1)[0]


def test_a_two_way_table_shows_zero_and_the_totals(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    page = html(
        auditor(client, world, clock).get("/statistieken?jaar=2025&rijen=category&kolommen=route")
    )
    cells = table_cells(page)
    assert cells == engine_table(app, "category", "route")
    # Sexual harassment went only to the committee: its confidant cell is a real zero.
    assert "0" in cells["sexual_harassment"]


def test_the_trend_has_a_row_per_year_and_a_cell_per_quarter(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    page = html(auditor(client, world, clock).get("/statistieken"))
    trend = page.split("data-stats-trend", 1)[1].split("</table>", 1)[0]
    assert 'data-year="2024"' in trend
    assert 'data-year="2025"' in trend
    row_2025 = trend.split('data-year="2025"', 1)[1].split("</tr>", 1)[0]
    assert len(re.findall(r"<td", row_2025)) == 5  # four quarters and the year


def test_the_csv_has_the_numbers_of_the_page(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    auditor(client, world, clock)
    query = "jaar=2025&soort=submitted&rijen=category&kolommen=route"
    page = html(client.get(f"/statistieken?{query}"))
    response = client.get(f"/statistieken/tabel.csv?{query}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(html(response))))
    assert rows[0][0] == "Category"
    assert rows[0][-1] == "Total"
    by_label = {row[0]: row[1:] for row in rows[1:]}
    assert by_label["Bullying"] == table_cells(page)["bullying"]
    assert by_label["Aggression and violence"] == table_cells(page)["aggression"]
    assert rows[-1][0] == "Total"
    for row in rows[1:]:
        assert "2" not in row[1:]
        assert "1" not in row[1:]


def test_the_page_links_to_the_csv_of_the_same_question(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    page = html(auditor(client, world, clock).get("/statistieken?jaar=2024&rijen=route"))
    link = re.search(r'href="(/statistieken/tabel\.csv\?[^"]*)"[^>]*data-stats-csv', page)
    assert link is not None
    url = link.group(1).replace("&amp;", "&")
    assert "jaar=2024" in url
    assert "rijen=route" in url
    rows = list(csv.reader(io.StringIO(html(client.get(url)))))
    assert rows[0][0] == "Route"


def test_the_charts_are_inline_svg_without_style_or_script(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    page = html(auditor(client, world, clock).get("/statistieken?jaar=2025"))
    figures = re.findall(r"<figure.*?</figure>", page, re.S)
    assert len(figures) >= 3
    for figure in figures:
        assert "<svg" in figure
        assert 'aria-hidden="true"' in figure
        assert "<figcaption>" in figure
        assert "<style" not in figure
        assert "<script" not in figure
        assert "style=" not in figure
        assert (
            "http://"
            not in figure.replace('xmlns="http://www.w3.org/2000/svg"', "")
            .replace('xmlns:xlink="http://www.w3.org/1999/xlink"', "")
            .split("-->")[-1]
        )


def test_deadlines_and_medians_hide_what_is_small(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    page = html(auditor(client, world, clock).get("/statistieken?jaar=2025"))
    deadlines = page.split("data-stats-deadlines", 1)[1].split("</table>", 1)[0]
    row = deadlines.split('data-route="confidant"', 1)[1].split("</tr>", 1)[0]
    # 5 of 6 met: the share is shown, the number met is not (one missed would follow).
    assert re.findall(r"<td[^>]*>([^<]*)</td>", row) == ["x", "6", "83%"]
    medians = page.split("data-stats-medians", 1)[1].split("</table>", 1)[0]
    row = medians.split('data-route="confidant"', 1)[1].split("</tr>", 1)[0]
    assert re.findall(r"<td[^>]*>([^<]*)</td>", row) == ["5", "–"]


# Questions the page does not answer ------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "jaar=abc",
        "jaar=1900",
        "jaar=",
        "soort=drop%20table",
        "rijen=case_id",
        "rijen=category&kolommen=category",
        "kolommen=reference",
    ],
)
def test_a_bad_question_gets_a_clear_message_not_an_error(
    client: FlaskClient, world: World, clock: Clock, query: str
) -> None:
    auditor(client, world, clock)
    response = client.get(f"/statistieken?{query}")
    assert response.status_code == 400
    page = html(response)
    assert "error-summary" in page
    assert "data-stats-table" not in page
    exported = client.get(f"/statistieken/tabel.csv?{query}")
    assert exported.status_code == 400
    assert exported.headers["Content-Type"].startswith("text/plain")
    assert html(exported).strip()


def test_without_statistics_the_page_still_answers(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        staff = make_account(session, people[AUDITOR], clock())
    log_in(client, staff, clock())
    response = client.get("/statistieken")
    assert response.status_code == 200
    assert "data-row-total" in html(response)
