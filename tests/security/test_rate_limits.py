"""Guessing receipt codes: what tests/followup/test_views.py does not cover yet.

That suite shows the per-client and global limits (even the right code waits) and that Redis
keys hold no address. Here: the refusal is a translated page (Dutch by default, English on
request) that gives nothing away; a forged ``X-Forwarded-For`` does not buy a fresh counter
when no proxy is trusted; and the in-memory counters hold no address either.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from complaints.web.limits import limiter
from tests.conftest import Clock, app_session
from tests.factories import csrf_token, import_demo_directory
from tests.followup import Filed, file_report
from tests.security.conftest import MAILBOX, body

WRONG = "ABCD-EFGH-JKMN-PQRS-TVWX-YZ01"
ADDRESS = "203.0.113.77"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"receipt_rate_limit": "3 per minute", "receipt_global_rate_limit": "100 per minute"}


@pytest.fixture
def filed(app: Flask, clock: Clock) -> Filed:
    with app_session(app) as session:
        return file_report(session, import_demo_directory(session, clock()), clock())


def guess(client: FlaskClient, code: str, **headers: str) -> TestResponse:
    page = client.get("/opvolgen")
    return client.post(
        "/opvolgen", data={"code": code, "csrf_token": csrf_token(page)}, headers=headers
    )


def test_the_limit_answers_with_a_translated_page_that_gives_nothing_away(
    app: Flask, filed: Filed
) -> None:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ADDRESS
    assert [guess(client, WRONG).status_code for _ in range(3)] == [200, 200, 200]
    limited = guess(client, filed.code)
    assert limited.status_code == 429
    text = body(limited)
    assert '<html lang="nl">' in text
    assert "Te veel pogingen" in text
    for secret in (filed.code, filed.code.replace("-", ""), filed.reference, ADDRESS):
        assert secret not in text
    assert "Retry-After" not in limited.headers or limited.headers["Retry-After"].isdigit()
    assert client.get(MAILBOX).status_code == 303  # the right code opened nothing
    client.set_cookie("taal", "en")
    english = guess(client, filed.code)
    assert english.status_code == 429
    assert "Too many attempts" in body(english)
    assert '<html lang="en">' in body(english)


def test_a_forged_forwarded_for_header_buys_no_fresh_counter(app: Flask, filed: Filed) -> None:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ADDRESS
    statuses = [
        guess(client, WRONG, **{"X-Forwarded-For": f"198.51.100.{n}"}).status_code for n in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]
    assert guess(client, filed.code, **{"X-Real-IP": "192.0.2.1"}).status_code == 429


def test_the_in_memory_counters_hold_no_address(app: Flask, filed: Filed) -> None:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ADDRESS
    for _ in range(4):
        guess(client, WRONG)
    storage = limiter.storage
    keys = [str(k) for k in getattr(storage, "storage", {})]
    keys += [str(k) for k in getattr(storage, "expirations", {})]
    assert keys, "no counters found: the check would prove nothing"
    assert not [k for k in keys if ADDRESS in k or ADDRESS.replace(".", "") in k]
