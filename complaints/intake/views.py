"""The guided report form at /melden: one question per page, a review, and the submission.

The views only read the form, call the wizard (``wizard.py``: steps, the draft, the prelude
every step shares) or a service, and render. The answers become a report in ``answers.py``.
Nothing is filed until the last step. The receipt code is shown once, in the response to the
submission itself: it never goes into a URL, a redirect, a flash message, a log or an e-mail.
"""

from __future__ import annotations

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
from flask_babel import format_number
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from complaints import db
from complaints.accounts.models import Role
from complaints.cases.labels import grant_label, relation_in_own_words
from complaints.cases.models import Disclosure, Route
from complaints.cases.taxonomy import Taxonomy, taxonomy
from complaints.clock import now
from complaints.crypto.services import indexer, keystore
from complaints.directory.search import (
    active_person,
    ministry_of,
    role_holders,
    units_by_ministry,
)
from complaints.intake import wizard
from complaints.intake.answers import day
from complaints.intake.drafts import (
    discard_draft,
    file_contents,
    list_files,
    purge_expired_drafts,
    remove_file,
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
    RecipientsChanged,
    ReportRefused,
    check_report,
    preview_recipients,
    submit_report,
)
from complaints.intake.wizard import DRAFT_KEY, OpenDraft, step
from complaints.intake.wording import (
    Option,
    basis_text,
    disclosure_options,
    no_handler_message,
    refusal_message,
    relation_options,
    route_infos,
)
from complaints.logs import get_logger
from complaints.routing.readers import readers
from complaints.routing.services import NoEligibleHandler
from complaints.routing.wording import Statement, disclosure_summary, who_can_read
from complaints.settings import current_settings
from complaints.web.dates import format_date
from complaints.web.errors import render_error, service_unavailable
from complaints.web.i18n import _, _l
from complaints.web.limits import count_now, counted, keyed, limiter
from complaints.web.uploads import size_text
from complaints.workflow.config import Workflow, workflow
from complaints.workflow.services import deadline_views, local_date

bp = Blueprint("intake", __name__, template_folder="templates")
log = get_logger(__name__)

# Settings read per request, so tests (and operators) can change them.


def _intake_rate_limit() -> str:
    return current_settings().intake_rate_limit


def _intake_draft_rate_limit() -> str:
    return current_settings().intake_draft_rate_limit


def _intake_global_rate_limit() -> str:
    return current_settings().intake_global_rate_limit


def _draft_key() -> str:
    # A keyed hash of the draft's id: the counter must not hold the draft's reference.
    ref = wizard.cookie_ref()
    return keyed(f"draft:{ref.draft_id}") if ref is not None else ""


def _without_draft() -> bool:
    # Nothing to count per draft: the view sends the browser to the start page.
    return wizard.cookie_ref() is None


def _everyone() -> str:
    return "all"


# Start ----------------------------------------------------------------------------------------


@bp.get("/melden")
def start() -> str:
    draft = wizard.open_draft()
    flow = workflow()
    return render_template(
        "intake/start.html",
        draft=draft,
        resume_url=url_for(draft.first_open().endpoint) if draft else None,
        routes=route_infos(flow, list(Route)),
        readers_by_route={r.value: who_can_read(readers(flow, r, None)) for r in Route},
        disclosure_summaries={
            d.value: disclosure_summary(d, [readers(flow, r, d) for r in Route]) for d in Disclosure
        },
        hours=current_settings().draft_lifetime_hours,
    )


def _who_can_read(flow: Workflow, route: Route, disclosure: Disclosure) -> list[Statement]:
    """What the complainant is told about who can read a report of this route and level."""
    return who_can_read(readers(flow, route, disclosure))


@bp.post("/melden")
def begin() -> Response:
    # Only a button: the CSRF token, checked for every POST before any view runs, is the form.
    session = db.session()
    old = wizard.cookie_ref()
    if old is not None:
        discard_draft(session, old)
    # A good moment to tidy up: drafts nobody finished are deleted once they expire.
    purge_expired_drafts(session, now=now())
    ref = start_draft(session, now=now(), lifetime=wizard.lifetime())
    cookie_session[DRAFT_KEY] = ref.to_cookie()
    return redirect(url_for("intake.what"), code=303)


