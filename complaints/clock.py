"""The application clock: one injectable source of "now" for views and commands.

Services never read the clock themselves; they take ``now`` as an argument. Views and CLI
commands ask :func:`now`, which tests (and ``--as-of`` options) can replace.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask, current_app


def utcnow() -> datetime:
    return datetime.now(UTC)


def now() -> datetime:
    """The current time in UTC, from the clock the application was given."""
    clock: Callable[[], datetime] = current_app.extensions.get("complaints.clock", utcnow)
    return clock()


def set_clock(app: Flask, clock: Callable[[], datetime]) -> None:
    app.extensions["complaints.clock"] = clock
