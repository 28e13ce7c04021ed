"""What the complainant is told about who can read the report is what a filed case gets.

Every route × disclosure level is filed through ``tests.factories.file_report``; what the case
then gets is read back, not taken from the rules: the grants (with a committee member assigned
by the secretary, and the manager route's walk past a manager who is named), whether each
reader's opened case carries the name, the consents the mailbox asks for, and the copy of the
complaint the secretary can write for the person complained about (Awb 9:9: from which state
on, and whether it names who filed it; ``STATUTE_COPY`` holds the shipped rule to the law).
From that the expected statements are worded (``who_can_read`` of the observed facts) and held
against the lists on ``/melden``, the route step, the review page, the receipt page and the
mailbox, in Dutch and in English. The controls show that the same comparison catches the old
committee sentence, and rules that forget the copy, its name, the members, the manager above,
the kept name or the referral.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_babel import force_locale
from werkzeug.test import TestResponse

from complaints.audit.services import Actor
from complaints.cases.models import CaseAccessGrant, ConsentKind, Disclosure, Route
from complaints.cases.services import open_case
from complaints.committee.services import (
    CommitteeRefused,
    LetterKind,
    assign_member,
    generate_letter,
    open_committee_case,
    open_letter,
)
from complaints.crypto.services import indexer, keystore
from complaints.directory.models import Person
from complaints.intake.services import AccusedPerson, ReportRefused
from complaints.routing.readers import Readers
from complaints.routing.readers import readers as readers_of
from complaints.routing.wording import Statement, disclosure_summary, who_can_read
from complaints.workflow.config import Workflow, workflow
from tests.committee import advance, opened
from tests.conftest import Clock, app_session
from tests.factories import (
    FILER,
    FILER_PHONE,
    Filed,
    csrf_token,
    file_report,
    import_demo_directory,
    unit,
)
from tests.intake.test_views import Browser, answer, begin, choose_manager, send

MANAGER = "a.demir@bzk.example"  # Sanne de Vries's manager; above her: Henk Jansen
SECRETARY = "w.deboer@bzk.example"
MEMBER = "a.kok@bzk.example"
LANGUAGES = ("nl", "en")
LEVELS = (Disclosure.ANONYMOUS, Disclosure.CONFIDENTIAL, Disclosure.NAMED)
# Awb 9:9 (and 9:4 for the name), independently of workflow.toml: on the committee route the
# person complained about receives a copy of the complaint once it is accepted, and a formal
# complaint carries the name of who filed it, also a confidential one.
STATUTE_COPY = {Route.COMMITTEE: ("accepted", {Disclosure.NAMED, Disclosure.CONFIDENTIAL})}
OLD_COMMITTEE_SENTENCE = (
    "Alleen deze mensen kunnen uw melding lezen. Niemand die erin wordt genoemd, krijgt toegang, "
    "en beheerders kunnen de melding niet lezen."
)

_LIST = re.compile(r'<ul class="who-can-read" data-who-can-read="([^"]*)"[^>]*>(.*?)</ul>', re.S)
_ITEM = re.compile(r'<li [^>]*data-about="([^"]*)" data-detail="([^"]*)">(.*?)</li>', re.S)

Told = list[tuple[str, str, str]]  # (about, detail, text), in the page's order


# Reading the pages ----------------------------------------------------------------------------


def told(page: TestResponse | str, key: str) -> Told:
    """The who-can-read list ``key`` of a page (a route, or a disclosure level on /melden)."""
    body = page if isinstance(page, str) else page.get_data(as_text=True)
    lists = [items for found, items in _LIST.findall(body) if found == key]
    assert len(lists) == 1, f"{len(lists)} who-can-read lists for {key!r}"
    return [
        (about, detail, " ".join(html.unescape(text).split()))
        for about, detail, text in _ITEM.findall(lists[0])
    ]


def worded(statements: list[Statement]) -> Told:
    return [(s.about, s.detail, " ".join(s.text.split())) for s in statements]


def expected(app: Flask, facts: Readers, language: str) -> Told:
    """The statements for what was observed, worded as the pages word them."""
    with app.test_request_context(), force_locale(language):
        return worded(who_can_read(facts))


def before_any_level(facts: Readers) -> Readers:
    """What /melden says per route, before a level is chosen: the same, without the name."""
    return replace(
        facts,
        disclosure=None,
        readers_see_name=None,
        name_kept_without_consent=False,
        copy_with_name=None,
    )


def assert_tells(page: TestResponse | str, key: str, facts: Told) -> None:
    """The page's list ``key`` says exactly what the filed case gets, and nothing else."""
    assert told(page, key) == facts


