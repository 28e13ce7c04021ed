"""Referral with consent: a new, linked case with its own key, only what the consent covers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from complaints import db
from complaints.accounts.models import Role, RoleAssignment, RoleSource
from complaints.audit.models import ActorKind, AuditEvent
from complaints.audit.services import Actor
from complaints.cases.models import (
    Attachment,
    AuthorKind,
    Case,
    CaseAccessGrant,
    CaseEvent,
    CaseParty,
    Consent,
    ConsentKind,
    Deadline,
    Disclosure,
    GrantRole,
    PartyKind,
    Route,
)
from complaints.cases.receipts import receipt_index
from complaints.cases.services import CaseNotFound, NewAttachment, open_case
from complaints.cases.taxonomy import taxonomy
from complaints.crypto.models import KeySlot
from complaints.crypto.services import case_cipher, indexer, keystore
from complaints.directory.models import Person
from complaints.followup.services import add_files, set_consent
from complaints.notify.models import Notification
from complaints.referral.services import (
    REFERRAL_ROUTES,
    ConsentChannel,
    Referral,
    ReferralChoice,
    ReferralRefused,
    ReferralScope,
    issue_referral_code,
    open_as_confidant,
    record_consent,
    refer_case,
    referral_choices,
    referral_consent,
    referral_notices,
)
from complaints.stats.models import StatEvent
from complaints.workflow.config import workflow
from tests.conftest import Clock
from tests.factories import import_demo_directory, make_person, unit
from tests.referral import (
    ACCUSED,
    CONFIDANT,
    COORDINATOR,
    EMPLOYEE,
    MANAGER,
    SECRETARIES,
    STORY,
    WIDE_CONFIDANT,
    file,
)


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.app_context():
        yield db.session()


@pytest.fixture
def people(session: Session, clock: Clock) -> dict[str, Person]:
    return import_demo_directory(session, clock())


def _consent_in_mailbox(session: Session, case: Case, clock: Clock, kind: ConsentKind) -> None:
    set_consent(session, keystore(), workflow(), case, kind=kind, given=True, now=clock())


def _record(
    session: Session,
    case: Case,
    people: dict[str, Person],
    clock: Clock,
    scope: ReferralScope,
    given_on: date | None = None,
) -> Consent:
    return record_consent(
        session,
        keystore(),
        workflow(),
        case,
        scope=scope,
        channel=ConsentChannel.PHONE,
        given_on=given_on or clock().date(),
        recorder_person_id=people[CONFIDANT].id,
        actor=Actor.staff(1),
        now=clock(),
    )


def _refer(
    session: Session,
    case: Case,
    people: dict[str, Person],
    clock: Clock,
    target: Route,
    scope: ReferralScope,
    referrer: str = CONFIDANT,
) -> Referral:
    return refer_case(
        session,
        keystore(),
        indexer(),
        taxonomy(),
        workflow(),
        case_id=case.id,
        target=target,
        scope=scope,
        referrer_person_id=people[referrer].id,
        actor=Actor.staff(1),
        now=clock(),
    )


def _grantees(session: Session, case_id: uuid.UUID) -> set[int]:
    return set(
        session.scalars(
            sa.select(CaseAccessGrant.person_id).where(
                CaseAccessGrant.case_id == case_id, CaseAccessGrant.revoked_at.is_(None)
            )
        )
    )


def _case_count(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Case)) or 0


def _add_coordinator(session: Session, clock: Clock, name: str = "Nadia Yilmaz") -> Person:
    person = make_person(session, unit(session, "BZK-DGOO"), clock(), name=name)
    session.add(
        RoleAssignment(
            person_id=person.id,
            role=Role.INTEGRITY_COORDINATOR,
            scope_unit_id=unit(session, "BZK").id,
            source=RoleSource.MANUAL,
            created_at=clock(),
        )
    )
    session.flush()
    return person


# Consent ---------------------------------------------------------------------------------------


def test_without_consent_nothing_is_referred(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case = file(session, people, clock()).case
    before = _case_count(session)
    with pytest.raises(ReferralRefused) as refused:
        _refer(session, case, people, clock, Route.INTEGRITY, ReferralScope.WITHOUT_IDENTITY)
    assert refused.value.reason == "no_consent"
    assert _case_count(session) == before


def test_a_withdrawn_consent_no_longer_allows_a_referral(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case = file(session, people, clock()).case
    _consent_in_mailbox(session, case, clock, ConsentKind.REFERRAL)
    clock.advance(hours=1)
    set_consent(
        session, keystore(), workflow(), case, kind=ConsentKind.REFERRAL, given=False, now=clock()
    )
    with pytest.raises(ReferralRefused) as refused:
        _refer(session, case, people, clock, Route.INTEGRITY, ReferralScope.WITHOUT_IDENTITY)
    assert refused.value.reason == "no_consent"


def test_mailbox_consent_covers_the_identity_only_where_its_use_was_allowed(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    confidential = file(session, people, clock()).case
    _consent_in_mailbox(session, confidential, clock, ConsentKind.REFERRAL)
    consent = referral_consent(session, keystore(), confidential)
    assert consent is not None
    assert consent.scope is ReferralScope.WITHOUT_IDENTITY
    assert consent.recorded_by_person_id is None
    _consent_in_mailbox(session, confidential, clock, ConsentKind.SHARE_IDENTITY)
    consent = referral_consent(session, keystore(), confidential)
    assert consent is not None
    assert consent.scope is ReferralScope.WITH_IDENTITY

    named = file(session, people, clock(), disclosure=Disclosure.NAMED).case
    _consent_in_mailbox(session, named, clock, ConsentKind.REFERRAL)
    consent = referral_consent(session, keystore(), named)
    assert consent is not None
    assert consent.scope is ReferralScope.WITH_IDENTITY

    anonymous = file(session, people, clock(), disclosure=Disclosure.ANONYMOUS).case
    _consent_in_mailbox(session, anonymous, clock, ConsentKind.REFERRAL)
    consent = referral_consent(session, keystore(), anonymous)
    assert consent is not None
    assert consent.scope is ReferralScope.WITHOUT_IDENTITY


def test_consent_given_in_person_is_recorded_encrypted_with_who_when_and_how(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case = file(session, people, clock()).case
    _consent_in_mailbox(session, case, clock, ConsentKind.REFERRAL)
    clock.advance(days=2)
    given_on = clock().date() - timedelta(days=1)
    row = _record(session, case, people, clock, ReferralScope.WITH_IDENTITY, given_on)

    assert row.recorded_by_person_id == people[CONFIDANT].id
    assert row.details is not None
    assert b"with_identity" not in row.details
    assert b"phone" not in row.details
    details = json.loads(
        case_cipher(session, keystore(), case.id).open_text(
            "consents", "details", row.id, row.details
        )
    )
    assert details == {
        "scope": "with_identity",
        "channel": "phone",
        "given_on": given_on.isoformat(),
    }
    # It replaced the mailbox consent, which is kept in the history.
    rows = session.scalars(
        sa.select(Consent).where(Consent.case_id == case.id).order_by(Consent.id)
    ).all()
    assert [r.withdrawn_at is None for r in rows] == [False, True]
    consent = referral_consent(session, keystore(), case)
    assert consent is not None
    assert consent.consent_id == row.id
    assert consent.scope is ReferralScope.WITH_IDENTITY
    assert consent.channel is ConsentChannel.PHONE
    assert consent.given_on == given_on
    audit = session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "consent.recorded")
    ).one()
    assert audit.details["replaces"] == rows[0].id
    # The complainant sees it in the mailbox, and can withdraw it there.
    set_consent(
        session, keystore(), workflow(), case, kind=ConsentKind.REFERRAL, given=False, now=clock()
    )
    assert referral_consent(session, keystore(), case) is None


@pytest.mark.parametrize("offset", [timedelta(days=1), timedelta(days=-1)])
def test_consent_cannot_be_dated_in_the_future_or_before_the_report(
    session: Session, people: dict[str, Person], clock: Clock, offset: timedelta
) -> None:
    case = file(session, people, clock()).case
    with pytest.raises(ReferralRefused) as refused:
        _record(session, case, people, clock, ReferralScope.WITH_IDENTITY, clock().date() + offset)
    assert refused.value.reason == "consent_date"
    assert session.scalar(sa.select(Consent.id).where(Consent.case_id == case.id)) is None


# Referring -------------------------------------------------------------------------------------


def test_a_referral_without_identity_creates_an_anonymous_linked_case_with_its_own_key(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    original = file(session, people, clock()).case
    add_files(
        session,
        keystore(),
        workflow(),
        original,
        files=[NewAttachment("verslag.txt", "text/plain", b"Mijn verslag, Sanne de Vries")],
        now=clock(),
    )
    _consent_in_mailbox(session, original, clock, ConsentKind.REFERRAL)
    clock.advance(days=3)
    referral = _refer(
        session, original, people, clock, Route.INTEGRITY, ReferralScope.WITHOUT_IDENTITY
    )
    new = referral.case

    assert new.id != original.id
    assert new.referred_from_id == original.id
    assert new.route is Route.INTEGRITY
    assert new.state == workflow()[Route.INTEGRITY].initial
    assert new.disclosure is Disclosure.ANONYMOUS
    assert new.complainant is None
    assert new.complainant_index is None
    assert new.receipt_index is None
    # A fresh data key: its own slot, a different key, and the original's key cannot open it.
    slots = {
        s.case_id: s
        for s in session.scalars(
            sa.select(KeySlot).where(KeySlot.case_id.in_([original.id, new.id]))
        )
    }
    assert set(slots) == {original.id, new.id}
    assert slots[original.id].wrapped_key != slots[new.id].wrapped_key
    new_cipher = case_cipher(session, keystore(), new.id)
    assert new.description is not None
    assert new_cipher.open_text("cases", "description", new.id, new.description) == STORY
    old_cipher = case_cipher(session, keystore(), original.id)
    with pytest.raises(Exception):  # noqa: B017, PT011 - any decryption failure will do
        old_cipher.open_text("cases", "description", new.id, new.description)
    # The people named are copied (they must stay excluded there); the files are not.
    parties = session.scalars(sa.select(CaseParty).where(CaseParty.case_id == new.id)).all()
    assert [p.kind for p in parties] == [PartyKind.ACCUSED]
    assert parties[0].person_index == indexer().person(people[ACCUSED].id)
    assert session.scalar(sa.select(Attachment.id).where(Attachment.case_id == new.id)) is None
    # The integrity coordinator of BZK receives it; the original stays with the confidant.
    assert _grantees(session, new.id) == {people[COORDINATOR].id}
    assert _grantees(session, original.id) == {people[CONFIDANT].id}
    assert [(r.person_id, r.role) for r in referral.recipients] == [
        (people[COORDINATOR].id, GrantRole.INTEGRITY_COORDINATOR)
    ]
    # Deadlines of the new route, from the referral.
    acknowledge = session.scalars(
        sa.select(Deadline).where(Deadline.case_id == new.id, Deadline.name == "acknowledge")
    ).one()
    assert acknowledge.due_on == clock().date() + timedelta(days=7)
    # "referred" on both cases, each naming the other (encrypted), by the confidant.
    for this, other in ((original, new), (new, original)):
        event = session.scalars(
            sa.select(CaseEvent).where(CaseEvent.case_id == this.id, CaseEvent.kind == "referred")
        ).one()
        assert event.actor_person_id == people[CONFIDANT].id
        assert event.remark is not None
        assert other.reference.encode() not in event.remark
        text = case_cipher(session, keystore(), this.id).open_text(
            "case_events", "remark", event.id, event.remark
        )
        assert text == other.reference
    # Audit, statistics and the e-mail to the new handler.
    actions = [
        (e.action, e.object_id)
        for e in session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq))
    ]
    assert ("case.referred", str(original.id)) in actions
    assert ("case.created_by_referral", str(new.id)) in actions
    assert ("case.access_granted", str(new.id)) in actions
    assert ("case.open", str(original.id)) in actions  # copying is reading: recorded
    stat = session.scalars(sa.select(StatEvent).where(StatEvent.kind == "referred")).one()
    assert (stat.route, stat.outcome, stat.days_taken) == ("confidant", "integrity", 3)
    assert session.scalars(sa.select(StatEvent.kind)).all().count("submitted") == 1
    notification = session.scalars(
        sa.select(Notification).where(Notification.recipient_person_id == people[COORDINATOR].id)
    ).one()
    assert notification.kind == "case_assigned"
    assert notification.params == {
        "reference": new.reference,
        "acknowledge_by": acknowledge.due_on.isoformat(),
    }


def test_a_referral_with_identity_copies_who_filed_and_their_files_but_nothing_else(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    original = file(session, people, clock()).case
    add_files(
        session,
        keystore(),
        workflow(),
        original,
        files=[NewAttachment("verslag.txt", "text/plain", b"Mijn verslag")],
        now=clock(),
    )
    # A file of the confidant's own is not the complainant's to pass on.
    cipher = case_cipher(session, keystore(), original.id)
    from complaints.cases.services import add_attachment

    add_attachment(
        session,
        cipher,
        original.id,
        NewAttachment("aantekening.txt", "text/plain", b"Van de vertrouwenspersoon"),
        AuthorKind.HANDLER,
        clock(),
    )
    _record(session, original, people, clock, ReferralScope.WITH_IDENTITY)
    referral = _refer(
        session, original, people, clock, Route.COMMITTEE, ReferralScope.WITH_IDENTITY
    )
    new = referral.case
    assert new.disclosure is Disclosure.CONFIDENTIAL
    content = open_case(
        session,
        keystore(),
        indexer(),
        case_id=new.id,
        reader_person_id=people[SECRETARIES[0]].id,
        actor=Actor.staff(2),
        now=clock(),
    )
    assert content.complainant is not None
    assert content.complainant["name"] == people[EMPLOYEE].name
    assert content.description == STORY
    files = session.scalars(sa.select(Attachment).where(Attachment.case_id == new.id)).all()
    assert len(files) == 1
    assert (
        case_cipher(session, keystore(), new.id).open_text(
            "attachments", "name", files[0].id, files[0].name
        )
        == "verslag.txt"
    )
    assert _grantees(session, new.id) == {people[email].id for email in SECRETARIES}
    # Messages, notes and consents stay behind.
    assert session.scalar(sa.select(Consent.id).where(Consent.case_id == new.id)) is None


def test_a_scope_wider_than_the_consent_is_refused(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case = file(session, people, clock()).case
    _record(session, case, people, clock, ReferralScope.WITHOUT_IDENTITY)
    before = _case_count(session)
    with pytest.raises(ReferralRefused) as refused:
        _refer(session, case, people, clock, Route.INTEGRITY, ReferralScope.WITH_IDENTITY)
    assert refused.value.reason == "scope_not_covered"
    assert _case_count(session) == before


def test_the_committee_refuses_an_anonymous_referral_as_the_form_does(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case = file(session, people, clock()).case
    _record(session, case, people, clock, ReferralScope.WITH_IDENTITY)
    before = _case_count(session)
    with pytest.raises(ReferralRefused) as refused:
        _refer(session, case, people, clock, Route.COMMITTEE, ReferralScope.WITHOUT_IDENTITY)
    assert refused.value.reason == "committee_needs_identity"
    assert _case_count(session) == before


def test_an_anonymous_report_can_only_go_on_anonymously(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case = file(session, people, clock(), disclosure=Disclosure.ANONYMOUS).case
    _record(session, case, people, clock, ReferralScope.WITH_IDENTITY)
    with pytest.raises(ReferralRefused) as refused:
        _refer(session, case, people, clock, Route.COMMITTEE, ReferralScope.WITH_IDENTITY)
    assert refused.value.reason == "committee_needs_identity"
    referral = _refer(session, case, people, clock, Route.INTEGRITY, ReferralScope.WITH_IDENTITY)
    assert referral.case.disclosure is Disclosure.ANONYMOUS
    assert referral.case.complainant is None


def test_the_manager_route_needs_the_identity_and_goes_to_the_line_manager(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case = file(session, people, clock()).case
    _record(session, case, people, clock, ReferralScope.WITH_IDENTITY)
    with pytest.raises(ReferralRefused) as refused:
        _refer(session, case, people, clock, Route.MANAGER, ReferralScope.WITHOUT_IDENTITY)
    assert refused.value.reason == "manager_required"
    referral = _refer(session, case, people, clock, Route.MANAGER, ReferralScope.WITH_IDENTITY)
    assert _grantees(session, referral.case.id) == {people[MANAGER].id}


def _choices(
    session: Session, case: Case, people: dict[str, Person], clock: Clock
) -> list[ReferralChoice]:
    content = open_as_confidant(
        session,
        keystore(),
        indexer(),
        case_id=case.id,
        person_id=people[CONFIDANT].id,
        actor=Actor.staff(1),
        now=clock(),
    )
    consent = referral_consent(session, keystore(), case)
    return referral_choices(session, taxonomy(), workflow(), content, consent)


@pytest.mark.parametrize("scope", list(ReferralScope))
def test_every_choice_is_what_a_referral_then_does(
    session: Session, people: dict[str, Person], clock: Clock, scope: ReferralScope
) -> None:
    """What the page offers (and the recipients it names) is what refer_case then does; what it
    refuses, refer_case refuses for the same reason. Each try is rolled back."""
    case = file(session, people, clock()).case
    _record(session, case, people, clock, scope)
    choices = _choices(session, case, people, clock)
    assert len(choices) == len(REFERRAL_ROUTES) * len(ReferralScope)
    for choice in choices:
        savepoint = session.begin_nested()
        try:
            if choice.offered:
                referral = _refer(session, case, people, clock, choice.route, choice.scope)
                assert _grantees(session, referral.case.id) == {
                    r.person_id for r in choice.recipients
                }, choice
                assert choice.recipients, choice
            else:
                with pytest.raises(ReferralRefused) as refused:
                    _refer(session, case, people, clock, choice.route, choice.scope)
                assert refused.value.reason == choice.refused, choice
        finally:
            savepoint.rollback()
    # Both kinds were tried, so neither branch above is empty; and the narrower consent
    # offers less: passing on who filed it only with a consent that covers it.
    assert any(c.offered for c in choices)
    assert not all(c.offered for c in choices)
    with_identity = {
        c.route for c in choices if c.offered and c.scope is ReferralScope.WITH_IDENTITY
    }
    assert bool(with_identity) is (scope is ReferralScope.WITH_IDENTITY)


def test_without_consent_nothing_is_offered_and_a_route_taken_is_not_offered_again(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case = file(session, people, clock()).case
    assert {c.refused for c in _choices(session, case, people, clock)} == {"no_consent"}
    _record(session, case, people, clock, ReferralScope.WITHOUT_IDENTITY)
    before = {c.value for c in _choices(session, case, people, clock) if c.offered}
    assert before == {"integrity:without_identity"}
    _refer(session, case, people, clock, Route.INTEGRITY, ReferralScope.WITHOUT_IDENTITY)
    after = _choices(session, case, people, clock)
    assert not any(c.offered for c in after)
    assert {c.refused for c in after if c.route is Route.INTEGRITY} == {"already_referred"}


def test_the_same_route_is_not_referred_to_twice(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case = file(session, people, clock()).case
    _record(session, case, people, clock, ReferralScope.WITH_IDENTITY)
    _refer(session, case, people, clock, Route.INTEGRITY, ReferralScope.WITHOUT_IDENTITY)
    with pytest.raises(ReferralRefused) as refused:
        _refer(session, case, people, clock, Route.INTEGRITY, ReferralScope.WITH_IDENTITY)
    assert refused.value.reason == "already_referred"
    _refer(session, case, people, clock, Route.COMMITTEE, ReferralScope.WITH_IDENTITY)


def test_only_the_cases_own_confidant_can_refer(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case = file(session, people, clock()).case
    _record(session, case, people, clock, ReferralScope.WITH_IDENTITY)
    for outsider in (WIDE_CONFIDANT, COORDINATOR, ACCUSED):
        with pytest.raises(CaseNotFound):
            _refer(
                session,
                case,
                people,
                clock,
                Route.INTEGRITY,
                ReferralScope.WITH_IDENTITY,
                referrer=outsider,
            )
    # A confidant's grant on a case they are named in (a broken grant) opens nothing either.
    session.add(
        CaseAccessGrant(
            case_id=case.id,
            person_id=people[ACCUSED].id,
            role=GrantRole.CONFIDANT,
            granted_at=clock(),
        )
    )
    session.flush()
    with pytest.raises(CaseNotFound):
        _refer(
            session,
            case,
            people,
            clock,
            Route.INTEGRITY,
            ReferralScope.WITH_IDENTITY,
            referrer=ACCUSED,
        )
    denied = session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == "case.open", AuditEvent.outcome == "denied"
        )
    ).all()
    assert len(denied) == 4


# Nobody accused is ever granted ----------------------------------------------------------------


def test_an_accused_integrity_coordinator_never_gets_the_referral(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case = file(session, people, clock(), accused=(COORDINATOR,)).case
    _record(session, case, people, clock, ReferralScope.WITH_IDENTITY)
    before = _case_count(session)
    with pytest.raises(ReferralRefused) as refused:
        _refer(session, case, people, clock, Route.INTEGRITY, ReferralScope.WITH_IDENTITY)
    assert refused.value.reason == "no_integrity_coordinator_available"
    assert _case_count(session) == before

    colleague = _add_coordinator(session, clock)
    referral = _refer(session, case, people, clock, Route.INTEGRITY, ReferralScope.WITH_IDENTITY)
    assert _grantees(session, referral.case.id) == {colleague.id}
    assert people[COORDINATOR].id not in {
        g.person_id
        for g in session.scalars(sa.select(CaseAccessGrant))
        if g.case_id == referral.case.id
    }


def test_an_accused_typed_by_name_is_excluded_too(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    case = file(session, people, clock(), accused=(), accused_names=("Dijkstra, Kees",)).case
    colleague = _add_coordinator(session, clock)
    _record(session, case, people, clock, ReferralScope.WITHOUT_IDENTITY)
    referral = _refer(session, case, people, clock, Route.INTEGRITY, ReferralScope.WITHOUT_IDENTITY)
    assert _grantees(session, referral.case.id) == {colleague.id}


def test_the_complainant_is_excluded_even_when_the_new_case_does_not_name_them(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    # The integrity coordinator reported to a confidant themself.
    case = file(session, people, clock(), complainant=COORDINATOR).case
    colleague = _add_coordinator(session, clock)
    _record(session, case, people, clock, ReferralScope.WITHOUT_IDENTITY)
    referral = _refer(session, case, people, clock, Route.INTEGRITY, ReferralScope.WITHOUT_IDENTITY)
    assert referral.case.disclosure is Disclosure.ANONYMOUS
    assert _grantees(session, referral.case.id) == {colleague.id}


def test_a_handler_with_a_deactivated_account_gets_nothing(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    from tests.factories import make_account

    staff = make_account(session, people[COORDINATOR], clock())
    staff.account.active = False
    case = file(session, people, clock())
    _record(session, case.case, people, clock, ReferralScope.WITHOUT_IDENTITY)
    with pytest.raises(ReferralRefused) as refused:
        _refer(session, case.case, people, clock, Route.INTEGRITY, ReferralScope.WITHOUT_IDENTITY)
    assert refused.value.reason == "no_integrity_coordinator_available"


# The complainant's side ------------------------------------------------------------------------


def test_the_complainant_gets_a_code_for_the_new_case_once_and_nobody_else_can(
    session: Session, people: dict[str, Person], clock: Clock
) -> None:
    filed = file(session, people, clock(), disclosure=Disclosure.NAMED)
    original = filed.case
    _consent_in_mailbox(session, original, clock, ConsentKind.REFERRAL)
    new = _refer(
        session, original, people, clock, Route.INTEGRITY, ReferralScope.WITH_IDENTITY
    ).case
    other = file(session, people, clock()).case

    [notice] = referral_notices(session, original)
    assert (notice.reference, notice.route, notice.identity_shared, notice.code_issued) == (
        new.reference,
        Route.INTEGRITY,
        True,
        False,
    )
    # Not from another report's mailbox.
    with pytest.raises(LookupError):
        issue_referral_code(session, keystore(), indexer(), other, referred_id=new.id, now=clock())
    code = issue_referral_code(
        session, keystore(), indexer(), original, referred_id=new.id, now=clock()
    )
    assert new.receipt_index == receipt_index(indexer(), code)
    assert code != filed.receipt_code
    # Once only.
    with pytest.raises(LookupError):
        issue_referral_code(
            session, keystore(), indexer(), original, referred_id=new.id, now=clock()
        )
    assert referral_notices(session, original)[0].code_issued
    issued = session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "followup.referral_code_issued")
    ).one()
    assert (issued.actor_kind, issued.actor_id) == (ActorKind.COMPLAINANT, original.reference)
    assert code not in json.dumps([issued.details, issued.actor_id, issued.object_id])
