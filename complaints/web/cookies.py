"""Renewing the cookie session at a staff log-in and log-out.

Against session fixation nothing from before a log-in may carry over, and nothing may outlive
a log-out. Other parts of the application keep things of their own in the same cookie: the
follow-up mailbox (a server-side session that must then end on the server as well) and a report
in progress (which someone may still want to finish after logging in). They say so here, when
their blueprint is imported, instead of the log-in code knowing about them.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import session as cookie_session

_kept_at_login: set[str] = set()
_on_renewal: list[Callable[[], None]] = []


def keep_at_login(key: str) -> None:
    """``key`` survives a log-in (never a log-out): it names nothing the log-in changes."""
    _kept_at_login.add(key)


def on_renewal(callback: Callable[[], None]) -> Callable[[], None]:
    """Run ``callback`` before the cookie session is renewed, while it can still read it."""
    if callback not in _on_renewal:
        _on_renewal.append(callback)
    return callback


def renew(*, logging_out: bool) -> None:
    for callback in _on_renewal:
        callback()
    kept = (
        {} if logging_out else {k: cookie_session[k] for k in _kept_at_login if k in cookie_session}
    )
    cookie_session.clear()
    cookie_session.update(kept)
