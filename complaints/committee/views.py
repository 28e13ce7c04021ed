"""The committee page of a formal complaint, at /zaken/<id>/commissie.

Only someone holding a committee grant (secretary or member) on a committee-route case gets
here; anyone else, including a manager or confidant with a grant on the same case, gets the
same 404 as for a case that does not exist. Every page opens the case afresh (audited).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import date
from functools import wraps
from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from complaints import db
from complaints.accounts.login import staff_user
from complaints.audit.services import Actor
from complaints.cases.models import DocumentKind, GrantRole
from complaints.cases.services import CaseNotFound, CaseUnreadable
from complaints.clock import now
from complaints.committee.forms import (
    AdviceForm,
    AssignMemberForm,
    DecisionForm,
    ExcludeMemberForm,
    ExtensionLetterForm,
    HearingReportForm,
    LetterForm,
    NotAdmissibleLetterForm,
    RecusalForm,
    WitnessStatementForm,
)
from complaints.committee.services import (
    DECIDE,
    SEND_ADVICE,
    CommitteeCase,
    CommitteeRefused,
    Exclusion,
    HeardParty,
    LetterKind,
    add_hearing_report,
    add_witness_statement,
    assign_member,
    decision_outcomes,
    documents,
    eligible_members,
    exclude_member,
    generate_letter,
    latest_advice,
    letter_title,
    members,
    open_committee_case,
    open_letter,
    record_advice,
    record_decision,
    step_aside,
    transition_available,
)
from complaints.committee.texts import (
    exclusion_label,
    heard_label,
    letter_description,
    outcome_label,
    refusal_text,
)
from complaints.crypto.services import indexer, keystore
from complaints.web.errors import answer_case_conflicts, render_error
from complaints.web.i18n import _
from complaints.workflow.config import workflow
from complaints.workflow.services import DeadlineStatus, deadline_views

bp = Blueprint("committee", __name__, template_folder="templates")

Page = Response | tuple[str, int]


@dataclass
class PageForms:
    """Every form of the page. Each has its own prefix, so no two fields share an id."""

    assign: AssignMemberForm
    exclude: ExcludeMemberForm
    recuse: RecusalForm
    hearing: HearingReportForm
    witness: WitnessStatementForm
    advice: AdviceForm
    decision: DecisionForm
    acknowledgement: LetterForm
    not_admissible: NotAdmissibleLetterForm
    extension: ExtensionLetterForm
    decision_letter: LetterForm
    copy_for_accused: LetterForm

    @classmethod
    def blank(cls) -> PageForms:
        return cls(
            assign=AssignMemberForm(prefix="assign", formdata=None),
            exclude=ExcludeMemberForm(prefix="exclude", formdata=None),
            recuse=RecusalForm(prefix="recuse", formdata=None),
            hearing=HearingReportForm(prefix="hearing", formdata=None),
            witness=WitnessStatementForm(prefix="witness", formdata=None),
            advice=AdviceForm(prefix="advice", formdata=None),
            decision=DecisionForm(prefix="decision", formdata=None),
            acknowledgement=LetterForm(prefix="acknowledgement", formdata=None),
            not_admissible=NotAdmissibleLetterForm(prefix="not_admissible", formdata=None),
            extension=ExtensionLetterForm(prefix="extension", formdata=None),
            decision_letter=LetterForm(prefix="decision_letter", formdata=None),
            copy_for_accused=LetterForm(prefix="copy_for_accused", formdata=None),
        )

    def with_errors(self) -> list[FlaskForm]:
        return [f for f in (getattr(self, x.name) for x in fields(self)) if f.errors]


LETTER_FORMS = {
    LetterKind.ACKNOWLEDGEMENT: ("acknowledgement", LetterForm),
    LetterKind.NOT_ADMISSIBLE: ("not_admissible", NotAdmissibleLetterForm),
    LetterKind.EXTENSION: ("extension", ExtensionLetterForm),
    LetterKind.DECISION: ("decision_letter", LetterForm),
    LetterKind.COPY_FOR_ACCUSED: ("copy_for_accused", LetterForm),
}


def _actor() -> Actor:
    return Actor.staff(staff_user().account.id)


answer_case_conflicts(bp, "committee.page")


def _open(case_id: uuid.UUID) -> CommitteeCase:
    return open_committee_case(
        db.session(),
        keystore(),
        indexer(),
        case_id=case_id,
        person_id=staff_user().person_id,
        actor=_actor(),
        now=now(),
    )


def committee_case(view: Callable[..., Page]) -> Callable[..., Page]:
    """Open the case for a committee grant holder and pass it on; anyone else gets a 404."""

    @wraps(view)
    @login_required
    def wrapped(case_id: uuid.UUID, **kwargs: Any) -> Page:
        try:
            committee = _open(case_id)
        except CaseNotFound:
            return render_error(404)
        except CaseUnreadable:
            return render_error(
                500,
                _("This case cannot be opened"),
                _(
                    "Its content could not be decrypted. The failure has been recorded; please "
                    "tell the application administrator."
                ),
            )
        return view(committee, **kwargs)

    return wrapped


def _page_url(committee: CommitteeCase, anchor: str | None = None) -> str:
    return url_for("committee.page", case_id=committee.case.id, _anchor=anchor)


def _outcome_choices() -> list[SelectChoice]:
    return [SelectChoice("", _("Choose an outcome"))] + [
        SelectChoice(key, outcome_label(key)) for key in decision_outcomes(workflow())
    ]


def _chosen_id(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) < 19 else None


def render_page(
    committee: CommitteeCase, forms: PageForms | None = None, *, status: int = 200
) -> tuple[str, int]:
    """The committee page, with ``forms`` when one of them came back with errors."""
    session, keys, flow = db.session(), keystore(), workflow()
    case = committee.case
    forms = forms or PageForms.blank()
    people = members(session, keys, case)
    active_members = [m for m in people if m.role is GrantRole.COMMITTEE_MEMBER and m.active]
    forms.assign.person_id.choices = [SelectChoice("", _("Choose a member"))] + [
        SelectChoice(str(p.id), p.name) for p in eligible_members(session, indexer(), committee)
    ]
    forms.exclude.grant_id.choices = [SelectChoice("", _("Choose a member"))] + [
        SelectChoice(str(m.grant_id), m.name) for m in active_members
    ]
    forms.advice.recommended.choices = _outcome_choices()
    forms.decision.outcome.choices = _outcome_choices()
    # The version the page was made from: a change by someone else meanwhile is noticed.
    forms.advice.version.data = str(case.version)
    forms.decision.version.data = str(case.version)
    deadlines = deadline_views(session, flow, case, now())
    decision_due = next((d.due_on for d in deadlines if d.name == "decision"), None)
    if forms.extension.new_date.data is None:
        forms.extension.new_date.data = decision_due
    docs = documents(session, keys, case, committee.roles)
    route = flow[case.route]
    page = render_template(
        "committee/page.html",
        committee=committee,
        case=case,
        state_label=route.states[case.state].label if case.state in route.states else case.state,
        is_open=route.is_open(case.state),
        deadlines=deadlines,
        statuses=DeadlineStatus,
        people=people,
        own_grant=next((m for m in active_members if m.person_id == committee.person_id), None),
        hearings=[d for d in docs if d.kind is DocumentKind.HEARING_REPORT],
        witnesses=[d for d in docs if d.kind is DocumentKind.WITNESS_STATEMENT],
        advices=[d for d in docs if d.kind is DocumentKind.ADVICE],
        decisions=[d for d in docs if d.kind is DocumentKind.DECISION],
        letters=[d for d in docs if d.kind is DocumentKind.LETTER],
        advice=latest_advice(session, keys, case),
        can_advise=transition_available(flow, committee, SEND_ADVICE),
        can_decide=transition_available(flow, committee, DECIDE),
        forms=forms,
        letter_forms=[
            (kind, getattr(forms, prefix), letter_description(kind))
            for kind, (prefix, _form) in LETTER_FORMS.items()
        ],
        outcome_label=outcome_label,
        heard_label=heard_label,
        exclusion_label=exclusion_label,
        roles=GrantRole,
        as_date=date.fromisoformat,
        letter_title=letter_title,
    )
    return page, status


def _refused(
    committee: CommitteeCase, forms: PageForms, form: FlaskForm, field: str, exc: CommitteeRefused
) -> tuple[str, int]:
    """The page again, with the refusal beside the field it concerns (and in the summary)."""
    if exc.reason == "changed_meanwhile":
        # What was written stays in the form; the case is read again as it now is.
        case_id = committee.content.case.id
        db.session().rollback()
        committee = _open(case_id)
    getattr(form, field).errors = [*getattr(form, field).errors, refusal_text(exc)]
    return render_page(committee, forms, status=409)


def _invalid(committee: CommitteeCase, forms: PageForms) -> tuple[str, int]:
    return render_page(committee, forms, status=400)


@bp.get("/zaken/<uuid:case_id>/commissie")
@committee_case
def page(committee: CommitteeCase) -> tuple[str, int]:
    return render_page(committee)


# Members ---------------------------------------------------------------------------------------


@bp.post("/zaken/<uuid:case_id>/commissie/leden")
@committee_case
def assign(committee: CommitteeCase) -> Page:
    form = AssignMemberForm(prefix="assign")
    forms = replace(PageForms.blank(), assign=form)
    if not form.validate_on_submit():
        return _invalid(committee, forms)
    person_id = _chosen_id(form.person_id.data)
    if person_id is None:
        form.person_id.errors = [_("Choose the committee member to assign.")]
        return _invalid(committee, forms)
    try:
        assign_member(
            db.session(),
            keystore(),
            indexer(),
            workflow(),
            committee,
            person_id=person_id,
            now=now(),
        )
    except CommitteeRefused as exc:
        return _refused(committee, forms, form, "person_id", exc)
    flash(_("The member has been assigned and told by e-mail (without any content)."), "success")
    return redirect(_page_url(committee, "leden"), 303)


@bp.post("/zaken/<uuid:case_id>/commissie/leden/uitsluiten")
@committee_case
def exclude(committee: CommitteeCase) -> Page:
    form = ExcludeMemberForm(prefix="exclude")
    forms = replace(PageForms.blank(), exclude=form)
    if not form.validate_on_submit():
        return _invalid(committee, forms)
    grant_id = _chosen_id(form.grant_id.data)
    if grant_id is None:
        form.grant_id.errors = [_("Choose the member.")]
        return _invalid(committee, forms)
    try:
        exclude_member(
            db.session(),
            keystore(),
            workflow(),
            committee,
            grant_id=grant_id,
            exclusion=Exclusion(form.exclusion.data),
            reason=form.reason.data,
            now=now(),
        )
    except CommitteeRefused as exc:
        return _refused(committee, forms, form, "grant_id", exc)
    flash(
        _("The member no longer takes part in this case. The reason has been recorded."),
        "success",
    )
    return redirect(_page_url(committee, "leden"), 303)


@bp.post("/zaken/<uuid:case_id>/commissie/leden/verschoning")
@committee_case
def recuse(committee: CommitteeCase) -> Page:
    form = RecusalForm(prefix="recuse")
    forms = replace(PageForms.blank(), recuse=form)
    if not form.validate_on_submit():
        return _invalid(committee, forms)
    try:
        step_aside(
            db.session(), keystore(), workflow(), committee, reason=form.reason.data, now=now()
        )
    except CommitteeRefused as exc:
        return _refused(committee, forms, form, "reason", exc)
    flash(_("You have stepped aside in this case. The reason has been recorded."), "success")
    if GrantRole.COMMITTEE_SECRETARY in committee.roles:  # still on the case as secretary
        return redirect(_page_url(committee, "leden"), 303)
    # Their access to the case has ended: back to their list of cases.
    return redirect(url_for("casework.inbox_page"), 303)


# Documents -------------------------------------------------------------------------------------


@bp.post("/zaken/<uuid:case_id>/commissie/hoorzitting")
@committee_case
def hearing(committee: CommitteeCase) -> Page:
    form = HearingReportForm(prefix="hearing")
    forms = replace(PageForms.blank(), hearing=form)
    if not form.validate_on_submit():
        return _invalid(committee, forms)
    try:
        add_hearing_report(
            db.session(),
            keystore(),
            workflow(),
            committee,
            heard=HeardParty(form.heard.data),
            heard_on=form.heard_on.data,
            report=form.report.data,
            now=now(),
        )
    except CommitteeRefused as exc:
        return _refused(committee, forms, form, "report", exc)
    flash(_("The hearing report has been saved."), "success")
    return redirect(_page_url(committee, "hoorzittingen"), 303)


@bp.post("/zaken/<uuid:case_id>/commissie/getuigenverklaring")
@committee_case
def witness(committee: CommitteeCase) -> Page:
    form = WitnessStatementForm(prefix="witness")
    forms = replace(PageForms.blank(), witness=form)
    if not form.validate_on_submit():
        return _invalid(committee, forms)
    try:
        add_witness_statement(
            db.session(),
            keystore(),
            workflow(),
            committee,
            identity=form.identity.data,
            pseudonym=form.pseudonym.data or "",
            heard_on=form.heard_on.data,
            statement=form.statement.data,
            now=now(),
        )
    except CommitteeRefused as exc:
        return _refused(committee, forms, form, "statement", exc)
    flash(
        _("The witness statement has been saved. Only the committee can see who the witness is."),
        "success",
    )
    return redirect(_page_url(committee, "getuigen"), 303)


def _version(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and len(raw) < 10 else -1


@bp.post("/zaken/<uuid:case_id>/commissie/advies")
@committee_case
def advice(committee: CommitteeCase) -> Page:
    form = AdviceForm(prefix="advice")
    forms = replace(PageForms.blank(), advice=form)
    if not form.validate_on_submit():
        return _invalid(committee, forms)
    if form.recommended.data not in decision_outcomes(workflow()):
        form.recommended.errors = [_("Choose the outcome the committee recommends.")]
        return _invalid(committee, forms)
    try:
        record_advice(
            db.session(),
            keystore(),
            workflow(),
            committee,
            summary=form.summary.data,
            recommended=form.recommended.data,
            expected_version=_version(form.version.data),
            now=now(),
        )
    except CommitteeRefused as exc:
        return _refused(committee, forms, form, "summary", exc)
    flash(
        _("The advice has been recorded; the competent authority now decides."),
        "success",
    )
    return redirect(_page_url(committee, "advies"), 303)


@bp.post("/zaken/<uuid:case_id>/commissie/besluit")
@committee_case
def decision(committee: CommitteeCase) -> Page:
    form = DecisionForm(prefix="decision")
    forms = replace(PageForms.blank(), decision=form)
    if not form.validate_on_submit():
        return _invalid(committee, forms)
    if form.outcome.data not in decision_outcomes(workflow()):
        form.outcome.errors = [_("Choose the outcome of the decision.")]
        return _invalid(committee, forms)
    try:
        record_decision(
            db.session(),
            keystore(),
            workflow(),
            committee,
            outcome=form.outcome.data,
            reasons=form.reasons.data,
            departure_reason=form.departure_reason.data or "",
            expected_version=_version(form.version.data),
            now=now(),
        )
    except CommitteeRefused as exc:
        field = "departure_reason" if exc.reason == "departure_reason_required" else "reasons"
        return _refused(committee, forms, form, field, exc)
    flash(_("The decision has been recorded."), "success")
    return redirect(_page_url(committee, "besluit"), 303)


# Letters ---------------------------------------------------------------------------------------


@bp.post("/zaken/<uuid:case_id>/commissie/brieven/<kind>")
@committee_case
def letter(committee: CommitteeCase, kind: str) -> Page:
    try:
        letter_kind = LetterKind(kind)
    except ValueError:
        return render_error(404)
    prefix, form_class = LETTER_FORMS[letter_kind]
    form = form_class(prefix=prefix)
    forms = replace(PageForms.blank(), **{prefix: form})
    if not form.validate_on_submit():
        return _invalid(committee, forms)
    try:
        generate_letter(
            db.session(),
            keystore(),
            workflow(),
            committee,
            kind=letter_kind,
            language=form.language.data,
            reasons=form.reasons.data if isinstance(form, NotAdmissibleLetterForm) else "",
            new_date=form.new_date.data if isinstance(form, ExtensionLetterForm) else None,
            now=now(),
        )
    except CommitteeRefused as exc:
        return _refused(committee, forms, form, "language", exc)
    flash(_("The letter has been written. Download it below to print or send it."), "success")
    return redirect(_page_url(committee, "brieven"), 303)


@bp.get("/zaken/<uuid:case_id>/commissie/brieven/<uuid:letter_id>")
@committee_case
def download_letter(committee: CommitteeCase, letter_id: uuid.UUID) -> Page:
    try:
        found = open_letter(db.session(), keystore(), committee, letter_id=letter_id, now=now())
    except CaseNotFound:
        return render_error(404)
    response = Response(found.html, content_type="text/html; charset=utf-8")
    # A name of our own making (reference, kind, time): nothing anyone typed reaches it.
    filename = f"{committee.case.reference}-{found.template}-{found.created_at:%Y%m%d-%H%M%S}.html"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
