"""Outcomes reach the mailbox: every route's final word to the complainant, in their language.

Each route's step that tells the complainant something puts that text in the mailbox as a
message from the handler (``to_complainant`` in workflow.toml); a deadline that means "the
complainant was told" (``met_by_message``) is met only by such a delivered message; a message
that cannot be sealed refuses the whole step. After closing, the mailbox takes messages for
``closed_reply_days``; files and letters download by their number within the session's case.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from complaints.audit.models import AuditEvent, AuditOutcome
from complaints.audit.services import Actor
from complaints.cases.models import (
    AuthorKind,
    Case,
    CaseAccessGrant,
    CaseEvent,
    Deadline,
    Disclosure,
    Message,
    Route,
)
from complaints.cases.services import NewAttachment
from complaints.casework.services import reply_to_complainant
from complaints.committee.services import (
    LetterKind,
    generate_letter,
    record_advice,
    record_decision,
)
from complaints.crypto.models import KeySlot
from complaints.crypto.services import indexer, keystore
from complaints.directory.models import Person
from complaints.followup.services import MailboxClosed, post_message
from complaints.workflow.config import Workflow, workflow
from complaints.workflow.transitions import TransitionRefused, apply_transition
from tests.committee import TO_HEARING, advance, file_complaint, opened
from tests.conftest import Clock, app_session
from tests.factories import (
    Filed,
    csrf_token,
    file_report,
    import_demo_directory,
    pdf_document,
)

MAILBOX = "/opvolgen/melding"
FILER = "s.devries@bzk.example"
MANAGER = "a.demir@bzk.example"
SECRETARY = "w.deboer@bzk.example"


def file_on(session: Session, people: dict[str, Person], now: datetime, route: Route) -> Filed:
    """A confidential report on ``route`` through the real submission service."""
    if route is Route.COMMITTEE:
        return file_complaint(session, people, now)
    return file_report(session, now, route=route)


def step(
    session: Session,
    case_id: uuid.UUID,
    name: str,
    now: datetime,
    flow: Workflow | None = None,
    **values: str,
) -> None:
    """Take a step as the case's first handler whose grant allows it."""
    case = session.get(Case, case_id)
    assert case is not None
    flow = flow or workflow()
    spec = flow[case.route].transition(name)
    assert spec is not None
    grant = session.scalars(
        sa.select(CaseAccessGrant)
        .where(CaseAccessGrant.case_id == case_id, CaseAccessGrant.role.in_(list(spec.roles)))
        .order_by(CaseAccessGrant.id)
    ).first()
    assert grant is not None
    apply_transition(
        session,
        keystore(),
        flow,
        case,
        name,
        actor_person_id=grant.person_id,
        roles={grant.role},
        values=dict(values),
        expected_version=case.version,
        now=now,
    )


def mailbox(app: Flask, code: str, language: str) -> tuple[FlaskClient, TestResponse]:
    browser = app.test_client()
    browser.set_cookie("taal", language)
    page = browser.get("/opvolgen")
    opened_ = browser.post("/opvolgen", data={"code": code, "csrf_token": csrf_token(page)})
    assert opened_.status_code == 303
    box = browser.get(MAILBOX)
    assert box.status_code == 200
    return browser, box


