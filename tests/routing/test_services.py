"""Routing: who receives a report, on every route, and never anyone named as accused."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from types import FrameType

import pytest
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from complaints import db
from complaints.accounts.models import Role, RoleAssignment, RoleSource
from complaints.cases.models import Case, CaseAccessGrant, Disclosure, GrantRole, Route
from complaints.cases.services import NewCase, NewGrant, NewParty, create_case
from complaints.cases.taxonomy import taxonomy
from complaints.crypto.blind_index import normalise_name
from complaints.crypto.services import indexer, keystore
from complaints.directory.models import OrgUnit, OrgUnitKind, Person
from complaints.intake import services as intake
from complaints.intake.services import AccusedPerson, Identity, Report, submit_report
from complaints.routing.services import (
    ROUTE_ROLES,
    Basis,
    NoEligibleHandler,
    Recipient,
    RoutingRequest,
    is_excluded,
    resolve_recipients,
)
from complaints.workflow.config import workflow
from tests.conftest import Clock
from tests.factories import (
    accused,
    build_report,
    import_demo_directory,
    make_case,
    make_org,
    make_person,
    make_unit,
    unit,
)


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """The application's session; everything is rolled back with the test's transaction."""
    with app.app_context():
        yield db.session()


@pytest.fixture
def demo(session: Session, clock: Clock) -> dict[str, Person]:
    """The demo directory by the part of the e-mail address before the @."""
    people = import_demo_directory(session, clock())
    return {email.split("@")[0]: person for email, person in people.items()}


def route(
    session: Session,
    route: Route,
    unit_id: int | None = None,
    *,
    accused: tuple[Person, ...] = (),
    accused_names: tuple[str, ...] = (),
    **fields: object,
) -> list[Recipient]:
    request = RoutingRequest(
        route=route,
        organisation_id=unit_id,
        accused_person_ids=frozenset(p.id for p in accused),
        accused_names=accused_names,
        **fields,  # type: ignore[arg-type]
    )
    return resolve_recipients(session, workflow(), request)


def who(recipients: list[Recipient]) -> list[tuple[str, Basis]]:
    return [(r.name, r.basis) for r in recipients]


def give_role(
    session: Session, person: Person, role: Role, scope: OrgUnit | None, now: datetime
) -> None:
    session.add(
        RoleAssignment(
            person_id=person.id,
            role=role,
            scope_unit_id=scope.id if scope else None,
            source=RoleSource.MANUAL,
            created_at=now,
        )
    )
    session.flush()


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail instead of hanging (SIGALRM: the main thread of a POSIX process)."""

    def expire(_signum: int, _frame: FrameType | None) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# Manager route -------------------------------------------------------------------------------


def test_manager_route_goes_to_the_line_manager(session: Session, demo: dict[str, Person]) -> None:
    recipients = route(
        session,
        Route.MANAGER,
        unit(session, "BZK-APS").id,
        manager_person_id=demo["s.devries"].id,
        complainant_person_id=demo["r.ramsaran"].id,
    )
    assert recipients == [
        Recipient(demo["s.devries"].id, "Sanne de Vries", GrantRole.MANAGER, Basis.LINE_MANAGER)
    ]


def test_an_accused_line_manager_is_skipped_for_the_next_one_up(
    session: Session, demo: dict[str, Person]
) -> None:
    recipients = route(
        session,
        Route.MANAGER,
        manager_person_id=demo["a.demir"].id,
        accused=(demo["a.demir"],),
    )
    assert recipients == [
        Recipient(demo["h.jansen"].id, "Henk Jansen", GrantRole.MANAGER, Basis.HIGHER_MANAGER)
    ]


@pytest.mark.parametrize(
    "typed",
    [
        "de vries, sanne",
        "DE VRIES SANNE",
        "Sanne de Vriés",
        "  sanne   de-vries ",
        "Vries, Sanne de",
    ],
)
def test_a_manager_named_as_accused_in_free_text_is_skipped(
    session: Session, clock: Clock, typed: str
) -> None:
    org = make_org(session, clock())
    director = make_person(session, org.ministry, clock(), name="Pieter Bakker")
    manager = make_person(
        session, org.directorate, clock(), name="Sanne de Vries", manager=director
    )
    recipients = route(session, Route.MANAGER, manager_person_id=manager.id, accused_names=(typed,))
    assert who(recipients) == [("Pieter Bakker", Basis.HIGHER_MANAGER)]


