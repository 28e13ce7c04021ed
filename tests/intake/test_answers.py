"""The saved answers become a report without a request: above all, who counts as the filer."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_babel import force_locale

from complaints.cases.models import Disclosure, Route
from complaints.intake.answers import LoggedIn, day, report_from_answers, when_text

ME = LoggedIn(person_id=7, name="Lotte Bakker")


def _answers(**overrides: Any) -> dict[str, Any]:
    answers: dict[str, Any] = {
        "category": "bullying",
        "date_from": "2026-11-02",
        "date_to": "2026-11-20",
        "ongoing": True,
        "when_text": "on Mondays",
        "unit_id": 3,
        "place": "canteen",
        "description": "What happened.",
        "accused": [{"name": "Jan de Vries", "relation": "manager", "person_id": 12}],
        "witnesses": [{"name": "Piet", "contact": "piet@example.org", "person_id": None}],
        "desired_outcome": "An apology",
        "disclosure": Disclosure.CONFIDENTIAL.value,
        "name": "Lotte Bakker",
        "email": "lotte@example.org",
        "phone": "",
        "route": Route.MANAGER.value,
        "manager_person_id": 4,
    }
    answers.update(overrides)
    return answers


def test_all_answers_go_into_the_report(app: Flask) -> None:
    with app.app_context(), force_locale("en"):
        report = report_from_answers(_answers(), logged_in=None)
    assert report.category == "bullying"
    assert report.last_incident_on == day("2026-11-20")
    assert report.ongoing
    assert report.unit_id == 3
    assert report.place == "canteen"
    assert report.accused[0].name == "Jan de Vries"
    assert report.accused[0].person_id == 12
    assert report.witnesses[0].contact == "piet@example.org"
    assert report.route is Route.MANAGER
    assert report.manager_person_id == 4
    assert report.identity is not None
    assert report.identity.email == "lotte@example.org"
    assert report.when == "from 2 November 2026 to 20 November 2026; still going on; on Mondays"


def test_the_logged_in_employee_is_the_filer_only_under_their_own_name(app: Flask) -> None:
    with app.app_context(), force_locale("en"):
        own = report_from_answers(_answers(name="  lotte   BAKKER "), logged_in=ME)
        other = report_from_answers(_answers(name="Sanne Jansen"), logged_in=ME)
        anonymous = report_from_answers(
            _answers(disclosure=Disclosure.ANONYMOUS.value), logged_in=ME
        )
        nobody = report_from_answers(_answers(), logged_in=None)
    assert own.filer_person_id == 7
    assert own.identity is not None
    assert own.identity.person_id == 7
    # Control: a counsellor filing for someone else, an anonymous report, nobody logged in.
    assert other.filer_person_id is None
    assert anonymous.filer_person_id is None
    assert anonymous.identity is None
    assert nobody.filer_person_id is None


def test_missing_answers_give_the_defaults() -> None:
    # No request and no app: the pure part needs neither while no date is given.
    report = report_from_answers({"category": "bullying"}, logged_in=ME)
    assert report.disclosure is Disclosure.ANONYMOUS
    assert report.route is Route.CONFIDANT
    assert report.when == ""
    assert report.last_incident_on is None
    assert report.filer_person_id is None
    assert day("2026-13-40") is None
    assert day(None) is None


def test_one_day_is_written_once(app: Flask) -> None:
    with app.app_context(), force_locale("en"):
        text = when_text({"date_from": "2026-11-02", "date_to": "2026-11-02"})
    assert text == "2 November 2026"
