"""Forged cross-site requests: every state-changing route, walked from ``app.url_map``.

Each route that takes POST, PUT, PATCH or DELETE is posted to by a principal who may use it
(a holder of the case's grant, a holder of the role, the complainant in an open mailbox, ...),
with a forged token in three ways: none at all, the valid token of another browser's session,
and the principal's own token altered. Every attempt must meet the CSRF refusal page, and the
database must be exactly as before. A request a browser marks ``Sec-Fetch-Site: cross-site`` is
refused even with a valid token. A new state-changing endpoint is attacked automatically; the
walk fails if it finds one it cannot attack and that is not exempted below with a reason.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import Rule

from tests import test_authorization as matrix
from tests.security.conftest import (
    CSRF_REFUSAL,
    attacker,
    body,
    changed,
    database_state,
    mailbox_client,
)

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAILBOX = "/opvolgen/melding"

# Endpoints that change state without a CSRF token, and why that is safe. Empty today: the
# statistics API (bearer tokens, no cookie, so nothing a forged request could ride on) only
# answers GET; should it ever take a write, it must be listed here with its reason.
EXEMPT: dict[str, str] = {}


def unsafe_rules(world: matrix.World) -> list[Rule]:
    return [r for r in world.rules if UNSAFE & (r.methods or set())]


def tampered(token: str) -> list[str]:
    """The token changed the ways an attacker might: its signature, its payload, its time."""
    payload, _, rest = token.partition(".")
    # A character in the middle of the signature (the last one may carry only padding bits).
    middle = len(token) - 10
    return [
        token[:middle] + ("B" if token[middle] == "A" else "A") + token[middle + 1 :],
        ("x" + payload[1:]) + "." + rest,
        token + "A",
        token.split(".")[0],
    ]


def test_no_view_is_exempt_from_csrf(world: matrix.World) -> None:
    csrf = world.app.extensions["csrf"]
    assert not csrf._exempt_views, "views exempted from CSRF protection"
    assert not csrf._exempt_blueprints, "blueprints exempted from CSRF protection"
    assert world.app.config.get("WTF_CSRF_ENABLED", True) is True
    assert world.app.config.get("WTF_CSRF_CHECK_DEFAULT", True) is True
    assert set(EXEMPT) <= {r.endpoint for r in world.rules}, "exemptions of endpoints gone"


def test_forged_csrf_tokens_are_refused_on_every_state_changing_route(world: matrix.World) -> None:
    mailbox = mailbox_client(world)
    other_browser = world.app.test_client()
    foreign = matrix.token(other_browser, False)
    problems: list[str] = []
    attacked: set[str] = set()
    for rule in unsafe_rules(world):
        if rule.endpoint in EXEMPT:
            continue
        who, client, own, values, step = attacker(world, rule, mailbox)
        assert foreign != own
        before = database_state(world.app)
        for method in sorted(UNSAFE & (rule.methods or set())):
            url = matrix.url_for_rule(world, rule, values)
            forgeries = {"no token": None, "another session's token": foreign}
            forgeries.update({f"tampered token {i}": t for i, t in enumerate(tampered(own))})
            for how, forged in forgeries.items():
                data = {} if forged is None else matrix.form_data(forged, step or "x")
                response = client.open(url, method=method, data=data)
                text = body(response)
                if response.status_code != 400 or not any(t in text for t in CSRF_REFUSAL):
                    problems.append(
                        f"{who} × {method} {rule.endpoint} with {how}: {response.status_code}"
                    )
            attacked.add(rule.endpoint)
        after = database_state(world.app)
        if changed(before, after):
            problems.append(f"{rule.endpoint}: the forged posts changed {changed(before, after)}")
    assert not problems, "\n".join(problems)
    # Every state-changing endpoint was attacked or exempted with a reason.
    assert {r.endpoint for r in unsafe_rules(world)} == attacked | set(EXEMPT)
    assert len(attacked) >= 40
    # The principals are still logged in and the mailbox still open: no forged log-out.
    assert world.clients["employee"].get("/account").status_code == 200
    assert mailbox.get(MAILBOX).status_code == 200


def test_cross_site_writes_are_refused_even_with_a_valid_token(world: matrix.World) -> None:
    mailbox = mailbox_client(world)
    problems: list[str] = []
    attacks = [
        (rule, *attacker(world, rule, mailbox))
        for rule in unsafe_rules(world)
        if rule.endpoint not in EXEMPT
    ]
    before = database_state(world.app)
    for rule, who, client, own, values, step in attacks:
        url = matrix.url_for_rule(world, rule, values)
        response = client.post(
            url, data=matrix.form_data(own, step or "x"), headers={"Sec-Fetch-Site": "cross-site"}
        )
        if response.status_code != 403:
            problems.append(f"{who} × POST {rule.endpoint}: {response.status_code}")
    assert not problems, "\n".join(problems)
    assert changed(before, database_state(world.app)) == []
    # Reading from elsewhere (a link) still works, and so does a same-origin write.
    client = world.clients["anonymous"]
    assert client.get("/", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200
    switched = client.post(
        "/taal",
        data={"csrf_token": matrix.token(client, False), "language": "nl", "next": "/"},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert switched.status_code in (302, 303)


def test_the_refusal_check_catches_an_exempted_view(app: Flask) -> None:
    """The control: were a view exempted, its forged post would not meet the refusal page,
    and the exemption would show in the list ``test_no_view_is_exempt_from_csrf`` reads."""
    csrf = app.extensions["csrf"]
    csrf.exempt("complaints.web.views.switch_language")
    client = app.test_client()
    forged = client.post("/taal", data={"language": "en", "next": "/"})
    assert forged.status_code == 303
    assert not any(t in body(forged) for t in CSRF_REFUSAL)
    assert csrf._exempt_views
