"""The handlers' workspace at /zaken: the inbox and the case file.

A case id in an address proves nothing: every page and form checks the caller's grant, and a
case they may not open answers exactly like a case that does not exist (404).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from complaints import db
from complaints.accounts.login import menu_shows, staff_user
from complaints.accounts.models import Role
from complaints.accounts.services import roles_of
from complaints.audit.services import Actor
from complaints.cases.labels import disclosure_for_handlers, grant_label, relation_for_handlers
from complaints.cases.models import (
    AuthorKind,
    Case,
    ConsentKind,
    Disclosure,
    DocumentKind,
    GrantRole,
    PartyKind,
    Route,
)
from complaints.cases.services import CaseNotFound, CaseUnreadable
from complaints.cases.taxonomy import taxonomy
from complaints.casework.forms import (
    CaseSearchForm,
    ConfirmForm,
    InboxFilterForm,
    NoteForm,
    ReplyForm,
    step_form,
    step_values,
)
from complaints.casework.services import (
    CaseClosed,
    CaseFile,
    CaseQuery,
    CheckinNotDue,
    DeadlineFilter,
    EventView,
    InboxFilter,
    InboxRow,
    add_note,
    authorised_case,
    download_attachment,
    inbox,
    may_use_casework,
    procedure_documents,
    read_case,
    reply_to_complainant,
    search_own_cases,
    send_checkin,
)
from complaints.checkins.services import QUESTION, checkin_panel
from complaints.clock import now
from complaints.committee import services as committee_services
from complaints.committee.services import LetterKind
from complaints.crypto.services import indexer, keystore
from complaints.directory.models import Person
from complaints.retention.forms import EXTEND_PREFIX, ExtendForm
from complaints.retention.holds import (
    RetentionRefused,
    extend_case,
    refusal_message,
    retention_panel,
)
from complaints.retention.policy import retention_policy
from complaints.retention.register import period_text
from complaints.settings import current_settings
from complaints.web.dates import format_date
from complaints.web.errors import answer_case_conflicts, render_error
from complaints.web.i18n import _
from complaints.web.uploads import size_text
from complaints.workflow.config import RouteWorkflow, TransitionSpec, workflow
from complaints.workflow.services import DeadlineStatus, local_date
from complaints.workflow.transitions import (
    ChangedMeanwhile,
    TransitionRefused,
    apply_transition,
    available_transitions,
)

bp = Blueprint("casework", __name__, template_folder="templates")


@bp.app_context_processor
def casework_navigation() -> dict[str, Any]:
    def nav_casework() -> bool:
        """Whether the menu shows "Cases": for staff with a handler role or a grant."""
        return menu_shows(lambda person_id: may_use_casework(db.session(), person_id))

    return {"nav_casework": nav_casework}


def _actor() -> Actor:
    return Actor.staff(staff_user().account.id)


answer_case_conflicts(bp, "casework.case_page")


# The inbox -------------------------------------------------------------------------------------


def _state_choices() -> list[tuple[str, str]]:
    """Every state of every route once, in workflow order, by its handlers' name."""
    seen: dict[str, str] = {}
    for flow in workflow().routes.values():
        for key, state in flow.states.items():
            seen.setdefault(key, str(state.label))
    return list(seen.items())


def _page_number() -> int:
    raw = request.args.get("pagina", "1")
    return int(raw) if raw.isdigit() and len(raw) < 7 else 1


@bp.get("/zaken")
@login_required
def inbox_page() -> str | tuple[str, int]:
    user = staff_user()
    if not may_use_casework(db.session(), user.person_id):
        return render_error(403)
    flow = workflow()
    form = InboxFilterForm(request.args)
    form.route.choices = [
        SelectChoice("", _("All routes")),
        *(SelectChoice(route.value, str(spec.label)) for route, spec in flow.routes.items()),
    ]
    form.status.choices = [
        SelectChoice("", _("All open states")),
        *(SelectChoice(key, label) for key, label in _state_choices()),
    ]
    route = form.route.data if form.route.data in {r.value for r in flow.routes} else None
    state = form.status.data if form.status.data in dict(_state_choices()) else None
    filters = InboxFilter(
        route=Route(route) if route else None,
        state=state,
        overdue_only=bool(form.verlopen.data),
        unread_only=bool(form.ongelezen.data),
        include_closed=bool(form.gesloten.data),
    )
    result = inbox(
        db.session(),
        indexer(),
        flow,
        person_id=user.person_id,
        filters=filters,
        today=local_date(now()),
        page=_page_number(),
    )
    rows = _listed(result.rows)
    # Only the filters go into the paging links (never, say, ``_external`` from the address).
    kept: dict[str, Any] = {
        field.name: request.args[field.name] for field in form if request.args.get(field.name)
    }

    def page_url(number: int) -> str:
        return url_for("casework.inbox_page", **kept, pagina=number)

    return render_template(
        "casework/inbox.html",
        form=form,
        result=result,
        rows=rows,
        filtered=bool(kept),
        page_url=page_url,
        page_numbers=page_numbers(result.page, result.pages),
        # Confidants also take reports by phone or at their desk (referral.proxy_report).
        search_form=_search_form(posted=False),
        files_for_others=any(
            a.role is Role.CONFIDANT for a in roles_of(db.session(), user.person_id)
        ),
    )


