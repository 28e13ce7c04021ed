"""A real SMTP server (aiosmtpd) on 127.0.0.1, and an application that sends to it.

The server can be stopped and started again on the same port, so a test can show what happens
while the mail relay is down and what ``notify send`` does once it is back.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SMTPSession
from flask import Flask

from complaints import create_app
from complaints.clock import set_clock
from tests.conftest import Clock, DatabaseFactory, make_settings

PUBLIC_URL = "https://meldpunt.example"
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    connection: int  # which SMTP connection brought it

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Inbox:
    """The aiosmtpd handler: keeps every message it accepts."""

    received: list[Received] = field(default_factory=list)
    # Held, not just counted: a connection is known by its session object.
    sessions: list[SMTPSession] = field(default_factory=list)

    async def handle_DATA(  # noqa: N802 - the name aiosmtpd calls
        self, server: SMTP, session: SMTPSession, envelope: Envelope
    ) -> str:
        if not any(known is session for known in self.sessions):
            self.sessions.append(session)
        connection = next(i for i, known in enumerate(self.sessions) if known is session)
        raw = envelope.original_content or b""
        self.received.append(
            Received(str(envelope.mail_from), list(envelope.rcpt_tos), raw, connection)
        )
        return "250 Message accepted for delivery"


class MailServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.inbox = Inbox()
        self._controller: Controller | None = None

    @property
    def received(self) -> list[Received]:
        return self.inbox.received

    def start(self) -> None:
        assert self._controller is None
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    """A running SMTP server on a free loopback port (``stop()``/``start()`` to take it down)."""
    server = MailServer(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mail_settings(mail_server: MailServer) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": mail_server.port,
        "smtp_timeout_seconds": 5.0,
        "notification_max_attempts": MAX_ATTEMPTS,
        "public_url": PUBLIC_URL,
    }


@pytest.fixture
def settings_overrides(mail_settings: dict[str, Any]) -> dict[str, Any]:
    """The rolled-back ``app`` fixture sends to the test server too."""
    return mail_settings


@pytest.fixture
def mail_app(
    databases: DatabaseFactory,
    tmp_path: Path,
    keystore_path: Path,
    clock: Clock,
    mail_settings: dict[str, Any],
) -> Iterator[Flask]:
    """Like ``committed_app`` (a database of its own, real commits), sending to ``mail_server``."""
    settings = make_settings(tmp_path, databases.fresh_url(), keystore_path, **mail_settings)
    application = create_app(settings)
    set_clock(application, clock)
    yield application
    application.extensions["complaints.db"].engine.dispose()
