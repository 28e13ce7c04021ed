"""Sending e-mail over SMTP (smtplib), configured by the settings."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage

from complaints.settings import Settings


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._tls: ssl.SSLContext | None = None

    def _tls_context(self) -> ssl.SSLContext:
        # Made once: loading the system's trusted certificates takes a noticeable time
        # (about 0.15 s), which every submission would otherwise pay while the person waits.
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    def send(self, messages: Sequence[EmailMessage]) -> list[BaseException | None]:
        """Send over one connection; returns, per message, None or the error it met."""
        if not messages:
            return []
        try:
            smtp = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            return [exc for _ in messages]
        results: list[BaseException | None] = []
        with smtp:
            for message in messages:
                try:
                    smtp.send_message(message)
                    results.append(None)
                except (OSError, smtplib.SMTPException) as exc:
                    results.append(exc)
        return results

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        smtp: smtplib.SMTP
        if s.smtp_security == "tls":
            smtp = smtplib.SMTP_SSL(
                s.smtp_host,
                s.smtp_port,
                timeout=s.smtp_timeout_seconds,
                context=self._tls_context(),
            )
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
            if s.smtp_security == "starttls":
                smtp.starttls(context=self._tls_context())
        if s.smtp_username and s.smtp_password:
            smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
        return smtp
