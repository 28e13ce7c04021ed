"""deploy/complaints.env.example can be loaded by a shell as well as by systemd.

The operator's commands in docs/deployment.md load it with ``set -a; . /etc/complaints/env``.
An unquoted value with a space, ``&`` or ``<`` is a command to the shell, not a value: bash
then runs part of the URL in the background, or tries to open ``no-reply@…`` as a file. The
control shows bash failing on such a line, so the checks below can fail.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, TEST_SECRET

ENV_EXAMPLE = ROOT / "deploy" / "complaints.env.example"
_COMMENTED = re.compile(r"^#(COMPLAINTS_[A-Z0-9_]+=.+)$", re.M)


def _source(env_file: Path, then: str = "env -0") -> subprocess.CompletedProcess[str]:
    """Load ``env_file`` in bash the documented way, then run ``then``; nothing else in the
    environment but PATH."""
    return subprocess.run(
        ["bash", "-c", f'set -eu; set -a; . "$1"; set +a; {then}', "bash", str(env_file)],
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _every_line_uncommented(tmp_path: Path) -> Path:
    """The example with each commented-out setting that has a value switched on."""
    target = tmp_path / "env"
    target.write_text(_COMMENTED.sub(r"\1", ENV_EXAMPLE.read_text()))
    return target


def _environment(output: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in output.split("\0") if "=" in item)


def test_the_example_loads_in_bash_without_error() -> None:
    loaded = _source(ENV_EXAMPLE)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stderr == ""
    environment = _environment(loaded.stdout)
    assert environment["COMPLAINTS_DATABASE_URL"].endswith(
        "?sslmode=verify-full&sslrootcert=/etc/complaints/db-ca.pem"
    )
    assert environment["COMPLAINTS_ENV"] == "production"


def test_every_commented_default_loads_in_bash_and_into_the_settings(tmp_path: Path) -> None:
    env_file = _every_line_uncommented(tmp_path)
    loaded = _source(env_file)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stderr == ""
    environment = _environment(loaded.stdout)
    assert environment["COMPLAINTS_MAIL_FROM"] == "Meldpunt Rijk <no-reply@meldpunt.example>"
    assert environment["COMPLAINTS_LOGIN_RATE_LIMIT"] == "10 per minute"
    # And what the shell read is what the application reads from systemd's environment.
    show = (
        f"COMPLAINTS_SECRET_KEY={TEST_SECRET} exec {sys.executable} -c "
        '"from complaints.settings import Settings; s = Settings(); '
        'print(s.mail_from); print(s.login_rate_limit); print(s.database_url)"'
    )
    settings = _source(env_file, then=show)
    assert settings.returncode == 0, settings.stderr
    assert settings.stdout.splitlines() == [
        "Meldpunt Rijk <no-reply@meldpunt.example>",
        "10 per minute",
        environment["COMPLAINTS_DATABASE_URL"],
    ]


def test_control_an_unquoted_value_breaks_loading(tmp_path: Path) -> None:
    broken = tmp_path / "env"
    broken.write_text("COMPLAINTS_MAIL_FROM=Meldpunt Rijk <no-reply@meldpunt.example>\n")
    loaded = _source(broken)
    assert loaded.returncode != 0
    assert "COMPLAINTS_MAIL_FROM=Meldpunt Rijk" not in loaded.stdout
