"""Rate limits (Flask-Limiter). Counters are keyed by a keyed hash of the client address,
so neither memory nor Redis ever holds an IP address."""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app, request
from flask_limiter import Limiter


def client_key() -> str:
    secret: bytes = current_app.extensions["complaints.ratelimit_key"]
    address = (request.remote_addr or "unknown").encode()
    return hmac.new(secret, address, hashlib.sha256).hexdigest()[:32]


limiter = Limiter(key_func=client_key)
