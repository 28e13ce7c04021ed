"""The machinery of the guided form: its steps, the draft behind them, and moving between them.

The answers are kept in an encrypted draft (``drafts.py``) whose key lives only in this
browser's session cookie, and saved at every step, so going back and forth loses nothing.
Every step page starts the same way (open the draft, or go back to the start when it is
lost; wait until the earlier steps are done): the ``step`` decorator does that once.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask import session as cookie_session
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from complaints import db
from complaints.accounts.login import staff_user
from complaints.cases.attachments import UploadRejected, check_upload
from complaints.cases.labels import relation_in_own_words
from complaints.cases.models import Disclosure
from complaints.cases.services import NewAttachment
from complaints.cases.taxonomy import taxonomy
from complaints.clock import now
from complaints.directory.models import Person
from complaints.directory.search import (
    MIN_FRAGMENT,
    PersonMatch,
    active_person,
    active_unit,
    search_people,
)
from complaints.intake.answers import LoggedIn, report_from_answers
from complaints.intake.drafts import DraftRef, add_file, list_files, load_answers, save_answers
from complaints.intake.forms import PeopleForm
from complaints.intake.services import Report, ReportRefused
from complaints.intake.wording import Option, disclosure_label
from complaints.settings import current_settings
from complaints.web import cookies
from complaints.web.i18n import _, _l, ngettext
from complaints.web.limits import spend
from complaints.web.uploads import (
    rename_notice,
    renamed,
    shown_name,
    size_text,
    upload_message,
)
from complaints.workflow.config import workflow

DRAFT_KEY = "intake_draft"
# Logging in half-way through a report must not lose it (its key is in the cookie only).
cookies.keep_at_login(DRAFT_KEY)

SEARCH_LIMIT = 10


# Steps ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    key: str
    endpoint: str
    title: Any  # a lazily translated text

    @property
    def number(self) -> int:
        return STEP_KEYS.index(self.key) + 1


STEPS = (
    Step("what", "intake.what", _l("What happened")),
    Step("when_where", "intake.when_where", _l("When and where")),
    Step("description", "intake.description", _l("Your story")),
    Step("people", "intake.people", _l("People involved")),
    Step("wishes", "intake.wishes", _l("What you hope for")),
    Step("identity", "intake.identity", _l("Who you are")),
    Step("route", "intake.route", _l("Who handles your report")),
    Step("review", "intake.review", _l("Check and send")),
)
STEP_KEYS = [s.key for s in STEPS]
STEP_BY_KEY = {s.key: s for s in STEPS}
QUESTION_STEPS = STEP_KEYS[:-1]  # every step before the review must be done
# Where each kind of refusal is put right (ReportRefused.field -> step).
FIELD_STEPS = {
    "category": "what",
    "grounds": "what",
    "when": "when_where",
    "place": "when_where",
    "description": "description",
    "accused": "people",
    "witnesses": "people",
    "desired_outcome": "wishes",
    "name": "identity",
    "email": "identity",
    "phone": "identity",
    "manager": "identity",
    "disclosure": "route",
    "route": "route",
}
# Refusals the route page explains itself (the person can put them right by choosing again).
ROUTE_REFUSALS = frozenset(
    {"committee_needs_identity", "manager_required", "route_not_for_category"}
)


@dataclass
class OpenDraft:
    ref: DraftRef
    answers: dict[str, Any]

    @property
    def done(self) -> list[str]:
        return [k for k in self.answers.get("done", []) if k in QUESTION_STEPS]

    def first_open(self) -> Step:
        return next((STEP_BY_KEY[k] for k in QUESTION_STEPS if k not in self.done), STEPS[-1])

    def mark_done(self, key: str, done: bool = True) -> None:
        keys = set(self.done) | {key} if done else set(self.done) - {key}
        self.answers["done"] = [k for k in QUESTION_STEPS if k in keys]


def lifetime() -> timedelta:
    """How long an untouched draft is kept (a setting, read per request)."""
    return timedelta(hours=current_settings().draft_lifetime_hours)


# Drafts ---------------------------------------------------------------------------------------


def cookie_ref() -> DraftRef | None:
    raw = cookie_session.get(DRAFT_KEY)
    return DraftRef.from_cookie(raw) if raw is not None else None


def open_draft(*, for_update: bool = False) -> OpenDraft | None:
    ref = cookie_ref()
    if ref is None:
        return None
    answers = load_answers(db.session(), ref, now=now(), for_update=for_update)
    return OpenDraft(ref, answers) if answers is not None else None


def draft_lost() -> Response:
    """No draft to continue: back to the start page, saying why."""
    if DRAFT_KEY in cookie_session:
        cookie_session.pop(DRAFT_KEY, None)
        flash(
            _(
                "We could not find your report in progress. For your safety, unfinished "
                "reports are deleted %(hours)s hours after the last change, and a report that "
                "has been sent cannot be opened here again. Please start again.",
                hours=current_settings().draft_lifetime_hours,
            ),
            "info",
        )
    else:
        flash(
            _(
                "Start your report here. If you started one in another browser or on another "
                "device, it can only be continued there."
            ),
            "info",
        )
    return redirect(url_for("intake.start"), code=303)


def save(draft: OpenDraft) -> None:
    save_answers(db.session(), draft.ref, draft.answers, now=now(), lifetime=lifetime())


def blocked(draft: OpenDraft, key: str) -> Response | None:
    """Steps are answered in order: a later page waits until the earlier ones are done."""
    first_open = draft.first_open()
    if STEP_KEYS.index(key) > STEP_KEYS.index(first_open.key):
        return redirect(url_for(first_open.endpoint), code=303)
    return None


def open_step(key: str, *, for_update: bool = False) -> OpenDraft | Response:
    """The prelude of every step: the draft, or where to go instead (lost, or not yet)."""
    draft = open_draft(for_update=for_update)
    if draft is None:
        return draft_lost()
    return blocked(draft, key) or draft


StepView = Callable[[OpenDraft], Response | str]


def step(key: str) -> Callable[[StepView], Callable[[], Response | str]]:
    """Run a step's view with its open draft, after the prelude every step shares."""

    def decorate(view: StepView) -> Callable[[], Response | str]:
        @functools.wraps(view)
        def wrapper() -> Response | str:
            draft = open_step(key)
            return draft if isinstance(draft, Response) else view(draft)

        return wrapper

    return decorate


