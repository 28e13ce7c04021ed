"""The privacy officer reads the retention plan, the ledger and the processing register, and
places a legal hold, in a real browser with axe-core on every page on the way."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

import pytest
from flask import Flask
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Axe
from tests.browser.pages import AppPage, LoginPage
from tests.conftest import Clock, app_session
from tests.factories import PASSWORD, import_demo_directory, make_account, totp_code
from tests.retention.conftest import SECRET_WORDS, at, make_finished_case

pytestmark = pytest.mark.browser

OFFICER = "h.wolters@bzk.example"
CONFIDANT = "i.hoekstra@bzk.example"


class PlanPage(AppPage):
    path: ClassVar[str | None] = "/privacy"

    def row(self, reference: str) -> Locator:
        return self.page.locator(f"tr[data-reference='{reference}']")

    def to(self, path: str) -> AppPage:
        """Follow the privacy menu (by address: the texts depend on the language)."""
        self._navigate(lambda: self.page.locator(f"nav a[href='{path}']").click())
        return AppPage(self.page, self.axe)


class HoldsPage(AppPage):
    path: ClassVar[str | None] = "/privacy/bewaarplicht"

    def place(self, reference: str, reason: str, until: str = "") -> HoldsPage:
        self.page.locator("#reference").fill(reference)
        self.page.locator("#reason").fill(reason)
        self.page.locator("#until").fill(until)
        self._navigate(lambda: self.page.locator("form:has(#reference) button").click())
        return HoldsPage(self.page, self.axe)


def test_the_privacy_officer_reads_the_plan_and_places_a_hold(
    page: Page, axe: Axe, committed_app: Flask, clock: Clock
) -> None:
    with app_session(committed_app) as session:
        people = import_demo_directory(session, clock())
        made = make_finished_case(
            session,
            handler=people[CONFIDANT],
            filed_at=at(date(2024, 2, 1)),
            closed_at=at(date(2024, 3, 20)),
        )
        secret = make_account(session, people[OFFICER], clock()).totp_secret
    assert secret is not None
    LoginPage.open(page, axe).log_in(OFFICER, PASSWORD).enter_code(totp_code(secret, clock()))

    plan = PlanPage.open(page, axe)
    expect(plan.row(made.reference)).to_have_count(1)
    body = page.content()
    for word in SECRET_WORDS:
        assert word not in body

    ledger = plan.to("/privacy/logboek")
    expect(ledger.page.locator("[data-ledger-empty]")).to_have_count(1)
    plan.to("/privacy/register")
    expect(page.locator("dl[data-rule='confidant-closed']")).to_have_count(1)

    holds = HoldsPage.open(page, axe)
    refused = holds.place("2026-XXXX-XXXX", "Rechtszaak")
    expect(refused.error_summary).to_be_visible()
    placed = refused.place(made.reference, "Verzoek juridische zaken, rechtszaak", "31-12-2027")
    expect(placed.notices).to_have_count(1)
    expect(page.locator(f"tr[data-reference='{made.reference}']")).to_have_count(1)

    plan = PlanPage.open(page, axe)
    expect(plan.row(made.reference).locator("strong")).to_have_count(1)


def test_a_handler_extends_a_finished_case_from_its_page(
    page: Page, axe: Axe, committed_app: Flask, clock: Clock
) -> None:
    with app_session(committed_app) as session:
        people = import_demo_directory(session, clock())
        made = make_finished_case(
            session,
            handler=people[CONFIDANT],
            filed_at=at(date(2024, 2, 1)),
            closed_at=at(date(2024, 3, 20)),
        )
        secret = make_account(session, people[CONFIDANT], clock()).totp_secret
    assert secret is not None
    LoginPage.open(page, axe).log_in(CONFIDANT, PASSWORD).enter_code(totp_code(secret, clock()))
    page.goto(f"/zaken/{made.id}")
    AppPage(page, axe)
    expect(page.locator("[data-retention] tr[data-due='2026-03-20']")).to_have_count(1)
    reason = page.locator("#retention-reason")
    with page.expect_navigation():
        page.locator("[data-retention] form button").click()
    refused = AppPage(page, axe)
    expect(refused.error_summary).to_be_visible()
    reason.fill("Nieuwe melding over dezelfde afdeling")
    with page.expect_navigation():
        page.locator("[data-retention] form button").click()
    done = AppPage(page, axe)
    expect(done.notices).to_have_count(1)
    expect(page.locator("[data-retention] tr[data-due='2027-03-20']")).to_have_count(1)
    expect(page.locator("[data-retention-extended]")).to_have_count(1)
