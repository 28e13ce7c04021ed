"""Pages of the referral blueprint: passing a case on with consent, and filing on someone's behalf.

``/zaken/<id>/doorverwijzen`` is for the case's own confidant only; for anyone else — another
handler, a confidant without a grant on this case, a case id that does not exist — it is a 404,
so that case ids reveal nothing. ``/zaken/namens-melden`` is for holders of the confidant role.
The receipt code of a report filed on someone's behalf is shown once, in the answer to the
form itself: never in an address, a redirect, a flash message or a log.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from complaints import db
from complaints.accounts.login import roles_required, staff_user
from complaints.accounts.models import Role
from complaints.audit.services import Actor
from complaints.cases.labels import grant_label
from complaints.cases.models import Case, Disclosure, Route
from complaints.cases.services import CaseContent, CaseNotFound
from complaints.cases.taxonomy import taxonomy
from complaints.clock import now
from complaints.crypto.services import indexer, keystore
from complaints.directory.models import OrgUnit, Person
from complaints.directory.search import (
    PersonMatch,
    active_person,
    search_people,
    units_by_ministry,
)
from complaints.intake.services import (
    AccusedPerson,
    Identity,
    RecipientsChanged,
    Report,
    ReportRefused,
)
from complaints.intake.wording import Option, disclosure_options, route_infos
from complaints.logs import get_logger
from complaints.referral.forms import PROXY_ANSWERS, ConsentForm, ProxyReportForm, ReferForm
from complaints.referral.proxy import ProxyChannel, file_on_behalf, preview_on_behalf
from complaints.referral.services import (
    ConsentChannel,
    ReferralConsent,
    ReferralRefused,
    ReferralScope,
    open_as_confidant,
    parse_choice,
    record_consent,
    refer_case,
    referral_choices,
    referral_consent,
    referrals_from,
)
from complaints.referral.wording import (
    consent_channel_label,
    consent_channel_options,
    proxy_channel_options,
    proxy_no_handler,
    proxy_refusal,
    proxy_summary,
    recipients_text,
    referral_options,
    referral_refusal,
    scope_label,
    scope_options,
    staff_route_options,
    unavailable_routes,
)
from complaints.routing.services import NoEligibleHandler
from complaints.web.dates import format_date
from complaints.web.errors import answer_case_conflicts, render_error
from complaints.web.i18n import _
from complaints.workflow.config import workflow
from complaints.workflow.services import deadline_views, local_date

bp = Blueprint("referral", __name__, template_folder="templates")
log = get_logger(__name__)

SEARCH_LIMIT = 10


def _actor() -> Actor:
    return Actor.staff(staff_user().account.id)


answer_case_conflicts(bp, "referral.refer")


# Referral ---------------------------------------------------------------------------------------


def _opened(case_id: uuid.UUID) -> CaseContent | None:
    """The case for its confidant, or None. Either way the attempt is audited, and the 404 that
    follows is a normal answer, so the refusal's audit event is committed with it."""
    try:
        return _open(case_id)
    except CaseNotFound:
        return None


def _open(case_id: uuid.UUID) -> CaseContent:
    return open_as_confidant(
        db.session(),
        keystore(),
        indexer(),
        case_id=case_id,
        person_id=staff_user().person_id,
        actor=_actor(),
        now=now(),
    )


def _shown_recipients(choice: str | None) -> frozenset[int] | None:
    """The people the page showed for ``choice`` (None when the post does not say: a garbled
    list counts as shown to nobody, so it is refused as changed)."""
    shown = request.form.get(f"shown-{choice}")
    if shown is None:
        return None
    try:
        return frozenset(int(i) for i in shown.split(",") if i)
    except ValueError:
        return frozenset()


@bp.get("/zaken/<uuid:case_id>/doorverwijzen")
@login_required
def refer(case_id: uuid.UUID) -> str | tuple[str, int]:
    content = _opened(case_id)
    if content is None:
        return render_error(404)
    return _refer_page(content)


