"""The privacy officer's pages at ``/privacy``: the retention plan, the ledger, the processing
register and legal holds, with CSV exports.

Only the privacy officer comes here (everyone else: 403). The pages show references, rules,
dates and counts; the privacy officer places a hold by reference and never opens a case (the
case pages keep refusing anyone without a grant).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response as BaseResponse

from complaints import db
from complaints.accounts.login import holds_role, menu_shows, roles_required, staff_user
from complaints.accounts.models import Role
from complaints.audit.services import Actor
from complaints.clock import now
from complaints.crypto.services import keystore
from complaints.retention import holds as hold_services
from complaints.retention.forms import HoldForm, LiftHoldForm, PlanFilterForm
from complaints.retention.holds import (
    RetentionRefused,
    case_by_reference,
    refusal_message,
    standing_holds,
)
from complaints.retention.policy import Action, CountsFrom, RetentionPolicy, Rule, retention_policy
from complaints.retention.register import (
    iter_ledger,
    ledger_page,
    period_text,
    processing_register,
    records_text,
)
from complaints.retention.sweep import DEFAULT_PLAN_DAYS, PlanEntry, plan
from complaints.web.csvexport import csv_response
from complaints.web.i18n import _, current_language
from complaints.workflow.config import workflow
from complaints.workflow.services import local_date

bp = Blueprint("privacy", __name__, template_folder="templates")


@bp.app_context_processor
def privacy_navigation() -> dict[str, Any]:
    def nav_privacy() -> bool:
        """Whether the menu shows "Privacy": for the privacy officer only."""
        return menu_shows(holds_role(Role.PRIVACY_OFFICER))

    return {"nav_privacy": nav_privacy}


def _today() -> date:
    return local_date(now())


def _horizon() -> int:
    form = PlanFilterForm(request.args)
    if request.args.get("dagen") and form.validate() and form.dagen.data is not None:
        return int(form.dagen.data)
    return DEFAULT_PLAN_DAYS


def _page_number() -> int:
    raw = request.args.get("pagina", "1")
    return int(raw) if raw.isdigit() and len(raw) < 7 else 1


def action_label(action: Action) -> str:
    return _("Destroy") if action is Action.DESTROY else _("Redact")


def ledger_action_label(action: str) -> str:
    return {
        "destroyed": _("Destroyed"),
        "redacted": _("Redacted"),
        "key_destroyed": _("Epoch key destroyed"),
    }.get(action, action)


def record_kind_label(kind: str) -> str:
    """A kind of record a ledger row counts (a table, or a field a redaction cleared), in
    words; the CSV keeps the keys themselves. An unknown kind is shown as it is."""
    return {
        "cases": _("Cases"),
        "key_slots": _("Key slots"),
        "key_slots_under_epoch_key": _("Key slots under an epoch key"),
        "case_parties": _("People named"),
        "case_events": _("History entries"),
        "deadlines": _("Time limits"),
        "attachments": _("Files"),
        "messages": _("Messages"),
        "consents": _("Consents"),
        "case_notes": _("Notes"),
        "case_documents": _("Documents and letters"),
        "case_access_grants": _("Access grants"),
        "complainant_sessions": _("Mailbox sessions"),
        "retention_holds": _("Legal holds"),
        "retention_extensions": _("Retention extensions"),
        "retention_reminders": _("Retention reminders"),
        "notifications": _("E-mails"),
        "intake_drafts": _("Unsent drafts"),
        "intake_draft_attachments": _("Files of unsent drafts"),
        "staff_sessions": _("Staff sessions"),
        "audit_events": _("Audit events"),
        "keks": _("Key-encryption keys"),
        "epoch_keys": _("Epoch keys"),
        "complainant": _("Who filed"),
        "receipt": _("Receipt code index"),
        "description": _("Description"),
        "incident": _("When and where"),
        "desired_outcome": _("Desired outcome"),
        "remarks": _("Remarks with steps"),
        "consent_details": _("Consent details"),
    }.get(kind, kind)


def category_label(category: str) -> str:
    policy = retention_policy()
    for info in policy.categories.values():
        if info.category.value == category:
            return str(info.name)
    return {"key": _("Encryption keys")}.get(category, category)


def _rule_label(name: str) -> str:
    rule = retention_policy().rule(name)
    return str(rule.label) if rule else name


def counts_from_label(counts_from: CountsFrom) -> str:
    return {
        CountsFrom.CLOSED: _("the day the case was closed"),
        CountsFrom.DECIDED: _("the day of the decision on the complaint"),
        CountsFrom.WITHDRAWN: _("the day the report was withdrawn"),
        CountsFrom.LAST_ACTIVITY: _("the last activity"),
        CountsFrom.FILED: _("the day it was recorded"),
    }[counts_from]


def _helpers() -> dict[str, object]:
    return {
        "counts_from_label": counts_from_label,
        "action_label": action_label,
        "ledger_action_label": ledger_action_label,
        "category_label": category_label,
        "rule_label": _rule_label,
        "period_text": period_text,
        "records_text": records_text,
        "record_kind_label": record_kind_label,
    }


@bp.get("/privacy")
@login_required
@roles_required(Role.PRIVACY_OFFICER)
def plan_page() -> str:
    today = _today()
    days = _horizon()
    rows = plan(db.session(), retention_policy(), workflow(), as_of=today, days=days)
    return render_template(
        "privacy/plan.html",
        form=PlanFilterForm(request.args, dagen=days),
        rows=rows,
        days=days,
        today=today,
        horizon=today + timedelta(days=days),
        policy=retention_policy(),
        **_helpers(),
    )


@bp.get("/privacy/plan.csv")
@login_required
@roles_required(Role.PRIVACY_OFFICER)
def plan_csv() -> Response:
    today = _today()
    days = _horizon()
    rows = plan(db.session(), retention_policy(), workflow(), as_of=today, days=days)
    header = [
        _("Reference"),
        _("Rule"),
        _("Action"),
        _("Due on"),
        _("Extended"),
        _("Held"),
        _("Held until"),
    ]
    return csv_response(
        f"bewaarplan-{today.isoformat()}.csv", header, (_plan_cells(r) for r in rows)
    )


def _plan_cells(row: PlanEntry) -> list[object]:
    return [
        row.reference,
        row.rule,
        row.action.value,
        row.due_on.isoformat(),
        _("yes") if row.extended else _("no"),
        _("yes") if row.held else _("no"),
        row.hold_until.isoformat() if row.hold_until else "",
    ]


@bp.get("/privacy/logboek")
@login_required
@roles_required(Role.PRIVACY_OFFICER)
def ledger() -> str:
    result = ledger_page(db.session(), page=_page_number())
    return render_template(
        "privacy/ledger.html",
        result=result,
        page_url=lambda number: url_for("privacy.ledger", pagina=number),
        **_helpers(),
    )


@bp.get("/privacy/logboek.csv")
@login_required
@roles_required(Role.PRIVACY_OFFICER)
def ledger_csv() -> Response:
    header = [
        _("Occurred at (UTC)"),
        _("Policy day"),
        _("Category"),
        _("Subject"),
        _("Rule"),
        _("Action"),
        _("Records"),
    ]
    rows = (
        [
            entry.occurred_at.isoformat(),
            entry.as_of.isoformat(),
            entry.category,
            entry.subject or "",
            entry.rule,
            entry.action,
            records_text(entry.records),
        ]
        for entry in iter_ledger(db.session())
    )
    return csv_response(f"vernietigingslogboek-{_today().isoformat()}.csv", header, rows)


@bp.get("/privacy/register")
@login_required
@roles_required(Role.PRIVACY_OFFICER)
def register() -> str:
    policy = retention_policy()
    return render_template(
        "privacy/register.html",
        policy=policy,
        entries=processing_register(policy),
        **_helpers(),
    )


@bp.get("/privacy/register.csv")
@login_required
@roles_required(Role.PRIVACY_OFFICER)
def register_csv() -> Response:
    policy = retention_policy()
    header = [
        _("Category"),
        _("Name"),
        _("Purpose"),
        _("Data subjects"),
        _("Personal data"),
        _("Recipients"),
        _("Rule"),
        _("Rule description"),
        _("Retention period"),
        _("Counts from"),
        _("Action"),
        _("Fields"),
        _("DPIA section"),
        _("Legal ground"),
        _("Basis"),
        _("Reminder before"),
        _("Extension"),
    ]
    return csv_response(
        f"verwerkingsregister-{_today().isoformat()}.csv", header, _register_rows(policy)
    )


def _register_rows(policy: RetentionPolicy) -> Iterable[list[object]]:
    language = current_language()
    for entry in processing_register(policy):
        info = entry.info
        for rule in entry.rules:
            yield [
                info.category.value,
                info.name.in_language(language),
                info.purpose.in_language(language),
                info.subjects.in_language(language),
                info.data.in_language(language),
                info.recipients.in_language(language),
                *_rule_cells(rule, language),
            ]


def _rule_cells(rule: Rule, language: str) -> list[object]:
    return [
        rule.name,
        rule.label.in_language(language),
        period_text(rule.period),
        rule.counts_from.value,
        rule.action.value,
        " ".join(rule.fields),
        rule.dpia_section,
        rule.legal_ground.in_language(language),
        rule.basis.in_language(language),
        period_text(rule.remind_before),
        period_text(rule.extension),
    ]


@bp.route("/privacy/bewaarplicht", methods=["GET", "POST"])
@login_required
@roles_required(Role.PRIVACY_OFFICER)
def holds() -> str | tuple[str, int] | BaseResponse:
    form = HoldForm()
    status = 200
    if form.validate_on_submit():
        session = db.session()
        case = case_by_reference(session, form.reference.data or "")
        try:
            if case is None:
                raise RetentionRefused(hold_services.UNKNOWN_CASE)
            hold_services.place_hold(
                session,
                keystore(),
                case,
                reason=form.reason.data or "",
                until=form.until.data,
                person_id=staff_user().person_id,
                actor=Actor.staff(staff_user().account.id),
                now=now(),
            )
        except RetentionRefused as refused:
            field = form.until if refused.reason == hold_services.UNTIL_IN_PAST else None
            field = field or (
                form.reason
                if refused.reason in (hold_services.NO_REASON, hold_services.REASON_TOO_LONG)
                else form.reference
            )
            field.errors = [*field.errors, refusal_message(refused.reason)]
            status = 409
        else:
            flash(
                _(
                    "The hold on %(reference)s has been placed: the case will not be destroyed "
                    "or redacted while it stands.",
                    reference=case.reference,
                ),
                "success",
            )
            return redirect(url_for("privacy.holds"), 303)
    elif form.is_submitted():
        status = 400
    return _holds_page(form, status)


@bp.post("/privacy/bewaarplicht/opheffen")
@login_required
@roles_required(Role.PRIVACY_OFFICER)
def lift() -> str | tuple[str, int] | BaseResponse:
    form = LiftHoldForm()
    if not form.validate_on_submit():
        return _holds_page(HoldForm(formdata=None), 400)
    try:
        hold_services.lift_hold(
            db.session(),
            keystore(),
            int(form.hold_id.data),
            person_id=staff_user().person_id,
            actor=Actor.staff(staff_user().account.id),
            now=now(),
        )
    except RetentionRefused as refused:
        flash(refusal_message(refused.reason), "error")
        return redirect(url_for("privacy.holds"), 303)
    flash(_("The hold has been lifted; the case's retention runs again."), "success")
    return redirect(url_for("privacy.holds"), 303)


def _holds_page(form: HoldForm, status: int) -> tuple[str, int]:
    page = render_template(
        "privacy/holds.html",
        form=form,
        holds=standing_holds(db.session(), as_of=_today()),
        lift_form=LiftHoldForm(formdata=None),
        **_helpers(),
    )
    return page, status
