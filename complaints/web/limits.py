"""Rate limits (Flask-Limiter). Counters are keyed by a keyed hash of the client address,
so neither memory nor Redis ever holds an IP address."""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app, request
from flask_limiter import Limiter
from limits import parse


def client_key() -> str:
    secret: bytes = current_app.extensions["complaints.ratelimit_key"]
    address = (request.remote_addr or "unknown").encode()
    return hmac.new(secret, address, hashlib.sha256).hexdigest()[:32]


limiter = Limiter(key_func=client_key)


def spend(limit: str, scope: str) -> bool:
    """Count one use of ``limit`` for this client under ``scope``; False once it is used up.

    For one action among several on the same form (the search button of a report step), where
    a decorator would count every post of the form.
    """
    return limiter.limiter.hit(parse(limit), "complaints", scope, client_key())
