"""Structured logs (JSON lines on stderr) that never hold case content, names or addresses.

Log calls pass ids and codes as fields. As a second line of defence a processor blanks any
field whose name suggests personal data, and the development server's access log (which
prints client IP addresses and full URLs) is dropped in favour of our own request line.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

from complaints.settings import Settings

REDACTED = "[redacted]"
SENSITIVE_FIELDS = frozenset(
    {
        "password",
        "token",
        "secret",
        "receipt",
        "receipt_code",
        "code",
        "totp",
        "description",
        "text",
        "body",
        "content",
        "name",
        "email",
        "login",
        "ip",
        "remote_addr",
        "address",
        "phone",
        "user_agent",
        "query",
        "url",
        "path",
        "form",
    }
)
_HANDLER_MARK = "_complaints_handler"


def redact_sensitive(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    for key in list(event_dict):
        if key.lower() in SENSITIVE_FIELDS:
            event_dict[key] = REDACTED
    return event_dict


class DropAccessLog(logging.Filter):
    """Werkzeug's request lines start with the client address; ours replace them."""

    def filter(self, record: logging.LogRecord) -> bool:
        return " - - [" not in record.getMessage()


def configure_logging(settings: Settings) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_sensitive,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, _HANDLER_MARK, False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        setattr(handler, _HANDLER_MARK, True)
        root.addHandler(handler)
    handler.setFormatter(formatter)
    root.setLevel(settings.log_level)
    # Alembic's INFO lines ("Context impl SQLiteImpl") are noise; `db upgrade` reports itself.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
    werkzeug = logging.getLogger("werkzeug")
    if not any(isinstance(f, DropAccessLog) for f in werkzeug.filters):
        werkzeug.addFilter(DropAccessLog())


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
