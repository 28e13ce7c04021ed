"""The counsellor's search and print view in a real browser: a word typed on the inbox finds
the case, and its print view prints the case only (no way back, no button)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import Page, Request, expect

from complaints.cases.models import Route
from tests.browser.conftest import Axe
from tests.browser.pages import AppPage, LoginPage
from tests.browser.test_casework import CasePage, InboxPage
from tests.casework import CONFIDANT, file_case, handler
from tests.conftest import Clock, app_session
from tests.factories import PASSWORD, import_demo_directory, totp_code

pytestmark = pytest.mark.browser

WORD = "Paraplubak"


def test_a_word_typed_on_the_inbox_finds_the_case_and_the_case_prints_alone(
    page: Page, axe: Axe, committed_app: Flask, clock: Clock
) -> None:
    with app_session(committed_app) as session:
        people = import_demo_directory(session, clock())
        _id, mine, _code = file_case(
            session, people, clock(), description=f"Het gebeurde bij de {WORD.lower()}."
        )
        _id, other, _code = file_case(session, people, clock())
        # The same word in a case of the integrity coordinator's: never found by the confidant.
        _id, theirs, _code = file_case(
            session, people, clock(), route=Route.INTEGRITY, description=WORD
        )
        staff = handler(session, people, clock())
    assert staff.totp_secret is not None
    LoginPage.open(page, axe).log_in(CONFIDANT, PASSWORD).enter_code(
        totp_code(staff.totp_secret, clock())
    )
    inbox = InboxPage.open(page, axe)
    expect(inbox.rows()).to_have_count(2)

    addresses: list[str] = []

    def seen(request: Request) -> None:
        addresses.append(request.url)

    page.on("request", seen)
    page.locator("#zoek-text").fill(WORD)
    with page.expect_navigation():
        page.locator("form.case-search button[type=submit]").click()
    found = AppPage(page, axe)
    assert urlsplit(page.url).path == "/zaken/zoeken"
    expect(found.main.locator("tr[data-case]")).to_have_count(1)
    expect(found.main.locator(f"tr[data-case='{mine}']")).to_have_count(1)
    assert other not in page.content()
    assert theirs not in page.content()
    expect(page.locator("#zoek-text")).to_have_value(WORD)  # what was typed stays
    assert not [url for url in addresses if WORD.casefold() in url.casefold()]

    with page.expect_navigation():
        found.main.locator(f"tr[data-case='{mine}'] a").click()
    case = CasePage(page, axe)
    with page.expect_navigation():
        case.main.locator("a[data-print-view]").click()
    printable = AppPage(page, axe)
    assert urlsplit(page.url).path.endswith("/afdrukken")
    expect(printable.heading).to_contain_text(mine)
    expect(page.locator("[data-field='description']")).to_have_text(
        f"Het gebeurde bij de {WORD.lower()}."
    )
    expect(page.get_by_role("navigation")).to_have_count(0)
    button = page.locator("[data-print-button] button")
    expect(button).to_be_visible()  # shown by print.js

    page.emulate_media(media="print")
    expect(page.locator("[data-print-actions]")).to_be_hidden()
    expect(button).to_be_hidden()
    expect(page.locator("[data-field='description']")).to_be_visible()
    expect(page.locator("#berichten")).to_be_visible()
    # Control: on screen the same page shows the way back and the button.
    page.emulate_media(media="screen")
    expect(page.locator("[data-print-actions]")).to_be_visible()
    expect(button).to_be_visible()
