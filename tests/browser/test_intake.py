"""Reporting in a real browser: a named, a confidential and an anonymous report filed through
every step of /melden and followed up at /opvolgen with the receipt code, in Dutch and (once)
in English; the keyboard alone; errors that are announced and lose nothing. Every page on the
way is checked by axe-core (the page objects do that on arrival)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Locator, Page, expect

from complaints.cases.labels import grant_label
from complaints.cases.models import Case, CaseAccessGrant, GrantRole, Route
from complaints.intake.services import MAX_TEXT
from complaints.web.i18n import LANGUAGE_COOKIE
from complaints.workflow.config import workflow
from tests.browser.conftest import Axe
from tests.browser.pages import (
    DescriptionStep,
    IdentityStep,
    MailboxPage,
    MessageRefusedPage,
    PeopleStep,
    ReportSentPage,
    ReportStartPage,
    ReviewPage,
    RouteStep,
    WhatStep,
    WhenWhereStep,
    WishesStep,
    has_visible_focus,
    tab_to,
)
from tests.conftest import Clock, app_session
from tests.factories import import_demo_directory
from tests.followup import handler_reply

pytestmark = pytest.mark.browser

RECEIPT_CODE = re.compile(r"^[0-9A-Z]{4}(-[0-9A-Z]{4}){5}$")
ENGLISH_START_HEADING = "Report undesirable behaviour or an integrity concern"
ACCOUNT = "Mijn collega kleineert mij al maanden in elk teamoverleg, waar iedereen bij is."
QUESTION = "Wanneer hoor ik iets van u? Ik werk alleen op maandag en dinsdag."
ANSWER = "Dank u. Ik bel u maandag om 10 uur, als dat schikt."
# Every page of the form and the mailbox, as the page objects check them.
REPORT_PAGES = {
    "/melden",
    "/melden/wat",
    "/melden/wanneer-waar",
    "/melden/beschrijving",
    "/melden/betrokkenen",
    "/melden/wensen",
    "/melden/wie",
    "/melden/route",
    "/melden/controleren",
    "/melden/versturen",
    "/opvolgen",
    "/opvolgen/melding",
}


@pytest.fixture
def directory(committed_app: Flask, clock: Clock) -> None:
    """The demo organisation, committed where the live server reads it."""
    with app_session(committed_app) as session:
        import_demo_directory(session, clock())


@dataclass(frozen=True)
class Complaint:
    """The answers someone gives, and who must receive the report in which capacity."""

    disclosure: str
    category: str
    route: str
    recipient: str
    role: GrantRole
    grounds: tuple[str, ...] = ()
    unit: str = "Directie Arbeidszaken Publieke Sector"
    accused: tuple[str, str, str] | None = None  # search for, pick, relation
    name: str = ""
    email: str = ""
    manager: tuple[str, str] | None = None  # search for, pick


NAMED = Complaint(
    disclosure="named",
    category="bullying",
    route="manager",
    recipient="Aylin Demir",
    role=GrantRole.MANAGER,
    accused=("bakk", "Lotte Bakker", "colleague"),
    name="Sanne de Vries",
    email="s.devries@bzk.example",
    manager=("Demir", "Aylin Demir"),
)
CONFIDENTIAL = Complaint(
    disclosure="confidential",
    category="discrimination",
    grounds=("race", "religion"),
    route="confidant",
    recipient="Ingrid Hoekstra",
    role=GrantRole.CONFIDANT,
    name="Mohamed el Idrissi",
)
ANONYMOUS = Complaint(
    disclosure="anonymous",
    category="aggression",
    unit="Directie CIO Rijk",
    route="integrity",
    recipient="Kees Dijkstra",
    role=GrantRole.INTEGRITY_COORDINATOR,
)


# What the application says, in the page's language ------------------------------------------


@contextmanager
def in_language(app: Flask, language: str) -> Iterator[None]:
    """A request in ``language``, to get the application's own wording for a check."""
    with app.test_request_context(headers={"Cookie": f"{LANGUAGE_COOKIE}={language}"}):
        yield


def role_text(app: Flask, role: GrantRole, language: str) -> str:
    with in_language(app, language):
        return grant_label(role)


def status_text(app: Flask, reference: str, language: str) -> str:
    """What the mailbox should say about where the report stands (from workflow.toml)."""
    with app_session(app) as session:
        case = session.scalars(sa.select(Case).where(Case.reference == reference)).one()
        route, state = case.route, case.state
    with in_language(app, language):
        return str(workflow()[Route(route)].states[state].public)


