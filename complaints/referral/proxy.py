"""Filing on someone's behalf: a confidant takes a report by phone or at the desk.

The report goes through the report form's own service (``submit_report``), so the same checks,
routing and conflict rules apply and the employee gets a receipt code of their own. On top of
that the case records that it was filed by proxy, and by whom. As on the form, a review comes
first: who will receive it, from the same routing, held to on filing (``RecipientsChanged``).

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
from complaints.intake.services import (
    Report,
    Submission,
    check_report,
    preview_recipients,
    submit_report,
)
from complaints.routing.services import NoEligibleHandler, Recipient
from complaints.workflow.config import Workflow

# The routing refusals that mean "not this confidant", after which another one is looked for.
_NOT_THIS_CONFIDANT = frozenset({"chosen_confidant_unavailable", "chosen_confidant_involved"})


class ProxyChannel(StrEnum):
    """How the employee told the confidant."""

    PHONE = "phone"
    WALK_IN = "walk_in"


def proxy_report(
    session: Session, workflow: Workflow, report: Report, *, confidant_person_id: int
) -> Report:
    """The report as it will be filed for the employee: never with a filer, and on the confidant
    route with the confidant who took it when they can take it (another one when not).

    The one place this is decided, so the review shows the recipients the filing then gets.
    """
    report = replace(report, filer_person_id=None, chosen_confidant_id=None)
    if report.route is not Route.CONFIDANT:
        return report
    own = replace(report, chosen_confidant_id=confidant_person_id)
    try:
        preview_recipients(session, workflow, own)
    except NoEligibleHandler as exc:
        if exc.reason not in _NOT_THIS_CONFIDANT:
            raise
        return report
    return own


def preview_on_behalf(
    session: Session,
    taxonomy: Taxonomy,
    workflow: Workflow,
    report: Report,
    *,
    confidant_person_id: int,
) -> list[Recipient]:
    """Who would receive ``report`` if it were filed now; raises ReportRefused or
    NoEligibleHandler as filing would."""
    check_report(taxonomy, report)
    filed = proxy_report(session, workflow, report, confidant_person_id=confidant_person_id)
    return preview_recipients(session, workflow, filed)


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
    expected_recipients: frozenset[int],
    actor: Actor,
    now: datetime,
) -> Submission:
    """File ``report`` for an employee; raises ReportRefused or NoEligibleHandler like the form,
    and RecipientsChanged unless it would go to exactly ``expected_recipients`` (the people the
    review showed).

    The caller commits, and shows the receipt code once, to be handed to the employee.
    """
    check_report(taxonomy, report)
    filed = proxy_report(session, workflow, report, confidant_person_id=confidant_person_id)
    submission = submit_report(
        session,
        keys,
        blind,
        taxonomy,
        workflow,
        filed,
        expected_recipients=expected_recipients,
        now=now,
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
