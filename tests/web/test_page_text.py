"""How the main pages write dates, times and punctuation, in both languages.

The pages are tests/pages.py's: the start page, the report form, the mailbox, the inbox, a case
of every route, the committee's page, the account page and the destruction ledger. Each check
has a control: the page rendered again with the fault put back shows that the check finds it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import flask_babel

from tests import test_authorization as matrix
from tests.pages import Page, Shown, shown, template_changed  # noqa: F401  (shown: a fixture)
from tests.test_authorization import world  # noqa: F401  (the matrix's world, as a fixture)
from tests.web.test_dates import VALID_DATETIME

TIME_VALUE = re.compile(r"<time\b[^>]*\bdatetime=\"([^\"]*)\"")
# Formats the pages used to show besides Babel's long one: 07-12-2026, 07/12/2026, 12/7/26,
# December 7, 2026 and Dec 7, 2026.
OTHER_DATES = re.compile(
    r"\b\d{1,2}[-/]\d{1,2}[-/]\d{2,4}\b|\b[A-Z][a-z]{2,8} \d{1,2}, \d{4}\b", re.ASCII
)


@contextmanager
def filter_replaced(
    world: matrix.World,  # noqa: F811
    name: str,
    replacement: Callable[..., Any],
) -> Iterator[None]:
    """For a control: the template filter ``name`` does what it did before."""
    filters = world.app.jinja_env.filters
    original = filters[name]
    filters[name] = replacement
    try:
        yield
    finally:
        filters[name] = original


def time_values(page: Page) -> list[str]:
    return TIME_VALUE.findall(page.markup)


def test_time_values_are_valid_html(shown: Shown, world: matrix.World) -> None:  # noqa: F811
    invalid = [(str(p), v) for p in shown.pages for v in time_values(p)]
    invalid = [(page, v) for page, v in invalid if not VALID_DATETIME.fullmatch(v)]
    assert invalid == []
    # The pages the issue names show moments, made with microseconds, not only days.
    for name in (
        "case: confidant (with messages)",
        "mailbox",
        "committee page (secretary)",
        "destruction ledger",
    ):
        moments = [v for v in time_values(shown.named(name, "nl")) if "T" in v]
        assert moments, f"{name} shows no moment in a <time> element"
    # Control: with the value the templates wrote before, the same pages are found out.
    with filter_replaced(world, "html_datetime", lambda value: value.isoformat()):
        for name in ("case: confidant (with messages)", "mailbox", "destruction ledger"):
            page = shown.again(name, "nl")
            assert [v for v in time_values(page) if not VALID_DATETIME.fullmatch(v)], name


def test_dates_are_written_one_way_per_language(shown: Shown, world: matrix.World) -> None:  # noqa: F811
    found = [(str(p), m) for p in shown.pages for m in OTHER_DATES.findall(p.text)]
    assert found == []
    # The account page lists the sessions, 9:30 UTC being 10:30 in Amsterdam (winter time).
    assert "2 maart 2026, 10:30" in shown.named("account page", "nl").text
    assert "2 March 2026, 10:30" in shown.named("account page", "en").text
    # Control: Flask-Babel's "short" format (the account page's before) and its English long
    # date (American) are found on the pages that used them.
    with filter_replaced(
        world, "format_datetime", lambda v: flask_babel.format_datetime(v, "short")
    ):
        assert OTHER_DATES.search(shown.again("account page", "nl").text)
    with filter_replaced(world, "format_date", lambda v: flask_babel.format_date(v, "long")):
        assert OTHER_DATES.search(shown.again("mailbox", "en").text)


# A space before a comma, colon or semicolon: "De melder schreef , 7 december". Not inside a
# time of day or a link (no space there), nor before an opening bracket.
SPACE_BEFORE_PUNCTUATION = re.compile(r"\S.{0,30}? [,:;](?=\s|$)")


def without_whitespace_control(source: str) -> str:
    return source.replace("{%-", "{%").replace("-%}", "%}")


def test_no_space_before_a_comma_or_colon(shown: Shown, world: matrix.World) -> None:  # noqa: F811
    found = [(str(p), m) for p in shown.pages for m in SPACE_BEFORE_PUNCTUATION.findall(p.text)]
    assert found == []
    # The pages where it was seen show what it was seen around: who wrote a message (with
    # its time after a comma) and a step with the change of state after a colon.
    case = shown.named("case: confidant (with messages)", "nl").text
    assert "De melder schreef, 2 maart 2026" in case
    assert "Ontvangst bevestigen: van Ingediend naar Ontvangst bevestigd" in case
    # Control: the same page without Jinja's whitespace control shows the faults again.
    with template_changed(world, "casework/case.html", without_whitespace_control):
        again = shown.again("case: confidant (with messages)", "nl").text
    found = SPACE_BEFORE_PUNCTUATION.findall(again)
    assert any("De melder schreef ," in f for f in found), found
    assert any("Ontvangst bevestigen :" in f for f in found), found
