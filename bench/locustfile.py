"""Load for ``tests/load`` and ``bench/submission.py``: people filing reports while handlers
read their cases. Run it only as a subprocess (locust patches the standard library with gevent
on import); ``bench/server.py``'s ``run_locust`` does that:

    locust --headless -f bench/locustfile.py --host http://127.0.0.1:PORT -u 40 -r 40 \\
        --run-time 5m --stop-timeout 30 Reporter Handler

The user classes:

``Reporter``   walks the whole guided form as a browser without JavaScript does: it opens
               each page, takes the CSRF token from its form, posts the answers, opens the
               page it is sent to, and ends on the receipt page. Then it starts again as
               someone else (new cookies).
``Handler``    logs in (password, then a two-step code) and reads the inbox and its cases.
``Submitter``  the submit step alone: each user first takes its share of ``LOAD_REPORTS``
               reports up to the review page (requests named ``prep ...``), all users wait
               for each other, and then they send them all as fast as they can.
``Floor``      ``GET /healthz`` as fast as it can: the framework's floor.

Configuration, from the environment:

``LOAD_CONFIG``      JSON written by ``bench/server.py`` (unit ids, handler log-ins).
``LOAD_REPORTS``     Reporter: stop when this many reports were started and finished (0: run
                     until --run-time). Submitter: how many reports to prepare and send.
``LOAD_RECEIPTS``    file to append every receipt code handed out to, one a line.
``LOAD_RESULTS``     JSON summary written at the end (see ``_write_results``).

Every receipt handed out is written before the report counts as done, so a checker can match
receipts against cases. When the target is reached no new report starts, reports under way are
finished, and locust quits.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlencode

import gevent
import pyotp
from gevent.event import Event
from locust import FastHttpUser, between, events, task
from locust.contrib.fasthttp import FastHttpSession
from locust.exception import StopUser

CONFIG: dict[str, Any] = (
    json.loads(Path(os.environ["LOAD_CONFIG"]).read_text()) if "LOAD_CONFIG" in os.environ else {}
)
TARGET = int(os.environ.get("LOAD_REPORTS", "0"))
RECEIPTS = Path(os.environ["LOAD_RECEIPTS"]) if "LOAD_RECEIPTS" in os.environ else None
RESULTS = Path(os.environ["LOAD_RESULTS"]) if "LOAD_RESULTS" in os.environ else None

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_RECIPIENT = re.compile(r'name="recipients" value="(\d+)"')
_RECEIPT = re.compile(r'<p class="receipt-code"[^>]*><code>(.*?)</code>', re.S)
_CASE_LINK = re.compile(r'href="(/zaken/[0-9a-f-]{36})"')
_TAG = re.compile(r"<[^>]+>")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SUBMIT = "/melden/versturen"

# The mix of reports: (route, unit, category, disclosure). They reach the BZK confidant, the
# BZK integrity coordinator and the JenV integrity coordinator.
REPORTS = (
    ("confidant", "BZK-APS", "bullying", "anonymous"),
    ("confidant", "BZK-APS", "discrimination", "confidential"),
    ("integrity", "BZK-CIO", "integrity", "anonymous"),
    ("integrity", "JENV-DRC", "integrity", "confidential"),
)


class Tally:
    """What the run did, for the checker: counted in this one process (gevent, no threads)."""

    started = 0
    finished = 0
    receipts = 0
    flow_failures = 0
    statuses: ClassVar[Counter[int]] = Counter()
    server_errors: ClassVar[Counter[str]] = Counter()
    transport_errors: ClassVar[Counter[str]] = Counter()
    handler_logins = 0
    cases_read = 0
    inbox_reads = 0
    flow_seconds: ClassVar[list[float]] = []
    submit_seconds: ClassVar[list[float]] = []
    first_receipt = 0.0
    last_receipt = 0.0
    submit_began = 0.0
    submit_ended = 0.0
    floor_seconds: ClassVar[list[float]] = []
    floor_began = 0.0
    floor_ended = 0.0
    began = 0.0


@events.request.add_listener
def _count(
    request_type: str,
    name: str,
    response: Any,
    exception: BaseException | None,
    **_: Any,
) -> None:
    status = getattr(response, "status_code", 0) or 0
    Tally.statuses[status] += 1
    if status >= 500:
        Tally.server_errors[f"{request_type} {name} {status}"] += 1
    elif status == 0 and exception is not None:
        Tally.transport_errors[f"{request_type} {name} {type(exception).__name__}"] += 1


@events.test_start.add_listener
def _began(**_: Any) -> None:
    Tally.began = time.monotonic()


@events.quitting.add_listener
def _write_results(**_: Any) -> None:
    # On SIGTERM locust fires this before the users have stopped: receipts that arrive later
    # still reach the receipts file (opened per receipt), though not this summary.
    if RESULTS is None:
        return
    RESULTS.write_text(
        json.dumps(
            {
                "reports_started": Tally.started,
                "reports_finished": Tally.finished,
                "receipts": Tally.receipts,
                "flow_failures": Tally.flow_failures,
                "statuses": {str(k): v for k, v in sorted(Tally.statuses.items())},
                "server_errors": dict(Tally.server_errors),
                "transport_errors": dict(Tally.transport_errors),
                "handler_logins": Tally.handler_logins,
                "inbox_reads": Tally.inbox_reads,
                "cases_read": Tally.cases_read,
                "flow_seconds": Tally.flow_seconds,
                "submit_seconds": Tally.submit_seconds,
                "receipt_span_seconds": Tally.last_receipt - Tally.first_receipt,
                # From the start of the run to the last receipt: every report's whole time.
                "filing_seconds": max(Tally.last_receipt - Tally.began, 0.0),
                "submit_span_seconds": Tally.submit_ended - Tally.submit_began,
                "floor_seconds": Tally.floor_seconds,
                "floor_span_seconds": Tally.floor_ended - Tally.floor_began,
            }
        )
    )


class FlowFailed(Exception):
    """A step did not answer as a browser would expect."""


def _form(data: dict[str, Any]) -> str:
    """URL-encoded as a browser does it: a list becomes the same name repeated."""
    return urlencode(data, doseq=True)


def _token(html: str) -> str:
    match = _CSRF.search(html)
    if match is None:
        raise FlowFailed("no CSRF token on the page")
    return match.group(1)


class Form:
    """One person's way through the report form, over one HTTP session (one set of cookies)."""

    def __init__(self, client: FastHttpSession, prefix: str = "") -> None:
        self.client = client
        self.prefix = prefix

    def page(self, url: str) -> str:
        name = self.prefix + url
        with self.client.get(url, name=name, catch_response=True, allow_redirects=False) as page:
            if page.status_code != 200:
                page.failure(f"GET {url}: {page.status_code}")
                raise FlowFailed(url)
            return page.text or ""

    def post(self, url: str, html: str, data: dict[str, Any], expect: str) -> None:
        with self.client.post(
            url,
            data=_form({"csrf_token": _token(html), **data}),
            headers=FORM,
            name=self.prefix + url,
            catch_response=True,
            allow_redirects=False,
        ) as response:
            location = response.headers.get("Location", "") if response.headers else ""
            if response.status_code != 303 or not location.endswith(expect):
                response.failure(f"POST {url}: {response.status_code} to {location!r}")
                raise FlowFailed(url)

    def step(self, url: str, data: dict[str, Any], expect: str) -> None:
        self.post(url, self.page(url), {"action": "continue", **data}, expect)

    def up_to_review(self) -> str:
        """Answer every step; returns the review page."""
        route, unit_code, category, disclosure = random.choice(REPORTS)
        unit = str(CONFIG.get("units", {}).get(unit_code, ""))
        self.post("/melden", self.page("/melden"), {}, "/melden/wat")
        grounds = ["race"] if category == "discrimination" else []
        self.step("/melden/wat", {"category": category, "grounds": grounds}, "/wanneer-waar")
        self.step(
            "/melden/wanneer-waar",
            {
                "date_from": "2026-02-02",
                "date_to": "2026-02-27",
                "when_text": "elke maandag",
                "unit": unit,
                "place": "vergaderzaal 4.12",
            },
            "/melden/beschrijving",
        )
        story = "Mijn collega kleineert mij al maanden in elk teamoverleg. " * random.randint(1, 8)
        self.step("/melden/beschrijving", {"description": story}, "/melden/betrokkenen")
        self.step("/melden/betrokkenen", {}, "/melden/wensen")
        self.step("/melden/wensen", {"desired_outcome": "Dat het stopt."}, "/melden/wie")
        identity = {"disclosure": disclosure, "name": "", "email": ""}
        if disclosure == "confidential":
            identity["name"] = f"Melder {random.randint(1, 10**6)}"
        self.step("/melden/wie", identity, "/melden/route")
        self.step("/melden/route", {"route": route}, "/melden/controleren")
        return self.page("/melden/controleren")

    def submit(self, review: str) -> str:
        """Send the report from its review page; returns the receipt code shown."""
        began = time.perf_counter()
        with self.client.post(
            SUBMIT,
            data=_form(
                {
                    "csrf_token": _token(review),
                    "recipients": _RECIPIENT.findall(review),
                    "internal_ref": "",
                }
            ),
            headers=FORM,
            name=SUBMIT,
            catch_response=True,
            allow_redirects=False,
        ) as done:
            match = _RECEIPT.search(done.text or "") if done.status_code == 200 else None
            if match is None:
                done.failure(f"POST {SUBMIT}: {done.status_code}, no receipt")
                raise FlowFailed(SUBMIT)
        Tally.submit_seconds.append(time.perf_counter() - began)
        # Shown in groups ("7KQ3 M9XD ..."); kept in its written form ("7KQ3-M9XD-...").
        return "-".join(_TAG.sub(" ", match.group(1)).split())