@bp.post("/zaken/<uuid:case_id>/doorverwijzen")
@login_required
def refer_submit(case_id: uuid.UUID) -> Response | str | tuple[str, int]:
    content = _opened(case_id)
    if content is None:
        return render_error(404)
    session = db.session()
    form = ReferForm()
    choice = parse_choice(form.choice.data) if form.validate_on_submit() else None
    if choice is None:
        return _refer_page(content, refer_form=form)
    target, scope = choice
    try:
        referral = refer_case(
            session,
            keystore(),
            indexer(),
            taxonomy(),
            workflow(),
            case_id=case_id,
            target=target,
            scope=scope,
            referrer_person_id=staff_user().person_id,
            actor=_actor(),
            now=now(),
            expected_recipients=_shown_recipients(form.choice.data),
        )
        session.flush()
    except ReferralRefused as exc:
        db.rollback()
        form.choice.errors.append(referral_refusal(exc.reason))
        return _refer_page(_open(case_id), refer_form=form)
    except StaleDataError:
        db.rollback()
        flash(
            _("This case was changed by someone else meanwhile. Check the page and try again."),
            "error",
        )
        return redirect(url_for("referral.refer", case_id=case_id), code=303)
    flash(
        _(
            "The report has been passed on to %(route)s as case %(reference)s. It went to: "
            "%(names)s.",
            route=str(workflow()[referral.case.route].label),
            reference=referral.case.reference,
            names=recipients_text(referral.recipients),
        ),
        "success",
    )
    return redirect(url_for("referral.refer", case_id=case_id), code=303)


@bp.post("/zaken/<uuid:case_id>/doorverwijzen/toestemming")
@login_required
def record_consent_submit(case_id: uuid.UUID) -> Response | str | tuple[str, int]:
    content = _opened(case_id)
    if content is None:
        return render_error(404)
    case = content.case
    form = _consent_form(case)
    if not form.validate_on_submit():
        return _refer_page(content, consent_form=form)
    try:
        record_consent(
            db.session(),
            keystore(),
            workflow(),
            case,
            scope=ReferralScope(form.consent_scope.data),
            channel=ConsentChannel(form.channel.data),
            given_on=form.given_on.data or local_date(now()),
            recorder_person_id=staff_user().person_id,
            actor=_actor(),
            now=now(),
        )
    except ReferralRefused as exc:
        db.rollback()
        form.given_on.errors.append(referral_refusal(exc.reason))
        return _refer_page(_open(case_id), consent_form=form)
    flash(
        _("The consent has been recorded. The complainant can see it in their mailbox."), "success"
    )
    return redirect(url_for("referral.refer", case_id=case_id, _anchor="toestemming"), code=303)


def _consent_form(case: Case, **kwargs: Any) -> ConsentForm:
    return ConsentForm(today=local_date(now()), earliest=local_date(case.submitted_at), **kwargs)


def _refer_page(
    content: CaseContent,
    *,
    refer_form: ReferForm | None = None,
    consent_form: ConsentForm | None = None,
) -> str:
    session = db.session()
    case = content.case
    flow = workflow()
    consent = referral_consent(session, keystore(), case)
    referred = referrals_from(session, case.id)
    choices = referral_choices(session, taxonomy(), flow, content, consent)
    options = referral_options(flow, choices)
    # Nothing is chosen beforehand, not even a single option: passing a report on is done
    # on purpose.
    refer_form = refer_form or ReferForm(formdata=None)
    consent_form = consent_form or _consent_form(
        case, formdata=None, data={"given_on": local_date(now())}
    )
    return render_template(
        "referral/refer.html",
        case=case,
        content=content,
        is_open=flow[case.route].is_open(case.state),
        state_label=_state_label(case),
        consent=consent,
        consent_text=_consent_text(session, consent) if consent else None,
        referred=[(c, str(flow[c.route].label)) for c in referred],
        referral_options=options,
        unavailable=unavailable_routes(flow, choices),
        consent_scope_options=scope_options(list(ReferralScope)),
        channel_options=consent_channel_options(),
        refer_form=refer_form,
        consent_form=consent_form,
        anonymous=case.disclosure is Disclosure.ANONYMOUS,
        messages_url=url_for("casework.case_page", case_id=case.id, _anchor="berichten"),
    )


def _state_label(case: Case) -> str:
    state = workflow()[case.route].states.get(case.state)
    return str(state.label) if state else case.state


def _consent_text(session: Session, consent: ReferralConsent) -> str:
    scope = scope_label(consent.scope)
    if consent.recorded_by_person_id is None:
        return _(
            "The complainant gave consent in their mailbox on %(date)s. It covers: %(scope)s.",
            date=format_date(consent.given_at),
            scope=scope,
        )
    recorder = session.get(Person, consent.recorded_by_person_id)
    assert consent.channel is not None  # noqa: S101 - a recorded consent says how
    assert consent.given_on is not None  # noqa: S101 - and when
    return _(
        "The complainant gave consent %(how)s on %(date)s, recorded by %(name)s. It covers: "
        "%(scope)s.",
        how=consent_channel_label(consent.channel).lower(),
        date=format_date(consent.given_on),
        name=recorder.name if recorder else _("someone no longer in the directory"),
        scope=scope,
    )


