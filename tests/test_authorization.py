"""The authorization matrix: every route of the application against every kind of user.

One world is built per module, on a database of its own: the demo organisation, seven real
reports filed through ``submit_report`` (one per route, and for the confidant, manager and
committee routes a second one that accuses the handler who would otherwise have received it),
committee members assigned (and one excluded again) and letters written. Then every principal —
each a real account logged in through the real forms, or nobody at all — asks for every page
and posts every form of every case, and the answer is compared with ``EXPECTATIONS``:

- a case page answers only the holders of the right grant on a case of the right route (the
  committee's pages only a committee grant on a committee case, the referral pages only the
  confidant's grant on a confidant case); everyone else logged in gets the same 404 as for a
  case that does not exist, and an anonymous visitor is sent to log in. To show that the
  capacity is checked, not just "some grant", two grants in another capacity are inserted
  directly (a manager's on a confidant case, an integrity coordinator's on a committee case),
  and so are grants for the accused: a grant that slipped through must open nothing;
- a holder's post with nothing but the CSRF token reaches the form's own checks (and changes
  nothing); a role page (handover, filing on someone's behalf) is a 403 for the wrong role;
- an id from another case (an attachment, a letter, a committee grant) is a 404 or a refusal,
  even for someone who holds both cases;
- a refused post changes nothing (cases and their versions, events, messages, notes,
  documents, grants, consents, attachments, deadlines, and every audited change);
- no answer carries the content of a case to anyone who may not read it: each case's
  description and attachment hold a marker that must never appear elsewhere.

Every endpoint of ``app.url_map`` must have an entry in ``EXPECTATIONS``: a new page without
one makes ``test_every_endpoint_has_an_expectation`` fail.
"""

from __future__ import annotations

import secrets
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from complaints import create_app
from complaints.accounts.models import Role
from complaints.accounts.services import roles_of
from complaints.audit.models import AuditEvent, AuditOutcome
from complaints.audit.services import Actor
from complaints.cases.models import (
    Attachment,
    Case,
    CaseAccessGrant,
    CaseDocument,
    CaseEvent,
    CaseNote,
    Consent,
    Deadline,
    Disclosure,
    GrantRole,
    Message,
    Route,
)
from complaints.cases.services import NewAttachment
from complaints.clock import set_clock
from complaints.committee.services import (
    Exclusion,
    LetterKind,
    assign_member,
    exclude_member,
    generate_letter,
    open_committee_case,
)
from complaints.crypto.services import indexer, keystore
from complaints.directory.models import Person
from complaints.intake.services import AccusedPerson
from complaints.workflow.config import workflow
from tests.conftest import START, Clock, DatabaseFactory, app_session, make_settings
from tests.factories import csrf_token, file_report, import_demo_directory, log_in, make_account

# What each endpoint is for ------------------------------------------------------------------


@dataclass(frozen=True)
class Public:
    """No log-in needed: the public pages, the report form, the mailbox, logging in."""


@dataclass(frozen=True)
class SignedIn:
    """Any logged-in account (their own account pages); anonymous visitors are sent to log in."""


@dataclass(frozen=True)
class Inbox:
    """The list of cases: for holders of a handler role or of a grant (else 403), listing
    exactly the cases they may open (none where they are named as accused)."""


@dataclass(frozen=True)
class CaseSearch:
    """The search of one's own cases: for the same people as the inbox (else 403); a posted
    search without criteria lists exactly the cases they may open, as the inbox does."""


@dataclass(frozen=True)
class RolePage:
    """For holders of ``role`` only, else 403."""

    role: Role


@dataclass(frozen=True)
class CasePage:
    """A page or form of one case: only for an active grant in one of ``grants`` (and not
    named as accused), on a case of ``route`` if given; anyone else logged in gets a 404."""

    grants: frozenset[GrantRole]
    route: Route | None = None


@dataclass(frozen=True)
class OwnReport:
    """A logged-in employee opens a report they filed under their own name; anything else 404."""


@dataclass(frozen=True)
class BearerToken:
    """The statistics API: only an API token opens it (tested in tests/stats/test_api.py); a
    session cookie does not, so every principal here gets a JSON 401."""


Expectation = Public | SignedIn | Inbox | CaseSearch | RolePage | CasePage | OwnReport | BearerToken

ANY_GRANT = CasePage(frozenset(GrantRole))
COMMITTEE = CasePage(
    frozenset({GrantRole.COMMITTEE_SECRETARY, GrantRole.COMMITTEE_MEMBER}), Route.COMMITTEE
)
CONFIDANT_ONLY = CasePage(frozenset({GrantRole.CONFIDANT}), Route.CONFIDANT)

# The mailbox downloads take a number: the file's place among its own case's files.
MAILBOX_DOWNLOADS = frozenset({"followup.download_attachment", "followup.download_letter"})

