"""The operator documentation and deploy/ files agree with the code.

Every setting is documented in docs/configuration.md and listed in the example environment
file with its real default; every ``flask --app wsgi GROUP COMMAND --option`` that a unit, a
script or a document tells the operator to run exists; the proxy's upload limit matches the
application's; the gunicorn configuration only uses settings gunicorn knows and keeps the
access log off.
"""

from __future__ import annotations

import logging
import math
import re
import runpy
import shlex
import types
from pathlib import Path
from typing import Any

import click
import gunicorn.config
import pytest
from flask import Flask
from pydantic import SecretStr

from complaints import FORM_OVERHEAD_BYTES, max_request_bytes
from complaints.settings import ENV_PREFIX, Settings
from tests.conftest import ROOT, TEST_SECRET

DOCS = ROOT / "docs"
DEPLOY = ROOT / "deploy"
CONFIGURATION = DOCS / "configuration.md"
ENV_EXAMPLE = DEPLOY / "complaints.env.example"
# Environment variables with the prefix that are not settings but are documented beside them.
NOT_SETTINGS = {"SETTINGS_FILE"}

# Where the operator is told to run commands.
COMMAND_SOURCES = sorted(
    [
        *DEPLOY.glob("*.service"),
        *DEPLOY.glob("*.sh"),
        *DOCS.glob("*.md"),
        ROOT / "README.md",
    ]
)
_FLASK = re.compile(r"flask --app wsgi((?:[ \t]+(?:\\\n[ \t]*)?[^\s`'\"|;&)]+)+)")
_ENV_LINE = re.compile(rf"^(#?){ENV_PREFIX}([A-Z0-9_]+)=(.*)$")
_OWN_DOCS = ("deployment.md", "operations.md", "keys.md", "configuration.md", "accessibility.md")


def fields() -> list[str]:
    return list(Settings.model_fields)


def env_example() -> dict[str, tuple[bool, str]]:
    """Each COMPLAINTS_ variable of the example: (commented out, value)."""
    found: dict[str, tuple[bool, str]] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = _ENV_LINE.match(line)
        if match:
            name = match.group(2)
            assert name not in found, f"{name} is listed twice in {ENV_EXAMPLE.name}"
            # The value as systemd and a shell read it: without its quotes.
            found[name] = (match.group(1) == "#", "".join(shlex.split(match.group(3))))
    return found


def default_text(name: str) -> str:
    """A setting's default as the example file writes it."""
    value = Settings.model_fields[name].default
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# Settings ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", fields())
def test_every_setting_is_in_the_configuration_reference(name: str) -> None:
    text = CONFIGURATION.read_text()
    rows = [line for line in text.splitlines() if line.startswith(f"| `{name}` |")]
    assert rows, f"docs/configuration.md has no table row for the setting {name}"
    row = rows[0]
    assert f"`{ENV_PREFIX}{name.upper()}`" in row, f"{name}: environment variable not named"
    default = default_text(name)
    if default:
        cells = [cell.strip() for cell in row.split("|")]
        assert f"`{default}`" in cells[3], f"{name}: default {default!r} not in {cells[3]!r}"


def test_the_configuration_reference_names_no_setting_that_does_not_exist() -> None:
    named = re.findall(r"^\| `([a-z0-9_]+)` \| `COMPLAINTS_", CONFIGURATION.read_text(), re.M)
    assert named
    assert sorted(set(named) - set(fields())) == []
    assert len(named) == len(set(named)), "a setting has two rows"


def test_every_setting_is_in_the_example_environment_file_with_its_default() -> None:
    listed = env_example()
    missing = [name for name in fields() if name.upper() not in listed]
    assert missing == [], f"not in {ENV_EXAMPLE.name}: {missing}"
    unknown = sorted(set(listed) - {n.upper() for n in fields()} - NOT_SETTINGS)
    assert unknown == [], f"{ENV_EXAMPLE.name} lists what is no setting: {unknown}"
    for name in fields():
        commented, value = listed[name.upper()]
        if commented:
            # A commented-out line says "this is the default": it must be the real one.
            assert value == default_text(name), f"{name}: {value!r} is not the default"


