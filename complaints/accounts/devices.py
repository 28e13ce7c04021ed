"""Known devices: a browser that has logged in to an account is a client of its own there.

The log-in throttle tells clients apart by their address, so an attacker behind the same office
NAT as the account holder would make the holder wait too. A browser that completed a log-in
gets a signed, HttpOnly cookie naming the account and a random token; on that account, and only
there, its attempts are throttled under a keyed hash of the token instead of the address, and
the request rate limit (shared by everyone behind the address) does not apply to them. The
cookie cannot be forged without ``SECRET_KEY`` and lets nobody in: the password and the code
are still needed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from complaints.accounts.throttle import KnownDevice
from complaints.web.limits import client_key

KNOWN_DEVICE_COOKIE = "bekend_apparaat"
KNOWN_DEVICE_DAYS = 90
_SALT = "known-device"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "", salt=_SALT)


def known_device() -> KnownDevice | None:
    """The account this browser logged in to before, with its client key there; None if the
    cookie is missing, forged or too old."""
    raw = request.cookies.get(KNOWN_DEVICE_COOKIE)
    if not raw:
        return None
    try:
        account_id, token = _serializer().loads(raw, max_age=KNOWN_DEVICE_DAYS * 86_400)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(account_id, int) or not isinstance(token, str):
        return None
    secret: bytes = current_app.extensions["complaints.ratelimit_key"]
    key = hmac.new(secret, b"known-device:" + token.encode(), hashlib.sha256).hexdigest()[:32]
    return KnownDevice(account_id, key)


def login_client(account_id: int | None) -> str:
    """The client key a log-in attempt on ``account_id`` is throttled under."""
    device = known_device()
    if device is not None and account_id is not None and device.account_id == account_id:
        return device.client_key
    return client_key()


def remember_device(response: Response, account_id: int) -> None:
    """After a complete log-in: this browser is a known device of the account from now on."""
    value = _serializer().dumps([account_id, secrets.token_urlsafe(16)])
    response.set_cookie(
        KNOWN_DEVICE_COOKIE,
        value,
        max_age=KNOWN_DEVICE_DAYS * 86_400,
        path="/aanmelden",
        httponly=True,
        samesite="Strict",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