# Filing on someone's behalf -----------------------------------------------------------------


@bp.route("/zaken/namens-melden", methods=["GET", "POST"])
@login_required
@roles_required(Role.CONFIDANT)
def proxy_report() -> str:
    """The form, then its review (who will receive it), then filing: nothing is filed before
    the review was seen and confirmed, and filing is held to the recipients it showed."""
    session = db.session()
    tax = taxonomy()
    groups = units_by_ministry(session)
    form = ProxyReportForm(
        categories=[c.key for c in tax.offered],
        grounds=list(tax.grounds),
        unit_ids=[str(u.id) for g in groups for u in g.units],
        today=local_date(now()),
    )
    form.unit.choices = [SelectChoice("", _("Not known"))] + [
        SelectChoice(str(u.id), u.name, optgroup=g.ministry.name) for g in groups for u in g.units
    ]
    accused_search: list[PersonMatch] | None = None
    employee_search: list[PersonMatch] | None = None
    action = request.form.get("action")
    if form.is_submitted() and action not in ("review", "submit", "change"):
        # A search, or Enter pressed in a text field (the first button is a search): nothing is
        # filed and everything typed stays. The CSRF token was checked before the view ran.
        if action == "search_employee":
            employee_search = _search(session, form.employee_query.data)
        else:
            accused_search = _search(session, form.accused_query.data)
    elif form.is_submitted() and action == "change":
        pass  # back from the review: the form again, as it was filled in
    elif form.validate_on_submit():
        report = _report(session, form)
        if action == "submit" and form.reviewed():
            answer = _file(session, form, report)
        else:
            # Also a "file" without the review (an old page, a script): the review first.
            answer = _review(session, form, report)
        if answer is not None:
            return answer
    return _proxy_page(session, form, accused_search, employee_search)


def _search(session: Session, query: str | None) -> list[PersonMatch] | None:
    """Matches for a search; None when nothing was searched for."""
    return search_people(session, query, limit=SEARCH_LIMIT) if query else None


def _refused(form: ProxyReportForm, exc: ReportRefused | NoEligibleHandler) -> None:
    """Put why the report cannot go like this beside the field to change."""
    if isinstance(exc, ReportRefused):
        _field_for(form, exc.field).errors.append(proxy_refusal(exc.reason))
        return
    field = form.employee_query if exc.reason == "manager_unknown" else form.route
    field.errors.append(proxy_no_handler(exc.reason))


def _review(
    session: Session, form: ProxyReportForm, report: Report, *, recipients_changed: bool = False
) -> str | None:
    """The review: every answer, who will receive it, what the employee will be told. None:
    the report cannot go like this, and the form shows why."""
    user = staff_user()
    flow = workflow()
    try:
        recipients = preview_on_behalf(
            session, taxonomy(), flow, report, confidant_person_id=user.person_id
        )
    except (ReportRefused, NoEligibleHandler) as exc:
        _refused(form, exc)
        return None
    route = flow[report.route]
    unit = session.get(OrgUnit, report.unit_id) if report.unit_id else None
    picked = form.picked_employee()
    employee = active_person(session, picked) if picked is not None else None
    info = route_infos(flow, [report.route])[0]
    return render_template(
        "referral/proxy_review.html",
        form=form,
        rows=proxy_summary(
            taxonomy(),
            report,
            channel=ProxyChannel(form.channel.data),
            route_label=str(route.label),
            unit_name=unit.name if unit else None,
            employee_name=employee.name if employee else None,
        ),
        # What was sent, sent on unchanged: the review changes nothing that was typed.
        answers=[(name, value) for name in PROXY_ANSWERS for value in request.form.getlist(name)],
        recipients=[(r, grant_label(r.role)) for r in recipients],
        recipient_ids=[str(r.person_id) for r in recipients],
        kept=any(r.person_id == user.person_id for r in recipients),
        mailbox_text=route.states[route.initial].public,
        next_steps=info.next_steps,
        deadlines=info.deadlines,
        anonymous=report.disclosure is Disclosure.ANONYMOUS,
        committee=report.route is Route.COMMITTEE,
        recipients_changed=recipients_changed,
    )


