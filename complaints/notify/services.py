"""Queueing notifications in the transaction, and delivering them once it has committed.

E-mails say that something needs attention and where to log in — a case reference and a date
at most. They never carry case content, names or receipt codes, because e-mail is copied,
forwarded and stored in places this service does not control.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy.orm import Session

from complaints import clock, db
from complaints.directory.models import Person
from complaints.logs import get_logger
from complaints.notify.mailer import Mailer
from complaints.notify.models import Notification, NotificationStatus
from complaints.settings import Settings, current_settings
from complaints.web.i18n import _

_PLAIN = (str, int, bool)
log = get_logger(__name__)


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


def queue_notification(
    session: Session,
    *,
    recipient_person_id: int,
    kind: str,
    params: dict[str, Any],
    now: datetime,
) -> Notification:
    """Put an e-mail in the outbox, in the caller's transaction."""
    for name, value in params.items():
        if not isinstance(value, _PLAIN):
            raise TypeError(f"notification parameter {name!r} must be a plain value")
    notification = Notification(
        recipient_person_id=recipient_person_id,
        kind=kind,
        params=dict(params),
        status=NotificationStatus.PENDING,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(notification)
    session.flush()
    notification_id = notification.id
    db.after_commit(session, lambda: _deliver_now([notification_id]))
    return notification


def _deliver_now(ids: list[int]) -> None:
    """Try at once after the commit; what fails stays pending for ``notify send``."""
    session = db.session()
    try:
        report = deliver(session, mailer(), current_settings(), now=clock.now(), only=ids)
        session.commit()
    except Exception:  # a broken mail server must not break the page that was saved
        session.rollback()
        log.warning("notify.delivery_error", exc_info=True)
        return
    if report.retrying or report.failed:
        log.warning("notify.delivery_deferred", retrying=report.retrying, failed=report.failed)


def deliver(
    session: Session,
    mailer: Mailer,
    settings: Settings,
    *,
    now: datetime,
    only: Collection[int] | None = None,
    limit: int = 200,
) -> DeliveryReport:
    """Send pending notifications that are due (or just ``only`` these); record the outcome."""
    query = (
        sa.select(Notification, Person)
        .join(Person, Person.id == Notification.recipient_person_id)
        .where(Notification.status == NotificationStatus.PENDING)
        .order_by(Notification.id)
        .limit(limit)
    )
    if only is not None:
        query = query.where(Notification.id.in_(list(only)))
    else:
        query = query.where(Notification.next_attempt_at <= now)
    rows = session.execute(query).all()
    messages = [render_email(n, person, settings) for n, person in rows]
    outcomes = mailer.send(messages)
    sent = retrying = failed = 0
    for (notification, _person), error in zip(rows, outcomes, strict=True):
        notification.attempts += 1
        if error is None:
            notification.status = NotificationStatus.SENT
            notification.sent_at = now
            notification.last_error = None
            sent += 1
            continue
        notification.last_error = type(error).__name__[:100]
        if notification.attempts >= settings.notification_max_attempts:
            notification.status = NotificationStatus.FAILED
            failed += 1
        else:
            # 1, 2, 4, 8 ... minutes, at most a day, between attempts.
            backoff = min(2 ** (notification.attempts - 1), 24 * 60)
            notification.next_attempt_at = now + timedelta(minutes=backoff)
            retrying += 1
    session.flush()
    return DeliveryReport(sent, retrying, failed)


def render_email(notification: Notification, person: Person, settings: Settings) -> EmailMessage:
    """The e-mail in Dutch with an English translation below it."""
    values = dict(notification.params)
    for name, value in list(values.items()):
        if name.endswith("_by") and isinstance(value, str):
            values[name] = date.fromisoformat(value)
    values["login_url"] = settings.public_url.rstrip("/") + "/aanmelden"
    parts = []
    subjects = []
    for language in ("nl", "en"):
        with force_locale(language):
            parts.append(render_template(f"notify/{notification.kind}.txt", **values).strip())
            subjects.append(_subject(notification.kind, values))
    message = EmailMessage()
    message["Subject"] = f"{subjects[0]} / {subjects[1]}"
    message["From"] = settings.mail_from
    message["To"] = person.email
    message["Message-ID"] = make_msgid(domain=settings.mail_from.rsplit("@", 1)[-1].strip("> "))
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(f"{parts[0]}\n\n-- English --\n\n{parts[1]}\n")
    return message


def _subject(kind: str, values: dict[str, Any]) -> str:
    reference = values.get("reference", "")
    subjects = {
        "case_assigned": _("New report %(reference)s", reference=reference),
        "case_message": _("News in report %(reference)s", reference=reference),
        "case_withdrawn": _("Report %(reference)s withdrawn", reference=reference),
    }
    return subjects.get(kind, _("Message from the reporting service"))


def mailer() -> Mailer:
    configured: Mailer = current_app.extensions["complaints.mailer"]
    return configured
