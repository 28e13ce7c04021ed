"""One date format per language (Babel's, nl_NL and en_GB, in Amsterdam time), and
``<time datetime>`` values that HTML allows.

The pages that show them are checked in tests/web/test_page_text.py; here the formats
themselves, the filters, and that no template can still reach Flask-Babel's own filters.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import flask_babel
import pytest
from flask import Flask
from jinja2 import TemplateAssertionError

from complaints.web.dates import format_date, format_datetime, html_datetime

# A "valid global date and time string" or a "valid date string" (HTML Living Standard,
# 2.3.5): seconds optional, at most three digits of a fraction, "Z" or an offset.
VALID_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?"
)
MOMENT = datetime(2026, 12, 7, 1, 31, 5, 123456, tzinfo=UTC)  # 02:31 in Amsterdam (CET)


def _in(app: Flask, language: str) -> Any:
    """A request from a browser set to ``language`` (the language switch's cookie)."""
    return app.test_request_context("/", headers={"Cookie": f"taal={language}"})


@pytest.mark.parametrize(
    ("language", "day", "moment"),
    [
        ("nl", "7 december 2026", "7 december 2026, 02:31"),
        ("en", "7 December 2026", "7 December 2026, 02:31"),
    ],
)
def test_each_language_has_one_format(app: Flask, language: str, day: str, moment: str) -> None:
    with _in(app, language):
        assert format_date(MOMENT.date()) == day
        assert format_date(MOMENT) == day
        assert format_datetime(MOMENT) == moment
        # Control: the formats the issue found, which these assertions tell apart.
        found = {
            "nl": flask_babel.format_datetime(MOMENT, "short"),
            "en": flask_babel.format_date(MOMENT.date(), "long"),
        }[language]
        assert found in {"07-12-2026, 02:31", "December 7, 2026"}
        assert found not in (day, moment)


def test_a_forced_language_gives_its_own_format(app: Flask) -> None:
    """E-mails and letters are written in the addressee's language, not the request's."""
    with app.app_context(), flask_babel.force_locale("en"):
        assert format_date(date(2026, 12, 1)) == "1 December 2026"
    with app.app_context(), flask_babel.force_locale("nl"):
        assert format_date(date(2026, 12, 1)) == "1 december 2026"


def test_times_are_shown_in_amsterdam(app: Flask) -> None:
    late_in_winter = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)
    late_in_summer = datetime(2026, 7, 1, 22, 15, tzinfo=UTC)
    with _in(app, "nl"):
        assert format_date(late_in_winter) == "8 december 2026"
        assert format_datetime(late_in_winter) == "8 december 2026, 00:30"
        assert format_datetime(late_in_summer) == "2 juli 2026, 00:15"
        # Control: in UTC it is still the day before.
        assert late_in_winter.date() == date(2026, 12, 7)


def test_time_values_are_valid_html() -> None:
    assert html_datetime(MOMENT) == "2026-12-07T01:31:05Z"
    assert html_datetime(date(2026, 12, 7)) == "2026-12-07"
    amsterdam = MOMENT.astimezone(ZoneInfo("Europe/Amsterdam"))
    assert html_datetime(amsterdam) == "2026-12-07T01:31:05Z"
    for value in (MOMENT, date(2026, 12, 7), amsterdam):
        assert VALID_DATETIME.fullmatch(html_datetime(value))
    # Control: what the templates wrote before, six digits of microseconds, is not valid.
    assert not VALID_DATETIME.fullmatch(MOMENT.isoformat())


def test_every_template_uses_these_filters_only(app: Flask) -> None:
    names = [n for n in app.jinja_env.list_templates() if n.endswith((".html", ".txt"))]
    assert len(names) > 20
    for name in names:
        app.jinja_env.get_template(name)  # an unknown filter fails when compiling
    # Control: Flask-Babel's own filters, each with a format of its own, are gone.
    for old in ('dateformat("long")', 'datetimeformat("short")', "timeformat"):
        with pytest.raises(TemplateAssertionError, match="No filter named"):
            app.jinja_env.from_string(f"{{{{ day | {old} }}}}")