def test_the_example_environment_file_is_a_valid_production_configuration(
    tmp_path: Path,
) -> None:
    values: dict[str, Any] = {}
    for name, (commented, value) in env_example().items():
        if not commented and name not in NOT_SETTINGS:
            values[name.lower()] = value
    assert values.pop("secret_key") == "", "the example must not ship a secret"
    values["secret_key"] = SecretStr(TEST_SECRET)
    settings = Settings(**values)
    assert settings.is_production
    settings.require_startable()  # production's own checks, on the example's values
    assert settings.trusted_proxy_count == 1
    assert settings.ratelimit_storage_uri.startswith("redis://")


def test_the_settings_file_names_only_settings() -> None:
    keys = re.findall(
        r"^#?\s*([a-z0-9_]+)\s*=", (ROOT / "config" / "settings.toml").read_text(), re.M
    )
    assert keys
    assert sorted(set(keys) - set(fields())) == []


# Commands --------------------------------------------------------------------------------------


def invocations() -> list[tuple[str, list[str]]]:
    found = []
    for source in COMMAND_SOURCES:
        for match in _FLASK.finditer(source.read_text()):
            words = match.group(1).replace("\\\n", " ").split()
            found.append((source.relative_to(ROOT).as_posix(), words))
    return found


@pytest.fixture(scope="module")
def cli_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    from complaints import create_app
    from tests.conftest import make_settings

    root = tmp_path_factory.mktemp("docs-cli")
    settings = make_settings(root, f"sqlite:///{root / 'unused.db'}", root / "no-keys")
    return create_app(settings, strict_startup=False)


def test_commands_are_found_in_the_units_and_docs() -> None:
    sources = {source for source, _ in invocations()}
    for expected in (
        "deploy/complaints-notify.service",
        "deploy/complaints-deadlines.service",
        "deploy/complaints-checkins.service",
        "deploy/complaints-retention.service",
        "deploy/restore-test.sh",
        "docs/deployment.md",
        "docs/operations.md",
        "docs/keys.md",
    ):
        assert expected in sources, f"no 'flask --app wsgi' command found in {expected}"


def test_every_command_the_operator_is_told_to_run_exists(cli_app: Flask) -> None:
    groups = cli_app.cli.list_commands(click.Context(cli_app.cli))
    problems = []
    for source, words in invocations():
        group_name = words[0]
        if group_name in {"…", "..."}:
            continue  # "flask --app wsgi …" as shorthand in prose
        group = cli_app.cli.get_command(click.Context(cli_app.cli), group_name)
        if not isinstance(group, click.Group):
            problems.append(f"{source}: no command group {group_name!r} (there are {groups})")
            continue
        if len(words) < 2 or words[1].startswith("-") or words[1].isupper():
            continue  # "flask --app wsgi keys ..." in prose, or a placeholder
        command = group.get_command(click.Context(group), words[1])
        if command is None:
            problems.append(f"{source}: no command '{group_name} {words[1]}'")
            continue
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        for word in words[2:]:
            option = word.split("=")[0]
            if option.startswith("--") and option not in options:
                problems.append(f"{source}: '{group_name} {words[1]}' has no option {option}")
    assert problems == []


def test_every_timer_starts_a_service_that_exists() -> None:
    timers = sorted(DEPLOY.glob("*.timer"))
    assert len(timers) >= 5
    for timer in timers:
        assert timer.with_suffix(".service").exists(), timer.name
        text = timer.read_text()
        assert "OnCalendar=" in text
        assert "Persistent=true" in text


def test_every_service_runs_as_the_service_account_hardened() -> None:
    for unit in sorted(DEPLOY.glob("*.service")):
        text = unit.read_text()
        for line in (
            "User=complaints",
            "WorkingDirectory=/srv/complaints",
            "EnvironmentFile=/etc/complaints/env",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "PrivateTmp=yes",
            "CapabilityBoundingSet=",
        ):
            assert re.search(rf"^{re.escape(line)}$", text, re.M), f"{unit.name}: {line}"


