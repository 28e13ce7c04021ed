"""Redis, where the rate-limit counters live, unreachable, for real.

The application talks to a port on 127.0.0.1 where nothing listens, with the real Redis client.
Log-in, the report's final step and the receipt entry are refused with a translated 503 page
that says nothing is lost (not a generic 500, and never let through uncounted: failing open
would make guessing receipt codes and passwords unlimited while Redis is down); ``/readyz``
answers 503 naming the counters. Then a real ``redis-server`` is started on that very port and
the same browser sends the same report. The control runs the same requests against the real
Redis at 127.0.0.1:6379, where they work and leave their counters there.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from flask import Flask
from werkzeug.test import TestResponse

from tests.conftest import Clock, app_session
from tests.factories import StaffLogin, csrf_token, import_demo_directory, make_account
from tests.faults.helpers import DRAFT_TABLES, SUBMISSION_TABLES, assert_clean_error_page, counts
from tests.followup import file_report
from tests.intake.test_views import Answers, Browser, fill_in, receipt_code, send

LIVE_REDIS = "redis://127.0.0.1:6379/14"
ADDRESS = "198.51.100.23"
DESCRIPTION = "Verhaal-terwijl-redis-weg-is"
# High enough that other runs sharing the live Redis cannot use up this test's counters.
ROOMY_LIMITS = {
    "login_rate_limit": "1000 per minute",
    "intake_rate_limit": "1000 per minute",
    "receipt_rate_limit": "1000 per minute",
}
KEPT_NL = "Er gaat niets verloren"
KEPT_EN = "Nothing is lost"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _nothing_listens(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@dataclass
class Visit:
    """One walk through the three limited requests, by one browser from one address."""

    app: Flask
    browser: Browser
    staff: StaffLogin
    code: str

    def log_in(self, language: str = "nl") -> TestResponse:
        # A browser of its own: logging in renews the session, which holds the draft.
        client = self.app.test_client()
        client.environ_base["REMOTE_ADDR"] = ADDRESS
        client.set_cookie("taal", language)
        page = client.get("/aanmelden")
        return client.post(
            "/aanmelden",
            data={
                "email": self.staff.account.login,
                "password": self.staff.password,
                "next": "",
                "csrf_token": csrf_token(page),
            },
        )

    def send_report(self) -> TestResponse:
        return send(self.browser, self.browser.get("/melden/controleren"))

    def enter_receipt(self) -> TestResponse:
        client = self.app.test_client()
        client.environ_base["REMOTE_ADDR"] = ADDRESS
        page = client.get("/opvolgen")
        return client.post("/opvolgen", data={"code": self.code, "csrf_token": csrf_token(page)})


def _visit(app: Flask, clock: Clock) -> Visit:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        code = file_report(session, people, clock()).code
        staff = make_account(session, people["g.verbeek@bzk.example"], clock())
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ADDRESS
    browser = Browser(client)
    fill_in(app, browser, Answers(route="confidant", description=DESCRIPTION))
    return Visit(app, browser, staff, code)


def _page(response: TestResponse) -> str:
    return " ".join(response.get_data(as_text=True).split())


class TestRedisUnreachable:
    @pytest.fixture
    def dead_port(self) -> int:
        port = _free_port()
        assert _nothing_listens(port)
        return port

    @pytest.fixture
    def settings_overrides(self, dead_port: int) -> dict[str, Any]:
        return {"ratelimit_storage_uri": f"redis://127.0.0.1:{dead_port}/0", **ROOMY_LIMITS}

    @pytest.fixture
    def redis_later(self, dead_port: int) -> Iterator[list[subprocess.Popen[bytes]]]:
        """Where the test starts a real redis-server on the dead port; stopped afterwards."""
        started: list[subprocess.Popen[bytes]] = []
        yield started
        for process in started:
            process.terminate()
            process.wait(timeout=10)

    def test_limited_requests_answer_503_saying_nothing_is_lost_and_work_once_it_is_back(
        self,
        app: Flask,
        clock: Clock,
        dead_port: int,
        redis_later: list[subprocess.Popen[bytes]],
        log_output: io.StringIO,
    ) -> None:
        visit = _visit(app, clock)
        before = counts(app, SUBMISSION_TABLES)

        started = time.monotonic()
        refused = [visit.log_in(), visit.send_report(), visit.enter_receipt()]
        assert time.monotonic() - started < 15  # refused, not hanging
        for response in refused:
            page = assert_clean_error_page(response, 503)
            assert "Tijdelijk niet beschikbaar" in page
            assert KEPT_NL in page
            assert "redis" not in page.lower()
            assert str(dead_port) not in page
            assert response.headers["Retry-After"].isdigit()
        _login, sent, receipt = refused
        # On the report's last step the way back to it is offered; the report is not sent.
        assert 'href="/melden/controleren"' in sent.get_data(as_text=True)
        assert 'href="/melden/controleren"' not in receipt.get_data(as_text=True)
        assert DESCRIPTION not in _page(sent)
        assert visit.code not in _page(receipt)
        assert counts(app, SUBMISSION_TABLES) == before
        assert counts(app, DRAFT_TABLES)["IntakeDraft"] == 1

        # In English on request.
        english = visit.log_in("en")
        assert english.status_code == 503
        assert "Temporarily unavailable" in _page(english)
        assert KEPT_EN in _page(english)

        # The log says what failed, by class, and names neither the address nor the client.
        logged = log_output.getvalue()
        events = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
        unavailable = [e for e in events if e.get("event") == "service_unavailable"]
        assert unavailable
        assert {e["error"] for e in unavailable} == {"StorageError"}
        assert {e["cause"] for e in unavailable} == {"ConnectionError"}
        assert "unhandled_error" not in logged
        assert str(dead_port) not in logged
        assert ADDRESS not in logged

        client = app.test_client()
        assert client.get("/healthz").status_code == 200
        not_ready = client.get("/readyz")
        assert not_ready.status_code == 503
        assert not_ready.get_json() == {
            "status": "unavailable",
            "checks": {"database": "ok", "keystore": "ok", "ratelimit": "unavailable"},
        }

        # Redis comes back on the same port: the same browser's draft is there and goes out.
        redis_later.append(
            subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(dead_port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        deadline = time.monotonic() + 20
        while _nothing_listens(dead_port):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)
        assert client.get("/readyz").status_code == 200
        review = visit.browser.get("/melden/controleren")
        assert DESCRIPTION in _page(review)
        done = send(visit.browser, review)
        assert done.status_code == 200, _page(done)
        assert receipt_code(done)
        assert visit.log_in().status_code == 303
        assert visit.enter_receipt().status_code == 303


class TestControlWithTheRealRedis:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"ratelimit_storage_uri": LIVE_REDIS, **ROOMY_LIMITS}

    def test_the_same_requests_work_and_are_counted_in_redis(
        self, app: Flask, clock: Clock
    ) -> None:
        visit = _visit(app, clock)
        login = visit.log_in()
        assert login.status_code == 303, _page(login)
        assert login.headers["Location"].endswith("/aanmelden/code")
        done = visit.send_report()
        assert done.status_code == 200, _page(done)
        assert receipt_code(done)
        receipt = visit.enter_receipt()
        assert receipt.status_code == 303, _page(receipt)
        assert receipt.headers["Location"] == "/opvolgen/melding"
        # A code that opens its mailbox is not counted; a mistyped one is.
        mistyped = Visit(app, visit.browser, visit.staff, visit.code[:-1] + "0").enter_receipt()
        assert mistyped.status_code == 200, _page(mistyped)
        assert app.test_client().get("/readyz").status_code == 200

        # They really were counted there: the counters of this client's keyed address.
        secret: bytes = app.extensions["complaints.ratelimit_key"]
        client_key = hmac.new(secret, ADDRESS.encode(), hashlib.sha256).hexdigest()[:32]
        live = redis.Redis.from_url(LIVE_REDIS)
        try:
            keys = [key.decode() for key in live.keys(f"*{client_key}*")]
        finally:
            live.close()
        assert len(keys) >= 3, keys
        assert not [key for key in keys if ADDRESS in key]