# What a filed case gets -----------------------------------------------------------------------


@pytest.fixture
def people(app: Flask, clock: Clock) -> dict[str, Person]:
    with app_session(app) as session:
        return import_demo_directory(session, clock())


@dataclass(frozen=True)
class Observed:
    facts: Readers  # what the case got, as the wording takes it
    filed: Filed | None  # None: the route refused the report


def observe(
    app: Flask, people: dict[str, Person], route: Route, level: Disclosure, now: datetime
) -> Observed:
    """File a report on ``route`` at ``level`` and read back who can read it."""
    with app.app_context():
        label = workflow()[route].label
    with app_session(app) as session:
        if route is Route.COMMITTEE and level is Disclosure.ANONYMOUS:
            with pytest.raises(ReportRefused, match="committee_needs_identity"):
                file_report(session, now, route=route, disclosure=level, category="bullying")
            return Observed(Readers(route, label, level, accepted=False), None)
        filed = file_report(session, now, route=route, disclosure=level, category="bullying")
        copy: tuple[str, bool] | None = None  # only the committee writes a copy (Awb 9:9)
        if route is Route.COMMITTEE:
            committee = open_committee_case(
                session,
                keystore(),
                indexer(),
                case_id=filed.case_id,
                person_id=people[SECRETARY].id,
                actor=Actor.operator(),
                now=now,
            )
            assign_member(
                session,
                keystore(),
                indexer(),
                workflow(),
                committee,
                person_id=people[MEMBER].id,
                now=now,
            )
            copy = _copy_for_accused(session, people, filed, now)
        grants = list(
            session.scalars(
                sa.select(CaseAccessGrant)
                .where(CaseAccessGrant.case_id == filed.case_id)
                .order_by(CaseAccessGrant.id)
            )
        )
        roles = tuple(dict.fromkeys(g.role for g in grants))
        accused = people["l.bakker@bzk.example"].id
        assert accused not in {g.person_id for g in grants}
        sees_name = {
            _sees_name(session, filed, g.person_id, people[FILER].name, now) for g in grants
        }
        assert len(sees_name) == 1, "some readers see the name and others do not"
        next_up = route is Route.MANAGER and _manager_named_goes_up(session, people, now)
    consents = _consents_in_mailbox(app, filed.code)
    # The shipped workflow does what the statute asks.
    statute = STATUTE_COPY.get(route)
    assert (copy[0] if copy else None) == (statute[0] if statute else None)
    assert (copy[1] if copy else None) == ((level in statute[1]) if statute else None)
    with app.app_context():
        copy_step = workflow()[route].states[copy[0]].label if copy else None
    return Observed(
        Readers(
            route,
            label,
            level,
            roles=roles,
            next_manager_up=next_up,
            readers_see_name=sees_name.pop(),
            name_kept_without_consent=ConsentKind.SHARE_IDENTITY in consents,
            referral_with_consent=ConsentKind.REFERRAL in consents,
            copy_step=copy_step,
            copy_with_name=copy[1] if copy else None,
        ),
        filed,
    )