def reply_as_handler(app: Flask, clock: Clock, reference: str, text: str) -> None:
    """The handler answers, the way casework stores a message, committed for the live server."""
    clock.advance(minutes=5)
    with app_session(app) as session:
        case = session.scalars(sa.select(Case).where(Case.reference == reference)).one()
        handler = session.scalars(
            sa.select(CaseAccessGrant.person_id).where(CaseAccessGrant.case_id == case.id)
        ).first()
        assert handler is not None
        handler_reply(session, case.id, handler, text, clock())


# Walking through the form --------------------------------------------------------------------


def answer_up_to_identity(start: ReportStartPage, complaint: Complaint) -> IdentityStep:
    what = start.start()
    expect(what.progress).to_contain_text(re.compile(r"\b1\b.*\b8\b"))
    what.choose(complaint.category, complaint.grounds)
    when_where = what.save_and_continue()
    when_where.fill_in(
        date_from="2026-02-02",
        date_to="2026-02-27",
        in_words="elke maandag",
        unit=complaint.unit,
        place="vergaderzaal 4.12",
    )
    description = when_where.save_and_continue()
    description.description.fill(ACCOUNT)
    people = description.save_and_continue()
    if complaint.accused is not None:
        query, name, relation = complaint.accused
        people = people.search_accused(query).add_accused(name, relation)
        expect(people.accused).to_have_count(1)
        expect(people.accused).to_contain_text(name)
    wishes = people.save_and_continue()
    wishes.desired_outcome.fill("Dat het stopt.")
    return wishes.save_and_continue()


def answer_identity(identity: IdentityStep, complaint: Complaint) -> IdentityStep:
    if complaint.manager is not None:
        identity = identity.choose_manager(*complaint.manager)
    identity.choose(complaint.disclosure, complaint.name, complaint.email)
    return identity


def check_review(app: Flask, review: ReviewPage, complaint: Complaint) -> None:
    language = review.language or ""
    expect(review.recipients).to_have_count(1)
    expect(review.recipients.locator(".recipient-list__name")).to_have_text(complaint.recipient)
    expect(review.recipients).to_contain_text(role_text(app, complaint.role, language))
    expect(review.answers).to_contain_text(ACCOUNT)
    if complaint.name:
        expect(review.answers).to_contain_text(complaint.name)
    if complaint.accused is not None:
        expect(review.answers).to_contain_text(complaint.accused[1])


def check_receipt(app: Flask, page: Page, done: ReportSentPage, complaint: Complaint) -> str:
    """The code is shown once, in one place, and nowhere in the address; returns it."""
    expect(done.receipt).to_have_count(1)
    code = done.receipt_code
    assert RECEIPT_CODE.match(code), f"not a receipt code: {code!r}"
    # On screen in its groups of four, once; in the address not at all.
    shown = page.locator("body").inner_text()
    assert shown.count(code.replace("-", " ")) == 1, "the receipt code is not shown exactly once"
    assert code.split("-")[1] not in page.url
    expect(done.recipients).to_contain_text(complaint.recipient)
    expect(done.recipients).to_contain_text(role_text(app, complaint.role, done.language or ""))
    # Switching language would load the address again, without the code: no switch here.
    expect(done.language_button).to_have_count(0)
    return code


def follow_up(
    app: Flask, clock: Clock, done: ReportSentPage, code: str, *, typed: str | None = None
) -> MailboxPage:
    """Open the mailbox with the code, ask a question, and read the handler's answer."""
    language = done.language or ""
    entry = done.follow_up()
    mailbox = entry.open_mailbox(typed or code)
    expect(mailbox.status).to_have_text(status_text(app, mailbox.reference, language))
    expect(mailbox.messages).to_have_count(0)

    mailbox = mailbox.send_message(QUESTION)
    expect(mailbox.notices).to_have_count(1)
    expect(mailbox.messages).to_have_count(1)
    expect(mailbox.messages.first).to_have_class(re.compile(r"\bmessage--mine\b"))
    expect(mailbox.messages.first).to_contain_text(QUESTION)
    expect(mailbox.message).to_have_value("")

    reply_as_handler(app, clock, mailbox.reference, ANSWER)
    mailbox = mailbox.reload()
    expect(mailbox.messages).to_have_count(2)
    expect(mailbox.messages.last).to_have_class(re.compile(r"\bmessage--theirs\b"))
    expect(mailbox.messages.last).to_contain_text(ANSWER)
    return mailbox


# Filing and following up ---------------------------------------------------------------------