def _file(session: Session, form: ProxyReportForm, report: Report) -> str | None:
    """File the report; the answer page shows the receipt code once. None: errors on the form."""
    user = staff_user()
    try:
        submission = file_on_behalf(
            session,
            keystore(),
            indexer(),
            taxonomy(),
            workflow(),
            report,
            confidant_person_id=user.person_id,
            channel=ProxyChannel(form.channel.data),
            expected_recipients=form.expected_recipients(),
            actor=_actor(),
            now=now(),
        )
    except RecipientsChanged:
        db.rollback()
        return _review(session, form, report, recipients_changed=True)
    except (ReportRefused, NoEligibleHandler) as exc:
        db.rollback()
        _refused(form, exc)
        return None
    case = submission.case
    return render_template(
        "referral/proxy_done.html",
        code_groups=submission.receipt_code.split("-"),
        case=case,
        route_label=str(workflow()[case.route].label),
        recipients=[(r, grant_label(r.role)) for r in submission.recipients],
        kept=any(r.person_id == user.person_id for r in submission.recipients),
        deadlines=[
            (str(d.label), format_date(d.due_on))
            for d in deadline_views(session, workflow(), case, now())
        ],
        anonymous=case.disclosure is Disclosure.ANONYMOUS,
    )


def _field_for(form: ProxyReportForm, name: str | None) -> Any:
    fields = {
        "category": form.category,
        "grounds": form.grounds,
        "route": form.route,
        "description": form.description,
        "desired_outcome": form.desired_outcome,
        "disclosure": form.disclosure,
        "name": form.name,
        "email": form.email,
        "phone": form.phone,
        "manager": form.employee_query,
        "when": form.when_text,
        "place": form.place,
        "accused": form.accused_names,
    }
    return fields.get(name or "", form.route)


def _report(session: Session, form: ProxyReportForm) -> Report:
    disclosure = Disclosure(form.disclosure.data)
    picked = form.picked_employee()
    employee = session.get(Person, picked) if picked is not None else None
    if employee is not None and not employee.active:
        employee = None
    identity = None
    if disclosure is not Disclosure.ANONYMOUS:
        identity = Identity(
            form.name.data or (employee.name if employee else ""),
            form.email.data or "",
            form.phone.data or "",
            employee.id if employee else None,
        )
    elif employee is not None:
        # Not stored (the report is anonymous): it only keeps the employee from being asked
        # to handle their own report.
        identity = Identity(employee.name, person_id=employee.id)
    accused = [
        AccusedPerson(person.name, "", person.id)
        for person_id in form.picked_accused()
        if (person := session.get(Person, person_id)) is not None and person.active
    ] + [AccusedPerson(name) for name in form.typed_accused()]
    return Report(
        category=form.category.data,
        grounds=tuple(form.grounds.data),
        when=_when(form),
        last_incident_on=form.last_incident_on.data,
        ongoing=bool(form.ongoing.data),
        unit_id=int(form.unit.data) if form.unit.data else None,
        place=form.place.data or "",
        description=form.description.data,
        accused=tuple(accused),
        witnesses=(),
        desired_outcome=form.desired_outcome.data or "",
        route=Route(form.route.data),
        disclosure=disclosure,
        identity=identity,
        manager_person_id=employee.manager_id if employee is not None else None,
    )


def _when(form: ProxyReportForm) -> str:
    parts = []
    if form.last_incident_on.data:
        parts.append(format_date(form.last_incident_on.data))
    if form.ongoing.data:
        parts.append(_("still going on"))
    if form.when_text.data:
        parts.append(form.when_text.data)
    return "; ".join(parts)


def _proxy_page(
    session: Session,
    form: ProxyReportForm,
    accused_search: list[PersonMatch] | None,
    employee_search: list[PersonMatch] | None,
) -> str:
    tax = taxonomy()
    flow = workflow()
    picked = [m for pid in form.picked_accused() if (m := active_person(session, pid))]
    accused_people = picked + [
        m for m in accused_search or [] if m.id not in {p.id for p in picked}
    ]
    picked_id = form.picked_employee()
    employee = active_person(session, picked_id) if picked_id is not None else None
    employee_people = ([employee] if employee else []) + [
        m for m in employee_search or [] if employee is None or m.id != employee.id
    ]
    return render_template(
        "referral/proxy.html",
        form=form,
        channels=proxy_channel_options(),
        categories=[Option(c.key, c.label, c.hint) for c in tax.offered],
        grounds=[Option(g.key, g.label) for g in tax.grounds.values()],
        accused_options=[Option(str(p.id), p.name, _person_hint(p)) for p in accused_people],
        accused_searched=accused_search is not None,
        accused_query=form.accused_query.data or "",
        employee_options=[Option(str(p.id), p.name, _person_hint(p)) for p in employee_people],
        employee_searched=employee_search is not None,
        employee_query=form.employee_query.data or "",
        disclosures=disclosure_options(),
        routes=staff_route_options(flow, list(Route)),
    )


def _person_hint(person: PersonMatch) -> str:
    return ", ".join(part for part in (person.job_title, person.unit_name) if part)