def test_accents_and_case_in_a_directory_name_do_not_hide_it(
    session: Session, clock: Clock
) -> None:
    org = make_org(session, clock())
    top = make_person(session, org.ministry, clock(), name="Ayşe Öztürk-Çelik")
    manager = make_person(
        session, org.directorate, clock(), name="Renée Jóhannsdóttir", manager=top
    )
    recipients = route(
        session, Route.MANAGER, manager_person_id=manager.id, accused_names=("johannsdottir renee",)
    )
    assert who(recipients) == [("Ayşe Öztürk-Çelik", Basis.HIGHER_MANAGER)]
    with pytest.raises(NoEligibleHandler) as refused:
        route(
            session,
            Route.MANAGER,
            manager_person_id=manager.id,
            accused_names=("JOHANNSDOTTIR, Renee", "celik, ayse ozturk"),
        )
    assert refused.value.reason == "no_manager_available"


def test_a_different_name_is_not_a_match(session: Session, clock: Clock) -> None:
    org = make_org(session, clock())
    manager = make_person(session, org.directorate, clock(), name="Sanne de Vries")
    for typed in ("Sanne", "S. de Vries", "Sanne de Vries-Bakker", "Jan de Vries"):
        recipients = route(
            session, Route.MANAGER, manager_person_id=manager.id, accused_names=(typed,)
        )
        assert who(recipients) == [("Sanne de Vries", Basis.LINE_MANAGER)], typed


def test_a_whole_chain_accused_leaves_no_manager(session: Session, demo: dict[str, Person]) -> None:
    with pytest.raises(NoEligibleHandler) as refused:
        route(
            session,
            Route.MANAGER,
            manager_person_id=demo["m.elidrissi"].id,
            accused=(demo["m.elidrissi"], demo["a.demir"]),
            accused_names=("Jansen, Henk",),
        )
    assert refused.value.reason == "no_manager_available"


def test_inactive_managers_are_passed_over(session: Session, demo: dict[str, Person]) -> None:
    demo["a.demir"].active = False
    session.flush()
    recipients = route(session, Route.MANAGER, manager_person_id=demo["a.demir"].id)
    assert who(recipients) == [("Henk Jansen", Basis.HIGHER_MANAGER)]
    demo["h.jansen"].active = False
    session.flush()
    with pytest.raises(NoEligibleHandler):
        route(session, Route.MANAGER, manager_person_id=demo["a.demir"].id)


def test_a_manager_route_without_a_manager_is_refused(session: Session) -> None:
    with pytest.raises(NoEligibleHandler) as refused:
        route(session, Route.MANAGER)
    assert refused.value.reason == "manager_unknown"


def test_the_complainant_as_their_own_manager_is_passed_over(
    session: Session, demo: dict[str, Person]
) -> None:
    # The form offers the line manager; someone reporting about their own team picks themselves.
    recipients = route(
        session,
        Route.MANAGER,
        manager_person_id=demo["a.demir"].id,
        complainant_person_id=demo["a.demir"].id,
    )
    assert who(recipients) == [("Henk Jansen", Basis.HIGHER_MANAGER)]


@pytest.mark.parametrize("length", [1, 2, 7])
def test_a_manager_loop_in_the_data_ends_the_walk(
    session: Session, clock: Clock, length: int
) -> None:
    org = make_org(session, clock())
    loop = [make_person(session, org.directorate, clock()) for _ in range(length)]
    for person, manager in zip(loop, loop[1:] + loop[:1], strict=True):
        person.manager_id = manager.id
    session.flush()
    with time_limit(5), pytest.raises(NoEligibleHandler):
        route(session, Route.MANAGER, manager_person_id=loop[0].id, accused=tuple(loop))
    # With one person in the loop free to take it, the walk finds them.
    free = loop[-1]
    recipients = route(
        session,
        Route.MANAGER,
        manager_person_id=loop[0].id,
        accused=tuple(p for p in loop if p is not free),
    )
    expected = Basis.LINE_MANAGER if length == 1 else Basis.HIGHER_MANAGER
    assert who(recipients) == [(free.name, expected)]


def test_a_long_chain_is_walked_to_its_top(session: Session, clock: Clock) -> None:
    org = make_org(session, clock())
    chain = [make_person(session, org.ministry, clock())]
    for _ in range(30):
        chain.append(make_person(session, org.directorate, clock(), manager=chain[-1]))
    recipients = route(
        session, Route.MANAGER, manager_person_id=chain[-1].id, accused=tuple(chain[1:])
    )
    assert [r.person_id for r in recipients] == [chain[0].id]


