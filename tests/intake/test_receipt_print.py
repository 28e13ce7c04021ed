"""The receipt page offers printing and saving the code, without the code ever reaching an
address, and still shows it only once."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask

from complaints.directory.models import Person
from complaints.web.security import CONTENT_SECURITY_POLICY
from tests.intake.test_views import (
    _CODE,
    Answers,
    Browser,
    browser,
    fill_in,
    people,
    receipt_code,
    send,
)

__all__ = ["browser", "people"]  # the fixtures, used by name

STATIC = Path(__file__).parents[2] / "complaints" / "static"


def addresses(markup: str) -> list[str]:
    """Every address the page loads or links to (href, src, action)."""
    return re.findall(r'\b(?:href|src|action)="([^"]*)"', markup)


def code_in_addresses(markup: str, urls: list[str], code: str) -> bool:
    forms = {code, code.replace("-", ""), code.replace("-", " "), code.replace("-", "%20")}
    return any(form.lower() in url.lower() for form in forms for url in [*urls, *addresses(markup)])


def test_the_receipt_page_offers_print_and_save(
    app: Flask, browser: Browser, people: dict[str, Person]
) -> None:
    done = send(browser, fill_in(app, browser, Answers()))
    markup = done.get_data(as_text=True)
    code = receipt_code(done)
    assert "data-receipt-print" in markup
    assert "Print the receipt code" in markup
    assert 'data-receipt-save data-filename="receipt-code.txt"' in markup
    assert "Save as a text file" in markup
    assert '<link rel="stylesheet" media="print" href="/static/css/print.css">' in markup
    assert '<script src="/static/js/receipt.js" defer></script>' in markup
    # No inline script: the policy allows only scripts from this site.
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", markup) == []
    # What is printed and saved: the code, the follow-up address and the instructions.
    assert 'class="receipt-code" data-receipt-text' in markup
    assert "Follow up your report with this code at:" in markup
    assert '<span class="receipt-address">http://localhost/opvolgen' in markup
    # The save is made in the browser from the page: no address carries the code.
    assert not code_in_addresses(markup, browser.urls, code)
    assert "createObjectURL" in (STATIC / "js" / "receipt.js").read_text()
    print_rules = (STATIC / "css" / "print.css").read_text()
    assert ".receipt-page > :not(.receipt-print) { display: none" in print_rules
    for path in ("/static/css/print.css", "/static/js/receipt.js"):
        response = browser.client.get(path)
        response.close()
        assert response.status_code == 200, path


def test_control_a_code_in_an_address_is_caught() -> None:
    code = "ABCD-EFGH-JKMN-PQRS-TVWX-YZ01"
    assert code_in_addresses(f'<a href="/bewaar?code={code}">', [], code)
    assert code_in_addresses("", [f"/x/{code.replace('-', '')}"], code)
    assert not code_in_addresses('<a href="/opvolgen">', ["/melden"], code)


def test_the_code_is_shown_only_once(
    app: Flask, browser: Browser, people: dict[str, Person]
) -> None:
    review = fill_in(app, browser, Answers())
    done = send(browser, review)
    code = receipt_code(done)
    assert done.headers["Cache-Control"] == "no-store"
    # Sending again (a reload) and every page of the form: no code, the draft is gone.
    again = send(browser, review)
    assert again.status_code == 303
    assert again.headers["Location"] == "/melden"
    for url in ("/melden", "/melden/controleren", "/melden/versturen"):
        page = browser.client.get(url, follow_redirects=True)
        shown = page.get_data(as_text=True)
        assert _CODE.search(shown) is None, url
        assert code not in shown, url