EXPECTATIONS: dict[str, Expectation] = {
    # The public site, the report form and the complainant's mailbox (opened with a code).
    "web.index": Public(),
    "help.page": Public(),
    "web.healthz": Public(),
    "web.readyz": Public(),
    "web.switch_language": Public(),
    "intake.start": Public(),
    "intake.begin": Public(),
    "intake.what": Public(),
    "intake.description": Public(),
    "intake.when_where": Public(),
    "intake.people": Public(),
    "intake.wishes": Public(),
    "intake.route": Public(),
    "intake.identity": Public(),
    "intake.review": Public(),
    "intake.submit": Public(),
    "intake.discard": Public(),
    "followup.enter_code": Public(),
    "followup.close": Public(),
    "followup.mailbox": Public(),
    "followup.send_message": Public(),
    "followup.upload_files": Public(),
    "followup.referral_code": Public(),
    "followup.withdraw": Public(),
    "followup.change_consent": Public(),
    # The check-in after closing: the session's own case (tests/checkins).
    "followup.answer": Public(),
    "followup.switch_checkins": Public(),
    # A file of the mailbox session's own case, by its number within that case (test_idor).
    "followup.download_attachment": Public(),
    "followup.download_letter": Public(),
    # Logging in and out.
    "accounts.login": Public(),
    "accounts.verify_totp": Public(),
    "accounts.enrol_totp": Public(),
    "accounts.set_password": Public(),
    "accounts.logout": Public(),
    # Everyone's own account.
    "accounts.overview": SignedIn(),
    "accounts.change_own_password": SignedIn(),
    "accounts.end_other_sessions": SignedIn(),
    "followup.reports": SignedIn(),
    "followup.open_report": OwnReport(),
    # Role pages.
    "casework.inbox_page": Inbox(),
    "casework.search_page": CaseSearch(),
    "handover.overview": RolePage(Role.ADMIN),
    "handover.handler": RolePage(Role.ADMIN),
    "referral.proxy_report": RolePage(Role.CONFIDANT),
    # The privacy officer's pages: references, rules, dates and counts, never a case.
    "privacy.plan_page": RolePage(Role.PRIVACY_OFFICER),
    "privacy.plan_csv": RolePage(Role.PRIVACY_OFFICER),
    "privacy.ledger": RolePage(Role.PRIVACY_OFFICER),
    "privacy.ledger_csv": RolePage(Role.PRIVACY_OFFICER),
    "privacy.register": RolePage(Role.PRIVACY_OFFICER),
    "privacy.register_csv": RolePage(Role.PRIVACY_OFFICER),
    "privacy.holds": RolePage(Role.PRIVACY_OFFICER),
    "privacy.lift": RolePage(Role.PRIVACY_OFFICER),
    # The auditor's statistics: protected counts, never a case.
    "stats.dashboard": RolePage(Role.AUDITOR),
    "stats.table_csv": RolePage(Role.AUDITOR),
    "stats_reports.reports": RolePage(Role.AUDITOR),
    "stats_reports.confidants": RolePage(Role.AUDITOR),
    "stats_reports.confidants_pdf": RolePage(Role.AUDITOR),
    "stats_reports.committee": RolePage(Role.AUDITOR),
    "stats_reports.committee_pdf": RolePage(Role.AUDITOR),
    "stats_reports.api_tokens": RolePage(Role.AUDITOR),
    "stats_reports.revoke_api_token": RolePage(Role.AUDITOR),
    # The statistics API and its description.
    "stats_api.table": BearerToken(),
    "stats_api.years": BearerToken(),
    "stats_api.openapi": Public(),
    # Case pages.
    "casework.case_page": ANY_GRANT,
    "casework.print_case": ANY_GRANT,
    "casework.attachment": ANY_GRANT,
    "casework.reply": ANY_GRANT,
    "casework.note": ANY_GRANT,
    "casework.checkin": ANY_GRANT,
    "casework.take_step": ANY_GRANT,
    "casework.extend_retention": ANY_GRANT,
    "committee.page": COMMITTEE,
    "committee.download_letter": COMMITTEE,
    "committee.assign": COMMITTEE,
    "committee.exclude": COMMITTEE,
    "committee.recuse": COMMITTEE,
    "committee.hearing": COMMITTEE,
    "committee.witness": COMMITTEE,
    "committee.advice": COMMITTEE,
    "committee.decision": COMMITTEE,
    "committee.letter": COMMITTEE,
    "referral.refer": CONFIDANT_ONLY,
    "referral.refer_submit": CONFIDANT_ONLY,
    "referral.record_consent_submit": CONFIDANT_ONLY,
}

# Pages that show a case's description or attachment to its holders: there the marker must be
# found, which shows that the search for it elsewhere can find a leak.
SHOW_MARKER = ("casework.case_page", "casework.print_case", "casework.attachment")

# Prefixes of the forms that share a page; a post carries the CSRF token under each of them,
# so that a holder's empty post reaches the form's own validation rather than a CSRF refusal.
FORM_PREFIXES = (
    "assign",
    "exclude",
    "recuse",
    "hearing",
    "witness",
    "advice",
    "decision",
    "acknowledgement",
    "not_admissible",
    "extension",
    "decision_letter",
    "retention",
    "zoek",  # the search of one's own cases
)