# Confidant route -----------------------------------------------------------------------------


def test_confidant_route_goes_to_the_organisations_confidant(
    session: Session, demo: dict[str, Person]
) -> None:
    recipients = route(session, Route.CONFIDANT, unit(session, "BZK-APS").id)
    assert recipients == [
        Recipient(demo["i.hoekstra"].id, "Ingrid Hoekstra", GrantRole.CONFIDANT, Basis.ORGANISATION)
    ]


def test_the_only_confidant_accused_sends_it_to_a_government_wide_one(
    session: Session, demo: dict[str, Person]
) -> None:
    recipients = route(
        session, Route.CONFIDANT, unit(session, "BZK-APS").id, accused=(demo["i.hoekstra"],)
    )
    assert who(recipients) == [("Guus Verbeek", Basis.GOVERNMENT_WIDE)]


def test_an_organisation_without_a_confidant_gets_a_government_wide_one(
    session: Session, demo: dict[str, Person]
) -> None:
    assert who(route(session, Route.CONFIDANT, unit(session, "JENV-DJI").id)) == [
        ("Guus Verbeek", Basis.GOVERNMENT_WIDE)
    ]
    assert who(route(session, Route.CONFIDANT, None)) == [("Guus Verbeek", Basis.GOVERNMENT_WIDE)]


def test_all_confidants_accused_leaves_nobody(session: Session, demo: dict[str, Person]) -> None:
    with pytest.raises(NoEligibleHandler) as refused:
        route(
            session,
            Route.CONFIDANT,
            unit(session, "BZK-APS").id,
            accused=(demo["i.hoekstra"],),
            accused_names=("verbeek, guus",),
        )
    assert refused.value.reason == "no_confidant_available"


def test_a_confidant_chosen_by_name_is_used(session: Session, demo: dict[str, Person]) -> None:
    recipients = route(
        session,
        Route.CONFIDANT,
        unit(session, "BZK-APS").id,
        chosen_person_id=demo["g.verbeek"].id,
    )
    assert who(recipients) == [("Guus Verbeek", Basis.CHOSEN)]


def test_a_chosen_confidant_who_is_accused_is_refused(
    session: Session, demo: dict[str, Person]
) -> None:
    for accused_ids, names in (((demo["i.hoekstra"],), ()), ((), ("Hoekstra Ingrid",))):
        with pytest.raises(NoEligibleHandler) as refused:
            route(
                session,
                Route.CONFIDANT,
                unit(session, "BZK-APS").id,
                chosen_person_id=demo["i.hoekstra"].id,
                accused=accused_ids,
                accused_names=names,
            )
        assert refused.value.reason == "chosen_confidant_involved"


@pytest.mark.parametrize(
    ("chosen", "unit_code"),
    [
        ("i.hoekstra", "JENV-DJI"),  # serves BZK only
        ("s.devries", "BZK-APS"),  # not a confidant at all
        ("k.dijkstra", "BZK-APS"),  # an integrity coordinator, not a confidant
    ],
)
def test_a_chosen_person_who_does_not_serve_the_organisation_is_refused(
    session: Session, demo: dict[str, Person], chosen: str, unit_code: str
) -> None:
    with pytest.raises(NoEligibleHandler) as refused:
        route(
            session,
            Route.CONFIDANT,
            unit(session, unit_code).id,
            chosen_person_id=demo[chosen].id,
        )
    assert refused.value.reason == "chosen_confidant_unavailable"


def test_an_inactive_chosen_confidant_is_refused(session: Session, demo: dict[str, Person]) -> None:
    demo["g.verbeek"].active = False
    session.flush()
    with pytest.raises(NoEligibleHandler):
        route(session, Route.CONFIDANT, None, chosen_person_id=demo["g.verbeek"].id)


@dataclass
class TwoConfidants:
    org_unit: OrgUnit
    first: Person
    second: Person


@pytest.fixture
def two_confidants(session: Session, clock: Clock) -> TwoConfidants:
    org = make_org(session, clock())
    first = make_person(session, org.directorate, clock(), name="Eerste Vertrouwenspersoon")
    second = make_person(session, org.directorate, clock(), name="Tweede Vertrouwenspersoon")
    for person in (first, second):
        give_role(session, person, Role.CONFIDANT, org.ministry, clock())
    return TwoConfidants(org.directorate, first, second)


