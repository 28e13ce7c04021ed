"""Error pages: a plain, translated explanation and a way on. Never a stack trace."""

from __future__ import annotations

import math
from datetime import timedelta

from babel.dates import TIMEDELTA_UNITS
from flask import Blueprint, Flask, Response, flash, g, redirect, render_template, request, url_for
from flask_babel import format_timedelta
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from limits.errors import StorageError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response as BaseResponse

from complaints import db
from complaints.crypto.keystore import KeyStoreUnavailable
from complaints.logs import get_logger
from complaints.settings import current_settings
from complaints.web.i18n import _
from complaints.web.limits import seconds_until_retry

log = get_logger(__name__)

# How long a client is asked to wait before trying again after a 503 (seconds).
RETRY_AFTER_SECONDS = 120
# A wait is said in the largest unit it holds at least twice: "in 90 seconds", "in 42
# minutes", "in 3 hours".
_WAIT_THRESHOLD = 2

FALLBACK_PAGE = (
    "<!doctype html><html lang=nl><meta charset=utf-8><title>Storing</title>"
    "<h1>Er ging iets mis</h1><p>Probeer het later opnieuw.</p>"
    "<p lang=en>Something went wrong. Please try again later.</p></html>"
)


def _texts(code: int) -> tuple[str, str]:
    texts = {
        400: (_("The request could not be processed"), _("Please go back and try again.")),
        403: (_("No access"), _("You do not have access to this page.")),
        404: (
            _("Page not found"),
            _("This page does not exist, or you do not have access to it. Check the address."),
        ),
        405: (_("Not allowed"), _("This page cannot be used in this way.")),
        413: (
            _("Too large"),
            _("What you sent is too large. Files may be at most the size shown."),
        ),
        429: (
            _("Too many attempts"),
            _("You tried this too often in a short time. Please try again later."),
        ),
        503: (
            _("Temporarily unavailable"),
            _(
                "The service is temporarily unavailable. Nothing you sent was saved; please try "
                "again in a few minutes."
            ),
        ),
    }
    return texts.get(
        code,
        (_("Something went wrong"), _("An error occurred on our side. Please try again later.")),
    )