def _keep(code: str) -> None:
    """Record a receipt handed out, before anything else can happen to it."""
    Tally.receipts += 1
    now = time.monotonic()
    Tally.first_receipt = Tally.first_receipt or now
    Tally.last_receipt = now
    if RECEIPTS is not None:
        with RECEIPTS.open("a", encoding="ascii") as receipts:
            receipts.write(code + "\n")


class Reporter(FastHttpUser):
    """Someone filing a report: every page opened, every answer posted, the receipt kept."""

    wait_time = between(0, 0.2)

    @task
    def file_a_report(self) -> None:
        if TARGET and Tally.started >= TARGET:
            self._finish_when_all_are_in()
            raise StopUser
        Tally.started += 1
        began = time.perf_counter()
        form = Form(self.client)
        try:
            code = form.submit(form.up_to_review())
        except FlowFailed:
            Tally.flow_failures += 1
        else:
            _keep(code)
            Tally.flow_seconds.append(time.perf_counter() - began)
        finally:
            Tally.finished += 1
            self.client.cookiejar.clear()  # the next report is someone else's
            self._finish_when_all_are_in()

    def _finish_when_all_are_in(self) -> None:
        if TARGET and Tally.finished >= TARGET and self.environment.runner is not None:
            gevent.spawn_later(0.1, self.environment.runner.quit)


