"""The WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi ...``.

Serving (gunicorn, ``flask run``) refuses to start without a usable key store. Other CLI
commands may start without one, so that ``flask --app wsgi keys init`` can create it; each
command that needs keys checks for them itself and fails closed.
"""

from __future__ import annotations

import os
import sys

import click

from complaints import create_app
from complaints.settings import ConfigurationError


def _serving() -> bool:
    context = click.get_current_context(silent=True)
    return context is None or context.command.name == "run"


# Owner-only files from the first one on, also for CLI commands (create_app does the same).
os.umask(0o077)

try:
    app = create_app(strict_startup=_serving())
except ConfigurationError as exc:
    print(f"complaints: cannot start: {exc}", file=sys.stderr)  # noqa: T201
    raise SystemExit(2) from None