def _open_case(session: Session, clock: Clock, handler: Person, state: str = "submitted") -> Case:
    case = make_case(session, clock(), handler=handler)
    case.state = state
    session.flush()
    return case


def test_the_confidant_with_fewer_open_cases_gets_the_next(
    session: Session, clock: Clock, two_confidants: TwoConfidants
) -> None:
    first, second = two_confidants.first, two_confidants.second

    def next_confidant() -> int:
        recipients = route(session, Route.CONFIDANT, two_confidants.org_unit.id)
        assert [r.basis for r in recipients] == [Basis.ORGANISATION]
        return recipients[0].person_id

    assert next_confidant() == first.id  # a tie goes to the lower id: stable, not random
    _open_case(session, clock, first)
    assert next_confidant() == second.id
    _open_case(session, clock, second, "supporting")
    _open_case(session, clock, second, "acknowledged")
    assert next_confidant() == first.id


def test_closed_and_withdrawn_cases_and_revoked_grants_do_not_count(
    session: Session, clock: Clock, two_confidants: TwoConfidants
) -> None:
    first, second = two_confidants.first, two_confidants.second
    _open_case(session, clock, second)
    for state in ("closed", "withdrawn", "closed"):
        _open_case(session, clock, first, state)
    revoked = _open_case(session, clock, first)
    grant = session.scalars(
        sa.select(CaseAccessGrant).where(CaseAccessGrant.case_id == revoked.id)
    ).one()
    grant.revoked_at = clock()
    session.flush()
    recipients = route(session, Route.CONFIDANT, two_confidants.org_unit.id)
    assert [r.person_id for r in recipients] == [first.id]


def test_cases_in_another_role_do_not_count_as_confidant_caseload(
    session: Session, clock: Clock, two_confidants: TwoConfidants
) -> None:
    first = two_confidants.first
    case = _open_case(session, clock, two_confidants.second)
    session.add(
        CaseAccessGrant(
            case_id=case.id, person_id=first.id, role=GrantRole.MANAGER, granted_at=clock()
        )
    )
    session.add(
        CaseAccessGrant(
            case_id=_open_case(session, clock, two_confidants.second).id,
            person_id=first.id,
            role=GrantRole.MANAGER,
            granted_at=clock(),
        )
    )
    session.flush()
    assert route(session, Route.CONFIDANT, two_confidants.org_unit.id)[0].person_id == first.id


def test_a_confidant_scoped_to_a_directorate_serves_that_directorate_only(
    session: Session, clock: Clock
) -> None:
    org = make_org(session, clock())
    other = make_unit(session, "MIN-OTHER", OrgUnitKind.DIRECTORATE, org.ministry, clock())
    team = make_unit(session, "MIN-DIR-TEAM", OrgUnitKind.TEAM, org.directorate, clock())
    local = make_person(session, org.directorate, clock(), name="Lokale Vertrouwenspersoon")
    wide = make_person(session, org.ministry, clock(), name="Rijksbrede Vertrouwenspersoon")
    give_role(session, local, Role.CONFIDANT, org.directorate, clock())
    give_role(session, wide, Role.CONFIDANT, org.government, clock())  # the root: government-wide
    assert who(route(session, Route.CONFIDANT, team.id)) == [
        ("Lokale Vertrouwenspersoon", Basis.ORGANISATION)
    ]
    assert who(route(session, Route.CONFIDANT, org.directorate.id)) == [
        ("Lokale Vertrouwenspersoon", Basis.ORGANISATION)
    ]
    assert who(route(session, Route.CONFIDANT, other.id)) == [
        ("Rijksbrede Vertrouwenspersoon", Basis.GOVERNMENT_WIDE)
    ]
    assert who(route(session, Route.CONFIDANT, org.ministry.id)) == [
        ("Rijksbrede Vertrouwenspersoon", Basis.GOVERNMENT_WIDE)
    ]


def test_inactive_confidants_are_never_chosen(session: Session, demo: dict[str, Person]) -> None:
    demo["i.hoekstra"].active = False
    session.flush()
    assert who(route(session, Route.CONFIDANT, unit(session, "BZK-APS").id)) == [
        ("Guus Verbeek", Basis.GOVERNMENT_WIDE)
    ]


# Integrity and committee routes ----------------------------------------------------------------