def file(app: Flask, start: ReportStartPage, complaint: Complaint) -> tuple[ReportSentPage, str]:
    """File the report from the start page; the page with the receipt, and the code."""
    identity = answer_identity(answer_up_to_identity(start, complaint), complaint)
    route = identity.save_and_continue()
    route.choose(complaint.route)
    review = route.save_and_continue()
    check_review(app, review, complaint)
    done = review.send()
    return done, check_receipt(app, start.page, done, complaint)


def test_filing_a_named_report_and_following_it_up(
    page: Page, axe: Axe, committed_app: Flask, clock: Clock, directory: None
) -> None:
    done, code = file(committed_app, ReportStartPage.open(page, axe), NAMED)
    # Typed the way someone copies it from paper: small letters, spaces for dashes.
    follow_up(committed_app, clock, done, code, typed=code.lower().replace("-", " "))

    assert {path for path, _ in axe.checked} == REPORT_PAGES
    assert {language for _, language in axe.checked} == {"nl"}


def test_filing_anonymously_after_the_committee_says_no(
    page: Page, axe: Axe, committed_app: Flask, clock: Clock, directory: None
) -> None:
    complaint = ANONYMOUS
    identity = answer_up_to_identity(ReportStartPage.open(page, axe), complaint)
    identity.choose(complaint.disclosure)
    route = identity.save_and_continue()
    # Said before choosing, beside the committee: not possible anonymously.
    warning = route.form.locator(".choice:has(input[value=committee]) [data-about=not_possible]")
    expect(warning).to_be_visible()

    route.choose("committee")
    route = route.save_refused()
    expect(route.error_summary).to_be_focused()
    expect(route.error_summary.get_by_role("link")).to_have_count(1)
    expect(route.route).to_have_attribute("aria-invalid", "true")
    # The way out is explained: give a name, or choose another route on this page.
    expect(route.identity_link).to_be_visible()
    expect(route.option("route", "committee")).to_be_checked()  # the choice is kept

    route.choose(complaint.route)
    review = route.save_and_continue()
    check_review(committed_app, review, complaint)
    done = review.send()
    code = check_receipt(committed_app, page, done, complaint)
    mailbox = follow_up(committed_app, clock, done, code)

    # An empty message is refused, and the language switch on that answer leads back to the
    # mailbox rather than to an address that only takes a form.
    refused = mailbox.send_message_refused("")
    expect(refused.error_summary).to_be_focused()
    expect(refused.message).to_have_attribute("aria-invalid", "true")
    expect(refused.messages).to_have_count(2)
    mailbox = refused.switch_language_to_mailbox()
    assert mailbox.language == "en"
    expect(mailbox.messages).to_have_count(2)

    assert {path for path, _ in axe.checked} == REPORT_PAGES | {MessageRefusedPage.path}


def test_filing_a_confidential_report_in_english(
    page: Page, axe: Axe, committed_app: Flask, clock: Clock, directory: None
) -> None:
    """The confidential report goes the whole way in English, chosen with the language switch."""
    start = ReportStartPage.open(page, axe)
    assert start.language == "nl"
    expect(start.heading).not_to_have_text(ENGLISH_START_HEADING)
    start = start.switch_language()
    assert start.language == "en"
    expect(start.heading).to_have_text(ENGLISH_START_HEADING)

    done, code = file(committed_app, start, CONFIDENTIAL)
    follow_up(committed_app, clock, done, code)

    assert {path for path, _ in axe.checked} == REPORT_PAGES
    assert {language for path, language in axe.checked if path != "/melden"} == {"en"}


# The keyboard alone --------------------------------------------------------------------------