def _copy_for_accused(
    session: sa.orm.Session, people: dict[str, Person], filed: Filed, now: datetime
) -> tuple[str, bool]:
    """Walk the complaint on until the secretary can write the copy for the person complained
    about; the state it became possible in, and whether it names who filed it."""
    secretary, filer = people[SECRETARY], people[FILER]
    for step in ("acknowledge", "accept", "start_hearing"):
        committee = opened(session, filed.case_id, secretary, now)
        try:
            letter = generate_letter(
                session,
                keystore(),
                workflow(),
                committee,
                kind=LetterKind.COPY_FOR_ACCUSED,
                language="nl",
                now=now,
            )
        except CommitteeRefused as refused:
            not_yet = refused.reason
        else:
            text = open_letter(session, keystore(), committee, letter_id=letter.id, now=now).html
            assert filer.email not in text  # never the contact details
            assert FILER_PHONE not in text
            return committee.case.state, filer.name in text
        assert not_yet == "copy_not_yet"
        advance(session, filed.case_id, secretary, now, step)
    raise AssertionError("the copy for the person complained about was never possible")


def _sees_name(
    session: sa.orm.Session, filed: Filed, reader: int, name: str, now: datetime
) -> bool:
    content = open_case(
        session,
        keystore(),
        indexer(),
        case_id=filed.case_id,
        reader_person_id=reader,
        actor=Actor.operator(),
        now=now,
    )
    return (content.complainant or {}).get("name") == name


def _manager_named_goes_up(
    session: sa.orm.Session, people: dict[str, Person], now: datetime
) -> bool:
    """A report naming the filer's manager: does the grant go to the manager above them?"""
    manager = people[MANAGER]
    named = file_report(
        session,
        now,
        route=Route.MANAGER,
        accused=(AccusedPerson(manager.name, "leidinggevende", manager.id),),
    )
    holders = set(
        session.scalars(
            sa.select(CaseAccessGrant.person_id).where(CaseAccessGrant.case_id == named.case_id)
        )
    )
    return holders == {manager.manager_id}


def _consents_in_mailbox(app: Flask, code: str) -> set[ConsentKind]:
    box = mailbox(app, code, "en")
    return {ConsentKind(k) for k in re.findall(r'data-consent="([a-z_]+)"', box)}


def mailbox(app: Flask, code: str, language: str) -> str:
    client = app.test_client()
    client.set_cookie("taal", language)
    page = client.get("/opvolgen")
    opened = client.post("/opvolgen", data={"code": code, "csrf_token": csrf_token(page)})
    assert opened.status_code == 303
    box = client.get("/opvolgen/melding")
    assert box.status_code == 200
    return box.get_data(as_text=True)


# The form, as the complainant fills it in ------------------------------------------------------


@dataclass
class IntakePages:
    start: TestResponse
    identity_step: TestResponse
    route_step: TestResponse
    review: TestResponse | None = None
    receipt: TestResponse | None = None


def walk_the_form(
    app: Flask, people: dict[str, Person], route: Route, level: Disclosure, language: str
) -> IntakePages:
    """Fill in the form at ``level`` and choose ``route``, as far as the route allows."""
    client = app.test_client()
    client.set_cookie("taal", language)
    browser = Browser(client)
    start = browser.get("/melden")
    begin(browser)
    answer(browser, "/melden/wat", "/melden/wanneer-waar", category="bullying")
    with app_session(app) as session:
        unit_id = str(unit(session, "BZK-APS").id)
    answer(
        browser,
        "/melden/wanneer-waar",
        "/melden/beschrijving",
        date_from="2026-02-02",
        unit=unit_id,
        place="vergaderzaal 4.12",
    )
    answer(browser, "/melden/beschrijving", "/melden/betrokkenen", description="Het gebeurde.")
    answer(browser, "/melden/betrokkenen", "/melden/wensen")
    answer(browser, "/melden/wensen", "/melden/wie", desired_outcome="Dat het stopt.")
    identity_step = browser.get("/melden/wie")
    filer = people[FILER]
    identity = {"disclosure": level.value}
    if level is not Disclosure.ANONYMOUS:
        identity |= {"name": filer.name, "email": filer.email}
    page = None
    if route is Route.MANAGER:
        page = choose_manager(browser, people[MANAGER])
        identity["manager_pick"] = str(people[MANAGER].id)
    chosen = browser.post("/melden/wie", {"action": "continue", **identity}, page=page)
    assert chosen.status_code == 303
    route_step = browser.get("/melden/route")
    pages = IntakePages(start, identity_step, route_step)
    response = browser.post("/melden/route", {"action": "continue", "route": route.value})
    if response.status_code != 303:
        return pages  # refused: there is no review and nothing is sent
    pages.review = browser.get("/melden/controleren")
    assert pages.review.status_code == 200
    pages.receipt = send(browser, pages.review)
    assert pages.receipt.status_code == 200
    return pages


