"""Typed, frozen settings from the environment (``COMPLAINTS_*``) and ``config/settings.toml``.

Precedence, highest first: explicit keyword arguments (tests), environment variables, the TOML
file, the defaults below. Production refuses to start without a real secret key, a database URL
and a key store; the error is one line that names the missing setting.
"""

from __future__ import annotations

import os
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from limits import parse_many
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "COMPLAINTS_"
DEFAULT_SETTINGS_FILE = Path("config") / "settings.toml"
MIN_SECRET_LENGTH = 32
MIN_PRODUCTION_ARGON2_KIB = 19_456  # OWASP's floor for argon2id
# Values people paste from tutorials; refusing them is cheap and catches real mistakes.
PLACEHOLDER_SECRETS = frozenset(
    {"changeme", "change-me", "secret", "dev", "development", "insecure", "please-change"}
)


class ConfigurationError(RuntimeError):
    """The settings do not allow the application to start; the message is one line."""


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TESTING = "testing"
    PRODUCTION = "production"


def _settings_file() -> Path:
    return Path(os.environ.get(f"{ENV_PREFIX}SETTINGS_FILE", DEFAULT_SETTINGS_FILE))


class Settings(BaseSettings):
    """Everything the application reads from its environment, validated once at start-up."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        frozen=True,
        extra="forbid",
        validate_default=True,
    )

    env: Environment = Environment.DEVELOPMENT
    secret_key: SecretStr | None = None
    database_url: str | None = None
    # The maintenance (owner) role, for the commands that migrate or prune: only those use it,
    # so the web service never needs it in its environment (docs/deployment.md).
    maintenance_database_url: SecretStr | None = None
    instance_path: Path = Path("instance")
    # The append-only file outside the database that records the audit chain's head.
    audit_anchor_path: Path | None = None

    keystore_provider: Literal["local"] = "local"
    keystore_path: Path | None = None

    default_locale: Literal["nl", "en"] = "nl"

    staff_idle_timeout_minutes: int = Field(default=30, ge=1, le=24 * 60)
    staff_absolute_timeout_hours: int = Field(default=10, ge=1, le=7 * 24)
    # Log-in throttling (complaints/accounts/throttle.py): failures from one client on one
    # log-in name before that client waits; the window failures count in, and its longest wait.
    login_max_failures: int = Field(default=5, ge=1, le=100)
    login_lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # Failures from one client on any names (password spraying) before it waits for all names.
    login_client_max_failures: int = Field(default=20, ge=1, le=1000)
    # Failures on one name from all clients before clients that failed there are slowed down
    # (at most a minute; a client that has not failed never is).
    login_account_slowdown_after: int = Field(default=10, ge=1, le=1000)
    # How long the account page can show failed attempts.
    login_failure_retention_days: int = Field(default=30, ge=1, le=365)
    login_rate_limit: str = "10 per minute"
    # argon2id cost; the defaults are RFC 9106's second recommended option (64 MiB, 3 passes).
    argon2_memory_kib: int = Field(default=65_536, ge=32, le=4_194_304)
    argon2_time_cost: int = Field(default=3, ge=1, le=20)
    ratelimit_storage_uri: str = "memory://"

    session_cookie_secure: bool | None = None
    trusted_proxy_count: int = Field(default=0, ge=0, le=5)
    hsts_max_age_seconds: int = Field(default=63_072_000, ge=0)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"

    rewrap_batch_size: int = Field(default=1000, ge=1, le=100_000)
    # Key lifecycle (keys maintain): the active KEK is replaced when older than this, and a
    # retired KEK is destroyed this long after its last slot left it. Keep the second equal to
    # the longest time any backup of the database is kept: an older backup cannot be restored.
    kek_rotation_days: int = Field(default=30, ge=1, le=366)
    backup_retention_days: int = Field(default=35, ge=1, le=3660)
    # Cases the retention sweep handles per transaction: a killed sweep loses at most one batch
    # of work (never half a case), and memory stays flat however many cases there are.
    retention_batch_size: int = Field(default=500, ge=1, le=10_000)
    # Statistics: counts from 1 to stats_min_cell - 1 are never shown (small-cell protection).
    stats_min_cell: int = Field(default=5, ge=2, le=100)
    # How long computed statistics are used before the database is asked whether events were
    # added (0: ask on every request). Figures may lag new events by at most this long.
    stats_cache_seconds: int = Field(default=60, ge=0, le=3600)
    # Requests per API token holder's address: stops a runaway script, not a careful user.
    stats_api_rate_limit: str = "120 per minute"

    # Where taxonomy.toml, workflow.toml and retention.toml live.
    config_dir: Path = Path("config")

    # Intake and follow-up.
    # Submissions per client: enough for an office behind one address; per draft; in total.
    intake_rate_limit: str = "30 per hour"
    intake_draft_rate_limit: str = "5 per hour"
    intake_global_rate_limit: str = "600 per hour"
    receipt_rate_limit: str = "10 per hour"
    receipt_global_rate_limit: str = "1000 per hour"
    # Looking colleagues up while filing: enough for anyone filing, too few to copy the directory.
    directory_search_rate_limit: str = "60 per hour"
    draft_lifetime_hours: int = Field(default=6, ge=1, le=72)
    followup_idle_timeout_minutes: int = Field(default=15, ge=1, le=120)
    followup_absolute_timeout_minutes: int = Field(default=120, ge=5, le=24 * 60)
    # After a report is closed (or withdrawn) the complainant may still write for this long.
    closed_reply_days: int = Field(default=30, ge=0, le=365)
    max_attachment_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=30 * 1024 * 1024)
    max_attachments: int = Field(default=5, ge=0, le=20)

    # E-mail (notifications carry a case reference and a date, never content).
    public_url: str = "http://127.0.0.1:5000"
    mail_from: str = "Meldpunt Rijk <no-reply@meldpunt.example>"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    notification_max_attempts: int = Field(default=8, ge=1, le=100)

    @field_validator(
        "login_rate_limit",
        "intake_rate_limit",
        "intake_draft_rate_limit",
        "intake_global_rate_limit",
        "receipt_rate_limit",
        "receipt_global_rate_limit",
        "directory_search_rate_limit",
        "stats_api_rate_limit",
    )
    @classmethod
    def _rate_limit_parses(cls, value: str) -> str:
        # A typo here would otherwise surface as an error on the first request it limits.
        try:
            parse_many(value)
        except ValueError:
            raise ValueError("must read like '10 per hour' or '5/minute'") from None
        return value

    @field_validator("secret_key")
    @classmethod
    def _secret_key_is_real(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        raw = value.get_secret_value()
        if raw.strip().lower() in PLACEHOLDER_SECRETS or len(raw) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be a random value of at least {MIN_SECRET_LENGTH} characters")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_settings_file())
        return (init_settings, env_settings, toml)

    # Derived values: one place decides each default so nothing else guesses.

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.instance_path / 'complaints.db').resolve()}"

    @property
    def resolved_audit_anchor_path(self) -> Path:
        return self.audit_anchor_path or self.instance_path / "audit-anchors.log"

    @property
    def resolved_keystore_path(self) -> Path:
        return self.keystore_path or self.instance_path / "keys"

    @property
    def cookie_secure(self) -> bool:
        if self.session_cookie_secure is not None:
            return self.session_cookie_secure
        return self.is_production

    def require_startable(self) -> None:
        """Refuse what production must never run with: no secret, no database URL."""
        if not self.is_production:
            return
        if self.secret_key is None:
            raise ConfigurationError(
                f"{ENV_PREFIX}SECRET_KEY is missing: production needs a random secret of at "
                f"least {MIN_SECRET_LENGTH} characters"
            )
        if not self.database_url:
            raise ConfigurationError(
                f"{ENV_PREFIX}DATABASE_URL is missing: production needs a PostgreSQL URL"
            )
        if not self.public_url.startswith("https://"):
            raise ConfigurationError(
                f"{ENV_PREFIX}PUBLIC_URL must be the https:// address people reach the service at"
            )
        if self.argon2_memory_kib < MIN_PRODUCTION_ARGON2_KIB:
            raise ConfigurationError(
                f"{ENV_PREFIX}ARGON2_MEMORY_KIB is too low for production "
                f"(at least {MIN_PRODUCTION_ARGON2_KIB})"
            )


def current_settings() -> Settings:
    """The settings of the running application."""
    from flask import current_app

    settings: Settings = current_app.extensions["complaints.settings"]
    return settings


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning validation failures into a one-line ConfigurationError."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from None
    settings.require_startable()
    return settings


def development_secret_key(settings: Settings) -> str:
    """A random secret kept in the instance folder, so development needs no configuration.

    Production never gets here (``require_startable`` demands a configured secret).
    """
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    if settings.is_production:
        raise ConfigurationError(f"{ENV_PREFIX}SECRET_KEY is missing")
    path = settings.instance_path / "secret_key"
    if not path.exists():
        settings.instance_path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _describe(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"]) or "settings"
    name = f"{ENV_PREFIX}{field.upper()}"
    if error["type"] == "extra_forbidden":
        return f"unknown setting {field!r} in {_settings_file()}"
    return f"{name} is invalid: {error['msg']}"
