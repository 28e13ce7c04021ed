"""The WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi ...``.

Serving (gunicorn, ``flask run``) refuses to start without a usable key store. Other CLI
commands may start without one, so that ``flask --app wsgi keys init`` can create it; each
command that needs keys checks for them itself and fails closed.

A refusal is one line on standard error and exit status 2; in a gunicorn worker gunicorn's
halt code, so that its master stops (``complaints/web/startup.py``).
"""

from __future__ import annotations

import os

import click

from complaints.web.startup import build_or_refuse


def _serving() -> bool:
    context = click.get_current_context(silent=True)
    return context is None or context.command.name == "run"


# Owner-only files from the first one on, also for CLI commands (create_app does the same).
os.umask(0o077)

app = build_or_refuse(strict_startup=_serving())