def _listed(rows: list[InboxRow]) -> list[dict[str, Any]]:
    """Rows of the case list with the labels of their route, category, state and deadline."""
    flow = workflow()
    categories = taxonomy().categories
    return [
        {
            "row": row,
            "route": flow[row.route].label,
            "category": categories[row.category].label
            if row.category in categories
            else row.category,
            "state": flow[row.route].states[row.state].label
            if row.state in flow[row.route].states
            else row.state,
            "deadline": next(
                (d.label for d in flow[row.route].deadlines if d.name == row.next_deadline),
                row.next_deadline,
            ),
        }
        for row in rows
    ]


# Searching one's own cases ---------------------------------------------------------------------

SEARCH_PREFIX = "zoek"


def _search_form(*, posted: bool) -> CaseSearchForm:
    """The search form with this workflow's routes and states; ``posted``: as sent."""
    flow = workflow()
    form = (
        CaseSearchForm(prefix=SEARCH_PREFIX)
        if posted
        else CaseSearchForm(formdata=None, prefix=SEARCH_PREFIX)
    )
    form.route.choices = [
        SelectChoice("", _("All routes")),
        *(SelectChoice(route.value, str(spec.label)) for route, spec in flow.routes.items()),
    ]
    form.status.choices = [
        SelectChoice("", _("Any state, also closed")),
        *(SelectChoice(key, label) for key, label in _state_choices()),
    ]
    return form


def _case_query(form: CaseSearchForm) -> CaseQuery:
    routes = {route.value: route for route in workflow().routes}
    deadline = DeadlineFilter(form.deadline.data or "")
    # Validated as a number when the deadline filter uses it; otherwise not read.
    days = (form.days.data or "").strip() if deadline is DeadlineFilter.DUE_WITHIN else "14"
    return CaseQuery(
        reference=form.reference.data or "",
        route=routes.get(form.route.data or ""),
        state=form.status.data if form.status.data in dict(_state_choices()) else None,
        deadline=deadline,
        within_days=int(days),
        text=form.text.data or "",
    )


@bp.route("/zaken/zoeken", methods=["GET", "POST"])
@login_required
def search_page() -> str | tuple[str, int]:
    """Search one's own cases. Only a posted form searches: words in the address are ignored."""
    user = staff_user()
    if not may_use_casework(db.session(), user.person_id):
        return render_error(403)
    if request.method == "GET":
        return render_template("casework/search.html", form=_search_form(posted=False), result=None)
    form = _search_form(posted=True)
    if not form.validate_on_submit():
        return render_template("casework/search.html", form=form, result=None), 400
    result = search_own_cases(
        db.session(),
        keystore(),
        indexer(),
        person_id=user.person_id,
        query=_case_query(form),
        today=local_date(now()),
        actor=_actor(),
        now=now(),
    )
    return render_template(
        "casework/search.html", form=form, result=result, rows=_listed(result.rows)
    )


def page_numbers(current: int, pages: int, around: int = 2) -> list[int | None]:
    """The pages to link to: the first, the last and a few around the current one; None
    where pages are left out."""
    shown = sorted({1, pages, *range(max(1, current - around), min(pages, current + around) + 1)})
    numbers: list[int | None] = []
    for number in shown:
        if numbers and number - (numbers[-1] or 0) > 1:
            numbers.append(None)
        numbers.append(number)
    return numbers


# The case file ---------------------------------------------------------------------------------