def continue_from(draft: OpenDraft, key: str) -> Response:
    """Save the step as done and go on: to the next step, or back to the review."""
    draft.mark_done(key)
    save(draft)
    target = draft.first_open()
    if target.key != "review":
        index = STEP_KEYS.index(key)
        target = STEPS[index + 1]
    return redirect(url_for(target.endpoint), code=303)


def previous_url(key: str) -> str:
    index = STEP_KEYS.index(key)
    return url_for(STEPS[index - 1].endpoint) if index > 0 else url_for("intake.start")


def initial(values: dict[str, Any]) -> dict[str, Any] | None:
    """Saved answers fill the form when the page is opened; a posted form keeps what was sent."""
    return values if request.method == "GET" else None


def render_step(key: str, template: str, form: Any, **context: Any) -> str:
    return render_template(
        template,
        step=STEP_BY_KEY[key],
        steps_total=len(STEPS),
        back_url=previous_url(key),
        form=form,
        **context,
    )


def step_for(refusal: ReportRefused) -> str:
    return FIELD_STEPS.get(refusal.field or "", "route")


def fix_step(draft: OpenDraft, key: str, message: str) -> Response:
    draft.mark_done(key, False)
    save(draft)
    flash(message, "error")
    return redirect(url_for(STEP_BY_KEY[key].endpoint), code=303)


# The report and who files it ------------------------------------------------------------------


def logged_in_person(session: Session) -> Person | None:
    if not current_user.is_authenticated:
        return None
    return session.get(Person, staff_user().person_id)


