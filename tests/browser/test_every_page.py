"""axe-core on every HTML page of the application, in Dutch and in English.

The other browser tests check the pages they pass on the way through a workflow, mostly in
Dutch. This one walks ``app.url_map``: every endpoint that answers GET with an HTML page is
visited by someone allowed to see it (``VISITS``), in both languages (the ``taal`` cookie the
language switch sets), and checked with axe-core (WCAG 2.1 A and AA, as ``Axe`` does), for
reflow at 320 CSS pixels, for the order of an error summary and for the page's ``lang``.
Besides: the report form (/melden) filled in and sent once in each language, with an unanswered
question and a search on the way; the error pages (404, 403, an expired form); and a committee
letter written in each language (an HTML file sent as a download). Every finding is collected,
and the test fails once with all of them, by page, language and rule.

The world is the authorization matrix's (tests/test_authorization.py): the demo organisation,
seven real cases on every route, and its principals already logged in through the real forms;
their session cookies are handed to one browser context per principal. The complainant's
mailbox is opened with a receipt code, and three newcomers show the log-in's later steps (a
new password, setting up the authenticator app, entering its code).

An endpoint that answers GET and is neither visited (``VISITS``, ``BY_HAND``) nor in ``EXEMPT``
(with a reason) fails ``test_the_walk_covers_every_page``: a new page cannot go unchecked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, Response
from werkzeug.serving import make_server

from complaints.accounts.models import Account
from complaints.cases.models import AuthorKind
from complaints.cases.services import NewAttachment, add_attachment
from complaints.crypto.services import case_cipher, keystore
from complaints.directory.models import Person
from complaints.web.i18n import LANGUAGE_COOKIE, LANGUAGES
from tests import test_authorization as matrix
from tests.browser.conftest import Axe, LiveServer, QuietHandler, open_page
from tests.browser.htmlcheck import HtmlChecker
from tests.browser.pages import (
    ReportSentPage,
    ReportStartPage,
    ReviewPage,
    check_error_summary,
    check_reflow,
)
from tests.conftest import START, app_session
from tests.factories import PASSWORD, make_account
from tests.followup import file_report, handler_reply
from tests.test_authorization import world  # noqa: F401  (the matrix's world, as a fixture)

pytestmark = pytest.mark.browser

# Who visits: the matrix's principals by their key, and these.
REPORTER = "reporter"  # fills in the report form, without logging in
MAILBOX = "mailbox"  # has opened the mailbox of a report with its receipt code
MUST_CHANGE = "must_change"  # first log-in: chooses a new password
NOT_ENROLLED = "not_enrolled"  # first log-in: sets up the authenticator app
ENROLLED = "enrolled"  # log-in: enters the code from the app
NEWCOMERS = (MUST_CHANGE, NOT_ENROLLED, ENROLLED)
# Visitors without a staff log-in: every page they see links to the help page.
PUBLIC_VISITORS = frozenset({"anonymous", REPORTER, MAILBOX, *NEWCOMERS})
HELP_LINK = "a[href='/hulp']"


@dataclass(frozen=True)
class Visit:
    who: str
    endpoint: str | None  # None: an address the application does not have
    case: str | None = None  # the world's case whose ids fill in the address
    status: int = 200
    path: str | None = None  # instead of the endpoint's own address


# The report form, in the order of its steps: each is visited with a complete draft.
REPORT_FORM = (
    "intake.start",
    "intake.what",
    "intake.when_where",
    "intake.description",
    "intake.people",
    "intake.wishes",
    "intake.identity",
    "intake.route",
    "intake.review",
)

VISITS = (
    Visit("anonymous", "web.index"),
    Visit("anonymous", "help.page"),
    Visit("anonymous", "accounts.login"),
    Visit("anonymous", "followup.enter_code"),
    Visit("anonymous", None, status=404, path="/bestaat-niet"),
    *(Visit(REPORTER, endpoint) for endpoint in REPORT_FORM),
    Visit(MAILBOX, "followup.mailbox"),
    Visit(MAILBOX, "followup.withdraw"),
    Visit(MUST_CHANGE, "accounts.set_password"),
    Visit(NOT_ENROLLED, "accounts.enrol_totp"),
    Visit(ENROLLED, "accounts.verify_totp"),
    # A logged-in employee without a role, who filed the world's reports under their name.
    Visit("complainant", "accounts.overview"),
    Visit("complainant", "accounts.change_own_password"),
    Visit("complainant", "followup.reports"),
    Visit("complainant", "casework.inbox_page", status=403),
    Visit("complainant", None, status=404, path="/zaken/00000000-0000-4000-8000-000000000000"),
    # Handlers: the inbox and a case of each route, in the capacity that route gives.
    Visit("confidant", "casework.inbox_page"),
    Visit("confidant", "casework.case_page", case="CONF"),
    Visit("confidant", "casework.print_case", case="CONF"),
    Visit("confidant", "casework.search_page"),
    Visit("confidant", "referral.refer", case="CONF"),
    Visit("confidant", "referral.proxy_report"),
    Visit("manager", "casework.case_page", case="MGR"),
    Visit("integrity", "casework.case_page", case="INT"),
    Visit("secretary", "casework.inbox_page"),
    Visit("secretary", "casework.case_page", case="COM"),
    Visit("secretary", "committee.page", case="COM"),
    Visit("member", "committee.page", case="COM"),
    # The administrator, the auditor and the privacy officer.
    Visit("admin", "handover.overview"),
    Visit("admin", "handover.handler"),
    Visit("auditor", "stats.dashboard"),
    Visit("auditor", "stats_reports.reports"),
    Visit("auditor", "stats_reports.confidants"),
    Visit("auditor", "stats_reports.committee"),
    Visit("auditor", "stats_reports.api_tokens"),
    Visit("privacy_officer", "privacy.plan_page"),
    Visit("privacy_officer", "privacy.ledger"),
    Visit("privacy_officer", "privacy.register"),
    Visit("privacy_officer", "privacy.holds"),
)

# Opened by a hook of the walk rather than by address: a committee letter is an HTML file sent as
# a download (Content-Disposition: attachment), in the language chosen for the letter. The
# secretary writes one in each language, and the walk checks it as the browser would show it.
BY_HAND = {"committee.download_letter": "secretary"}

# Endpoints that answer GET with something other than a page of the application; each is asked
# for (by a principal who may, with the case's ids) to show that it is not an HTML page.
EXEMPT: dict[str, tuple[str, Visit | None]] = {
    "static": ("stylesheets and images", None),
    "web.healthz": ("a probe for the load balancer, not HTML", Visit("anonymous", "web.healthz")),
    "web.readyz": ("a probe for the load balancer, not HTML", Visit("anonymous", "web.readyz")),
    "stats_api.table": ("the statistics API: JSON", Visit("auditor", "stats_api.table", None, 401)),
    "stats_api.years": ("the statistics API: JSON", Visit("auditor", "stats_api.years", None, 401)),
    "stats_api.openapi": ("the API's description: JSON", Visit("anonymous", "stats_api.openapi")),
    "stats.table_csv": ("a CSV download", Visit("auditor", "stats.table_csv")),
    "privacy.plan_csv": ("a CSV download", Visit("privacy_officer", "privacy.plan_csv")),
    "privacy.ledger_csv": ("a CSV download", Visit("privacy_officer", "privacy.ledger_csv")),
    "privacy.register_csv": ("a CSV download", Visit("privacy_officer", "privacy.register_csv")),
    "stats_reports.confidants_pdf": (
        "the annual report as PDF (the HTML version is visited); see docs/accessibility.md",
        Visit("auditor", "stats_reports.confidants_pdf"),
    ),
    "stats_reports.committee_pdf": (
        "the annual report as PDF (the HTML version is visited); see docs/accessibility.md",
        Visit("auditor", "stats_reports.committee_pdf"),
    ),
    "casework.attachment": (
        "a file as the complainant uploaded it, sent as a download",
        Visit("confidant", "casework.attachment", "CONF"),
    ),
    # Only a mailbox session reaches them, which no principal of the walk has; their headers,
    # names and reach are proved in tests/security and tests/followup/test_outcomes.py.
    "followup.download_attachment": ("a file of the mailbox's own case, as a download", None),
    "followup.download_letter": ("a committee letter from the mailbox, as a download", None),
}


# The world, served ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(world: matrix.World) -> Iterator[LiveServer]:  # noqa: F811
    """The matrix's world on 127.0.0.1, for the whole module (as ``live_server`` serves one
    test's ``committed_app``)."""
    server = make_server("127.0.0.1", 0, world.app, threaded=True, request_handler=QuietHandler)
    server.daemon_threads = False  # type: ignore[attr-defined]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="live-server", daemon=True
    )
    thread.start()
    live = LiveServer(f"http://127.0.0.1:{server.port}", server, thread)
    try:
        yield live
    finally:
        live.stop()


