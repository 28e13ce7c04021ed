"""Session fixation and reuse: what tests/accounts and tests/followup do not cover yet.

A cookie planted before a log-in is not logged in afterwards; a copied cookie replayed after a
log-out, an idle timeout or the absolute timeout opens no case page and posts nothing (the
session ended on the server, not just in the browser); a tampered cookie is no session. The
same for the complainant's mailbox after its idle and absolute timeouts.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from complaints.accounts.models import StaffSession
from complaints.cases.models import CaseNote, Message
from complaints.directory.models import Person
from complaints.followup.models import ComplainantSession
from tests.conftest import Clock, app_session
from tests.factories import StaffLogin, csrf_token, import_demo_directory, log_in, make_account
from tests.followup import CONFIDANT_EMAIL, Filed, file_report
from tests.security.conftest import MAILBOX

COOKIE = "session"


def setup(app: Flask, clock: Clock) -> tuple[Filed, StaffLogin]:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        filed = file_report(session, people, clock())
        confidant = session.scalars(sa.select(Person).where(Person.email == CONFIDANT_EMAIL)).one()
        staff = make_account(session, confidant, clock())
    return filed, staff


def cookie_of(client: FlaskClient) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    return cookie.value


def replay(app: Flask, value: str) -> FlaskClient:
    thief = app.test_client()
    thief.set_cookie(COOKIE, value)
    return thief


def notes(app: Flask) -> int:
    with app_session(app) as session:
        return session.scalar(sa.select(sa.func.count()).select_from(CaseNote)) or 0


def revoke_reasons(app: Flask) -> list[str]:
    with app_session(app) as session:
        return sorted(r or "" for r in session.scalars(sa.select(StaffSession.revoke_reason)))


def test_a_planted_cookie_is_not_logged_in_by_the_victim(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    filed, staff = setup(app, clock)
    attacker = app.test_client()
    attacker.get("/aanmelden")
    planted = cookie_of(attacker)
    client.set_cookie(COOKIE, planted)  # the victim's browser was given the attacker's cookie
    log_in(client, staff, clock())
    assert cookie_of(client) != planted
    assert client.get(f"/zaken/{filed.case_id}").status_code == 200
    # The attacker still holds the planted cookie: it is not logged in.
    assert attacker.get("/account").status_code == 302
    assert attacker.get(f"/zaken/{filed.case_id}").status_code == 302


def test_a_cookie_copied_before_log_out_opens_no_case_and_posts_nothing(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    filed, staff = setup(app, clock)
    log_in(client, staff, clock())
    page = client.get(f"/zaken/{filed.case_id}")
    assert page.status_code == 200
    copied, token = cookie_of(client), csrf_token(page)
    assert client.post("/afmelden", data={"csrf_token": token}).status_code == 303
    thief = replay(app, copied)
    assert thief.get(f"/zaken/{filed.case_id}").status_code == 302
    assert thief.get("/zaken").status_code == 302
    before = notes(app)
    posted = thief.post(
        f"/zaken/{filed.case_id}/notitie",
        data={"csrf_token": token, "note": "Na het afmelden geschreven."},
    )
    assert posted.status_code in (302, 400)
    assert notes(app) == before
    assert "logout" in revoke_reasons(app)


def test_an_idle_session_ends_on_the_server(app: Flask, client: FlaskClient, clock: Clock) -> None:
    filed, staff = setup(app, clock)
    log_in(client, staff, clock())
    copied = cookie_of(client)
    clock.advance(minutes=31)
    # The copy is used first, after the idle time: it is refused, and the session is gone.
    assert replay(app, copied).get(f"/zaken/{filed.case_id}").status_code == 302
    clock.advance(seconds=1)
    assert client.get(f"/zaken/{filed.case_id}").status_code == 302
    assert revoke_reasons(app) == ["idle_timeout", "upgraded"]  # pending → full → ended


def test_a_busy_session_ends_at_the_absolute_timeout(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    filed, staff = setup(app, clock)
    log_in(client, staff, clock())
    for _ in range(39):  # active every quarter of an hour for 9¾ hours
        clock.advance(minutes=15)
        assert client.get("/account").status_code == 200
    copied = cookie_of(client)
    clock.advance(minutes=16)
    assert client.get(f"/zaken/{filed.case_id}").status_code == 302
    assert replay(app, copied).get("/account").status_code == 302
    assert revoke_reasons(app) == ["absolute_timeout", "upgraded"]


def test_a_tampered_cookie_is_no_session(app: Flask, client: FlaskClient, clock: Clock) -> None:
    filed, staff = setup(app, clock)
    log_in(client, staff, clock())
    value = cookie_of(client)
    payload, _, signature = value.rpartition(".")
    middle = len(signature) // 2
    flipped = signature[:middle] + ("A" if signature[middle] != "A" else "B")
    for forged in (payload + "." + flipped + signature[middle + 1 :], value[:-3], "." + value):
        assert replay(app, forged).get(f"/zaken/{filed.case_id}").status_code == 302
    # A cookie signed with another key (another deployment's secret) is no session either.
    other = Flask("elsewhere")
    other.secret_key = "another-secret-" + "y" * 40
    serializer = other.session_interface.get_signing_serializer(other)  # type: ignore[attr-defined]
    own = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    foreign = serializer.dumps(own.loads(value))
    assert replay(app, foreign).get(f"/zaken/{filed.case_id}").status_code == 302


def open_mailbox(client: FlaskClient, code: str) -> None:
    page = client.get("/opvolgen")
    opened = client.post("/opvolgen", data={"code": code, "csrf_token": csrf_token(page)})
    assert opened.status_code == 303
    assert client.get(MAILBOX).status_code == 200


def messages(app: Flask) -> int:
    with app_session(app) as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Message)) or 0


def test_a_mailbox_cookie_copied_before_the_idle_timeout_opens_nothing(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    filed, _ = setup(app, clock)
    open_mailbox(client, filed.code)
    copied, token = cookie_of(client), csrf_token(client.get(MAILBOX))
    clock.advance(minutes=16)
    thief = replay(app, copied)
    assert thief.get(MAILBOX).status_code == 303
    before = messages(app)
    thief.post("/opvolgen/melding/bericht", data={"csrf_token": token, "message": "Ik ben A."})
    assert messages(app) == before
    # Coming back within the idle time of the thief's attempt does not revive it.
    clock.advance(minutes=1)
    assert client.get(MAILBOX).status_code == 303
    with app_session(app) as session:
        ended = session.scalars(sa.select(ComplainantSession.revoked_at)).all()
    assert ended
    assert None not in ended


def test_a_mailbox_cookie_replayed_after_the_absolute_timeout_opens_nothing(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    filed, _ = setup(app, clock)
    open_mailbox(client, filed.code)
    for _ in range(11):
        clock.advance(minutes=10)
        assert client.get(MAILBOX).status_code == 200
    copied = cookie_of(client)
    clock.advance(minutes=10)
    assert replay(app, copied).get(MAILBOX).status_code == 303
    assert client.get(MAILBOX).status_code == 303


def test_a_staff_cookie_opens_no_mailbox_and_a_mailbox_cookie_no_case(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    filed, staff = setup(app, clock)
    open_mailbox(client, filed.code)
    mailbox_cookie = cookie_of(client)
    thief = replay(app, mailbox_cookie)
    assert thief.get(f"/zaken/{filed.case_id}").status_code == 302
    assert thief.get("/zaken").status_code == 302
    handler = app.test_client()
    log_in(handler, staff, clock())
    assert handler.get(MAILBOX).status_code == 303
