"""Settings: typed, frozen, from environment and TOML; production refuses to start half-done."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pydantic
import pytest

from complaints import create_app
from complaints.settings import (
    ConfigurationError,
    Environment,
    Settings,
    development_secret_key,
    load_settings,
)
from tests.conftest import TEST_SECRET, DatabaseFactory, make_settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("COMPLAINTS_"):
            monkeypatch.delenv(name)
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    monkeypatch.setenv("COMPLAINTS_SETTINGS_FILE", str(empty))


def test_defaults_are_an_embedded_development_setup(tmp_path: Path) -> None:
    settings = load_settings(instance_path=tmp_path)
    assert settings.env is Environment.DEVELOPMENT
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'complaints.db').resolve()}"
    assert settings.resolved_keystore_path == tmp_path / "keys"
    assert settings.default_locale == "nl"
    assert settings.cookie_secure is False


def test_environment_wins_over_toml_and_arguments_win_over_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    toml = tmp_path / "settings.toml"
    toml.write_text(
        'staff_idle_timeout_minutes = 20\nlog_level = "WARNING"\ndefault_locale = "en"\n'
    )
    monkeypatch.setenv("COMPLAINTS_SETTINGS_FILE", str(toml))
    monkeypatch.setenv("COMPLAINTS_STAFF_IDLE_TIMEOUT_MINUTES", "12")
    settings = load_settings(log_level="ERROR")
    assert settings.staff_idle_timeout_minutes == 12  # environment over file
    assert settings.log_level == "ERROR"  # argument over file
    assert settings.default_locale == "en"  # file over default


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(pydantic.ValidationError):
        settings.login_max_failures = 100  # type: ignore[misc]


def test_wrong_types_and_unknown_keys_are_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COMPLAINTS_LOGIN_MAX_FAILURES", "many")
    with pytest.raises(ConfigurationError, match="COMPLAINTS_LOGIN_MAX_FAILURES"):
        load_settings()
    monkeypatch.delenv("COMPLAINTS_LOGIN_MAX_FAILURES")
    toml = tmp_path / "typo.toml"
    toml.write_text("login_max_failurs = 3\n")
    monkeypatch.setenv("COMPLAINTS_SETTINGS_FILE", str(toml))
    with pytest.raises(ConfigurationError, match="login_max_failurs"):
        load_settings()


@pytest.mark.parametrize(
    "name", ["COMPLAINTS_RECEIPT_RATE_LIMIT", "COMPLAINTS_DIRECTORY_SEARCH_RATE_LIMIT"]
)
def test_a_rate_limit_that_does_not_parse_stops_the_start(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "10 a fortnight")
    with pytest.raises(ConfigurationError, match=name):
        load_settings()
    monkeypatch.setenv(name, "10/minute; 100 per day")
    assert load_settings()


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (
            {"database_url": "postgresql+psycopg://x@127.0.0.1/x"},
            "COMPLAINTS_SECRET_KEY is missing",
        ),
        ({"secret_key": TEST_SECRET}, "COMPLAINTS_DATABASE_URL is missing"),
        ({"secret_key": "changeme", "database_url": "postgresql://x"}, "COMPLAINTS_SECRET_KEY"),
        (
            {"secret_key": "short-but-random-4f9a", "database_url": "postgresql://x"},
            "COMPLAINTS_SECRET_KEY",
        ),
        (
            {
                "secret_key": TEST_SECRET,
                "database_url": "postgresql://x",
                "argon2_memory_kib": 64,
                "public_url": "https://meldpunt.example",
            },
            "COMPLAINTS_ARGON2_MEMORY_KIB",
        ),
        (
            {"secret_key": TEST_SECRET, "database_url": "postgresql://x"},
            "COMPLAINTS_PUBLIC_URL",
        ),
    ],
)
def test_production_refuses_to_start_without_what_it_needs(
    overrides: dict[str, object], named: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(env="production", **overrides)
    message = str(caught.value)
    assert named in message
    assert "\n" not in message


def test_production_refuses_to_start_without_a_reachable_key_store(
    tmp_path: Path, databases: DatabaseFactory
) -> None:
    settings = make_settings(
        tmp_path,
        databases.fresh_url(),
        tmp_path / "no-keys-here",
        env="production",
        argon2_memory_kib=19_456,
    )
    with pytest.raises(ConfigurationError, match="key store unavailable") as caught:
        create_app(settings)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "no-keys-here").exists(), "no key store may be created on the side"


def test_production_starts_with_everything_in_place(
    tmp_path: Path, databases: DatabaseFactory, keystore_path: Path
) -> None:
    settings = make_settings(
        tmp_path,
        databases.fresh_url(),
        keystore_path,
        env="production",
        argon2_memory_kib=19_456,
        public_url="https://meldpunt.example",
    )
    app = create_app(settings)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_NAME"] == "__Host-session"
    assert app.config["SECRET_KEY"] == TEST_SECRET


def test_the_entry_point_prints_one_line_naming_what_is_missing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPLAINTS_")}
    env.update(
        COMPLAINTS_ENV="production",
        COMPLAINTS_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1/none",
        COMPLAINTS_INSTANCE_PATH=str(tmp_path),
        COMPLAINTS_SETTINGS_FILE=str(tmp_path / "none.toml"),
    )
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "complaints: cannot start: COMPLAINTS_SECRET_KEY is missing: "
        "production needs a random secret of at least 32 characters"
    ]


def test_development_secret_is_random_private_and_kept(tmp_path: Path) -> None:
    first = development_secret_key(Settings(instance_path=tmp_path / "a"))
    again = development_secret_key(Settings(instance_path=tmp_path / "a"))
    other = development_secret_key(Settings(instance_path=tmp_path / "b"))
    assert first == again
    assert first != other
    assert len(first) >= 48
    mode = stat.S_IMODE((tmp_path / "a" / "secret_key").stat().st_mode)
    assert mode == 0o600


def test_no_fallback_secret_in_the_code() -> None:
    """A configured or generated secret only: nothing in the package may supply a default."""
    sources = "\n".join(p.read_text() for p in (ROOT / "complaints").rglob("*.py"))
    assert "SECRET_KEY=" in sources  # the one place it is set, from the settings
    for suspicious in ('SECRET_KEY="', "SECRET_KEY='", 'secret_key: SecretStr = "', "dev-secret"):
        assert suspicious not in sources