# The principals ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    key: str
    email: str | None  # None: nobody logged in
    roles: frozenset[Role] = frozenset()


def _p(key: str, email: str | None, *roles: Role) -> Principal:
    return Principal(key, email, frozenset(roles))


PRINCIPALS = (
    _p("anonymous", None),
    _p("complainant", "s.devries@bzk.example"),  # filed every case, holds no role
    _p("employee", "d.smit@bzk.example"),  # no role, nothing to do with any case
    _p("admin", "t.groen@bzk.example", Role.ADMIN),
    _p("auditor", "b.koster@fin.example", Role.AUDITOR),
    _p("privacy_officer", "h.wolters@bzk.example", Role.PRIVACY_OFFICER),
    # Confidants: Ingrid handles CONF and is accused in CONF_ACC, which went to Guus.
    _p("confidant", "i.hoekstra@bzk.example", Role.CONFIDANT),
    _p("other_confidant", "g.verbeek@bzk.example", Role.CONFIDANT),
    # Managers: Aylin handles MGR and is accused in MGR_ACC, which went up to Henk; Henk also
    # holds a manager grant on the confidant case CONF (inserted: see CaseDesign.inserted).
    _p("manager", "a.demir@bzk.example"),
    _p("higher_manager", "h.jansen@bzk.example"),
    # Integrity coordinators: Kees (BZK) handles INT, and holds an integrity grant on the
    # committee case COM (inserted); Petra (JenV) has the role, but no case.
    _p("integrity", "k.dijkstra@bzk.example", Role.INTEGRITY_COORDINATOR),
    _p("other_integrity", "p.vos@jenv.example", Role.INTEGRITY_COORDINATOR),
    # The committee: Wim holds both committee cases; Noor is accused in COM_ACC; Kok is a
    # member on COM, Lammers on COM_ACC only, and Amrani was excluded from COM again.
    _p("secretary", "w.deboer@bzk.example", Role.COMMITTEE_SECRETARY),
    _p("other_secretary", "n.haddou@bzk.example", Role.COMMITTEE_SECRETARY),
    _p("member", "a.kok@bzk.example", Role.COMMITTEE_MEMBER),
    _p("other_member", "e.lammers@bzk.example", Role.COMMITTEE_MEMBER),
    _p("excluded_member", "y.amrani@bzk.example", Role.COMMITTEE_MEMBER),
    # Named as accused in every case but CONF_ACC, MGR_ACC and COM_ACC, and given grants on
    # four of them behind the services' back: a grant that slipped through must open nothing.
    _p("accused_with_grant", "l.bakker@bzk.example"),
)
BY_KEY = {p.key: p for p in PRINCIPALS}
HANDLER_ROLES = frozenset(
    {Role.CONFIDANT, Role.INTEGRITY_COORDINATOR, Role.COMMITTEE_SECRETARY, Role.COMMITTEE_MEMBER}
)

# The cases ---------------------------------------------------------------------------------

SANNE = "s.devries@bzk.example"
LOTTE = "l.bakker@bzk.example"


@dataclass(frozen=True)
class CaseDesign:
    key: str
    route: Route
    accused: str  # e-mail address of the person named as accused
    holders: dict[str, GrantRole]  # principal → the grant routing (or the secretary) gives
    forged: GrantRole | None = None  # a grant for the accused, inserted directly
    manager: str | None = None  # manager route: the manager the complainant chose
    # Grants in another capacity than the route's, inserted directly: no flow hands them out
    # today, but the committee's and the referral's pages must check the capacity, not just
    # that there is a grant.
    inserted: tuple[tuple[str, GrantRole], ...] = ()

    @property
    def all_holders(self) -> dict[str, GrantRole]:
        return {**self.holders, **dict(self.inserted)}


CASES = (
    CaseDesign(
        "CONF",
        Route.CONFIDANT,
        accused=LOTTE,
        holders={"confidant": GrantRole.CONFIDANT},
        forged=GrantRole.CONFIDANT,
        inserted=(("higher_manager", GrantRole.MANAGER),),
    ),
    CaseDesign(
        "CONF_ACC",
        Route.CONFIDANT,
        accused="i.hoekstra@bzk.example",
        holders={"other_confidant": GrantRole.CONFIDANT},
    ),
    CaseDesign(
        "MGR",
        Route.MANAGER,
        accused=LOTTE,
        holders={"manager": GrantRole.MANAGER},
        forged=GrantRole.MANAGER,
        manager="a.demir@bzk.example",
    ),
    CaseDesign(
        "MGR_ACC",
        Route.MANAGER,
        accused="a.demir@bzk.example",
        holders={"higher_manager": GrantRole.MANAGER},
        manager="a.demir@bzk.example",
    ),
    CaseDesign(
        "INT",
        Route.INTEGRITY,
        accused=LOTTE,
        holders={"integrity": GrantRole.INTEGRITY_COORDINATOR},
        forged=GrantRole.INTEGRITY_COORDINATOR,
    ),
    CaseDesign(
        "COM",
        Route.COMMITTEE,
        accused=LOTTE,
        holders={
            "secretary": GrantRole.COMMITTEE_SECRETARY,
            "other_secretary": GrantRole.COMMITTEE_SECRETARY,
            "member": GrantRole.COMMITTEE_MEMBER,
        },
        forged=GrantRole.COMMITTEE_SECRETARY,
        inserted=(("integrity", GrantRole.INTEGRITY_COORDINATOR),),
    ),
    CaseDesign(
        "COM_ACC",
        Route.COMMITTEE,
        accused="n.haddou@bzk.example",
        holders={
            "secretary": GrantRole.COMMITTEE_SECRETARY,
            "other_member": GrantRole.COMMITTEE_MEMBER,
        },
    ),
)