def _consent_labels() -> dict[ConsentKind, str]:
    return {
        ConsentKind.SHARE_IDENTITY: _("Sharing who filed with those who need to act"),
        ConsentKind.REFERRAL: _("Referral to another route"),
        ConsentKind.MEDIATION: _("Mediation first (the clock pauses)"),
        ConsentKind.EXTENSION: _("Deciding later than the statutory extension allows"),
    }


def _event_labels() -> dict[str, str]:
    """History entries that are not workflow steps (those are named by workflow.toml)."""
    return {
        "submitted": _("Report filed"),
        "withdrawn": _("Withdrawn by the complainant"),
        "filed_by_proxy": _("Filed by a confidential counsellor on the complainant's behalf"),
        "referred": _("Referral between routes; the linked case"),
        "handed_over": _("Handed over to another handler"),
        "member_assigned": _("Committee member assigned"),
        "member_excluded": _("Committee member excluded"),
        "checkin_sent": _("Check-in sent to the complainant"),
        "checkin_answered": _("The complainant answered a check-in"),
        "reopened": _("Opened again by the complainant after a check-in"),
        "retaliation_reported": _("Retaliation reported after a check-in; the linked case"),
    }


def _value_labels() -> dict[str, str]:
    """Names of the values that entries other than workflow steps carry."""
    return {"member": _("Member"), "exclusion": _("Reason for the exclusion")}


@dataclass(frozen=True)
class Step:
    """One transition offered on the case page, with its form and why it was refused."""

    spec: TransitionSpec
    form: FlaskForm
    refusal: str | None = None


@dataclass(frozen=True)
class Posted:
    """A step form that came back: shown again with what was typed."""

    name: str
    form: FlaskForm
    refusal: str | None = None
    changed_meanwhile: bool = False


def _steps(file: CaseFile, flow: RouteWorkflow, posted: Posted | None) -> list[Step]:
    case = file.case
    steps = []
    for spec in available_transitions(workflow(), case, set(file.roles)):
        if _on_committee_page(case, spec.name):
            continue
        if posted is not None and posted.name == spec.name:
            if posted.changed_meanwhile:
                # What was typed stays; the version is the one now shown, so a retry can work.
                posted.form["version"].data = str(case.version)
            steps.append(Step(spec, posted.form, posted.refusal))
        else:
            steps.append(Step(spec, step_form(flow, spec, version=case.version)))
    return steps


def _on_committee_page(case: Case, step: str) -> bool:
    """The advice and the decision are recorded with their documents, on the committee page."""
    return case.route is Route.COMMITTEE and step in committee_services.WITH_DOCUMENTS


def _event_details(flow: RouteWorkflow, event: EventView) -> list[tuple[str, str]]:
    """What the handler filled in with a step, by the field labels of the workflow."""
    spec = flow.transition(event.kind)
    details = []
    for name, value in event.values.items():
        field = spec.field_spec(name) if spec is not None else None
        label = str(field.label) if field is not None else _value_labels().get(name, name)
        if isinstance(value, bool):
            text = _("Yes") if value else _("No")
        elif field is not None and field.kind == "outcome":
            text = str(flow.outcomes.get(value, value))
        elif field is not None and field.kind == "date":
            text = _format_day(value)
        else:
            text = value
        details.append((label, text))
    return details


def _format_day(value: str) -> str:
    try:
        return str(format_date(date.fromisoformat(value)))
    except ValueError:
        return value


def _related_pages(file: CaseFile) -> list[tuple[str, str]]:
    """Links to the other pages of the procedure that this handler's roles lead to."""
    case = file.case
    links = []
    committee_roles = {GrantRole.COMMITTEE_SECRETARY, GrantRole.COMMITTEE_MEMBER}
    if case.route is Route.COMMITTEE and file.roles & committee_roles:
        links.append((url_for("committee.page", case_id=case.id), _("Committee procedure")))
    if case.route is Route.CONFIDANT and GrantRole.CONFIDANT in file.roles and file.is_open:
        links.append((url_for("referral.refer", case_id=case.id), _("Refer to another route")))
    return links


def _unavailable_message(posted: Posted | None, steps: list[Step]) -> str | None:
    """Why a posted step is not on the page (any more), unless the case changed meanwhile."""
    if posted is None or posted.changed_meanwhile:
        return None
    if any(step.spec.name == posted.name for step in steps):
        return None
    return posted.refusal or _(
        "This step cannot be taken in the case's current state, or not by you. Check the "
        "current state below."
    )


