"""The statistics API at ``/api/v1``: the protected tables as JSON, for an auditor's scripts.

Read-only and GET only, so there is nothing for a CSRF token to protect; a client proves
itself with ``Authorization: Bearer <token>`` (a token an auditor made on
``/statistieken/api-sleutels``), never with the session cookie. Every answer, refusals
included, is JSON and is not cached. The numbers come from :mod:`complaints.stats.tables`
only, so a count the dashboard suppresses is ``null`` here too. docs/statistics-api.md and
``/api/v1/openapi.json`` describe it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache, wraps
from pathlib import Path
from typing import Any, TypeVar, cast

from flask import Blueprint, Response, jsonify, request
from flask_babel import force_locale
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from complaints import db
from complaints.accounts.models import Account
from complaints.clock import now
from complaints.logs import get_logger
from complaints.settings import current_settings
from complaints.stats import tokens
from complaints.stats.labels import dimension_label, kind_label, label
from complaints.stats.tables import (
    DIMENSIONS,
    KINDS,
    Table,
    UnknownQuery,
    available_years,
    protected_table,
)
from complaints.web.errors import render_error
from complaints.web.i18n import LANGUAGES
from complaints.web.limits import limiter

F = TypeVar("F", bound=Callable[..., Any])

# Under templates/ so that package-data ships it with the templates.
OPENAPI = Path(__file__).parent / "templates" / "stats" / "api" / "openapi.json"
REALM = 'Bearer realm="statistics"'

log = get_logger(__name__)
API_PREFIX = "/api"
bp = Blueprint("stats_api", __name__, url_prefix="/api/v1")


def _api_rate_limit() -> str:
    return current_settings().stats_api_rate_limit


limiter.limit(_api_rate_limit)(bp)


class ApiError(HTTPException):
    """A refusal with a machine-readable code; always answered as JSON."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.code = status
        self.error_code = code
        self.message = message


def _json(payload: object, status: int = 200) -> Response:
    response = jsonify(payload)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _error(status: int, code: str, message: str) -> Response:
    response = _json({"error": {"code": code, "message": message}}, status)
    if status == 401:
        challenge = REALM if code == "missing_token" else f'{REALM}, error="invalid_token"'
        response.headers["WWW-Authenticate"] = challenge
    return response


@bp.errorhandler(HTTPException)
def json_error(error: HTTPException) -> Response:
    """Every refusal of the API in JSON, including the rate limit and a wrong method."""
    if isinstance(error, ApiError):
        return _error(error.code or 400, error.error_code, error.message)
    status = error.code or 500
    code = {404: "not_found", 405: "method_not_allowed", 429: "rate_limited"}.get(
        status, "http_error"
    )
    response = _error(status, code, error.name)
    if status == 405 and (allowed := error.get_headers()):
        for name, value in allowed:
            if name == "Allow":
                response.headers["Allow"] = value
    return response


@bp.app_errorhandler(NotFound)
@bp.app_errorhandler(MethodNotAllowed)
def routing_error(error: HTTPException) -> Response | tuple[str, int]:
    """A wrong address or method under /api/ fails before any blueprint is chosen, so the
    blueprint's handler never sees it: answer those in JSON here, and leave every other
    path to the HTML error page."""
    if request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/"):
        return json_error(error)
    return render_error(error.code or 404)


