"""Staff log-in through the web forms, attacked the way someone would attack it."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from complaints.accounts.models import Account, LoginFailure, StaffSession
from complaints.accounts.services import deactivate_account
from complaints.audit.models import AuditEvent
from complaints.audit.services import Actor
from complaints.crypto.services import keystore
from complaints.web.limits import limiter
from complaints.web.navigation import is_safe_next
from tests.conftest import Clock, app_session
from tests.factories import (
    PASSWORD,
    StaffLogin,
    csrf_token,
    log_in,
    make_account,
    make_org,
    make_person,
    totp_code,
)


@pytest.fixture
def staff(app: Flask, clock: Clock) -> StaffLogin:
    with app_session(app) as session:
        org = make_org(session, clock())
        person = make_person(session, org.directorate, clock(), name="Sanne de Vries")
        return make_account(session, person, clock())


def _post_login(client: FlaskClient, email: str, password: str, **extra: str) -> Any:
    page = client.get("/aanmelden")
    return client.post(
        "/aanmelden",
        data={"email": email, "password": password, "csrf_token": csrf_token(page), **extra},
    )


def _audit_actions(app: Flask) -> list[str]:
    with app_session(app) as session:
        return list(session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.seq)))


def test_account_page_needs_a_log_in(client: FlaskClient) -> None:
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"] == "/aanmelden?next=/account"


def test_first_log_in_enrols_totp_with_a_qr_code(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    with app_session(app) as session:
        org = make_org(session, clock())
        staff = make_account(
            session,
            make_person(session, org.directorate, clock(), name="Fatima Ouali"),
            clock(),
            enrolled=False,
        )
    response = _post_login(client, staff.account.login, PASSWORD)
    assert response.status_code == 303
    assert response.headers["Location"] == "/aanmelden/code-instellen"
    page = client.get("/aanmelden/code-instellen")
    html = page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert 'src="data:image/svg+xml' in html
    key_match = re.search(r"<code>([A-Z2-7 ]+)</code>", html)
    assert key_match
    secret = key_match.group(1).replace(" ", "")
    # Reloading keeps the same key: a code scanned a moment ago must stay valid.
    assert secret in client.get("/aanmelden/code-instellen").get_data(as_text=True).replace(" ", "")
    wrong = client.post(
        "/aanmelden/code-instellen", data={"code": "000000", "csrf_token": csrf_token(page)}
    )
    assert wrong.status_code == 200
    assert "aria-invalid" in wrong.get_data(as_text=True)
    done = client.post(
        "/aanmelden/code-instellen",
        data={"code": totp_code(secret, clock()), "csrf_token": csrf_token(wrong)},
    )
    assert done.status_code == 303
    assert done.headers["Location"] == "/account"
    account_page = client.get("/account")
    assert account_page.status_code == 200
    assert "Fatima Ouali" in account_page.get_data(as_text=True)
    assert account_page.headers["Cache-Control"] == "no-store"
    actions = _audit_actions(app)
    assert "auth.totp_enrolled" in actions
    assert actions[-1] == "auth.login"


def test_temporary_password_must_be_changed_first(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    with app_session(app) as session:
        org = make_org(session, clock())
        staff = make_account(
            session,
            make_person(session, org.directorate, clock()),
            clock(),
            must_change_password=True,
        )
    response = _post_login(client, staff.account.login, PASSWORD)
    assert response.headers["Location"] == "/aanmelden/nieuw-wachtwoord"
    # The second factor cannot be skipped to by URL.
    assert client.get("/aanmelden/code").headers["Location"] == "/aanmelden/nieuw-wachtwoord"
    page = client.get("/aanmelden/nieuw-wachtwoord")
    short = client.post(
        "/aanmelden/nieuw-wachtwoord",
        data={"password": "kort", "confirm": "kort", "csrf_token": csrf_token(page)},
    )
    assert short.status_code == 200
    assert "aria-invalid" in short.get_data(as_text=True)
    new = "mijn eigen lange wachtwoord"
    saved = client.post(
        "/aanmelden/nieuw-wachtwoord",
        data={"password": new, "confirm": new, "csrf_token": csrf_token(short)},
    )
    assert saved.headers["Location"] == "/aanmelden/code"
    assert staff.totp_secret is not None
    page = client.get("/aanmelden/code")
    done = client.post(
        "/aanmelden/code",
        data={"code": totp_code(staff.totp_secret, clock()), "csrf_token": csrf_token(page)},
    )
    assert done.headers["Location"] == "/account"


def _without_tokens(html: str) -> str:
    return re.sub(r'value="[^"]*"', 'value=""', html)


def test_no_user_enumeration(
    app: Flask, client: FlaskClient, staff: StaffLogin, clock: Clock
) -> None:
    unknown = _post_login(client, "niemand@example.org", "wrong password here")
    wrong = _post_login(client, staff.account.login, "wrong password here")
    assert unknown.status_code == wrong.status_code == 200
    assert _without_tokens(unknown.get_data(as_text=True)).replace("niemand@example.org", "X") == (
        _without_tokens(wrong.get_data(as_text=True)).replace(staff.account.login, "X")
    )
    # Once the client has to wait, an unknown name and a real one (even with the right
    # password) still look the same.
    for _ in range(5):
        _post_login(client, staff.account.login, "wrong password here")
        _post_login(client, "niemand@example.org", "wrong password here")
    # About the throttle's waits, not the request limit (ten posts a minute), which the posts
    # above used up and whose 429 page is the same for everyone anyway.
    limiter.reset()
    waiting = _post_login(client, staff.account.login, PASSWORD)
    unknown_waiting = _post_login(client, "niemand@example.org", "wrong password here")
    assert "Wacht" in waiting.get_data(as_text=True)
    assert _without_tokens(waiting.get_data(as_text=True)).replace(staff.account.login, "X") == (
        _without_tokens(unknown_waiting.get_data(as_text=True)).replace("niemand@example.org", "X")
    )
    # The password typed is never echoed back.
    assert "wrong password here" not in wrong.get_data(as_text=True)


def test_forged_csrf_is_refused(
    app: Flask, client: FlaskClient, staff: StaffLogin, clock: Clock
) -> None:
    no_token = client.post("/aanmelden", data={"email": staff.account.login, "password": PASSWORD})
    assert no_token.status_code == 400
    other = app.test_client()
    stolen = csrf_token(other.get("/aanmelden"))
    foreign = client.post(
        "/aanmelden",
        data={"email": staff.account.login, "password": PASSWORD, "csrf_token": stolen},
    )
    assert foreign.status_code == 400
    assert "auth.login" not in _audit_actions(app)

    log_in(client, staff, clock())
    forged_logout = client.post("/afmelden", data={})
    assert forged_logout.status_code == 400
    assert client.get("/account").status_code == 200  # still logged in
    cross_site = client.post(
        "/afmelden",
        data={"csrf_token": csrf_token(client.get("/account"))},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert cross_site.status_code == 403
    assert client.get("/account").status_code == 200


def test_log_out_ends_the_session_on_the_server(
    app: Flask, client: FlaskClient, staff: StaffLogin, clock: Clock
) -> None:
    log_in(client, staff, clock())
    cookie = client.get_cookie("session")
    assert cookie is not None
    stolen_value = cookie.value
    response = client.post("/afmelden", data={"csrf_token": csrf_token(client.get("/account"))})
    assert response.status_code == 303
    assert client.get("/account").status_code == 302
    # Someone who copied the cookie before log-out gets nothing with it afterwards.
    replay = app.test_client()
    replay.set_cookie("session", stolen_value)
    assert replay.get("/account").status_code == 302
    assert _audit_actions(app)[-1] == "auth.logout"


def test_session_fixation_is_not_possible(
    app: Flask, client: FlaskClient, staff: StaffLogin, clock: Clock
) -> None:
    client.get("/aanmelden")
    planted = client.get_cookie("session")
    assert planted is not None
    _post_login(client, staff.account.login, PASSWORD)
    pending = client.get_cookie("session")
    assert pending is not None
    assert pending.value != planted.value
    # Half-way (password only) is not logged in.
    assert client.get("/account").status_code == 302
    half = app.test_client()
    half.set_cookie("session", pending.value)
    assert half.get("/account").status_code == 302
    assert staff.totp_secret is not None
    page = client.get("/aanmelden/code")
    client.post(
        "/aanmelden/code",
        data={"code": totp_code(staff.totp_secret, clock()), "csrf_token": csrf_token(page)},
    )
    full = client.get_cookie("session")
    assert full is not None
    assert full.value not in {planted.value, pending.value}
    # The pending cookie does not turn into a log-in either.
    assert half.get("/account").status_code == 302


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        " /account",
        "/account\r\nX: y",
        "http:/evil.example",
    ],
)
def test_unsafe_next_targets_are_refused(target: str) -> None:
    assert not is_safe_next(target)


@pytest.mark.parametrize("target", ["/account", "/account/wachtwoord", "/zaken?pagina=2", "/"])
def test_local_next_targets_are_allowed(target: str) -> None:
    assert is_safe_next(target)


def test_log_in_redirects_only_to_local_pages(app: Flask, clock: Clock, staff: StaffLogin) -> None:
    evil = app.test_client()
    assert (
        log_in(evil, staff, clock(), next_url="//evil.example/").headers["Location"] == "/account"
    )
    clock.advance(seconds=30)
    good = app.test_client()
    assert (
        log_in(good, staff, clock(), next_url="/account/wachtwoord").headers["Location"]
        == "/account/wachtwoord"
    )


def test_idle_session_ends(
    app: Flask, client: FlaskClient, staff: StaffLogin, clock: Clock
) -> None:
    log_in(client, staff, clock())
    clock.advance(minutes=29)
    assert client.get("/account").status_code == 200
    clock.advance(minutes=31)
    response = client.get("/account")
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    assert "sessie is beëindigd" in page.get_data(as_text=True)


def test_deactivation_ends_a_live_session(
    app: Flask, client: FlaskClient, staff: StaffLogin, clock: Clock
) -> None:
    log_in(client, staff, clock())
    assert client.get("/account").status_code == 200
    with app_session(app) as session:
        account = session.get(Account, staff.account.id)
        assert account is not None
        deactivate_account(session, keystore(), account, actor=Actor.operator(), now=clock())
    assert client.get("/account").status_code == 302


def test_ending_other_sessions(app: Flask, staff: StaffLogin, clock: Clock) -> None:
    laptop, phone = app.test_client(), app.test_client()
    log_in(laptop, staff, clock())
    clock.advance(seconds=30)
    log_in(phone, staff, clock())
    page = laptop.get("/account")
    assert page.get_data(as_text=True).count("<tr>") == 3  # header + two sessions
    laptop.post("/account/sessies-beeindigen", data={"csrf_token": csrf_token(page)})
    assert laptop.get("/account").status_code == 200
    assert phone.get("/account").status_code == 302
    with app_session(app) as session:
        reasons = set(session.scalars(sa.select(StaffSession.revoke_reason)))
    assert "ended_by_user" in reasons


def test_changing_password_needs_the_current_one(
    app: Flask, client: FlaskClient, staff: StaffLogin, clock: Clock
) -> None:
    log_in(client, staff, clock())
    page = client.get("/account/wachtwoord")
    new = "een gloednieuw wachtwoord"
    wrong = client.post(
        "/account/wachtwoord",
        data={
            "current": "not it at all!",
            "password": new,
            "confirm": new,
            "csrf_token": csrf_token(page),
        },
    )
    assert wrong.status_code == 200
    assert "aria-invalid" in wrong.get_data(as_text=True)
    ok = client.post(
        "/account/wachtwoord",
        data={
            "current": PASSWORD,
            "password": new,
            "confirm": new,
            "csrf_token": csrf_token(wrong),
        },
    )
    assert ok.status_code == 303
    assert "account.password_changed" in _audit_actions(app)


def test_wrong_totp_codes_make_this_client_wait_and_say_how_long(
    app: Flask, client: FlaskClient, staff: StaffLogin, clock: Clock
) -> None:
    _post_login(client, staff.account.login, PASSWORD)
    page = client.get("/aanmelden/code")
    for _ in range(5):
        page = client.post(
            "/aanmelden/code", data={"code": "123456", "csrf_token": csrf_token(page)}
        )
        assert page.status_code == 200
    assert "Wacht 30 seconden" in page.get_data(as_text=True)
    assert staff.totp_secret is not None
    right = client.post(
        "/aanmelden/code",
        data={"code": totp_code(staff.totp_secret, clock()), "csrf_token": csrf_token(page)},
    )
    # This client waits, even with the right code, and is told so.
    assert right.status_code == 200
    assert "Te veel mislukte pogingen" in right.get_data(as_text=True)
    assert client.get("/account").status_code == 302
    clock.advance(seconds=61)
    later = client.get("/aanmelden/code")
    done = client.post(
        "/aanmelden/code",
        data={"code": totp_code(staff.totp_secret, clock()), "csrf_token": csrf_token(later)},
    )
    assert done.status_code == 303
    # Wrong codes mean someone had the password: the account page says so.
    assert "5 van deze pogingen hadden uw wachtwoord goed" in client.get("/account").get_data(
        as_text=True
    )


def test_a_reused_code_says_wait_for_the_next_one(
    app: Flask, client: FlaskClient, staff: StaffLogin, clock: Clock
) -> None:
    log_in(client, staff, clock())
    page = client.get("/account")
    client.post("/afmelden", data={"csrf_token": csrf_token(page)})
    clock.advance(seconds=5)
    _post_login(client, staff.account.login, PASSWORD)
    page = client.get("/aanmelden/code")
    assert staff.totp_secret is not None
    again = client.post(
        "/aanmelden/code",
        data={"code": totp_code(staff.totp_secret, clock()), "csrf_token": csrf_token(page)},
    )
    html = again.get_data(as_text=True)
    assert again.status_code == 200
    assert "Deze code is net gebruikt. Wacht op de volgende code" in html
    assert "niet juist" not in html
    assert "Te veel" not in html
    english = app.test_client()
    english.set_cookie("taal", "en")
    log_in(english, staff, clock() + timedelta(seconds=30))
    page = english.get("/account")
    english.post("/afmelden", data={"csrf_token": csrf_token(page)})
    _post_login(english, staff.account.login, PASSWORD)
    page = english.get("/aanmelden/code")
    again = english.post(
        "/aanmelden/code",
        data={
            "code": totp_code(staff.totp_secret, clock() + timedelta(seconds=30)),
            "csrf_token": csrf_token(page),
        },
    )
    assert "This code has just been used. Wait for the next code" in again.get_data(as_text=True)


ATTACKER_ADDRESS = "203.0.113.66"
OWNER_ADDRESS = "198.51.100.7"


def _client_at(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


class TestLockOutAttack:
    """Someone who knows a counsellor's name (it is on the form) tries to keep them out."""

    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        # The request rate limit would stop the attacker after ten posts a minute; this is about
        # what the log-in itself does with the attempts that reach it.
        return {"login_rate_limit": "1000 per minute"}

    @pytest.mark.parametrize(
        ("owner_address", "owner_gets_in"),
        [
            pytest.param(OWNER_ADDRESS, True, id="owner-elsewhere"),
            # Control: the owner on the attacker's address is a client the log-in cannot tell
            # from the attacker's, which is what a per-account lock does to every client. The
            # owner is kept out, so the assertion would catch a return of that lock.
            pytest.param(ATTACKER_ADDRESS, False, id="control-indistinguishable-client"),
        ],
    )
    def test_fifty_wrong_passwords_do_not_keep_the_owner_out(
        self,
        app: Flask,
        staff: StaffLogin,
        clock: Clock,
        owner_address: str,
        owner_gets_in: bool,
    ) -> None:
        attacker = _client_at(app, ATTACKER_ADDRESS)
        answers = [
            _post_login(attacker, staff.account.login, f"guess number {i:02}").get_data(
                as_text=True
            )
            for i in range(50)
        ]
        assert all("Inloggen mislukt" in html for html in answers)
        # The attacking client itself is throttled: refused unheard, and told how long to wait.
        assert sum("Te veel mislukte pogingen" in html for html in answers) == 45
        assert "Wacht 15 minuten" in answers[-1]
        right = _post_login(attacker, staff.account.login, PASSWORD)
        assert right.status_code == 200
        assert "Te veel mislukte pogingen" in right.get_data(as_text=True)

        owner = _client_at(app, owner_address)
        page = owner.get("/aanmelden")
        response = owner.post(
            "/aanmelden",
            data={
                "email": staff.account.login,
                "password": PASSWORD,
                "csrf_token": csrf_token(page),
            },
        )
        if not owner_gets_in:
            assert response.status_code == 200
            assert "Te veel mislukte pogingen" in response.get_data(as_text=True)
            return
        assert response.status_code == 303
        page = owner.get("/aanmelden/code")
        assert staff.totp_secret is not None
        done = owner.post(
            "/aanmelden/code",
            data={"code": totp_code(staff.totp_secret, clock()), "csrf_token": csrf_token(page)},
        )
        assert done.status_code == 303
        assert done.headers["Location"] == "/account"

        # The owner sees what happened: 50 failed attempts (the 51st too), one client, no
        # address.
        html = owner.get("/account").get_data(as_text=True)
        assert "51 mislukte pogingen om in te loggen op uw account" in html
        assert "1 apparaat of netwerk" in html
        assert ATTACKER_ADDRESS not in html
        with app_session(app) as session:
            failed = session.scalars(
                sa.select(AuditEvent).where(AuditEvent.action == "auth.login_failed")
            ).all()
            stored = session.scalars(sa.select(LoginFailure.client_key)).all()
        # Every attempt is still an audit event, and no address is stored anywhere.
        assert len(failed) == 51
        assert len(set(stored)) == 1
        assert all(re.fullmatch("[0-9a-f]{32}", key) for key in stored)

    @pytest.mark.parametrize(
        ("browser", "owner_gets_in"),
        [
            pytest.param("known", True, id="owners-own-browser"),
            # Control: the same owner at the same address in a browser that never logged in
            # is the attacker's client as far as the log-in can tell, and waits.
            pytest.param("fresh", False, id="control-fresh-browser"),
        ],
    )
    def test_an_attacker_in_the_owners_office_network_does_not_keep_the_owner_out(
        self, app: Flask, staff: StaffLogin, clock: Clock, browser: str, owner_gets_in: bool
    ) -> None:
        office = "192.0.2.50"  # one NAT address for the whole office
        owner = _client_at(app, office)
        log_in(owner, staff, clock())
        page = owner.get("/account")
        owner.post("/afmelden", data={"csrf_token": csrf_token(page)})
        clock.advance(minutes=1)
        colleague = _client_at(app, office)
        for i in range(50):
            _post_login(colleague, staff.account.login, f"guess number {i:02}")
        if browser == "fresh":
            owner = _client_at(app, office)
        response = _post_login(owner, staff.account.login, PASSWORD)
        if not owner_gets_in:
            assert "Te veel mislukte pogingen" in response.get_data(as_text=True)
            return
        assert response.status_code == 303
        page = owner.get("/aanmelden/code")
        assert staff.totp_secret is not None
        done = owner.post(
            "/aanmelden/code",
            data={"code": totp_code(staff.totp_secret, clock()), "csrf_token": csrf_token(page)},
        )
        assert done.status_code == 303
        assert "Te veel" in _post_login(colleague, staff.account.login, PASSWORD).get_data(
            as_text=True
        )

    def test_a_forged_known_device_cookie_is_just_an_address(
        self, app: Flask, staff: StaffLogin, clock: Clock
    ) -> None:
        attacker = _client_at(app, ATTACKER_ADDRESS)
        attacker.set_cookie(
            "bekend_apparaat", f'[{staff.account.id}, "made-up"]', path="/aanmelden"
        )
        for i in range(6):
            _post_login(attacker, staff.account.login, f"guess number {i:02}")
        assert "Te veel" in _post_login(attacker, staff.account.login, PASSWORD).get_data(
            as_text=True
        )

    def test_the_account_page_counts_since_the_previous_log_in(
        self, app: Flask, staff: StaffLogin, clock: Clock
    ) -> None:
        owner = _client_at(app, OWNER_ADDRESS)
        log_in(owner, staff, clock())
        assert "Geen mislukte pogingen." in owner.get("/account").get_data(as_text=True)
        clock.advance(minutes=1)
        for i, address in enumerate(("192.0.2.1", "192.0.2.2", "192.0.2.3")):
            _post_login(_client_at(app, address), staff.account.login, f"wrong guess {i}!!")
        html = owner.get("/account").get_data(as_text=True)
        assert "3 mislukte pogingen" in html
        assert "3 verschillende apparaten of netwerken" in html
        page = owner.get("/account")
        owner.post("/afmelden", data={"csrf_token": csrf_token(page)})
        clock.advance(minutes=5)
        log_in(owner, staff, clock())
        html = owner.get("/account").get_data(as_text=True)
        # Still shown right after the next log-in: they happened since the one before.
        assert "3 mislukte pogingen" in html
        page = owner.get("/account")
        owner.post("/afmelden", data={"csrf_token": csrf_token(page)})
        clock.advance(minutes=5)
        log_in(owner, staff, clock())
        assert "Geen mislukte pogingen sinds uw vorige aanmelding" in owner.get(
            "/account"
        ).get_data(as_text=True)

    def test_spraying_many_accounts_from_one_client_is_throttled(
        self, app: Flask, staff: StaffLogin, clock: Clock
    ) -> None:
        with app_session(app) as session:
            org = make_org(session, clock(), code="SPR")
            logins = [
                make_account(
                    session, make_person(session, org.directorate, clock()), clock()
                ).account.login
                for _ in range(25)
            ]
        sprayer = _client_at(app, ATTACKER_ADDRESS)
        answers = [
            _post_login(sprayer, login, "Zomer2026!Zomer").get_data(as_text=True)
            for login in logins
        ]
        assert sum("Te veel mislukte pogingen" in html for html in answers) == 5
        # The sprayer waits for every name now, the owner elsewhere not at all.
        assert "Te veel mislukte pogingen" in _post_login(
            sprayer, staff.account.login, PASSWORD
        ).get_data(as_text=True)
        assert log_in(_client_at(app, OWNER_ADDRESS), staff, clock()).status_code == 303


