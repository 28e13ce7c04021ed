"""Submitting a report through the service: the whole transaction, routed and encrypted."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from complaints.cases.models import CaseAccessGrant, Deadline, Disclosure, Route
from complaints.cases.receipts import normalise_receipt
from complaints.cases.taxonomy import taxonomy
from complaints.crypto.services import indexer, keystore
from complaints.intake.services import AccusedPerson, Identity, Report, submit_report
from complaints.notify.models import Notification
from complaints.stats.models import StatEvent
from complaints.workflow.config import workflow
from tests.conftest import Clock, app_session
from tests.factories import import_demo_directory, unit


def test_a_confidant_report_is_routed_and_recorded(app: Flask, clock: Clock) -> None:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        report = Report(
            category="discrimination",
            grounds=("race",),
            when="2 maart 2026",
            last_incident_on=None,
            ongoing=False,
            unit_id=unit(session, "BZK-APS").id,
            place="koffiehoek",
            description="Een collega maakte een racistische grap over mij.",
            accused=(AccusedPerson("Lotte Bakker", "collega", people["l.bakker@bzk.example"].id),),
            witnesses=(),
            desired_outcome="Een gesprek.",
            route=Route.CONFIDANT,
            disclosure=Disclosure.CONFIDENTIAL,
            identity=Identity("Sanne de Vries", "s.devries@bzk.example"),
        )
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
        assert normalise_receipt(submission.receipt_code)
        assert [r.name for r in submission.recipients] == ["Ingrid Hoekstra"]
        grants = session.scalars(sa.select(CaseAccessGrant)).all()
        assert [g.person_id for g in grants] == [people["i.hoekstra@bzk.example"].id]
        deadline = session.scalars(sa.select(Deadline)).one()
        assert deadline.name == "acknowledge"
        assert str(deadline.due_on) == "2026-03-09"
        assert session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 1
        stat = session.scalars(sa.select(StatEvent)).one()
        assert (stat.kind, stat.category, stat.route) == (
            "submitted",
            "discrimination",
            "confidant",
        )