# The walk -------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("level", LEVELS, ids=lambda d: d.value)
@pytest.mark.parametrize("route", list(Route), ids=lambda r: r.value)
def test_every_page_tells_who_can_read_what_the_case_gets(
    app: Flask,
    people: dict[str, Person],
    clock: Clock,
    route: Route,
    level: Disclosure,
    language: str,
) -> None:
    seen = observe(app, people, route, level, clock())
    says = expected(app, seen.facts, language)
    pages = walk_the_form(app, people, route, level, language)

    assert_tells(pages.route_step, route.value, says)
    if seen.filed is None:
        # Refused, on the route step already: no review, nothing sent, no mailbox.
        assert [about for about, _detail, _text in says] == ["not_possible"]
        assert pages.review is None
        assert pages.receipt is None
        return
    # /melden, per route before any level is chosen: the same readers, copy and handover.
    assert_tells(pages.start, route.value, expected(app, before_any_level(seen.facts), language))
    assert pages.review is not None
    assert pages.receipt is not None
    assert_tells(pages.review, route.value, says)
    assert_tells(pages.receipt, route.value, says)
    assert_tells(mailbox(app, seen.filed.code, language), route.value, says)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("level", LEVELS, ids=lambda d: d.value)
def test_the_start_page_says_per_level_where_the_routes_differ(
    app: Flask, people: dict[str, Person], clock: Clock, level: Disclosure, language: str
) -> None:
    seen = [observe(app, people, route, level, clock()).facts for route in Route]
    with app.test_request_context(), force_locale(language):
        says = worded(disclosure_summary(level, seen))
    pages = walk_the_form(app, people, Route.CONFIDANT, level, language)
    assert_tells(pages.start, level.value, says)
    if level is not Disclosure.ANONYMOUS:
        # "Who you are": the level's explanation is the same words, in one paragraph.
        assert option_hint(pages.identity_step, level.value) == " ".join(t for _a, _d, t in says)


def option_hint(page: TestResponse, value: str) -> str:
    """The explanation tied to the disclosure option ``value`` (its aria-describedby)."""
    body = page.get_data(as_text=True)
    match = re.search(rf'name="disclosure" value="{value}"[^>]*aria-describedby="([^"]+)"', body)
    assert match, value
    hint = re.search(rf'id="{match.group(1)}">(.*?)</p>', body, re.S)
    assert hint, match.group(1)
    return " ".join(html.unescape(hint.group(1)).split())


# Controls: the same comparison catches words that are not what the case gets -----------------


def _pages_of_one_report(
    app: Flask, people: dict[str, Person], route: Route, level: Disclosure, now: datetime
) -> tuple[Told, dict[str, str]]:
    """What a filed report gets (worded in Dutch), and its four pages as rendered now."""
    seen = observe(app, people, route, level, now)
    assert seen.filed is not None
    pages = walk_the_form(app, people, route, level, "nl")
    assert pages.review is not None
    assert pages.receipt is not None
    rendered = {
        "route step": pages.route_step.get_data(as_text=True),
        "review": pages.review.get_data(as_text=True),
        "receipt": pages.receipt.get_data(as_text=True),
        "mailbox": mailbox(app, seen.filed.code, "nl"),
    }
    return expected(app, seen.facts, "nl"), rendered


