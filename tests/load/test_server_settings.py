"""The server the load test and the submission benchmark run is configured as production is,
except for what a load from one loopback address needs; checked without starting it."""

from __future__ import annotations

from pathlib import Path

from limits import parse

from bench.server import UNLIMITED, _settings, server_environment
from complaints.settings import Settings


def test_the_load_server_passes_the_production_start_up_checks(tmp_path: Path) -> None:
    environment = server_environment("postgresql+psycopg://u@127.0.0.1/db", tmp_path)
    settings = _settings(environment)
    settings.require_startable()  # the checks a production start makes; raises if refused
    assert settings.is_production
    defaults = Settings()
    # Production's password hashing, not the test suite's cheap one.
    assert (settings.argon2_memory_kib, settings.argon2_time_cost) == (
        defaults.argon2_memory_kib,
        defaults.argon2_time_cost,
    )
    # Plain HTTP on loopback: the session cookie must travel without TLS.
    assert settings.cookie_secure is False
    assert all(key.startswith("COMPLAINTS_") for key in environment)


def test_every_rate_limit_is_out_of_reach_of_the_load(tmp_path: Path) -> None:
    settings = _settings(server_environment("postgresql+psycopg://u@127.0.0.1/db", tmp_path))
    limits = {
        name: getattr(settings, name)
        for name in Settings.model_fields
        if name.endswith("rate_limit")
    }
    assert limits, "no rate limits found"
    # Every client of a load run comes from 127.0.0.1: any limit a run can reach fails it.
    assert set(limits.values()) == {UNLIMITED}
    assert parse(UNLIMITED).amount >= 1_000_000
