"""The auditor reads the statistics in a real browser: axe-core and reflow on every page, the
charts drawn under the Content-Security-Policy (a blocked style would be a console error)."""

from __future__ import annotations

from typing import ClassVar

import pytest
from flask import Flask
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Axe
from tests.browser.pages import (
    AppPage,
    LoginPage,
)
from tests.conftest import Clock, app_session
from tests.factories import PASSWORD, import_demo_directory, make_account, totp_code
from tests.stats.test_views import SEED, seed_events

pytestmark = pytest.mark.browser

AUDITOR = "b.koster@fin.example"


class StatisticsPage(AppPage):
    path: ClassVar[str | None] = "/statistieken"

    def row(self, key: str) -> Locator:
        return self.page.locator(f"[data-stats-table] tr[data-row='{key}']")

    def ask(self, **choices: str) -> StatisticsPage:
        """Choose in the form's lists (by field id) and show the table."""
        for field, value in choices.items():
            self.page.locator(f"#{field}").select_option(value)
        self._navigate(lambda: self.page.locator("form[data-stats-form] button").click())
        return StatisticsPage(self.page, self.axe)


def test_the_auditor_reads_a_protected_table_and_its_charts(
    page: Page, axe: Axe, committed_app: Flask, clock: Clock
) -> None:
    with app_session(committed_app) as session:
        people = import_demo_directory(session, clock())
        seed_events(session, SEED)
        secret = make_account(session, people[AUDITOR], clock()).totp_secret
    assert secret is not None
    LoginPage.open(page, axe).log_in(AUDITOR, PASSWORD).enter_code(totp_code(secret, clock()))
    home = AppPage(page, axe)
    with page.expect_navigation():
        home.page.get_by_role("navigation").locator("a[href='/statistieken']").click()
    stats = StatisticsPage(page, axe)

    expect(stats.row("bullying").locator("[data-suppressed]")).to_have_count(1)
    expect(page.locator("figure svg")).to_have_count(2)  # no deadlines yet: no third chart
    expect(page.locator("figure svg[aria-hidden='true']")).to_have_count(2)

    two_way = stats.ask(jaar="2025", rijen="category", kolommen="route")
    expect(two_way.row("sexual_harassment").locator("td")).to_have_count(3)  # 2 routes + total
    expect(page.locator("[data-stats-csv]")).to_have_attribute(
        "href", "/statistieken/tabel.csv?jaar=2025&soort=submitted&rijen=category&kolommen=route"
    )

    refused = two_way.ask(kolommen="category")
    expect(refused.error_summary).to_be_visible()
    expect(page.locator("[data-stats-table]")).to_have_count(0)


class ReportsPage(AppPage):
    path: ClassVar[str | None] = "/statistieken/jaarverslag"


class ApiKeysPage(AppPage):
    path: ClassVar[str | None] = "/statistieken/api-sleutels"


def test_the_auditor_prints_a_report_and_makes_an_api_key(
    page: Page, axe: Axe, committed_app: Flask, clock: Clock
) -> None:
    with app_session(committed_app) as session:
        people = import_demo_directory(session, clock())
        seed_events(session, SEED)
        secret = make_account(session, people[AUDITOR], clock()).totp_secret
    assert secret is not None
    LoginPage.open(page, axe).log_in(AUDITOR, PASSWORD).enter_code(totp_code(secret, clock()))
    stats = StatisticsPage.open(page, axe)
    with page.expect_navigation():
        stats.page.get_by_role("link", name="Jaarverslagen").click()
    reports = ReportsPage(page, axe)
    with page.expect_navigation():
        reports.page.locator("a[href='/statistieken/jaarverslag/2025/vertrouwenspersonen']").click()
    report = AppPage(page, axe)  # axe and reflow on the report itself
    expect(report.page.locator("[data-suppression-note]")).to_be_visible()
    expect(report.page.locator("a[href$='/vertrouwenspersonen.pdf']")).to_have_count(1)

    keys = ApiKeysPage.open(page, axe)
    keys.page.get_by_label("Naam van de sleutel").fill("Jaarcijfers-script")
    with page.expect_navigation():
        keys.page.get_by_role("button", name="Sleutel maken").click()
    made = ApiKeysPage(page, axe)
    expect(made.page.locator("code")).to_contain_text("kst_")