@dataclass(frozen=True)
class Extras:
    """What the world lacks for this walk: a receipt code, and people part-way through a
    first log-in (their e-mail addresses, by newcomer key)."""

    receipt_code: str
    newcomers: dict[str, str]


@pytest.fixture(scope="module")
def extras(world: matrix.World) -> Extras:  # noqa: F811
    with app_session(world.app) as session:
        people = {p.email: p for p in session.scalars(sa.select(Person))}
        # A report with a message from its handler, so that the mailbox shows a conversation.
        filed = file_report(session, people, START)
        # A moment with microseconds: every <time datetime> the walk meets must drop them (the
        # Nu Html Checker refuses "…09:30:00.123456+00:00").
        handler_reply(
            session,
            filed.case_id,
            filed.handler_id,
            "Dank voor uw melding.",
            START + timedelta(microseconds=123456),
        )
        # And a file, so that the mailbox lists it with its download link.
        add_attachment(
            session,
            case_cipher(session, keystore(), filed.case_id),
            filed.case_id,
            NewAttachment("notities.txt", "text/plain", b"Wat er gebeurde."),
            AuthorKind.COMPLAINANT,
            START,
        )
        taken = set(session.scalars(sa.select(Account.person_id)))
        free = [p for p in sorted(people.values(), key=lambda p: p.id) if p.id not in taken]
        newcomers = dict(zip(NEWCOMERS, free, strict=False))
        make_account(session, newcomers[MUST_CHANGE], START, must_change_password=True)
        make_account(session, newcomers[NOT_ENROLLED], START, enrolled=False)
        make_account(session, newcomers[ENROLLED], START)
        return Extras(filed.code, {key: person.email for key, person in newcomers.items()})


