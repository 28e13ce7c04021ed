"""Browser-test fixtures: the application on a live loopback server, one Chromium per run,
a fresh browser context per test, axe-core for the accessibility checks and one Nu Html Checker
per run (``htmlcheck``) for valid HTML.

A missing Chromium, axe-core, Java or vnu.jar fails the run with instructions: accessibility is
a legal requirement here, so a browser suite that quietly skips would prove nothing.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    Response,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from tests.browser.htmlcheck import HtmlChecker, running_checker

ROOT = Path(__file__).resolve().parents[2]
AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = Path(os.environ.get("COMPLAINTS_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium phones home; the test network is loopback only.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# WCAG 2.1 level AA is what Dutch government sites must meet (Besluit digitale toegankelijkheid).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
TIMEOUT_MS = 5_000


# The application on a real server -------------------------------------------------------------


class QuietHandler(WSGIRequestHandler):
    """One connection per request, so no keep-alive thread outlives the test; no access log
    (the application writes its own request log)."""

    protocol_version = "HTTP/1.0"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@dataclass
class LiveServer:
    url: str
    server: BaseWSGIServer
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        # Request threads are not daemons, so this waits for any request still being answered
        # before the database underneath is disposed of.
        self.server.server_close()
        assert not self.thread.is_alive(), "the live server did not stop"


@pytest.fixture
def live_server(committed_app: Flask) -> Iterator[LiveServer]:
    """``committed_app`` served on 127.0.0.1, on a free port, from a background thread."""
    server = make_server("127.0.0.1", 0, committed_app, threaded=True, request_handler=QuietHandler)
    server.daemon_threads = False  # type: ignore[attr-defined]
    # A short poll interval: shutdown() waits for the serving loop to notice, once per test.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="live-server", daemon=True
    )
    thread.start()
    live = LiveServer(f"http://127.0.0.1:{server.port}", server, thread)
    try:
        yield live
    finally:
        live.stop()


# Chromium -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}. Install it with `apt-get install chromium` "
            "(or `make browser-deps`), or point COMPLAINTS_TEST_CHROMIUM at a Chromium binary.",
            pytrace=False,
        )
    playwright: Playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    except PlaywrightError as exc:
        playwright.stop()
        pytest.fail(f"Chromium at {CHROMIUM} did not start: {exc}", pytrace=False)
    yield chromium
    chromium.close()
    playwright.stop()


@dataclass
class PageProblems:
    """What a page did that no page of ours should: reach beyond the server, log an error,
    or answer with a server error."""

    origin: str
    items: list[str] = field(default_factory=list)

    def _elsewhere(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme not in {"data", "about"} and f"{parts.scheme}://{parts.netloc}" != (
            self.origin
        )

    def on_request(self, request: Request) -> None:
        # Noted rather than intercepted: routing every request through Playwright costs more
        # than the whole check, and the pages' CSP already keeps sub-resources on the server.
        if self._elsewhere(request.url):
            self.items.append(f"request outside the live server: {request.url}")

    def on_console(self, message: ConsoleMessage) -> None:
        # Chromium also logs each HTTP error status; on_response judges those (a 404 page may be
        # the point of a test, a missing stylesheet never is).
        if message.type == "error" and "the server responded with a status of" not in message.text:
            self.items.append(f"console error on {message.location.get('url')}: {message.text}")

    def on_page_error(self, error: PlaywrightError) -> None:
        self.items.append(f"script error: {error}")

    def on_response(self, response: Response) -> None:
        is_page = response.request.resource_type == "document"
        if response.status >= 500 or (response.status >= 400 and not is_page):
            self.items.append(f"{response.status} for {response.url}")

    def on_request_failed(self, request: Request) -> None:
        # Requests from elsewhere are reported already; ERR_ABORTED is the browser itself
        # dropping what the previous page still had in flight when a new one loads.
        failure = request.failure or ""
        if not self._elsewhere(request.url) and "ERR_ABORTED" not in failure:
            self.items.append(f"request failed: {request.url} ({failure})")


@contextmanager
def open_page(browser: Browser, axe_source: str, base_url: str | None) -> Iterator[Page]:
    """A page in a fresh context (no cookies). It fails the test afterwards if it reached
    beyond ``base_url``, logged an error, or got a server error or a missing resource."""
    context = browser.new_context(
        base_url=base_url, locale="nl-NL", viewport={"width": 1280, "height": 800}
    )
    context.set_default_timeout(TIMEOUT_MS)
    # axe-core goes into every document as it loads, through the DevTools protocol: cheaper than
    # sending it again for each check, and out of reach of the page's Content Security Policy.
    context.add_init_script(script=axe_source)
    problems = PageProblems(base_url or "")
    tab = context.new_page()
    tab.on("request", problems.on_request)
    tab.on("console", problems.on_console)
    tab.on("pageerror", problems.on_page_error)
    tab.on("response", problems.on_response)
    tab.on("requestfailed", problems.on_request_failed)
    try:
        yield tab
    finally:
        context.close()
    if problems.items:
        pytest.fail("\n".join(problems.items), pytrace=False)


@pytest.fixture
def page(browser: Browser, live_server: LiveServer, axe_source: str) -> Iterator[Page]:
    """A page on the live server: relative URLs go there."""
    with open_page(browser, axe_source, live_server.url) as tab:
        yield tab


@pytest.fixture
def blank_page(browser: Browser, axe_source: str) -> Iterator[Page]:
    """A page without a server, for checking the checks on hand-written HTML."""
    with open_page(browser, axe_source, None) as tab:
        yield tab


# axe-core -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE_SCRIPT.is_file():
        pytest.fail(
            f"axe-core not found at {AXE_SCRIPT}. Run `npm ci` in {ROOT} (or `make browser-deps`).",
            pytrace=False,
        )
    return AXE_SCRIPT.read_text(encoding="utf-8")


AXE_RUN = """async options => ({
    language: document.documentElement.lang,
    results: await axe.run(document, options),
})"""


@dataclass
class Axe:
    """Runs axe-core on the page as it is now and fails the test on any WCAG 2.1 A/AA violation.

    ``open_page`` loads axe-core into every document it navigates to; a document it missed
    (``page.set_content``) gets it here. Either way it goes in through the DevTools protocol,
    which the page's Content Security Policy does not govern. ``page.add_script_tag`` would not
    do: it adds an inline ``<script>``, which ``script-src 'self'`` rightly refuses (tried).
    """

    source: str
    checked: list[tuple[str, str]] = field(default_factory=list)

    def check(self, page: Page) -> None:
        if page.evaluate("typeof window.axe") == "undefined":
            page.evaluate(self.source)
        outcome: dict[str, Any] = page.evaluate(
            AXE_RUN,
            {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]},
        )
        results, language = outcome["results"], outcome["language"]
        path = urlsplit(page.url).path
        assert results["passes"], f"axe-core checked nothing on {path}: is it working?"
        self.checked.append((path, language))
        violations = results["violations"]
        if violations:
            pytest.fail(
                f"axe-core found {len(violations)} accessibility violation(s) on {path} "
                f"(lang={language!r}):\n" + "\n".join(_describe(v) for v in violations),
                pytrace=False,
            )


def _describe(violation: dict[str, Any]) -> str:
    lines = [f"- {violation['id']} [{violation['impact']}]: {violation['help']}"]
    lines.append(f"  {violation['helpUrl']}")
    for node in violation["nodes"]:
        target = " ".join(str(part) for part in node["target"])
        lines.append(f"    at {target}: {node['html'][:160]}")
        summary = (node.get("failureSummary") or "").replace("\n", " ")
        if summary:
            lines.append(f"      {summary[:300]}")
    return "\n".join(lines)


@pytest.fixture
def axe(axe_source: str) -> Axe:
    return Axe(axe_source)


# The Nu Html Checker ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def html_checker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HtmlChecker]:
    """One checker (one JVM) for the whole run, started when a test first asks for it."""
    log_path = tmp_path_factory.mktemp("vnu") / "vnu.log"
    with log_path.open("w+b") as log, running_checker(log) as checker:
        yield checker