def build_report(
    session: Session, draft: OpenDraft, *, attachments: tuple[NewAttachment, ...]
) -> Report:
    """The report from the saved answers, for whoever is logged in in this browser."""
    anonymous = (draft.answers.get("disclosure") or Disclosure.ANONYMOUS.value) == (
        Disclosure.ANONYMOUS.value
    )
    # Who is logged in matters only to a report with a name (see answers.filer_person_id).
    me = None if anonymous else logged_in_person(session)
    logged_in = LoggedIn(me.id, me.name) if me is not None else None
    return report_from_answers(draft.answers, logged_in=logged_in, attachments=attachments)


# Form actions ---------------------------------------------------------------------------------


def action(*buttons: str) -> str:
    """Which button sent the form: a named button (such as "remove") or the ``action`` value.

    Pressing Enter in a text field sends the form as if its first button was pressed, so on
    pages with a search box that button is "Search", never one that removes something.
    """
    return next((b for b in buttons if b in request.form), request.form.get("action", "continue"))


def optional_int(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) <= 18 else None


def optional_uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


# People involved ------------------------------------------------------------------------------


@dataclass
class Search:
    query: str = ""
    results: list[PersonMatch] = field(default_factory=list)
    searched: bool = False

    @property
    def options(self) -> list[Option]:
        return [Option(str(p.id), p.name, _person_hint(p)) for p in self.results]


def _person_hint(person: PersonMatch) -> str:
    return ", ".join(part for part in (person.job_title, person.unit_name) if part)


def _index(value: str | None, items: list[dict[str, Any]]) -> int | None:
    if value is None or not value.isdigit():
        return None
    index = int(value)
    return index if index < len(items) else None


def remove_person(draft: OpenDraft, items: list[dict[str, Any]], value: str | None) -> str | None:
    index = _index(value, items)
    if index is None:
        return None
    removed = items.pop(index)
    save(draft)
    return _("%(name)s has been removed.", name=removed["name"])


def add_person(
    session: Session,
    draft: OpenDraft,
    form: PeopleForm,
    kind: str,
    items: list[dict[str, Any]],
) -> str | None:
    """Add the accused person or witness filled in on the form; errors go on the form."""
    valid = form.check_accused(len(items)) if kind == "accused" else form.check_witness(len(items))
    entry = _person_entry(session, form, kind) if valid else None
    if entry is None:
        return None
    # Reloading the page after adding someone posts the form again: do not add them twice.
    if entry not in items:
        items.append(entry)
    save(draft)
    prefix = "accused" if kind == "accused" else "witness"
    last = "relation" if kind == "accused" else "contact"
    for name in ("query", "pick", "name", last):
        form[f"{prefix}_{name}"].data = ""
    return _("%(name)s has been added.", name=entry["name"])


def _person_entry(session: Session, form: PeopleForm, kind: str) -> dict[str, Any] | None:
    """The person filled in on the form, checked against the directory when picked from it."""
    pick_field = form.accused_pick if kind == "accused" else form.witness_pick
    name_field = form.accused_name if kind == "accused" else form.witness_name
    entry: dict[str, Any] = {"name": name_field.data or "", "person_id": None}
    if pick_field.data:
        person_id = form.picked(pick_field)
        person = active_person(session, person_id) if person_id is not None else None
        if person is None:
            name_field.errors.append(
                _l("That person is no longer in the directory. Search again or type a name.")
            )
            return None
        entry = {"name": person.name, "person_id": person.id}
    if kind == "accused":
        entry["relation"] = form.accused_relation.data
    else:
        entry["contact"] = form.witness_contact.data or ""
    return entry


def search(session: Session, query_field: Any) -> Search:
    query = query_field.data or ""
    if not query or query_field.errors:
        return Search(query)
    if len(query) < MIN_FRAGMENT:
        query_field.errors.append(_l("Type at least 2 letters of the name."))
        return Search(query)
    if not spend(current_settings().directory_search_rate_limit, "directory-search"):
        # Enough searches for anyone filing a report; this stops copying the directory.
        query_field.errors.append(
            _l(
                "You have searched many times in a short while. Please wait a while before "
                "searching again, or type the name yourself."
            )
        )
        return Search(query)
    return Search(query, search_people(session, query, limit=SEARCH_LIMIT), searched=True)


