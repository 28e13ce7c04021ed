"""The checks every page object runs must catch what they are there for: a suite of green
accessibility checks that can no longer fail would be worse than none."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import Axe
from tests.browser.htmlcheck import HtmlChecker
from tests.browser.pages import check_error_summary, check_reflow

pytestmark = pytest.mark.browser

SHELL = '<!doctype html><html lang="nl"><title>Proef</title><body><main><h1>Proef</h1>{}</main>'
PIXEL = "data:image/gif;base64,R0lGODlhAQABAAAAACw="


def test_axe_reports_violations(blank_page: Page, axe: Axe) -> None:
    blank_page.set_content(SHELL.format(f'<img src="{PIXEL}"><input id="naam">'))
    with pytest.raises(pytest.fail.Exception) as failure:
        axe.check(blank_page)
    message = str(failure.value)
    assert "image-alt [critical]" in message
    assert "label [critical]" in message
    assert "img" in message


def test_reflow_check_finds_a_word_too_wide_for_a_phone(blank_page: Page) -> None:
    blank_page.set_content(
        SHELL.format("<h2 style='font-size: 2rem'>Medewerkersaccountstweestapsverificatie</h2>")
    )
    with pytest.raises(AssertionError, match="at 320px wide"):
        check_reflow(blank_page)


def test_error_summary_check_wants_the_page_order(blank_page: Page) -> None:
    summary = (
        '<div class="error-summary"><a href="#b">Vul b in.</a><a href="#a">Vul a in.</a></div>'
        '<input id="a" aria-label="a"><input id="b" aria-label="b">'
    )
    blank_page.set_content(SHELL.format(summary))
    with pytest.raises(AssertionError, match="out of the page's order"):
        check_error_summary(blank_page)


VALID = SHELL.format(
    '<p id="wanneer">Op <time datetime="2026-12-07T02:31:00Z">7 december</time></p>'
)


def test_the_html_checker_reports_invalid_html(html_checker: HtmlChecker) -> None:
    """A duplicate id and a ``<time datetime>`` with microseconds (which HTML does not allow)
    are both reported; the same page without them passes, so the check is not failing on
    everything."""
    assert html_checker.errors(VALID) == []
    invalid = SHELL.format(
        '<p id="wanneer">Op <time datetime="2026-12-07T02:31:00.123456+00:00">7 december</time>'
        '</p><p id="wanneer">Nog eens</p>'
    )
    messages = [error.message for error in html_checker.errors(invalid)]
    assert any("Duplicate ID “wanneer”" in m for m in messages), messages
    assert any("datetime" in m and "fraction of a second" in m for m in messages), messages
    with pytest.raises(pytest.fail.Exception) as failure:
        html_checker.check(invalid, "the test page")
    assert "2 error(s) in the test page" in str(failure.value)
    assert "line 1: Duplicate ID" in str(failure.value)
    html_checker.check(VALID, "the valid page")
