"""The processing register generated from the policy, the ledger's export order and the CSV
cells a spreadsheet must never run as a formula."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from flask import Flask
from flask_babel import force_locale

from complaints.retention.models import LedgerEntry
from complaints.retention.policy import Category
from complaints.retention.register import (
    iter_ledger,
    ledger_page,
    period_text,
    processing_register,
    records_text,
)
from complaints.web.csvexport import csv_cell, csv_text
from complaints.workflow.config import Period
from tests.conftest import app_session


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+31 6 1234", "'+31 6 1234"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("2026-ABCD-EFGH", "2026-ABCD-EFGH"),
        ("a=b", "a=b"),
        (None, ""),
        (3, "3"),
    ],
)
def test_cells_that_look_like_formulas_are_made_text(value: object, cell: str) -> None:
    assert csv_cell(value) == cell


def test_csv_quotes_what_needs_quoting() -> None:
    text = csv_text(["a", "b"], [['x, "y"', "=cmd|' /C calc'!A0"], ["line\nbreak", ""]])
    assert text.endswith("\r\n")
    assert list(csv.reader(io.StringIO(text))) == [
        ["a", "b"],
        ['x, "y"', "'=cmd|' /C calc'!A0"],
        ["line\nbreak", ""],
    ]


@pytest.mark.parametrize(
    ("period", "nl", "en"),
    [
        (Period(months=24), "2 jaar", "2 years"),
        (Period(months=12), "1 jaar", "1 year"),
        (Period(months=6), "6 maanden", "6 months"),
        (Period(days=1), "1 dag", "1 day"),
        (Period(months=13, days=2), "1 jaar, 1 maand en 2 dagen", "1 year, 1 month and 2 days"),
        (Period(), "0 dagen", "0 days"),
    ],
)
def test_periods_in_words(app: Flask, period: Period, nl: str, en: str) -> None:
    with app.test_request_context():
        with force_locale("nl"):
            dutch = period_text(period)
        with force_locale("en"):
            english = period_text(period)
        assert period_text(None) == ""
    assert (dutch, english) == (nl, en)


def test_the_register_has_every_category_with_its_rules(app: Flask) -> None:
    policy = app.extensions["complaints.retention"]
    register = processing_register(policy)
    assert [entry.info.category for entry in register] == list(Category)
    assert sorted(r.name for entry in register for r in entry.rules) == sorted(
        r.name for r in policy.rules
    )
    for entry in register:
        assert all(rule.category is entry.info.category for rule in entry.rules)


def test_the_export_follows_the_pages_order_across_batches(app: Flask) -> None:
    same_moment = datetime(2026, 1, 1, tzinfo=UTC)
    with app_session(app) as session:
        for number in range(7):
            session.add(
                LedgerEntry(
                    # Ties on the moment: the keyset must not skip or repeat an entry.
                    occurred_at=same_moment
                    if number % 2
                    else datetime(2025, 1, number + 1, tzinfo=UTC),
                    as_of=date(2026, 1, 1),
                    category="case",
                    subject=f"S{number}",
                    rule="withdrawn",
                    action="destroyed",
                    records={"cases": 1},
                )
            )
    with app_session(app) as session:
        exported = [str(e.subject) for e in iter_ledger(session, batch_size=2)]
        page = ledger_page(session, per_page=100)
        assert exported == [str(e.subject) for e in page.entries]
        assert sorted(exported) == [f"S{n}" for n in range(7)]
        assert exported[:3] == ["S5", "S3", "S1"]
        assert ledger_page(session, page=2, per_page=3).entries == page.entries[3:6]
        assert ledger_page(session, page=0, per_page=3).page == 1
        assert ledger_page(session, page=99, per_page=3).page == 3


def test_records_in_words() -> None:
    assert records_text({"messages": 5, "case_events": 3}) == "case_events 3; messages 5"
    assert records_text({}) == ""