def test_the_old_committee_sentence_is_caught(
    app: Flask, people: dict[str, Person], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The review page as it was: "only these people, nobody named gets access"."""
    from complaints.followup import views as followup_views
    from complaints.intake import views as intake_views

    def old_words(_facts: Readers) -> list[Statement]:
        return [Statement("accused", "no_access", OLD_COMMITTEE_SENTENCE)]

    monkeypatch.setattr(intake_views, "who_can_read", old_words)
    monkeypatch.setattr(followup_views, "who_can_read", old_words)
    says, rendered = _pages_of_one_report(
        app, people, Route.COMMITTEE, Disclosure.CONFIDENTIAL, clock()
    )
    for name, page in rendered.items():
        assert OLD_COMMITTEE_SENTENCE in html.unescape(page), name
        with pytest.raises(AssertionError):
            assert_tells(page, Route.COMMITTEE.value, says)


def _forget_copy(facts: Readers) -> Readers:
    return replace(facts, copy_step=None, copy_with_name=None)


def _forget_members(facts: Readers) -> Readers:
    return replace(facts, roles=facts.roles[:1])


def _forget_manager_above(facts: Readers) -> Readers:
    return replace(facts, next_manager_up=False)


def _copy_without_name(facts: Readers) -> Readers:
    return replace(facts, copy_with_name=False)


def _forget_referral(facts: Readers) -> Readers:
    return replace(facts, referral_with_consent=False)


def _name_not_kept(facts: Readers) -> Readers:
    return replace(facts, name_kept_without_consent=False)


@pytest.mark.parametrize(
    ("route", "level", "weaken"),
    [
        (Route.COMMITTEE, Disclosure.NAMED, _forget_copy),
        (Route.COMMITTEE, Disclosure.CONFIDENTIAL, _copy_without_name),
        (Route.COMMITTEE, Disclosure.CONFIDENTIAL, _forget_members),
        (Route.MANAGER, Disclosure.CONFIDENTIAL, _forget_manager_above),
        (Route.MANAGER, Disclosure.CONFIDENTIAL, _name_not_kept),
        (Route.CONFIDANT, Disclosure.ANONYMOUS, _forget_referral),
    ],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_a_rule_that_forgets_what_the_case_gets_is_caught(
    app: Flask,
    people: dict[str, Person],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    route: Route,
    level: Disclosure,
    weaken: Callable[[Readers], Readers],
) -> None:
    """The pages worded from a weakened rule differ from what the filed case gets."""
    from complaints.followup import views as followup_views
    from complaints.intake import views as intake_views

    def weakened(flow: Workflow, route_: Route, level_: Disclosure | None) -> Readers:
        return weaken(readers_of(flow, route_, level_))

    monkeypatch.setattr(intake_views, "readers", weakened)
    monkeypatch.setattr(followup_views, "readers", weakened)
    says, rendered = _pages_of_one_report(app, people, route, level, clock())
    for page in rendered.values():
        with pytest.raises(AssertionError):
            assert_tells(page, route.value, says)


OLD_CONFIDENTIAL_HINT = (
    "Only the person who handles your report learns your name. They will not pass it on without "
    "your consent."
)


def test_the_old_confidential_explanation_is_caught(
    app: Flask, people: dict[str, Person], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "Only the person who handles your report learns your name": not on the committee route."""
    from complaints.intake import views as intake_views
    from complaints.intake.wording import Option, disclosure_options

    def old_options(flow: Workflow) -> list[Option]:
        options = disclosure_options(flow)
        return [
            replace(o, hint=OLD_CONFIDENTIAL_HINT) if o.value == "confidential" else o
            for o in options
        ]

    level = Disclosure.CONFIDENTIAL
    seen = [observe(app, people, route, level, clock()).facts for route in Route]
    with app.test_request_context(), force_locale("en"):
        says = " ".join(s.text for s in disclosure_summary(level, seen))
    monkeypatch.setattr(intake_views, "disclosure_options", old_options)
    pages = walk_the_form(app, people, Route.CONFIDANT, level, "en")
    assert option_hint(pages.identity_step, level.value) == OLD_CONFIDENTIAL_HINT
    assert option_hint(pages.identity_step, level.value) != says
