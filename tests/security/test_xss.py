"""Stored cross-site scripting: payloads in every free-text field, rendered in every view.

Filled in the way people fill them in: the complainant through the report form (when, where,
description, a person typed by name, a witness and their contact details, wishes, their name,
a file name) and the mailbox (a message); the confidant through the case page (a reply, an
internal note; a reason to keep the case longer, which an open case refuses, so it is only
rendered back); the privacy officer (the reason for a retention hold); the committee (a
complainant's name and description, a hearing report, a witness's identity, pseudonym and
statement, the reason a member is excluded, an advice, a decision and its reason to depart
from the advice, an acknowledgement letter); and the directory (a person's name, as an import
would bring it).

Then every view that shows them is rendered — the review page, the receipt, the mailbox, the
inbox, the case page, the committee page, a generated letter, the privacy pages and CSV files —
and each must show the payload only as text: no script element, no event handler inside a tag,
no ``javascript:`` link, no template evaluated (``{{7*7}}`` never becomes 49). Each payload is
tagged with its field, and every tag must be seen somewhere, so a field that is silently
dropped does not pass for one that is escaped.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from complaints.cases.models import Case, CaseAccessGrant, Route
from complaints.directory.models import Person
from complaints.web.csvexport import csv_cell, csv_text
from complaints.web.security import CONTENT_SECURITY_POLICY
from tests.committee import (
    AMRANI,
    KOK,
    SECRETARY,
    TO_HEARING,
    advance,
    file_complaint,
    logged_in,
    page_url,
    post_form,
)
from tests.conftest import Clock, app_session
from tests.factories import csrf_token, import_demo_directory, unit
from tests.intake.test_views import Browser, answer, begin, receipt_code, send
from tests.security.conftest import MAILBOX, body

CONFIDANT = "i.hoekstra@bzk.example"
PRIVACY_OFFICER = "h.wolters@bzk.example"


def payload(tag: str) -> str:
    """Under 100 characters, so that it fits the shortest free-text field."""
    return f'X{tag}<script>alert(1)</script>"><img src=x onerror=alert(1)></textarea>{{{{7*7}}}}Y'


# A browser sends a file's name without its path: no slash in it.
FILENAME = 'Xfilename<img src=x onerror=alert(1)>"><svg onload=alert(1)>{{7*7}}Y.txt'
LONG_EXTRA = (
    '<svg onload=alert(1)><a href="javascript:alert(1)">x</a><iframe src=javascript:alert(1)>'
    "'><body onpageshow=alert(1)>${7*7}Z {% raw %}"
)


class Elements(HTMLParser):
    """What a browser would make of a page: its elements and their attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.bodies = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "body":
            self.bodies += 1
        if tag == "script" and not (values.get("src") or "").startswith("/static/"):
            self.found.append("a script element")
        if tag in {"iframe", "object", "embed", "base"} or (
            tag == "img" and values.get("src") == "x"
        ):
            self.found.append(f"an injected <{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"an event handler {name}= on <{tag}>")
            if name in {"href", "src", "action", "formaction"} and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.found.append(f"a javascript: URL in <{tag} {name}>")


def dangers(text: str) -> list[str]:
    parser = Elements()
    parser.feed(text)
    parser.close()
    found = parser.found + (["a second <body>"] if parser.bodies > 1 else [])
    return found + (["an evaluated template"] if re.search(r"49Y|49Z", text) else [])


class Views:
    """Every page rendered, with its name; checks each and records which tags it shows."""

    def __init__(self) -> None:
        self.seen: dict[str, set[str]] = {}
        self.problems: list[str] = []
        self.pages = 0

    def check(self, name: str, response: TestResponse, tags: Iterable[str]) -> str:
        assert response.status_code in (200, 400, 409), (name, response.status_code)
        text = body(response)
        # The application's own markup has no inline script, handler or evaluated template
        # either, so any hit is the payload getting through.
        for what in dangers(text):
            self.problems.append(f"{name}: {what}")
        csp = response.headers.get("Content-Security-Policy")
        if response.mimetype == "text/html" and csp != CONTENT_SECURITY_POLICY:
            self.problems.append(f"{name}: no CSP")
        for tag in tags:
            if f"X{tag}" in text:
                self.seen.setdefault(tag, set()).add(name)
        self.pages += 1
        return text


FIELDS_INTAKE = (
    "when",
    "place",
    "description",
    "accused_name",
    "witness_name",
    "witness_contact",
    "wishes",
    "name",
    "filename",
)


def _file_through_the_form(app: Flask, views: Views) -> str:
    """The complainant fills in every free-text field; returns the receipt code."""
    client = app.test_client()
    browser = Browser(client)
    begin(browser)
    answer(browser, "/melden/wat", category="discrimination", grounds=["race"])
    with app_session(app) as session:
        unit_id = str(unit(session, "BZK-APS").id)  # the unit of the confidant below
    answer(
        browser,
        "/melden/wanneer-waar",
        when_text=payload("when"),
        place=payload("place"),
        unit=unit_id,
    )
    answer(browser, "/melden/beschrijving", description=payload("description") + LONG_EXTRA)
    page = browser.post(
        "/melden/betrokkenen",
        {
            "action": "add_accused",
            "accused_name": payload("accused_name"),
            "accused_relation": "other",
        },
    )
    views.check("intake people (accused added)", page, FIELDS_INTAKE)
    page = browser.post(
        "/melden/betrokkenen",
        {
            "action": "add_witness",
            "witness_name": payload("witness_name"),
            "witness_contact": payload("witness_contact"),
        },
    )
    views.check("intake people (witness added)", page, FIELDS_INTAKE)
    answer(browser, "/melden/betrokkenen")
    page = browser.post(
        "/melden/wensen",
        {
            "action": "upload",
            "desired_outcome": payload("wishes"),
            "attachment": (io.BytesIO(b"Gewoon een tekstbestand.\n"), FILENAME),
        },
    )
    views.check("intake wishes (file added)", page, FIELDS_INTAKE)
    answer(browser, "/melden/wensen")
    answer(
        browser,
        "/melden/wie",
        disclosure="confidential",
        name=payload("name"),
        email="melder@example.org",
    )
    answer(browser, "/melden/route", route="confidant")
    review = browser.get("/melden/controleren")
    views.check("intake review", review, FIELDS_INTAKE)
    for step in ("wanneer-waar", "beschrijving", "betrokkenen", "wensen", "wie"):
        views.check(
            f"intake step {step} (filled in again)", client.get(f"/melden/{step}"), FIELDS_INTAKE
        )
    receipt = send(browser, review)
    if receipt.status_code == 303:
        receipt = client.get(receipt.headers["Location"])
    views.check("receipt page", receipt, FIELDS_INTAKE)
    return receipt_code(receipt)


def _confidant_case(app: Flask) -> tuple[str, str]:
    """The id and reference of the one report filed through the form."""
    with app_session(app) as session:
        case = session.scalars(sa.select(Case).where(Case.route == Route.CONFIDANT)).one()
        return str(case.id), case.reference


def _post(client: FlaskClient, url: str, page_url: str, **data: str) -> TestResponse:
    return client.post(url, data={"csrf_token": csrf_token(client.get(page_url)), **data})


@pytest.fixture
def people(app: Flask, clock: Clock) -> dict[str, Person]:
    with app_session(app) as session:
        return import_demo_directory(session, clock())


def test_payloads_in_every_free_text_field_are_shown_as_text(
    app: Flask, clock: Clock, people: dict[str, Person]
) -> None:
    views = Views()
    expected: set[str] = set(FIELDS_INTAKE)
    code = _file_through_the_form(app, views)
    case_id, reference = _confidant_case(app)
    case_url = f"/zaken/{case_id}"

    # The complainant writes in the mailbox.
    mailbox = app.test_client()
    opened = _post(mailbox, "/opvolgen", "/opvolgen", code=code)
    assert opened.status_code == 303
    sent = _post(mailbox, "/opvolgen/melding/bericht", MAILBOX, message=payload("message_in"))
    assert sent.status_code in (200, 303)
    expected.add("message_in")

    # The confidant answers, notes and asks to keep the case longer.
    confidant = logged_in(app, CONFIDANT, clock())
    views.check("case page (as filed)", confidant.get(case_url), expected)
    for url, field, tag in (
        (f"{case_url}/bericht", "message", "reply"),
        (f"{case_url}/notitie", "note", "note"),
        (f"{case_url}/bewaartermijn", "retention-reason", "extend_reason"),
    ):
        page = confidant.get(case_url)
        data = {"csrf_token": csrf_token(page), "retention-csrf_token": csrf_token(page)}
        response = confidant.post(url, data={**data, field: payload(tag)})
        assert response.status_code in (303, 400, 409), (url, response.status_code)
        if response.status_code == 303:
            expected.add(tag)
        else:  # an open case is not kept longer: refused, the page is shown again
            views.check(f"case page (refused {tag})", response, [tag])

    # The privacy officer holds the case, with a reason.
    officer = logged_in(app, PRIVACY_OFFICER, clock())
    held = _post(
        officer,
        "/privacy/bewaarplicht",
        "/privacy/bewaarplicht",
        reference=reference,
        reason='=HYPERLINK("http://evil.example")' + payload("hold_reason"),
        until="2027-06-30",
    )
    assert held.status_code == 303, body(held)
    expected.add("hold_reason")

    # A directory import renames a committee member; the committee case carries payloads.
    with app_session(app) as session:
        session.get(Person, people[KOK].id).name = payload("directory_name")  # type: ignore[union-attr]
        committee = file_complaint(
            session,
            people,
            clock(),
            description=payload("committee_description") + LONG_EXTRA,
            name=payload("committee_name"),
        )
    expected |= {"directory_name", "committee_description", "committee_name"}
    secretary = logged_in(app, SECRETARY, clock())
    committee_url = page_url(committee.case_id)
    letter = post_form(
        secretary,
        f"{committee_url}/brieven/acknowledgement",
        "acknowledgement",
        committee_url,
        language="nl",
    )
    assert letter.status_code == 303, body(letter)
    for member in (KOK, AMRANI):
        assign = post_form(
            secretary,
            f"{committee_url}/leden",
            "assign",
            committee_url,
            person_id=str(people[member].id),
        )
        assert assign.status_code == 303, body(assign)
    with app_session(app) as session:
        amrani_grant = session.scalars(
            sa.select(CaseAccessGrant.id).where(
                CaseAccessGrant.case_id == committee.case_id,
                CaseAccessGrant.person_id == people[AMRANI].id,
            )
        ).one()
    excluded = post_form(
        secretary,
        f"{committee_url}/leden/uitsluiten",
        "exclude",
        committee_url,
        grant_id=str(amrani_grant),
        exclusion="wraking",
        reason=payload("exclusion"),
    )
    assert excluded.status_code == 303, body(excluded)
    expected.add("exclusion")
    with app_session(app) as session:
        advance(session, committee.case_id, people[SECRETARY], clock(), *TO_HEARING)
    for url, prefix, data, tags in (
        (
            "/hoorzitting",
            "hearing",
            {"heard": "accused", "heard_on": "2026-03-20", "report": payload("hearing")},
            ["hearing"],
        ),
        (
            "/getuigenverklaring",
            "witness",
            {
                "identity": payload("witness_identity"),
                "pseudonym": payload("pseudonym"),
                "heard_on": "2026-03-21",
                "statement": payload("statement"),
            },
            ["witness_identity", "pseudonym", "statement"],
        ),
    ):
        response = post_form(secretary, committee_url + url, prefix, committee_url, **data)
        assert response.status_code == 303, body(response)
        expected |= set(tags)
    page = secretary.get(committee_url)
    version = re.search(r'name="advice-version" type="hidden" value="(\d+)"', body(page))
    assert version is not None
    advice = secretary.post(
        f"{committee_url}/advies",
        data={
            "advice-csrf_token": csrf_token(page),
            "advice-version": version.group(1),
            "advice-recommended": "founded",
            "advice-summary": payload("advice"),
        },
    )
    assert advice.status_code == 303, body(advice)
    expected.add("advice")
    page = secretary.get(committee_url)
    version = re.search(r'name="decision-version" type="hidden" value="(\d+)"', body(page))
    assert version is not None
    decision = secretary.post(
        f"{committee_url}/besluit",
        data={
            "decision-csrf_token": csrf_token(page),
            "decision-version": version.group(1),
            "decision-outcome": "unfounded",  # departs from the advice: a reason is needed
            "decision-reasons": payload("decision"),
            "decision-departure_reason": payload("departure"),
        },
    )
    assert decision.status_code == 303, body(decision)
    expected |= {"decision", "departure"}

    # Every view that shows them.
    views.check("mailbox", mailbox.get(MAILBOX), expected)
    views.check("inbox (confidant)", confidant.get("/zaken?gesloten=y"), expected)
    views.check("case page", confidant.get(case_url), expected)
    attachment = re.search(rf"{case_url}/bijlagen/[0-9a-f-]+", body(confidant.get(case_url)))
    assert attachment is not None
    download = confidant.get(attachment.group(0))
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert "<script" not in download.headers["Content-Disposition"]
    views.check("inbox (secretary)", secretary.get("/zaken"), expected)
    views.check("committee case page", secretary.get(f"/zaken/{committee.case_id}"), expected)
    committee_page = views.check("committee page", secretary.get(committee_url), expected)
    for letter_url in set(re.findall(rf"{committee_url}/brieven/[0-9a-f-]{{36}}", committee_page)):
        views.check("letter", secretary.get(letter_url), expected)
    for url in ("/privacy", "/privacy/bewaarplicht", "/privacy/register", "/privacy/logboek"):
        views.check(url, officer.get(url), expected)
    csv_files = {}
    for url in ("/privacy/plan.csv", "/privacy/register.csv", "/privacy/logboek.csv"):
        csv_files[url] = views.check(url, officer.get(url), expected)
    mine = logged_in(app, "s.devries@bzk.example", clock())
    views.check("my reports", mine.get("/account/mijn-meldingen"), expected)

    assert not views.problems, f"{len(views.problems)} problems:\n" + "\n".join(views.problems)
    unseen = sorted(tag for tag in expected if tag not in views.seen)
    # The hold reason is shown to nobody (only its existence); everything else somewhere.
    assert unseen in ([], ["hold_reason"]), f"never shown, so not proven escaped: {unseen}"
    assert views.pages >= 25
    for url, text in csv_files.items():
        for row in csv.reader(io.StringIO(text)):
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (url, cell)


@pytest.mark.parametrize(
    "value",
    [
        "=cmd|' /C calc'!A0",
        "+1+cmd|' /C calc'!A0",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(1+1)*cmd|' /C calc'!A0",
        "\t=1+1",
        "\r=1+1",
        '=HYPERLINK("http://evil.example","klik")',
    ],
)
def test_csv_cells_never_start_a_formula(value: str) -> None:
    cell = csv_cell(value)
    assert cell.startswith("'")
    assert cell[1:] == value
    [row] = list(csv.reader(io.StringIO(csv_text(["kop"], [[value]]).split("\r\n", 1)[1])))
    assert row == [cell]
    assert csv_cell("gewone tekst") == "gewone tekst"
    assert csv_cell(-3) == "'-3"  # even a number: no cell starts with a formula sign


def test_the_detector_finds_a_payload_that_got_through() -> None:
    """The control for ``dangers``: unescaped, every vector is caught; escaped, none is."""
    from markupsafe import escape

    raw = f"<p>{payload('x')}{LONG_EXTRA}</p><p>{{{{7*7}}}}Y</p>".replace("{{7*7}}", "49")
    found = dangers(raw)
    for what in ("a script element", "an injected <img>", "an injected <iframe>", "onload"):
        assert any(what in f for f in found), what
    assert "an evaluated template" in found
    assert dangers(f"<p>{escape(payload('x') + LONG_EXTRA)}</p>") == []
