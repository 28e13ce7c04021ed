"""Page objects for the browser tests: what a person sees and does on each page.

Each page object checks on arrival that the browser really is on its page, then checks the page:
axe-core, plus two things axe-core does not look at (reflow at 320 CSS pixels, and an error
summary whose links lead to their fields in page order). So every page a test visits is checked
for accessibility without the test asking. Elements are found by role, by the form they post to,
by field id or by a component's class: never by wording, which changes with the language.
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
        // Inside an SVG, drawing scales with the viewBox and does not flow; Chromium reports
        // end-anchored text (a chart's axis labels) as overflowing. The <svg> box is checked.
        if (el.closest(".skip-link, .visually-hidden, input, textarea, select, svg *")) continue;
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


def has_visible_focus(element: Locator) -> bool:
    """The focused element draws a focus indicator (WCAG 2.4.7)."""
    return bool(
        element.evaluate(
            "el => el === document.activeElement && getComputedStyle(el).outlineStyle !== 'none'"
        )
    )


def tab_to(page: Page, target: Locator, limit: int = 80) -> None:
    """Press Tab until ``target`` has the focus, as someone without a mouse would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"{limit} presses of Tab never reached {target} on {page.url}")


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

    def confirm(self, code: str) -> AppPage:
        """Confirm the first code; lands where ``enter_code`` does."""
        self._submit(code)
        return landed(self.page, self.axe)

    def confirm_refused(self, code: str) -> TotpEnrolPage:
        self._submit(code)
        return TotpEnrolPage(self.page, self.axe)


class TotpPage(_CodeForm):
    path = "/aanmelden/code"

    def enter_code(self, code: str) -> AppPage:
        """Log in with the code; lands on the person's work page (or a safe ``next``)."""
        self._submit(code)
        return landed(self.page, self.axe)

    def enter_code_refused(self, code: str) -> TotpPage:
        self._submit(code)
        return TotpPage(self.page, self.axe)


def landed(page: Page, axe: Axe) -> AppPage:
    """The page a log-in ends on: each role has its own work page (a case handler /zaken, an
    auditor /statistieken, ...), someone without one has the account page."""
    if urlsplit(page.url).path == AccountPage.path:
        return AccountPage(page, axe)
    return AppPage(page, axe)


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


# The report form (/melden) ---------------------------------------------------------------------


class ReportStartPage(AppPage):
    path = "/melden"

    @property
    def start_button(self) -> Locator:
        # The page offers the same button at its top and its bottom.
        return self.main.locator("form[action='/melden'] button[type=submit]").first

    def start(self) -> WhatStep:
        self._navigate(self.start_button.click)
        return WhatStep(self.page, self.axe)


class _ReportStep(AppPage):
    """A question page of the report: one form, answered and then saved to go on."""

    @property
    def form(self) -> Locator:
        return self.main.locator(f"form[action='{self.path}']")

    @property
    def progress(self) -> Locator:
        return self.main.locator(".intake-progress")

    @property
    def continue_button(self) -> Locator:
        return self.form.locator("button[name=action][value=continue]")

    def option(self, name: str, value: str) -> Locator:
        """A radio button or checkbox, by the field it answers and its value."""
        return self.form.locator(f"input[name='{name}'][value='{value}']")

    def _press(self, button: Locator) -> None:
        self._navigate(button.click)

    def _save(self) -> None:
        self._press(self.continue_button)

    def save_refused(self) -> Self:
        """Save and go on, with an answer the page refuses: the page comes back."""
        self._save()
        return type(self)(self.page, self.axe)


class WhatStep(_ReportStep):
    path = "/melden/wat"

    def choose(self, category: str, grounds: tuple[str, ...] = ()) -> None:
        self.option("category", category).check()
        for ground in grounds:
            self.option("grounds", ground).check()

    def save_and_continue(self) -> WhenWhereStep:
        self._save()
        return WhenWhereStep(self.page, self.axe)


