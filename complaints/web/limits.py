"""Rate limits (Flask-Limiter). Counters are keyed by a keyed hash of the client address,
so neither memory nor Redis ever holds an IP address.

When the counters' storage (Redis) cannot be reached, a limited request fails closed: it is
refused with a 503 (``complaints/web/errors.py``), never let through uncounted. Failing open
(Flask-Limiter's ``swallow_errors``) would make receipt-code and password guessing unlimited
for as long as Redis is down, and an attacker can often arrange that; the in-memory fallback
would quietly multiply every limit by the number of workers and hosts, and reset it whenever
a worker restarts. See docs/security.md ("Rate limits when Redis is down").
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from flask import Flask, current_app, request
from flask_limiter import Limiter
from limits import parse
from limits.errors import StorageError

from complaints.settings import Settings

# Seconds to wait for Redis before a request is answered with 503 (and /readyz says so):
# well inside gunicorn's 30 s request time-out, long enough for a busy but healthy Redis.
STORAGE_TIMEOUT_SECONDS = 2
_REDIS_SCHEMES = ("redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster", "valkey")


def client_key() -> str:
    secret: bytes = current_app.extensions["complaints.ratelimit_key"]
    address = (request.remote_addr or "unknown").encode()
    return hmac.new(secret, address, hashlib.sha256).hexdigest()[:32]


limiter = Limiter(key_func=client_key)


def storage_options(uri: str) -> dict[str, str | int]:
    """Options for the counters' storage: every storage error raised as ``StorageError``
    (whatever the backend), and a Redis that does not answer given up on quickly instead of
    holding the worker until the request times out."""
    options: dict[str, str | int] = {"wrap_exceptions": True}
    if urlsplit(uri).scheme.startswith(_REDIS_SCHEMES):
        options.update(
            socket_connect_timeout=STORAGE_TIMEOUT_SECONDS, socket_timeout=STORAGE_TIMEOUT_SECONDS
        )
    return options


def init_app(app: Flask, settings: Settings) -> None:
    app.config.update(
        RATELIMIT_STORAGE_OPTIONS=storage_options(settings.ratelimit_storage_uri),
        # Fail closed, explicitly (see the module docstring): no swallowing, no fallback.
        RATELIMIT_SWALLOW_ERRORS=False,
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=False,
    )
    limiter.init_app(app)


def storage_reachable() -> bool:
    """Whether the counters' storage answers (a Redis PING; memory always does)."""
    try:
        return bool(limiter.storage.check())
    except StorageError:
        return False


def storage_location(uri: str) -> str:
    """The storage URI without its password, for a log line."""
    parts = urlsplit(uri)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def spend(limit: str, scope: str) -> bool:
    """Count one use of ``limit`` for this client under ``scope``; False once it is used up.

    For one action among several on the same form (the search button of a report step), where
    a decorator would count every post of the form.
    """
    return limiter.limiter.hit(parse(limit), "complaints", scope, client_key())
