"""Queueing notifications in the transaction, and delivering them once it has committed.

E-mails say that something needs attention and where to log in — a case reference and a date
at most. They never carry case content, names or receipt codes, because e-mail is copied,
forwarded and stored in places this service does not control.

The texts are composed here rather than in templates: message extraction (babel.cfg) reads
Python and HTML templates, so sentences in a ``.txt`` template were never translated.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, get_locale
from sqlalchemy.orm import Session

from complaints import clock, db
from complaints.directory.models import Person
from complaints.logs import get_logger
from complaints.notify.mailer import Mailer
from complaints.notify.models import Notification, NotificationStatus
from complaints.settings import Settings, current_settings
from complaints.web.dates import format_date
from complaints.web.i18n import _, ngettext

_PLAIN = (str, int, bool)
KINDS = frozenset(
    {
        "case_assigned",
        "case_message",
        "case_withdrawn",
        "case_reopened",
        "checkin_due",
        "deadline_reminder",
        "retention_reminder",
    }
)
BACKOFF_LIMIT = timedelta(days=1)
DELIVERY_BATCH = 200  # notifications per transaction and SMTP connection
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
    case_id: uuid.UUID | None = None,
) -> Notification:
    """Put an e-mail in the outbox, in the caller's transaction; it goes out after the commit.
    An e-mail about a case gives its ``case_id``: the row (whose params name the case) is then
    destroyed with the case, so no reference outlives it in the outbox."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    for name, value in params.items():
        if not isinstance(value, _PLAIN):
            raise TypeError(f"notification parameter {name!r} must be a plain value")
    notification = Notification(
        recipient_person_id=recipient_person_id,
        case_id=case_id,
        kind=kind,
        params=dict(params),
        status=NotificationStatus.PENDING,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(notification)
    session.flush()
    _delivery_after_commit(session).ids.append(notification.id)
    return notification


class _DeliverAfterCommit:
    """One after-commit delivery per transaction, for all it queued: one SMTP connection."""

    def __init__(self) -> None:
        self.ids: list[int] = []

    def __call__(self) -> None:
        _deliver_now(self.ids)


def _delivery_after_commit(session: Session) -> _DeliverAfterCommit:
    for callback in session.info.get(db.AFTER_COMMIT, []):
        if isinstance(callback, _DeliverAfterCommit):
            return callback
    callback = _DeliverAfterCommit()
    db.after_commit(session, callback)
    return callback


def _deliver_now(ids: list[int]) -> None:
    """Try at once after the commit; what fails stays pending for ``notify send``."""
    session = db.session()
    for start in range(0, len(ids), DELIVERY_BATCH):
        try:
            report = deliver(
                session,
                mailer(),
                current_settings(),
                now=clock.now(),
                only=ids[start : start + DELIVERY_BATCH],
            )
            session.commit()
        except Exception:  # a broken mail server must not break the page that was saved
            session.rollback()
            log.warning("notify.delivery_error", exc_info=True)
            return
        if report.retrying or report.failed:
            log.warning("notify.delivery_deferred", retrying=report.retrying, failed=report.failed)
        if report.retrying and not report.sent:
            return  # the server is unreachable: leave the rest to ``notify send`` as well


def deliver(
    session: Session,
    mailer: Mailer,
    settings: Settings,
    *,
    now: datetime,
    only: Collection[int] | None = None,
    limit: int = DELIVERY_BATCH,
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
    # Two senders (the after-commit delivery and ``notify send``, or two timers) must not
    # both take the same row: PostgreSQL skips rows another transaction is sending. SQLite
    # needs nothing, its transactions take the write lock at BEGIN.
    query = query.with_for_update(skip_locked=True, of=Notification)
    batch: list[tuple[Notification, EmailMessage]] = []
    failed = 0
    for notification, person in session.execute(query).all():
        try:
            batch.append((notification, render_email(notification, person, settings)))
        except Exception as exc:
            # It will not render any better next time: give up on it, and send the others.
            notification.attempts += 1
            notification.status = NotificationStatus.FAILED
            notification.last_error = type(exc).__name__[:100]
            log.warning("notify.render_failed", notification_id=notification.id)
            failed += 1
    outcomes = mailer.send([message for _notification, message in batch])
    sent = retrying = 0
    for (notification, _message), error in zip(batch, outcomes, strict=True):
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
            notification.next_attempt_at = now + retry_delay(notification.attempts)
            retrying += 1
    session.flush()
    return DeliveryReport(sent, retrying, failed)


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4, 8 ... minutes after the first, second, third ... failed attempt; at most a day."""
    return min(timedelta(minutes=2 ** min(attempts - 1, 20)), BACKOFF_LIMIT)


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
            subject, body = _compose(notification.kind, values)
            subjects.append(subject)
            parts.append(body)
    message = EmailMessage()
    message["Subject"] = f"{subjects[0]} / {subjects[1]}"
    message["From"] = settings.mail_from
    message["To"] = person.email
    message["Message-ID"] = make_msgid(domain=settings.mail_from.rsplit("@", 1)[-1].strip("> "))
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(f"{parts[0]}\n\n-- English --\n\n{parts[1]}\n")
    return message


def _compose(kind: str, values: dict[str, Any]) -> tuple[str, str]:
    """Subject and body in the current language, from the reference, a date and the link."""
    reference = values["reference"]
    login_url = values["login_url"]
    read_it = _("Log in to read it:")
    if kind == "case_assigned":
        subject = _("New report %(reference)s", reference=reference)
        paragraphs = [
            _("A new report has been assigned to you: %(reference)s.", reference=reference)
        ]
        acknowledge_by = values.get("acknowledge_by")
        if isinstance(acknowledge_by, date):
            when = format_date(acknowledge_by)
            read_it = _("Please confirm receipt by %(date)s. Log in to read it:", date=when)
        paragraphs.append(f"{read_it}\n{login_url}")
    elif kind == "case_message":
        subject = _("News in report %(reference)s", reference=reference)
        paragraphs = [
            _(
                "There is news from the complainant in report %(reference)s (a message, a file "
                "or a consent).",
                reference=reference,
            ),
            f"{read_it}\n{login_url}",
        ]
    elif kind == "case_withdrawn":
        subject = _("Report %(reference)s withdrawn", reference=reference)
        paragraphs = [
            _(
                "The complainant has withdrawn report %(reference)s. Its deadlines have stopped.",
                reference=reference,
            ),
            login_url,
        ]
    elif kind == "case_reopened":
        subject = _("Report %(reference)s opened again", reference=reference)
        paragraphs = [
            _(
                "Report %(reference)s has been opened again by the complainant, in answer to a "
                "check-in after it was closed. Its time limits run again.",
                reference=reference,
            ),
            f"{read_it}\n{login_url}",
        ]
    elif kind == "checkin_due":
        subject = _("Check-in due in report %(reference)s", reference=reference)
        paragraphs = [
            ngettext(
                "It is a month since report %(reference)s was closed: please send the "
                "complainant the check-in. Use “Send check-in” on the case page.",
                "It is %(num)d months since report %(reference)s was closed: please send the "
                "complainant the check-in. Use “Send check-in” on the case page.",
                int(values.get("months", 0)),
                reference=reference,
            ),
            "\n".join((_("Log in to send it:"), login_url)),
        ]
    elif kind == "deadline_reminder":
        subject, paragraphs = _deadline_reminder(values, reference, login_url)
    elif kind == "retention_reminder":
        subject, paragraphs = _retention_reminder(values, reference, login_url)
    else:
        raise ValueError(f"unknown notification kind {kind!r}")
    paragraphs.append(_("This e-mail deliberately contains nothing about the report itself."))
    return subject, "\n\n".join(paragraphs)


def _deadline_reminder(
    values: dict[str, Any], reference: str, login_url: str
) -> tuple[str, list[str]]:
    """A time limit that is near or has passed: its name and day, nothing about the case."""
    locale = get_locale()
    language = locale.language if locale is not None else "nl"
    deadline = values.get(f"deadline_{language}") or values.get("deadline_nl", "")
    due_by = values["due_by"]
    when = format_date(due_by) if isinstance(due_by, date) else str(due_by)
    if values.get("overdue"):
        subject = _("Time limit passed in report %(reference)s", reference=reference)
        text = _(
            "The time limit “%(deadline)s” in report %(reference)s was due on %(date)s and has "
            "not been met.",
            deadline=deadline,
            reference=reference,
            date=when,
        )
    else:
        subject = _("Time limit approaching in report %(reference)s", reference=reference)
        text = _(
            "The time limit “%(deadline)s” in report %(reference)s is due on %(date)s.",
            deadline=deadline,
            reference=reference,
            date=when,
        )
    deal_with_it = _("Log in to deal with it:")
    return subject, [text, f"{deal_with_it}\n{login_url}"]


def _retention_reminder(
    values: dict[str, Any], reference: str, login_url: str
) -> tuple[str, list[str]]:
    """A case about to be destroyed or redacted by the retention policy: the rule and the day."""
    locale = get_locale()
    language = locale.language if locale is not None else "nl"
    rule = values.get(f"rule_{language}") or values.get("rule_nl", "")
    due_by = values["due_by"]
    when = format_date(due_by) if isinstance(due_by, date) else str(due_by)
    if values.get("action") == "redact":
        subject = _("Report %(reference)s will be partly erased", reference=reference)
        text = _(
            "Under the retention rule “%(rule)s”, parts of report %(reference)s will be erased "
            "on %(date)s.",
            rule=rule,
            reference=reference,
            date=when,
        )
    else:
        subject = _("Report %(reference)s will be destroyed", reference=reference)
        text = _(
            "Under the retention rule “%(rule)s”, report %(reference)s will be destroyed on "
            "%(date)s.",
            rule=rule,
            reference=reference,
            date=when,
        )
    keep = _(
        "If it must be kept longer, you can extend its retention once, with a reason, on the "
        "case page. Log in to do so:"
    )
    return subject, [text, f"{keep}\n{login_url}"]


def mailer() -> Mailer:
    configured: Mailer = current_app.extensions["complaints.mailer"]
    return configured


def count_sent(session: Session, ids: Sequence[int]) -> int:
    """How many of the notifications ``ids`` have gone out (a command says what really went, not
    what it queued: delivery after the commit may have failed and left them for 'notify send')."""
    if not ids:
        return 0
    return int(
        session.scalar(
            sa.select(sa.func.count()).where(
                Notification.id.in_(ids), Notification.status == NotificationStatus.SENT
            )
        )
        or 0
    )
