"""The main pages of the application, as the test client gets them, in Dutch and in English.

Public pages (the start page, every step of the report form with a draft, the receipt-code
page, the complainant's mailbox) and staff pages (the inbox, the search of one's cases, a case
of every route and a case's print view, the committee's page, the account page, the
destruction ledger), for the checks on what pages
say and how: tests/test_translations.py (no English on a Dutch page) and
tests/web/test_page_text.py (dates, ``<time>`` values, spaces before punctuation).

The world is the authorization matrix's (tests/test_authorization.py: the demo organisation,
a case on every route, its principals logged in); a module that uses ``shown`` imports
``world`` from there too. To it are added a report with a conversation and a first step (opened in
the mailbox with its receipt code), a committee letter and a ledger row, all made at a moment with
microseconds, as real moments have.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa
from flask import url_for
from flask.testing import FlaskClient
from jinja2 import ChoiceLoader, DictLoader
from werkzeug.test import TestResponse

from complaints.audit.services import Actor
from complaints.cases.models import Case, GrantRole
from complaints.committee.services import LetterKind, generate_letter, open_committee_case
from complaints.crypto.services import indexer, keystore
from complaints.directory.models import Person
from complaints.followup.services import post_message
from complaints.intake.services import AccusedPerson
from complaints.retention.ledger import write_entry
from complaints.web.i18n import LANGUAGE_COOKIE, LANGUAGES
from complaints.workflow.config import workflow
from complaints.workflow.transitions import apply_transition
from tests import factories
from tests import test_authorization as matrix
from tests.conftest import START, app_session
from tests.factories import csrf_token
from tests.followup import handler_reply
from tests.intake.test_views import Answers, Browser, fill_in

# Later than the world's own moments, and with microseconds (the clock of a real server has them).
MOMENT = START + timedelta(hours=2, minutes=17, seconds=5, microseconds=654321)
SECRETARY = "w.deboer@bzk.example"
ACCUSED = "l.bakker@bzk.example"
MANAGER = "a.demir@bzk.example"  # the filer's manager, named too

# The steps of the report form, in order, by endpoint.
REPORT_FORM = (
    "intake.what",
    "intake.when_where",
    "intake.description",
    "intake.people",
    "intake.wishes",
    "intake.identity",
    "intake.route",
    "intake.review",
)


@dataclass(frozen=True)
class Page:
    """One page as shown: who asked for it, where, and the HTML."""

    name: str
    language: str
    url: str
    markup: str

    @property
    def text(self) -> str:
        """What a reader sees: the text outside tags, scripts and styles, spaces collapsed."""
        return visible_text(self.markup)

    def __str__(self) -> str:
        return f"[{self.language}] {self.name} ({self.url})"


@dataclass
class Shown:
    """The pages in each language, and how to ask for one again (for a control)."""

    pages: list[Page]
    again: Callable[[str, str], Page]  # (page name, language) → the page, rendered now

    def in_language(self, language: str) -> list[Page]:
        return [p for p in self.pages if p.language == language]

    def named(self, name: str, language: str) -> Page:
        return next(p for p in self.pages if p.name == name and p.language == language)


class _Text(HTMLParser):
    SKIP = frozenset({"script", "style", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skipping += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def visible_text(markup: str) -> str:
    parser = _Text()
    parser.feed(markup)
    parser.close()
    return re.sub(r"\s+", " ", html.unescape("".join(parser.parts))).strip()


@contextmanager
def template_changed(
    world: matrix.World,
    name: str,
    change: Callable[[str], str],
) -> Iterator[None]:
    """For a control: the template ``name`` with ``change`` made to its source."""
    env = world.app.jinja_env
    original = env.loader
    assert original is not None
    source, _filename, _uptodate = original.get_source(env, name)
    changed = change(source)
    assert changed != source
    env.loader = ChoiceLoader([DictLoader({name: changed}), original])
    env.cache.clear()  # type: ignore[union-attr]
    try:
        yield
    finally:
        env.loader = original
        env.cache.clear()  # type: ignore[union-attr]


# The additions to the world ------------------------------------------------------------------


@dataclass(frozen=True)
class Additions:
    receipt_code: str  # of a report with a conversation, opened in the mailbox
    case_id: uuid.UUID  # that report's case (the BZK confidant's)


def add_to_world(world: matrix.World) -> Additions:
    with app_session(world.app) as session:
        people = {p.email: p for p in session.scalars(sa.select(Person))}
        # Named on the report form, which stores the relations as values ("colleague").
        accused = (
            AccusedPerson("Lotte Bakker", "colleague", people[ACCUSED].id),
            AccusedPerson("Aylin Demir", "manager", people[MANAGER].id),
        )
        filed = factories.file_report(session, MOMENT, accused=accused)
        case = session.get(Case, filed.case_id)
        assert case is not None
        apply_transition(
            session,
            keystore(),
            workflow(),
            case,
            "acknowledge",
            actor_person_id=filed.handler_id,
            roles={GrantRole.CONFIDANT},
            values={},
            expected_version=case.version,
            now=MOMENT,
        )
        post_message(
            session, keystore(), workflow(), case, body="Er is nog iets gebeurd.", now=MOMENT
        )
        handler_reply(session, filed.case_id, filed.handler_id, "Dank voor uw bericht.", MOMENT)
        committee = open_committee_case(
            session,
            keystore(),
            indexer(),
            case_id=world.case("COM").case_id,
            person_id=people[SECRETARY].id,
            actor=Actor.operator(),
            now=MOMENT,
        )
        generate_letter(
            session,
            keystore(),
            workflow(),
            committee,
            kind=LetterKind.ACKNOWLEDGEMENT,
            language="nl",
            now=MOMENT,
        )
        write_entry(
            session,
            now=MOMENT,
            as_of=MOMENT.date(),
            category="case",
            subject="2025-0001-TEST",
            rule="withdrawn",
            action="destroyed",
            records={"messages": 2, "key_slots": 1},
        )
    return Additions(filed.code, filed.case_id)


# Asking for the pages -------------------------------------------------------------------------


@dataclass
class _Visitor:
    """Someone reading in ``language``: a logged-in principal, or a browser of its own."""

    world: matrix.World
    additions: Additions
    draft: Browser | None = None  # a browser with a report drafted up to its review
    opened: FlaskClient | None = None  # a browser with the mailbox open

    def url(self, endpoint: str, **values: object) -> str:
        with self.world.app.test_request_context():
            return url_for(endpoint, **values)

    def principal(self, key: str, language: str, url: str) -> str:
        client = self.world.clients[key]
        client.set_cookie(LANGUAGE_COOKIE, language)
        return self._ok(client.get(url), url)

    def drafter(self, language: str, url: str) -> str:
        """A report filled in up to its review (the accused picked from the directory), each
        step then shown again in ``language``."""
        if self.draft is None:
            self.draft = Browser(self.world.app.test_client())
            self.draft.client.set_cookie(LANGUAGE_COOKIE, "en")  # the helpers read English
            with app_session(self.world.app) as session:
                lotte = session.scalars(sa.select(Person).where(Person.email == ACCUSED)).one()
            answers = Answers(
                category="discrimination", grounds=("race",), accused=((lotte, "colleague"),)
            )
            fill_in(self.world.app, self.draft, answers)
        self.draft.client.set_cookie(LANGUAGE_COOKIE, language)
        return self._ok(self.draft.client.get(url), url)

    def mailbox(self, language: str, url: str) -> str:
        """The mailbox of the added report, opened once with its receipt code."""
        if self.opened is None:
            self.opened = self.world.app.test_client()
            page = self.opened.get("/opvolgen")
            response = self.opened.post(
                "/opvolgen",
                data={"code": self.additions.receipt_code, "csrf_token": csrf_token(page)},
            )
            assert response.status_code == 303, response.status_code
        self.opened.set_cookie(LANGUAGE_COOKIE, language)
        return self._ok(self.opened.get(url), url)

    def searcher(self, language: str, url: str) -> str:
        """The confidant's search of their own cases, posted without criteria: all of them."""
        client = self.world.clients["confidant"]
        client.set_cookie(LANGUAGE_COOKIE, language)
        form = client.get(url)
        return self._ok(client.post(url, data={"zoek-csrf_token": csrf_token(form)}), url)

    def anyone(self, language: str, url: str) -> str:
        client = self.world.app.test_client()
        client.set_cookie(LANGUAGE_COOKIE, language)
        return self._ok(client.get(url), url)

    @staticmethod
    def _ok(response: TestResponse, url: str) -> str:
        assert response.status_code == 200, f"{url} answered {response.status_code}"
        return response.get_data(as_text=True)


