"""``flask --app wsgi deadlines ...``: deadline reminders (run from cron or a timer)."""

from __future__ import annotations

from flask.cli import AppGroup

group = AppGroup("deadlines", help="Statutory deadlines.")