# Checking a page --------------------------------------------------------------------------------


@dataclass
class Walk:
    world: matrix.World
    axe: Axe
    html: HtmlChecker | None = None
    findings: list[str] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)  # (endpoint, language)
    count: int = 0
    # The last page each watched tab loaded, as the server sent it (by the tab's id).
    documents: dict[int, Response] = field(default_factory=dict)

    def watch(self, tab: Page) -> None:
        """Keep the server's answer for each page ``tab`` loads: the Nu Html Checker checks
        the HTML as sent, before the browser's parser has repaired anything."""

        def on_response(response: Response) -> None:
            if response.request.resource_type == "document" and response.frame == tab.main_frame:
                self.documents[id(tab)] = response

        tab.on("response", on_response)

    def url(self, visit: Visit) -> str:
        if visit.path is not None:
            return visit.path
        assert visit.endpoint is not None
        rule = next(r for r in self.world.app.url_map.iter_rules() if r.endpoint == visit.endpoint)
        values: dict[str, object] = {}
        if visit.case is not None:
            values = matrix.case_values(self.world, rule, self.world.case(visit.case))
        if "person_id" in rule.arguments:  # the handover plan of the BZK confidant
            values["person_id"] = self.world.person_ids["confidant"]
        if "year" in rule.arguments:  # the annual reports: the cases were filed this year
            values["year"] = START.year
        return matrix.url_for_rule(self.world, rule, values)

    def visit(self, tab: Page, visit: Visit, language: str) -> None:
        url = self.url(visit)
        label = f"{visit.endpoint or url} as {visit.who}"
        response = tab.goto(url)
        assert response is not None
        path = urlsplit(tab.url).path
        if response.status != visit.status or path != urlsplit(url).path:
            self.findings.append(
                f"[{language}] {label}: {url} answered {response.status} at {path}, "
                f"expected {visit.status} at {urlsplit(url).path}"
            )
            return
        self.check(tab, label, language, public=visit.who in PUBLIC_VISITORS)
        if visit.endpoint is not None:
            self.seen.add((visit.endpoint, language))

    def check(
        self,
        tab: Page,
        label: str,
        language: str,
        *,
        public: bool = False,
        source: str | None = None,
    ) -> None:
        """axe-core, reflow and the error summary, on the page as it is, and the Nu Html
        Checker on the HTML the server sent (or ``source``): findings collected. A ``public``
        page must also link to the help page."""
        self.count += 1
        if self.html is not None:
            self._check_html(tab, label, language, source)
        if public and tab.locator(HELP_LINK).count() == 0:
            self.findings.append(f"[{language}] {label}: no link to the help page (/hulp)")
        shown = tab.evaluate("document.documentElement.lang")
        if shown != language:
            self.findings.append(f"[{language}] {label}: the page is in {shown!r}")
        try:
            self.axe.check(tab)
        except pytest.fail.Exception as exc:
            self.findings.append(f"[{language}] {label}: {exc.msg}")
        for extra in (check_reflow, check_error_summary):
            try:
                extra(tab)
            except AssertionError as exc:
                self.findings.append(f"[{language}] {label}: {exc}")

    def _check_html(self, tab: Page, label: str, language: str, source: str | None) -> None:
        assert self.html is not None
        if source is None:
            served = self.documents.get(id(tab))
            if served is None or served.url != tab.url:
                self.findings.append(f"[{language}] {label}: the HTML as sent was not kept")
                return
            source = served.text()
        try:
            self.html.check(source, "the page")
        except pytest.fail.Exception as exc:
            self.findings.append(f"[{language}] {label}: {exc.msg}")