@bp.post("/melden/verwijderen")
def discard() -> Response:
    ref = wizard.cookie_ref()
    if ref is not None:
        discard_draft(db.session(), ref)
    cookie_session.pop(DRAFT_KEY, None)
    flash(_("Your answers have been deleted. Nothing was sent."), "success")
    return redirect(url_for("intake.start"), code=303)


# Step 1: what happened ------------------------------------------------------------------------


@bp.route("/melden/wat", methods=["GET", "POST"])
@step("what")
def what(draft: OpenDraft) -> Response | str:
    tax = taxonomy()
    answers = draft.answers
    form = WhatForm(
        categories=[c.key for c in tax.offered],
        grounds=list(tax.grounds),
        asks_grounds=lambda key: key in tax.categories and tax.categories[key].asks_grounds,
        data=wizard.initial(
            {"category": answers.get("category", ""), "grounds": answers.get("grounds", [])}
        ),
    )
    if form.validate_on_submit():
        category = tax.categories[form.category.data]
        answers["category"] = category.key
        # Grounds belong to discrimination only; for another category they are dropped.
        answers["grounds"] = list(form.grounds.data) if category.asks_grounds else []
        return wizard.continue_from(draft, "what")
    return wizard.render_step(
        "what",
        "intake/what.html",
        form,
        categories=[Option(c.key, c.label, c.hint) for c in tax.offered],
        grounds=[Option(g.key, g.label) for g in tax.grounds.values()],
        grounds_for=[str(c.label) for c in tax.offered if c.asks_grounds],
    )


# Step 2: when and where -----------------------------------------------------------------------


