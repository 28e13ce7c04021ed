"""Dates and times as people read them: one format per language, from Babel's locale data.

Dutch pages show ``7 december 2026`` and ``7 december 2026, 02:31``; English ones the British
``7 December 2026`` and ``7 December 2026, 02:31`` (plain ``en`` would be American:
``December 7, 2026``). Times are shown in Europe/Amsterdam (Flask-Babel's default timezone,
set in ``web/i18n.py``), whatever zone the value carries. ``html_datetime`` gives the value for
``<time datetime="…">``: UTC to the second, as HTML allows (no microseconds).

Templates use the filters ``format_date``, ``format_datetime`` and ``html_datetime``; Flask-Babel's
own ``dateformat``/``datetimeformat``/``timeformat`` filters are removed, so no template can pick
another format.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Final, Literal

from babel import Locale
from babel import dates as babel_dates
from flask import Flask
from flask_babel import get_locale, get_timezone

# The Babel locale behind each language of the interface.
LOCALES = {"nl": Locale.parse("nl_NL"), "en": Locale.parse("en_GB")}
DATE_LENGTH: Final = "long"  # 7 december 2026
TIME_LENGTH: Final = "short"  # 02:31
DATETIME_LENGTH: Final[Literal["long"]] = "long"  # how the locale joins the two: "{1}, {0}"


def babel_locale() -> Locale:
    """The Babel locale for the language in force (the request's, or one forced for an e-mail
    or letter); Dutch when there is none."""
    locale = get_locale()
    language = locale.language if locale is not None else "nl"
    return LOCALES.get(language, LOCALES["nl"])


def _aware(value: datetime) -> datetime:
    # The database hands back aware UTC; a naive value is read as UTC, as the database does.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _local(value: datetime) -> datetime:
    return _aware(value).astimezone(get_timezone())


def format_date(value: date | datetime) -> str:
    """A day, e.g. ``7 december 2026``; a moment becomes its day in Amsterdam."""
    day = _local(value).date() if isinstance(value, datetime) else value
    return babel_dates.format_date(day, DATE_LENGTH, locale=babel_locale())


def format_datetime(value: datetime) -> str:
    """A moment in Amsterdam time to the minute, e.g. ``7 december 2026, 02:31``."""
    locale = babel_locale()
    moment = _local(value)
    pattern = str(babel_dates.get_datetime_format(DATETIME_LENGTH, locale=locale))
    return pattern.replace(
        "{1}", babel_dates.format_date(moment, DATE_LENGTH, locale=locale)
    ).replace(
        "{0}", babel_dates.format_time(moment, TIME_LENGTH, tzinfo=moment.tzinfo, locale=locale)
    )


def html_datetime(value: date | datetime) -> str:
    """The machine-readable value of ``<time datetime>``: ``2026-12-07`` for a day,
    ``2026-12-07T01:31:05Z`` for a moment (UTC, whole seconds)."""
    if isinstance(value, datetime):
        moment = _aware(value).astimezone(UTC).replace(microsecond=0, tzinfo=None)
        return f"{moment.isoformat()}Z"
    return value.isoformat()


def init_app(app: Flask) -> None:
    """Register the filters, and take Flask-Babel's away (call after ``Babel(app)``)."""
    for name in ("dateformat", "datetimeformat", "timeformat"):
        app.jinja_env.filters.pop(name, None)
    app.jinja_env.filters.update(
        format_date=format_date, format_datetime=format_datetime, html_datetime=html_datetime
    )