class Arrived(Axe):
    """For the page objects that fill in the report form: the walk checks each page itself
    (their own reflow and error-summary checks still run, and stop the test on a finding)."""

    def check(self, page: Page) -> None:
        pass


def in_language(tab: Page, base_url: str, language: str) -> None:
    tab.context.add_cookies([{"name": LANGUAGE_COOKIE, "value": language, "url": base_url}])


# Getting each visitor where their pages are ---------------------------------------------------

Prepare = Callable[[Page, str], None]


def hand_over_login(built: matrix.World, key: str, base_url: str) -> Prepare:
    """The principal's session cookie from the matrix's logged-in test client, into the browser."""

    def prepare(tab: Page, _language: str) -> None:
        cookie = built.clients[key].get_cookie("session")
        assert cookie is not None, f"{key} has no session cookie"
        cookies = [{"name": cookie.key, "value": cookie.value, "url": base_url}]
        tab.context.add_cookies(cookies)  # type: ignore[arg-type]

    return prepare


def first_steps_of_login(email: str) -> Prepare:
    """The password is accepted; the log-in waits at its second step."""

    def prepare(tab: Page, _language: str) -> None:
        tab.goto("/aanmelden")
        tab.locator("#email").fill(email)
        tab.locator("#password").fill(PASSWORD)
        with tab.expect_navigation():
            tab.get_by_role("main").locator("form button[type=submit]").click()

    return prepare


def open_mailbox(code: str) -> Prepare:
    def prepare(tab: Page, _language: str) -> None:
        tab.goto("/opvolgen")
        tab.locator("#code").fill(code)
        with tab.expect_navigation():
            tab.get_by_role("main").locator("form button[type=submit]").click()
        assert urlsplit(tab.url).path == "/opvolgen/melding", tab.url

    return prepare


def fill_in_report(walk: Walk) -> Prepare:
    """A report drafted up to its review, in the page's language; on the way, the first
    question left unanswered (the error summary)."""

    def prepare(tab: Page, language: str) -> None:
        arrived = Arrived(walk.axe.source)
        what = ReportStartPage.open(tab, arrived).start()
        refused = what.save_refused()
        walk.check(tab, "intake.what with an unanswered question", language, public=True)
        refused.choose("discrimination", ("race",))
        when_where = refused.save_and_continue()
        when_where.fill_in(
            in_words="elke maandag", unit="Directie Arbeidszaken Publieke Sector", place="kantoor"
        )
        description = when_where.save_and_continue()
        description.description.fill("Een collega kleineert mij in elk teamoverleg.")
        people = description.save_and_continue()
        people = people.search_accused("bakk")
        walk.check(tab, "intake.people with search results", language, public=True)
        people = people.add_accused("Lotte Bakker", "colleague")
        wishes = people.save_and_continue()
        wishes.desired_outcome.fill("Dat het stopt.")
        identity = wishes.save_and_continue()
        identity.choose("confidential", "Mohamed el Idrissi")
        route = identity.save_and_continue()
        route.choose("confidant")
        route.save_and_continue()

    return prepare