def test_integrity_route_goes_to_the_ministrys_coordinators(
    session: Session, demo: dict[str, Person]
) -> None:
    assert route(session, Route.INTEGRITY, unit(session, "BZK-CIO").id) == [
        Recipient(
            demo["k.dijkstra"].id,
            "Kees Dijkstra",
            GrantRole.INTEGRITY_COORDINATOR,
            Basis.ORGANISATION,
        )
    ]
    assert who(route(session, Route.INTEGRITY, unit(session, "JENV-DRC").id)) == [
        ("Petra Vos", Basis.ORGANISATION)
    ]


def test_integrity_route_reaches_every_coordinator_of_the_ministry(
    session: Session, clock: Clock, demo: dict[str, Person]
) -> None:
    give_role(session, demo["f.ouali"], Role.INTEGRITY_COORDINATOR, unit(session, "BZK"), clock())
    recipients = route(session, Route.INTEGRITY, unit(session, "BZK-APS").id)
    assert {r.name for r in recipients} == {"Kees Dijkstra", "Fatima Ouali"}
    assert {r.role for r in recipients} == {GrantRole.INTEGRITY_COORDINATOR}
    recipients = route(
        session,
        Route.INTEGRITY,
        unit(session, "BZK-APS").id,
        accused_names=("Ouali, Fatima",),
    )
    assert who(recipients) == [("Kees Dijkstra", Basis.ORGANISATION)]


def test_integrity_route_falls_back_to_government_wide_coordinators(
    session: Session, clock: Clock, demo: dict[str, Person]
) -> None:
    with pytest.raises(NoEligibleHandler) as refused:
        route(session, Route.INTEGRITY, unit(session, "FIN-AFP").id)
    assert refused.value.reason == "no_integrity_coordinator_available"
    give_role(session, demo["j.mulder"], Role.INTEGRITY_COORDINATOR, None, clock())
    assert who(route(session, Route.INTEGRITY, unit(session, "FIN-AFP").id)) == [
        ("Jeroen Mulder", Basis.GOVERNMENT_WIDE)
    ]
    recipients = route(
        session, Route.INTEGRITY, unit(session, "BZK-APS").id, accused=(demo["k.dijkstra"],)
    )
    assert who(recipients) == [("Jeroen Mulder", Basis.GOVERNMENT_WIDE)]


def test_committee_route_goes_to_every_secretary(session: Session, demo: dict[str, Person]) -> None:
    recipients = route(session, Route.COMMITTEE, unit(session, "FIN-AFP").id)
    assert recipients == [
        Recipient(
            demo["w.deboer"].id, "Wim de Boer", GrantRole.COMMITTEE_SECRETARY, Basis.SECRETARIAT
        ),
        Recipient(
            demo["n.haddou"].id, "Noor Haddou", GrantRole.COMMITTEE_SECRETARY, Basis.SECRETARIAT
        ),
    ]


def test_committee_route_leaves_out_accused_secretaries(
    session: Session, demo: dict[str, Person]
) -> None:
    assert who(route(session, Route.COMMITTEE, None, accused=(demo["n.haddou"],))) == [
        ("Wim de Boer", Basis.SECRETARIAT)
    ]
    assert who(route(session, Route.COMMITTEE, None, accused_names=("BOER, Wim de",))) == [
        ("Noor Haddou", Basis.SECRETARIAT)
    ]
    with pytest.raises(NoEligibleHandler) as refused:
        route(session, Route.COMMITTEE, None, accused=(demo["n.haddou"], demo["w.deboer"]))
    assert refused.value.reason == "no_secretary_available"


def test_inactive_secretaries_are_never_chosen(session: Session, demo: dict[str, Person]) -> None:
    demo["w.deboer"].active = False
    session.flush()
    assert who(route(session, Route.COMMITTEE, None)) == [("Noor Haddou", Basis.SECRETARIAT)]


# Conflicts across routes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route_", "handler", "typed"),
    [
        (Route.MANAGER, "a.demir", "demir, aylin"),
        (Route.CONFIDANT, "i.hoekstra", "HOEKSTRA Ingrid"),
        (Route.INTEGRITY, "k.dijkstra", "Kees  Dijkstra."),
        (Route.COMMITTEE, "n.haddou", "haddou, noor"),
    ],
)
def test_a_typed_accused_name_excludes_the_handler_on_every_route(
    session: Session, demo: dict[str, Person], route_: Route, handler: str, typed: str
) -> None:
    fields = {"manager_person_id": demo["a.demir"].id} if route_ is Route.MANAGER else {}
    before = route(session, route_, unit(session, "BZK-APS").id, **fields)
    assert demo[handler].id in {r.person_id for r in before}
    try:
        after = route(
            session, route_, unit(session, "BZK-APS").id, accused_names=(typed,), **fields
        )
    except NoEligibleHandler:
        after = []
    assert demo[handler].id not in {r.person_id for r in after}
    assert after or route_ is Route.INTEGRITY  # the demo has no government-wide coordinator


