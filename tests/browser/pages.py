"""Page objects for the browser tests: what a person sees and does on each page.

Each page object checks on arrival that the browser really is on its page, then checks the page:
axe-core, plus two things axe-core does not look at (reflow at 320 CSS pixels, and an error
summary whose links lead to their fields in page order). So every page a test visits is checked
for accessibility without the test asking. Elements are found by role, by the form they post to,
or by field id: never by wording, which changes with the language.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, Self
from urllib.parse import urlsplit

from playwright.sync_api import Locator, Page

if TYPE_CHECKING:
    from tests.browser.conftest import Axe

# WCAG 1.4.10 Reflow: at 320 CSS pixels wide (1280 at 400 % zoom) nothing may need sideways
# scrolling or stick out of its box. Form fields scroll their own text; that is fine.
REFLOW_WIDTH = 320
FIND_OVERFLOW = r"""() => {
    const root = document.documentElement;
    const found = [];
    if (root.scrollWidth > root.clientWidth) {
        found.push(`the page scrolls sideways (${root.scrollWidth}px in ${root.clientWidth}px)`);
    }
    const boxes = [];
    for (const el of document.body.querySelectorAll("*")) {
        if (el.closest(".skip-link, .visually-hidden, input, textarea, select")) continue;
        const style = getComputedStyle(el);
        if (style.display.startsWith("inline") || style.display === "none") continue;
        if (style.overflowX === "auto" || style.overflowX === "scroll") continue;
        if (el.scrollWidth > el.clientWidth + 1) boxes.push(el);
    }
    for (const el of boxes.filter(el => !boxes.some(other => other !== el && el.contains(other)))) {
        const text = el.textContent.trim().replace(/\s+/g, " ").slice(0, 60);
        found.push(`<${el.localName} class="${el.className}"> is ${el.scrollWidth}px wide ` +
                   `in ${el.clientWidth}px: "${text}"`);
    }
    return found;
}"""
# An error summary's links must lead to fields on the page, in the order the page shows them.
CHECK_ERROR_SUMMARY = """() => {
    const found = [];
    let previous = null;
    for (const link of document.querySelectorAll(".error-summary a")) {
        const href = link.getAttribute("href") || "";
        const target = href.startsWith("#") ? document.getElementById(href.slice(1)) : null;
        if (target === null) {
            found.push(`"${link.textContent.trim()}" leads to no field (${href})`);
            continue;
        }
        const follows = previous === null ||
            previous.compareDocumentPosition(target) & Node.DOCUMENT_POSITION_FOLLOWING;
        if (!follows) {
            found.push(`"${link.textContent.trim()}" (${href}) is out of the page's order`);
        }
        previous = target;
    }
    return found;
}"""


def check_error_summary(page: Page) -> None:
    problems = page.evaluate(CHECK_ERROR_SUMMARY)
    assert not problems, "error summary on {}:\n{}".format(page.url, "\n".join(problems))


def check_reflow(page: Page) -> None:
    viewport = page.viewport_size
    assert viewport is not None
    page.set_viewport_size({"width": REFLOW_WIDTH, "height": viewport["height"]})
    try:
        problems = page.evaluate(FIND_OVERFLOW)
    finally:
        page.set_viewport_size(viewport)
    assert not problems, "at {}px wide, {}:\n{}".format(REFLOW_WIDTH, page.url, "\n".join(problems))


class AppPage:
    """Any page of the application: the header, the notices, the main heading."""

    path: ClassVar[str | None] = None

    def __init__(self, page: Page, axe: Axe) -> None:
        self.page = page
        self.axe = axe
        if self.path is not None:
            actual = urlsplit(page.url).path
            assert actual == self.path, f"expected {type(self).__name__} ({self.path}), on {actual}"
        axe.check(page)
        check_error_summary(page)
        check_reflow(page)

    @classmethod
    def open(cls, page: Page, axe: Axe) -> Self:
        assert cls.path is not None
        page.goto(cls.path)
        return cls(page, axe)

    def _navigate(self, action: Callable[[], None]) -> None:
        """Do something that loads a new page, and wait until it has loaded."""
        with self.page.expect_navigation():
            action()

    @property
    def language(self) -> str | None:
        return self.page.locator("html").get_attribute("lang")

    @property
    def heading(self) -> Locator:
        return self.page.get_by_role("heading", level=1)

    @property
    def main(self) -> Locator:
        return self.page.get_by_role("main")

    @property
    def notices(self) -> Locator:
        """Flashed messages (role=status): confirmations and explanations after a redirect."""
        return self.page.get_by_role("status")

    @property
    def error_summary(self) -> Locator:
        return self.page.get_by_role("alert")

    @property
    def skip_link(self) -> Locator:
        return self.page.locator("a.skip-link")

    @property
    def language_button(self) -> Locator:
        return self.page.get_by_role("navigation").locator("form[action='/taal'] button")

    def switch_language(self) -> Self:
        """Press the language button in the header; the same page comes back in the other one."""
        self._navigate(self.language_button.click)
        return type(self)(self.page, self.axe)

    def log_out(self) -> LoginPage:
        button = self.page.get_by_role("navigation").locator("form[action='/afmelden'] button")
        self._navigate(button.click)
        return LoginPage(self.page, self.axe)


class StartPage(AppPage):
    path = "/"

    def go_to_login(self) -> LoginPage:
        link = self.page.get_by_role("navigation").locator("a[href='/aanmelden']")
        self._navigate(link.click)
        return LoginPage(self.page, self.axe)


class ErrorPage(AppPage):
    """An error page, at whatever address caused it."""

    @classmethod
    def open_missing(cls, page: Page, axe: Axe, path: str) -> ErrorPage:
        response = page.goto(path)
        assert response is not None
        assert response.status == 404, f"{path} answered {response.status}, not 404"
        return cls(page, axe)


class LoginPage(AppPage):
    path = "/aanmelden"

    @property
    def email(self) -> Locator:
        return self.page.locator("#email")

    @property
    def password(self) -> Locator:
        return self.page.locator("#password")

    def _submit(self, email: str, password: str) -> None:
        self.email.fill(email)
        self.password.fill(password)
        self._navigate(self.main.locator("form button[type=submit]").click)

    def log_in(self, email: str, password: str) -> TotpPage:
        """Log in with an account that has two-step verification set up."""
        self._submit(email, password)
        return TotpPage(self.page, self.axe)

    def log_in_first_time(self, email: str, password: str) -> TotpEnrolPage:
        """Log in with an account that has no authenticator app yet."""
        self._submit(email, password)
        return TotpEnrolPage(self.page, self.axe)

    def log_in_refused(self, email: str, password: str) -> LoginPage:
        self._submit(email, password)
        return LoginPage(self.page, self.axe)


class _CodeForm(AppPage):
    @property
    def code(self) -> Locator:
        return self.page.locator("#code")

    def _submit(self, code: str) -> None:
        self.code.fill(code)
        self._navigate(self.main.locator("form button[type=submit]").click)


class TotpEnrolPage(_CodeForm):
    path = "/aanmelden/code-instellen"

    @property
    def qr_code(self) -> Locator:
        return self.main.get_by_role("img")

    @property
    def secret_key(self) -> str:
        """The key as shown for typing in by hand, without the spaces that group it."""
        return "".join(self.page.locator("#totp-key").inner_text().split())

    def confirm(self, code: str) -> AccountPage:
        self._submit(code)
        return AccountPage(self.page, self.axe)

    def confirm_refused(self, code: str) -> TotpEnrolPage:
        self._submit(code)
        return TotpEnrolPage(self.page, self.axe)


class TotpPage(_CodeForm):
    path = "/aanmelden/code"

    def enter_code(self, code: str) -> AccountPage:
        self._submit(code)
        return AccountPage(self.page, self.axe)

    def enter_code_refused(self, code: str) -> TotpPage:
        self._submit(code)
        return TotpPage(self.page, self.axe)


class AccountPage(AppPage):
    path = "/account"

    @property
    def details(self) -> Locator:
        """Name, log-in and roles."""
        return self.main.locator("dl")

    def change_password(self) -> ChangePasswordPage:
        self._navigate(self.main.locator("a[href='/account/wachtwoord']").click)
        return ChangePasswordPage(self.page, self.axe)


class ChangePasswordPage(AppPage):
    path = "/account/wachtwoord"

    def _submit(self, current: str, new: str, repeat: str) -> None:
        self.page.locator("#current").fill(current)
        self.page.locator("#password").fill(new)
        self.page.locator("#confirm").fill(repeat)
        self._navigate(self.main.locator("form button[type=submit]").click)

    def change(self, current: str, new: str) -> AccountPage:
        self._submit(current, new, new)
        return AccountPage(self.page, self.axe)

    def change_refused(self, current: str, new: str, repeat: str) -> ChangePasswordPage:
        self._submit(current, new, repeat)
        return ChangePasswordPage(self.page, self.axe)