class TestRateLimitBehindOneAddress:
    """The request limit counts per address: a browser that logged in before is not held to
    the office NAT's shared count, which an attacker there could use up."""

    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"login_rate_limit": "3 per minute"}

    def test_a_known_browser_is_not_held_to_the_shared_limit(
        self, app: Flask, staff: StaffLogin, clock: Clock
    ) -> None:
        owner = _client_at(app, "192.0.2.50")
        log_in(owner, staff, clock())
        page = owner.get("/account")
        owner.post("/afmelden", data={"csrf_token": csrf_token(page)})
        colleague = _client_at(app, "192.0.2.50")
        statuses = [
            _post_login(colleague, staff.account.login, "wrong password here").status_code
            for _ in range(4)
        ]
        assert statuses == [200, 200, 429, 429]  # the owner's log-in used one
        assert (
            _post_login(_client_at(app, "192.0.2.50"), staff.account.login, PASSWORD).status_code
            == 429
        )
        clock.advance(seconds=30)
        assert log_in(owner, staff, clock()).status_code == 303


class TestRateLimit:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"login_rate_limit": "3 per minute"}

    def test_log_in_attempts_are_rate_limited(self, client: FlaskClient, staff: StaffLogin) -> None:
        statuses = [
            _post_login(client, f"x{i}@example.org", "wrong password here").status_code
            for i in range(4)
        ]
        assert statuses == [200, 200, 200, 429]
        page = _post_login(client, staff.account.login, PASSWORD)
        assert page.status_code == 429
        assert "Te veel pogingen" in page.get_data(as_text=True)