@pytest.mark.parametrize(
    ("route_", "handler"),
    [
        (Route.CONFIDANT, "i.hoekstra"),
        (Route.INTEGRITY, "k.dijkstra"),
        (Route.COMMITTEE, "w.deboer"),
    ],
)
def test_the_complainant_never_receives_their_own_report(
    session: Session, demo: dict[str, Person], route_: Route, handler: str
) -> None:
    unit_id = unit(session, "BZK-APS").id
    assert demo[handler].id in {r.person_id for r in route(session, route_, unit_id)}
    for identity in (
        {"complainant_person_id": demo[handler].id},
        {"complainant_name": demo[handler].name.upper()},
    ):
        try:
            recipients = route(session, route_, unit_id, **identity)
        except NoEligibleHandler:
            recipients = []
        assert demo[handler].id not in {r.person_id for r in recipients}, identity


def test_is_excluded_matches_ids_names_and_inactivity(
    session: Session, demo: dict[str, Person]
) -> None:
    sanne = demo["s.devries"]
    assert is_excluded(sanne, [sanne.id], [])
    assert is_excluded(sanne, [], ["De Vries, Sanne"])
    assert not is_excluded(sanne, [demo["l.bakker"].id], ["Lotte Bakker", "-", "", "?"])
    sanne.active = False
    assert is_excluded(sanne, [], [])


def test_a_name_that_normalises_to_nothing_excludes_nobody(session: Session, clock: Clock) -> None:
    org = make_org(session, clock())
    odd = make_person(session, org.directorate, clock(), name="--")
    recipients = route(session, Route.MANAGER, manager_person_id=odd.id, accused_names=("?",))
    assert [r.person_id for r in recipients] == [odd.id]
    assert not is_excluded(odd, [], ["?", "..."])


# The same rules, over random organisations -------------------------------------------------------

NAMES = ["Sanne de Vries", "Jan Jansen", "Ayşe Kaya", "Noor el Amrani", "Jan de Vries", "Kees Bos"]
ROLES = [None, Role.CONFIDANT, Role.INTEGRITY_COORDINATOR, Role.COMMITTEE_SECRETARY]


@dataclass(frozen=True)
class PersonSpec:
    name: str
    unit: int  # 0: the ministry, 1 and 2: its directorates, 3: another ministry
    manager: int | None  # index of an earlier person (or, to make a loop, any person)
    active: bool
    role: Role | None
    scope: int | None  # None: government-wide; else a unit index as above


@dataclass(frozen=True)
class Scenario:
    people: tuple[PersonSpec, ...]
    route: Route
    unit: int | None
    manager: int
    chosen: int | None
    complainant: int | None
    complainant_name: str | None
    accused: frozenset[int]
    accused_names: tuple[str, ...]


def _typed(name: str, variant: int) -> str:
    words = name.split()
    forms = [
        name,
        name.upper(),
        f"{words[-1]}, {' '.join(words[:-1])}",
        name.replace("ş", "s").lower(),
        " ".join(reversed(words)),
    ]
    return forms[variant % len(forms)]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    count = draw(st.integers(min_value=1, max_value=9))
    route_ = draw(st.sampled_from(list(Route)))
    # Mostly the route's own role, so that pools of several candidates are common.
    own_role = ROUTE_ROLES.get(route_, Role.CONFIDANT)
    roles = st.sampled_from([None, own_role, own_role, *ROLES[1:]])
    people = []
    for index in range(count):
        manager = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=count - 1)))
        people.append(
            PersonSpec(
                name=draw(st.sampled_from(NAMES)),
                unit=draw(st.integers(min_value=0, max_value=3)),
                manager=manager if manager != index else None,
                active=draw(st.sampled_from([True, True, True, False])),
                role=draw(roles),
                scope=draw(st.one_of(st.none(), st.integers(min_value=0, max_value=3))),
            )
        )
    person = st.integers(min_value=0, max_value=count - 1)
    typed = st.tuples(st.sampled_from(NAMES), st.integers(min_value=0, max_value=4)).map(
        lambda pair: _typed(*pair)
    )
    return Scenario(
        people=tuple(people),
        route=route_,
        unit=draw(st.one_of(st.none(), st.integers(min_value=0, max_value=3))),
        manager=draw(person),
        chosen=draw(st.one_of(st.none(), person)),
        complainant=draw(st.one_of(st.none(), person)),
        complainant_name=draw(st.one_of(st.none(), typed)),
        accused=frozenset(draw(st.lists(person, max_size=4))),
        accused_names=tuple(draw(st.lists(typed, max_size=3))),
    )


