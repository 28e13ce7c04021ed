"""The copy of the complaint for the person complained about (Awb 9:9), written by the secretary.

It can be written once the complaint has reached the state ``copy_to_accused`` names in
workflow.toml; it carries what the complainant wrote and, for the disclosure levels listed
there, who filed it; never the contact details or the witnesses; and it is not one of the
complainant's letters in the mailbox.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import replace

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from complaints.cases.models import Disclosure, Route
from complaints.cases.services import complainant_letters
from complaints.committee.services import (
    CommitteeRefused,
    LetterKind,
    generate_letter,
    open_letter,
)
from complaints.crypto.services import keystore
from complaints.directory.models import Person
from complaints.intake.services import Witness
from complaints.workflow.config import AccusedCopy, Workflow, load_workflow, workflow
from tests.committee import (
    DESCRIPTION,
    FILER,
    SECRETARY,
    advance,
    file_complaint,
    logged_in,
    opened,
    page_url,
    post_form,
)
from tests.conftest import Clock, app_session
from tests.factories import FILER_PHONE, file_report, import_demo_directory
from tests.workflow.test_config import SHIPPED

WITNESS = "Mohamed el Idrissi"


@pytest.fixture
def people(app: Flask, clock: Clock) -> dict[str, Person]:
    with app_session(app) as session:
        return import_demo_directory(session, clock())


def _write(
    app: Flask,
    people: dict[str, Person],
    case_id: uuid.UUID,
    clock: Clock,
    flow: Workflow | None = None,
) -> str:
    """Write the copy as the secretary and return its HTML."""
    with app_session(app) as session:
        committee = opened(session, case_id, people[SECRETARY], clock())
        letter = generate_letter(
            session,
            keystore(),
            flow or workflow(),
            committee,
            kind=LetterKind.COPY_FOR_ACCUSED,
            language="en",
            now=clock(),
        )
        return open_letter(session, keystore(), committee, letter_id=letter.id, now=clock()).html


def test_the_copy_is_written_once_the_complaint_is_accepted_and_names_who_filed_it(
    app: Flask, people: dict[str, Person], clock: Clock
) -> None:
    with app_session(app) as session:
        complaint = file_complaint(
            session, people, clock(), witnesses=(Witness(WITNESS, "m.elidrissi@bzk.example"),)
        )
        for step in ("acknowledge", None):
            committee = opened(session, complaint.case_id, people[SECRETARY], clock())
            with pytest.raises(CommitteeRefused) as refused:
                generate_letter(
                    session,
                    keystore(),
                    workflow(),
                    committee,
                    kind=LetterKind.COPY_FOR_ACCUSED,
                    language="en",
                    now=clock(),
                )
            assert refused.value.reason == "copy_not_yet"
            if step:
                advance(session, complaint.case_id, people[SECRETARY], clock(), step)
        advance(session, complaint.case_id, people[SECRETARY], clock(), "accept")
    letter = _write(app, people, complaint.case_id, clock)
    filer = people[FILER]
    assert "Dear Lotte Bakker," in letter  # to the person complained about
    assert "article 9:9" in letter
    assert DESCRIPTION in letter
    assert f'<dd data-statement="filed-by">{filer.name}</dd>' in letter
    # Never the complainant's contact details, never the witnesses they named.
    for absent in (filer.email, FILER_PHONE, WITNESS, "m.elidrissi@bzk.example"):
        assert absent not in letter
    # Still possible later in the procedure, and never one of the complainant's letters.
    with app_session(app) as session:
        advance(session, complaint.case_id, people[SECRETARY], clock(), "start_hearing")
    _write(app, people, complaint.case_id, clock)
    with app_session(app) as session:
        committee = opened(session, complaint.case_id, people[SECRETARY], clock())
        generate_letter(
            session,
            keystore(),
            workflow(),
            committee,
            kind=LetterKind.ACKNOWLEDGEMENT,
            language="en",
            now=clock(),
        )
        # Of the three letters only the acknowledgement is the complainant's.
        letters = complainant_letters(session, complaint.case_id)
        assert [letter.template for letter in letters] == ["acknowledgement"]


def test_a_workflow_that_keeps_the_name_out_of_the_copy_keeps_it_out(
    app: Flask, people: dict[str, Person], clock: Clock
) -> None:
    """Control: the same confidential complaint carries the name under the shipped rule."""
    with app_session(app) as session:
        complaint = file_report(
            session, clock(), route=Route.COMMITTEE, disclosure=Disclosure.CONFIDENTIAL
        )
        advance(session, complaint.case_id, people[SECRETARY], clock(), "acknowledge", "accept")
    shipped = load_workflow(SHIPPED / "workflow.toml")
    only_named = Workflow(
        {
            **shipped.routes,
            Route.COMMITTEE: replace(
                shipped[Route.COMMITTEE],
                copy_to_accused=AccusedCopy("accepted", frozenset({Disclosure.NAMED})),
            ),
        }
    )
    name = people[FILER].name
    without = _write(app, people, complaint.case_id, clock, flow=only_named)
    assert name not in without
    assert "The name of who filed it is not given in this copy." in without
    with_name = _write(app, people, complaint.case_id, clock, flow=shipped)
    assert f'<dd data-statement="filed-by">{name}</dd>' in with_name


def test_the_secretary_writes_the_copy_on_the_committee_page(
    app: Flask, people: dict[str, Person], clock: Clock
) -> None:
    with app_session(app) as session:
        complaint = file_complaint(session, people, clock())
    secretary: FlaskClient = logged_in(app, SECRETARY, clock())
    page = page_url(complaint.case_id)

    def write() -> TestResponse:
        return post_form(
            secretary, f"{page}/brieven/copy_for_accused", "copy_for_accused", page, language="nl"
        )

    early = write()
    assert early.status_code == 409
    assert "only once the complaint has been taken on" in early.get_data(as_text=True)
    with app_session(app) as session:
        advance(session, complaint.case_id, people[SECRETARY], clock(), "acknowledge", "accept")
    assert write().status_code == 303
    links = re.findall(
        r'href="(/zaken/[^"]+/commissie/brieven/[0-9a-f-]{36})"',
        secretary.get(page).get_data(as_text=True),
    )
    [link] = links
    letter = secretary.get(link).get_data(as_text=True)
    assert '<html lang="nl">' in letter
    assert "Kopie van een klacht over u" in letter
    assert "artikel 9:9" in letter