def token_required(view: F) -> F:
    """Let through a request with an active token of an active auditor: 401 without a usable
    token (missing, unknown, revoked, expired), 403 when its account may no longer read."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        scheme, _space, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise ApiError(
                401, "missing_token", "Send an API token: Authorization: Bearer <token>."
            )
        session = db.session()
        record = tokens.active_token(session, presented.strip(), now=now())
        if record is None:
            # One answer for unknown, revoked and expired: it tells a guesser nothing.
            log.info("stats_api.invalid_token")
            raise ApiError(401, "invalid_token", "This token is unknown, revoked or expired.")
        account = session.get(Account, record.account_id)
        if account is None or not tokens.may_read_statistics(session, account):
            log.info("stats_api.refused", token_id=record.id)
            raise ApiError(403, "forbidden", "The account of this token may not read statistics.")
        return view(*args, **kwargs)

    return cast(F, wrapped)


def _language() -> str:
    language = request.args.get("lang", "nl")
    if language not in LANGUAGES:
        raise ApiError(400, "invalid_parameter", "lang must be one of: " + ", ".join(LANGUAGES))
    return language


def _choice(name: str, allowed: tuple[str, ...], *, required: bool = True) -> str | None:
    value = request.args.get(name, "")
    if not value:
        if required:
            raise ApiError(400, "missing_parameter", f"{name} is required.")
        return None
    if value not in allowed:
        raise ApiError(400, "invalid_parameter", f"{name} must be one of: {', '.join(allowed)}")
    return value


def _year(years: list[int]) -> int:
    raw = request.args.get("year", "")
    if not raw:
        raise ApiError(400, "missing_parameter", "year is required.")
    if not (raw.isdigit() and len(raw) == 4):
        raise ApiError(400, "invalid_parameter", "year must be a year, e.g. 2026.")
    year = int(raw)
    if year not in years:
        raise ApiError(404, "unknown_year", "There are no statistics for this year.")
    return year


@bp.get("/stats/years")
@token_required
def years() -> Response:
    language = _language()
    with force_locale(language):
        return _json(
            {
                "years": available_years(db.session()),
                "k": current_settings().stats_min_cell,
                "kinds": [{"key": kind, "label": kind_label(kind)} for kind in KINDS],
                "dimensions": [
                    {"key": dimension, "label": dimension_label(dimension)}
                    for dimension in DIMENSIONS
                ],
            }
        )


@bp.get("/stats")
@token_required
def table() -> Response:
    language = _language()
    kind = cast(str, _choice("kind", KINDS))
    rows = cast(str, _choice("rows", DIMENSIONS))
    columns = _choice("columns", DIMENSIONS, required=False)
    if columns == rows:
        raise ApiError(400, "invalid_parameter", "rows and columns must be different.")
    session = db.session()
    year = _year(available_years(session))
    try:
        result = protected_table(
            session,
            kind=kind,
            year=year,
            rows=rows,
            columns=columns,
            k=current_settings().stats_min_cell,
        )
    except UnknownQuery as exc:
        raise ApiError(400, "invalid_parameter", str(exc)) from None
    with force_locale(language):
        return _json(table_document(result))


def table_document(result: Table) -> dict[str, Any]:
    """The JSON form of a protected table: every count as ``{"count", "suppressed"}``, with
    ``count`` null exactly when the count is suppressed (zero is a count like any other)."""

    def count(value: int | None) -> dict[str, Any]:
        return {"count": value, "suppressed": value is None}

    def keys(dimension: str, values: tuple[str, ...]) -> list[dict[str, str]]:
        return [{"key": key, "label": label(dimension, key)} for key in values]

    def totals(dimension: str, values: Mapping[str, int | None]) -> list[dict[str, Any]]:
        return [{"key": key, **count(value)} for key, value in values.items()]

    columns = result.column_keys if result.columns else ("",)
    return {
        "kind": {"key": result.kind, "label": kind_label(result.kind)},
        "year": result.year,
        "k": result.k,
        "counts_mentions": result.counts_mentions,
        "rows": {
            "dimension": result.rows,
            "label": dimension_label(result.rows),
            "keys": keys(result.rows, result.row_keys),
        },
        "columns": (
            {
                "dimension": result.columns,
                "label": dimension_label(result.columns),
                "keys": keys(result.columns, result.column_keys),
            }
            if result.columns
            else None
        ),
        "cells": [
            {"row": row, "column": column, **count(result.cell(row, column))}
            for row in result.row_keys
            for column in columns
        ],
        "row_totals": totals(result.rows, result.row_totals),
        "column_totals": totals(result.columns or "", result.column_totals),
        "total": count(result.total),
    }


@cache
def _openapi_text() -> str:
    # Parsed once so that a broken file fails the first request loudly, not silently.
    return json.dumps(json.loads(OPENAPI.read_text(encoding="utf-8")), ensure_ascii=False)


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 description: public, it holds no numbers."""
    response = Response(_openapi_text(), content_type="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response
