"""Pages of the handover blueprint, for administrators at ``/beheer/overdracht``.

The administrator chooses a handler, sees where each of their open cases would go — by
reference, route and state only; an administrator never reads a case — and moves them, with or
without deactivating the handler's account.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import AnyOf

from complaints import db
from complaints.accounts.login import roles_required, staff_user
from complaints.accounts.models import Role
from complaints.audit.services import Actor
from complaints.cases.labels import grant_label
from complaints.cases.models import Route
from complaints.clock import now
from complaints.crypto.services import keystore
from complaints.handover.services import (
    HandoverBlocked,
    HandoverPlan,
    MoveKind,
    hand_over,
    handlers_with_open_cases,
    plan_handover,
)
from complaints.web.i18n import _
from complaints.workflow.config import workflow

bp = Blueprint("handover", __name__, template_folder="templates")

REASSIGN = "reassign"
DEACTIVATE = "deactivate"


class HandoverForm(FlaskForm):
    mode = HiddenField(validators=[AnyOf([REASSIGN, DEACTIVATE])])


@bp.get("/beheer/overdracht")
@login_required
@roles_required(Role.ADMIN)
def overview() -> str:
    return render_template(
        "handover/overview.html",
        handlers=handlers_with_open_cases(db.session(), workflow()),
        route_label=_route_label,
    )


@bp.route("/beheer/overdracht/<int:person_id>", methods=["GET", "POST"])
@login_required
@roles_required(Role.ADMIN)
def handler(person_id: int) -> str | tuple[str, int]:
    session = db.session()
    form = HandoverForm()
    if form.validate_on_submit():
        try:
            result = hand_over(
                session,
                keystore(),
                workflow(),
                person_id,
                deactivate=form.mode.data == DEACTIVATE,
                actor=Actor.staff(staff_user().account.id),
                actor_person_id=staff_user().person_id,
                now=now(),
            )
        except LookupError:
            abort(404)
        except HandoverBlocked as blocked:
            db.rollback()
            return _plan_page(blocked.plan, form, blocked=True), 409
        return render_template(
            "handover/done.html",
            result=result,
            person=result.plan.person,
            moved=[m for m in result.moved if m.kind is MoveKind.MOVE],
            stays=[m for m in result.moved if m.kind is MoveKind.STAYS],
            left=result.left,
            route_label=_route_label,
            state_label=_state_label,
            role_label=grant_label,
        )
    if form.is_submitted():
        abort(400)
    plan = plan_handover(session, keystore(), workflow(), person_id)
    if plan is None:
        abort(404)
    return _plan_page(plan, HandoverForm(formdata=None))


def _route_label(route: Route) -> str:
    return str(workflow()[route].label)


def _state_label(route: Route, state: str) -> str:
    spec = workflow()[route].states.get(state)
    return str(spec.label) if spec else state


def _plan_page(plan: HandoverPlan, form: HandoverForm, *, blocked: bool = False) -> str:
    return render_template(
        "handover/plan.html",
        plan=plan,
        form=form,
        blocked=blocked,
        kinds=MoveKind,
        can_deactivate=plan.account is not None and plan.account.active,
        route_label=_route_label,
        state_label=_state_label,
        role_label=grant_label,
        no_handler=_no_handler,
    )


def _no_handler(reason: str | None) -> str:
    messages = {
        "no_manager_available": _("no manager higher up who is not named in the case"),
        "no_confidant_available": _("no other confidential counsellor for this organisation"),
        "no_integrity_coordinator_available": _(
            "no other integrity coordinator for this organisation"
        ),
        "no_secretary_available": _("no other secretary of the complaints committee"),
        "no_committee_member_available": _("no other member of the complaints committee"),
        "manager_unknown": _("no manager higher up who is not named in the case"),
    }
    return messages.get(reason or "", _("nobody else is eligible"))
