"""The saved answers of the guided form, turned into the report the intake service takes.

Pure: no request, no database and no cookie. The wizard passes in who is logged in (if
anyone) and the files, so the rules here (above all: who counts as the filer) can be tested
without a browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from complaints.cases.models import Disclosure, Route
from complaints.cases.services import NewAttachment
from complaints.crypto.blind_index import normalise_name
from complaints.intake.services import AccusedPerson, Identity, Report, Witness
from complaints.web.dates import format_date
from complaints.web.i18n import _


@dataclass(frozen=True)
class LoggedIn:
    """The employee who is logged in while filling in the form (from the directory)."""

    person_id: int
    name: str


def report_from_answers(
    answers: dict[str, Any],
    *,
    logged_in: LoggedIn | None,
    attachments: tuple[NewAttachment, ...] = (),
) -> Report:
    """The report as the service takes it, from the saved answers."""
    a = answers
    disclosure = Disclosure(a.get("disclosure") or Disclosure.ANONYMOUS.value)
    filer = filer_person_id(a, disclosure, logged_in)
    identity = None
    if disclosure is not Disclosure.ANONYMOUS:
        identity = Identity(a.get("name", ""), a.get("email", ""), a.get("phone", ""), filer)
    start, end = day(a.get("date_from")), day(a.get("date_to"))
    return Report(
        category=a.get("category", ""),
        grounds=tuple(a.get("grounds", [])),
        when=when_text(a),
        last_incident_on=end or start,
        ongoing=bool(a.get("ongoing")),
        unit_id=a.get("unit_id"),
        place=a.get("place", ""),
        description=a.get("description", ""),
        accused=tuple(
            AccusedPerson(p["name"], p.get("relation", ""), p.get("person_id"))
            for p in a.get("accused", [])
        ),
        witnesses=tuple(
            Witness(p["name"], p.get("contact", ""), p.get("person_id"))
            for p in a.get("witnesses", [])
        ),
        desired_outcome=a.get("desired_outcome", ""),
        route=Route(a.get("route") or Route.CONFIDANT.value),
        disclosure=disclosure,
        identity=identity,
        manager_person_id=a.get("manager_person_id"),
        chosen_confidant_id=a.get("confidant_id"),
        attachments=attachments,
        filer_person_id=filer,
    )


def filer_person_id(
    answers: dict[str, Any], disclosure: Disclosure, logged_in: LoggedIn | None
) -> int | None:
    """A logged-in employee filing under their own name: the report shows in "my reports".

    Only when the name given is theirs: a counsellor filing for someone else is not the filer.
    """
    if disclosure is Disclosure.ANONYMOUS or logged_in is None:
        return None
    if normalise_name(answers.get("name", "")) != normalise_name(logged_in.name):
        return None
    return logged_in.person_id


def day(value: Any) -> date | None:
    """A saved ISO date, or None when it is missing or not a date."""
    try:
        return date.fromisoformat(value) if isinstance(value, str) and value else None
    except ValueError:
        return None


def when_text(answers: dict[str, Any]) -> str:
    """When it happened, in words, as the handler will read it."""
    start, end = day(answers.get("date_from")), day(answers.get("date_to"))
    parts = []
    if start and end and end != start:
        parts.append(
            _(
                "from %(start)s to %(end)s",
                start=format_date(start),
                end=format_date(end),
            )
        )
    elif (only := start or end) is not None:
        parts.append(format_date(only))
    if answers.get("ongoing"):
        parts.append(_("still going on"))
    if answers.get("when_text"):
        parts.append(answers["when_text"])
    return "; ".join(parts)
