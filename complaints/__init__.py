"""complaints: confidential complaint intake for Dutch central government."""

from __future__ import annotations

import hashlib
import hmac
import os

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from complaints import db, maintenance, migrate
from complaints.accounts import cli as accounts_cli
from complaints.accounts import login
from complaints.accounts import views as accounts_views
from complaints.audit import cli as audit_cli
from complaints.cases.taxonomy import load_taxonomy
from complaints.casework import views as casework_views
from complaints.checkins import cli as checkins_cli
from complaints.committee import views as committee_views
from complaints.crypto import cli as crypto_cli
from complaints.crypto import services as crypto
from complaints.crypto.keystore import KeyStore, KeyStoreError, KeyStoreMissing
from complaints.demo import cli as demo_cli
from complaints.directory import cli as directory_cli
from complaints.followup import views as followup_views
from complaints.handover import views as handover_views
from complaints.help import views as help_views
from complaints.intake import views as intake_views
from complaints.logs import configure_logging, get_logger
from complaints.notify import cli as notify_cli
from complaints.notify.mailer import Mailer
from complaints.referral import views as referral_views
from complaints.retention import cli as retention_cli
from complaints.retention import views as privacy_views
from complaints.retention.policy import load_retention
from complaints.settings import ConfigurationError, Settings, development_secret_key, load_settings
from complaints.stats import api as stats_api
from complaints.stats import reports as stats_reports
from complaints.stats import views as stats_views
from complaints.web import errors, i18n, lifecycle, limits, routing, security, templating
from complaints.web import views as web_views
from complaints.workflow import cli as deadlines_cli
from complaints.workflow.config import load_workflow

# Room for the text fields of the largest form beside its files.
FORM_OVERHEAD_BYTES = 1024 * 1024
CSRF_TOKEN_HOURS = 8  # long enough to write a complaint in one sitting
OWNER_ONLY_UMASK = 0o077


def max_request_bytes(settings: Settings) -> int:
    return max(settings.max_attachments, 1) * settings.max_attachment_bytes + FORM_OVERHEAD_BYTES


def create_app(settings: Settings | None = None, *, strict_startup: bool = True) -> Flask:
    """Build the application. ``strict_startup=False`` lets key-management commands run
    while the key store is still missing; serving always requires it."""
    # Before anything is written: the database, its WAL, key files and the secret are created
    # owner-only, in development too (what a copy of them reveals is the whole point).
    os.umask(OWNER_ONLY_UMASK)
    settings = settings or load_settings()
    configure_logging(settings)
    settings.instance_path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _owner_only_database(settings)
    secret_key = development_secret_key(settings)

    app = lifecycle.ComplaintsFlask(__name__, instance_path=str(settings.instance_path.resolve()))
    app.url_rule_class = routing.SharedBuilderRule  # compiled once per process, not per app
    app.config.update(
        SECRET_KEY=secret_key,
        SESSION_COOKIE_NAME="__Host-session" if settings.cookie_secure else "session",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # The follow-up mailbox takes up to max_attachments files in one go.
        MAX_CONTENT_LENGTH=max_request_bytes(settings),
        # Referrer-Policy is no-referrer, so the Referer check would refuse every HTTPS form.
        WTF_CSRF_SSL_STRICT=False,
        WTF_CSRF_TIME_LIMIT=CSRF_TOKEN_HOURS * 3600,
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_uri,
        RATELIMIT_KEY_PREFIX="complaints",
        RATELIMIT_HEADERS_ENABLED=False,
    )
    app.extensions["complaints.settings"] = settings
    app.extensions["complaints.ratelimit_key"] = hmac.new(
        secret_key.encode(), b"rate-limit-client-key", hashlib.sha256
    ).digest()
    if settings.trusted_proxy_count:
        n = settings.trusted_proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    # Policy files are checked now: a mistake in them must stop the start, not a request later.
    app.extensions["complaints.taxonomy"] = load_taxonomy(settings.config_dir / "taxonomy.toml")
    app.extensions["complaints.workflow"] = load_workflow(settings.config_dir / "workflow.toml")
    app.extensions["complaints.retention"] = load_retention(
        settings.config_dir / "retention.toml", app.extensions["complaints.workflow"]
    )
    app.extensions["complaints.mailer"] = Mailer(settings)

    db.init_app(app, db.Database(db.create_engine(settings.resolved_database_url)))
    keys = crypto.open_keystore(settings)
    _check_keystore(keys, strict=strict_startup)
    crypto.init_app(app, keys)

    CSRFProtect(app)
    limits.init_app(app, settings)
    i18n.init_app(app, settings.default_locale)
    security.init_app(app, settings)
    lifecycle.init_app(app)
    errors.init_app(app)
    templating.init_app(app)
    login.init_app(app, settings)

    app.register_blueprint(web_views.bp)
    app.register_blueprint(help_views.bp)
    app.register_blueprint(accounts_views.bp)
    app.register_blueprint(intake_views.bp)
    app.register_blueprint(followup_views.bp)
    app.register_blueprint(casework_views.bp)
    app.register_blueprint(committee_views.bp)
    app.register_blueprint(referral_views.bp)
    app.register_blueprint(handover_views.bp)
    app.register_blueprint(privacy_views.bp)
    app.register_blueprint(stats_views.bp)
    app.register_blueprint(stats_api.bp)
    app.register_blueprint(stats_reports.bp)

    for group in (
        migrate.group,
        crypto_cli.group,
        directory_cli.group,
        accounts_cli.group,
        audit_cli.group,
        demo_cli.group,
        notify_cli.group,
        deadlines_cli.group,
        checkins_cli.group,
        retention_cli.group,
    ):
        app.cli.add_command(maintenance.guard_privilege_errors(group))
    return app


def _owner_only_database(settings: Settings) -> None:
    """Tighten an SQLite database made before files were created owner-only (its WAL and
    shared-memory files take the database file's mode when SQLite creates them)."""
    url = settings.resolved_database_url
    if not url.startswith("sqlite:///"):
        return
    database = url.removeprefix("sqlite:///")
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.chmod(database + suffix, 0o600)
        except FileNotFoundError:
            continue


def _check_keystore(keys: KeyStore, *, strict: bool) -> None:
    try:
        keys.check()
    except KeyStoreError as exc:
        if strict:
            raise ConfigurationError(
                f"key store unavailable ({exc}); create it with 'flask --app wsgi keys init' "
                "or set COMPLAINTS_KEYSTORE_PATH"
            ) from None
        # A store not created yet is no news: 'keys init' is about to create it, and every
        # other command that needs keys checks for them itself and fails closed.
        if not isinstance(exc, KeyStoreMissing):
            get_logger(__name__).warning("keystore.unavailable", error=str(exc))
