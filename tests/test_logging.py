"""Logs are structured and hold no case content, names, e-mail addresses, codes or IP addresses."""

from __future__ import annotations

import io
import json
import logging

from flask import Flask

from complaints.audit.services import Actor
from complaints.cases.services import open_case
from complaints.crypto.services import indexer, keystore
from complaints.logs import DropAccessLog, get_logger
from tests.conftest import Clock, app_session
from tests.factories import (
    accused,
    csrf_token,
    log_in,
    make_account,
    make_case,
    make_org,
    make_person,
)


def test_logs_hold_no_personal_data_or_content(
    app: Flask, clock: Clock, log_output: io.StringIO
) -> None:
    secrets_in_play = [
        "Vera Veldhuis-Marker",  # a staff member's name
        "Kwaadwillige Collega-Marker",  # an accused person's name
        "het-verhaal-van-de-melder",  # case content
        "vera.marker@example.org",
        "wachtwoord-dat-niet-klopt",
        "127.0.0.1",
    ]
    with app_session(app) as session:
        org = make_org(session, clock())
        person = make_person(session, org.directorate, clock(), name="Vera Veldhuis-Marker")
        person.email = "vera.marker@example.org"
        staff = make_account(session, person, clock())
        case = make_case(
            session,
            clock(),
            handler=person,
            description="het-verhaal-van-de-melder",
            accused=(accused(name="Kwaadwillige Collega-Marker"),),
        )
        open_case(
            session,
            keystore(),
            indexer(),
            case_id=case.id,
            reader_person_id=person.id,
            actor=Actor.staff(staff.account.id),
            now=clock(),
        )
    client = app.test_client()
    page = client.get("/aanmelden", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    client.post(
        "/aanmelden",
        data={
            "email": "vera.marker@example.org",
            "password": "wachtwoord-dat-niet-klopt",
            "csrf_token": csrf_token(page),
        },
    )
    log_in(client, staff, clock())
    client.get("/account?naam=Vera+Veldhuis-Marker")
    client.get("/het-verhaal-van-de-melder")
    get_logger("tests").info(
        "attempt", email="vera.marker@example.org", name="Vera Veldhuis-Marker"
    )

    log_lines = log_output.getvalue().splitlines()
    assert len(log_lines) >= 8
    for line in log_lines:
        json.loads(line)  # every line is one JSON object
        for secret in secrets_in_play:
            assert secret not in line, line
    requests = [json.loads(line) for line in log_lines if '"event": "request"' in line]
    assert {"method", "route", "status", "duration_ms", "request_id"} <= set(requests[0])
    assert any(r["route"] is None and r["status"] == 404 for r in requests)


def test_the_development_servers_access_log_is_dropped() -> None:
    record = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '%s - - [%s] "GET /opvolgen HTTP/1.1" 200 -',
        ("10.1.2.3", "now"),
        None,
    )
    assert DropAccessLog().filter(record) is False
    banner = logging.LogRecord(
        "werkzeug", logging.INFO, __file__, 1, "Running on %s", ("http://127.0.0.1:5000",), None
    )
    assert DropAccessLog().filter(banner) is True