def _plan(visitor: _Visitor) -> dict[str, tuple[Callable[[str, str], str], str]]:
    """Page name → (who asks, address)."""
    world, url = visitor.world, visitor.url

    def as_(key: str) -> Callable[[str, str], str]:
        return lambda language, address: visitor.principal(key, language, address)

    def case(key: str) -> str:
        return url("casework.case_page", case_id=world.case(key).case_id)

    plan: dict[str, tuple[Callable[[str, str], str], str]] = {
        "start page": (visitor.anyone, url("web.index")),
        "report form: start": (visitor.anyone, url("intake.start")),
        **{f"report form: {e}": (visitor.drafter, url(e)) for e in REPORT_FORM},
        "receipt code": (visitor.anyone, url("followup.enter_code")),
        "mailbox": (visitor.mailbox, url("followup.mailbox")),
        "log-in": (visitor.anyone, url("accounts.login")),
        "account page": (as_("confidant"), url("accounts.overview")),
        "my reports": (as_("complainant"), url("followup.reports")),
        "inbox (confidant)": (as_("confidant"), url("casework.inbox_page")),
        "inbox (committee)": (as_("secretary"), url("casework.inbox_page")),
        "case: confidant (with messages)": (
            as_("confidant"),
            url("casework.case_page", case_id=visitor.additions.case_id),
        ),
        "case print view: confidant (with messages)": (
            as_("confidant"),
            url("casework.print_case", case_id=visitor.additions.case_id),
        ),
        "case search (confidant)": (visitor.searcher, url("casework.search_page")),
        "case: confidant": (as_("confidant"), case("CONF")),
        "case: manager": (as_("manager"), case("MGR")),
        "case: integrity": (as_("integrity"), case("INT")),
        "case: committee": (as_("secretary"), case("COM")),
        "committee page (secretary)": (
            as_("secretary"),
            url("committee.page", case_id=world.case("COM").case_id),
        ),
        "committee page (member)": (
            as_("member"),
            url("committee.page", case_id=world.case("COM").case_id),
        ),
        "destruction ledger": (as_("privacy_officer"), url("privacy.ledger")),
    }
    return plan


@pytest.fixture(scope="module")
def shown(world: matrix.World) -> Shown:
    """Every page of the plan in every language, asked for once."""
    visitor = _Visitor(world, add_to_world(world))
    plan = _plan(visitor)

    def again(name: str, language: str) -> Page:
        ask, address = plan[name]
        return Page(name, language, address, ask(language, address))

    return Shown([again(name, language) for language in LANGUAGES for name in plan], again)
