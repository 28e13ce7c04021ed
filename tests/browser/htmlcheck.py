"""The Nu Html Checker (the W3C's validator, ``vnu.jar`` from the npm package ``vnu-jar``), run
as ONE Java process for the whole test session, in its HTTP service mode on 127.0.0.1.

axe-core checks what a page means to assistive technology; it passes HTML that is not valid,
such as a duplicate id (two fields described by one hint) or a ``<time datetime>`` that is no
date or time. The checker catches those. The every-page walk sends it the HTML of each page as
the server sent it, and each error is a finding, as an axe violation is.

Java comes from Debian (``default-jre-headless``); a missing Java or ``vnu.jar`` fails the run
with instructions (``make browser-deps`` installs both). It never skips: a suite that quietly
leaves out a check proves nothing. The package's own install script, which would download a
Java of its own, is not run (``npm ci --ignore-scripts``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
VNU_JAR = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
# The checker loads its schemas before it answers; on two busy cores that can take a while.
START_TIMEOUT_S = 120.0
CHECK_TIMEOUT_S = 60.0
JAVA_OPTIONS = ("-Xss1m", "-Xmx512m")


def java_binary() -> Path | None:
    chosen = os.environ.get("COMPLAINTS_TEST_JAVA") or shutil.which("java")
    return Path(chosen) if chosen else None


@dataclass(frozen=True)
class HtmlError:
    """One error the checker reports, with the line and the markup around it."""

    message: str
    line: int | None
    extract: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        extract = " ".join(self.extract.split())
        return f"{where}{self.message}" + (f"\n      at: {extract[:160]}" if extract else "")


@dataclass(frozen=True)
class HtmlChecker:
    """A running checker: ``errors(html)`` validates one document."""

    url: str

    def errors(self, html: str) -> list[HtmlError]:
        request = urllib.request.Request(
            f"{self.url}/?out=json",
            data=html.encode("utf-8"),
            headers={"Content-Type": "text/html; charset=utf-8"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=CHECK_TIMEOUT_S) as response:
            report: dict[str, Any] = json.load(response)
        messages = report.get("messages")
        assert isinstance(messages, list), f"the checker answered without messages: {report}"
        # "error": invalid HTML; "non-document-error": the checker could not check it at all.
        # Warnings (type "info") are advice, as axe's "incomplete" results are.
        return [
            HtmlError(str(m.get("message", "")), m.get("lastLine"), str(m.get("extract", "")))
            for m in messages
            if m.get("type") in {"error", "non-document-error"}
        ]

    def check(self, html: str, where: str) -> None:
        """Fail the test, naming every error, if ``html`` is not valid."""
        found = self.errors(html)
        if found:
            pytest.fail(
                f"the Nu Html Checker found {len(found)} error(s) in {where}:\n"
                + "\n".join(f"- {error}" for error in found),
                pytrace=False,
            )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_ready(url: str, process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{url}/", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.25)
    log.flush()
    log.seek(0)
    tail = log.read().decode("utf-8", "replace")[-2000:]
    state = f"exited with {process.returncode}" if process.poll() is not None else "did not answer"
    pytest.fail(
        f"the Nu Html Checker {state} within {START_TIMEOUT_S:.0f}s at {url}:\n{tail}",
        pytrace=False,
    )


@contextmanager
def running_checker(log: IO[bytes]) -> Iterator[HtmlChecker]:
    """Start ``vnu.jar``'s HTTP service on a free loopback port; stop it afterwards."""
    java = java_binary()
    if java is None or not java.exists():
        pytest.fail(
            "Java not found (the Nu Html Checker needs it). Install it with "
            "`apt-get install default-jre-headless` (or `make browser-deps`), or point "
            "COMPLAINTS_TEST_JAVA at a java binary.",
            pytrace=False,
        )
    if not VNU_JAR.is_file():
        pytest.fail(
            f"The Nu Html Checker not found at {VNU_JAR}. Run `npm ci --ignore-scripts` in {ROOT} "
            "(or `make browser-deps`).",
            pytrace=False,
        )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        str(java),
        *JAVA_OPTIONS,
        # Loopback only: the checker answers nobody but this test run.
        "-Dnu.validator.servlet.bind-address=127.0.0.1",
        "-cp",
        str(VNU_JAR),
        "nu.validator.servlet.Main",
        str(port),
    ]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        _wait_until_ready(url, process, log)
        yield HtmlChecker(url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
