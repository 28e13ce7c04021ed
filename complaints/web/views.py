"""Public pages of the shell: start page, language switch, health checks."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from complaints import db, migrate
from complaints.crypto.keystore import KeyStoreError
from complaints.crypto.services import keystore
from complaints.logs import get_logger
from complaints.web.forms import LanguageForm
from complaints.web.i18n import LANGUAGE_COOKIE
from complaints.web.limits import storage_reachable
from complaints.web.navigation import safe_next

bp = Blueprint("web", __name__)
log = get_logger(__name__)
ONE_YEAR = 365 * 24 * 3600


@bp.get("/")
def index() -> str:
    return render_template("web/index.html")


@bp.post("/taal")
def switch_language() -> WerkzeugResponse:
    form = LanguageForm()
    target = safe_next(form.next.data, url_for("web.index"))
    response = redirect(target, code=303)
    if form.validate_on_submit():
        response.set_cookie(
            LANGUAGE_COOKIE,
            form.language.data,
            max_age=ONE_YEAR,
            httponly=True,
            samesite="Lax",
            secure=current_app.config["SESSION_COOKIE_SECURE"],
        )
    return response


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers. Touches nothing else, so it is cheap to poll."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Readiness: the database answers with the current schema, the key store can be read,
    and the rate-limit counters (Redis) answer: without them log-in, sending a report and
    entering a receipt code are refused (they fail closed), so the service is not ready."""
    checks = {"database": "ok", "keystore": "ok", "ratelimit": "ok"}
    try:
        if db.database().schema_revision() != migrate.head_revision():
            checks["database"] = "migrations pending"
    except Exception:  # any failure means "not ready"; the log says which
        log.warning("readiness.database_unavailable", exc_info=True)
        checks["database"] = "unavailable"
    try:
        keystore().check()
    except KeyStoreError as exc:
        log.warning("readiness.keystore_unavailable", error=type(exc).__name__)
        checks["keystore"] = "unavailable"
    if not storage_reachable():
        log.warning("readiness.ratelimit_unavailable")
        checks["ratelimit"] = "unavailable"
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ready" if ready else "unavailable", checks=checks), 200 if ready else 503