@dataclass
class FiledCase:
    design: CaseDesign
    case_id: uuid.UUID
    reference: str
    marker: str  # in the description and in the attachment: never shown to outsiders
    attachment_id: uuid.UUID
    step: str  # a transition the case's holders could take now
    letter_id: uuid.UUID | None = None
    member_grant_id: int | None = None

    @property
    def key(self) -> str:
        return self.design.key


@dataclass
class World:
    app: Flask
    cases: list[FiledCase]
    clients: dict[str, FlaskClient]
    person_ids: dict[str, int]  # by principal key
    rules: list[Rule] = field(default_factory=list)

    def case(self, key: str) -> FiledCase:
        return next(c for c in self.cases if c.key == key)


# Building the world -------------------------------------------------------------------------


def _file(session: Session, people: dict[str, Person], design: CaseDesign, marker: str) -> Case:
    committee = design.route is Route.COMMITTEE
    sanne = people[SANNE]
    accused = people[design.accused]
    return file_report(
        session,
        START,
        filer=sanne,
        route=design.route,
        category="bullying" if committee else "discrimination",
        grounds=() if committee else ("race",),
        when="sinds januari 2026",
        ongoing=True,
        place="werkoverleg",
        description=f"Wat er gebeurde ({marker}): ik werd steeds buitengesloten.",
        accused=(AccusedPerson(accused.name, "collega", accused.id),),
        desired_outcome="Dat het ophoudt.",
        disclosure=Disclosure.NAMED if committee else Disclosure.CONFIDENTIAL,
        manager_person_id=people[design.manager].id if design.manager else None,
        attachments=(NewAttachment("bewijs.txt", "text/plain", f"Bewijs {marker}".encode()),),
        filer_person_id=sanne.id,
    ).case


def _committee_set_up(
    session: Session, people: dict[str, Person], filed: FiledCase, members: list[str]
) -> None:
    """The secretary assigns ``members`` (a second one, if any, is excluded again) and writes
    an acknowledgement letter."""
    committee = open_committee_case(
        session,
        keystore(),
        indexer(),
        case_id=filed.case_id,
        person_id=people["w.deboer@bzk.example"].id,
        actor=Actor.operator(),
        now=START,
    )
    flow = workflow()
    grants = [
        assign_member(
            session, keystore(), indexer(), flow, committee, person_id=people[m].id, now=START
        )
        for m in members
    ]
    filed.member_grant_id = grants[0].id
    for grant in grants[1:]:
        exclude_member(
            session,
            keystore(),
            flow,
            committee,
            grant_id=grant.id,
            exclusion=Exclusion.CHALLENGE,
            reason="Partijdig.",
            now=START,
        )
    letter = generate_letter(
        session,
        keystore(),
        flow,
        committee,
        kind=LetterKind.ACKNOWLEDGEMENT,
        language="nl",
        now=START,
    )
    filed.letter_id = letter.id


def _build(session: Session) -> tuple[list[FiledCase], dict[str, Person]]:
    people = import_demo_directory(session, START)
    person_ids = {p.key: people[p.email].id for p in PRINCIPALS if p.email}
    flow = workflow()
    cases = []
    for design in CASES:
        marker = f"MARKER-{design.key}-{secrets.token_hex(6)}"
        case = _file(session, people, design, marker)
        step = next(t.name for t in flow[case.route].transitions if case.state in t.from_states)
        attachment = session.scalar(sa.select(Attachment.id).where(Attachment.case_id == case.id))
        assert attachment is not None
        cases.append(FiledCase(design, case.id, case.reference, marker, attachment, step))
    by_key = {c.key: c for c in cases}
    _committee_set_up(session, people, by_key["COM"], ["a.kok@bzk.example", "y.amrani@bzk.example"])
    _committee_set_up(session, people, by_key["COM_ACC"], ["e.lammers@bzk.example"])
    for filed in cases:
        inserted = list(filed.design.inserted)
        if filed.design.forged is not None:
            inserted.append(("accused_with_grant", filed.design.forged))
        for key, role in inserted:
            session.add(
                CaseAccessGrant(
                    case_id=filed.case_id, person_id=person_ids[key], role=role, granted_at=START
                )
            )
    session.flush()
    # The world is what it was designed to be: routing gave exactly these grants (no accused
    # handler got one), and the principals hold exactly the roles they are meant to.
    names = {v: k for k, v in person_ids.items()}
    for filed in cases:
        held = {
            (names.get(g.person_id, str(g.person_id)), g.role)
            for g in session.scalars(
                sa.select(CaseAccessGrant).where(
                    CaseAccessGrant.case_id == filed.case_id, CaseAccessGrant.revoked_at.is_(None)
                )
            )
        }
        designed = set(filed.design.all_holders.items())
        if filed.design.forged is not None:
            designed.add(("accused_with_grant", filed.design.forged))
        assert held == designed, filed.key
    for principal in PRINCIPALS:
        if principal.email:
            held_roles = {a.role for a in roles_of(session, people[principal.email].id)}
            assert held_roles == principal.roles, principal.key
    return cases, people


