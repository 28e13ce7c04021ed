"""Check-ins in a real browser: the handler sends the due check-in from the case page, the
complainant finds the question in the mailbox, switches check-ins off and on, answers without
text (the error summary), then reports retaliation and sees the report open again; axe-core,
reflow and the error summary checked on every page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from complaints.cases.models import Route
from tests.browser.conftest import Axe
from tests.browser.pages import AppPage, LoginPage, MailboxPage, ReceiptCodePage
from tests.casework import CONFIDANT, handler
from tests.checkins import close, file_on
from tests.conftest import Clock, app_session
from tests.factories import PASSWORD, import_demo_directory, totp_code

pytestmark = pytest.mark.browser

CLOSED = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
DUE = datetime(2026, 4, 10, 8, 0, tzinfo=UTC)


class CheckinMailbox(MailboxPage):
    """The mailbox as the answer to a check-in form that was refused."""

    path = "/opvolgen/melding/check-in"


def press(page: Page, action: str) -> None:
    with page.expect_navigation():
        page.locator(f"form[action$='{action}'] button[type=submit]").click()


def test_a_check_in_from_the_case_page_to_the_mailbox_and_back(
    page: Page, axe: Axe, committed_app: Flask, clock: Clock
) -> None:
    clock.current = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with app_session(committed_app) as session:
        filed = file_on(session, clock(), Route.CONFIDANT)
        close(session, filed.case_id, Route.CONFIDANT, CLOSED)
        staff = handler(session, import_demo_directory(session, clock()), clock())
    assert staff.totp_secret is not None
    clock.current = DUE

    LoginPage.open(page, axe).log_in(CONFIDANT, PASSWORD).enter_code(
        totp_code(staff.totp_secret, clock())
    )
    page.goto(f"/zaken/{filed.case_id}")
    AppPage(page, axe)
    expect(page.locator("#check-ins [data-checkin-months]")).to_have_count(3)
    press(page, "/check-in")
    AppPage(page, axe)
    expect(page.locator("[data-send-checkin]")).to_have_count(0)
    expect(page.locator("#berichten [data-checkin='yes']")).to_have_count(1)
    AppPage(page, axe).log_out()

    box = ReceiptCodePage.open(page, axe).open_mailbox(filed.code)
    question = page.locator("[data-checkin-question]")
    expect(question).to_have_text("Is er sinds de afhandeling iets gebeurd?")

    press(page, "/check-ins")  # no more check-ins
    box = MailboxPage(page, axe)
    expect(question).to_have_count(0)
    press(page, "/check-ins")  # on again
    box = MailboxPage(page, axe)
    expect(question).to_have_count(1)

    press(page, "/opvolgen/melding/check-in")  # nothing written: the error summary
    refused = CheckinMailbox(page, axe)
    expect(refused.error_summary).to_have_count(1)
    page.locator("#answer").fill("Ik word niet meer uitgenodigd voor het overleg.")
    page.locator("#retaliation").check()
    press(page, "/opvolgen/melding/check-in")
    box = MailboxPage(page, axe)
    expect(box.notices).to_contain_text("heropend")
    expect(page.locator("#status [data-state='submitted']")).to_have_count(1)
    expect(page.locator("[data-checkin-section]")).to_have_count(0)
