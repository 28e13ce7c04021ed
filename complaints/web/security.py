"""Security headers on every response, and a cross-site request guard."""

from __future__ import annotations

from flask import Flask, Response, abort, request

from complaints.settings import Settings

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def init_app(app: Flask, settings: Settings) -> None:
    hsts = f"max-age={settings.hsts_max_age_seconds}; includeSubDomains"

    @app.before_request
    def refuse_cross_site_writes() -> None:
        # Defence in depth beside the CSRF token: browsers say where a request came from.
        if (
            request.method in UNSAFE_METHODS
            and request.headers.get("Sec-Fetch-Site") == "cross-site"
        ):
            abort(403)

    @app.before_request
    def refuse_nul_characters() -> None:
        # Nobody types a NUL character; PostgreSQL cannot store or even compare one in a text
        # column, so it would end as a 500 wherever a value reaches a query (a log-in name, a
        # case reference, a search). Refuse it up front with a plain 400.
        sources = [request.args]
        if request.method in UNSAFE_METHODS:
            sources.append(request.form)
        for source in sources:
            if any("\x00" in value for _, value in source.items(multi=True)):
                abort(400)

    @app.after_request
    def set_security_headers(response: Response) -> Response:
        headers = response.headers
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        headers["Strict-Transport-Security"] = hsts
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        headers["X-Frame-Options"] = "DENY"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Cross-Origin-Resource-Policy"] = "same-origin"
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
        if request.endpoint == "static":
            headers["Cache-Control"] = "public, max-age=3600"
        else:
            # Pages may show case data or a form someone is filling in: keep them out of caches.
            headers["Cache-Control"] = "no-store"
            headers["Pragma"] = "no-cache"
        return response
