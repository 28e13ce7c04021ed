"""The receipt page in a real browser: the code saved as a text file made in the browser,
and printed without navigation or the list of recipients."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.browser.conftest import Axe
from tests.browser.pages import ReportStartPage
from tests.browser.test_intake import ANONYMOUS, directory, file
from tests.conftest import Clock

pytestmark = pytest.mark.browser
__all__ = ["directory"]  # the fixture, used by name


def test_the_receipt_code_can_be_saved_and_printed(
    page: Page, axe: Axe, committed_app: Flask, clock: Clock, directory: None
) -> None:
    done, code = file(committed_app, ReportStartPage.open(page, axe), ANONYMOUS)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    save = done.main.locator("[data-receipt-save]")
    expect(save).to_be_visible()
    with page.expect_download() as info:
        save.click()
    download = info.value
    assert download.suggested_filename == "ontvangstcode.txt"
    saved = Path(download.path()).read_text(encoding="utf-8")
    assert code.replace("-", " ") in saved
    assert "/opvolgen" in saved
    # Nothing went to the server with the code: the file was made in the page.
    assert all(code not in url and code.replace("-", "") not in url for url in requests)
    assert not [url for url in requests if url.startswith("http")]

    printed = done.main.locator("[data-receipt-print]")
    expect(printed).to_be_visible()
    page.emulate_media(media="print")
    expect(done.receipt).to_be_visible()
    expect(page.locator(".site-header")).to_be_hidden()
    expect(done.recipients.first).to_be_hidden()
    expect(printed).to_be_hidden()
    expect(page.locator(".receipt-address")).to_be_visible()
    # Control: on screen the same page shows what printing leaves out.
    page.emulate_media(media="screen")
    expect(page.locator(".site-header")).to_be_visible()
    expect(done.recipients.first).to_be_visible()