# Files ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Added:
    """What became of an uploaded file: refused (``problem``), or kept (maybe renamed)."""

    problem: str | None = None
    renamed: str | None = None  # why it is kept under another ending than it was given


def add_upload(session: Session, ref: DraftRef, upload: FileStorage) -> Added:
    """Check and keep an uploaded file, saying what is wrong or what changed."""
    settings = current_settings()
    name = shown_name(upload.filename or "")
    if len(list_files(session, ref)) >= settings.max_attachments:
        return Added(
            ngettext(
                "You can add one file. Remove it to add “%(name)s”.",
                "You can add at most %(num)d files. Remove a file to add “%(name)s”.",
                settings.max_attachments,
                name=name,
            )
        )
    data = upload.stream.read(settings.max_attachment_bytes + 1)
    try:
        checked = check_upload(name, data, max_bytes=settings.max_attachment_bytes)
    except UploadRejected as exc:
        return Added(upload_message(exc.reason, name, size_text(settings.max_attachment_bytes)))
    add_file(session, ref, checked, now=now())
    if not renamed(name, checked.name):
        return Added()
    # Shown on the page itself (never through the cookie), so the names may be in it.
    return Added(renamed=rename_notice(name, checked.name, checked.content_type, names=True))


# The review -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryRow:
    label: Any
    values: list[str]
    step: Step
    long_text: bool = False


def summary(session: Session, draft: OpenDraft, report: Report) -> list[SummaryRow]:
    """Every answer, in words, with the step where it can be changed."""
    tax = taxonomy()
    none = _("Not given")
    step = STEP_BY_KEY
    category = tax.categories[report.category]
    unit = active_unit(session, report.unit_id) if report.unit_id else None
    manager = active_person(session, report.manager_person_id) if report.manager_person_id else None
    files = list_files(session, draft.ref)
    identity_values = [disclosure_label(report.disclosure.value)]
    if report.identity is not None:
        identity_values += [
            _("Name: %(name)s", name=report.identity.name),
            _("E-mail: %(email)s", email=report.identity.email or none),
            _("Phone: %(phone)s", phone=report.identity.phone or none),
        ]
    confidant = (
        active_person(session, report.chosen_confidant_id) if report.chosen_confidant_id else None
    )
    route_values = [str(workflow()[report.route].label)]
    if confidant is not None:
        route_values.append(_("Chosen counsellor: %(name)s", name=confidant.name))
    rows = [
        SummaryRow(_l("What happened"), [str(category.label)], step["what"]),
    ]
    if report.grounds:
        rows.append(
            SummaryRow(
                _l("Grounds of discrimination"),
                [str(tax.grounds[g].label) for g in report.grounds if g in tax.grounds],
                step["what"],
            )
        )
    rows += [
        SummaryRow(_l("When"), [report.when or none], step["when_where"]),
        SummaryRow(
            _l("Where"),
            [v for v in (unit.name if unit else "", report.place) if v] or [none],
            step["when_where"],
        ),
        SummaryRow(_l("Your story"), [report.description], step["description"], long_text=True),
        SummaryRow(
            _l("People your report is about"),
            [
                _(
                    "%(name)s (%(relation)s)",
                    name=p.name,
                    relation=relation_in_own_words(p.relation),
                )
                for p in report.accused
            ]
            or [none],
            step["people"],
        ),
        SummaryRow(
            _l("Witnesses"),
            [
                _("%(name)s (%(contact)s)", name=w.name, contact=w.contact) if w.contact else w.name
                for w in report.witnesses
            ]
            or [none],
            step["people"],
        ),
        SummaryRow(
            _l("What you hope for"),
            [report.desired_outcome or none],
            step["wishes"],
            long_text=bool(report.desired_outcome),
        ),
        SummaryRow(_l("Files"), [f.name for f in files] or [none], step["wishes"]),
        SummaryRow(_l("Who you are"), identity_values, step["identity"]),
        SummaryRow(_l("Your manager"), [manager.name if manager else none], step["identity"]),
        SummaryRow(_l("Who handles your report"), route_values, step["route"]),
    ]
    return rows