def _unreadable() -> tuple[str, int]:
    """Stored ciphertext did not open (tampered with, damaged, or its key lost): nothing of
    the case is shown. The service has recorded the failure; the page is committed with it."""
    return render_error(
        500,
        _("This case cannot be opened"),
        _(
            "Its content could not be decrypted. The failure has been recorded; please "
            "tell the application administrator."
        ),
    )


def _step_refused(spec: TransitionSpec, form: Any, refused: TransitionRefused) -> tuple[str, int]:
    """The case's key cannot be opened, so neither can its page: the refusal, with what the
    handler typed given back to copy (nothing of the case itself is shown)."""
    typed = [
        (str(field.label), str(form[field.name].data))
        for field in spec.fields
        if field.kind == "text" and field.name in form and (form[field.name].data or "").strip()
    ]
    page = render_template(
        "casework/step_refused.html", message=refused.message, reason=refused.reason, typed=typed
    )
    return page, 500


def _opened_file(
    case_id: uuid.UUID, person_id: int, *, export: bool = False
) -> CaseFile | tuple[str, int]:
    """The case opened for this handler (audited as an open, or as an export), or the page
    that says why not: 404 exactly like a case that does not exist, 500 when it is unreadable."""
    try:
        return read_case(
            db.session(),
            keystore(),
            indexer(),
            workflow(),
            case_id=case_id,
            person_id=person_id,
            actor=_actor(),
            now=now(),
            closed_reply_days=current_settings().closed_reply_days,
            export=export,
        )
    except CaseNotFound:
        return render_error(404)
    except CaseUnreadable:
        return _unreadable()