class WhenWhereStep(_ReportStep):
    path = "/melden/wanneer-waar"

    @property
    def ongoing(self) -> Locator:
        return self.page.locator("#ongoing")

    @property
    def place(self) -> Locator:
        return self.page.locator("#place")

    def fill_in(
        self,
        *,
        date_from: str = "",
        date_to: str = "",
        ongoing: bool = False,
        in_words: str = "",
        unit: str | None = None,
        place: str = "",
    ) -> None:
        """Dates as YYYY-MM-DD (the date picker's value); ``unit`` by its name."""
        self.page.locator("#date_from").fill(date_from)
        self.page.locator("#date_to").fill(date_to)
        self.ongoing.set_checked(ongoing)
        self.page.locator("#when_text").fill(in_words)
        if unit is not None:
            self.page.locator("#unit").select_option(label=unit)
        self.place.fill(place)

    def save_and_continue(self) -> DescriptionStep:
        self._save()
        return DescriptionStep(self.page, self.axe)


class DescriptionStep(_ReportStep):
    path = "/melden/beschrijving"

    @property
    def description(self) -> Locator:
        return self.page.locator("#description")

    def save_and_continue(self) -> PeopleStep:
        self._save()
        return PeopleStep(self.page, self.axe)


class PeopleStep(_ReportStep):
    path = "/melden/betrokkenen"

    @property
    def accused(self) -> Locator:
        """The people the report is about, as added so far."""
        return self.form.locator("section[aria-labelledby=accused-title] .added-list__item")

    @property
    def accused_query(self) -> Locator:
        return self.page.locator("#accused_query")

    @property
    def add_accused_button(self) -> Locator:
        return self.form.locator("button[name=action][value=add_accused]")

    def search_accused(self, query: str) -> PeopleStep:
        self.accused_query.fill(query)
        self._press(self.form.locator(".search-row:has(#accused_query) button"))
        return PeopleStep(self.page, self.axe)

    def add_accused(self, name: str, relation: str) -> PeopleStep:
        """Pick ``name`` from the search results and add them, with how they relate to you."""
        self.form.get_by_role("radio", name=name, exact=True).check()
        self.option("accused_relation", relation).check()
        self._press(self.add_accused_button)
        return PeopleStep(self.page, self.axe)

    def save_and_continue(self) -> WishesStep:
        self._save()
        return WishesStep(self.page, self.axe)


class WishesStep(_ReportStep):
    path = "/melden/wensen"

    @property
    def desired_outcome(self) -> Locator:
        return self.page.locator("#desired_outcome")

    def save_and_continue(self) -> IdentityStep:
        self._save()
        return IdentityStep(self.page, self.axe)


class IdentityStep(_ReportStep):
    path = "/melden/wie"

    @property
    def name(self) -> Locator:
        return self.page.locator("#name")

    @property
    def email(self) -> Locator:
        return self.page.locator("#email")

    @property
    def phone(self) -> Locator:
        return self.page.locator("#phone")

    def choose(self, disclosure: str, name: str = "", email: str = "", phone: str = "") -> None:
        self.option("disclosure", disclosure).check()
        self.name.fill(name)
        self.email.fill(email)
        self.phone.fill(phone)

    def choose_manager(self, query: str, name: str) -> IdentityStep:
        """Search the directory for your manager and pick them (the rest of the page is kept)."""
        self.page.locator("#manager_query").fill(query)
        self._press(self.form.locator(".search-row:has(#manager_query) button"))
        found = IdentityStep(self.page, self.axe)
        found.form.get_by_role("radio", name=name, exact=True).check()
        return found

    def save_and_continue(self) -> RouteStep:
        self._save()
        return RouteStep(self.page, self.axe)


class RouteStep(_ReportStep):
    path = "/melden/route"

    @property
    def route(self) -> Locator:
        """The first route offered: it carries the field's id, for the error summary."""
        return self.page.locator("#route")

    @property
    def identity_link(self) -> Locator:
        """After a refusal: the way back to the page where you say who you are."""
        return self.main.locator(f".notice a[href='{IdentityStep.path}']")

    def choose(self, route: str) -> None:
        self.option("route", route).check()

    def save_and_continue(self) -> ReviewPage:
        self._save()
        return ReviewPage(self.page, self.axe)


class ReviewPage(AppPage):
    path = "/melden/controleren"

    @property
    def answers(self) -> Locator:
        return self.main.locator("dl.review-list")

    @property
    def recipients(self) -> Locator:
        """Who will receive the report: a name and the capacity in which they receive it."""
        return self.main.locator(".recipient-list__item")

    @property
    def send_button(self) -> Locator:
        return self.main.locator("form[action='/melden/versturen'] button[type=submit]")

    def send(self) -> ReportSentPage:
        self._navigate(self.send_button.click)
        return ReportSentPage(self.page, self.axe)