_ACCOUNTS = itertools.count()


class Handler(FastHttpUser):
    """A handler at work: logs in once, then reads the inbox and opens cases from it."""

    fixed_count = 4
    wait_time = between(1, 3)  # reading a case takes a person longer than that

    def on_start(self) -> None:
        handlers = CONFIG.get("handlers", [])
        if not handlers:
            raise StopUser
        self.account = handlers[next(_ACCOUNTS) % len(handlers)]
        self.cases: list[str] = []
        self._log_in()

    def _log_in(self) -> None:
        for _attempt in range(4):
            page = self.client.get("/aanmelden", name="/aanmelden").text or ""
            self.client.post(
                "/aanmelden",
                data=_form(
                    {
                        "csrf_token": _token(page),
                        "email": self.account["login"],
                        "password": self.account["password"],
                        "next": "",
                    }
                ),
                headers=FORM,
                name="/aanmelden",
                allow_redirects=False,
            )
            page = self.client.get("/aanmelden/code", name="/aanmelden/code").text or ""
            code = pyotp.TOTP(self.account["totp"]).now()
            with self.client.post(
                "/aanmelden/code",
                data=_form({"csrf_token": _token(page), "code": code}),
                headers=FORM,
                name="/aanmelden/code",
                catch_response=True,
                allow_redirects=False,
            ) as response:
                if response.status_code == 303:
                    Tally.handler_logins += 1
                    return
                # Two users of one account within one 30-second step: a code is used once.
                response.success()
            gevent.sleep(30 - time.time() % 30 + 0.5)
        raise StopUser

    @task(1)
    def read_inbox(self) -> None:
        with self.client.get("/zaken", name="/zaken", catch_response=True) as inbox:
            if inbox.status_code != 200:
                inbox.failure(f"inbox: {inbox.status_code}")
                return
            Tally.inbox_reads += 1
            self.cases = _CASE_LINK.findall(inbox.text or "")

    @task(3)
    def read_a_case(self) -> None:
        if not self.cases:
            self.read_inbox()
            return
        url = random.choice(self.cases)
        with self.client.get(url, name="/zaken/<id>", catch_response=True) as page:
            if page.status_code != 200:
                page.failure(f"case: {page.status_code}")
                return
            Tally.cases_read += 1