def press(page: Page, button: Locator) -> None:
    """Tab to a button and press Enter, which loads the next page."""
    tab_to(page, button)
    assert has_visible_focus(button), f"no visible focus on {button}"
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_filing_with_the_keyboard_alone(
    page: Page, axe: Axe, committed_app: Flask, directory: None
) -> None:
    keyboard = page.keyboard

    start = ReportStartPage.open(page, axe)
    press(page, start.start_button)

    what = WhatStep(page, axe)
    tab_to(page, what.form.locator("input[name=category]").first)
    # Arrow keys move through a group of radio buttons, choosing as they go.
    keyboard.press("ArrowDown")
    keyboard.press("ArrowDown")
    expect(what.option("category", "bullying")).to_be_checked()
    expect(what.option("category", "bullying")).to_be_focused()
    assert has_visible_focus(what.option("category", "bullying"))
    press(page, what.continue_button)

    when_where = WhenWhereStep(page, axe)
    tab_to(page, when_where.ongoing)
    keyboard.press("Space")
    expect(when_where.ongoing).to_be_checked()
    tab_to(page, when_where.place)
    keyboard.type("kantine")
    press(page, when_where.continue_button)

    description = DescriptionStep(page, axe)
    tab_to(page, description.description)
    assert has_visible_focus(description.description)
    keyboard.type("Mijn collega lacht mij elke ochtend uit.")
    press(page, description.continue_button)

    # Enter in the search box searches (the form's first button), and adds nobody yet.
    people = PeopleStep(page, axe)
    tab_to(page, people.accused_query)
    keyboard.type("bakk")
    with page.expect_navigation():
        keyboard.press("Enter")
    people = PeopleStep(page, axe)
    found = people.form.locator("input[name=accused_pick]")
    expect(found).to_have_count(1)
    tab_to(page, found)
    keyboard.press("Space")
    expect(found).to_be_checked()
    tab_to(page, people.option("accused_relation", "manager"))
    keyboard.press("ArrowDown")
    expect(people.option("accused_relation", "colleague")).to_be_checked()
    press(page, people.add_accused_button)
    people = PeopleStep(page, axe)
    expect(people.accused).to_contain_text("Lotte Bakker")
    press(page, people.continue_button)

    wishes = WishesStep(page, axe)
    press(page, wishes.continue_button)

    identity = IdentityStep(page, axe)
    anonymous = identity.option("disclosure", "anonymous")
    tab_to(page, anonymous)
    keyboard.press("Space")
    expect(anonymous).to_be_checked()
    press(page, identity.continue_button)

    route = RouteStep(page, axe)
    tab_to(page, route.route)
    keyboard.press("ArrowDown")
    expect(route.option("route", "confidant")).to_be_checked()
    press(page, route.continue_button)

    # No place was given, so a counsellor for all of central government receives it.
    review = ReviewPage(page, axe)
    expect(review.recipients).to_contain_text("Guus Verbeek")
    expect(review.answers).to_contain_text("Lotte Bakker")
    press(page, review.send_button)

    done = ReportSentPage(page, axe)
    assert RECEIPT_CODE.match(done.receipt_code)


# Errors --------------------------------------------------------------------------------------


def test_a_missing_answer_is_announced_and_nothing_typed_is_lost(
    page: Page, axe: Axe, committed_app: Flask, directory: None
) -> None:
    what = ReportStartPage.open(page, axe).start()
    title = page.title()
    what = what.save_refused()
    expect(what.error_summary).to_be_visible()
    expect(what.error_summary).to_be_focused()
    assert page.title() != title
    assert page.title().endswith(title)
    category = what.form.locator("#category")
    expect(category).to_have_attribute("aria-invalid", "true")
    group = what.form.locator("fieldset:has(#category)")
    expect(group).to_have_attribute("aria-describedby", re.compile(r"\bcategory-error\b"))
    expect(what.form.locator("#category-error")).not_to_be_empty()
    what.error_summary.get_by_role("link").first.click()
    expect(category).to_be_focused()

    complaint = CONFIDENTIAL
    what.choose(complaint.category, complaint.grounds)
    description = what.save_and_continue().save_and_continue()

    # Too long to keep: refused, with every word still there to shorten.
    too_long = (ACCOUNT + "\n") * (MAX_TEXT // len(ACCOUNT) + 1)
    description.description.fill(too_long)
    description = description.save_refused()
    expect(description.error_summary).to_be_focused()
    expect(description.description).to_have_attribute("aria-invalid", "true")
    expect(description.description).to_have_attribute(
        "aria-describedby", re.compile(r"\bdescription-error\b")
    )
    assert description.description.input_value() == too_long
    description.description.fill(ACCOUNT)

    identity = description.save_and_continue().save_and_continue().save_and_continue()
    identity.choose("confidential", name="", email="m.elidrissi@bzk.example", phone="070 1234567")
    identity = identity.save_refused()

    expect(identity.error_summary).to_be_focused()
    links = identity.error_summary.get_by_role("link")
    expect(links).to_have_count(1)
    expect(identity.name).to_have_attribute("aria-invalid", "true")
    expect(identity.name).to_have_attribute("aria-describedby", re.compile(r"\bname-error\b"))
    expect(identity.form.locator("#name-error")).not_to_be_empty()
    # Everything else typed is still there.
    expect(identity.option("disclosure", "confidential")).to_be_checked()
    expect(identity.email).to_have_value("m.elidrissi@bzk.example")
    expect(identity.phone).to_have_value("070 1234567")
    links.first.click()
    expect(identity.name).to_be_focused()

    identity.name.fill(complaint.name)
    route = identity.save_and_continue()
    expect(route.error_summary).to_have_count(0)