def _build(session: Session, now: datetime, scenario: Scenario) -> tuple[list[Person], list[int]]:
    org = make_org(session, now, "P")
    second = make_unit(session, "P-DIR2", OrgUnitKind.DIRECTORATE, org.ministry, now)
    elsewhere = make_unit(session, "Q", OrgUnitKind.MINISTRY, org.government, now)
    units = [org.ministry, org.directorate, second, elsewhere]
    people = [
        make_person(session, units[spec.unit], now, name=spec.name) for spec in scenario.people
    ]
    for person, spec in zip(people, scenario.people, strict=True):
        person.manager_id = people[spec.manager].id if spec.manager is not None else None
        person.active = spec.active
        if spec.role is not None:
            scope = units[spec.scope] if spec.scope is not None else None
            give_role(session, person, spec.role, scope, now)
    session.flush()
    return people, [u.id for u in units]


def _expected(scenario: Scenario) -> set[int] | None:
    """The recipients by person index, worked out from the scenario alone; None: nobody."""
    specs = scenario.people
    excluded_names = {normalise_name(n) for n in scenario.accused_names}
    if scenario.complainant_name:
        excluded_names.add(normalise_name(scenario.complainant_name))

    def eligible(index: int) -> bool:
        spec = specs[index]
        return (
            spec.active
            and index not in scenario.accused
            and index != scenario.complainant
            and normalise_name(spec.name) not in excluded_names
        )

    if scenario.route is Route.MANAGER:
        index: int | None = scenario.manager
        seen = set()
        while index is not None and index not in seen:
            if eligible(index):
                return {index}
            seen.add(index)
            index = specs[index].manager
        return None
    # Unit 1 and 2 sit under unit 0 (the ministry); unit 3 is a ministry of its own.
    covering = {None: set(), 0: {0}, 1: {0, 1}, 2: {0, 2}, 3: {3}}[scenario.unit]
    role = {
        Route.CONFIDANT: Role.CONFIDANT,
        Route.INTEGRITY: Role.INTEGRITY_COORDINATOR,
        Route.COMMITTEE: Role.COMMITTEE_SECRETARY,
    }[scenario.route]
    holders = [i for i, spec in enumerate(specs) if spec.role is role and spec.active]
    if scenario.route is Route.COMMITTEE:
        chosen = {i for i in holders if eligible(i)}
        return chosen or None
    own = [i for i in holders if specs[i].scope in covering]
    wide = [i for i in holders if specs[i].scope is None]
    if scenario.route is Route.CONFIDANT and scenario.chosen is not None:
        serving = scenario.chosen in own + wide
        return {scenario.chosen} if serving and eligible(scenario.chosen) else None
    for pool in (own, wide):
        candidates = [i for i in pool if eligible(i)]
        if candidates:
            # No cases yet, so every caseload is zero and the first in the directory wins.
            return {candidates[0]} if scenario.route is Route.CONFIDANT else set(candidates)
    return None


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
def test_routing_never_reaches_the_accused_or_the_complainant(
    app: Flask, clock: Clock, scenario: Scenario
) -> None:
    # A fresh application context per example: its end rolls back what the example wrote.
    with app.app_context():
        session = db.session()
        people, units = _build(session, clock(), scenario)
        request = RoutingRequest(
            route=scenario.route,
            organisation_id=units[scenario.unit] if scenario.unit is not None else None,
            manager_person_id=people[scenario.manager].id,
            chosen_person_id=(people[scenario.chosen].id if scenario.chosen is not None else None),
            complainant_person_id=(
                people[scenario.complainant].id if scenario.complainant is not None else None
            ),
            complainant_name=scenario.complainant_name,
            accused_person_ids=frozenset(people[i].id for i in scenario.accused),
            accused_names=scenario.accused_names,
        )
        try:
            recipients = resolve_recipients(session, workflow(), request)
        except NoEligibleHandler:
            recipients = []
        accused_ids = request.accused_person_ids
        accused_names = {normalise_name(n) for n in scenario.accused_names}
        for recipient in recipients:
            assert recipient.person_id not in accused_ids
            assert normalise_name(recipient.name) not in accused_names
            assert recipient.person_id != request.complainant_person_id
            assert session.get(Person, recipient.person_id).active  # type: ignore[union-attr]
        index_of = {p.id: i for i, p in enumerate(people)}
        got = {index_of[r.person_id] for r in recipients} or None
        assert got == _expected(scenario)