def text_of(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def deadline(session: Session, case_id: uuid.UUID, name: str) -> Deadline:
    return session.scalars(
        sa.select(Deadline).where(Deadline.case_id == case_id, Deadline.name == name)
    ).one()


@dataclass(frozen=True)
class Outcome:
    route: Route
    steps: tuple[tuple[str, dict[str, str]], ...]  # before the step that tells
    telling: tuple[str, dict[str, str]]
    said: str  # what the handler typed, now in the mailbox
    about_nl: str  # the state's public text, in each language
    about_en: str
    outcome_nl: str | None = None
    outcome_en: str | None = None


OUTCOMES = (
    Outcome(
        Route.MANAGER,
        (("acknowledge", {}), ("start", {})),
        ("resolve", {"summary": "Ik heb met uw collega gesproken; het stopt."}),
        "Ik heb met uw collega gesproken; het stopt.",
        "Uw leidinggevende heeft de melding afgehandeld.",
        "Your manager has dealt with the report.",
    ),
    Outcome(
        Route.CONFIDANT,
        (("acknowledge", {}), ("support", {})),
        ("close", {"closing": "Sterkte; u kunt altijd terugkomen.", "remark": "intern"}),
        "Sterkte; u kunt altijd terugkomen.",
        "De begeleiding is afgesloten.",
        "The support has ended.",
    ),
    Outcome(
        Route.INTEGRITY,
        (("acknowledge", {}), ("assess", {})),
        ("give_feedback", {"feedback": "Er is een onderzoek ingesteld en maatregelen genomen."}),
        "Er is een onderzoek ingesteld en maatregelen genomen.",
        "U heeft terugkoppeling gekregen over wat er met uw melding is gedaan.",
        "You have been told what was done with your report.",
    ),
    Outcome(
        Route.COMMITTEE,
        (("acknowledge", {}),),
        ("declare_not_admissible", {"reasons": "De klacht is ouder dan een jaar."}),
        "De klacht is ouder dan een jaar.",
        "De klachtencommissie kan uw klacht niet in behandeling nemen.",
        "The committee cannot handle your complaint.",
        "Niet-ontvankelijk",
        "Not admissible",
    ),
)


@pytest.mark.parametrize("outcome", OUTCOMES, ids=[o.telling[0] for o in OUTCOMES])
def test_the_final_word_of_each_route_is_in_the_mailbox_in_both_languages(
    app: Flask, clock: Clock, outcome: Outcome
) -> None:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        filed = file_on(session, people, clock(), outcome.route)
        for name, values in outcome.steps:
            step(session, filed.case_id, name, clock.advance(days=1), **values)
        name, values = outcome.telling
        step(session, filed.case_id, name, clock.advance(days=1), **values)
        message = session.scalars(
            sa.select(Message).where(
                Message.case_id == filed.case_id, Message.author_kind == AuthorKind.HANDLER
            )
        ).one()
        event = session.get(CaseEvent, message.event_id)
        assert event is not None
        assert event.kind == name
    for language, about, label in (
        ("nl", outcome.about_nl, outcome.outcome_nl),
        ("en", outcome.about_en, outcome.outcome_en),
    ):
        _browser, box = mailbox(app, filed.code, language)
        page = text_of(box)
        assert 'data-outcome="yes"' in page
        assert outcome.said in page
        assert about in page
        if label is not None:
            assert label in page
    assert "intern" not in page  # a remark for handlers stays with the handlers


def test_the_committee_decision_comes_with_its_outcome_and_letter(app: Flask, clock: Clock) -> None:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        filed = file_on(session, people, clock(), Route.COMMITTEE)
        secretary = people[SECRETARY]
        advance(session, filed.case_id, secretary, clock(), *TO_HEARING)
        committee = opened(session, filed.case_id, secretary, clock())
        record_advice(
            session,
            keystore(),
            workflow(),
            committee,
            summary="De commissie adviseert de klacht gegrond te verklaren.",
            recommended="founded",
            expected_version=committee.case.version,
            now=clock.advance(weeks=3),
        )
        committee = opened(session, filed.case_id, secretary, clock())
        record_decision(
            session,
            keystore(),
            workflow(),
            committee,
            outcome="founded",
            reasons="Het gedrag is vastgesteld; er volgen maatregelen.",
            expected_version=committee.case.version,
            now=clock.advance(weeks=1),
        )
        assert deadline(session, filed.case_id, "decision").met_at == clock()
        committee = opened(session, filed.case_id, secretary, clock())
        generate_letter(
            session,
            keystore(),
            workflow(),
            committee,
            kind=LetterKind.DECISION,
            language="nl",
            now=clock.advance(hours=1),
        )
    browser, box = mailbox(app, filed.code, "en")
    page = text_of(box)
    assert "Het gedrag is vastgesteld; er volgen maatregelen." in page
    assert "Outcome: Founded" in page
    assert 'href="/opvolgen/melding/brief/1"' in page
    _nl_browser, nl_box = mailbox(app, filed.code, "nl")
    assert "Uitkomst: Gegrond" in text_of(nl_box)
    letter = browser.get("/opvolgen/melding/brief/1")
    assert letter.status_code == 200
    assert letter.headers["Content-Disposition"] == (
        f'attachment; filename="{filed.reference}-besluit.html"'
    )
    assert letter.headers["X-Content-Type-Options"] == "nosniff"
    assert letter.headers["Cache-Control"] == "no-store"
    assert "Het gedrag is vastgesteld" in text_of(letter)
    assert browser.get("/opvolgen/melding/brief/2").status_code == 404


def test_the_integrity_feedback_term_is_met_only_by_the_delivered_message(
    app: Flask, clock: Clock
) -> None:
    feedback = "Er is een onderzoek ingesteld."
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        told = file_on(session, people, clock(), Route.INTEGRITY)
        for name in ("acknowledge", "assess"):
            step(session, told.case_id, name, clock.advance(days=1))
        step(session, told.case_id, "give_feedback", clock.advance(weeks=4), feedback=feedback)
        assert deadline(session, told.case_id, "feedback").met_at == clock()

        # Control: the same step on a workflow whose feedback field does not go to the
        # complainant (a weakened set-up) leaves the term open, and the mailbox says so; an
        # ordinary reply in between is not the feedback either.
        silent = file_on(session, people, clock(), Route.INTEGRITY)
        weakened = _without_to_complainant(workflow(), Route.INTEGRITY, "give_feedback")
        for name in ("acknowledge", "assess"):
            step(session, silent.case_id, name, clock.advance(days=1), weakened)
        _reply(session, silent.case_id, "We hebben uw bericht ontvangen.", clock.advance(days=1))
        step(
            session, silent.case_id, "give_feedback", clock.advance(weeks=4), weakened,
            feedback=feedback,
        )  # fmt: skip
        open_term = deadline(session, silent.case_id, "feedback")
        assert (open_term.met_at, open_term.cancelled_at) == (None, None)
        assert [
            m.event_id
            for m in session.scalars(sa.select(Message).where(Message.case_id == silent.case_id))
        ] == [None]
    _b, kept = mailbox(app, told.code, "nl")
    assert 'data-deadline="feedback"' in text_of(kept)
    assert _status(text_of(kept), "feedback") == "met"
    _b, not_kept = mailbox(app, silent.code, "nl")
    assert _status(text_of(not_kept), "feedback") == "open"
    assert "Gehaald" not in text_of(not_kept).split('data-deadline="feedback"')[1].split("</li>")[0]


def _reply(session: Session, case_id: uuid.UUID, body: str, now: datetime) -> None:
    """An ordinary message from the case's first handler, not part of any step."""
    grant = session.scalars(
        sa.select(CaseAccessGrant)
        .where(CaseAccessGrant.case_id == case_id)
        .order_by(CaseAccessGrant.id)
    ).first()
    assert grant is not None
    reply_to_complainant(
        session, keystore(), indexer(), workflow(), case_id=case_id,
        person_id=grant.person_id, actor=Actor.staff(1), body=body, now=now,
    )  # fmt: skip


def _status(page: str, name: str) -> str:
    block = page.split(f'data-deadline="{name}"')[1]
    return block.split('data-status="')[1].split('"')[0]


def _without_to_complainant(flow: Workflow, route: Route, name: str) -> Workflow:
    routes = dict(flow.routes)
    spec = routes[route].transition(name)
    assert spec is not None
    quiet = dataclasses.replace(
        spec, fields=tuple(dataclasses.replace(f, to_complainant=False) for f in spec.fields)
    )
    routes[route] = dataclasses.replace(
        routes[route],
        transitions=tuple(quiet if t.name == name else t for t in routes[route].transitions),
    )
    return Workflow(routes)


def test_an_undeliverable_outcome_refuses_the_step_and_writes_nothing(
    app: Flask, clock: Clock
) -> None:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        filed = file_on(session, people, clock(), Route.INTEGRITY)
        for name in ("acknowledge", "assess"):
            step(session, filed.case_id, name, clock.advance(days=1))
        events_before = session.scalar(
            sa.select(sa.func.count())
            .select_from(CaseEvent)
            .where(CaseEvent.case_id == filed.case_id)
        )
        # The case's key is gone (as after destruction of its key-encryption key).
        session.execute(sa.delete(KeySlot).where(KeySlot.case_id == filed.case_id))
        with pytest.raises(TransitionRefused) as refused:
            step(session, filed.case_id, "give_feedback", clock.advance(weeks=2), feedback="x")
        assert refused.value.reason == "undeliverable"
        # Outside a request the handler is told in Dutch, the default language.
        assert "Er is niets opgeslagen" in refused.value.message
        case = session.get(Case, filed.case_id)
        assert case is not None
        session.refresh(case)
        assert case.state == "assessing"
        assert session.scalars(sa.select(Message).where(Message.case_id == case.id)).all() == []
        assert (
            session.scalar(
                sa.select(sa.func.count())
                .select_from(CaseEvent)
                .where(CaseEvent.case_id == case.id)
            )
            == events_before
        )
        term = deadline(session, case.id, "feedback")
        assert (term.met_at, term.cancelled_at) == (None, None)


def test_the_handler_whose_step_cannot_be_delivered_is_told_and_keeps_the_text(
    app: Flask, clock: Clock
) -> None:
    from tests.casework import INTEGRITY, handler, logged_in

    typed = "Wij hebben maatregelen genomen tegen de betrokkene."
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        filed = file_on(session, people, clock(), Route.INTEGRITY)
        for name in ("acknowledge", "assess"):
            step(session, filed.case_id, name, clock.advance(days=1))
        staff = handler(session, people, clock(), INTEGRITY)
    browser = logged_in(app, staff, clock())
    page = browser.get(f"/zaken/{filed.case_id}")
    assert page.status_code == 200
    with app_session(app) as session:
        session.execute(sa.delete(KeySlot).where(KeySlot.case_id == filed.case_id))
        version = session.get(Case, filed.case_id).version  # type: ignore[union-attr]
    refused = browser.post(
        f"/zaken/{filed.case_id}/stap/give_feedback",
        data={
            "csrf_token": csrf_token(page),
            "give_feedback-version": str(version),
            "give_feedback-feedback": typed,
        },
    )
    page_text = text_of(refused)
    assert refused.status_code == 500
    assert "This step was not recorded" in page_text
    assert typed in page_text
    assert "Traceback" not in page_text
    with app_session(app) as session:
        case = session.get(Case, filed.case_id)
        assert case is not None
        assert case.state == "assessing"


# After closure ---------------------------------------------------------------------------------


def test_after_closing_the_mailbox_takes_messages_for_closed_reply_days(
    app: Flask, clock: Clock
) -> None:
    from complaints.casework.services import read_case
    from tests.casework import CONFIDANT

    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        filed = file_on(session, people, clock(), Route.CONFIDANT)
        step(session, filed.case_id, "acknowledge", clock.advance(days=1))
        step(session, filed.case_id, "close", clock.advance(days=1), closing="Tot ziens.")
        case = session.get(Case, filed.case_id)
        assert case is not None
        post_message(
            session,
            keystore(),
            workflow(),
            case,
            body="Er is na de afsluiting iets gebeurd.",
            now=clock.advance(days=29),
            closed_reply_days=30,
        )
        with pytest.raises(MailboxClosed):
            post_message(
                session,
                keystore(),
                workflow(),
                case,
                body="Te laat.",
                now=clock.advance(days=2),
                closed_reply_days=30,
            )
        # The handler sees the late message on the case page as usual.
        file = read_case(
            session,
            keystore(),
            indexer(),
            workflow(),
            case_id=case.id,
            person_id=people[CONFIDANT].id,
            actor=Actor.operator(),
            now=clock(),
        )
        assert "Er is na de afsluiting iets gebeurd." in [m.body for m in file.messages]

    # Past the days: still readable, writing closed, and what to do instead; nothing typed lost.
    browser, box = mailbox(app, filed.code, "en")
    page = text_of(box)
    assert "Tot ziens." in page
    assert 'data-writing="closed"' in page
    assert 'href="/hulp"' in page
    assert 'href="/melden"' in page
    assert 'action="/opvolgen/melding/bericht"' not in page
    late = browser.post(
        f"{MAILBOX}/bericht", data={"csrf_token": csrf_token(box), "message": "Nog één ding."}
    )
    assert late.status_code == 200
    assert "Writing in this mailbox has closed" in text_of(late)
    assert "Nog één ding." in text_of(late)


def test_within_the_days_the_closed_mailbox_offers_writing(app: Flask, clock: Clock) -> None:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        filed = file_on(session, people, clock(), Route.CONFIDANT)
        step(session, filed.case_id, "acknowledge", clock.advance(days=1))
        step(session, filed.case_id, "close", clock.advance(days=1), closing="Tot ziens.")
    clock.advance(days=10)
    browser, box = mailbox(app, filed.code, "nl")
    page = text_of(box)
    assert 'data-writing="open"' in page
    sent = browser.post(
        f"{MAILBOX}/bericht", data={"csrf_token": csrf_token(box), "message": "Dank u wel."}
    )
    assert sent.status_code == 303
    assert "Dank u wel." in text_of(browser.get(MAILBOX))


def test_the_handler_can_answer_a_closed_case_while_the_complainant_can_write(
    app: Flask, clock: Clock
) -> None:
    from complaints.casework.services import CaseClosed

    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        filed = file_on(session, people, clock(), Route.CONFIDANT)
        step(session, filed.case_id, "acknowledge", clock.advance(days=1))
        step(session, filed.case_id, "close", clock.advance(days=1), closing="Tot ziens.")
        grant = session.scalars(
            sa.select(CaseAccessGrant).where(CaseAccessGrant.case_id == filed.case_id)
        ).first()
        assert grant is not None

        def answer(body: str, days: int, window: int) -> None:
            reply_to_complainant(
                session, keystore(), indexer(), workflow(), case_id=filed.case_id,
                person_id=grant.person_id, actor=Actor.staff(1), body=body,
                now=clock.advance(days=days), closed_reply_days=window,
            )  # fmt: skip

        answer("Goed dat u het meldt.", 29, 30)
        # Control: without the window (the old rule) a closed case took no answer at all.
        with pytest.raises(CaseClosed):
            answer("Zonder venster.", 0, 0)
        with pytest.raises(CaseClosed):
            answer("Te laat.", 2, 30)
    box = text_of(mailbox(app, filed.code, "nl")[1])
    assert "Goed dat u het meldt." in box
    assert "Te laat." not in box
    assert "Zonder venster." not in box


# Downloads ------------------------------------------------------------------------------------


def test_files_download_by_their_number_within_the_sessions_own_case(
    app: Flask, clock: Clock
) -> None:
    from tests.casework import file_case

    ours_body, theirs_body = pdf_document(), pdf_document(2048)
    assert ours_body != theirs_body
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        _id, ours_ref, ours_code = file_case(
            session,
            people,
            clock(),
            attachments=(NewAttachment("verslag.pdf", "application/pdf", ours_body),),
        )
        theirs_id, _ref, _code = file_case(
            session,
            people,
            clock(),
            attachments=(
                NewAttachment("a.pdf", "application/pdf", theirs_body),
                NewAttachment("b.pdf", "application/pdf", theirs_body),
            ),
        )
    browser, box = mailbox(app, ours_code, "nl")
    assert 'href="/opvolgen/melding/bijlage/1"' in text_of(box)
    got = browser.get("/opvolgen/melding/bijlage/1")
    assert got.status_code == 200
    assert got.data == ours_body
    assert got.headers["Content-Disposition"] == f'attachment; filename="{ours_ref}-bijlage-1.pdf"'
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Cache-Control"] == "no-store"
    # The other case has a second file; our case has none: its number reaches nothing.
    for beyond in ("/opvolgen/melding/bijlage/2", "/opvolgen/melding/bijlage/0"):
        assert browser.get(beyond).status_code == 404
    # Without a mailbox session nothing downloads at all.
    stranger = app.test_client()
    assert stranger.get("/opvolgen/melding/bijlage/1").status_code == 303
    with app_session(app) as session:
        audited = session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "case.file_downloaded")
        ).all()
        assert [(a.outcome, a.details.get("ordinal")) for a in audited] == [
            (AuditOutcome.SUCCESS, 1),
            (AuditOutcome.DENIED, None),
            (AuditOutcome.DENIED, None),
        ]
        assert str(theirs_id) not in {a.object_id for a in audited}