@pytest.fixture(scope="module")
def world(
    databases: DatabaseFactory, keystore_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One world for the whole module, on a database of its own (the requests commit)."""
    tmp = tmp_path_factory.mktemp("authorization")
    keys = tmp / "keys"
    shutil.copytree(keystore_template, keys)
    # Eighteen people log in from the same test address within a second.
    settings = make_settings(tmp, databases.fresh_url(), keys, login_rate_limit="100 per minute")
    app = create_app(settings)
    set_clock(app, Clock(START))
    with app_session(app) as session:
        cases, people = _build(session)
        logins = {
            p.key: make_account(session, people[p.email], START) for p in PRINCIPALS if p.email
        }
        person_ids = {p.key: people[p.email].id for p in PRINCIPALS if p.email}
    clients = {}
    for principal in PRINCIPALS:
        client = app.test_client()
        if principal.email:
            log_in(client, logins[principal.key], START)
        clients[principal.key] = client
    rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
    yield World(app, cases, clients, person_ids, rules)
    app.extensions["complaints.db"].engine.dispose()


# Asking and judging -----------------------------------------------------------------------

LOG_IN = "log in"
PASSED = "passed"  # a post got past the gate: the form's own answer (200, 303, 400, 409)


def outcome(response: TestResponse, method: str) -> str:
    if response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/aanmelden":
        return LOG_IN
    if method == "POST" and response.status_code in (200, 303, 400, 409):
        return PASSED
    return str(response.status_code)


def url_for_rule(world: World, rule: Rule, values: dict[str, object]) -> str:
    adapter = world.app.url_map.bind("localhost")
    url: str = adapter.build(rule.endpoint, values, method=sorted(rule.methods or {"GET"})[0])
    return url


def case_values(world: World, rule: Rule, filed: FiledCase) -> dict[str, object]:
    """The rule's arguments filled with the ids of ``filed`` (a made-up id where it has none)."""
    fillers: dict[str, object] = {
        "case_id": filed.case_id,
        "attachment_id": filed.attachment_id,
        "letter_id": filed.letter_id or uuid.uuid4(),
        "name": filed.step,
        "kind": LetterKind.ACKNOWLEDGEMENT.value,
    }
    missing = set(rule.arguments) - set(fillers)
    assert not missing, f"{rule.endpoint}: no value to fill in for {sorted(missing)}"
    return {name: fillers[name] for name in rule.arguments}


def token(client: FlaskClient, signed_in: bool) -> str:
    """A valid CSRF token, from a page this client can load."""
    page = client.get("/account" if signed_in else "/aanmelden")
    assert page.status_code == 200, page.status_code
    return csrf_token(page)


def form_data(csrf: str, step: str, **fields: str) -> dict[str, str]:
    prefixed = {f"{prefix}-csrf_token": csrf for prefix in (*FORM_PREFIXES, step)}
    return {"csrf_token": csrf, **prefixed, **fields}


def snapshot(world: World) -> dict[str, object]:
    """Everything a post on a case could change, apart from reading it, in one query."""
    reads = (
        "case.open",
        "case.export",
        "case.search",
        "case.attachment_downloaded",
        "committee.letter_downloaded",
    )

    def count(model: type, *where: sa.ColumnElement[bool]) -> sa.ScalarSelect[int]:
        return sa.select(sa.func.count()).select_from(model).where(*where).scalar_subquery()

    columns = {
        "cases": count(Case),
        "case versions": sa.select(sa.func.sum(Case.version)).scalar_subquery(),
        "events": count(CaseEvent),
        "messages": count(Message),
        "notes": count(CaseNote),
        "documents": count(CaseDocument),
        "consents": count(Consent),
        "attachments": count(Attachment),
        "active grants": count(CaseAccessGrant, CaseAccessGrant.revoked_at.is_(None)),
        "deadlines": count(Deadline),
        "deadlines met": count(Deadline, Deadline.met_at.is_not(None)),
        "deadlines paused": count(Deadline, Deadline.paused_at.is_not(None)),
        "audited changes": count(
            AuditEvent,
            AuditEvent.object_type == "case",
            AuditEvent.outcome == AuditOutcome.SUCCESS,
            AuditEvent.action.not_in(reads),
        ),
    }
    with app_session(world.app) as session:
        row = session.execute(
            sa.select(*(c.label(f"c{i}") for i, c in enumerate(columns.values())))
        )
        return dict(zip(columns, row.one(), strict=True))


@dataclass
class Findings:
    principal: Principal
    world: World
    problems: list[str] = field(default_factory=list)
    before: dict[str, object] | None = None

    def expect(self, method: str, rule: Rule, url: str, note: str, expected: str, got: str) -> None:
        if got != expected:
            self.problems.append(
                f"{self.principal.key} × {rule.endpoint} ({method} {url}{note}): "
                f"expected {expected}, got {got}"
            )

    def no_content(self, rule: Rule, url: str, response: TestResponse, allowed: set[str]) -> None:
        """No marker of a case outside ``allowed`` in the answer; for refusals no reference
        either, so that a case id does not even reveal its case's reference."""
        body = response.get_data().decode("utf-8", errors="replace")  # a PDF is not UTF-8
        for filed in self.world.cases:
            if filed.key in allowed:
                continue
            if filed.marker in body:
                self.problems.append(
                    f"{self.principal.key} × {rule.endpoint} ({url}): content of {filed.key} "
                    "in the answer"
                )
            if response.status_code >= 400 and filed.reference in body:
                self.problems.append(
                    f"{self.principal.key} × {rule.endpoint} ({url}): reference of {filed.key} "
                    "in a refusal"
                )

    def unchanged(self, rule: Rule, url: str) -> None:
        """Nothing changed since the last look (the first look is taken before any post)."""
        after = snapshot(self.world)
        if self.before is not None:
            changed = sorted(k for k in after if self.before[k] != after[k])
            if changed:
                self.problems.append(
                    f"{self.principal.key} × {rule.endpoint} ({url}): the post changed "
                    f"{', '.join(changed)}"
                )
        self.before = after

    def look(self) -> None:
        self.before = snapshot(self.world)

    def check(self) -> None:
        assert not self.problems, f"{len(self.problems)} cells wrong:\n" + "\n".join(self.problems)


def post_cases(principal: Principal) -> set[str]:
    """The cases whose forms ``principal`` posts: every case they hold a grant on or are named
    in as accused, and one confidant and one committee case besides. (On any other case their
    post meets the same check as on those two, with no grant to find; every such case is
    still asked for by every page.)"""
    related = {
        c.key
        for c in CASES
        if principal.key in c.all_holders
        or c.accused == principal.email
        or (c.forged is not None and principal.key == "accused_with_grant")
    }
    return related | {"CONF", "COM"}


def holds(principal: Principal, filed: FiledCase, page: CasePage) -> bool:
    """Whether the matrix says ``principal`` may use ``page`` on ``filed``."""
    role = filed.design.all_holders.get(principal.key)
    if role is None or role not in page.grants:
        return False
    return page.route is None or filed.design.route is page.route


# The tests -----------------------------------------------------------------------------------


def test_every_endpoint_has_an_expectation(world: World) -> None:
    endpoints = {rule.endpoint for rule in world.rules}
    assert sorted(endpoints - set(EXPECTATIONS)) == [], "endpoints without an expectation"
    assert sorted(set(EXPECTATIONS) - endpoints) == [], "expectations of endpoints that are gone"
    # Every case page can be filled in with the ids of a real case.
    for rule in world.rules:
        if isinstance(EXPECTATIONS[rule.endpoint], CasePage):
            assert "case_id" in rule.arguments, rule.endpoint
            case_values(world, rule, world.cases[0])
        elif isinstance(EXPECTATIONS[rule.endpoint], RolePage):
            assert set(rule.arguments) <= {"person_id", "year"}, rule.endpoint
        elif rule.endpoint in MAILBOX_DOWNLOADS:
            assert set(rule.arguments) == {"number"}, rule.endpoint
        else:
            assert not rule.arguments, rule.endpoint


@pytest.mark.parametrize("key", [p.key for p in PRINCIPALS])
def test_case_pages(world: World, key: str) -> None:
    """Every page and form of every case, for one principal."""
    principal = BY_KEY[key]
    client = world.clients[key]
    signed_in = principal.email is not None
    findings = Findings(principal, world)
    csrf = token(client, signed_in)
    posted_on = post_cases(principal)
    findings.look()
    for rule in world.rules:
        page = EXPECTATIONS[rule.endpoint]
        if not isinstance(page, CasePage):
            continue
        for filed in world.cases:
            url = url_for_rule(world, rule, case_values(world, rule, filed))
            allowed = holds(principal, filed, page)
            note = f", {filed.key}"
            if "GET" in (rule.methods or ()):
                expected = LOG_IN if not signed_in else "200" if allowed else "404"
                response = client.get(url)
                findings.expect("GET", rule, url, note, expected, outcome(response, "GET"))
                findings.no_content(rule, url, response, {filed.key} if allowed else set())
                # The control: where the content is shown, the marker is seen.
                shown = filed.marker in response.get_data(as_text=True)
                if allowed and rule.endpoint in SHOW_MARKER and not shown:
                    findings.problems.append(f"{key} × {rule.endpoint}: no marker in {url}")
            if "POST" in (rule.methods or ()) and filed.key in posted_on:
                # Only the form's CSRF token: a holder gets the form's own answer (its errors),
                # everyone else the same 404 as for a case that does not exist.
                response = client.post(url, data=form_data(csrf, filed.step))
                expected = LOG_IN if not signed_in else PASSED if allowed else "404"
                findings.expect("POST", rule, url, note, expected, outcome(response, "POST"))
                findings.no_content(rule, url, response, {filed.key} if allowed else set())
                findings.unchanged(rule, url)
    findings.check()


@pytest.mark.parametrize("key", [p.key for p in PRINCIPALS if p.email])
def test_ids_from_another_case(world: World, key: str) -> None:
    """An attachment or letter of one case, asked for under another case — even one the
    principal holds too — is a 404; so is a committee member's grant from another case."""
    principal = BY_KEY[key]
    client = world.clients[key]
    findings = Findings(principal, world)
    by_endpoint = {rule.endpoint: rule for rule in world.rules}
    pairs: list[tuple[str, str, Callable[[FiledCase], uuid.UUID | None]]] = [
        ("casework.attachment", "attachment_id", lambda c: c.attachment_id),
        ("committee.download_letter", "letter_id", lambda c: c.letter_id),
    ]
    for endpoint, argument, id_of in pairs:
        rule = by_endpoint[endpoint]
        page = EXPECTATIONS[endpoint]
        assert isinstance(page, CasePage)
        # Under a case the principal may not open, any id is a 404 already (test_case_pages).
        for filed in (c for c in world.cases if holds(principal, c, page)):
            for other in world.cases:
                foreign = id_of(other)
                if other is filed or foreign is None:
                    continue
                values = {**case_values(world, rule, filed), argument: foreign}
                url = url_for_rule(world, rule, values)
                response = client.get(url)
                note = f", {filed.key} with the {argument} of {other.key}"
                findings.expect("GET", rule, url, note, "404", outcome(response, "GET"))
                findings.no_content(rule, url, response, set())
    # A secretary of COM tries to exclude the member of COM_ACC through COM's form.
    rule = by_endpoint["committee.exclude"]
    com, com_acc = world.case("COM"), world.case("COM_ACC")
    assert com_acc.member_grant_id is not None
    url = url_for_rule(world, rule, {"case_id": com.case_id})
    findings.look()
    response = client.post(
        url,
        data=form_data(
            token(client, True),
            com.step,
            **{
                "exclude-grant_id": str(com_acc.member_grant_id),
                "exclude-exclusion": Exclusion.CHALLENGE.value,
                "exclude-reason": "Een poging.",
            },
        ),
    )
    allowed = holds(principal, com, COMMITTEE)
    got = outcome(response, "POST")
    if allowed:
        # Past the gate, the grant of another case is not one of this case's members.
        findings.expect("POST", rule, url, ", COM with a grant of COM_ACC", PASSED, got)
        if response.status_code not in (400, 409):
            findings.problems.append(f"{key}: excluding a member of another case was accepted")
    else:
        findings.expect("POST", rule, url, ", COM with a grant of COM_ACC", "404", got)
    findings.unchanged(rule, url)
    findings.check()


@pytest.mark.parametrize("key", [p.key for p in PRINCIPALS])
def test_other_pages(world: World, key: str) -> None:
    """The inbox, the role pages, the account pages, the public pages and a logged-in
    employee's own reports, for one principal."""
    principal = BY_KEY[key]
    client = world.clients[key]
    signed_in = principal.email is not None
    findings = Findings(principal, world)
    own_cases = {c.key for c in world.cases if key in c.design.all_holders}
    with app_session(world.app) as session:
        has_grant = principal.email is not None and bool(
            session.scalar(
                sa.select(sa.func.count())
                .select_from(CaseAccessGrant)
                .where(
                    CaseAccessGrant.person_id == world.person_ids[key],
                    CaseAccessGrant.revoked_at.is_(None),
                )
            )
        )
    for rule in world.rules:
        page = EXPECTATIONS[rule.endpoint]
        if isinstance(page, CasePage):
            continue
        methods = rule.methods or set()
        values: dict[str, object] = {}
        if "person_id" in rule.arguments:  # the handover plan of the BZK confidant
            values["person_id"] = world.person_ids["confidant"]
        if "year" in rule.arguments:  # the annual reports: the cases were filed this year
            values["year"] = START.year
        if "number" in rule.arguments:  # a mailbox download: the first file of the session's case
            values["number"] = 1
        url = url_for_rule(world, rule, values)
        # The complainant reads their own reports in the mailbox and under their account.
        may_read = {c.key for c in world.cases} if key == "complainant" else set()
        if isinstance(page, Public):
            if "GET" in methods:
                response = client.get(url)
                if response.status_code in (401, 403, 404, 405) or response.status_code >= 500:
                    findings.expect("GET", rule, url, "", "no refusal", str(response.status_code))
                findings.no_content(rule, url, response, may_read)
            continue  # public forms are tested in their own packages
        if isinstance(page, BearerToken):
            response = client.get(url)
            got = f"{response.status_code} {response.content_type}"
            findings.expect("GET", rule, url, "", "401 application/json", got)
            findings.no_content(rule, url, response, set())
            continue
        if isinstance(page, SignedIn):
            if "GET" in methods:
                response = client.get(url)
                expected = "200" if signed_in else LOG_IN
                findings.expect("GET", rule, url, "", expected, outcome(response, "GET"))
                findings.no_content(rule, url, response, may_read)
            elif not signed_in:  # posts that would end the principal's own sessions
                response = client.post(url, data=form_data(token(client, False), ""))
                findings.expect("POST", rule, url, "", LOG_IN, outcome(response, "POST"))
            continue
        if isinstance(page, Inbox):
            allowed = bool(principal.roles & HANDLER_ROLES) or has_grant
            response = client.get(url)
            expected = LOG_IN if not signed_in else "200" if allowed else "403"
            findings.expect("GET", rule, url, "", expected, outcome(response, "GET"))
            findings.no_content(rule, url, response, set())
            body = response.get_data(as_text=True)
            listed = {c.key for c in world.cases if c.reference in body}
            if response.status_code == 200 and listed != own_cases:
                findings.problems.append(
                    f"{key} × {rule.endpoint}: lists {sorted(listed)}, expected {sorted(own_cases)}"
                )
            continue
        if isinstance(page, CaseSearch):
            allowed = bool(principal.roles & HANDLER_ROLES) or has_grant
            response = client.get(url)
            expected = LOG_IN if not signed_in else "200" if allowed else "403"
            findings.expect("GET", rule, url, "", expected, outcome(response, "GET"))
            findings.no_content(rule, url, response, set())
            # A search without criteria: every own case, open or closed, and nothing else.
            response = client.post(url, data=form_data(token(client, signed_in), ""))
            got = outcome(response, "POST")
            got = "200" if got == PASSED and response.status_code == 200 else got
            findings.expect("POST", rule, url, "", expected, got)
            findings.no_content(rule, url, response, set())
            body = response.get_data(as_text=True)
            listed = {c.key for c in world.cases if c.reference in body}
            if response.status_code == 200 and listed != own_cases:
                findings.problems.append(
                    f"{key} × {rule.endpoint}: finds {sorted(listed)}, expected {sorted(own_cases)}"
                )
            continue
        if isinstance(page, RolePage):
            allowed = page.role in principal.roles
            if "GET" in methods:
                response = client.get(url)
                expected = LOG_IN if not signed_in else "200" if allowed else "403"
                findings.expect("GET", rule, url, "", expected, outcome(response, "GET"))
                # An administrator sees references, never content.
                findings.no_content(rule, url, response, set())
            if "POST" in methods and not allowed:
                findings.look()
                response = client.post(url, data=form_data(token(client, signed_in), ""))
                expected = LOG_IN if not signed_in else "403"
                findings.expect("POST", rule, url, "", expected, outcome(response, "POST"))
                findings.unchanged(rule, url)
            continue
        assert isinstance(page, OwnReport)
        for filed in world.cases:
            # Opening a mailbox renews the session cookie, and with it the CSRF token.
            csrf = token(client, signed_in)
            response = client.post(url, data={"csrf_token": csrf, "case_id": str(filed.case_id)})
            got = outcome(response, "POST")
            if not signed_in:
                expected = LOG_IN
            elif key == "complainant":
                expected = "to the mailbox"
                if response.status_code == 303:
                    got = f"to {urlsplit(response.headers['Location']).path}"
                    got = "to the mailbox" if got == "to /opvolgen/melding" else got
            else:
                expected = "404"
            findings.expect("POST", rule, url, f", {filed.key}", expected, got)
            findings.no_content(rule, url, response, may_read)
            if key != "complainant":
                # Nobody else got a mailbox session out of it.
                mailbox = client.get("/opvolgen/melding")
                findings.no_content(rule, "/opvolgen/melding", mailbox, set())
    findings.check()


def test_a_committee_member_cannot_act_as_the_secretary(world: World) -> None:
    """Past the gate, the secretary's own forms refuse a member: no letter, no assignment."""
    client = world.clients["member"]
    com = world.case("COM")
    findings = Findings(BY_KEY["member"], world)
    by_endpoint = {rule.endpoint: rule for rule in world.rules}
    csrf = token(client, True)
    posts = [
        ("committee.letter", {"kind": "acknowledgement"}, {"acknowledgement-language": "nl"}),
        ("committee.assign", {}, {"assign-person_id": str(world.person_ids["other_member"])}),
    ]
    for endpoint, extra, fields in posts:
        rule = by_endpoint[endpoint]
        url = url_for_rule(world, rule, {"case_id": com.case_id, **extra})
        findings.look()
        response = client.post(url, data=form_data(csrf, com.step, **fields))
        findings.expect("POST", rule, url, ", COM", "409", str(response.status_code))
        findings.unchanged(rule, url)
    findings.check()