def render_case(
    case_id: uuid.UUID,
    *,
    reply_form: ReplyForm | None = None,
    note_form: NoteForm | None = None,
    extend_form: ExtendForm | None = None,
    posted: Posted | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """The case page, opened afresh (and audited) for every rendering."""
    user = staff_user()
    file = _opened_file(case_id, user.person_id)
    if not isinstance(file, CaseFile):
        return file
    case = file.case
    flow = workflow()[case.route]
    steps = _steps(file, flow, posted)
    page = render_template(
        "casework/case.html",
        **_case_labels(file),
        transitions=steps,
        related_pages=_related_pages(file),
        changed_meanwhile=(
            ChangedMeanwhile(case.reference).message
            if posted is not None and posted.changed_meanwhile
            else None
        ),
        step_unavailable=_unavailable_message(posted, steps),
        reply_form=reply_form or ReplyForm(formdata=None),
        note_form=note_form or NoteForm(formdata=None),
        retention=None
        if file.is_open
        else retention_panel(
            db.session(), retention_policy(), workflow(), case.id, local_date(now())
        ),
        extend_form=extend_form or ExtendForm(formdata=None, prefix=EXTEND_PREFIX),
        checkins=checkin_panel(db.session(), workflow(), case, local_date(now())),
        checkin_question=QUESTION,
        checkin_form=ConfirmForm(formdata=None),
        retention_period=period_text,
    )
    return page, status


def _case_labels(file: CaseFile) -> dict[str, Any]:
    """What the case page and its print view show of a case file, with the labels it needs."""
    case = file.case
    flow = workflow()[case.route]
    tax = taxonomy()
    category = tax.categories.get(case.category)
    return {
        "file": file,
        "case": case,
        "flow": flow,
        "state_label": flow.states[case.state].label if case.state in flow.states else case.state,
        "outcome_label": flow.outcomes.get(case.outcome, case.outcome) if case.outcome else None,
        "category": category.label if category else case.category,
        "grounds": [tax.grounds[g].label if g in tax.grounds else g for g in case.grounds],
        "disclosure": disclosure_for_handlers(case.disclosure),
        "anonymous": case.disclosure is Disclosure.ANONYMOUS,
        "accused": [p for p in file.content.parties if p.kind is PartyKind.ACCUSED],
        "witnesses": [p for p in file.content.parties if p.kind is PartyKind.WITNESS],
        "consent_labels": _consent_labels(),
        "roles": sorted(grant_label(role) for role in file.roles),
        "relation_label": relation_for_handlers,
        "event_labels": _event_labels(),
        "step_labels": {spec.name: spec.label for spec in flow.transitions},
        "event_details": lambda event: _event_details(flow, event),
        "state_labels": {key: spec.label for key, spec in flow.states.items()},
        "statuses": DeadlineStatus,
        "authors": AuthorKind,
        "file_size": size_text,
    }


@bp.get("/zaken/<uuid:case_id>")
@login_required
def case_page(case_id: uuid.UUID) -> tuple[str, int]:
    return render_case(case_id)


@bp.get("/zaken/<uuid:case_id>/afdrukken")
@login_required
def print_case(case_id: uuid.UUID) -> tuple[str, int]:
    """The whole case on one page without navigation, to print or save as PDF: an export,
    audited as ``case.export``; refused exactly like the case page."""
    user = staff_user()
    file = _opened_file(case_id, user.person_id, export=True)
    if not isinstance(file, CaseFile):
        return file
    page = render_template(
        "casework/print.html",
        **_case_labels(file),
        documents=[
            (_document_label(item.kind, item.template), item.created_at)
            for item in procedure_documents(db.session(), case_id)
        ],
        printed_at=now(),
        printed_by=_person_name(user.person_id),
    )
    return page, 200


def _person_name(person_id: int) -> str:
    person = db.session().get(Person, person_id)
    return person.name if person is not None else ""


def _document_label(kind: DocumentKind, template: str | None) -> str:
    if kind is DocumentKind.LETTER and template in {k.value for k in LetterKind}:
        return committee_services.letter_title(LetterKind(template))
    return {
        DocumentKind.HEARING_REPORT: _("Report of a hearing"),
        DocumentKind.WITNESS_STATEMENT: _("Witness statement"),
        DocumentKind.ADVICE: _("Advice of the committee"),
        DocumentKind.DECISION: _("Decision of the competent authority"),
        DocumentKind.LETTER: _("Letter"),
    }[kind]


@bp.post("/zaken/<uuid:case_id>/bericht")
@login_required
def reply(case_id: uuid.UUID) -> Response | tuple[str, int]:
    form = ReplyForm()
    if not form.validate_on_submit():
        return render_case(case_id, reply_form=form)
    try:
        reply_to_complainant(
            db.session(),
            keystore(),
            indexer(),
            workflow(),
            case_id=case_id,
            person_id=staff_user().person_id,
            actor=_actor(),
            body=form.message.data,
            now=now(),
            closed_reply_days=current_settings().closed_reply_days,
        )
    except CaseNotFound:
        return render_error(404)
    except CaseClosed:
        flash(_("This case is closed: no more messages can be sent to the complainant."), "error")
        return redirect(url_for("casework.case_page", case_id=case_id, _anchor="berichten"), 303)
    flash(
        _(
            "Your message has been sent. The complainant reads it in their mailbox, opened "
            "with the receipt code."
        ),
        "success",
    )
    return redirect(url_for("casework.case_page", case_id=case_id, _anchor="berichten"), 303)


@bp.post("/zaken/<uuid:case_id>/check-in")
@login_required
def checkin(case_id: uuid.UUID) -> Response | tuple[str, int]:
    """Send the check-in that is due: the question goes to the complainant's mailbox."""
    if not ConfirmForm().validate_on_submit():
        return render_error(400)
    try:
        send_checkin(
            db.session(),
            keystore(),
            indexer(),
            workflow(),
            case_id=case_id,
            person_id=staff_user().person_id,
            actor=_actor(),
            now=now(),
        )
    except CaseNotFound:
        return render_error(404)
    except CaseUnreadable:
        return _unreadable()
    except CheckinNotDue:
        flash(
            _(
                "No check-in can be sent now: it is not due yet, was sent already, or the "
                "complainant switched check-ins off."
            ),
            "error",
        )
        return redirect(url_for("casework.case_page", case_id=case_id, _anchor="check-ins"), 303)
    flash(
        _(
            "The check-in has been sent. The complainant reads the question in their mailbox; "
            "you get an e-mail when they answer."
        ),
        "success",
    )
    return redirect(url_for("casework.case_page", case_id=case_id, _anchor="check-ins"), 303)


@bp.post("/zaken/<uuid:case_id>/notitie")
@login_required
def note(case_id: uuid.UUID) -> Response | tuple[str, int]:
    form = NoteForm()
    if not form.validate_on_submit():
        return render_case(case_id, note_form=form)
    try:
        add_note(
            db.session(),
            keystore(),
            indexer(),
            case_id=case_id,
            person_id=staff_user().person_id,
            actor=_actor(),
            body=form.note.data,
            now=now(),
        )
    except CaseNotFound:
        return render_error(404)
    flash(_("The note has been saved. Only the handlers of this case can read it."), "success")
    return redirect(url_for("casework.case_page", case_id=case_id, _anchor="notities"), 303)


@bp.post("/zaken/<uuid:case_id>/bewaartermijn")
@login_required
def extend_retention(case_id: uuid.UUID) -> Response | tuple[str, int]:
    """A handler keeps a finished case longer, once, with a reason (retention.holds)."""
    user = staff_user()
    try:
        case, _roles = authorised_case(
            db.session(),
            keystore(),
            indexer(),
            case_id=case_id,
            person_id=user.person_id,
            actor=_actor(),
            now=now(),
            action="retention.extended",
        )
    except CaseNotFound:
        return render_error(404)
    form = ExtendForm(prefix=EXTEND_PREFIX)
    if not form.validate_on_submit():
        return render_case(case_id, extend_form=form, status=400)
    try:
        extend_case(
            db.session(),
            keystore(),
            retention_policy(),
            workflow(),
            case,
            reason=form.reason.data or "",
            person_id=user.person_id,
            actor=_actor(),
            now=now(),
        )
    except RetentionRefused as refused:
        form.reason.errors = [*form.reason.errors, refusal_message(refused.reason)]
        return render_case(case_id, extend_form=form, status=409)
    flash(_("The case will be kept longer. The extension has been recorded."), "success")
    return redirect(url_for("casework.case_page", case_id=case_id, _anchor="bewaartermijn"), 303)


@bp.get("/zaken/<uuid:case_id>/bijlagen/<uuid:attachment_id>")
@login_required
def attachment(case_id: uuid.UUID, attachment_id: uuid.UUID) -> Response | tuple[str, int]:
    try:
        download = download_attachment(
            db.session(),
            keystore(),
            indexer(),
            case_id=case_id,
            attachment_id=attachment_id,
            person_id=staff_user().person_id,
            actor=_actor(),
            now=now(),
        )
    except CaseNotFound:
        return render_error(404)
    except CaseUnreadable:
        return _unreadable()
    response = Response(download.body, content_type=download.content_type)
    # The name is ours (reference and number), so it needs no escaping; the uploader's name
    # could hold anything and stays on the page, shown as text.
    response.headers["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post("/zaken/<uuid:case_id>/stap/<name>")
@login_required
def take_step(case_id: uuid.UUID, name: str) -> Response | tuple[str, int]:
    """Take a transition of the workflow: one form per step, carrying the case's version."""
    user = staff_user()
    flow = workflow()
    try:
        case, roles = authorised_case(
            db.session(),
            keystore(),
            indexer(),
            case_id=case_id,
            person_id=user.person_id,
            actor=_actor(),
            now=now(),
            action="case.transition",
        )
    except CaseNotFound:
        return render_error(404)
    spec = flow[case.route].transition(name)
    if spec is None or _on_committee_page(case, name):
        return render_error(404)
    form = step_form(flow[case.route], spec, formdata=request.form)
    version = form["version"].data or ""
    if not (version.isdigit() and len(version) < 10):
        return render_error(400)
    if int(version) != case.version:
        # Stale: whatever else was filled in, it was meant for the case as it was then.
        return render_case(case_id, posted=Posted(name, form, changed_meanwhile=True), status=409)
    if not form.validate_on_submit():
        return render_case(case_id, posted=Posted(name, form))
    try:
        apply_transition(
            db.session(),
            keystore(),
            flow,
            case,
            name,
            actor_person_id=user.person_id,
            roles=set(roles),
            values=step_values(form, spec),
            expected_version=int(form["version"].data),
            now=now(),
            actor=_actor(),
        )
    except ChangedMeanwhile:
        return render_case(case_id, posted=Posted(name, form, changed_meanwhile=True), status=409)
    except TransitionRefused as refused:
        if refused.reason == "undeliverable":
            return _step_refused(spec, form, refused)
        if refused.field is not None and refused.field in form:
            form[refused.field].errors = [*form[refused.field].errors, refused.message]
            return render_case(case_id, posted=Posted(name, form))
        return render_case(case_id, posted=Posted(name, form, refusal=refused.message))
    flash(
        _("Done: “%(step)s”. The step has been recorded in the history.", step=str(spec.label)),
        "success",
    )
    return redirect(url_for("casework.case_page", case_id=case_id), 303)