# Grants: routing is checked again where access is granted ---------------------------------------


def _report(
    people: dict[str, Person], session: Session, route_: Route, **changes: object
) -> Report:
    return build_report(
        category="bullying",
        grounds=(),
        when="maart 2026",
        ongoing=True,
        unit_id=unit(session, "BZK-APS").id,
        place="afdelingsoverleg",
        description="Ik word al maanden buitengesloten.",
        desired_outcome="Dat het ophoudt.",
        route=route_,
        identity=Identity("Rahul Ramsaran", "r.ramsaran@bzk.example"),
        manager_person_id=people["m.elidrissi"].id,
        **changes,
    )


@pytest.mark.parametrize(
    ("route_", "handlers"),
    [
        (Route.MANAGER, ["m.elidrissi", "a.demir"]),
        (Route.CONFIDANT, ["i.hoekstra"]),
        (Route.COMMITTEE, ["n.haddou"]),
        (Route.INTEGRITY, []),
    ],
)
def test_submit_report_never_grants_access_to_an_accused_person(
    session: Session,
    clock: Clock,
    demo: dict[str, Person],
    route_: Route,
    handlers: list[str],
) -> None:
    by_id = tuple(AccusedPerson(demo[h].name, "collega", demo[h].id) for h in handlers)
    by_name = (AccusedPerson("dijkstra, KEES", "collega"),)  # the integrity coordinator
    report = _report(demo, session, route_, accused=by_id + by_name)
    try:
        submission = submit_report(
            session,
            keystore(),
            indexer(),
            taxonomy(),
            workflow(),
            report,
            expected_recipients=None,
            now=clock(),
        )
    except NoEligibleHandler:
        assert route_ is Route.INTEGRITY  # its only coordinator is accused
        assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0
        return
    grants = session.scalars(
        sa.select(CaseAccessGrant.person_id).where(CaseAccessGrant.case_id == submission.case.id)
    ).all()
    accused_ids = {demo[h].id for h in handlers} | {demo["k.dijkstra"].id}
    assert grants
    assert not set(grants) & accused_ids


def test_submit_report_refuses_a_grant_that_routing_got_wrong(
    session: Session, clock: Clock, demo: dict[str, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    lotte = demo["l.bakker"]

    def broken_routing(*_args: object) -> list[Recipient]:
        return [Recipient(lotte.id, lotte.name, GrantRole.CONFIDANT, Basis.ORGANISATION)]

    monkeypatch.setattr(intake, "resolve_recipients", broken_routing)
    for accused_party in (
        AccusedPerson("Lotte Bakker", "collega", lotte.id),
        AccusedPerson("bakker, lotte", "collega"),
    ):
        report = _report(demo, session, Route.CONFIDANT, accused=(accused_party,))
        savepoint = session.begin_nested()
        with pytest.raises(ValueError, match="accused"):
            submit_report(
                session,
                keystore(),
                indexer(),
                taxonomy(),
                workflow(),
                report,
                expected_recipients=None,
                now=clock(),
            )
        savepoint.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(CaseAccessGrant)) == 0


@pytest.mark.parametrize("by", ["id", "name", "name typed differently"])
def test_create_case_refuses_to_grant_an_accused_person(
    session: Session, clock: Clock, demo: dict[str, Person], by: str
) -> None:
    lotte = demo["l.bakker"]
    party: NewParty = {
        "id": accused(lotte),
        "name": accused(name="Lotte Bakker"),
        "name typed differently": accused(name="BAKKER, Lotte"),
    }[by]
    draft = NewCase(
        route=Route.CONFIDANT,
        category="bullying",
        disclosure=Disclosure.ANONYMOUS,
        description="Buitengesloten.",
        parties=(party,),
    )
    with pytest.raises(ValueError, match="accused"):
        create_case(
            session,
            keystore(),
            indexer(),
            draft,
            grants=[
                NewGrant(demo["i.hoekstra"].id, GrantRole.CONFIDANT),
                NewGrant(lotte.id, GrantRole.CONFIDANT),
            ],
            now=clock(),
        )
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(CaseAccessGrant)) == 0
