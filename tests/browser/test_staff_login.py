"""Staff log-in in a real browser: first log-in with TOTP enrolment, a wrong password, the
keyboard alone, the language switch, and axe-core on every page on the way, in both languages."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyotp
import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.browser.conftest import Axe
from tests.browser.pages import (
    AccountPage,
    ErrorPage,
    LoginPage,
    StartPage,
    TotpPage,
    has_visible_focus,
)
from tests.conftest import Clock, app_session
from tests.factories import StaffLogin, make_account, make_org, make_person

pytestmark = pytest.mark.browser

NAME = "Fatima el Amrani"
ENGLISH_START_HEADING = "Report undesirable behaviour at work"
ENGLISH_LOGIN_HEADING = "Staff log-in"


def make_staff(
    app: Flask,
    clock: Clock,
    *,
    enrolled: bool = True,
    name: str = NAME,
    email: str | None = None,
    org: str = "MIN",
) -> StaffLogin:
    with app_session(app) as session:
        unit = make_org(session, clock(), code=org).directorate
        person = make_person(session, unit, clock(), name=name)
        if email is not None:
            person.email = email
        return make_account(session, person, clock(), enrolled=enrolled)


def code_at(secret: str, when: datetime) -> str:
    return pyotp.TOTP(secret).at(when)


def wrong_code(secret: str, when: datetime) -> str:
    """A well-formed code the application must refuse (not valid in its drift window)."""
    valid = {code_at(secret, when + timedelta(seconds=30 * step)) for step in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def test_first_log_in_sets_up_the_authenticator_app(
    page: Page, axe: Axe, committed_app: Flask, clock: Clock
) -> None:
    staff = make_staff(committed_app, clock, enrolled=False)

    login = LoginPage.open(page, axe)
    enrol = login.log_in_first_time(staff.account.login, staff.password)

    expect(enrol.qr_code).to_have_count(1)
    alt = enrol.qr_code.get_attribute("alt") or ""
    assert len(alt.strip()) > 10, f"the QR code needs a real text alternative, not {alt!r}"
    assert enrol.qr_code.evaluate("img => img.complete && img.naturalWidth > 0"), "no QR image"
    secret = enrol.secret_key
    assert len(secret) >= 16, f"the key shown for typing in by hand looks wrong: {secret!r}"

    account = enrol.confirm(code_at(secret, clock()))
    assert isinstance(account, AccountPage)  # no role: no work page of their own
    expect(account.details).to_contain_text(NAME)
    expect(account.details).to_contain_text(staff.account.login)

    login = account.log_out()
    expect(login.notices).to_have_count(1)
    expect(login.notices).not_to_be_empty()
    expect(login.page.get_by_role("navigation").locator("form[action='/afmelden']")).to_have_count(
        0
    )
    # The session really has ended: the account page sends the browser back to log in.
    page.goto(AccountPage.path)
    LoginPage(page, axe)


def test_wrong_password_shows_the_error_and_lets_you_try_again(
    page: Page, axe: Axe, committed_app: Flask, clock: Clock
) -> None:
    staff = make_staff(committed_app, clock)

    login = LoginPage.open(page, axe)
    expect(login.error_summary).to_have_count(0)
    title = page.title()
    login = login.log_in_refused(staff.account.login, "not my password at all")

    expect(login.error_summary).to_be_visible()
    expect(login.error_summary).to_be_focused()  # read out at once, and where Tab starts
    # The title says something went wrong: it is the first thing a screen reader announces.
    assert page.title() != title
    assert page.title().endswith(title)
    expect(login.email).to_have_value(staff.account.login)
    expect(login.password).to_have_value("")
    expect(login.password).to_be_editable()

    totp = login.log_in(staff.account.login, staff.password)
    assert staff.totp_secret is not None
    account = totp.enter_code(code_at(staff.totp_secret, clock()))
    assert isinstance(account, AccountPage)
    expect(account.details).to_contain_text(NAME)


def test_empty_form_errors_link_to_their_fields(
    page: Page, axe: Axe, committed_app: Flask, clock: Clock
) -> None:
    login = LoginPage.open(page, axe).log_in_refused("", "")

    expect(login.error_summary).to_be_focused()
    links = login.error_summary.get_by_role("link")
    expect(links).to_have_count(2)
    expect(login.email).to_have_attribute("aria-invalid", "true")
    expect(login.password).to_have_attribute("aria-invalid", "true")
    # Each message in the summary takes you to its field (the GOV.UK / NL Design System pattern).
    links.nth(1).click()
    expect(login.password).to_be_focused()
    links.nth(0).click()
    expect(login.email).to_be_focused()


def test_log_in_with_the_keyboard_alone(
    page: Page, axe: Axe, committed_app: Flask, clock: Clock
) -> None:
    staff = make_staff(committed_app, clock)
    assert staff.totp_secret is not None
    keyboard = page.keyboard

    login = LoginPage.open(page, axe)
    keyboard.press("Tab")
    expect(login.skip_link).to_be_focused()
    expect(login.skip_link).to_be_in_viewport()
    assert has_visible_focus(login.skip_link)
    keyboard.press("Enter")
    expect(login.main).to_be_focused()
    keyboard.press("Tab")
    expect(login.email).to_be_focused()
    assert has_visible_focus(login.email)
    keyboard.type(staff.account.login)
    keyboard.press("Tab")
    expect(login.password).to_be_focused()
    keyboard.type(staff.password)
    with page.expect_navigation():
        keyboard.press("Enter")

    totp = TotpPage(page, axe)
    keyboard.press("Tab")
    expect(totp.skip_link).to_be_focused()
    keyboard.press("Enter")
    keyboard.press("Tab")
    expect(totp.code).to_be_focused()
    keyboard.type(code_at(staff.totp_secret, clock()))
    with page.expect_navigation():
        keyboard.press("Enter")

    account = AccountPage(page, axe)
    expect(account.details).to_contain_text(NAME)

    # Log out from the header, still by keyboard: it is a button in the tab order.
    log_out = page.get_by_role("navigation").locator("form[action='/afmelden'] button")
    for _ in range(10):
        keyboard.press("Tab")
        if log_out.evaluate("el => el === document.activeElement"):
            break
    expect(log_out).to_be_focused()
    assert has_visible_focus(log_out)
    with page.expect_navigation():
        keyboard.press("Enter")
    login = LoginPage(page, axe)
    expect(login.notices).to_have_count(1)


def test_language_switch(page: Page, axe: Axe, committed_app: Flask) -> None:
    start = StartPage.open(page, axe)
    assert start.language == "nl"
    expect(start.language_button).to_have_attribute("lang", "en")
    dutch_heading = start.heading.inner_text()
    assert dutch_heading != ENGLISH_START_HEADING, "the Dutch start page is not in Dutch"

    login = start.go_to_login()
    assert login.language == "nl"
    expect(login.heading).not_to_have_text(ENGLISH_LOGIN_HEADING)

    login = login.switch_language()
    assert login.language == "en"
    expect(login.heading).to_have_text(ENGLISH_LOGIN_HEADING)
    expect(login.language_button).to_have_attribute("lang", "nl")

    start = StartPage.open(page, axe)  # the choice is remembered from page to page
    assert start.language == "en"
    expect(start.heading).to_have_text(ENGLISH_START_HEADING)

    start = start.switch_language()
    assert start.language == "nl"
    expect(start.heading).to_have_text(dutch_heading)


@pytest.mark.parametrize("language", ["nl", "en"])
def test_every_page_of_the_log_in_passes_axe(
    page: Page, axe: Axe, committed_app: Flask, clock: Clock, language: str
) -> None:
    # A long name and e-mail address, as government ones are: they must wrap at 320px too.
    newcomer = make_staff(
        committed_app,
        clock,
        enrolled=False,
        name="Anne-Marie van Rijckevorsel-Grootendorst",
        email="anne-marie.van-rijckevorsel-grootendorst@minbzk.nl",
    )
    regular = make_staff(committed_app, clock, org="MIN2")
    assert regular.totp_secret is not None

    start = StartPage.open(page, axe)
    if start.language != language:
        start = start.switch_language()
    assert start.language == language

    login = start.go_to_login()
    login = login.log_in_refused("", "")
    expect(login.error_summary).to_be_visible()
    login = login.log_in_refused(newcomer.account.login, "not my password at all")
    expect(login.error_summary).to_be_visible()

    enrol = login.log_in_first_time(newcomer.account.login, newcomer.password)
    secret = enrol.secret_key
    enrol = enrol.confirm_refused(wrong_code(secret, clock()))
    expect(enrol.error_summary).to_be_visible()
    account = enrol.confirm(code_at(secret, clock()))
    assert isinstance(account, AccountPage)

    change = account.change_password()
    change = change.change_refused("", "short", "different")
    expect(change.error_summary).to_be_visible()

    login = change.log_out()
    totp = login.log_in(regular.account.login, regular.password)
    totp = totp.enter_code_refused(wrong_code(regular.totp_secret, clock()))
    expect(totp.error_summary).to_be_visible()
    totp.enter_code(code_at(regular.totp_secret, clock()))

    ErrorPage.open_missing(page, axe, "/bestaat-niet")

    visited = {path for path, _ in axe.checked}
    assert visited >= {
        "/",
        "/aanmelden",
        "/aanmelden/code-instellen",
        "/aanmelden/code",
        "/account",
        "/account/wachtwoord",
        "/bestaat-niet",
    }
    if language == "en":
        assert {lang for path, lang in axe.checked if path != "/"} == {"en"}
    else:
        assert {lang for _, lang in axe.checked} == {"nl"}