@bp.route("/melden/wanneer-waar", methods=["GET", "POST"])
@step("when_where")
def when_where(draft: OpenDraft) -> Response | str:
    answers = draft.answers
    groups = units_by_ministry(db.session())
    form = WhenWhereForm(
        unit_ids=[str(u.id) for g in groups for u in g.units],
        today=local_date(now()),
        data=wizard.initial(
            {
                "date_from": day(answers.get("date_from")),
                "date_to": day(answers.get("date_to")),
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
        return wizard.continue_from(draft, "when_where")
    return wizard.render_step("when_where", "intake/when_where.html", form)


# Step 3: the account --------------------------------------------------------------------------


@bp.route("/melden/beschrijving", methods=["GET", "POST"])
@step("description")
def description(draft: OpenDraft) -> Response | str:
    form = DescriptionForm(
        data=wizard.initial({"description": draft.answers.get("description", "")})
    )
    if form.validate_on_submit():
        draft.answers["description"] = form.description.data
        return wizard.continue_from(draft, "description")
    return wizard.render_step(
        "description", "intake/description.html", form, max_text=format_number(MAX_TEXT)
    )


# Step 4: people involved ----------------------------------------------------------------------


@bp.route("/melden/betrokkenen", methods=["GET", "POST"])
@step("people")
def people(draft: OpenDraft) -> Response | str:
    session = db.session()
    accused: list[dict[str, Any]] = draft.answers.setdefault("accused", [])
    witnesses: list[dict[str, Any]] = draft.answers.setdefault("witnesses", [])
    form = PeopleForm()
    notice = None
    if form.is_submitted():
        action = wizard.action("remove_accused", "remove_witness")
        if action == "search" and not (form.accused_query.data or form.witness_query.data):
            action = "continue"  # Enter pressed in a field other than a search box
        form.partial = True
        if form.validate():
            if action == "remove_accused":
                notice = wizard.remove_person(draft, accused, request.form.get("remove_accused"))
            elif action == "remove_witness":
                notice = wizard.remove_person(draft, witnesses, request.form.get("remove_witness"))
            # "Continue" also adds whoever was filled in but not yet added: nothing is lost.
            if action == "add_accused" or (action == "continue" and form.accused_started()):
                added = wizard.add_person(session, draft, form, "accused", accused)
                notice = added or notice
            if action == "add_witness" or (action == "continue" and form.witness_started()):
                added = wizard.add_person(session, draft, form, "witness", witnesses)
                notice = added or notice
            if action == "continue" and not form.errors:
                return wizard.continue_from(draft, "people")
    return wizard.render_step(
        "people",
        "intake/people.html",
        form,
        accused=[
            dict(a, relation_label=relation_in_own_words(a.get("relation", ""))) for a in accused
        ],
        witnesses=witnesses,
        accused_search=wizard.search(session, form.accused_query),
        witness_search=wizard.search(session, form.witness_query),
        relations=relation_options(),
        notice=notice,
    )


# Step 5: what you hope for, and documents -----------------------------------------------------


@bp.route("/melden/wensen", methods=["GET", "POST"])
@step("wishes")
def wishes(draft: OpenDraft) -> Response | str:
    session = db.session()
    settings = current_settings()
    form = WishesForm(
        data=wizard.initial({"desired_outcome": draft.answers.get("desired_outcome", "")})
    )
    notice = None
    if form.is_submitted():
        action = wizard.action("remove_file")
        form.partial = action != "continue"
        file_id = wizard.optional_uuid(request.form.get("remove_file"))
        if file_id is not None and remove_file(session, draft.ref, file_id):
            notice = _("The file has been removed.")
        if form.validate():
            draft.answers["desired_outcome"] = form.desired_outcome.data or ""
            upload = form.attachment.data
            if isinstance(upload, FileStorage) and upload.filename:
                added = wizard.add_upload(session, draft.ref, upload)
                if added.problem is None:
                    notice = " ".join(
                        [_("The file has been added."), *filter(None, [added.renamed])]
                    )
                else:
                    form.attachment.errors.append(added.problem)
            wizard.save(draft)
            if action == "continue" and not form.errors:
                return wizard.continue_from(draft, "wishes")
    return wizard.render_step(
        "wishes",
        "intake/wishes.html",
        form,
        files=[(f, size_text(f.size)) for f in list_files(session, draft.ref)],
        max_files=settings.max_attachments,
        max_size=size_text(settings.max_attachment_bytes),
        notice=notice,
    )


# Step 6: who you are --------------------------------------------------------------------------


@bp.route("/melden/wie", methods=["GET", "POST"])
@step("identity")
def identity(draft: OpenDraft) -> Response | str:
    session = db.session()
    answers = draft.answers
    me = wizard.logged_in_person(session)
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
    form = IdentityForm(data=wizard.initial(initial))
    notice = None
    if form.is_submitted():
        action = wizard.action()
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
                picked = wizard.optional_int(form.manager_pick.data)
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
            wizard.save(draft)
            if action == "continue" and not form.errors:
                return wizard.continue_from(draft, "identity")
    manager = active_person(session, manager_id) if manager_id is not None else None
    return wizard.render_step(
        "identity",
        "intake/identity.html",
        form,
        disclosures=disclosure_options(workflow()),
        logged_in_as=me.name if me is not None else None,
        manager=manager,
        manager_search=wizard.search(session, form.manager_query),
        notice=notice,
    )


# Step 7: who handles the report ---------------------------------------------------------------


@bp.route("/melden/route", methods=["GET", "POST"])
@step("route")
def route(draft: OpenDraft) -> Response | str:
    session = db.session()
    answers = draft.answers
    tax = taxonomy()
    category = tax.categories[answers["category"]]
    confidants = role_holders(session, Role.CONFIDANT, ministry_of(session, answers.get("unit_id")))
    form = RouteForm(
        routes=[r.value for r in category.routes],
        confidants=[str(p.id) for p in confidants],
        data=wizard.initial(
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
            return wizard.continue_from(draft, "route")
        field_name, message = problem
        refused_committee = message == refusal_message("committee_needs_identity")
        (form.confidant if field_name == "confidant" else form.route).errors.append(message)
        draft.mark_done("route", False)
        wizard.save(draft)  # keep the choice, so nothing typed is lost; the review waits for a fix
    disclosure = Disclosure(answers.get("disclosure") or Disclosure.ANONYMOUS.value)
    return wizard.render_step(
        "route",
        "intake/route.html",
        form,
        routes=route_infos(workflow(), category.routes),
        readers_by_route={
            r.value: _who_can_read(workflow(), r, disclosure) for r in category.routes
        },
        refused_committee=refused_committee,
        has_confidants=bool(confidants),
    )


def _route_problem(
    session: Session, tax: Taxonomy, flow: Workflow, draft: OpenDraft
) -> tuple[str, str] | None:
    """Why the chosen route cannot take this report (field, message), or None."""
    report = wizard.build_report(session, draft, attachments=())
    try:
        check_report(tax, report)
    except ReportRefused as exc:
        if exc.reason in wizard.ROUTE_REFUSALS:
            return "route", refusal_message(exc.reason)
        return None  # another step's answer; the review sends the person there
    try:
        preview_recipients(session, flow, report)
    except NoEligibleHandler as exc:
        field_name = "confidant" if exc.reason.startswith("chosen_") else "route"
        return field_name, no_handler_message(exc.reason)
    return None


# Step 8: review -------------------------------------------------------------------------------


@bp.get("/melden/controleren")
@step("review")
def review(draft: OpenDraft) -> Response | str:
    return _review_page(draft)


def _review_page(draft: OpenDraft, *, recipients_changed: bool = False) -> Response | str:
    session = db.session()
    report = wizard.build_report(session, draft, attachments=())
    try:
        check_report(taxonomy(), report)
        recipients = preview_recipients(session, workflow(), report)
    except ReportRefused as exc:
        return wizard.fix_step(draft, wizard.step_for(exc), refusal_message(exc.reason))
    except NoEligibleHandler as exc:
        return wizard.fix_step(draft, "route", no_handler_message(exc.reason))
    # Never the posted list: after a change the page must carry the recipients shown now.
    form = SubmitForm(formdata=None, data={"recipients": [str(r.person_id) for r in recipients]})
    return render_template(
        "intake/review.html",
        step=wizard.STEP_BY_KEY["review"],
        steps_total=len(wizard.STEPS),
        back_url=wizard.previous_url("review"),
        form=form,
        summary=wizard.summary(session, draft, report),
        recipients=[
            (r, grant_label(r.role), basis_text(r, place_given=report.unit_id is not None))
            for r in recipients
        ],
        route_info=route_infos(workflow(), [report.route])[0],
        who_reads=_who_can_read(workflow(), report.route, report.disclosure),
        recipients_changed=recipients_changed,
    )


# Step 9: send ---------------------------------------------------------------------------------


# Per client (an office behind one address sends many reports), per draft (one report sent
# over and over from many addresses) and for everyone together (a flood stops here). A refused
# attempt counts against none of them (``counted``), so one address hammering the door does not
# use up the ceiling everyone shares; one let through is counted before the report is saved.
@bp.post("/melden/versturen")
@limiter.limit(_intake_rate_limit, deduct_when=counted)
@limiter.limit(
    _intake_draft_rate_limit,
    scope="intake-draft",
    key_func=_draft_key,
    exempt_when=_without_draft,
    deduct_when=counted,
)
@limiter.shared_limit(
    _intake_global_rate_limit, scope="intake-global", key_func=_everyone, deduct_when=counted
)
def submit() -> Response | str | tuple[str, int]:
    count_now()  # before anything is saved: see count_now
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
    draft = wizard.open_step("review", for_update=True)
    if isinstance(draft, Response):
        return draft
    session = db.session()
    try:
        report = wizard.build_report(session, draft, attachments=file_contents(session, draft.ref))
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
        return _review_page(wizard.open_draft() or draft, recipients_changed=True)
    except ReportRefused as exc:
        db.rollback()
        return wizard.fix_step(draft, wizard.step_for(exc), refusal_message(exc.reason))
    except NoEligibleHandler as exc:
        db.rollback()
        return wizard.fix_step(draft, "route", no_handler_message(exc.reason))
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
            (str(d.label), format_date(d.due_on))
            for d in deadline_views(session, workflow(), case, now())
        ],
        route_info=route_infos(workflow(), [case.route])[0],
        who_reads=_who_can_read(workflow(), case.route, case.disclosure),
        follow_up_url=url_for("followup.enter_code"),
        follow_up_address=url_for("followup.enter_code", _external=True),
        in_my_reports=report.filer_person_id is not None,
        anonymous=case.disclosure is Disclosure.ANONYMOUS,
    )
