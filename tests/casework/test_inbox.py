"""The inbox at /zaken: only granted cases, filters, paging, and a constant number of queries."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from flask import Flask

from complaints.accounts.models import Role
from complaints.cases.models import Case, CaseAccessGrant, Disclosure, GrantRole, Route
from complaints.crypto.services import keystore
from complaints.directory.models import Person
from complaints.followup.services import post_message
from complaints.workflow.config import workflow
from complaints.workflow.transitions import apply_transition
from tests.casework import (
    ACCUSED,
    CONFIDANT,
    INTEGRITY,
    OTHER_CONFIDANT,
    file_case,
    handler,
    html,
    logged_in,
)
from tests.conftest import Clock, app_session
from tests.factories import import_demo_directory, make_account


@pytest.fixture
def people(app: Flask, clock: Clock) -> dict[str, Person]:
    with app_session(app) as session:
        return import_demo_directory(session, clock())


def references(page_html: str) -> list[str]:
    return re.findall(r'<tr data-case="([^"]+)"', page_html)


@contextmanager
def counted_statements(engine: sa.Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def test_the_inbox_lists_only_cases_the_handler_holds_a_grant_for(
    app: Flask, people: dict[str, Person], clock: Clock
) -> None:
    with app_session(app) as session:
        mine = [file_case(session, people, clock())[1] for _ in range(2)]
        # The integrity coordinator's case, and one whose grant to this handler was revoked.
        theirs = file_case(session, people, clock(), route=Route.INTEGRITY)[1]
        revoked_id, revoked, _code = file_case(session, people, clock())
        grant = session.scalars(
            sa.select(CaseAccessGrant).where(CaseAccessGrant.case_id == revoked_id)
        ).one()
        grant.revoked_at = clock()
        staff = handler(session, people, clock())
    client = logged_in(app, staff, clock())
    page = client.get("/zaken")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert sorted(references(html(page))) == sorted(mine)
    assert theirs not in html(page)
    assert revoked not in html(page)
    # The columns, by their labels from the taxonomy and the workflow.
    text = html(page)
    for heading in ("Reference", "Route", "Category", "State", "Next deadline", "Unread"):
        assert f">{heading}" in text
    assert "Confidential counsellor" in text
    assert "Discrimination, including racism" in text
    assert "Submitted" in text
    assert '<time datetime="2026-03-09">' in text
    assert "Confirm receipt" in text


def test_an_accused_person_never_sees_the_case_even_with_a_stray_grant(
    app: Flask, people: dict[str, Person], clock: Clock
) -> None:
    with app_session(app) as session:
        case_id, reference, _code = file_case(session, people, clock())
        # A grant that routing would never give (Lotte Bakker is named as accused).
        session.add(
            CaseAccessGrant(
                case_id=case_id,
                person_id=people[ACCUSED].id,
                role=GrantRole.MANAGER,
                granted_at=clock(),
            )
        )
        accused = make_account(session, people[ACCUSED], clock())
    client = logged_in(app, accused, clock())
    page = client.get("/zaken")
    assert page.status_code == 200
    assert reference not in html(page)
    assert client.get(f"/zaken/{case_id}").status_code == 404


def test_staff_without_a_handler_role_or_grant_get_no_inbox_and_no_menu_link(
    app: Flask, people: dict[str, Person], clock: Clock
) -> None:
    with app_session(app) as session:
        admin = make_account(session, people["t.groen@bzk.example"], clock())
        confidant = handler(session, people, clock(), OTHER_CONFIDANT)
    client = logged_in(app, admin, clock())
    account = client.get("/account")
    assert 'href="/zaken"' not in html(account)
    assert client.get("/zaken").status_code == 403
    # A confidant without any case yet has a (still empty) inbox, and the menu link.
    other = logged_in(app, confidant, clock())
    assert 'href="/zaken"' in html(other.get("/account"))
    page = other.get("/zaken")
    assert page.status_code == 200
    assert "You have no open cases at the moment." in html(page)
    assert 'href="/zaken/namens-melden"' in html(page)


def test_a_manager_with_a_grant_gets_the_menu_link(
    app: Flask, people: dict[str, Person], clock: Clock
) -> None:
    with app_session(app) as session:
        _case_id, reference, _code = file_case(session, people, clock())
        # Aylin Demir has no handler role; a grant (as line manager) is what gives her cases.
        session.add(
            CaseAccessGrant(
                case_id=_case_id,
                person_id=people["a.demir@bzk.example"].id,
                role=GrantRole.MANAGER,
                granted_at=clock(),
            )
        )
        manager = make_account(session, people["a.demir@bzk.example"], clock())
    client = logged_in(app, manager, clock())
    page = client.get("/zaken")
    assert 'href="/zaken"' in html(page)
    assert references(html(page)) == [reference]
    assert "/zaken/namens-melden" not in html(page)  # filing for others is for confidants


def test_filters_by_route_state_overdue_and_unread(
    app: Flask, people: dict[str, Person], clock: Clock
) -> None:
    start = clock()
    with app_session(app) as session:
        # This confidant is also BZK's integrity coordinator, so reports on both routes reach her.
        staff = handler(session, people, start, roles=((Role.INTEGRITY_COORDINATOR, "BZK"),))
        waiting = file_case(session, people, start)
        acknowledged = file_case(session, people, start)
        integrity = file_case(session, people, start, route=Route.INTEGRITY)
        with_message = file_case(session, people, start)
        flow = workflow()
        case = session.get(Case, acknowledged[0])
        assert case is not None
        apply_transition(
            session,
            keystore(),
            flow,
            case,
            "acknowledge",
            actor_person_id=people[CONFIDANT].id,
            roles={GrantRole.CONFIDANT},
            values={},
            expected_version=case.version,
            now=start,
        )
    # Eight days later the 7-day acknowledgement is overdue where it was not met.
    later = clock.advance(days=8)
    with app_session(app) as session:
        case = session.get(Case, with_message[0])
        assert case is not None
        post_message(session, keystore(), workflow(), case, body="Is er al nieuws?", now=later)
    client = logged_in(app, staff, later)

    def shown(query: str) -> set[str]:
        page = client.get(f"/zaken?{query}")
        assert page.status_code == 200
        return set(references(html(page)))

    everything = {waiting[1], acknowledged[1], integrity[1], with_message[1]}
    assert shown("") == everything
    assert shown("route=integrity") == {integrity[1]}
    assert shown("route=confidant") == everything - {integrity[1]}
    assert shown("status=acknowledged") == {acknowledged[1]}
    assert shown("verlopen=1") == everything - {acknowledged[1]}
    assert shown("ongelezen=1") == {with_message[1]}
    assert shown("route=confidant&verlopen=1&ongelezen=1") == {with_message[1]}
    # Unknown values are not applied, and never an error.
    assert shown("route=nonsense&status=%3Cscript%3E&pagina=-1") == everything

    page = html(client.get("/zaken?verlopen=1"))
    # Overdue in words and with an icon, not by colour alone.
    assert page.count('data-overdue="yes"') == 3
    assert "Overdue" in page
    box = re.search(r'<input[^>]*id="verlopen"[^>]*>', page)
    assert box is not None
    assert " checked" in box.group(0)  # the filter in use stays ticked
    row = re.search(rf'<tr data-case="{with_message[1]}".*?</tr>', page, re.S)
    assert row is not None
    assert 'data-unread="1"' in row.group(0)
    assert "unread message" in row.group(0)

    # Reading the case settles the unread message.
    assert client.get(f"/zaken/{with_message[0]}").status_code == 200
    assert shown("ongelezen=1") == set()


def test_closed_cases_are_shown_only_when_asked_for(
    app: Flask, people: dict[str, Person], clock: Clock
) -> None:
    with app_session(app) as session:
        staff = handler(session, people, clock())
        open_case_ = file_case(session, people, clock())
        closed = file_case(session, people, clock())
        case = session.get(Case, closed[0])
        assert case is not None
        closing = {"remark": "Afgerond", "closing": "Tot ziens"}
        for step, values in (("acknowledge", {}), ("close", closing)):
            apply_transition(
                session,
                keystore(),
                workflow(),
                case,
                step,
                actor_person_id=people[CONFIDANT].id,
                roles={GrantRole.CONFIDANT},
                values=values,
                expected_version=case.version,
                now=clock(),
            )
    client = logged_in(app, staff, clock())
    assert references(html(client.get("/zaken"))) == [open_case_[1]]
    assert set(references(html(client.get("/zaken?gesloten=1")))) == {open_case_[1], closed[1]}
    assert references(html(client.get("/zaken?status=closed"))) == [closed[1]]


def test_paging_keeps_the_filters_and_is_announced(
    app: Flask, people: dict[str, Person], clock: Clock
) -> None:
    with app_session(app) as session:
        staff = handler(session, people, clock())
        filed = {file_case(session, people, clock())[1] for _ in range(27)}
    client = logged_in(app, staff, clock())
    first = html(client.get("/zaken?route=confidant"))
    second = html(client.get("/zaken?route=confidant&pagina=2"))
    assert len(references(first)) == 25
    assert len(references(second)) == 2
    assert set(references(first)) | set(references(second)) == filed
    assert "27 cases" in first
    assert '<nav class="pagination" aria-label="Pages of cases">' in first
    assert 'aria-current="page"' in first
    assert re.search(r'href="/zaken\?route=confidant&amp;pagina=2"[^>]*rel="next"', first)
    assert re.search(r'href="/zaken\?route=confidant&amp;pagina=1"[^>]*rel="prev"', second)
    assert "page 2 of 2" in second
    # Past the end: the last page, not an error.
    beyond = client.get("/zaken?pagina=99")
    assert beyond.status_code == 200
    assert references(html(beyond)) == references(second)
    # Nothing but the filters travels into the paging links.
    sneaky = html(client.get("/zaken?_external=1&_scheme=javascript&route=confidant"))
    paging = sneaky.split('<nav class="pagination"', 1)[1].split("</nav>", 1)[0]
    links = re.findall(r'href="([^"]*)"', paging)
    assert links
    assert all(link.startswith("/zaken?route=confidant&amp;pagina=") for link in links)


def test_the_inbox_query_count_does_not_grow_with_the_number_of_cases(
    app: Flask, people: dict[str, Person], clock: Clock, shared_engine: sa.Engine
) -> None:
    with app_session(app) as session:
        staff = handler(session, people, clock())
        for _ in range(3):
            file_case(session, people, clock())
    client = logged_in(app, staff, clock())
    client.get("/zaken")  # anything done once per session is out of the way

    def statements_for_inbox() -> int:
        with counted_statements(shared_engine) as statements:
            page = client.get("/zaken")
        assert page.status_code == 200
        return len(statements)

    with_three = statements_for_inbox()
    with app_session(app) as session:
        for _ in range(27):
            case_id, _reference, _code = file_case(session, people, clock())
            case = session.get(Case, case_id)
            assert case is not None
            post_message(session, keystore(), workflow(), case, body="Nog iets", now=clock())
    with_thirty = statements_for_inbox()
    assert with_three == with_thirty
    assert 2 <= with_three < 20  # the count and the page, plus the log-in session


def test_someone_elses_inbox_is_not_reachable_through_the_address(
    app: Flask, people: dict[str, Person], clock: Clock
) -> None:
    with app_session(app) as session:
        _case_id, reference, _code = file_case(session, people, clock())
        integrity = handler(session, people, clock(), INTEGRITY)
    client = logged_in(app, integrity, clock())
    for query in ("", f"?person={people[CONFIDANT].id}", f"?person_id={people[CONFIDANT].id}"):
        assert reference not in html(client.get(f"/zaken{query}"))
    assert client.get(f"/zaken/{uuid.uuid4()}").status_code == 404


def test_anonymous_reports_are_listed_like_any_other(
    app: Flask, people: dict[str, Person], clock: Clock
) -> None:
    with app_session(app) as session:
        staff = handler(session, people, clock())
        anonymous = file_case(session, people, clock(), disclosure=Disclosure.ANONYMOUS)
    client = logged_in(app, staff, clock())
    assert references(html(client.get("/zaken"))) == [anonymous[1]]