def service_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database, the key store or the rate-limit counters (Redis)
    cannot serve us right now: stopped, unreachable, a dropped connection, or out of disk
    space. Retrying later helps; the request itself was not at fault."""
    return isinstance(error, OperationalError | KeyStoreUnavailable | StorageError) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    )


def _counters_unavailable() -> tuple[str, int]:
    """The rate-limit counters cannot be reached, so a limited request (log-in, sending a
    report, a receipt code) is refused rather than let through uncounted (see
    ``complaints/web/limits.py``). Nothing the user entered before is lost, and the page says
    so: a report in progress is a draft in the database, which this did not touch."""
    back_url = url_for("intake.review") if request.blueprint == "intake" else None
    return render_error(
        503,
        _("Temporarily unavailable"),
        _(
            "The service cannot handle this right now; please try again in a few minutes. "
            "Nothing is lost: a report you were writing stays saved in this browser for "
            "%(hours)s hours after your last change.",
            hours=current_settings().draft_lifetime_hours,
        ),
        back_url=back_url,
    )


def wait_text(seconds: int) -> str:
    """``seconds`` from now as the language says it ("over 42 minuten", "in 42 minutes"),
    rounded up, never down: whoever comes back at the time said must not be refused again."""
    for _unit, size in TIMEDELTA_UNITS:
        if seconds / size >= _WAIT_THRESHOLD or size == 1:
            rounded = math.ceil(seconds / size) * size
            break
    return str(
        format_timedelta(timedelta(seconds=rounded), threshold=_WAIT_THRESHOLD, add_direction=True)
    )


def _too_many_attempts(wait: int | None) -> tuple[str, int]:
    """The limiter refused: say when to try again and, for a report being sent, that nothing
    is lost; lead back to the page the attempt came from."""
    again = (
        _("You can try again %(wait)s.", wait=wait_text(wait))
        if wait is not None
        else _("Please try again later.")
    )
    if request.blueprint == "intake":
        explanation = _(
            "Too many reports were sent in a short time, so yours has not been sent yet. "
            "Nothing is lost: your report stays saved in this browser for %(hours)s hours "
            "after your last change. %(again)s",
            hours=current_settings().draft_lifetime_hours,
            again=again,
        )
        back = (url_for("intake.review"), _("Back to your report"))
    elif request.blueprint == "followup":
        explanation = _(
            "Too many receipt codes were tried in a short time, so for your safety no code "
            "can be tried for now. Your report and your code are not affected. %(again)s",
            again=again,
        )
        back = (url_for("followup.enter_code"), _("Back to the code page"))
    elif request.blueprint == "accounts" and request.endpoint:
        explanation = _(
            "There were too many log-in attempts in a short time. %(again)s", again=again
        )
        back = (url_for(request.endpoint), _("Back to the log-in page"))
    else:
        return render_error(
            429, explanation=_("You tried this too often in a short time. %(again)s", again=again)
        )
    return render_error(429, explanation=explanation, back_url=back[0], back_label=back[1])


def render_error(
    code: int,
    title: str | None = None,
    explanation: str | None = None,
    *,
    back_url: str | None = None,
    back_label: str | None = None,
) -> tuple[str, int]:
    g.rendering_error = True
    default_title, default_explanation = _texts(code)
    # The language switch reloads the page by its address; an answer to a form cannot be
    # loaded that way, so there the switch leads to the home page.
    switch = {} if request.method == "GET" else {"language_switch_next": url_for("web.index")}
    try:
        page = render_template(
            "errors/error.html",
            code=code,
            title=title or default_title,
            explanation=explanation or default_explanation,
            back_url=back_url,
            back_label=back_label or _("Back to your report"),
            **switch,
        )
    except Exception:  # the error page itself failed: still no trace for the user
        log.exception("error_page.render_failed", status=code)
        page = FALLBACK_PAGE
    return page, code


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_failed(_error: CSRFError) -> tuple[str, int]:
        return render_error(
            400,
            _("This form has expired"),
            _(
                "For your safety forms expire after a while. Go back, reload the page and send "
                "the form again."
            ),
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int]:
        # A refusal by the limiter is handled here, not under its own class or code: that
        # would win over a blueprint's own handler (the statistics API answers in JSON).
        if isinstance(error, RateLimitExceeded):
            g.retry_after = seconds_until_retry()  # the header says what the page says
            return _too_many_attempts(g.retry_after)
        return render_error(error.code or 500)

    @app.errorhandler(InternalServerError)
    def server_error(error: InternalServerError) -> tuple[str, int]:
        original = error.original_exception or error
        if isinstance(original, StorageError):
            # The class of the cause only: its message names the storage's address.
            log.error(
                "service_unavailable",
                error=type(original).__name__,
                cause=type(original.storage_error).__name__,
            )
            return _counters_unavailable()
        if service_unavailable(original):
            # The class only: a database message may quote the statement being run.
            log.error("service_unavailable", error=type(original).__name__)
            return render_error(503)
        log.error("unhandled_error", error=type(original).__name__, exc_info=original)
        return render_error(500)

    @app.after_request
    def ask_to_retry_later(response: Response) -> Response:
        if "Retry-After" in response.headers:
            return response
        if response.status_code == 503:
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        elif (
            response.status_code == 429
            and (wait := g.get("retry_after") or seconds_until_retry()) is not None
        ):
            # The same number of seconds as the page says, on the API's JSON refusal too.
            response.headers["Retry-After"] = str(wait)
        return response


def answer_case_conflicts(bp: Blueprint, case_page: str) -> None:
    """On ``bp``, a version conflict found on a flush the view did not expect (someone else
    changed the case in the same moment, caught by ``Case.version``) rolls back and sends the
    user to ``case_page`` (an endpoint taking ``case_id``), saying nothing was saved, instead
    of a server error."""

    @bp.errorhandler(StaleDataError)
    def changed_meanwhile(error: StaleDataError) -> BaseResponse:
        db.rollback()
        flash(
            _("This case was changed by someone else meanwhile. Check the page and try again."),
            "error",
        )
        case_id = (request.view_args or {}).get("case_id")
        if case_id is None:
            return redirect(url_for("casework.inbox_page"), code=303)
        return redirect(url_for(case_page, case_id=case_id), code=303)
