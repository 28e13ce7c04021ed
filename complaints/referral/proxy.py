"""Filing on someone's behalf: a confidant takes a report by phone or at the desk.

The report goes through the report form's own service (``submit_report``), so the same checks,
routing and conflict rules apply and the employee gets a receipt code of their own. On top of
that the case records that it was filed by proxy, and by whom.

Who receives it: on the confidant route, the confidant who took the report (they already
know the story and the employee); if they cannot take it — they do not serve that
organisation, or are named in it — the routing rules pick another confidant as for any
report. On the other routes the confidant gets no access: the report is the employee's, who
follows it up with the receipt code.

The employee is never made the "filer" of the report: that would show it under "My reports"
of whoever the confidant picked from the directory, and a slip of the mouse must not hand a
report to someone else.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from complaints.audit.services import Actor, record_event
from complaints.cases.models import CaseEvent, Route
from complaints.cases.taxonomy import Taxonomy
from complaints.crypto.blind_index import BlindIndexer
from complaints.crypto.keystore import KeyStore
from complaints.intake.services import Report, Submission, submit_report
from complaints.routing.services import NoEligibleHandler
from complaints.workflow.config import Workflow

# The routing refusals that mean "not this confidant", after which another one is looked for.
_NOT_THIS_CONFIDANT = frozenset({"chosen_confidant_unavailable", "chosen_confidant_involved"})


class ProxyChannel(StrEnum):
    """How the employee told the confidant."""

    PHONE = "phone"
    WALK_IN = "walk_in"


def file_on_behalf(
    session: Session,
    keys: KeyStore,
    blind: BlindIndexer,
    taxonomy: Taxonomy,
    workflow: Workflow,
    report: Report,
    *,
    confidant_person_id: int,
    channel: ProxyChannel,
    actor: Actor,
    now: datetime,
) -> Submission:
    """File ``report`` for an employee; raises ReportRefused or NoEligibleHandler like the form.

    The caller commits, and shows the receipt code once, to be handed to the employee.
    """
    report = replace(report, filer_person_id=None)
    if report.route is Route.CONFIDANT:
        try:
            submission = _submit(
                session,
                keys,
                blind,
                taxonomy,
                workflow,
                replace(report, chosen_confidant_id=confidant_person_id),
                now,
            )
        except NoEligibleHandler as exc:
            if exc.reason not in _NOT_THIS_CONFIDANT:
                raise
            submission = _submit(
                session,
                keys,
                blind,
                taxonomy,
                workflow,
                replace(report, chosen_confidant_id=None),
                now,
            )
    else:
        submission = _submit(
            session, keys, blind, taxonomy, workflow, replace(report, chosen_confidant_id=None), now
        )
    case = submission.case
    session.add(
        CaseEvent(
            id=uuid.uuid4(),
            case_id=case.id,
            occurred_at=now,
            kind="filed_by_proxy",
            actor_person_id=confidant_person_id,
        )
    )
    record_event(
        session,
        keys,
        actor=actor,
        action="case.filed_by_proxy",
        now=now,
        object_type="case",
        object_id=str(case.id),
        details={
            "channel": channel.value,
            "route": case.route.value,
            "confidant_person_id": confidant_person_id,
            "kept_by_confidant": any(
                r.person_id == confidant_person_id for r in submission.recipients
            ),
        },
    )
    session.flush()
    return submission


def _submit(
    session: Session,
    keys: KeyStore,
    blind: BlindIndexer,
    taxonomy: Taxonomy,
    workflow: Workflow,
    report: Report,
    now: datetime,
) -> Submission:
    # No review page came first, so there is no list of recipients to hold the result to.
    return submit_report(
        session, keys, blind, taxonomy, workflow, report, expected_recipients=None, now=now
    )
