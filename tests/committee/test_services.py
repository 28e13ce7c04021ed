"""The committee services on their own: who may sit on a case, who may read what, and the
rules the page relies on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from complaints.cases.models import Case, CaseAccessGrant, CaseEvent, DocumentKind, GrantRole
from complaints.cases.services import CaseNotFound
from complaints.committee.services import (
    CommitteeRefused,
    Exclusion,
    HeardParty,
    LetterKind,
    add_hearing_report,
    add_witness_statement,
    assign_member,
    documents,
    eligible_members,
    exclude_member,
    exclusion_event_id,
    generate_letter,
    members,
    record_decision,
)
from complaints.crypto.services import indexer, keystore
from complaints.directory.models import Person
from complaints.intake.services import AccusedPerson
from complaints.workflow.config import workflow
from tests.committee import (
    ACCUSED,
    AMRANI,
    CONFIDANT,
    KOK,
    LAMMERS,
    SECRETARY,
    TO_HEARING,
    advance,
    file_complaint,
    opened,
)
from tests.conftest import Clock, app_session
from tests.factories import import_demo_directory

IDENTITY = "Jeroen Mulder, kamer 5.21"


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app_session(app) as db_session:
        yield db_session


@pytest.fixture
def people(session: Session, clock: Clock) -> dict[str, Person]:
    return import_demo_directory(session, clock())


def test_eligible_members_leave_out_the_accused_the_complainant_and_the_excluded(
    session: Session, clock: Clock, people: dict[str, Person]
) -> None:
    complaint = file_complaint(
        session,
        people,
        clock(),
        filer=LAMMERS,
        accused=(
            AccusedPerson("Lotte Bakker", "leidinggevende", people[ACCUSED].id),
            AccusedPerson("Y. Amrani", "commissielid"),  # a typed name that matches nobody
        ),
    )
    committee = opened(session, complaint.case_id, people[SECRETARY], clock())
    names = [p.name for p in eligible_members(session, indexer(), committee)]
    assert names == ["Annemiek Kok", "Youssef Amrani"]  # not Eva Lammers: she filed it
    grant = assign_member(
        session, keystore(), indexer(), workflow(), committee, person_id=people[KOK].id, now=clock()
    )
    assert [p.name for p in eligible_members(session, indexer(), committee)] == ["Youssef Amrani"]
    exclude_member(
        session,
        keystore(),
        workflow(),
        committee,
        grant_id=grant.id,
        exclusion=Exclusion.CHALLENGE,
        reason="Partijdig.",
        now=clock(),
    )
    assert [p.name for p in eligible_members(session, indexer(), committee)] == ["Youssef Amrani"]
    with pytest.raises(CommitteeRefused) as refused:
        assign_member(
            session,
            keystore(),
            indexer(),
            workflow(),
            committee,
            person_id=people[KOK].id,
            now=clock(),
        )
    assert refused.value.reason == "already_assigned"
    people[AMRANI].active = False
    assert eligible_members(session, indexer(), committee) == []
    with pytest.raises(CommitteeRefused):
        assign_member(
            session,
            keystore(),
            indexer(),
            workflow(),
            committee,
            person_id=people[AMRANI].id,
            now=clock(),
        )


def test_the_complainant_is_recognised_as_the_logged_in_filer_too(
    session: Session, clock: Clock, people: dict[str, Person]
) -> None:
    complaint = file_complaint(
        session, people, clock(), filer=LAMMERS, name="E. van Lammeren", linked=False
    )
    committee = opened(session, complaint.case_id, people[SECRETARY], clock())
    assert "Eva Lammers" not in [p.name for p in eligible_members(session, indexer(), committee)]
    with pytest.raises(CommitteeRefused) as refused:
        assign_member(
            session,
            keystore(),
            indexer(),
            workflow(),
            committee,
            person_id=people[LAMMERS].id,
            now=clock(),
        )
    assert refused.value.reason == "complainant"


def test_the_accused_are_refused_by_id_and_by_name(
    session: Session, clock: Clock, people: dict[str, Person]
) -> None:
    complaint = file_complaint(
        session,
        people,
        clock(),
        accused=(
            AccusedPerson("Annemiek Kok", "voorzitter", people[KOK].id),
            AccusedPerson("  youssef amrani ", "lid"),
        ),
    )
    committee = opened(session, complaint.case_id, people[SECRETARY], clock())
    for email in (KOK, AMRANI):
        with pytest.raises(CommitteeRefused) as refused:
            assign_member(
                session,
                keystore(),
                indexer(),
                workflow(),
                committee,
                person_id=people[email].id,
                now=clock(),
            )
        assert refused.value.reason == "accused"
    assert [p.name for p in eligible_members(session, indexer(), committee)] == ["Eva Lammers"]
    grants = session.scalars(
        sa.select(CaseAccessGrant).where(CaseAccessGrant.role == GrantRole.COMMITTEE_MEMBER)
    ).all()
    assert grants == []


def test_only_committee_grants_open_the_committee_case(
    session: Session, clock: Clock, people: dict[str, Person]
) -> None:
    complaint = file_complaint(session, people, clock())
    session.add(
        CaseAccessGrant(
            case_id=complaint.case_id,
            person_id=people[CONFIDANT].id,
            role=GrantRole.CONFIDANT,
            granted_at=clock(),
        )
    )
    session.flush()
    with pytest.raises(CaseNotFound):
        opened(session, complaint.case_id, people[CONFIDANT], clock())
    with pytest.raises(CaseNotFound):
        opened(session, complaint.case_id, people[KOK], clock())
    committee = opened(session, complaint.case_id, people[SECRETARY], clock())
    assert committee.roles == frozenset({GrantRole.COMMITTEE_SECRETARY})
    assert committee.is_secretary


def test_a_witness_identity_opens_for_committee_roles_only(
    session: Session, clock: Clock, people: dict[str, Person]
) -> None:
    complaint = file_complaint(session, people, clock())
    committee = opened(session, complaint.case_id, people[SECRETARY], clock())
    add_witness_statement(
        session,
        keystore(),
        workflow(),
        committee,
        identity=IDENTITY,
        pseudonym="",
        heard_on=date(2026, 3, 20),
        statement="Ik heb het gezien.",
        now=clock(),
    )
    case = committee.case
    for roles in ({GrantRole.COMMITTEE_SECRETARY}, {GrantRole.COMMITTEE_MEMBER}):
        [seen] = documents(session, keystore(), case, roles)
        assert seen.identity == IDENTITY
    for roles in (
        {GrantRole.CONFIDANT},
        {GrantRole.MANAGER},
        {GrantRole.INTEGRITY_COORDINATOR},
        set(),
    ):
        [seen] = documents(session, keystore(), case, roles)
        assert seen.identity is None
        assert seen.fields["statement"] == "Ik heb het gezien."  # the statement itself is shared


def test_a_member_may_recuse_themselves_but_not_challenge_or_exclude_others(
    session: Session, clock: Clock, people: dict[str, Person]
) -> None:
    complaint = file_complaint(session, people, clock())
    secretary = opened(session, complaint.case_id, people[SECRETARY], clock())
    kok = assign_member(
        session, keystore(), indexer(), workflow(), secretary, person_id=people[KOK].id, now=clock()
    )
    amrani = assign_member(
        session,
        keystore(),
        indexer(),
        workflow(),
        secretary,
        person_id=people[AMRANI].id,
        now=clock(),
    )
    member = opened(session, complaint.case_id, people[KOK], clock())
    for grant, exclusion in ((amrani, Exclusion.RECUSAL), (kok, Exclusion.CHALLENGE)):
        with pytest.raises(CommitteeRefused) as refused:
            exclude_member(
                session,
                keystore(),
                workflow(),
                member,
                grant_id=grant.id,
                exclusion=exclusion,
                reason="Reden.",
                now=clock(),
            )
        assert refused.value.reason == "secretary_only"
    exclude_member(
        session,
        keystore(),
        workflow(),
        member,
        grant_id=kok.id,
        exclusion=Exclusion.RECUSAL,
        reason="Ik ken de klaagster.",
        now=clock(),
    )
    assert kok.revoke_reason == "verschoning"
    event = session.get(CaseEvent, exclusion_event_id(kok.id))
    assert event is not None
    assert event.kind == "member_excluded"
    views = {m.name: m for m in members(session, keystore(), secretary.case)}
    assert views["Annemiek Kok"].excluded is Exclusion.RECUSAL
    assert views["Annemiek Kok"].reason == "Ik ken de klaagster."
    assert views["Youssef Amrani"].active


def test_a_decision_needs_the_advice_first(
    session: Session, clock: Clock, people: dict[str, Person]
) -> None:
    complaint = file_complaint(session, people, clock())
    advance(session, complaint.case_id, people[SECRETARY], clock(), *TO_HEARING)
    committee = opened(session, complaint.case_id, people[SECRETARY], clock())
    add_hearing_report(
        session,
        keystore(),
        workflow(),
        committee,
        heard=HeardParty.COMPLAINANT,
        heard_on=date(2026, 3, 20),
        report="Klaagster gehoord.",
        now=clock(),
    )
    with pytest.raises(CommitteeRefused) as refused:
        record_decision(
            session,
            keystore(),
            workflow(),
            committee,
            outcome="founded",
            reasons="Gegrond.",
            expected_version=committee.case.version,
            now=clock(),
        )
    assert refused.value.reason == "no_advice"
    assert committee.case.state == "hearing"
    kinds = [d.kind for d in documents(session, keystore(), committee.case, committee.roles)]
    assert kinds == [DocumentKind.HEARING_REPORT]


def test_letters_are_written_in_dutch_or_english_only(
    session: Session, clock: Clock, people: dict[str, Person]
) -> None:
    complaint = file_complaint(session, people, clock())
    committee = opened(session, complaint.case_id, people[SECRETARY], clock())
    with pytest.raises(CommitteeRefused) as refused:
        generate_letter(
            session,
            keystore(),
            workflow(),
            committee,
            kind=LetterKind.ACKNOWLEDGEMENT,
            language="de",
            now=clock(),
        )
    assert refused.value.reason == "unknown_language"
    with pytest.raises(CommitteeRefused) as refused:
        generate_letter(
            session,
            keystore(),
            workflow(),
            committee,
            kind=LetterKind.EXTENSION,
            language="nl",
            now=clock(),
        )
    assert refused.value.reason == "date_required"


def test_a_case_changed_underneath_is_refused_not_overwritten(
    session: Session, clock: Clock, people: dict[str, Person]
) -> None:
    complaint = file_complaint(session, people, clock())
    committee = opened(session, complaint.case_id, people[SECRETARY], clock())
    # Another transaction moves the case on after this one read it.
    session.execute(
        sa.update(Case)
        .where(Case.id == complaint.case_id)
        .values(version=Case.version + 1)
        .execution_options(synchronize_session=False)
    )
    with pytest.raises(CommitteeRefused) as refused:
        add_hearing_report(
            session,
            keystore(),
            workflow(),
            committee,
            heard=HeardParty.ACCUSED,
            heard_on=date(2026, 3, 20),
            report="Verweerster gehoord.",
            now=clock(),
        )
    assert refused.value.reason == "changed_meanwhile"
    assert isinstance(refused.value.__cause__, StaleDataError)
    session.rollback()  # what the page does before showing the case as it now is