def test_only_the_sweep_and_key_maintenance_may_write_to_the_key_store() -> None:
    writers = {"complaints-retention.service", "complaints-keys.service"}
    for unit in sorted(DEPLOY.glob("*.service")):
        writable = " ".join(re.findall(r"^ReadWritePaths=(.*)$", unit.read_text(), re.M))
        may_write = unit.name in writers
        assert ("/var/lib/complaints/keys" in writable) is may_write, unit.name


# The proxy and gunicorn --------------------------------------------------------------------------


def test_the_proxy_accepts_the_largest_request_the_application_accepts() -> None:
    defaults = Settings(secret_key=SecretStr(TEST_SECRET))
    needed = math.ceil(max_request_bytes(defaults) / (1024 * 1024))
    assert FORM_OVERHEAD_BYTES == 1024 * 1024  # the "+ 1 MiB" the docs state
    limit = re.search(
        r"^\s*client_max_body_size (\d+)m;", (DEPLOY / "nginx.conf").read_text(), re.M
    )
    assert limit is not None
    assert int(limit.group(1)) == needed
    for doc in ("deployment.md", "configuration.md"):
        assert f"{needed} MiB" in (DOCS / doc).read_text(), doc


def test_the_proxy_logs_no_client_address() -> None:
    text = (DEPLOY / "nginx.conf").read_text()
    formats = re.findall(r"^log_format \S+ (.*);$", text, re.M)
    assert formats
    for fmt in formats:
        for variable in (
            "$remote_addr",
            "$http_x_forwarded_for",
            "$request ",
            "$args",
            "$request_uri",
        ):
            assert variable not in f"{fmt} ", variable
    for access_log in re.findall(r"^\s*access_log (.*);$", text, re.M):
        assert access_log == "off" or access_log.split()[-1] in {"complaints_privacy"}, access_log


def test_gunicorn_configuration_is_known_to_gunicorn_and_keeps_no_access_log() -> None:
    values = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    known = set(gunicorn.config.Config().settings)
    ours = {
        key: value
        for key, value in values.items()
        if not key.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert sorted(set(ours) - known) == []
    assert ours["accesslog"] is None
    assert all(addr.startswith(("127.0.0.1:", "unix:")) for addr in ours["bind"])
    assert ours["forwarded_allow_ips"] == "127.0.0.1,::1"
    assert ours["loglevel"] != "debug"
    assert "post_worker_init" in ours


@pytest.mark.parametrize(
    ("message", "args"),
    [
        ("Invalid request from ip=203.0.113.9: Invalid HTTP method: 'GE T'", ()),
        ("Error handling request %s %s", ("GET", "/opvolgen?code=7KQ3-M9XD")),
        ("Error handling request %s", ("/opvolgen?code=7KQ3-M9XD",)),
    ],
)
def test_gunicorn_error_log_keeps_no_address_or_request_line(
    message: str, args: tuple[str, ...]
) -> None:
    values = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    record = logging.LogRecord("gunicorn.error", logging.WARNING, __file__, 1, message, args, None)
    assert values["_NoAddressesOrPaths"]().filter(record)
    text = record.getMessage()
    assert "203.0.113.9" not in text
    assert "/opvolgen" not in text
    assert text.startswith(("Invalid request", "Error handling request"))


# Links -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*_OWN_DOCS, "../README.md"])
def test_links_between_documents_resolve(name: str) -> None:
    document = (DOCS / name).resolve()
    text = document.read_text()
    for target in re.findall(r"\]\(([^)#:\s]+)(?:#[^)]*)?\)", text):
        assert (document.parent / target).exists(), f"{name} links to missing {target}"


def test_the_readme_lists_the_operator_documents() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in ("deployment.md", "operations.md", "accessibility.md"):
        assert f"(docs/{name})" in readme, name
