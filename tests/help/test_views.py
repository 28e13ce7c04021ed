"""/hulp: what each route means and how long it takes (from config/workflow.toml), the
confidential counsellors (from the directory), the bodies outside the organisation, and a link to
it on every public page."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from complaints.accounts.models import Role, RoleAssignment, RoleSource
from complaints.cases.models import Route
from complaints.directory.models import Person
from complaints.workflow.config import workflow
from tests.conftest import ROOT, Clock, app_session
from tests.factories import import_demo_directory, make_person, unit
from tests.test_authorization import EXPECTATIONS, Public

HELP = "/hulp"


class _Page(HTMLParser):
    """The text of each route's section, the counsellor entries and every link's address."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.routes: dict[str, list[str]] = {}
        self.counsellors: list[list[str]] = []
        self.links: list[str] = []
        self._into: list[list[str]] = []
        self._depth: list[str] = []
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.links.append(found["href"] or "")
        if tag in {"br", "img", "input", "meta", "link"}:
            return
        self._depth.append(tag)
        if tag == "section" and found.get("data-route"):
            self._into.append(self.routes.setdefault(found["data-route"] or "", []))
            self._depth[-1] = "section*"
        elif tag == "li" and "data-counsellor" in found:
            self.counsellors.append([])
            self._into.append(self.counsellors[-1])
            self._depth[-1] = "li*"

    def handle_endtag(self, tag: str) -> None:
        while self._depth:
            opened = self._depth.pop()
            if opened.endswith("*"):
                self._into.pop()
            if opened.rstrip("*") == tag:
                break

    def handle_data(self, data: str) -> None:
        for text in self._into:
            text.append(data)

    def route(self, key: str) -> str:
        return _words(self.routes[key])

    def counsellor_texts(self) -> list[str]:
        return [_words(parts) for parts in self.counsellors]


def _words(parts: list[str]) -> str:
    return " ".join(" ".join(parts).split())


def _help_page(client: FlaskClient, language: str = "nl") -> _Page:
    client.set_cookie("taal", language)
    response = client.get(HELP)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    return _Page(response.get_data(as_text=True))


@pytest.fixture
def directory(app: Flask, clock: Clock) -> dict[str, Person]:
    with app_session(app) as session:
        return import_demo_directory(session, clock())


def test_the_help_page_is_public_and_says_what_each_route_means(
    app: Flask, client: FlaskClient, directory: dict[str, Person]
) -> None:
    page = _help_page(client)
    # Every route of the workflow, under its label from workflow.toml.
    for route in Route:
        text = page.route(route.value)
        assert text.startswith(workflow_label(app, route, "nl")), text
    assert "De vertrouwenspersoon bevestigt de ontvangst" in page.route("confidant")
    assert "krijgt een kopie van de klacht" in page.route("committee")
    # The bodies outside the organisation, and the mailbox.
    assert "https://www.huisvoorklokkenluiders.nl" in page.links
    assert "https://www.nationaleombudsman.nl" in page.links
    assert "/opvolgen" in page.links

    english = _help_page(client, "en")
    assert english.route("manager").startswith("Manager ")
    assert "Confirm receipt: within 7 days after you send your report" in english.route("manager")
    assert "within 3 months after the step “Acknowledged”" in english.route("integrity")


def workflow_label(app: Flask, route: Route, language: str) -> str:
    with app.app_context():
        return workflow()[route].label.in_language(language)


def test_the_deadlines_are_the_shipped_configuration(
    client: FlaskClient, directory: dict[str, Person]
) -> None:
    page = _help_page(client)
    assert "Ontvangst bevestigen: binnen 7 dagen nadat u uw melding heeft verstuurd" in (
        page.route("manager")
    )
    assert "binnen 3 maanden na de stap “Ontvangst bevestigd”" in page.route("integrity")
    assert "Beslissing op de klacht: binnen 10 weken" in page.route("committee")


def _edited_config(tmp_path: Path) -> Path:
    """A copy of config/ with other deadlines: the manager's acknowledgement in 5 days (the
    first ``days = 7`` is the manager route's), integrity feedback in 2 months, the committee's
    decision in 12 weeks."""
    config = tmp_path / "edited-config"
    shutil.copytree(ROOT / "config", config)
    path = config / "workflow.toml"
    text = path.read_text(encoding="utf-8")
    for old, new in (
        ("\ndays = 7\n", "\ndays = 5\n"),
        ("\nmonths = 3\n", "\nmonths = 2\n"),
        ("\nweeks = 10\n", "\nweeks = 12\n"),
    ):
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    return config


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    if getattr(request, "param", None) == "edited":
        return {"config_dir": _edited_config(tmp_path)}
    return {}