def test_an_account_holder_sees_the_outcome_under_my_reports(app: Flask, clock: Clock) -> None:
    from tests.factories import log_in, make_account

    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        filer = people[FILER]
        case_id = file_report(
            session, clock(), disclosure=Disclosure.NAMED, filer_person_id=filer.id
        ).case_id
        step(session, case_id, "acknowledge", clock.advance(days=1))
        step(session, case_id, "close", clock.advance(days=1), closing="Het ga u goed.")
        account = make_account(session, filer, clock())
    browser = app.test_client()
    browser.set_cookie("taal", "en")
    log_in(browser, account, clock())
    reports = browser.get("/account/mijn-meldingen")
    assert reports.status_code == 200
    opened_ = browser.post(
        "/account/mijn-meldingen/openen",
        data={"csrf_token": csrf_token(reports), "case_id": str(case_id)},
    )
    assert opened_.status_code == 303
    page = text_of(browser.get(MAILBOX))
    assert "Het ga u goed." in page
    assert "The support has ended." in page


def test_a_deadline_met_by_message_without_a_telling_step_stops_the_start(tmp_path: Path) -> None:
    from complaints.settings import ConfigurationError
    from complaints.workflow.config import load_workflow

    source = Path("config/workflow.toml").read_text(encoding="utf-8")
    weakened = source.replace(
        'en = "What was the reporter told? (the reporter reads this in the mailbox)"\n'
        "required = true\nto_complainant = true\n",
        'en = "What was the reporter told? (the reporter reads this in the mailbox)"\n'
        "required = true\n",
    )
    assert weakened != source
    path = tmp_path / "workflow.toml"
    path.write_text(weakened, encoding="utf-8")
    with pytest.raises(ConfigurationError, match="'feedback' is met_by_message"):
        load_workflow(path)
    wrong_kind = source.replace(
        'name = "outcome"\nkind = "outcome"\n',
        'name = "outcome"\nkind = "outcome"\nto_complainant = true\n',
    )
    path.write_text(wrong_kind, encoding="utf-8")
    with pytest.raises(ConfigurationError, match="only a field of kind text"):
        load_workflow(path)