class ReportSentPage(AppPage):
    """The answer to sending the report: the one place the receipt code is ever shown."""

    path = "/melden/versturen"

    @property
    def receipt(self) -> Locator:
        return self.main.locator(".receipt-code")

    @property
    def receipt_code(self) -> str:
        """The code as shown, in its groups of four, joined the way the code is written."""
        return "-".join(self.receipt.locator(".receipt-code__group").all_inner_texts())

    @property
    def recipients(self) -> Locator:
        return self.main.locator(".recipient-list__item")

    def follow_up(self) -> ReceiptCodePage:
        self._navigate(self.main.locator(f"a[href='{ReceiptCodePage.path}']").click)
        return ReceiptCodePage(self.page, self.axe)


# Following a report up (/opvolgen) ------------------------------------------------------------


class ReceiptCodePage(AppPage):
    path = "/opvolgen"

    @property
    def code(self) -> Locator:
        return self.page.locator("#code")

    def _submit(self, code: str) -> None:
        self.code.fill(code)
        self._navigate(self.main.locator("form button[type=submit]").click)

    def open_mailbox(self, code: str) -> MailboxPage:
        self._submit(code)
        return MailboxPage(self.page, self.axe)

    def open_refused(self, code: str) -> ReceiptCodePage:
        self._submit(code)
        return ReceiptCodePage(self.page, self.axe)


class MailboxPage(AppPage):
    path = "/opvolgen/melding"

    @property
    def status(self) -> Locator:
        """Where the report stands, in words."""
        return self.main.locator("#status .status-box")

    @property
    def reference(self) -> str:
        return self.main.locator("#status .reference").inner_text().strip()

    @property
    def messages(self) -> Locator:
        return self.main.locator("#berichten .thread > li")

    @property
    def message(self) -> Locator:
        return self.page.locator("#message")

    def _send(self, text: str) -> None:
        self.message.fill(text)
        self._navigate(
            self.main.locator("form[action='/opvolgen/melding/bericht'] button[type=submit]").click
        )

    def send_message(self, text: str) -> MailboxPage:
        self._send(text)
        return MailboxPage(self.page, self.axe)

    def send_message_refused(self, text: str) -> MessageRefusedPage:
        self._send(text)
        return MessageRefusedPage(self.page, self.axe)

    def reload(self) -> MailboxPage:
        self.page.reload()
        return MailboxPage(self.page, self.axe)


class MessageRefusedPage(MailboxPage):
    """The mailbox again, as the answer to a message that could not be sent."""

    path = "/opvolgen/melding/bericht"

    def switch_language_to_mailbox(self) -> MailboxPage:
        """The language switch: this page answered a form, so the mailbox itself comes back."""
        self._navigate(self.language_button.click)
        return MailboxPage(self.page, self.axe)


# A handler's case (/zaken/<id>) -----------------------------------------------------------------


class HandlerCasePage(AppPage):
    """/zaken/<id>: where the case stands, its deadlines, the steps the handler can take now and
    the history. Steps are found by their name in the workflow, fields by their ids
    (``<step>-<field>``)."""

    @classmethod
    def visit(cls, page: Page, axe: Axe, case_id: object) -> HandlerCasePage:
        page.goto(f"/zaken/{case_id}")
        return cls(page, axe)

    @property
    def state(self) -> Locator:
        return self.main.locator("#status dd[data-state]")

    def deadline_status(self, name: str) -> Locator:
        return self.main.locator(f"li[data-deadline='{name}'] .deadline__status")

    @property
    def steps(self) -> Locator:
        """The steps on offer, each a form named by its ``data-step``."""
        return self.main.locator("#stappen form[data-step]")

    @property
    def history(self) -> Locator:
        return self.main.locator("#verloop li.timeline__item")

    def take_step(self, name: str, **fields: str) -> HandlerCasePage:
        """Fill in the step's text fields and take it; the case page comes back."""
        form = self.main.locator(f"form[data-step='{name}']")
        for field, value in fields.items():
            form.locator(f"#{name}-{field}").fill(value)
        self._navigate(form.locator("button[type=submit]").click)
        return HandlerCasePage(self.page, self.axe)
