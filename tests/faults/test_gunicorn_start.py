"""A refused start ends, for real: gunicorn with the real ``deploy/gunicorn.conf.py``.

Without a secret key gunicorn used to listen, tell systemd it was ready, and restart workers
that exited with status 2 about once a second, for ever, while clients hung. Here gunicorn is
started as systemd would (``NOTIFY_SOCKET`` is a real datagram socket the test reads) and must
exit with status 2 within seconds, with one line naming the setting, no traceback, never
having bound its port or said READY. The control starts it with a secret: it says READY and
serves ``/healthz`` (and warns that Redis does not answer). Then the key store goes and a
reload (HUP) makes new workers that cannot boot: gunicorn stops with its halt code instead of
starting them again and again.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from complaints.web.startup import EXIT_REFUSED
from tests.conftest import ROOT, TEST_SECRET

# The database is never opened: one run is enough, whichever backend the suite runs on.
ONLY_BACKEND = "sqlite"

GUNICORN = Path(sys.executable).parent / "gunicorn"
WORKER_BOOT_ERROR = 3  # gunicorn.arbiter.Arbiter.WORKER_BOOT_ERROR: the master halts on it
# "Within seconds" on a busy shared machine: importing the application alone takes a few.
REFUSAL_SECONDS = 30
START_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Gunicorn:
    """One gunicorn master started by the test, its output in a file, systemd's side of the
    notify socket in ``notify``."""

    process: subprocess.Popen[bytes]
    port: int
    output_path: Path
    notify: socket.socket

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def notifications(self) -> list[str]:
        received = []
        while True:
            try:
                received.append(self.notify.recv(4096).decode())
            except BlockingIOError:
                return received

    def wait(self, seconds: float) -> int:
        return self.process.wait(timeout=seconds)


@pytest.fixture
def run_gunicorn(keystore_path: Path) -> Iterator[Callable[..., Gunicorn]]:
    # Short paths: a unix socket's address must fit in 108 bytes.
    directory = Path(tempfile.mkdtemp(prefix="complaints-gunicorn-"))
    started: list[Gunicorn] = []

    def start(*, secret: str | None, redis_port: int) -> Gunicorn:
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify_path = directory / f"notify-{len(started)}"
        notify.bind(str(notify_path))
        notify.setblocking(False)
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPLAINTS_", "GUNICORN"))}
        env.update(
            COMPLAINTS_ENV="production",
            COMPLAINTS_DATABASE_URL=f"sqlite:///{directory / 'never-opened.db'}",
            COMPLAINTS_PUBLIC_URL="https://meldpunt.example",
            COMPLAINTS_INSTANCE_PATH=str(directory / "instance"),
            COMPLAINTS_KEYSTORE_PATH=str(keystore_path),
            COMPLAINTS_SETTINGS_FILE=str(directory / "none.toml"),
            COMPLAINTS_RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{redis_port}/0",
            GUNICORN_BIND=f"127.0.0.1:{port}",
            WEB_CONCURRENCY="2",
            NOTIFY_SOCKET=str(notify_path),
        )
        if secret is not None:
            env["COMPLAINTS_SECRET_KEY"] = secret
        output_path = directory / f"output-{len(started)}.log"
        with output_path.open("wb") as output:
            process = subprocess.Popen(
                [str(GUNICORN), "--config", "deploy/gunicorn.conf.py", "wsgi:app"],
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = Gunicorn(process, port, output_path, notify)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            if server.process.poll() is None:
                os.killpg(server.process.pid, signal.SIGTERM)
                server.process.wait(timeout=30)
            server.notify.close()
        shutil.rmtree(directory, ignore_errors=True)


def _refusals(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("complaints: cannot start:")]


def test_without_a_secret_gunicorn_exits_at_once_with_one_line_and_never_says_ready(
    run_gunicorn: Callable[..., Gunicorn],
) -> None:
    started = time.monotonic()
    server = run_gunicorn(secret=None, redis_port=_free_port())
    status = server.wait(REFUSAL_SECONDS)
    elapsed = time.monotonic() - started
    output = server.output()
    assert status == EXIT_REFUSED, output
    assert elapsed < REFUSAL_SECONDS
    assert "Traceback" not in output
    (line,) = _refusals(output)
    assert line == (
        "complaints: cannot start: COMPLAINTS_SECRET_KEY is missing: production needs a random "
        "secret of at least 32 characters"
    )
    # Refused before gunicorn bound its port, said READY or forked a single worker.
    assert "Listening at" not in output
    assert "Booting worker" not in output
    assert server.notifications() == []
    assert not _listening(server.port)


def test_control_with_a_secret_it_says_ready_and_serves_then_a_reload_it_cannot_boot_stops_it(
    run_gunicorn: Callable[..., Gunicorn], keystore_path: Path
) -> None:
    secret = TEST_SECRET
    server = run_gunicorn(secret=secret, redis_port=_free_port())
    deadline = time.monotonic() + START_SECONDS
    while True:
        assert server.process.poll() is None, server.output()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5) as r:
                assert json.loads(r.read()) == {"status": "ok"}
                break
        except OSError:
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.3)
    assert any(n.startswith("READY=1") for n in server.notifications())
    output = server.output()
    assert _refusals(output) == []
    # Redis does not answer: a warning at the start, not a refusal.
    warnings = [
        json.loads(line)
        for line in output.splitlines()
        if line.startswith("{") and "startup.ratelimit_storage_unreachable" in line
    ]
    assert len(warnings) == 1, output
    assert warnings[0]["level"] == "warning"

    # The key store disappears; a reload's new workers cannot boot, and gunicorn stops.
    shutil.rmtree(keystore_path)
    stopped_at = time.monotonic()
    os.kill(server.process.pid, signal.SIGHUP)
    status = server.wait(REFUSAL_SECONDS)
    output = server.output()
    # Usually the halt code. On a loaded machine the worker's exit can reach gunicorn's SIGCHLD
    # handler while the master is still inside its reload, and gunicorn (not the application)
    # then ends with status 1 and its own HaltServer traceback: stopped all the same.
    assert status in (WORKER_BOOT_ERROR, 1), output
    assert time.monotonic() - stopped_at < REFUSAL_SECONDS
    refusals = set(_refusals(output))
    assert len(refusals) == 1, output
    assert refusals.pop().startswith("complaints: cannot start: key store unavailable (")
    if status != WORKER_BOOT_ERROR:
        assert "HaltServer 'Worker failed to boot.' 3" in output, output
    else:
        assert "Traceback" not in output
    assert secret not in output
    assert not _listening(server.port)