def send_report(walk: Walk) -> Prepare:
    """Send the drafted report: the page with the receipt code."""

    def finish(tab: Page, language: str) -> None:
        ReviewPage.open(tab, Arrived(walk.axe.source)).send()
        assert urlsplit(tab.url).path == ReportSentPage.path, tab.url
        walk.check(tab, "intake.submit (the receipt)", language, public=True)

    return finish


def write_letter(walk: Walk) -> Prepare:
    """The secretary writes an acknowledgement in the page's language and opens the file."""

    def finish(tab: Page, language: str) -> None:
        tab.goto(walk.url(Visit("secretary", "committee.page", case="COM")))
        links = tab.locator("#brieven tr[data-letter=acknowledgement] a[download]")
        before = {links.nth(i).get_attribute("href") for i in range(links.count())}
        form = tab.locator("form[action$='/commissie/brieven/acknowledgement']")
        form.locator("select").select_option(language)
        with tab.expect_navigation():
            form.locator("button[type=submit]").click()
        written = [links.nth(i).get_attribute("href") for i in range(links.count())]
        new = [href for href in written if href not in before]
        assert len(new) == 1, f"no new letter in {language}: {written}"
        assert new[0] is not None
        letter = tab.context.request.get(new[0])
        assert letter.ok, letter.status
        assert letter.headers["content-type"].startswith("text/html"), letter.headers
        # Opened as a file of its own: outside the application's pages and their CSP.
        tab.goto("about:blank")
        tab.set_content(letter.text())
        walk.check(
            tab,
            f"committee.download_letter (a letter in {language})",
            language,
            source=letter.text(),
        )
        walk.seen.add(("committee.download_letter", language))

    return finish


def search_cases(walk: Walk) -> Prepare:
    """The confidant searches their cases from the inbox: first with a number of days that is
    not one (the form again, with its error summary), then without criteria (every own case)."""

    def finish(tab: Page, language: str) -> None:
        tab.goto(walk.url(Visit("confidant", "casework.inbox_page")))
        form = tab.locator("form.case-search")
        form.locator("input[name='zoek-deadline'][value='due_within']").check()
        form.locator("input[name='zoek-days']").fill("veertien")
        with tab.expect_navigation() as navigation:
            form.locator("button[type=submit]").click()
        status = navigation.value.status if navigation.value is not None else None
        if status != 400:
            walk.findings.append(f"[{language}] a search with bad days answered {status}, not 400")
            return
        walk.check(tab, "casework.search_page (an error)", language)
        form = tab.locator("form.case-search")
        form.locator("input[name='zoek-deadline'][value='']").check()
        with tab.expect_navigation() as navigation:
            form.locator("button[type=submit]").click()
        status = navigation.value.status if navigation.value is not None else None
        found = tab.locator("tr[data-case]").count()
        if status != 200 or not found:
            walk.findings.append(f"[{language}] the search answered {status} with {found} cases")
            return
        walk.check(tab, "casework.search_page (the cases found)", language)

    return finish


def expired_form(walk: Walk) -> Prepare:
    """A form sent with a token the server does not know: the page that says it expired."""

    def finish(tab: Page, language: str) -> None:
        tab.goto("/aanmelden")
        form = tab.get_by_role("main").locator("form")
        form.locator("input[name=csrf_token]").evaluate("field => { field.value = 'verlopen'; }")
        tab.locator("#email").fill("iemand@bzk.example")
        tab.locator("#password").fill(PASSWORD)
        with tab.expect_navigation() as navigation:
            form.locator("button[type=submit]").click()
        status = navigation.value.status if navigation.value is not None else None
        if status != 400:
            walk.findings.append(f"[{language}] an expired form answered {status}, not 400")
            return
        walk.check(tab, "the expired-form page (400)", language, public=True)

    return finish


# The tests ------------------------------------------------------------------------------------