def test_the_not_admissible_notice_is_met_only_once_its_reasons_reached_the_mailbox(
    app: Flask, clock: Clock
) -> None:
    reasons = {"reasons": "De klacht is ouder dan een jaar."}
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        told = file_on(session, people, clock(), Route.COMMITTEE)
        step(session, told.case_id, "acknowledge", clock.advance(days=1))
        step(session, told.case_id, "declare_not_admissible", clock.advance(days=3), **reasons)
        step(session, told.case_id, "close_not_admissible", clock.advance(days=2))
        assert deadline(session, told.case_id, "notice").met_at == clock()
        assert deadline(session, told.case_id, "decision").met_at is not None

        # Control: the reasons kept from the complainant (a weakened workflow): closing meets
        # neither the notice nor the decision term.
        silent = file_on(session, people, clock(), Route.COMMITTEE)
        weakened = _without_to_complainant(workflow(), Route.COMMITTEE, "declare_not_admissible")
        step(session, silent.case_id, "acknowledge", clock.advance(days=1), weakened)
        step(
            session, silent.case_id, "declare_not_admissible", clock.advance(days=3), weakened,
            **reasons,
        )  # fmt: skip
        step(session, silent.case_id, "close_not_admissible", clock.advance(days=2), weakened)
        for name in ("notice", "decision"):
            term = deadline(session, silent.case_id, name)
            assert (term.met_at, term.cancelled_at) == (None, None), name
