"""The real SMTP test server of the notification tests, for the check-in reminders."""

from tests.notify.conftest import mail_app, mail_server, mail_settings

__all__ = ["mail_app", "mail_server", "mail_settings"]
