"""Starting to serve: a refusal is one line, and it comes before anyone is told we are up.

gunicorn's master binds its socket, tells systemd it is ready (``Type=notify``) and only then
forks the workers, each of which imports ``wsgi`` and builds the application. A worker that
could not build it (no secret key, no key store) exited with status 2; the master answered by
starting another, about once a second, for ever, while clients waited on a socket nobody
served. Two guards, both wired up in ``deploy/gunicorn.conf.py``:

- ``check_before_serving`` runs in the master (gunicorn's ``on_starting`` hook), before it binds
  or says READY. It builds the application once, exactly as a worker will, so every start-up
  check of ``create_app`` runs (one home for them), and a refusal ends gunicorn with status 2.
- A worker that still cannot build the application (something changed after the master
  checked: a reload, a worker recycled after ``max_requests``) exits with gunicorn's
  ``WORKER_BOOT_ERROR``, on which the master stops instead of starting it again.
"""

from __future__ import annotations

import sys
from typing import NoReturn

from flask import Flask

from complaints.logs import get_logger
from complaints.settings import ConfigurationError

# A refusal to start: the settings, policy files or key store do not allow it. systemd units
# can tell it from a crash (RestartPreventExitStatus=2).
EXIT_REFUSED = 2

log = get_logger(__name__)
_in_gunicorn_worker = False


def mark_gunicorn_worker() -> None:
    """Called in each gunicorn worker before it loads the application (``post_fork``)."""
    global _in_gunicorn_worker
    _in_gunicorn_worker = True


def refusal_status() -> int:
    """The exit status of a refused start. In a gunicorn worker gunicorn's halt code: on any
    other status its master starts the worker again, once a second, for ever."""
    if _in_gunicorn_worker:
        from gunicorn.arbiter import Arbiter  # type: ignore[import-untyped]

        return int(Arbiter.WORKER_BOOT_ERROR)
    return EXIT_REFUSED


def refuse(error: ConfigurationError) -> NoReturn:
    """End the process with one line naming the problem: no traceback, nothing secret (the
    messages of ConfigurationError are written for exactly this)."""
    print(f"complaints: cannot start: {error}", file=sys.stderr, flush=True)  # noqa: T201
    raise SystemExit(refusal_status()) from None


def build_or_refuse(*, strict_startup: bool) -> Flask:
    """The application of ``wsgi``, or a one-line refusal."""
    from complaints import create_app

    try:
        return create_app(strict_startup=strict_startup)
    except ConfigurationError as exc:
        refuse(exc)


def check_before_serving() -> None:
    """Build the application once and throw it away, so that a start that must fail fails
    here, before gunicorn listens or tells systemd it is ready. Also warns, without refusing,
    when the rate-limit counters (Redis) do not answer: until they do, log-in, sending a
    report and entering a receipt code are refused with a 503 and ``/readyz`` says so."""
    from complaints.settings import current_settings
    from complaints.web.limits import storage_location, storage_reachable

    app = build_or_refuse(strict_startup=True)
    try:
        with app.app_context():
            if not storage_reachable():
                uri = current_settings().ratelimit_storage_uri
                log.warning("startup.ratelimit_storage_unreachable", storage=storage_location(uri))
    finally:
        # Nothing of this application may be shared with the workers forked later.
        app.extensions["complaints.db"].engine.dispose()
