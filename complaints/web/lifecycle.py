"""The request life cycle: one transaction per request, and one log line per request."""

from __future__ import annotations

import secrets
import time
from types import TracebackType

import structlog
from flask import Flask, Response, g, request
from flask.typing import ResponseReturnValue

from complaints import db
from complaints.logs import get_logger

log = get_logger("complaints.request")


class ComplaintsFlask(Flask):
    def dispatch_request(self) -> ResponseReturnValue:
        """Run the view, then commit its unit of work. An exception rolls it back instead.

        Committing here, rather than after the response is built, means a failed commit
        reaches the error handlers (a 503 page) and nothing after it pretends to have saved.
        """
        result = super().dispatch_request()
        db.commit()
        return result

    def log_exception(
        self, exc_info: tuple[type, BaseException, TracebackType] | tuple[None, None, None]
    ) -> None:
        """Flask logs every unhandled exception with its message and traceback. An outage of
        the database, the key store or the rate-limit counters is answered with a 503 and
        logged in one line by class (``complaints/web/errors.py``): its message may quote the
        statement being run or the address of a server, and it is not a bug to trace."""
        from complaints.web.errors import service_unavailable

        error = exc_info[1]
        if error is not None and service_unavailable(error):
            return
        super().log_exception(exc_info)


def init_app(app: Flask) -> None:
    @app.before_request
    def start_request_log() -> None:
        g.request_started = time.perf_counter()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=secrets.token_hex(8))

    @app.after_request
    def write_request_log(response: Response) -> Response:
        if request.endpoint != "static":
            elapsed = time.perf_counter() - g.get("request_started", time.perf_counter())
            # The route pattern, not the path: a mistyped URL could hold anything.
            log.info(
                "request",
                method=request.method,
                route=request.url_rule.rule if request.url_rule else None,
                status=response.status_code,
                duration_ms=round(elapsed * 1000, 1),
            )
        return response