class _Barrier:
    """Submitters wait here until every one of them has prepared its reports."""

    ready = 0
    go = Event()


class Submitter(FastHttpUser):
    """The submit step alone, on reports prepared beforehand (one session per report)."""

    wait_time = between(0, 0)

    def on_start(self) -> None:
        users = self.environment.runner.target_user_count if self.environment.runner else 1
        share = TARGET // users + (1 if next(_SHARES) < TARGET % users else 0)
        self.prepared: list[tuple[Form, str]] = []
        for _ in range(share):
            session = FastHttpSession(
                base_url=self.host,
                request_event=self.environment.events.request,
                user=self,
                client_pool=self.client_pool,
            )
            form = Form(session, prefix="prep ")
            try:
                self.prepared.append((form, form.up_to_review()))
            except FlowFailed:
                Tally.flow_failures += 1
        _Barrier.ready += 1
        if _Barrier.ready >= users:
            Tally.submit_began = time.monotonic()
            _Barrier.go.set()
        _Barrier.go.wait()

    @task
    def send(self) -> None:
        if not self.prepared:
            if Tally.finished >= Tally.started and self.environment.runner is not None:
                gevent.spawn_later(0.1, self.environment.runner.quit)
            raise StopUser
        form, review = self.prepared.pop()
        Tally.started += 1
        try:
            _keep(form.submit(review))
            Tally.submit_ended = time.monotonic()
        except FlowFailed:
            Tally.flow_failures += 1
        finally:
            Tally.finished += 1


_SHARES = itertools.count()


class Floor(FastHttpUser):
    """``GET /healthz`` back to back: what the framework and server cost without the app."""

    wait_time = between(0, 0)

    @task
    def healthz(self) -> None:
        began = time.perf_counter()
        with self.client.get("/healthz", name="/healthz", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"healthz: {response.status_code}")
                return
        now = time.monotonic()
        Tally.floor_began = Tally.floor_began or now
        Tally.floor_ended = now
        Tally.floor_seconds.append(time.perf_counter() - began)
