"""The guided report form at /melden: one question per page, a review, and the submission.

The answers are kept in an encrypted draft (``drafts.py``) whose key lives only in this
browser's session cookie, and saved at every step, so going back and forth loses nothing.
Nothing is filed until the last step. The receipt code is shown once, in the response to the
submission itself: it never goes into a URL, a redirect, a flash message, a log or an e-mail.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as cookie_session
from flask_babel import format_date, format_decimal
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from complaints import db
from complaints.accounts.login import staff_user
from complaints.accounts.models import Role
from complaints.cases.attachments import UploadRejected, check_upload
from complaints.cases.models import Disclosure, Route
from complaints.cases.services import NewAttachment
from complaints.cases.taxonomy import Taxonomy, taxonomy
from complaints.clock import now
from complaints.crypto.blind_index import normalise_name
from complaints.crypto.services import indexer, keystore
from complaints.directory.models import Person
from complaints.directory.search import (
    MIN_FRAGMENT,
    PersonMatch,
    active_person,
    active_unit,
    ministry_of,
    role_holders,
    search_people,
    units_by_ministry,
)
from complaints.intake.drafts import (
    DraftRef,
    add_file,
    discard_draft,
    file_contents,
    list_files,
    load_answers,
    purge_expired_drafts,
    remove_file,
    save_answers,
    start_draft,
)
from complaints.intake.forms import (
    DescriptionForm,
    IdentityForm,
    PeopleForm,
    RouteForm,
    SubmitForm,
    WhatForm,
    WhenWhereForm,
    WishesForm,
)
from complaints.intake.services import (
    MAX_TEXT,
    AccusedPerson,
    Identity,
    RecipientsChanged,
    Report,
    ReportRefused,
    Witness,
    check_report,
    preview_recipients,
    submit_report,
)
from complaints.intake.wording import (
    Option,
    basis_text,
    disclosure_label,
    disclosure_options,
    grant_label,
    no_handler_message,
    refusal_message,
    relation_label,
    relation_options,
    route_infos,
)
from complaints.logs import get_logger
from complaints.routing.services import NoEligibleHandler
from complaints.settings import current_settings
from complaints.web import cookies
from complaints.web.errors import render_error, service_unavailable
from complaints.web.i18n import _, _l, ngettext
from complaints.web.limits import limiter, spend
from complaints.web.uploads import shown_name, size_text, upload_message
from complaints.workflow.config import Workflow, workflow
from complaints.workflow.services import deadline_views, local_date

bp = Blueprint("intake", __name__, template_folder="templates")
log = get_logger(__name__)

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


# Settings read per request, so tests (and operators) can change them.


def _intake_rate_limit() -> str:
    return current_settings().intake_rate_limit


def _intake_global_rate_limit() -> str:
    return current_settings().intake_global_rate_limit


def _everyone() -> str:
    return "all"


def _lifetime() -> timedelta:
    return timedelta(hours=current_settings().draft_lifetime_hours)


# Drafts ---------------------------------------------------------------------------------------


def _cookie_ref() -> DraftRef | None:
    raw = cookie_session.get(DRAFT_KEY)
    return DraftRef.from_cookie(raw) if raw is not None else None


def _open_draft(*, for_update: bool = False) -> OpenDraft | None:
    ref = _cookie_ref()
    if ref is None:
        return None
    answers = load_answers(db.session(), ref, now=now(), for_update=for_update)
    return OpenDraft(ref, answers) if answers is not None else None


def _draft_lost() -> Response:
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


def _save(draft: OpenDraft) -> None:
    save_answers(db.session(), draft.ref, draft.answers, now=now(), lifetime=_lifetime())


def _blocked(draft: OpenDraft, key: str) -> Response | None:
    """Steps are answered in order: a later page waits until the earlier ones are done."""
    first_open = draft.first_open()
    if STEP_KEYS.index(key) > STEP_KEYS.index(first_open.key):
        return redirect(url_for(first_open.endpoint), code=303)
    return None


def _continue(draft: OpenDraft, key: str) -> Response:
    """Save the step as done and go on: to the next step, or back to the review."""
    draft.mark_done(key)
    _save(draft)
    target = draft.first_open()
    if target.key != "review":
        index = STEP_KEYS.index(key)
        target = STEPS[index + 1]
    return redirect(url_for(target.endpoint), code=303)


def _previous_url(key: str) -> str:
    index = STEP_KEYS.index(key)
    return url_for(STEPS[index - 1].endpoint) if index > 0 else url_for("intake.start")


def _initial(values: dict[str, Any]) -> dict[str, Any] | None:
    """Saved answers fill the form when the page is opened; a posted form keeps what was sent."""
    return values if request.method == "GET" else None


def _render_step(key: str, template: str, form: Any, **context: Any) -> str:
    return render_template(
        template,
        step=STEP_BY_KEY[key],
        steps_total=len(STEPS),
        back_url=_previous_url(key),
        form=form,
        **context,
    )


# Start ----------------------------------------------------------------------------------------


@bp.get("/melden")
def start() -> str:
    draft = _open_draft()
    return render_template(
        "intake/start.html",
        draft=draft,
        resume_url=url_for(draft.first_open().endpoint) if draft else None,
        routes=route_infos(workflow(), list(Route)),
        hours=current_settings().draft_lifetime_hours,
    )


@bp.post("/melden")
def begin() -> Response:
    # Only a button: the CSRF token, checked for every POST before any view runs, is the form.
    session = db.session()
    old = _cookie_ref()
    if old is not None:
        discard_draft(session, old)
    # A good moment to tidy up: drafts nobody finished are deleted once they expire.
    purge_expired_drafts(session, now=now())
    ref = start_draft(session, now=now(), lifetime=_lifetime())
    cookie_session[DRAFT_KEY] = ref.to_cookie()
    return redirect(url_for("intake.what"), code=303)


@bp.post("/melden/verwijderen")
def discard() -> Response:
    ref = _cookie_ref()
    if ref is not None:
        discard_draft(db.session(), ref)
    cookie_session.pop(DRAFT_KEY, None)
    flash(_("Your answers have been deleted. Nothing was sent."), "success")
    return redirect(url_for("intake.start"), code=303)


# Step 1: what happened ------------------------------------------------------------------------


@bp.route("/melden/wat", methods=["GET", "POST"])
def what() -> Response | str:
    draft = _open_draft()
    if draft is None:
        return _draft_lost()
    tax = taxonomy()
    answers = draft.answers
    form = WhatForm(
        categories=[c.key for c in tax.offered],
        grounds=list(tax.grounds),
        asks_grounds=lambda key: key in tax.categories and tax.categories[key].asks_grounds,
        data=_initial(
            {"category": answers.get("category", ""), "grounds": answers.get("grounds", [])}
        ),
    )
    if form.validate_on_submit():
        category = tax.categories[form.category.data]
        answers["category"] = category.key
        # Grounds belong to discrimination only; for another category they are dropped.
        answers["grounds"] = list(form.grounds.data) if category.asks_grounds else []
        return _continue(draft, "what")
    return _render_step(
        "what",
        "intake/what.html",
        form,
        categories=[Option(c.key, c.label, c.hint) for c in tax.offered],
        grounds=[Option(g.key, g.label) for g in tax.grounds.values()],
        grounds_for=[str(c.label) for c in tax.offered if c.asks_grounds],
    )


# Step 2: when and where -----------------------------------------------------------------------


@bp.route("/melden/wanneer-waar", methods=["GET", "POST"])
def when_where() -> Response | str:
    draft = _open_draft()
    if draft is None:
        return _draft_lost()
    if (blocked := _blocked(draft, "when_where")) is not None:
        return blocked
    answers = draft.answers
    groups = units_by_ministry(db.session())
    form = WhenWhereForm(
        unit_ids=[str(u.id) for g in groups for u in g.units],
        today=local_date(now()),
        data=_initial(
            {
                "date_from": _day(answers.get("date_from")),
                "date_to": _day(answers.get("date_to")),
                "ongoing": answers.get("ongoing", False),
                "when_text": answers.get("when_text", ""),
                "unit": str(answers.get("unit_id") or ""),
                "place": answers.get("place", ""),
            }
        ),
    )
    form.unit.choices = [SelectChoice("", _("Not chosen"))] + [
        SelectChoice(str(u.id), u.name, optgroup=g.ministry.name) for g in groups for u in g.units
    ]
    if form.validate_on_submit():
        answers["date_from"] = form.date_from.data.isoformat() if form.date_from.data else ""
        answers["date_to"] = form.date_to.data.isoformat() if form.date_to.data else ""
        answers["ongoing"] = bool(form.ongoing.data)
        answers["when_text"] = form.when_text.data or ""
        answers["unit_id"] = int(form.unit.data) if form.unit.data else None
        answers["place"] = form.place.data or ""
        return _continue(draft, "when_where")
    return _render_step("when_where", "intake/when_where.html", form)


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) and value else None
    except ValueError:
        return None


# Step 3: the account --------------------------------------------------------------------------


@bp.route("/melden/beschrijving", methods=["GET", "POST"])
def description() -> Response | str:
    draft = _open_draft()
    if draft is None:
        return _draft_lost()
    if (blocked := _blocked(draft, "description")) is not None:
        return blocked
    form = DescriptionForm(data=_initial({"description": draft.answers.get("description", "")}))
    if form.validate_on_submit():
        draft.answers["description"] = form.description.data
        return _continue(draft, "description")
    return _render_step(
        "description", "intake/description.html", form, max_text=format_decimal(MAX_TEXT)
    )


# Step 4: people involved ----------------------------------------------------------------------


@dataclass
class _Search:
    query: str = ""
    results: list[PersonMatch] = field(default_factory=list)
    searched: bool = False

    @property
    def options(self) -> list[Option]:
        return [Option(str(p.id), p.name, _person_hint(p)) for p in self.results]


def _person_hint(person: PersonMatch) -> str:
    return ", ".join(part for part in (person.job_title, person.unit_name) if part)


@bp.route("/melden/betrokkenen", methods=["GET", "POST"])
def people() -> Response | str:
    draft = _open_draft()
    if draft is None:
        return _draft_lost()
    if (blocked := _blocked(draft, "people")) is not None:
        return blocked
    session = db.session()
    accused: list[dict[str, Any]] = draft.answers.setdefault("accused", [])
    witnesses: list[dict[str, Any]] = draft.answers.setdefault("witnesses", [])
    form = PeopleForm()
    notice = None
    if form.is_submitted():
        action = _action("remove_accused", "remove_witness")
        if action == "search" and not (form.accused_query.data or form.witness_query.data):
            action = "continue"  # Enter pressed in a field other than a search box
        form.partial = True
        if form.validate():
            if action == "remove_accused":
                notice = _remove(draft, accused, request.form.get("remove_accused"))
            elif action == "remove_witness":
                notice = _remove(draft, witnesses, request.form.get("remove_witness"))
            # "Continue" also adds whoever was filled in but not yet added: nothing is lost.
            if action == "add_accused" or (action == "continue" and form.accused_started()):
                added = _add_person(session, draft, form, "accused", accused)
                notice = added or notice
            if action == "add_witness" or (action == "continue" and form.witness_started()):
                added = _add_person(session, draft, form, "witness", witnesses)
                notice = added or notice
            if action == "continue" and not form.errors:
                return _continue(draft, "people")
    return _render_step(
        "people",
        "intake/people.html",
        form,
        accused=[dict(a, relation_label=relation_label(a.get("relation", ""))) for a in accused],
        witnesses=witnesses,
        accused_search=_search(session, form.accused_query),
        witness_search=_search(session, form.witness_query),
        relations=relation_options(),
        notice=notice,
    )


def _index(value: str | None, items: list[dict[str, Any]]) -> int | None:
    if value is None or not value.isdigit():
        return None
    index = int(value)
    return index if index < len(items) else None


def _action(*buttons: str) -> str:
    """Which button sent the form: a named button (such as "remove") or the ``action`` value.

    Pressing Enter in a text field sends the form as if its first button was pressed, so on
    pages with a search box that button is "Search", never one that removes something.
    """
    return next((b for b in buttons if b in request.form), request.form.get("action", "continue"))


def _remove(draft: OpenDraft, items: list[dict[str, Any]], value: str | None) -> str | None:
    index = _index(value, items)
    if index is None:
        return None
    removed = items.pop(index)
    _save(draft)
    return _("%(name)s has been removed.", name=removed["name"])


def _add_person(
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
    _save(draft)
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


def _search(session: Session, query_field: Any) -> _Search:
    query = query_field.data or ""
    if not query or query_field.errors:
        return _Search(query)
    if len(query) < MIN_FRAGMENT:
        query_field.errors.append(_l("Type at least 2 letters of the name."))
        return _Search(query)
    if not spend(current_settings().directory_search_rate_limit, "directory-search"):
        # Enough searches for anyone filing a report; this stops copying the directory.
        query_field.errors.append(
            _l(
                "You have searched many times in a short while. Please wait a while before "
                "searching again, or type the name yourself."
            )
        )
        return _Search(query)
    return _Search(query, search_people(session, query, limit=SEARCH_LIMIT), searched=True)


# Step 5: what you hope for, and documents -----------------------------------------------------


@bp.route("/melden/wensen", methods=["GET", "POST"])
def wishes() -> Response | str:
    draft = _open_draft()
    if draft is None:
        return _draft_lost()
    if (blocked := _blocked(draft, "wishes")) is not None:
        return blocked
    session = db.session()
    settings = current_settings()
    form = WishesForm(data=_initial({"desired_outcome": draft.answers.get("desired_outcome", "")}))
    notice = None
    if form.is_submitted():
        action = _action("remove_file")
        form.partial = action != "continue"
        file_id = _uuid(request.form.get("remove_file"))
        if file_id is not None and remove_file(session, draft.ref, file_id):
            notice = _("The file has been removed.")
        if form.validate():
            draft.answers["desired_outcome"] = form.desired_outcome.data or ""
            upload = form.attachment.data
            if isinstance(upload, FileStorage) and upload.filename:
                problem = _add_upload(session, draft.ref, upload)
                if problem is None:
                    notice = _("The file has been added.")
                else:
                    form.attachment.errors.append(problem)
            _save(draft)
            if action == "continue" and not form.errors:
                return _continue(draft, "wishes")
    return _render_step(
        "wishes",
        "intake/wishes.html",
        form,
        files=[(f, size_text(f.size)) for f in list_files(session, draft.ref)],
        max_files=settings.max_attachments,
        max_size=size_text(settings.max_attachment_bytes),
        notice=notice,
    )


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def _add_upload(session: Session, ref: DraftRef, upload: FileStorage) -> str | None:
    """Check and keep an uploaded file; a message saying what is wrong, or None."""
    settings = current_settings()
    name = shown_name(upload.filename or "")
    if len(list_files(session, ref)) >= settings.max_attachments:
        return ngettext(
            "You can add one file. Remove it to add “%(name)s”.",
            "You can add at most %(num)d files. Remove a file to add “%(name)s”.",
            settings.max_attachments,
            name=name,
        )
    data = upload.stream.read(settings.max_attachment_bytes + 1)
    try:
        checked = check_upload(name, data, max_bytes=settings.max_attachment_bytes)
    except UploadRejected as exc:
        return upload_message(exc.reason, name, size_text(settings.max_attachment_bytes))
    add_file(session, ref, checked, now=now())
    return None


# Step 6: who you are --------------------------------------------------------------------------


@bp.route("/melden/wie", methods=["GET", "POST"])
def identity() -> Response | str:
    draft = _open_draft()
    if draft is None:
        return _draft_lost()
    if (blocked := _blocked(draft, "identity")) is not None:
        return blocked
    session = db.session()
    answers = draft.answers
    me = _logged_in_person(session)
    initial = {
        "disclosure": answers.get("disclosure", ""),
        "name": answers.get("name", ""),
        "email": answers.get("email", ""),
        "phone": answers.get("phone", ""),
    }
    if me is not None and not initial["name"] and not initial["email"]:
        initial.update(name=me.name, email=me.email)
    # The manager: chosen on this page, or for a logged-in employee taken from the directory.
    manager_id: int | None = answers.get("manager_person_id")
    if "manager_person_id" not in answers and me is not None:
        manager_id = me.manager_id
    form = IdentityForm(data=_initial(initial))
    notice = None
    if form.is_submitted():
        action = _action()
        if action == "search" and not form.manager_query.data:
            action = "continue"  # Enter pressed in a field other than the search box
        form.partial = action != "continue"
        if form.validate():
            answers.update(
                disclosure=form.disclosure.data,
                name=form.name.data or "",
                email=form.email.data or "",
                phone=form.phone.data or "",
            )
            if action == "clear_manager":
                manager_id = None
                notice = _("Your manager has been removed from the report.")
            elif form.manager_pick.data:
                picked = _optional_int(form.manager_pick.data)
                person = active_person(session, picked) if picked is not None else None
                if person is None:
                    form.manager_query.errors.append(
                        _l("That person is no longer in the directory. Search again.")
                    )
                else:
                    manager_id = person.id
                    form.manager_query.data = ""
                    form.manager_pick.data = ""
            answers["manager_person_id"] = manager_id
            _save(draft)
            if action == "continue" and not form.errors:
                return _continue(draft, "identity")
    manager = active_person(session, manager_id) if manager_id is not None else None
    return _render_step(
        "identity",
        "intake/identity.html",
        form,
        disclosures=disclosure_options(),
        logged_in_as=me.name if me is not None else None,
        manager=manager,
        manager_search=_search(session, form.manager_query),
        notice=notice,
    )


def _optional_int(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) <= 18 else None


def _logged_in_person(session: Session) -> Person | None:
    if not current_user.is_authenticated:
        return None
    return session.get(Person, staff_user().person_id)


# Step 7: who handles the report ---------------------------------------------------------------


@bp.route("/melden/route", methods=["GET", "POST"])
def route() -> Response | str:
    draft = _open_draft()
    if draft is None:
        return _draft_lost()
    if (blocked := _blocked(draft, "route")) is not None:
        return blocked
    session = db.session()
    answers = draft.answers
    tax = taxonomy()
    category = tax.categories[answers["category"]]
    confidants = role_holders(session, Role.CONFIDANT, ministry_of(session, answers.get("unit_id")))
    form = RouteForm(
        routes=[r.value for r in category.routes],
        confidants=[str(p.id) for p in confidants],
        data=_initial(
            {"route": answers.get("route", ""), "confidant": str(answers.get("confidant_id") or "")}
        ),
    )
    form.confidant.choices = [SelectChoice("", _("Any available counsellor"))] + [
        SelectChoice(str(p.id), _("%(name)s, %(unit)s", name=p.name, unit=p.unit_name))
        for p in confidants
    ]
    refused_committee = False
    if form.validate_on_submit():
        chosen = Route(form.route.data)
        answers["route"] = chosen.value
        answers["confidant_id"] = (
            int(form.confidant.data) if chosen is Route.CONFIDANT and form.confidant.data else None
        )
        problem = _route_problem(session, tax, workflow(), draft)
        if problem is None:
            return _continue(draft, "route")
        field_name, message = problem
        refused_committee = message == refusal_message("committee_needs_identity")
        (form.confidant if field_name == "confidant" else form.route).errors.append(message)
        draft.mark_done("route", False)
        _save(draft)  # keep the choice, so nothing typed is lost; the review waits for a fix
    return _render_step(
        "route",
        "intake/route.html",
        form,
        routes=route_infos(workflow(), category.routes),
        anonymous=answers.get("disclosure") == Disclosure.ANONYMOUS.value,
        refused_committee=refused_committee,
        has_confidants=bool(confidants),
    )


def _route_problem(
    session: Session, tax: Taxonomy, flow: Workflow, draft: OpenDraft
) -> tuple[str, str] | None:
    """Why the chosen route cannot take this report (field, message), or None."""
    report = _report(session, draft, attachments=())
    try:
        check_report(tax, report)
    except ReportRefused as exc:
        if exc.reason in ROUTE_REFUSALS:
            return "route", refusal_message(exc.reason)
        return None  # another step's answer; the review sends the person there
    try:
        preview_recipients(session, flow, report)
    except NoEligibleHandler as exc:
        field_name = "confidant" if exc.reason.startswith("chosen_") else "route"
        return field_name, no_handler_message(exc.reason)
    return None


# Building the report --------------------------------------------------------------------------


def _report(
    session: Session, draft: OpenDraft, *, attachments: tuple[NewAttachment, ...]
) -> Report:
    """The report as the service takes it, from the saved answers."""
    a = draft.answers
    disclosure = Disclosure(a.get("disclosure") or Disclosure.ANONYMOUS.value)
    filer = _filer_person_id(session, a, disclosure)
    identity = None
    if disclosure is not Disclosure.ANONYMOUS:
        identity = Identity(a.get("name", ""), a.get("email", ""), a.get("phone", ""), filer)
    start, end = _day(a.get("date_from")), _day(a.get("date_to"))
    return Report(
        category=a.get("category", ""),
        grounds=tuple(a.get("grounds", [])),
        when=_when_text(a),
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


def _filer_person_id(
    session: Session, answers: dict[str, Any], disclosure: Disclosure
) -> int | None:
    """A logged-in employee filing under their own name: the report shows in "my reports".

    Only when the name given is theirs: a counsellor filing for someone else is not the filer.
    """
    if disclosure is Disclosure.ANONYMOUS:
        return None
    me = _logged_in_person(session)
    if me is None or normalise_name(answers.get("name", "")) != normalise_name(me.name):
        return None
    return me.id


def _when_text(answers: dict[str, Any]) -> str:
    """When it happened, in words, as the handler will read it."""
    start, end = _day(answers.get("date_from")), _day(answers.get("date_to"))
    parts = []
    if start and end and end != start:
        parts.append(
            _(
                "from %(start)s to %(end)s",
                start=format_date(start, "long"),
                end=format_date(end, "long"),
            )
        )
    elif start or end:
        parts.append(format_date(start or end, "long"))
    if answers.get("ongoing"):
        parts.append(_("still going on"))
    if answers.get("when_text"):
        parts.append(answers["when_text"])
    return "; ".join(parts)


# Step 8: review -------------------------------------------------------------------------------


@bp.get("/melden/controleren")
def review() -> Response | str:
    draft = _open_draft()
    if draft is None:
        return _draft_lost()
    if (blocked := _blocked(draft, "review")) is not None:
        return blocked
    return _review_page(draft)


def _review_page(draft: OpenDraft, *, recipients_changed: bool = False) -> Response | str:
    session = db.session()
    report = _report(session, draft, attachments=())
    try:
        check_report(taxonomy(), report)
        recipients = preview_recipients(session, workflow(), report)
    except ReportRefused as exc:
        return _fix_step(draft, _step_for(exc), refusal_message(exc.reason))
    except NoEligibleHandler as exc:
        return _fix_step(draft, "route", no_handler_message(exc.reason))
    # Never the posted list: after a change the page must carry the recipients shown now.
    form = SubmitForm(formdata=None, data={"recipients": [str(r.person_id) for r in recipients]})
    return render_template(
        "intake/review.html",
        step=STEP_BY_KEY["review"],
        steps_total=len(STEPS),
        back_url=_previous_url("review"),
        form=form,
        summary=_summary(session, draft, report),
        recipients=[
            (r, grant_label(r.role), basis_text(r, place_given=report.unit_id is not None))
            for r in recipients
        ],
        route_info=route_infos(workflow(), [report.route])[0],
        recipients_changed=recipients_changed,
    )


def _step_for(refusal: ReportRefused) -> str:
    return FIELD_STEPS.get(refusal.field or "", "route")


def _fix_step(draft: OpenDraft, key: str, message: str) -> Response:
    draft.mark_done(key, False)
    _save(draft)
    flash(message, "error")
    return redirect(url_for(STEP_BY_KEY[key].endpoint), code=303)


@dataclass(frozen=True)
class SummaryRow:
    label: Any
    values: list[str]
    step: Step
    long_text: bool = False


def _summary(session: Session, draft: OpenDraft, report: Report) -> list[SummaryRow]:
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
                _("%(name)s (%(relation)s)", name=p.name, relation=relation_label(p.relation))
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


# Step 9: send ---------------------------------------------------------------------------------


@bp.post("/melden/versturen")
@limiter.limit(_intake_rate_limit)
@limiter.shared_limit(_intake_global_rate_limit, scope="intake-global", key_func=_everyone)
def submit() -> Response | str | tuple[str, int]:
    form = SubmitForm()
    if not form.validate_on_submit():
        abort(400)
    if form.internal_ref.data:
        # Only a robot fills a field nobody can see. Refuse, and create nothing.
        log.warning("intake.trap_filled")
        return render_error(
            400,
            _("Your report could not be sent"),
            _("Something went wrong with the form. Go back to the check page and send it again."),
        )
    draft = _open_draft(for_update=True)
    if draft is None:
        return _draft_lost()
    if (blocked := _blocked(draft, "review")) is not None:
        return blocked
    session = db.session()
    try:
        report = _report(session, draft, attachments=file_contents(session, draft.ref))
        submission = submit_report(
            session,
            keystore(),
            indexer(),
            taxonomy(),
            workflow(),
            report,
            expected_recipients=form.expected_recipients(),
            now=now(),
        )
    except RecipientsChanged:
        db.rollback()
        return _review_page(_open_draft() or draft, recipients_changed=True)
    except ReportRefused as exc:
        db.rollback()
        return _fix_step(draft, _step_for(exc), refusal_message(exc.reason))
    except NoEligibleHandler as exc:
        db.rollback()
        return _fix_step(draft, "route", no_handler_message(exc.reason))
    except Exception as exc:  # nothing is saved; the draft is kept for another try
        db.rollback()
        log.error("intake.submit_failed", error=type(exc).__name__, exc_info=exc)
        # A lost database (or a full disk) is temporary: 503, and the client may retry.
        status = 503 if service_unavailable(exc) else 500
        return render_template("intake/failed.html", review_url=url_for("intake.review")), status
    discard_draft(session, draft.ref)
    # The browser forgets the draft only once the report is safely committed.
    db.after_commit(session, lambda: cookie_session.pop(DRAFT_KEY, None))
    case = submission.case
    return render_template(
        "intake/done.html",
        code_groups=submission.receipt_code.split("-"),
        recipients=[(r, grant_label(r.role)) for r in submission.recipients],
        deadlines=[
            (str(d.label), format_date(d.due_on, "long"))
            for d in deadline_views(session, workflow(), case, now())
        ],
        route_info=route_infos(workflow(), [case.route])[0],
        follow_up_url=url_for("followup.enter_code"),
        in_my_reports=report.filer_person_id is not None,
        anonymous=case.disclosure is Disclosure.ANONYMOUS,
    )
