"""Rate limits (Flask-Limiter). Counters are keyed by a keyed hash of the client address,
so neither memory nor Redis ever holds an IP address.

When the counters' storage (Redis) cannot be reached, a limited request fails closed: it is
refused with a 503 (``complaints/web/errors.py``), never let through uncounted. Failing open
(Flask-Limiter's ``swallow_errors``) would make receipt-code and password guessing unlimited
for as long as Redis is down, and an attacker can often arrange that; the in-memory fallback
would quietly multiply every limit by the number of workers and hosts, and reset it whenever
a worker restarts. See docs/security.md ("Rate limits when Redis is down").

Limits that stop guessing, not people: the receipt-code limits count codes that did not open a
mailbox (a successful open never counts), and no limit counts a request it refused itself, so
hammering a closed door neither lengthens the wait nor uses up a ceiling shared by everyone
(``deduct_when=counted``). Every refusal says when the client may try again
(``seconds_until_retry``, from the limiter's own windows).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter
from limits import parse
from limits.errors import StorageError

from complaints.settings import Settings

# Seconds to wait for Redis before a request is answered with 503 (and /readyz says so):
# well inside gunicorn's 30 s request time-out, long enough for a busy but healthy Redis.
STORAGE_TIMEOUT_SECONDS = 2
_REDIS_SCHEMES = ("redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster", "valkey")


def keyed(value: str) -> str:
    """A limiter key for ``value``: a keyed hash, so no counter names what it counts."""
    secret: bytes = current_app.extensions["complaints.ratelimit_key"]
    return hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()[:32]


def client_key() -> str:
    return keyed(request.remote_addr or "unknown")


limiter = Limiter(key_func=client_key)

_SPARED = "complaints.ratelimit_spared"


def spare_this_request() -> None:
    """Let this request count against no limit marked ``deduct_when=counted``: the receipt
    code it carried opened its mailbox, which is not guessing."""
    setattr(g, _SPARED, True)


def counted(response: Response) -> bool:
    """For ``deduct_when``: whether the request that got ``response`` counts. Every answer does
    (an error too: a guess that broke something is still a guess), except the limiter's own
    refusal (429), a 503 (nothing was tried: the database or the counters were down) and a
    request the view spared."""
    return response.status_code not in (429, 503) and not g.get(_SPARED, False)


def count_now() -> None:
    """Count this request at once against its ``deduct_when`` limits, instead of after the
    answer. For a view whose answer must not be lost afterwards: were the counters to fail
    after the view committed, the answer would become a 503 (a report sent, its receipt code,
    shown only once, never seen). Only a request no limit refused gets here, so a refusal still
    counts nowhere."""
    # Flask-Limiter keeps the limits it only tested in its per-request context, to count them
    # in its after-request hook; counted here, they are taken out so nothing counts twice.
    pending = limiter.context.conditional_deductions
    for limit, args in list(pending.items()):
        limiter.limiter.hit(limit.limit, *args, cost=limit.deduction_amount)
    pending.clear()


def seconds_until_retry() -> int | None:
    """Whole seconds until every limit this request ran into has room again (from the
    limiter's windows, so from its reset times); None when no limit was reached."""
    # The window's own reset time: ``reset_at`` adds a second to it.
    resets = [limit.window.reset_time for limit in limiter.current_limits if limit.breached]
    if not resets:
        return None
    return max(1, math.ceil(max(resets) - time.time()))


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
        # Look at every limit of a request, not only up to the first that is reached, so the
        # wait a refusal gives is the longest of them: tried again then, it goes through.
        RATELIMIT_FAIL_ON_FIRST_BREACH=False,
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
