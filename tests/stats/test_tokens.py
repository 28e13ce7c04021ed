"""API tokens: made and revoked by an auditor on /statistieken/api-sleutels, through the real
log-in and with CSRF on; shown once, stored as a SHA-256, audited without the token."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from complaints.accounts.models import Role
from complaints.audit.models import AuditEvent
from complaints.crypto.services import keystore
from complaints.stats import tokens
from complaints.stats.models import ApiToken
from tests.conftest import Clock, app_session
from tests.factories import StaffLogin, csrf_token, import_demo_directory, log_in, make_account

AUDITOR = "b.koster@fin.example"
SECOND_AUDITOR = "d.smit@bzk.example"  # made an auditor below
ADMIN = "t.groen@bzk.example"
OFFICER = "h.wolters@bzk.example"
PAGE = "/statistieken/api-sleutels"
REVOKE = "/statistieken/api-sleutels/intrekken"
TOKEN = re.compile(r"kst_[A-Za-z0-9_-]{43}")


@dataclass
class World:
    staff: dict[str, StaffLogin]


@pytest.fixture
def world(app: Flask, clock: Clock) -> World:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        staff = {
            email: make_account(session, people[email], clock())
            for email in (AUDITOR, ADMIN, OFFICER)
        }
        staff[SECOND_AUDITOR] = make_account(
            session, people[SECOND_AUDITOR], clock(), roles=((Role.AUDITOR, None),)
        )
        return World(staff)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    browser = app.test_client()
    browser.set_cookie("taal", "en")
    return browser


def signed_in(client: FlaskClient, world: World, clock: Clock, who: str = AUDITOR) -> str:
    log_in(client, world.staff[who], clock())
    return csrf_token(client.get("/account"))


def html(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def stored(app: Flask) -> list[ApiToken]:
    with app_session(app) as session:
        return list(session.scalars(sa.select(ApiToken).order_by(ApiToken.id)))


def audited(app: Flask, action: str) -> list[AuditEvent]:
    with app_session(app) as session:
        return list(session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


def make_token(client: FlaskClient, label: str = "Kwartaalscript") -> str:
    page = client.get(PAGE)
    response = client.post(PAGE, data={"label": label, "csrf_token": csrf_token(page)})
    assert response.status_code == 200, html(response)
    found = TOKEN.findall(html(response))
    assert len(found) == 1
    return found[0]


# Who may come --------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(
    app: Flask, client: FlaskClient, world: World
) -> None:
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/aanmelden")
    csrf = csrf_token(client.get("/aanmelden"))
    for url in (PAGE, REVOKE):
        response = client.post(url, data={"label": "x", "token_id": "1", "csrf_token": csrf})
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/aanmelden")
    assert stored(app) == []


@pytest.mark.parametrize("who", [ADMIN, OFFICER])
def test_other_staff_are_refused(
    app: Flask, client: FlaskClient, world: World, clock: Clock, who: str
) -> None:
    csrf = signed_in(client, world, clock, who)
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, data={"label": "x", "csrf_token": csrf}).status_code == 403
    assert stored(app) == []


# Making a token ------------------------------------------------------------------------------


def test_a_token_is_shown_once_and_stored_as_its_hash(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    signed_in(client, world, clock)
    token = make_token(client, "Kwartaalscript")
    [record] = stored(app)
    assert record.token_hash == hashlib.sha256(token.encode()).digest()
    assert record.label == "Kwartaalscript"
    assert record.account_id == world.staff[AUDITOR].account.id
    assert record.expires_at == clock() + timedelta(days=90)
    # Shown once: the page after it lists the token by name, not the token.
    again = html(client.get(PAGE))
    assert "Kwartaalscript" in again
    assert token not in again
    assert f'data-token-id="{record.id}" data-status="active"' in again


def test_making_a_token_is_audited_without_the_token(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    signed_in(client, world, clock)
    token = make_token(client)
    [event] = audited(app, "stats.api_token_created")
    assert event.actor_id == str(world.staff[AUDITOR].account.id)
    assert event.object_id == str(stored(app)[0].id)
    everything = repr(
        (event.details, event.object_id, event.object_type, event.actor_id, event.action)
    )
    assert token not in everything
    assert token[4:20] not in everything


def test_a_forged_or_missing_csrf_token_makes_nothing(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    signed_in(client, world, clock)
    assert client.post(PAGE, data={"label": "x"}).status_code == 400
    assert client.post(PAGE, data={"label": "x", "csrf_token": "forged"}).status_code == 400
    assert stored(app) == []


@pytest.mark.parametrize("label", ["", "   ", "x" * 101])
def test_a_token_needs_a_short_name(
    app: Flask, client: FlaskClient, world: World, clock: Clock, label: str
) -> None:
    csrf = signed_in(client, world, clock)
    response = client.post(PAGE, data={"label": label, "csrf_token": csrf})
    assert response.status_code == 400
    assert TOKEN.search(html(response)) is None
    assert stored(app) == []


def test_tokens_are_random(app: Flask, world: World, clock: Clock) -> None:
    with app_session(app) as session:
        account = world.staff[AUDITOR].account
        made = {
            tokens.create_token(session, keystore(), account, label="x", now=clock()).token
            for _ in range(5)
        }
    assert len(made) == 5
    assert all(TOKEN.fullmatch(token) for token in made)


# Revoking ------------------------------------------------------------------------------------


def test_an_auditor_revokes_a_token(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    csrf = signed_in(client, world, clock)
    make_token(client)
    [record] = stored(app)
    clock.advance(minutes=5)
    response = client.post(REVOKE, data={"token_id": str(record.id), "csrf_token": csrf})
    assert response.status_code == 303
    [record] = stored(app)
    assert record.revoked_at == clock()
    assert len(audited(app, "stats.api_token_revoked")) == 1
    page = html(client.get(PAGE))
    assert f'data-token-id="{record.id}" data-status="revoked"' in page
    # Revoking it again changes nothing and is not audited twice.
    client.post(REVOKE, data={"token_id": str(record.id), "csrf_token": csrf})
    assert len(audited(app, "stats.api_token_revoked")) == 1


def test_an_auditor_cannot_revoke_someone_elses_token(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    with app_session(app) as session:
        other = tokens.create_token(
            session, keystore(), world.staff[SECOND_AUDITOR].account, label="x", now=clock()
        )
        other_id = other.record.id
    csrf = signed_in(client, world, clock)
    response = client.post(REVOKE, data={"token_id": str(other_id), "csrf_token": csrf})
    assert response.status_code == 303
    assert "This key does not exist." in html(client.get(PAGE))
    assert all(record.revoked_at is None for record in stored(app))
    assert audited(app, "stats.api_token_revoked") == []
    # Nor does the other auditor's token appear on this auditor's page.
    assert f'data-token-id="{other_id}"' not in html(client.get(PAGE))


def test_revoking_needs_the_csrf_token(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    signed_in(client, world, clock)
    make_token(client)
    [record] = stored(app)
    for data in ({"token_id": str(record.id)}, {"token_id": str(record.id), "csrf_token": "x"}):
        assert client.post(REVOKE, data=data).status_code == 400
    assert stored(app)[0].revoked_at is None


def test_other_staff_cannot_revoke(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    with app_session(app) as session:
        made = tokens.create_token(
            session, keystore(), world.staff[AUDITOR].account, label="x", now=clock()
        )
        token_id = made.record.id
    csrf = signed_in(client, world, clock, ADMIN)
    response = client.post(REVOKE, data={"token_id": str(token_id), "csrf_token": csrf})
    assert response.status_code == 403
    assert stored(app)[0].revoked_at is None


def test_expired_tokens_are_listed_as_expired(
    app: Flask, client: FlaskClient, world: World, clock: Clock
) -> None:
    with app_session(app) as session:
        made = tokens.create_token(
            session, keystore(), world.staff[AUDITOR].account, label="x", now=clock()
        )
        token_id = made.record.id
    clock.advance(days=91)
    signed_in(client, world, clock)
    assert f'data-token-id="{token_id}" data-status="expired"' in html(client.get(PAGE))


# Looking a token up --------------------------------------------------------------------------


def test_a_token_is_found_only_while_active(app: Flask, world: World, clock: Clock) -> None:
    with app_session(app) as session:
        account = world.staff[AUDITOR].account
        made = tokens.create_token(session, keystore(), account, label="x", now=clock())
        assert tokens.active_token(session, made.token, now=clock()) is not None
        assert tokens.active_token(session, made.token + "x", now=clock()) is None
        assert tokens.active_token(session, made.token[:-1], now=clock()) is None
        assert tokens.active_token(session, made.token[4:], now=clock()) is None
        assert tokens.active_token(session, "", now=clock()) is None
        later = clock() + timedelta(days=90)
        assert tokens.active_token(session, made.token, now=later) is None
        tokens.revoke_token(session, keystore(), account, made.record.id, now=clock())
        assert tokens.active_token(session, made.token, now=clock()) is None


def test_last_use_is_recorded(app: Flask, world: World, clock: Clock) -> None:
    with app_session(app) as session:
        account = world.staff[AUDITOR].account
        made = tokens.create_token(session, keystore(), account, label="x", now=clock())
        used = clock() + timedelta(hours=1)
        record = tokens.active_token(session, made.token, now=used)
        assert record is not None
        assert record.last_used_at == used