@pytest.mark.parametrize("settings_overrides", ["edited"], indirect=True)
def test_the_deadlines_change_when_the_configuration_does(
    client: FlaskClient, directory: dict[str, Person]
) -> None:
    """The control of the test above: the same page on an edited workflow.toml shows the new
    periods and none of the shipped ones, so the page cannot have them written in."""
    page = _help_page(client)
    manager = page.route("manager")
    assert "Ontvangst bevestigen: binnen 5 dagen nadat u uw melding heeft verstuurd" in manager
    assert "7 dagen" not in manager
    assert "binnen 7 dagen" in page.route("confidant")  # only the manager route changed
    assert "binnen 2 maanden na de stap “Ontvangst bevestigd”" in page.route("integrity")
    assert "3 maanden" not in page.route("integrity")
    assert "Beslissing op de klacht: binnen 12 weken" in page.route("committee")
    assert "10 weken" not in page.route("committee")
    english = _help_page(client, "en")
    assert "within 2 months after the step" in english.route("integrity")
    assert "within 5 days after you send" in english.route("manager")


def test_the_counsellors_come_from_the_directory(
    app: Flask, client: FlaskClient, clock: Clock, directory: dict[str, Person]
) -> None:
    page = _help_page(client)
    # The demo directory's two counsellors: the government-wide one first, with their e-mail.
    assert page.counsellor_texts() == [
        "Guus Verbeek Rijksbrede vertrouwenspersoon, Directie Arbeidszaken Publieke Sector "
        "g.verbeek@bzk.example",
        "Ingrid Hoekstra Vertrouwenspersoon, Directie Arbeidszaken Publieke Sector "
        "i.hoekstra@bzk.example",
    ]
    assert "mailto:i.hoekstra@bzk.example" in page.links
    # Holders of other roles are not counsellors.
    assert "mailto:k.dijkstra@bzk.example" not in page.links

    # A new counsellor in the directory appears; one who left (inactive) no longer does.
    with app_session(app) as session:
        newcomer = make_person(session, unit(session, "JENV"), clock(), name="Fatima Ouali")
        session.add(
            RoleAssignment(
                person_id=newcomer.id,
                role=Role.CONFIDANT,
                scope_unit_id=unit(session, "JENV").id,
                source=RoleSource.MANUAL,
                created_at=clock(),
            )
        )
        session.execute(
            sa.update(Person).where(Person.email == "i.hoekstra@bzk.example").values(active=False)
        )
        newcomer_email = newcomer.email
    page = _help_page(client)
    names = [text.split(" ")[0] for text in page.counsellor_texts()]
    assert names == ["Guus", "Fatima"]
    assert f"mailto:{newcomer_email}" in page.links
    assert "mailto:i.hoekstra@bzk.example" not in page.links


def test_without_counsellors_the_page_says_whom_to_ask(
    app: Flask, client: FlaskClient, directory: dict[str, Person]
) -> None:
    with app_session(app) as session:
        session.execute(sa.delete(RoleAssignment).where(RoleAssignment.role == Role.CONFIDANT))
    client.set_cookie("taal", "nl")
    html = client.get(HELP).get_data(as_text=True)
    assert "Er staan op dit moment geen vertrouwenspersonen in de lijst." in html
    assert _Page(html).counsellors == []


# A link on every public page ------------------------------------------------------------------

# The public pages that answer GET with HTML, by the authorization matrix. Without a draft or an
# open mailbox some of them send the visitor on (to the start of the form, to the code page);
# the page they land on must link to /hulp as well. The browser walk
# (tests/browser/test_every_page.py) checks the same on each of them with a draft and a mailbox.
NOT_HTML = {"web.healthz", "web.readyz", "stats_api.openapi"}
NO_GET_PAGE = {"followup.download_attachment", "followup.download_letter"}  # files, not pages


def _links_to_help(html: str) -> bool:
    return HELP in _Page(html).links


def _public_pages(app: Flask) -> list[str]:
    public = {endpoint for endpoint, kind in EXPECTATIONS.items() if isinstance(kind, Public)}
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint in public - NOT_HTML - NO_GET_PAGE
        and "GET" in (rule.methods or ())
        and not rule.arguments
    )


@pytest.mark.parametrize("language", ["nl", "en"])
def test_every_public_page_links_to_the_help_page(
    app: Flask, client: FlaskClient, directory: dict[str, Person], language: str
) -> None:
    pages = _public_pages(app)
    assert {"/", HELP, "/melden", "/opvolgen", "/aanmelden"} <= set(pages), pages
    client.set_cookie("taal", language)
    for path in [*pages, "/bestaat-niet"]:
        response = client.get(path, follow_redirects=True)
        assert response.mimetype == "text/html", path
        assert response.status_code in {200, 404}, (path, response.status_code)
        assert _links_to_help(response.get_data(as_text=True)), f"{path} has no link to {HELP}"


def test_the_link_check_notices_a_page_without_the_link(client: FlaskClient) -> None:
    """Control: the start page with its footer link taken out fails the check."""
    html = client.get("/").get_data(as_text=True)
    assert _links_to_help(html)
    without = re.sub(r'<a href="/hulp">[^<]*</a>', "", html)
    assert without != html
    assert not _links_to_help(without)
    assert not _links_to_help(html.replace('href="/hulp"', 'href="/hulpje"'))
