"""The README's first command, as a newcomer runs it: `make run`, then log in as a demo user."""

from __future__ import annotations

import html
import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyotp
import pytest

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 180


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Browser:
    """Just enough of a browser: cookies, forms with CSRF tokens, no redirects followed."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )

    def get(self, path: str) -> tuple[int, str]:
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path: str, fields: dict[str, str] | list[tuple[str, str]]) -> tuple[int, str]:
        body = urllib.parse.urlencode(fields).encode()
        return self._open(urllib.request.Request(self.base + path, data=body, method="POST"))

    def _open(self, request: urllib.request.Request) -> tuple[int, str]:
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            location = error.headers.get("Location", "")
            return error.code, location or error.read().decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _token(page: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, page[:500]
    return match.group(1)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPLAINTS_")}
    env["COMPLAINTS_INSTANCE_PATH"] = str(tmp_path / "instance")
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    reader = threading.Thread(
        target=lambda: output.extend(iter(process.stdout.readline, "")), daemon=True
    )  # type: ignore[union-attr]
    reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert process.poll() is None, "make run stopped:\n" + "".join(output)
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("make run did not become ready:\n" + "".join(output))
        yield base, output
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        reader.join(timeout=5)
        if process.stdout is not None:
            process.stdout.close()


def test_make_run_gives_a_working_product(running: tuple[str, list[str]], tmp_path: Path) -> None:
    base, output = running
    text = "".join(output)
    assert "DEVELOPMENT KEY STORE" in text
    assert "Demo log-ins" in text
    password_match = re.search(r"password: (demo-\S+)", text)
    assert password_match
    assert "i.hoekstra@bzk.example" in text  # a confidant
    assert (tmp_path / "instance" / "complaints.db").exists()
    assert (tmp_path / "instance" / "keys" / "keystore.json").exists()

    browser = Browser(base)
    status, page = browser.get("/aanmelden")
    assert status == 200
    assert "Inloggen medewerkers" in page
    status, location = browser.post(
        "/aanmelden",
        {
            "email": "i.hoekstra@bzk.example",
            "password": password_match.group(1),
            "csrf_token": _token(page),
        },
    )
    assert (status, location) == (303, "/aanmelden/code-instellen")
    status, page = browser.get("/aanmelden/code-instellen")
    key = re.search(r"<code>([A-Z2-7 ]+)</code>", page)
    assert key
    code = pyotp.TOTP(key.group(1).replace(" ", "")).at(datetime.now(UTC))
    status, location = browser.post(
        "/aanmelden/code-instellen", {"code": code, "csrf_token": _token(page)}
    )
    # A counsellor lands on her work page, the inbox.
    assert (status, location) == (303, "/zaken")
    status, page = browser.get("/zaken")
    assert status == 200
    status, page = browser.get("/account")
    assert status == 200
    assert "Ingrid Hoekstra" in html.unescape(page)
    assert "Vertrouwenspersoon" in page
    # The development server's access log (client address, full URL) is not printed.
    assert '"GET /account' not in "".join(output)

    # An employee files an anonymous report on the demo organisation and opens it again.
    employee = Browser(base)
    status, page = employee.get("/melden")
    assert status == 200
    status, location = employee.post("/melden", {"csrf_token": _token(page)})
    assert (status, location) == (303, "/melden/wat")
    description = "Mijn teamleider scheldt mij uit in elk overleg."
    steps = [
        ("/melden/wat", {"category": "bullying"}, "/melden/wanneer-waar"),
        ("/melden/wanneer-waar", {"unit": ""}, "/melden/beschrijving"),
        ("/melden/beschrijving", {"description": description}, "/melden/betrokkenen"),
        ("/melden/betrokkenen", {}, "/melden/wensen"),
        ("/melden/wensen", {"desired_outcome": "Dat het stopt."}, "/melden/wie"),
        ("/melden/wie", {"disclosure": "anonymous"}, "/melden/route"),
        ("/melden/route", {"route": "confidant"}, "/melden/controleren"),
    ]
    for path, fields, expected in steps:
        status, page = employee.get(path)
        assert status == 200, path
        if path == "/melden/wanneer-waar":
            # Somewhere in BZK, whose confidential counsellor is the one logged in above.
            unit = re.search(r'<option value="(\d+)"[^>]*>[^<]*Binnenlandse Zaken', page)
            assert unit, page
            fields = {"unit": unit.group(1)}
        status, location = employee.post(
            path, {"action": "continue", "csrf_token": _token(page), **fields}
        )
        assert (status, location) == (303, expected), (path, location[:2000])
    status, review = employee.get("/melden/controleren")
    assert status == 200
    recipients = re.findall(r'name="recipients" value="(\d+)"', review)
    assert len(recipients) == 1
    status, done = employee.post(
        "/melden/versturen",
        [("csrf_token", _token(review)), ("internal_ref", "")]
        + [("recipients", r) for r in recipients],
    )
    assert status == 200, done[:2000]
    groups = re.findall(r"<span[^>]*>([0-9A-Z]{4})</span>", done)
    assert len(groups) == 6, done
    receipt = "-".join(groups)

    follower = Browser(base)
    status, page = follower.get("/opvolgen")
    status, location = follower.post("/opvolgen", {"code": receipt, "csrf_token": _token(page)})
    assert (status, location) == (303, "/opvolgen/melding")
    status, page = follower.get("/opvolgen/melding")
    assert status == 200
    reference = re.search(r"\b(20\d\d-[0-9A-Z]{4}-[0-9A-Z]{4})\b", page)
    assert reference, page
    # The counsellor finds it in her inbox.
    status, inbox = browser.get("/zaken")
    assert status == 200
    assert f'data-case="{reference.group(1)}"' in inbox
    # Neither the story nor the code reached the server's output.
    printed = "".join(output)
    assert description not in printed
    assert receipt not in printed
    assert receipt.replace("-", "") not in printed