def test_the_walk_covers_every_page(world: matrix.World) -> None:  # noqa: F811
    """Every endpoint that answers GET is visited or exempt, with a reason; an exempt one is
    not an HTML page."""
    answers_get = {r.endpoint for r in world.app.url_map.iter_rules() if "GET" in (r.methods or ())}
    visited = {v.endpoint for v in VISITS if v.endpoint is not None} | set(BY_HAND)
    missing = answers_get - visited - set(EXEMPT)
    assert not missing, (
        f"pages the walk does not visit (add to VISITS, or EXEMPT with a reason): {sorted(missing)}"
    )
    assert not (visited | set(EXEMPT)) - answers_get, (
        "VISITS or EXEMPT name endpoints that are gone"
    )
    assert not visited & set(EXEMPT), "an endpoint is both visited and exempt"
    walk = Walk(world, Axe(""))
    for endpoint, (_reason, visit) in EXEMPT.items():
        if visit is None:
            continue
        response = world.clients[visit.who].get(walk.url(visit))
        assert response.status_code == visit.status, (endpoint, response.status_code)
        assert response.mimetype != "text/html", f"{endpoint} is an HTML page: visit it"


def test_every_page_in_both_languages(
    world: matrix.World,  # noqa: F811
    served: LiveServer,
    extras: Extras,
    browser: Browser,
    axe_source: str,
    html_checker: HtmlChecker,
) -> None:
    walk = Walk(world, Axe(axe_source), html_checker)
    base = served.url
    logged_in = [p.key for p in matrix.PRINCIPALS if p.email is not None]
    prepare_once: dict[str, Prepare] = {
        MAILBOX: open_mailbox(extras.receipt_code),
        **{key: first_steps_of_login(email) for key, email in extras.newcomers.items()},
        **{key: hand_over_login(world, key, base) for key in logged_in},
    }
    prepare_each: dict[str, Prepare] = {REPORTER: fill_in_report(walk)}
    finish_each: dict[str, Prepare] = {
        REPORTER: send_report(walk),
        "anonymous": expired_form(walk),
        BY_HAND["committee.download_letter"]: write_letter(walk),
        "confidant": search_cases(walk),
    }
    # One browser context per visitor, logged in (or part-way) once, then each language in turn.
    for who in dict.fromkeys(v.who for v in VISITS):
        with open_page(browser, axe_source, base) as tab:
            walk.watch(tab)
            if who in prepare_once:
                prepare_once[who](tab, "nl")
            for language in LANGUAGES:
                in_language(tab, base, language)
                if who in prepare_each:
                    prepare_each[who](tab, language)
                for visit in (v for v in VISITS if v.who == who):
                    walk.visit(tab, visit, language)
                if who in finish_each:
                    finish_each[who](tab, language)

    endpoints = {v.endpoint for v in VISITS if v.endpoint} | set(BY_HAND)
    expected = {(endpoint, lang) for endpoint in endpoints for lang in LANGUAGES}
    unseen = sorted(expected - walk.seen)
    assert not walk.findings, (
        f"{len(walk.findings)} problem(s) on {walk.count} pages checked:\n\n"
        + "\n\n".join(walk.findings)
    )
    assert not unseen, f"pages not reached: {unseen}"
    assert walk.count >= 2 * len(VISITS)


def test_the_walk_reports_invalid_html_and_a_public_page_without_the_help_link(
    world: matrix.World,  # noqa: F811
    served: LiveServer,
    browser: Browser,
    axe_source: str,
    html_checker: HtmlChecker,
) -> None:
    """The control of the walk's own checks: the HTML as the server sent it is what the Nu
    Html Checker gets (a tab that was not watched is a finding, not a pass), an error in it is a
    finding, and so is a public page without the link to /hulp."""
    walk = Walk(world, Axe(axe_source), html_checker)
    with open_page(browser, axe_source, served.url) as tab:
        tab.goto("/hulp")
        walk.check(tab, "an unwatched tab", "nl", public=True)
        assert walk.findings == ["[nl] an unwatched tab: the HTML as sent was not kept"]

        walk.findings.clear()
        walk.watch(tab)
        response = tab.goto("/hulp")
        assert response is not None
        walk.check(tab, "the help page", "nl", public=True)
        assert walk.findings == []

        served_html = response.text()
        broken = served_html.replace("<h1>", '<h1 id="main">', 1)
        assert broken != served_html
        walk.check(tab, "the help page with a duplicate id", "nl", source=broken)
        assert len(walk.findings) == 1
        assert "Duplicate ID “main”" in walk.findings[0], walk.findings

        walk.findings.clear()
        without_link = served_html.replace('href="/hulp"', 'href="/"')
        tab.set_content(without_link)
        walk.check(tab, "a page without the link", "nl", public=True, source=without_link)
        assert walk.findings == ["[nl] a page without the link: no link to the help page (/hulp)"]
