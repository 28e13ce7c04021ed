"""The handlers' workspace in a real browser: from the menu to the inbox, a case, a reply,
a note, a step and a download; axe-core, reflow and the error summary checked on every page."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask
from playwright.sync_api import Locator, Page, expect

from complaints.cases.services import NewAttachment
from tests.browser.conftest import Axe
from tests.browser.pages import AppPage, LoginPage
from tests.casework import CONFIDANT, file_case, handler
from tests.conftest import Clock, app_session
from tests.factories import PASSWORD, import_demo_directory, totp_code

pytestmark = pytest.mark.browser


class InboxPage(AppPage):
    path = "/zaken"

    def rows(self) -> Locator:
        return self.main.locator("tbody tr")

    def filter_overdue(self) -> InboxPage:
        self.page.locator("#verlopen").check()
        self._navigate(self.main.locator("form.case-filters button[type=submit]").click)
        return InboxPage(self.page, self.axe)

    def open_case(self, reference: str) -> CasePage:
        self._navigate(self.main.locator(f"tr[data-case='{reference}'] a").click)
        return CasePage(self.page, self.axe)


class CasePage(AppPage):
    """/zaken/<id>; forms are found by the address they post to."""

    def submit(self, action: str) -> CasePage:
        button = self.page.locator(f"form[action$='{action}'] button[type=submit]")
        self._navigate(button.click)
        return CasePage(self.page, self.axe)


def test_a_confidant_works_a_case_from_the_inbox(
    page: Page, axe: Axe, committed_app: Flask, clock: Clock
) -> None:
    with app_session(committed_app) as session:
        people = import_demo_directory(session, clock())
        case_id, reference, _code = file_case(
            session,
            people,
            clock(),
            description="Hij zei: <b>ga terug</b> naar je eigen land.",
            attachments=(NewAttachment("bewijs.txt", "text/plain", b"Bewijsstuk"),),
        )
        staff = handler(session, people, clock())
    assert staff.totp_secret is not None
    LoginPage.open(page, axe).log_in(CONFIDANT, PASSWORD).enter_code(
        totp_code(staff.totp_secret, clock())
    )
    # The menu leads a handler to the cases.
    with page.expect_navigation():
        page.get_by_role("navigation").locator("a[href='/zaken']").click()
    inbox = InboxPage(page, axe)
    expect(inbox.rows()).to_have_count(1)
    empty = inbox.filter_overdue()
    expect(empty.rows()).to_have_count(0)
    page.goto("/zaken")
    case = InboxPage(page, axe).open_case(reference)
    expect(case.heading).to_contain_text(reference)
    expect(page.locator("[data-field='description']")).to_have_text(
        "Hij zei: <b>ga terug</b> naar je eigen land."
    )

    # An empty reply: the error summary leads to the field; then a real one.
    case = case.submit("/bericht")
    expect(case.error_summary).to_have_count(1)
    page.locator("#message").fill("Dank voor uw melding. Kunnen we morgen bellen?")
    case = case.submit("/bericht")
    expect(case.notices).to_have_count(1)
    expect(page.locator("li[data-author='handler']")).to_have_count(1)

    page.locator("#note").fill("Eerste indruk: ernstig.")
    case = case.submit("/notitie")
    expect(page.locator("li.note")).to_have_count(1)

    case = case.submit(f"/zaken/{case_id}/stap/acknowledge")
    expect(page.locator("[data-state='acknowledged']")).to_have_count(1)
    expect(page.locator("form[data-step='support']")).to_have_count(1)

    with page.expect_download() as download:
        page.locator("#bijlagen a[download]").click()
    assert download.value.suggested_filename == f"{reference}-1.txt"

    case = case.switch_language()
    assert case.language in {"en", "nl"}


def test_an_unknown_case_is_the_not_found_page(
    page: Page, axe: Axe, committed_app: Flask, clock: Clock
) -> None:
    with app_session(committed_app) as session:
        people = import_demo_directory(session, clock())
        staff = handler(session, people, clock())
    assert staff.totp_secret is not None
    LoginPage.open(page, axe).log_in(CONFIDANT, PASSWORD).enter_code(
        totp_code(staff.totp_secret, clock())
    )
    response = page.goto(f"/zaken/{uuid.uuid4()}")
    assert response is not None
    assert response.status == 404
    AppPage(page, axe)
