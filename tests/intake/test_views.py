"""The guided report form, driven page by page like a browser without JavaScript would.

Pages are read in English (the language cookie), because the Dutch texts are translated
afterwards; ids, names and values are what the tests rely on otherwise.
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from werkzeug.test import TestResponse

from complaints.cases.models import Case, CaseAccessGrant, CaseParty, Deadline, Disclosure, Route
from complaints.cases.receipts import normalise_receipt
from complaints.crypto.models import KeySlot
from complaints.crypto.services import indexer
from complaints.directory.models import Person
from complaints.intake import services as intake_services
from complaints.intake.models import DraftAttachment, IntakeDraft
from complaints.intake.services import complainant_index
from complaints.notify.models import Notification
from complaints.stats.models import StatEvent
from complaints.web.uploads import renamed
from tests.conftest import Clock, app_session
from tests.factories import csrf_token, import_demo_directory, log_in, make_account, unit

_CODE = re.compile(r'<p class="receipt-code"[^>]*><code>(.*?)</code>', re.S)


# Driving the form ---------------------------------------------------------------------------


@dataclass
class Browser:
    """A test client that remembers every address it was sent to."""

    client: FlaskClient
    urls: list[str] = field(default_factory=list)

    def get(self, url: str) -> TestResponse:
        self.urls.append(url)
        response = self.client.get(url)
        self._note(response)
        return response

    def post(
        self, url: str, data: dict[str, Any], page: TestResponse | None = None
    ) -> TestResponse:
        """Post ``data`` with the CSRF token of ``page`` (by default: the page at ``url``)."""
        page = page or self.get(url)
        self.urls.append(url)
        response = self.client.post(
            url, data={"csrf_token": csrf_token(page), **data}, content_type=_content_type(data)
        )
        self._note(response)
        return response

    def _note(self, response: TestResponse) -> None:
        if "Location" in response.headers:
            self.urls.append(response.headers["Location"])


def _content_type(data: dict[str, Any]) -> str:
    has_file = any(isinstance(v, tuple) for v in data.values())
    return "multipart/form-data" if has_file else "application/x-www-form-urlencoded"


def text(response: TestResponse) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.get_data(as_text=True)))


@pytest.fixture
def people(app: Flask, clock: Clock) -> dict[str, Person]:
    with app_session(app) as session:
        return import_demo_directory(session, clock())


@pytest.fixture
def browser(client: FlaskClient) -> Browser:
    client.set_cookie("taal", "en")
    return Browser(client)


def begin(browser: Browser) -> None:
    response = browser.post("/melden", {})
    assert response.status_code == 303
    assert response.headers["Location"] == "/melden/wat"


def answer(browser: Browser, url: str, expect: str | None = None, **data: Any) -> TestResponse:
    """Answer a step and go on; ``expect`` is where the form should lead next."""
    response = browser.post(url, {"action": "continue", **data})
    assert response.status_code == 303, _errors(response)
    if expect is not None:
        assert response.headers["Location"] == expect
    return response


def _errors(response: TestResponse) -> str:
    found = re.findall(
        r'<p class="field__error"[^>]*>(.*?)</p>', response.get_data(as_text=True), re.S
    )
    return " | ".join(re.sub(r"\s+", " ", html.unescape(e)).strip() for e in found) or text(
        response
    )


def search_and_add_accused(
    browser: Browser, person: Person, relation: str, query: str | None = None
) -> TestResponse:
    page = browser.post(
        "/melden/betrokkenen", {"action": "search", "accused_query": query or person.name[:5]}
    )
    assert page.status_code == 200
    assert f'name="accused_pick" value="{person.id}"' in page.get_data(as_text=True)
    response = browser.post(
        "/melden/betrokkenen",
        {"action": "add_accused", "accused_pick": str(person.id), "accused_relation": relation},
        page=page,
    )
    assert response.status_code == 200, _errors(response)
    assert f"{person.name} has been added." in text(response)
    return response


def choose_manager(browser: Browser, manager: Person) -> TestResponse:
    page = browser.post("/melden/wie", {"action": "search", "manager_query": manager.name})
    assert f'name="manager_pick" value="{manager.id}"' in page.get_data(as_text=True)
    return page


@dataclass
class Answers:
    category: str = "bullying"
    grounds: tuple[str, ...] = ()
    unit_code: str | None = "BZK-APS"
    description: str = "Mijn collega kleineert mij al maanden in elk teamoverleg."
    accused: tuple[tuple[Person, str], ...] = ()
    disclosure: str = "anonymous"
    name: str = ""
    email: str = ""
    manager: Person | None = None
    route: str = "confidant"


def fill_in(app: Flask, browser: Browser, answers: Answers) -> TestResponse:
    """Walk every step up to the review page; returns the review page."""
    begin(browser)
    answer(
        browser,
        "/melden/wat",
        "/melden/wanneer-waar",
        category=answers.category,
        grounds=list(answers.grounds),
    )
    unit_id = ""
    if answers.unit_code:
        with app_session(app) as session:
            unit_id = str(unit(session, answers.unit_code).id)
    answer(
        browser,
        "/melden/wanneer-waar",
        "/melden/beschrijving",
        date_from="2026-02-02",
        date_to="2026-02-27",
        when_text="elke maandag",
        unit=unit_id,
        place="vergaderzaal 4.12",
    )
    answer(browser, "/melden/beschrijving", "/melden/betrokkenen", description=answers.description)
    for person, relation in answers.accused:
        search_and_add_accused(browser, person, relation)
    answer(browser, "/melden/betrokkenen", "/melden/wensen")
    answer(browser, "/melden/wensen", "/melden/wie", desired_outcome="Dat het stopt.")
    page = choose_manager(browser, answers.manager) if answers.manager else None
    identity = {"disclosure": answers.disclosure, "name": answers.name, "email": answers.email}
    if answers.manager:
        identity["manager_pick"] = str(answers.manager.id)
    response = browser.post("/melden/wie", {"action": "continue", **identity}, page=page)
    assert response.status_code == 303, _errors(response)
    assert response.headers["Location"] == "/melden/route"
    answer(browser, "/melden/route", "/melden/controleren", route=answers.route)
    review = browser.get("/melden/controleren")
    assert review.status_code == 200
    return review


def send(browser: Browser, review: TestResponse, **extra: str) -> TestResponse:
    ids = re.findall(r'name="recipients" value="(\d+)"', review.get_data(as_text=True))
    return browser.post(
        "/melden/versturen", {"recipients": ids, "internal_ref": "", **extra}, page=review
    )


def receipt_code(response: TestResponse) -> str:
    match = _CODE.search(response.get_data(as_text=True))
    assert match, text(response)
    code = re.sub(r"<[^>]+>", "", match.group(1))
    assert normalise_receipt(code), code
    return code


def recipients_on(review: TestResponse) -> list[str]:
    return re.findall(
        r'<strong class="recipient-list__name">(.*?)</strong>', review.get_data(as_text=True)
    )


def only_case(app: Flask) -> tuple[Case, list[int]]:
    with app_session(app) as session:
        case = session.scalars(sa.select(Case)).one()
        grants = list(session.scalars(sa.select(CaseAccessGrant.person_id)))
        return case, grants


# Filing -------------------------------------------------------------------------------------


def test_a_named_report_goes_to_the_manager_named(
    app: Flask, browser: Browser, people: dict[str, Person]
) -> None:
    sanne = people["s.devries@bzk.example"]
    aylin = people["a.demir@bzk.example"]
    lotte = people["l.bakker@bzk.example"]
    review = fill_in(
        app,
        browser,
        Answers(
            accused=((lotte, "colleague"),),
            disclosure="named",
            name=sanne.name,
            email=sanne.email,
            manager=aylin,
            route="manager",
        ),
    )
    assert recipients_on(review) == ["Aylin Demir"]
    assert "You named this person as your manager." in text(review)
    assert "Lotte Bakker (A colleague)" in text(review)

    done = send(browser, review)
    assert done.status_code == 200
    code = receipt_code(done)
    assert "You will see it only this once" in text(done)
    assert 'href="/opvolgen"' in done.get_data(as_text=True)
    case, grants = only_case(app)
    assert (case.route, case.disclosure, case.category) == (
        Route.MANAGER,
        Disclosure.NAMED,
        "bullying",
    )
    assert grants == [aylin.id]
    with app_session(app) as session:
        parties = session.scalars(sa.select(CaseParty)).all()
        assert len(parties) == 1
        deadline = session.scalars(sa.select(Deadline)).one()
    assert deadline.due_on.isoformat() in {"2026-03-09"}
    assert "Confirm receipt: by 9 March 2026 at the latest" in text(done)
    # The draft is gone, and so is the browser's key to it.
    with app_session(app) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(IntakeDraft)) == 0
    assert browser.get("/melden/controleren").headers["Location"] == "/melden"
    assert code not in " ".join(browser.urls)


def test_a_confidential_report_goes_to_the_organisations_counsellor(
    app: Flask, browser: Browser, people: dict[str, Person]
) -> None:
    review = fill_in(
        app,
        browser,
        Answers(
            category="discrimination",
            grounds=("race", "religion"),
            disclosure="confidential",
            name="Mohamed el Idrissi",
            route="confidant",
        ),
    )
    assert recipients_on(review) == ["Ingrid Hoekstra"]
    assert "Serves the organisation where it happened." in text(review)
    done = send(browser, review)
    receipt_code(done)
    case, grants = only_case(app)
    assert (case.route, case.disclosure) == (Route.CONFIDANT, Disclosure.CONFIDENTIAL)
    assert sorted(case.grounds) == ["race", "religion"]
    assert grants == [people["i.hoekstra@bzk.example"].id]
    assert case.complainant is not None  # the identity, encrypted


def test_an_anonymous_integrity_report_goes_to_the_coordinator(
    app: Flask, browser: Browser, people: dict[str, Person]
) -> None:
    review = fill_in(
        app,
        browser,
        Answers(category="integrity", unit_code="BZK-CIO", route="integrity"),
    )
    assert recipients_on(review) == ["Kees Dijkstra"]
    assert "Anonymously" in text(review)
    done = send(browser, review)
    receipt_code(done)
    case, grants = only_case(app)
    assert (case.route, case.disclosure) == (Route.INTEGRITY, Disclosure.ANONYMOUS)
    assert case.complainant is None
    assert case.complainant_index is None
    assert grants == [people["k.dijkstra@bzk.example"].id]


def test_the_manager_route_skips_a_manager_named_as_accused(
    app: Flask, browser: Browser, people: dict[str, Person]
) -> None:
    aylin = people["a.demir@bzk.example"]
    review = fill_in(
        app,
        browser,
        Answers(
            accused=((aylin, "manager"),),
            disclosure="confidential",
            name="Sanne de Vries",
            manager=aylin,
            route="manager",
        ),
    )
    assert recipients_on(review) == ["Henk Jansen"]
    assert "Aylin Demir" not in " ".join(recipients_on(review))
    assert "Your manager is named in your report, so it goes to the next manager up" in text(review)
    send(browser, review)
    _case, grants = only_case(app)
    assert grants == [people["h.jansen@bzk.example"].id]


def test_a_logged_in_employee_gets_their_details_filled_in_and_the_report_in_their_list(
    app: Flask, browser: Browser, people: dict[str, Person], clock: Clock
) -> None:
    sanne = people["s.devries@bzk.example"]
    with app_session(app) as session:
        staff = make_account(session, session.get(Person, sanne.id), clock())
    log_in(browser.client, staff, clock())
    begin(browser)
    answer(browser, "/melden/wat", category="aggression")
    answer(browser, "/melden/wanneer-waar")
    answer(browser, "/melden/beschrijving", description="Er werd tegen mij geschreeuwd.")
    answer(browser, "/melden/betrokkenen")
    answer(browser, "/melden/wensen")
    page = browser.get("/melden/wie").get_data(as_text=True)
    assert 'value="Sanne de Vries"' in page
    assert 'value="s.devries@bzk.example"' in page
    assert "Your manager: Aylin Demir" in html.unescape(page)  # from the directory
    answer(
        browser,
        "/melden/wie",
        disclosure="confidential",
        name="Sanne de Vries",
        email="s.devries@bzk.example",
    )
    answer(browser, "/melden/route", route="manager")
    review = browser.get("/melden/controleren")
    assert recipients_on(review) == ["Aylin Demir"]
    done = send(browser, review)
    receipt_code(done)
    case, _grants = only_case(app)
    with app.app_context():
        assert case.complainant_index == complainant_index(indexer(), sanne.id)


def test_logging_in_halfway_keeps_the_report_and_logging_out_ends_it(
    app: Flask, browser: Browser, people: dict[str, Person], clock: Clock
) -> None:
    sanne = people["s.devries@bzk.example"]
    with app_session(app) as session:
        staff = make_account(session, session.get(Person, sanne.id), clock())
    begin(browser)
    answer(browser, "/melden/wat", category="aggression")
    answer(browser, "/melden/wanneer-waar")
    typed = "Er werd in de gang tegen mij geschreeuwd."
    answer(browser, "/melden/beschrijving", description=typed)
    log_in(browser.client, staff, clock())
    page = browser.get("/melden/beschrijving")
    assert page.status_code == 200
    assert typed in text(page)
    answer(browser, "/melden/beschrijving", "/melden/betrokkenen", description=typed)

    browser.post("/afmelden", {}, page=browser.get("/account"))
    gone = browser.get("/melden/beschrijving")
    assert gone.status_code == 303
    assert gone.headers["Location"] == "/melden"


def test_reporting_anonymously_while_logged_in_leaves_no_link_to_the_account(
    app: Flask, browser: Browser, people: dict[str, Person], clock: Clock
) -> None:
    sanne = people["s.devries@bzk.example"]
    with app_session(app) as session:
        staff = make_account(session, session.get(Person, sanne.id), clock())
    log_in(browser.client, staff, clock())
    review = fill_in(app, browser, Answers(disclosure="anonymous", name="", route="confidant"))
    send(browser, review)
    case, _grants = only_case(app)
    assert case.complainant_index is None
    assert case.complainant is None


# Refusals and routing problems ----------------------------------------------------------------


def test_a_formal_complaint_cannot_be_anonymous(
    app: Flask, browser: Browser, people: dict[str, Person]
) -> None:
    fill_in(app, browser, Answers(route="confidant"))
    page = browser.get("/melden/route")
    assert "Not possible when you report anonymously: the person you complain about" in text(page)
    response = browser.post("/melden/route", {"action": "continue", "route": "committee"})
    assert response.status_code == 200
    body = text(response)
    assert "A formal complaint to the complaints committee cannot be anonymous" in body
    assert 'href="/melden/wie"' in response.get_data(as_text=True)
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    assert '<a href="#route">' in response.get_data(as_text=True)  # the error summary
    # The other routes are still offered, and the review waits until one is chosen.
    for route in ("manager", "confidant", "integrity"):
        assert f'name="route" value="{route}"' in response.get_data(as_text=True)
    assert browser.get("/melden/controleren").headers["Location"] == "/melden/route"
    with app_session(app) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0


def test_the_committee_takes_a_confidential_complaint(
    app: Flask, browser: Browser, people: dict[str, Person]
) -> None:
    review = fill_in(
        app,
        browser,
        Answers(disclosure="confidential", name="Lotte Bakker", route="committee"),
    )
    assert sorted(recipients_on(review)) == ["Noor Haddou", "Wim de Boer"]
    assert "The committee's secretariat receives every formal complaint" in text(review)
    send(browser, review)
    case, grants = only_case(app)
    assert case.route is Route.COMMITTEE
    assert sorted(grants) == sorted(
        [people["w.deboer@bzk.example"].id, people["n.haddou@bzk.example"].id]
    )


def test_the_manager_route_needs_a_manager(
    app: Flask, browser: Browser, people: dict[str, Person]
) -> None:
    fill_in(app, browser, Answers(route="confidant"))
    response = browser.post("/melden/route", {"action": "continue", "route": "manager"})
    assert response.status_code == 200
    assert "we need to know who your manager is" in text(response)


def test_when_nobody_can_receive_the_report_the_form_says_so(
    app: Flask, browser: Browser, people: dict[str, Person]
) -> None:
    # Every manager up the chain is named: nobody is left on the manager route.
    review = fill_in(
        app,
        browser,
        Answers(
            accused=(
                (people["a.demir@bzk.example"], "manager"),
                (people["h.jansen@bzk.example"], "manager"),
            ),
            disclosure="anonymous",
            manager=people["a.demir@bzk.example"],
            route="confidant",
        ),
    )
    assert review.status_code == 200
    response = browser.post("/melden/route", {"action": "continue", "route": "manager"})
    assert response.status_code == 200
    assert "We cannot find a manager who can receive your report" in text(response)
    assert 'name="route" value="confidant"' in response.get_data(as_text=True)


def test_only_routes_allowed_for_the_category_are_offered(
    app: Flask, browser: Browser, people: dict[str, Person]
) -> None:
    fill_in(app, browser, Answers(category="integrity", route="integrity"))
    page = browser.get("/melden/route").get_data(as_text=True)
    assert 'name="route" value="integrity"' in page
    assert 'name="route" value="committee"' not in page
    response = browser.post("/melden/route", {"action": "continue", "route": "committee"})
    assert response.status_code == 200
    assert "Choose one of the options shown." in text(response)


def test_the_start_page_explains_the_routes_with_the_configured_deadlines(
    browser: Browser,
) -> None:
    page = text(browser.get("/melden"))
    assert "Nothing is sent until the last step" in page
    assert "Confirm receipt: within 7 days after you send your report" in page
    assert "Decision on the complaint: within 10 weeks after you send your report" in page
    assert "Feedback to the reporter: within 3 months after the step “Acknowledged”" in page
    index = browser.get("/").get_data(as_text=True)
    assert 'href="/melden"' in index
    assert 'href="/opvolgen"' in index


# Validation, going back, drafts ---------------------------------------------------------------


def test_a_validation_error_keeps_everything_typed(
    app: Flask, browser: Browser, people: dict[str, Person]
) -> None:
    begin(browser)
    answer(browser, "/melden/wat", category="discrimination", grounds=["age"])
    typed = {
        "date_from": "31-02-2026",
        "date_to": "",
        "ongoing": "y",
        "when_text": "bij de <b>borrel</b> in mei",
        "place": "kantine, 3e verdieping",
        "action": "continue",
    }
    response = browser.post("/melden/wanneer-waar", typed)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Enter the date as day-month-year" in text(response)
    assert 'class="error-summary" role="alert"' in page
    assert '<a href="#date_from">' in page
    assert re.search(r'id="date_from"[^>]*aria-invalid="true"', page) or re.search(
        r'aria-invalid="true"[^>]*id="date_from"', page
    )
    assert 'aria-describedby="date_from-hint date_from-error"' in page
    assert 'value="31-02-2026"' in page
    assert 'value="kantine, 3e verdieping"' in page
    assert "bij de &lt;b&gt;borrel&lt;/b&gt; in mei</textarea>" in page
    assert re.search(r'id="ongoing"[^>]*checked', page)
    # A description that is too long comes back whole, to be shortened, not cut off.
    answer(browser, "/melden/wanneer-waar", date_from="2026-03-01", place="kantine")
    long_text = "Het begon op een maandag. " + "x" * 20_000
    response = browser.post(
        "/melden/beschrijving", {"action": "continue", "description": long_text}
    )
    assert response.status_code == 200
    assert "Shorten it to 20,000 characters" in text(response)
    assert long_text in html.unescape(response.get_data(as_text=True))
    assert "maxlength" not in re.search(r"<textarea[^>]*>", response.get_data(as_text=True)).group(
        0
    )
    # And the earlier answers are all still there.
    page = browser.get("/melden/wat").get_data(as_text=True)
    assert re.search(r'value="discrimination"\s+checked', page)
    assert re.search(r'value="age"\s+checked', page)
    assert 'value="kantine"' in browser.get("/melden/wanneer-waar").get_data(as_text=True)


def test_required_answers_are_asked_for_specifically(
    app: Flask, browser: Browser, people: dict[str, Person]
) -> None:
    begin(browser)
    response = browser.post("/melden/wat", {"action": "continue"})
    assert "Choose what happened." in text(response)
    response = browser.post("/melden/wat", {"action": "continue", "category": "discrimination"})
    assert "Choose at least one ground of discrimination." in text(response)
    # Grounds given with another category are dropped, not kept by accident.
    answer(browser, "/melden/wat", category="bullying", grounds=["race"])
    with app_session(app) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(IntakeDraft)) == 1
    assert not re.search(
        r'value="race"\s+checked', browser.get("/melden/wat").get_data(as_text=True)
    )
    answer(browser, "/melden/wanneer-waar")
    response = browser.post("/melden/beschrijving", {"action": "continue", "description": "  "})
    assert "Describe what happened." in text(response)
    answer(browser, "/melden/beschrijving", description="Iets.")
    answer(browser, "/melden/betrokkenen")
    answer(browser, "/melden/wensen")
    response = browser.post("/melden/wie", {"action": "continue", "disclosure": "named"})
    assert "Enter your name, or choose to report anonymously." in text(response)
    response = browser.post(
        "/melden/wie",
        {"action": "continue", "disclosure": "named", "name": "A", "email": "geen-adres"},
    )
    assert "Enter an e-mail address like name@example.nl." in text(response)


def test_going_back_and_changing_an_answer(
    app: Flask, browser: Browser, people: dict[str, Person]
) -> None:
    review = fill_in(app, browser, Answers(category="bullying", route="confidant"))
    assert "Bullying" in text(review)
    assert 'href="/melden/wat"' in review.get_data(as_text=True)
    page = browser.get("/melden/wat")
    assert 'href="/melden"' in page.get_data(as_text=True)  # the back link of step 1
    assert "Step 1 of 8" in text(page)
    # Changed from the review page, the form returns to the review page.
    answer(browser, "/melden/wat", "/melden/controleren", category="aggression")
    review = browser.get("/melden/controleren")
    assert "Aggression and violence" in text(review)
    assert "Mijn collega kleineert mij" in text(review)
    # Going back a step shows the saved answer.
    page = browser.get("/melden/beschrijving")
    assert "Step 3 of 8" in text(page)
    assert 'href="/melden/wanneer-waar"' in page.get_data(as_text=True)
    assert "Mijn collega kleineert mij al maanden" in text(page)


def test_steps_cannot_be_skipped(browser: Browser, people: dict[str, Person]) -> None:
    begin(browser)
    response = browser.get("/melden/controleren")
    assert response.status_code == 303
    assert response.headers["Location"] == "/melden/wat"
    answer(browser, "/melden/wat", category="bullying")
    assert browser.get("/melden/route").headers["Location"] == "/melden/wanneer-waar"


def test_without_a_draft_the_form_goes_to_the_start_page(browser: Browser) -> None:
    for url in ("/melden/wat", "/melden/beschrijving", "/melden/controleren"):
        response = browser.get(url)
        assert response.status_code == 303
        assert response.headers["Location"] == "/melden"
    assert "Start your report here." in text(browser.get("/melden"))


def test_an_expired_draft_goes_to_the_start_page_and_is_purged(
    app: Flask, browser: Browser, clock: Clock
) -> None:
    begin(browser)
    answer(browser, "/melden/wat", category="bullying")
    clock.advance(hours=6, minutes=1)
    response = browser.get("/melden/wanneer-waar")
    assert response.headers["Location"] == "/melden"
    assert "unfinished reports are deleted 6 hours after the last change" in text(
        browser.get("/melden")
    )
    begin(browser)  # a new draft; the expired one is purged
    with app_session(app) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(IntakeDraft)) == 1


def test_a_forged_or_foreign_draft_cookie_is_not_a_draft(
    browser: Browser, people: dict[str, Person]
) -> None:
    begin(browser)
    with browser.client.session_transaction() as cookie:
        cookie["intake_draft"] = {"id": cookie["intake_draft"]["id"], "key": "A" * 43 + "="}
    assert browser.get("/melden/wat").headers["Location"] == "/melden"


def test_deleting_the_answers(app: Flask, browser: Browser) -> None:
    begin(browser)
    answer(browser, "/melden/wat", category="bullying")
    response = browser.post("/melden/verwijderen", {}, page=browser.get("/melden"))
    assert response.headers["Location"] == "/melden"
    assert "Your answers have been deleted." in text(browser.get("/melden"))
    with app_session(app) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(IntakeDraft)) == 0


# People ---------------------------------------------------------------------------------------


class TestDirectorySearchLimit:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"directory_search_rate_limit": "3 per hour"}

    def test_searching_the_directory_is_rate_limited_per_client(
        self, app: Flask, browser: Browser, people: dict[str, Person]
    ) -> None:
        demir = people["a.demir@bzk.example"]
        fill_in(app, browser, Answers())
        for _ in range(3):
            page = browser.post(
                "/melden/betrokkenen", {"action": "search", "accused_query": "demir"}
            )
            assert f'value="{demir.id}"' in page.get_data(as_text=True)
        page = browser.post(
            "/melden/betrokkenen",
            {"action": "search", "accused_query": "demir", "accused_name": "Typed so far"},
        )
        assert page.status_code == 200
        assert f'value="{demir.id}"' not in page.get_data(as_text=True)
        assert "You have searched many times in a short while." in text(page)
        assert 'value="Typed so far"' in page.get_data(as_text=True)  # nothing typed is lost
        # Adding someone by name still works, and so does searching from another address.
        page = browser.post(
            "/melden/betrokkenen",
            {"action": "add_accused", "accused_name": "Iemand", "accused_relation": "other"},
        )
        assert "Iemand has been added." in text(page)
        other = Browser(app.test_client())
        other.client.set_cookie("taal", "en")
        other.client.environ_base["REMOTE_ADDR"] = "192.0.2.8"
        fill_in(app, other, Answers())
        page = other.post("/melden/betrokkenen", {"action": "search", "accused_query": "demir"})
        assert f'value="{demir.id}"' in page.get_data(as_text=True)


def test_people_are_found_case_insensitively_and_can_be_added_and_removed(
    app: Flask, browser: Browser, people: dict[str, Person]
) -> None:
    fill_in(app, browser, Answers())
    page = browser.post("/melden/betrokkenen", {"action": "search", "accused_query": "DEMIR"})
    assert f'value="{people["a.demir@bzk.example"].id}"' in page.get_data(as_text=True)
    assert "Directie Arbeidszaken Publieke Sector" in text(page)
    # Someone no longer active is not found.
    with app_session(app) as session:
        session.get(Person, people["l.bakker@bzk.example"].id).active = False
    page = browser.post("/melden/betrokkenen", {"action": "search", "accused_query": "bakker"})
    assert "Nobody found for “bakker”" in text(page)
    # A typed name, and a witness with contact details, added while typing elsewhere is kept.
    page = browser.post(
        "/melden/betrokkenen",
        {
            "action": "add_accused",
            "accused_name": "De man van de schoonmaak",
            "accused_relation": "other",
            "witness_name": "Nog niet toegevoegd",
        },
    )
    assert "De man van de schoonmaak has been added." in text(page)
    assert 'value="Nog niet toegevoegd"' in page.get_data(as_text=True)
    assert 'name="remove_accused" value="0"' in page.get_data(as_text=True)
    # Adding without saying who the person is to you is refused, specifically.
    page = browser.post("/melden/betrokkenen", {"action": "add_accused", "accused_name": "X"})
    assert "Choose who this person is to you." in text(page)
    page = browser.post("/melden/betrokkenen", {"action": "add_accused"})
    assert "Choose a person from the search results or type a name." in text(page)
    # "Continue" adds a witness who was filled in but not added.
    answer(
        browser,
        "/melden/betrokkenen",
        "/melden/controleren",
        witness_name="Fatima",
        witness_contact="toestel 1234",
    )
    review = text(browser.get("/melden/controleren"))
    assert "De man van de schoonmaak (Someone else, for example a client or visitor)" in review
    assert "Fatima (toestel 1234)" in review
    # Removing.
    page = browser.post("/melden/betrokkenen", {"remove_accused": "0"})
    assert "De man van de schoonmaak has been removed." in text(page)
    review = text(browser.get("/melden/controleren"))
    assert "De man van de schoonmaak" not in review


# Files ----------------------------------------------------------------------------------------


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def _upload(browser: Browser, name: str, data: bytes) -> TestResponse:
    return browser.post(
        "/melden/wensen",
        {
            "action": "upload",
            "desired_outcome": "Een gesprek.",
            "attachment": (io.BytesIO(data), name),
        },
    )


def _to_wishes(browser: Browser) -> None:
    begin(browser)
    answer(browser, "/melden/wat", category="bullying")
    answer(browser, "/melden/wanneer-waar")
    answer(browser, "/melden/beschrijving", description="Zie de bijlage.")
    answer(browser, "/melden/betrokkenen")


def test_files_are_checked_by_their_content(
    app: Flask, browser: Browser, people: dict[str, Person]
) -> None:
    _to_wishes(browser)
    page = browser.get("/melden/wensen")
    assert "Up to 5 files of at most 10 MB each" in text(page)
    response = _upload(browser, "factuur.pdf.exe", b"MZ\x90\x00\x03\x00\x00\x00" + bytes(64))
    assert response.status_code == 200
    assert "“factuur.pdf.exe” is not a type of file we accept." in text(response)
    response = _upload(browser, "brief.pdf", b"\x00\x01binary junk pretending to be a pdf")
    assert "“brief.pdf” is not a type of file we accept." in text(response)
    response = _upload(browser, "leeg.txt", b"")
    assert "“leeg.txt” is empty. Choose a file that has something in it." in text(response)
    response = _upload(browser, "foto.png", _png())
    assert "The file has been added." in text(response)
    assert "foto.png" in text(response)
    # The text typed on the page was saved along with the upload.
    assert "Een gesprek.</textarea>" in response.get_data(as_text=True)
    with app_session(app) as session:
        row = session.scalars(sa.select(DraftAttachment)).one()
        assert row.content_type == "image/png"
        file_id = row.id
    response = browser.post("/melden/wensen", {"remove_file": str(file_id)})
    assert "The file has been removed." in text(response)
    with app_session(app) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(DraftAttachment)) == 0


class TestFileLimits:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"max_attachments": 1, "max_attachment_bytes": 2048}

    def test_too_many_or_too_large_files_are_refused(
        self, app: Flask, browser: Browser, people: dict[str, Person]
    ) -> None:
        _to_wishes(browser)
        assert "One file of at most 2 kB:" in text(browser.get("/melden/wensen"))
        response = _upload(browser, "groot.txt", b"a" * 2049)
        assert "“groot.txt” is too large. A file may be at most 2 kB." in text(response)
        assert "The file has been added." in text(_upload(browser, "een.png", _png()))
        response = _upload(browser, "twee.png", _png())
        assert "You can add one file. Remove it to add “twee.png”." in text(response)
        with app_session(app) as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(DraftAttachment)) == 1

    def test_files_go_with_the_report(
        self, app: Flask, browser: Browser, people: dict[str, Person]
    ) -> None:
        _to_wishes(browser)
        _upload(browser, "bewijs.png", _png())
        answer(browser, "/melden/wensen", "/melden/wie")
        answer(browser, "/melden/wie", disclosure="anonymous")
        answer(browser, "/melden/route", route="confidant")
        review = browser.get("/melden/controleren")
        assert "bewijs.png" in text(review)
        send(browser, review)
        with app_session(app) as session:
            from complaints.cases.models import Attachment

            assert session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 1
            assert session.scalar(sa.select(sa.func.count()).select_from(DraftAttachment)) == 0


# Sending --------------------------------------------------------------------------------------


def _count(app: Flask, model: type) -> int:
    with app_session(app) as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def test_html_typed_in_the_form_is_shown_as_text(
    app: Flask, browser: Browser, people: dict[str, Person]
) -> None:
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    fill_in(app, browser, Answers(description=attack, route="confidant"))
    added = browser.post(
        "/melden/betrokkenen",
        {"action": "add_accused", "accused_name": "<b>Boze</b> baas", "accused_relation": "other"},
    )
    searched = browser.post("/melden/betrokkenen", {"action": "search", "accused_query": "<i>x"})
    review = browser.get("/melden/controleren")
    for response in (added, searched, review):
        page = response.get_data(as_text=True)
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert "<b>Boze</b>" not in page
        assert "<i>x" not in page
    assert "&lt;b&gt;Boze&lt;/b&gt; baas has been added." in added.get_data(as_text=True)
    assert "Nobody found for “&lt;i&gt;x”" in searched.get_data(as_text=True)
    page = review.get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "&lt;b&gt;Boze&lt;/b&gt; baas (Someone else" in page


def test_the_trap_field_refuses_without_creating_anything(
    app: Flask, browser: Browser, people: dict[str, Person]
) -> None:
    review = fill_in(app, browser, Answers(route="confidant"))
    page = review.get_data(as_text=True)
    trap = re.search(
        r'<div class="visually-hidden intake-trap" aria-hidden="true">.*?</div>', page, re.S
    )
    assert trap
    assert 'tabindex="-1"' in trap.group(0)
    assert 'autocomplete="off"' in trap.group(0)
    response = send(browser, review, internal_ref="http://spam.example")
    assert response.status_code == 400
    assert _CODE.search(response.get_data(as_text=True)) is None
    assert _count(app, Case) == 0
    assert _count(app, IntakeDraft) == 1


def test_recipients_that_changed_since_the_review_are_shown_again(
    app: Flask, browser: Browser, people: dict[str, Person]
) -> None:
    review = fill_in(app, browser, Answers(route="confidant"))
    assert recipients_on(review) == ["Ingrid Hoekstra"]
    with app_session(app) as session:
        session.get(Person, people["i.hoekstra@bzk.example"].id).active = False
    response = send(browser, review)
    assert response.status_code == 200
    assert "the list of people who would receive your report changed" in text(response)
    assert recipients_on(response) == ["Guus Verbeek"]
    assert _count(app, Case) == 0
    done = send(browser, response)
    receipt_code(done)
    _case, grants = only_case(app)
    assert grants == [people["g.verbeek@bzk.example"].id]


def test_a_failure_while_sending_saves_nothing_and_keeps_the_draft(
    app: Flask, browser: Browser, people: dict[str, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    review = fill_in(app, browser, Answers(route="confidant"))
    real_record_stat = intake_services.record_stat

    def record_then_fail(*args: Any, **kwargs: Any) -> Any:
        real_record_stat(*args, **kwargs)  # the last write of the submission...
        raise RuntimeError("disk full")  # ...and then it fails

    monkeypatch.setattr(intake_services, "record_stat", record_then_fail)
    response = send(browser, review)
    assert response.status_code == 500
    assert "Your report could not be sent" in text(response)
    assert "your answers are still saved" in text(response)
    assert _CODE.search(response.get_data(as_text=True)) is None
    for model in (Case, KeySlot, Notification, StatEvent, CaseAccessGrant, CaseParty):
        assert _count(app, model) == 0, model
    monkeypatch.undo()
    review = browser.get("/melden/controleren")
    assert review.status_code == 200
    assert "Mijn collega kleineert mij" in text(review)
    receipt_code(send(browser, review))
    assert _count(app, Case) == 1


def test_the_receipt_code_is_in_no_address_and_no_log(
    app: Flask, browser: Browser, people: dict[str, Person], log_output: io.StringIO
) -> None:
    review = fill_in(app, browser, Answers(description="Geheim-verhaal-marker", route="confidant"))
    done = send(browser, review)
    code = receipt_code(done)
    canonical = normalise_receipt(code)
    assert canonical
    logged = log_output.getvalue()
    assert '"route": "/melden/versturen"' in logged  # the capture works
    for form in (code, canonical, code.replace("-", " ")):
        assert form not in logged
        assert all(form not in url for url in browser.urls)
    assert "Geheim-verhaal-marker" not in logged
    assert "vergaderzaal" not in logged
    # Not in the cookie either: the session cookie keeps no trace of the report.
    cookie = browser.client.get_cookie("session")
    assert cookie is None or canonical not in cookie.value
    assert done.headers["Cache-Control"] == "no-store"


class TestRateLimit:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"intake_rate_limit": "2 per hour", "intake_global_rate_limit": "3 per hour"}

    def test_sending_is_rate_limited_per_client(
        self, app: Flask, browser: Browser, people: dict[str, Person]
    ) -> None:
        review = fill_in(app, browser, Answers(route="confidant"))
        statuses = [send(browser, review, internal_ref="bot").status_code for _ in range(3)]
        assert statuses == [400, 400, 429]
        assert "Too many attempts" in text(send(browser, review))
        assert _count(app, Case) == 0

    def test_sending_is_rate_limited_for_everyone_together(
        self, app: Flask, people: dict[str, Person]
    ) -> None:
        statuses = []
        for number in range(4):
            client = app.test_client()
            client.environ_base["REMOTE_ADDR"] = f"192.0.2.{number + 1}"
            page = client.get("/melden")
            statuses.append(
                client.post("/melden/versturen", data={"csrf_token": csrf_token(page)}).status_code
            )
        # Without a report in progress the first three are sent to the start page; the
        # fourth, from yet another address, meets the limit shared by everyone.
        assert statuses == [303, 303, 303, 429]


def test_a_counsellor_can_be_chosen_by_name(
    app: Flask, browser: Browser, people: dict[str, Person]
) -> None:
    guus = people["g.verbeek@bzk.example"]
    fill_in(app, browser, Answers(route="confidant"))
    page = browser.get("/melden/route").get_data(as_text=True)
    assert f'<option value="{guus.id}">Guus Verbeek, Directie Arbeidszaken' in page
    answer(
        browser, "/melden/route", "/melden/controleren", route="confidant", confidant=str(guus.id)
    )
    review = browser.get("/melden/controleren")
    assert recipients_on(review) == ["Guus Verbeek"]
    assert "You chose this counsellor." in text(review)
    assert "Chosen counsellor: Guus Verbeek" in text(review)
    send(browser, review)
    _case, grants = only_case(app)
    assert grants == [guus.id]


def test_changing_to_anonymous_after_choosing_the_committee_is_caught_before_sending(
    app: Flask, browser: Browser, people: dict[str, Person]
) -> None:
    fill_in(app, browser, Answers(disclosure="named", name="Lotte Bakker", route="committee"))
    answer(browser, "/melden/wie", "/melden/controleren", disclosure="anonymous")
    response = browser.get("/melden/controleren")
    assert response.status_code == 303
    assert response.headers["Location"] == "/melden/route"
    assert "cannot be anonymous" in text(browser.get("/melden/route"))


def test_a_send_without_the_recipients_shown_is_not_sent(
    app: Flask, browser: Browser, people: dict[str, Person]
) -> None:
    review = fill_in(app, browser, Answers(route="confidant"))
    response = browser.post("/melden/versturen", {"internal_ref": ""}, page=review)
    assert response.status_code == 200
    assert "the list of people who would receive your report changed" in text(response)
    assert _count(app, Case) == 0


def test_sending_twice_files_one_report(
    app: Flask, browser: Browser, people: dict[str, Person]
) -> None:
    review = fill_in(app, browser, Answers(route="confidant"))
    with browser.client.session_transaction() as cookie:
        draft_cookie = dict(cookie["intake_draft"])
    receipt_code(send(browser, review))
    # The same form sent again, with the cookie the browser had before (a double click).
    with browser.client.session_transaction() as cookie:
        cookie["intake_draft"] = draft_cookie
    again = send(browser, review)
    assert again.status_code == 303
    assert again.headers["Location"] == "/melden"
    assert _count(app, Case) == 1
    assert "cannot be opened here again" in text(browser.get("/melden"))


def test_markup_renamed_to_pdf_is_refused(
    app: Flask, browser: Browser, people: dict[str, Person]
) -> None:
    _to_wishes(browser)
    response = _upload(browser, "verslag.pdf", b"<html><script>alert(1)</script></html>")
    assert "“verslag.pdf” is not a type of file we accept." in text(response)
    assert _count(app, DraftAttachment) == 0


def test_pressing_enter_outside_a_search_box_goes_on(
    app: Flask, browser: Browser, people: dict[str, Person]
) -> None:
    # Enter in a text field presses the page's first button, which is "Search" on these pages.
    fill_in(app, browser, Answers())
    response = browser.post(
        "/melden/betrokkenen",
        {"action": "search", "accused_name": "Iemand", "accused_relation": "other"},
    )
    assert response.status_code == 303
    review = text(browser.get("/melden/controleren"))
    assert "Iemand (Someone else, for example a client or visitor)" in review
    response = browser.post("/melden/wie", {"action": "search", "disclosure": "anonymous"})
    assert response.status_code == 303


def test_no_ip_address_is_stored(app: Flask, people: dict[str, Person]) -> None:
    from complaints.db import Base

    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "203.0.113.77"
    client.set_cookie("taal", "en")
    browser = Browser(client)
    review = fill_in(app, browser, Answers(route="confidant"))
    receipt_code(send(browser, review))
    with app_session(app) as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(sa.select(table)):
                assert "203.0.113.77" not in repr(tuple(row)), table.name


def test_a_text_file_named_pdf_is_stored_as_txt_and_the_page_says_so(
    app: Flask, browser: Browser, people: dict[str, Person]
) -> None:
    _to_wishes(browser)
    response = _upload(browser, "notities.pdf", b"Wat ik heb opgeschreven.\n")
    assert response.status_code == 200
    shown = text(response)
    assert "The file has been added." in shown
    assert "“notities.pdf” was stored as “notities.txt”, because its content is text." in shown
    # Nothing typed is lost.
    assert "Een gesprek.</textarea>" in response.get_data(as_text=True)
    with app_session(app) as session:
        assert session.scalars(sa.select(DraftAttachment.content_type)).one() == "text/plain"
    # Control: a name that fits its content gets no notice (".jpeg" fits a JPEG too).
    response = _upload(browser, "foto.png", _png())
    assert "The file has been added." in text(response)
    assert "was stored as" not in text(response)
    assert not renamed("FOTO.JPEG", "FOTO.jpg")
    assert renamed("notities.pdf", "notities.txt")
