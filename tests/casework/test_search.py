"""The search of one's own cases at /zaken/zoeken: posted, own cases only, audited by counts."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from complaints.audit.models import AuditEvent
from complaints.cases import services as case_services
from complaints.cases.models import CaseAccessGrant, GrantRole, Route
from complaints.casework import services as casework_services
from complaints.casework import views as casework_views
from complaints.directory.models import Person
from complaints.logs import get_logger
from tests.casework import file_case, handler, html, logged_in
from tests.conftest import Clock, app_session
from tests.factories import StaffLogin, csrf_token, import_demo_directory

WORD = "Kapstokincident"
SEARCH = "/zaken/zoeken"


@pytest.fixture
def people(app: Flask, clock: Clock) -> dict[str, Person]:
    with app_session(app) as session:
        return import_demo_directory(session, clock())


@pytest.fixture
def confidant(app: Flask, people: dict[str, Person], clock: Clock) -> StaffLogin:
    with app_session(app) as session:
        return handler(session, people, clock())


def references(page_html: str) -> list[str]:
    return re.findall(r'<tr data-case="([^"]+)"', page_html)


def search(client: FlaskClient, **fields: str) -> TestResponse:
    """Post the search form from the inbox as a browser would (its CSRF token included)."""
    inbox = client.get("/zaken")
    data = {"zoek-deadline": "", "zoek-days": "14"} | {f"zoek-{k}": v for k, v in fields.items()}
    return client.post(SEARCH, data={"zoek-csrf_token": csrf_token(inbox), **data})


def audit(app: Flask, action: str) -> list[AuditEvent]:
    with app_session(app) as session:
        return list(
            session.scalars(
                sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )


def test_the_inbox_offers_the_search_as_a_posted_form(
    app: Flask, confidant: StaffLogin, clock: Clock
) -> None:
    page = html(logged_in(app, confidant, clock()).get("/zaken"))
    form = re.search(r'<form method="post" action="([^"]*)"[^>]*case-search', page)
    assert form is not None
    assert form.group(1) == SEARCH
    for label in ("Words in the case", "Reference, or part of it", "Deadline", "Number of days"):
        assert label in page
    assert 'name="zoek-csrf_token"' in page


def test_a_word_is_found_in_an_own_case_and_never_in_someone_elses(
    app: Flask,
    people: dict[str, Person],
    confidant: StaffLogin,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with app_session(app) as session:
        _id, mine, _code = file_case(
            session, people, clock(), description=f"Het {WORD} bij de garderobe."
        )
        _id, plain, _code = file_case(session, people, clock())
        # The integrity coordinator's case, with the same word: no grant for the confidant.
        _id, theirs, _code = file_case(
            session, people, clock(), route=Route.INTEGRITY, description=f"Ook een {WORD}."
        )
    client = logged_in(app, confidant, clock())

    found = search(client, text=WORD.upper())
    assert found.status_code == 200
    assert found.headers["Cache-Control"] == "no-store"
    assert references(html(found)) == [mine]
    assert plain not in html(found)
    assert theirs not in html(found)
    assert "1 case found" in html(found)
    # What was typed stays in the form.
    assert f'value="{WORD.upper()}"' in html(found)

    # The own-cases query alone is not what keeps the other case out: handed every case, the
    # entry point in cases/ still refuses it ...
    monkeypatch.setattr(casework_services, "_own_cases", lambda _blind, _person: [])
    assert references(html(search(client, text=WORD))) == [mine]
    # ... and control: a variant that searches all cases, without that check too, returns it.
    monkeypatch.setattr(
        case_services,
        "_reader_access",
        lambda session, _blind, case_id, _person: (
            session.get(case_services.Case, case_id),
            [],
            None,
        ),
    )
    assert sorted(references(html(search(client, text=WORD)))) == sorted([mine, theirs])


def test_reference_route_state_and_deadline_narrow_the_search(
    app: Flask, people: dict[str, Person], confidant: StaffLogin, clock: Clock
) -> None:
    with app_session(app) as session:
        _id, early, _code = file_case(session, people, clock())  # acknowledge by 9 March
        clock.advance(days=10)
        _id, late, _code = file_case(session, people, clock())  # acknowledge by 19 March
        clock.advance(days=1)
        # A case on the integrity route that the confidant also holds a grant for; by 20 March.
        other_id, other_route, _code = file_case(session, people, clock(), route=Route.INTEGRITY)
        session.add(
            CaseAccessGrant(
                case_id=other_id,
                person_id=confidant.person.id,
                role=GrantRole.CONFIDANT,
                granted_at=clock(),
            )
        )
    clock.advance(days=1)  # today: 14 March
    client = logged_in(app, confidant, clock())

    assert references(html(search(client))) == [early, late, other_route]
    assert references(html(search(client, reference=late[-4:].lower()))) == [late]
    assert references(html(search(client, deadline="overdue"))) == [early]
    assert references(html(search(client, deadline="due_within", days="6"))) == [late, other_route]
    assert references(html(search(client, deadline="due_within", days="5"))) == [late]
    assert references(html(search(client, deadline="due_within", days="4"))) == []
    assert references(html(search(client, route="integrity"))) == [other_route]
    assert references(html(search(client, route="confidant"))) == [early, late]
    assert references(html(search(client, status="submitted"))) == [early, late, other_route]
    assert references(html(search(client, status="closed"))) == []


@pytest.mark.parametrize(
    ("fields", "message", "kept"),
    [
        ({"days": "twee", "deadline": "due_within"}, "whole number of days", 'value="twee"'),
        ({"days": "", "deadline": "due_within"}, "Give the number of days", None),
        ({"reference": "2026/'x'"}, "only letters, digits and hyphens", "2026/&#39;x&#39;"),
        ({"text": "x" * 201}, "at most 200 characters", "x" * 201),
        ({"days": "²", "deadline": "due_within"}, "whole number of days", 'value="²"'),
        ({"deadline": "gisteren"}, "one of the deadline options", None),
    ],
)
def test_bad_input_is_shown_again_with_what_was_typed_and_searches_nothing(
    app: Flask,
    confidant: StaffLogin,
    clock: Clock,
    fields: dict[str, str],
    message: str,
    kept: str | None,
) -> None:
    client = logged_in(app, confidant, clock())
    before = len(audit(app, "case.search"))
    page = search(client, text=WORD, **fields) if "text" not in fields else search(client, **fields)
    assert page.status_code == 400
    assert message in html(page)
    assert "Please check the following" in html(page)
    if kept is not None:
        assert kept in html(page)
    assert len(audit(app, "case.search")) == before
    # Control: the same form, corrected, searches.
    assert search(client, text=WORD).status_code == 200
    assert len(audit(app, "case.search")) == before + 1


@pytest.mark.parametrize("days", ["veertien", "²", ""])
def test_the_days_are_not_read_unless_the_deadline_filter_uses_them(
    app: Flask, people: dict[str, Person], confidant: StaffLogin, clock: Clock, days: str
) -> None:
    with app_session(app) as session:
        _id, reference, _code = file_case(session, people, clock())
    client = logged_in(app, confidant, clock())
    found = search(client, deadline="", days=days)
    assert found.status_code == 200
    assert references(html(found)) == [reference]
    assert f'value="{days}"' in html(found)  # still as typed, if the filter is chosen again
    # Control: with "falls due within" the same days are refused.
    assert search(client, deadline="due_within", days=days).status_code == 400


def test_the_search_needs_its_csrf_token(app: Flask, confidant: StaffLogin, clock: Clock) -> None:
    client = logged_in(app, confidant, clock())
    refused = client.post(SEARCH, data={"zoek-text": WORD, "zoek-deadline": ""})
    assert refused.status_code == 400
    assert audit(app, "case.search") == []
    assert search(client, text=WORD).status_code == 200  # control: with the token it works


def test_one_search_writes_one_event_with_counts_and_no_openings(
    app: Flask, people: dict[str, Person], confidant: StaffLogin, clock: Clock
) -> None:
    with app_session(app) as session:
        for number in range(3):
            file_case(session, people, clock(), description=f"Melding {number} {WORD}.")
        file_case(session, people, clock())
        file_case(session, people, clock(), route=Route.INTEGRITY, description=WORD)
    client = logged_in(app, confidant, clock())
    openings = len(audit(app, "case.open"))

    search(client, text=f"{WORD} melding")

    [event] = audit(app, "case.search")
    assert event.details == {
        "free_text": True,
        "searched": 4,
        "matched": 3,
        "refused": 0,
        "unreadable": 0,
    }
    assert event.actor_id == str(confidant.account.id)
    assert len(audit(app, "case.open")) == openings  # decrypting for the search is no opening
    with app_session(app) as session:
        everything = " ".join(
            f"{e.action} {e.object_id} {e.details}" for e in session.scalars(sa.select(AuditEvent))
        )
    assert WORD.casefold() not in everything.casefold()


def test_the_words_reach_no_address_and_no_log_line(
    app: Flask,
    confidant: StaffLogin,
    clock: Clock,
    log_output: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = logged_in(app, confidant, clock())
    found = search(client, text=WORD)
    assert found.status_code == 200
    assert WORD not in found.request.url
    addresses = re.findall(r'(?:href|action|value)="(/[^"]*)"', html(found))
    assert addresses
    assert not [a for a in addresses if WORD in a]
    assert WORD not in log_output.getvalue()

    # Words in an address are not a search: nothing is searched, nothing is recorded.
    before = len(audit(app, "case.search"))
    typed = client.get(f"{SEARCH}?zoek-text={WORD}&text={WORD}")
    assert typed.status_code == 200
    assert "found" not in html(typed)
    assert len(audit(app, "case.search")) == before

    # Control: the log capture does catch the words when a search logs them.
    real = casework_views.search_own_cases

    def chatty(*args: Any, **kwargs: Any) -> Any:
        get_logger("complaints.casework").info("search", words=kwargs["query"].text)
        return real(*args, **kwargs)

    monkeypatch.setattr(casework_views, "search_own_cases", chatty)
    search(client, text=WORD)
    assert WORD in log_output.getvalue()


def test_staff_without_cases_cannot_search(
    app: Flask, people: dict[str, Person], clock: Clock
) -> None:
    with app_session(app) as session:
        admin = handler(session, people, clock(), "t.groen@bzk.example")
    client = logged_in(app, admin, clock())
    assert client.get(SEARCH).status_code == 403
    login_page = client.get("/account")
    refused = client.post(
        SEARCH, data={"zoek-csrf_token": csrf_token(login_page), "zoek-text": WORD}
    )
    assert refused.status_code == 403
    assert audit(app, "case.search") == []


def test_at_most_the_first_matches_are_listed_and_the_count_says_how_many(
    app: Flask,
    people: dict[str, Person],
    confidant: StaffLogin,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with app_session(app) as session:
        # A minute apart: the same deadline day, then the oldest report first.
        filed = [file_case(session, people, clock.advance(minutes=1))[1] for _ in range(3)]
    client = logged_in(app, confidant, clock())
    monkeypatch.setattr(casework_services, "SEARCH_SHOWN", 2)
    page = html(search(client))
    assert references(page) == filed[:2]
    assert "3 cases found" in page
    assert "The first 2 are shown" in page
    # Control: with room for all, all are listed and nothing is said about the rest.
    monkeypatch.setattr(casework_services, "SEARCH_SHOWN", 3)
    page = html(search(client))
    assert references(page) == filed
    assert "are shown" not in page
