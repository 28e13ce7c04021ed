"""An administrator hands a confidant's cases over, in a real browser, with axe-core on every
page on the way."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.browser.conftest import Axe
from tests.browser.pages import AppPage, LoginPage
from tests.conftest import Clock, app_session
from tests.factories import PASSWORD, import_demo_directory, make_account, totp_code
from tests.referral import ADMIN, CONFIDANT, file

pytestmark = pytest.mark.browser


def test_an_administrator_hands_a_confidants_cases_over(
    page: Page, axe: Axe, committed_app: Flask, clock: Clock
) -> None:
    with app_session(committed_app) as session:
        people = import_demo_directory(session, clock())
        reference = file(session, people, clock()).case.reference
        confidant_id = people[CONFIDANT].id
        secret = make_account(session, people[ADMIN], clock()).totp_secret
    assert secret is not None
    LoginPage.open(page, axe).log_in(ADMIN, PASSWORD).enter_code(totp_code(secret, clock()))

    page.goto("/beheer/overdracht")
    AppPage(page, axe)
    with page.expect_navigation():
        page.locator(f"a[href='/beheer/overdracht/{confidant_id}']").click()
    AppPage(page, axe)
    expect(page.locator(f"tr[data-case='{reference}'][data-move='move']")).to_have_count(1)
    with page.expect_navigation():
        page.locator("form:has(input[value=reassign]) button").click()
    done = AppPage(page, axe)
    expect(done.notices).to_have_count(1)
    expect(page.locator(f"tr[data-case='{reference}']")).to_have_count(1)
